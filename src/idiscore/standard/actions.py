"""PS3.15 action codes (Table E.1-1a) and the operators that carry them out.

=========  ==================================================================
code       operator
=========  ==================================================================
D          :class:`~idiscore.operators.Replace` (a dummy valid for the VR; UIDs
           get a keyed replacement UID)
Z          :class:`~idiscore.operators.Empty`
X          :class:`~idiscore.operators.Remove`
K          :class:`~idiscore.operators.Keep` (a sequence's items are processed)
C          :class:`~idiscore.operators.Clean`
U          :class:`~idiscore.operators.HashUID` (keyed, consistent across instances)
Z/D ...    :class:`ByAttributeType`: chosen by the attribute's Type in the IOD of
           the dataset (X for Type 3, Z for Type 2, D or U for Type 1)
=========  ==================================================================
"""

from __future__ import annotations

import enum
import functools
from typing import Any

from pydicom.dataelem import DataElement

from idiscore.errors import ConfigurationError
from idiscore.operators.base import Context, Operator
from idiscore.operators.basic import Clean, Empty, HashUID, Keep, Remove, Replace


class ActionCode(enum.Enum):
    """The action codes of PS3.15 Table E.1-1a."""

    DUMMY = "D"
    ZERO = "Z"
    REMOVE = "X"
    KEEP = "K"
    CLEAN = "C"
    UID = "U"
    ZERO_OR_DUMMY = "Z/D"
    REMOVE_OR_ZERO = "X/Z"
    REMOVE_OR_DUMMY = "X/D"
    REMOVE_OR_ZERO_OR_DUMMY = "X/Z/D"
    REMOVE_OR_ZERO_OR_UID = "X/Z/U*"

    @classmethod
    def parse(cls, code: str) -> ActionCode:
        """The action code for its published text (``"X/Z/U*"`` ...)."""
        try:
            return cls(code.strip())
        except ValueError:
            raise ConfigurationError(f"unknown PS3.15 action code {code!r}") from None

    @property
    def is_compound(self) -> bool:
        return "/" in self.value

    def operator(self) -> Operator:
        """The operator that carries out this action."""
        simple: dict[str, type[Operator]] = {
            "D": Replace, "Z": Empty, "X": Remove, "K": Keep, "C": Clean, "U": HashUID,
        }  # fmt: skip
        if self.value in simple:
            return simple[self.value]()
        return ByAttributeType(self.value)


# Type -> the single code each compound code resolves to
_BY_TYPE: dict[str, dict[str, str]] = {
    "Z/D": {"1": "D", "2": "Z", "3": "Z", "none": "Z", "unknown": "D"},
    "X/Z": {"1": "Z", "2": "Z", "3": "X", "none": "X", "unknown": "Z"},
    "X/D": {"1": "D", "2": "D", "3": "X", "none": "X", "unknown": "D"},
    "X/Z/D": {"1": "D", "2": "Z", "3": "X", "none": "X", "unknown": "D"},
    "X/Z/U*": {"1": "U", "2": "Z", "3": "X", "none": "X", "unknown": "U"},
}


class ByAttributeType(Operator):
    """A compound action code (``Z/D``, ``X/Z``, ``X/D``, ``X/Z/D``, ``X/Z/U*``).

    The attribute's Type in the IOD of the dataset's SOP Class decides: Type 3 gives X
    (or Z where X is not allowed), Type 2 gives Z (or D where Z is not allowed), Type 1
    gives D (U for ``X/Z/U*``); conditional types (1C, 2C) count as 1 and 2, since the
    condition holds when the attribute is present. An attribute that is not part of
    the IOD is removed (X) where allowed. When the SOP Class is not known the choice
    that keeps any IOD valid is taken: D (or U), else Z. A reference sequence with
    ``X/Z/U*`` that the IOD knows is kept with its instance UIDs replaced (U), whatever
    its Type: removing it would break the references other modules must resolve.
    """

    handles_items = True

    def __init__(self, code: str) -> None:
        if code not in _BY_TYPE:
            raise ConfigurationError(f"not a compound action code: {code!r}")
        self.code = code
        self._operators = {k: ActionCode(v).operator() for k, v in _BY_TYPE[code].items()}

    @property
    def action_code(self) -> str:  # type: ignore[override]
        return self.code

    def _params(self) -> tuple[Any, ...]:
        return (self.code,)

    def resolve(self, tag: int, is_sequence: bool, context: Context) -> Operator:
        """The operator for element ``tag`` in ``context``'s IOD."""
        key = _resolve_key(
            context.sop_class_uid,
            int(tag),
            context.path,
            self.code == "X/Z/U*" and is_sequence,
        )
        return self._operators[key]

    def apply(self, element: DataElement, context: Context) -> DataElement | None:
        operator = self.resolve(int(element.tag), element.VR == "SQ", context)
        result = operator.apply(element, context)
        if result is not None and result.VR == "SQ" and not operator.handles_items:
            return context.process_sequence(result)
        return result


@functools.lru_cache(maxsize=65536)
def _resolve_key(sop_class: str, tag: int, path: tuple[int, ...], reference_sequence: bool) -> str:
    """Which of a compound code's choices applies (a key of ``_BY_TYPE``'s tables)."""
    from idiscore.standard.iod import attribute_type, known_sop_classes

    if sop_class not in known_sop_classes():
        return "unknown"
    found = attribute_type(sop_class, tag, path)
    if found is None:
        return "none"
    if reference_sequence:
        # A reference sequence stays, with its instance UIDs replaced: other modules
        # (Common Instance Reference, derivation) must still find what they point at
        # for the IOD to stay conformant, which is the condition U* names.
        return "1"
    return found[0]


__all__ = ["ActionCode", "ByAttributeType"]
