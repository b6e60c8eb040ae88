"""Criterion: conditions on header values, given as data.

A :class:`Criterion` is a mapping of DICOM keywords to conditions; it matches a dataset when
*every* condition holds. It holds plain data only, so it pickles, compares, prints and
round-trips through JSON (:meth:`Criterion.to_dict`). Conditions::

    Criterion(conditions={
        "Modality": "US",                          # equals (see below)
        "Rows": 480,                               # equals, numerically
        "SOPClassUID": ["1.2.840.10008.5.1.4.1.1.6.1", "1.2.840.10008.5.1.4.1.1.3.1"],
        "Manufacturer": {"contains": "acme"},      # substring
        "ManufacturerModelName": {"startswith": ["LOGIQ", "Voluson"]},
        "BurnedInAnnotation": {"present": False},  # absence / presence
    })

Rules of comparison:

* A **string** matches an element value when both are equal after stripping surrounding
  whitespace, **ignoring case** (``"acme"`` matches ``"ACME "``). DICOM code strings are
  upper case anyway, and vendors are not consistent about the case of names.
* An **int or float** matches when the element value is numerically equal (``480`` matches
  Rows 480 and an IS value ``"480"``).
* A **list** matches when any of its items matches ("any of").
* ``{"equals": ...}``, ``{"contains": ...}`` and ``{"startswith": ...}`` take a string, a
  number or a list of them; ``contains``/``startswith`` compare strings, ignoring case.
* ``{"present": true}`` holds when the element exists with a non-empty value, and
  ``{"present": false}`` when it is absent or empty.
* A multi-valued element (``ImageType``) matches when any one of its values matches.
* An absent or empty element matches no condition except ``{"present": false}``.

Keywords are checked when the criterion is built: an unknown keyword, a sequence or a binary
attribute raises :class:`~idiscore.errors.ConfigurationError` (a misspelt condition must not
silently match nothing, or everything). Reading a dataset never modifies it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset

from idiscore.errors import ConfigurationError
from idiscore.pixels._dataset import read_value

Scalar = str | int | float

_OPERATORS = ("equals", "contains", "startswith", "present")
_UNSUPPORTED_VRS = {"SQ", "OB", "OW", "OF", "OD", "OL", "OV", "UN", "OB or OW"}


@dataclass(frozen=True)
class _Condition:
    keyword: str
    tag: int
    operator: str
    operands: tuple[Scalar, ...]
    present: bool = True

    def to_data(self) -> Any:
        if self.operator == "present":
            return {"present": self.present}
        value: Any = self.operands[0] if len(self.operands) == 1 else list(self.operands)
        if self.operator == "equals":
            return value
        return {self.operator: value}

    def holds(self, dataset: Dataset) -> bool:
        value = read_value(dataset, self.tag)
        items = _items(value)
        if self.operator == "present":
            return bool(items) == self.present
        return any(
            _compare(self.operator, item, operand) for item in items for operand in self.operands
        )


def _items(value: Any) -> list[Any]:
    """The individual values of an element value; empty strings and None are left out."""
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        values = [value]
    else:
        values = list(value)
    return [v for v in values if v is not None and str(v).strip() != ""]


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _compare(operator: str, item: Any, operand: Scalar) -> bool:
    if operator == "equals" and not isinstance(operand, str):
        number = _as_number(item)
        return number is not None and number == float(operand)
    text = str(item).strip().casefold()
    expected = str(operand).strip().casefold()
    if operator == "equals":
        return text == expected
    if operator == "contains":
        return expected in text
    return text.startswith(expected)


def _operands(keyword: str, operator: str, raw: Any) -> tuple[Scalar, ...]:
    values = list(raw) if isinstance(raw, (list, tuple)) else [raw]
    if not values:
        raise ConfigurationError(f"condition on {keyword}: an empty list matches nothing")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ConfigurationError(
                f"condition on {keyword}: {operator} takes strings or numbers, got {value!r}"
            )
        if operator in ("contains", "startswith") and not isinstance(value, str):
            raise ConfigurationError(f"condition on {keyword}: {operator} takes strings")
        if isinstance(value, str) and not value.strip():
            raise ConfigurationError(
                f"condition on {keyword}: an empty string (use {{'present': false}})"
            )
    return tuple(values)


def _parse(keyword: Any, spec: Any) -> _Condition:
    if not isinstance(keyword, str):
        raise ConfigurationError(f"condition keys are DICOM keywords, got {keyword!r}")
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise ConfigurationError(f"unknown DICOM keyword {keyword!r} in a criterion")
    vr = dictionary_VR(tag)
    if vr in _UNSUPPORTED_VRS:
        raise ConfigurationError(f"{keyword} ({vr}) cannot be used in a criterion")
    if isinstance(spec, Mapping):
        if len(spec) != 1:
            raise ConfigurationError(
                f"condition on {keyword}: use exactly one of {', '.join(_OPERATORS)}"
            )
        ((operator, raw),) = spec.items()
        if operator not in _OPERATORS:
            raise ConfigurationError(
                f"condition on {keyword}: unknown operator {operator!r}, "
                f"expected one of {', '.join(_OPERATORS)}"
            )
        if operator == "present":
            if not isinstance(raw, bool):
                raise ConfigurationError(f"condition on {keyword}: present takes true/false")
            return _Condition(keyword, tag, "present", (), present=raw)
        return _Condition(keyword, tag, operator, _operands(keyword, operator, raw))
    return _Condition(keyword, tag, "equals", _operands(keyword, "equals", spec))


class Criterion:
    """Conditions on header values; matches when all hold (see the module docstring)."""

    __slots__ = ("_conditions",)

    def __init__(self, conditions: Mapping[str, Any]) -> None:
        if not isinstance(conditions, Mapping):
            raise ConfigurationError("a Criterion takes a mapping of keyword -> condition")
        if not conditions:
            raise ConfigurationError(
                "a Criterion needs at least one condition (use None to match every dataset)"
            )
        self._conditions = tuple(_parse(k, v) for k, v in conditions.items())

    @property
    def keywords(self) -> tuple[str, ...]:
        return tuple(c.keyword for c in self._conditions)

    def matches(self, dataset: Dataset) -> bool:
        """True when every condition holds for ``dataset`` (reads the header only)."""
        return all(condition.holds(dataset) for condition in self._conditions)

    def to_dict(self) -> dict[str, Any]:
        """The conditions as JSON-ready data; ``Criterion(c.to_dict()) == c``."""
        return {c.keyword: c.to_data() for c in self._conditions}

    def __getstate__(self) -> dict[str, Any]:
        return self.to_dict()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._conditions = tuple(_parse(k, v) for k, v in state.items())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Criterion):
            return NotImplemented
        return self._conditions == other._conditions

    def __hash__(self) -> int:
        return hash(self._conditions)

    def __repr__(self) -> str:
        return f"Criterion({self.to_dict()!r})"
