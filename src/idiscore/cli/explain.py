"""``idiscore explain``: which rule applies to every element of a file, and what it does.

One line per element -- file meta first, then the data set, nested sequence items
indented by depth -- with the rule that applies (identifier, operator, rule set) or
``no rule: kept``, and the outcome. Values are masked unless asked for; with values
shown, the de-identified value is printed next to the original where it can be found.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from idiscore.elements import creator_of, decode, load_deferred
from idiscore.errors import idiscore_error
from idiscore.identifiers import tag_string
from idiscore.operators import (
    Clean,
    Empty,
    Hash,
    HashUID,
    Keep,
    Remove,
    Replace,
    SetFixedValue,
)
from idiscore.operators.values import charset_of
from idiscore.pixels.codestream import CodestreamError, blank_text
from idiscore.pixels.overlays import cleared_value, described_groups
from idiscore.profile import Profile
from idiscore.rules import Rule

__all__ = ["ElementExplanation", "explain_dataset", "format_explanation", "outcome_of"]

_OUTCOMES: dict[type, str] = {
    Keep: "kept",
    Remove: "removed",
    Empty: "emptied",
    Replace: "replaced",
    Hash: "hashed",
    HashUID: "new UID",
    Clean: "cleaned",
    SetFixedValue: "set",
}
_MAX_VALUE = 60
_PIXEL_DATA = 0x7FE00010


@dataclass(frozen=True)
class ElementExplanation:
    """What happens to one element."""

    depth: int
    tag: int
    vr: str
    keyword: str
    outcome: str
    rule: str
    value: str
    new_value: str | None = None


def outcome_of(rule: Rule | None) -> str:
    """A short verb for what ``rule`` does to an element (``kept`` without a rule)."""
    if rule is None:
        return "kept"
    operator = type(rule.operation)
    for cls in operator.__mro__:
        if cls in _OUTCOMES:
            return _OUTCOMES[cls]
    return operator.__name__


_CHANGES = frozenset({"replaced", "hashed", "new UID", "cleaned", "set"})


def _is_empty(value: object) -> bool:
    return (
        value is None
        or value == ""
        or value == b""
        or (isinstance(value, Sequence | list) and len(value) == 0)
    )


def _actual_outcome(before: DataElement, after: DataElement | None, expected: str) -> str:
    """What really happened, from the Core's output (the operator's verb if it changed)."""
    if after is None:
        return "removed"
    if _is_empty(after.value):
        return "kept" if _is_empty(before.value) else "emptied"
    if before.VR == "SQ" or after.value == before.value:
        return "kept" if expected not in _CHANGES or before.VR != "SQ" else expected
    return expected if expected in _CHANGES else "replaced"


def _pixel_change(
    before: DataElement, after: DataElement | None, source: Dataset, deidentified: Dataset
) -> str | None:
    """Why ``after`` (the output's Pixel Data) differs from ``before`` when no rule
    changed it: text segments of compressed frames zeroed, embedded overlays cleared."""
    if after is None or not isinstance(before.value, bytes) or after.value == before.value:
        return None
    meta = getattr(deidentified, "file_meta", None)
    syntax = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    try:
        if blank_text(before.value, syntax) == after.value:
            return "no rule; the text segments of its compressed frames: zeroed"
    except CodestreamError:
        return None
    # (reads the caller's header without converting it)
    cleared = cleared_value(source, before.value, syntax, described_groups(deidentified))
    if cleared is not None and cleared == after.value:
        return "no rule; the overlays embedded in its unused bits: cleared"
    return None


def _rule_text(profile: Profile, rule: Rule | None) -> str:
    if rule is None:
        return "no rule: kept"
    rule_set = profile.rule_set_of(rule)
    where = f" [{rule_set.name}]" if rule_set is not None else ""
    return f"{rule.identifier!r} {rule.operation!r}{where}"


def _value_text(element: DataElement, show: bool) -> str:
    value = element.value
    if element.VR == "SQ":
        return f"<{len(value or ())} items>"
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if value is None or value == "":
        return "<empty>"
    if not show:
        return "<masked>"
    text = str(value)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def _elements(dataset: Dataset, encoding: str | list[str]) -> Iterator[DataElement]:
    """The elements of ``dataset`` in tag order, decoded as the Core decodes them (a
    sequence behind VR UN is a sequence, see :mod:`idiscore.elements`), without changing
    ``dataset``."""
    for tag in sorted(dataset._dict):
        element = dataset._dict[tag]
        if isinstance(element, RawDataElement):
            element = load_deferred(dataset, element)
        yield decode(element, dataset, encoding)


def explain_dataset(
    dataset: Dataset,
    profile: Profile,
    *,
    show_values: bool = False,
    deidentified: Dataset | None = None,
    depth: int = 0,
    inherited: str | None = None,
    encoding: str | list[str] | None = None,
) -> Iterator[ElementExplanation]:
    """One :class:`ElementExplanation` per element of ``dataset``, nested ones included.

    ``deidentified`` (the Core's output for ``dataset``) adds the new values when
    ``show_values`` is set. ``inherited`` is the outcome imposed by an enclosing sequence.

    Raises:
        DeidentificationError: an element cannot be decoded (the message names the error's
            type, never a value), or the data set is nested too deeply.
    """
    try:
        yield from _explain(
            dataset,
            profile,
            show_values=show_values,
            deidentified=deidentified,
            depth=depth,
            inherited=inherited,
            encoding=encoding,
        )
    except Exception as exc:
        raise idiscore_error(exc, "cannot explain an element") from None


def _explain(
    dataset: Dataset,
    profile: Profile,
    *,
    show_values: bool,
    deidentified: Dataset | None,
    depth: int,
    inherited: str | None,
    encoding: str | list[str] | None,
) -> Iterator[ElementExplanation]:
    lookup = profile.compiled.lookup
    encoding = charset_of(dataset, encoding or "iso8859")
    for element in _elements(dataset, encoding):
        tag = int(element.tag)
        group, number = tag >> 16, tag & 0xFFFF
        keyword = keyword_for_tag(tag) or ("private" if group & 1 else "unknown")
        rule: Rule | None = None
        if inherited is not None:
            outcome, rule_text = inherited, "(the enclosing sequence's rule)"
        elif number == 0:
            outcome, rule_text = "removed", "group length: recomputed by the writer"
        elif group & 1 and number < 0x10:
            outcome, rule_text = "removed", "invalid private element"
        elif group & 1 and number <= 0xFF:
            outcome = "creator"
            rule_text = "private creator: kept while an element of its block is kept"
        else:
            rule = lookup(tag, creator_of(dataset, tag))
            outcome, rule_text = outcome_of(rule), _rule_text(profile, rule)
        new_element = None
        if deidentified is not None and inherited is None:
            new_element = deidentified.get(tag)
            if outcome != "creator" and number != 0:
                outcome = _actual_outcome(element, new_element, outcome)
            change = (
                _pixel_change(element, new_element, dataset, deidentified)
                if tag == _PIXEL_DATA
                else None
            )
            if change is not None:
                outcome, rule_text = "cleaned", change
        new_value = None
        if show_values and deidentified is not None and element.VR != "SQ":
            new_value = "<removed>" if new_element is None else _value_text(new_element, True)
        yield ElementExplanation(
            depth,
            tag,
            str(element.VR),
            keyword,
            outcome,
            rule_text,
            _value_text(element, show_values),
            new_value,
        )
        if element.VR != "SQ" or not element.value:
            continue
        child_inherited = inherited
        if child_inherited is None and rule is not None:
            operation = rule.operation
            if isinstance(operation, Remove | Empty):
                child_inherited = "removed"
            elif operation.handles_items:
                child_inherited = outcome
        new_items = None
        if new_element is not None and isinstance(new_element.value, Sequence):
            new_items = list(new_element.value)
        for index, item in enumerate(element.value):
            new_item = (
                new_items[index] if new_items is not None and index < len(new_items) else None
            )
            yield from _explain(
                item,
                profile,
                show_values=show_values,
                deidentified=new_item,
                depth=depth + 1,
                inherited=child_inherited,
                encoding=encoding,
            )


def format_explanation(explanation: ElementExplanation, *, show_values: bool) -> str:
    """One line of ``idiscore explain`` output."""
    indent = "  " * explanation.depth
    head = f"{indent}{tag_string(explanation.tag)} {explanation.vr:<2} {explanation.keyword}"
    line = f"{head:<48} {explanation.outcome:<8} {explanation.rule}"
    if show_values:
        line += f"  | {explanation.value}"
        if explanation.new_value is not None:
            line += f" -> {explanation.new_value}"
    elif explanation.value not in ("<masked>",):
        line += f"  | {explanation.value}"
    return line
