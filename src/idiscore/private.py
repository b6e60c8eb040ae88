"""Safe private attribute definitions beyond Table E.3.10-1.

:func:`tcia_private_rule_set` turns The Cancer Imaging Archive's private tag knowledge
base (2024-02-01, shipped as data) into an opt-in rule set, creator-aware like Retain
Safe Private. Dispositions: ``k`` keep, ``d`` delete, ``h`` hash, ``o`` offset date
(shifted with the keyed per-patient date shift); anything else (``oi``, ``na``, empty)
is removed. The knowledge base lists some elements under several sequence paths; rules
here match a private element wherever it appears, so when the paths disagree the most
protective disposition wins (d, then h, then o, then k). Entries without a private
creator cannot be matched safely and are left out.
"""

from __future__ import annotations

from functools import cache

from idiscore.identifiers import PrivateBlockTagIdentifier
from idiscore.operators import Clean, Hash, Keep, Remove
from idiscore.operators.base import Operator
from idiscore.rules import Rule, RuleSet

TCIA_RULE_SET_NAME = "TCIA Private Tag Knowledge Base (2024-02-01)"
_STRENGTH = {"d": 4, "h": 3, "o": 2, "k": 1}


def _operator(disposition: str) -> Operator:
    return {"k": Keep(), "h": Hash(), "o": Clean()}.get(disposition, Remove())


@cache
def _tcia_rules() -> tuple[Rule, ...]:
    from idiscore.standard.tcia import load_tcia_kb

    chosen: dict[tuple[int, str, int], str] = {}
    for entry in load_tcia_kb():
        if not entry.private_creator:
            continue
        disposition = entry.disposition if entry.disposition in _STRENGTH else "d"
        key = (entry.group, entry.private_creator, entry.element_offset)
        previous = chosen.get(key)
        if previous is None or _STRENGTH[disposition] > _STRENGTH[previous]:
            chosen[key] = disposition
    return tuple(
        Rule(PrivateBlockTagIdentifier.from_parts(*key), _operator(chosen[key]))
        for key in sorted(chosen)
    )


def tcia_private_rule_set() -> RuleSet:
    """The TCIA private tag knowledge base as a rule set (no CID 7050 code of its own)."""
    return RuleSet(_tcia_rules(), name=TCIA_RULE_SET_NAME)


__all__ = ["TCIA_RULE_SET_NAME", "tcia_private_rule_set"]
