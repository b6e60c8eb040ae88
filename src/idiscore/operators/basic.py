"""The built-in operators."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from pydicom.dataelem import DataElement
from pydicom.sequence import Sequence

from idiscore.errors import ConfigurationError
from idiscore.operators.base import Context, Operator
from idiscore.operators.codes import CODE_ATTRIBUTES, code_attribute
from idiscore.operators.values import (
    DUMMY_STRINGS,
    INT_VRS,
    SINGLE_VALUED_TEXT,
    TEXT_VRS,
    charset_of,
    dummy_value,
    empty_item,
    empty_value,
    read_element,
    values_of,
    with_value,
)

#: VRs kept inside a sequence replaced by D: they carry structure, not identity.
_STRUCTURAL_VRS = frozenset(
    {
        "CS",
        "IS",
        "DS",
        "US",
        "SS",
        "UL",
        "SL",
        "UV",
        "SV",
        "FL",
        "FD",
        "AT",
        "OF",
        "OD",
        "OL",
        "OV",
    }
)
_PATIENT_ID = 0x00100020
_PATIENT_NAME = 0x00100010
_INT_RANGES = {
    "US": (0, 0xFFFF),
    "SS": (-0x8000, 0x7FFF),
    "UL": (0, 0xFFFFFFFF),
    "SL": (-0x80000000, 0x7FFFFFFF),
    "UV": (0, 0xFFFFFFFFFFFFFFFF),
    "SV": (-0x8000000000000000, 0x7FFFFFFFFFFFFFFF),
}


# values unique to a file (a comment naming the slice) never come back: a small cache keeps
# the repeated ones (a series' descriptions) and holds about 2 MB at most
@functools.lru_cache(maxsize=4096)
def _cached_clean(text: str, identifying: frozenset[str]) -> str:
    """:func:`idiscore.cleaning.clean_text`, remembered: descriptions repeat across a series."""
    from idiscore.operators.cleaning import clean_text

    return clean_text(text, identifying)


class Keep(Operator):
    """K: keep the element as it is. A kept sequence's items are processed with the rules."""

    action_code = "K"

    def apply(self, element: DataElement, context: Context) -> DataElement | None:
        return element


class Remove(Operator):
    """X: remove the element; a sequence goes with all its items."""

    action_code = "X"

    def apply(self, element: DataElement, context: Context) -> DataElement | None:
        return None


class Empty(Operator):
    """Z: keep the element with a zero-length value; a sequence keeps no item."""

    action_code = "Z"
    handles_items = True

    def apply(self, element: DataElement, context: Context) -> DataElement | None:
        return with_value(element, empty_value(element.VR))


def _map_values(element: DataElement, convert: Callable[[Any], Any]) -> Any:
    """Apply ``convert`` to every value of a (possibly multi-valued) element."""
    values = values_of(element)
    if element.VR in SINGLE_VALUED_TEXT or len(values) <= 1:
        return convert(values[0] if values else "")
    return [convert(v) for v in values]


def _map_items(
    element: DataElement,
    context: Context,
    leaf: Callable[[DataElement, Context], DataElement | None],
) -> DataElement:
    """A new sequence with the same items, every non-sequence element passed to ``leaf``.

    Private creator elements are kept as they are (creators are never rewritten).
    """
    from idiscore.identifiers import is_private_creator

    items = Sequence()
    for item in element.value or ():
        encoding = charset_of(item, context.encoding)
        child = context.child(item, element.tag, encoding)
        new = empty_item(item, encoding, context.dataset.original_encoding)
        for tag in list(item.keys()):
            inner = read_element(item, tag, encoding)
            if is_private_creator(tag) or tag & 0xFFFF == 0:
                new[tag] = DataElement(tag, inner.VR, inner.value)
                continue
            result = _map_items(inner, child, leaf) if inner.VR == "SQ" else leaf(inner, child)
            if result is not None:
                new[tag] = result
        items.append(new)
    return with_value(element, items)


class Replace(Operator):
    """D: replace the value with a dummy valid for the element's VR.

    Multi-valued elements keep their number of values. A sequence keeps its items, with
    every value inside replaced except those that only carry structure (code strings,
    numbers, standard coded concepts -- see :mod:`idiscore.operators.codes`). UIDs get a
    keyed replacement UID, so references stay consistent.
    """

    action_code = "D"
    handles_items = True

    def apply(self, element: DataElement, context: Context) -> DataElement | None:
        if element.VR == "SQ":
            return _map_items(element, context, self._inside_sequence)
        if element.VR == "UI":
            if not values_of(element):  # D needs a value: a keyed UID, the same every time
                return with_value(element, context.pseudonymizer.uid("idiscore:empty-uid"))
            return HashUID().apply(element, context)
        return with_value(element, dummy_value(element))

    def _inside_sequence(self, element: DataElement, context: Context) -> DataElement | None:
        """Inside a replaced sequence: what can identify is replaced, the structure stays.

        Code strings (enumerated values and defined terms), numbers and tags describe
        the structure of the item and are kept, so the item stays valid; a coded concept
        is kept only when it is a standard code with its standard meaning, else it gets
        the dummy code (:func:`~idiscore.operators.codes.code_attribute`); every other
        value gets a dummy.
        """
        if int(element.tag) in CODE_ATTRIBUTES:
            return code_attribute(element, context)
        if element.VR in _STRUCTURAL_VRS:
            return element
        return self.apply(element, context)


class SetFixedValue(Operator):
    """Set the element to a fixed value (validated by pydicom for the element's VR)."""

    def __init__(self, value: Any) -> None:
        if isinstance(value, list | tuple):
            value = list(value)
        self.value = value

    def _params(self) -> tuple[Any, ...]:
        value = tuple(self.value) if isinstance(self.value, list) else self.value
        return (value,)

    def apply(self, element: DataElement, context: Context) -> DataElement | None:
        value = list(self.value) if isinstance(self.value, list) else self.value
        return with_value(element, value)


class Hash(Operator):
    """A stable, keyed pseudonym valid for the element's VR.

    Text, IDs and codes get a pseudonym within the VR's length and character rules,
    names a valid PN, UIDs a keyed UID, integers a keyed number in the VR's range.
    VRs with no room for a pseudonym (dates, times, ages, floats, binary, AT) get the
    dummy of :class:`Replace`. Sequences keep their items, with every value hashed.
    The same value gives the same pseudonym with the same key, in any process.
    Patient ID and Patient's Name use the patient derivations of the pseudonymizer,
    so a crosswalk given to it overrides them.
    """

    action_code = "D"
    handles_items = True

    def __init__(self, prefix: str = "") -> None:
        if not isinstance(prefix, str) or "\\" in prefix:
            raise ConfigurationError(f"bad Hash prefix {prefix!r}")
        self.prefix = prefix

    def _params(self) -> tuple[Any, ...]:
        return (self.prefix,) if self.prefix else ()

    def apply(self, element: DataElement, context: Context) -> DataElement | None:
        vr = element.VR
        if vr == "SQ":
            return _map_items(element, context, self.apply)
        if not values_of(element):
            return element
        pseudo = context.pseudonymizer
        prefix = self.prefix
        tag = int(element.tag)
        if tag == _PATIENT_ID and vr in {"LO", "SH", "UN"}:
            issuer = str(context.dataset.get("IssuerOfPatientID", "") or "")
            return with_value(
                element,
                _map_values(element, lambda v: pseudo.patient_id(str(v), issuer, prefix=prefix)),
            )
        if tag == _PATIENT_NAME and vr == "PN":
            patient_id = str(context.dataset.get("PatientID", "") or "")
            return with_value(
                element,
                _map_values(
                    element,
                    lambda v: pseudo.person_name(str(v), prefix=prefix, patient_id=patient_id),
                ),
            )
        if vr == "UI":
            return with_value(element, _map_values(element, lambda v: pseudo.uid(str(v))))
        if vr == "PN":
            return with_value(
                element, _map_values(element, lambda v: pseudo.person_name(str(v), prefix=prefix))
            )
        if vr in INT_VRS:
            low, high = _INT_RANGES[vr]

            def number(v: Any) -> int:
                return low + int(pseudo.text(str(v), "IS")) % (high - low + 1)

            return with_value(element, _map_values(element, number))
        if vr in TEXT_VRS or vr in {"AE", "CS", "IS", "DS", "UR"}:
            return with_value(
                element, _map_values(element, lambda v: pseudo.text(str(v), vr, prefix=prefix))
            )
        return with_value(element, dummy_value(element))


class HashUID(Operator):
    """U: a keyed replacement UID, the same for the same UID in every file and run.

    On a sequence (``U*`` in PS3.15) the sequence is kept and its items are processed
    with the profile's rules, which replace the instance UIDs inside. On any other
    non-UID element it falls back to :class:`Hash`.
    """

    action_code = "U"

    def apply(self, element: DataElement, context: Context) -> DataElement | None:
        if element.VR == "SQ":
            # U* on a sequence: keep it; the UIDs inside get their own rules
            return element
        if element.VR != "UI":
            return Hash().apply(element, context)
        if not values_of(element):
            return element
        pseudo = context.pseudonymizer
        return with_value(element, _map_values(element, lambda v: pseudo.uid(str(v))))


class Clean(Operator):
    """C: keep what is safe in the value, replace or drop the rest. Never raises.

    * free text (LO, SH, LT, ST, UT, UC): only words of the medical/imaging vocabulary
      survive, and never one of the dataset's own identifying values
      (see :mod:`idiscore.cleaning`); a value with nothing safe left becomes the dummy
      of :class:`Replace`, so Type 1 attributes stay valid;
    * dates (DA) and the date part of date-times (DT): shifted by the keyed
      per-patient date shift; times (TM) stay as they are;
    * UIDs: a keyed replacement UID;
    * sequences: kept, every item processed with the profile's rules;
    * anything else (names, AE titles, codes, numbers, binary): the dummy of
      :class:`Replace`.
    """

    action_code = "C"

    def apply(self, element: DataElement, context: Context) -> DataElement | None:
        vr = element.VR
        if vr == "SQ":
            return element
        try:
            return self._clean(element, context)
        except Exception:
            return with_value(element, dummy_value(element)) if vr != "UI" else None

    def _clean(self, element: DataElement, context: Context) -> DataElement | None:
        vr = element.VR
        if not values_of(element):
            return element
        if vr in TEXT_VRS:
            identifying = context.identifying_values
            cleaned = _map_values(
                element, lambda v: _cached_clean(str(v), identifying) or DUMMY_STRINGS[vr]
            )
            if cleaned == _map_values(element, str):
                return element  # nothing to clean: the element as it was
            return with_value(element, cleaned)
        if vr == "DA":
            days = context.date_shift_days
            shift = context.pseudonymizer.shift_date
            return with_value(element, _map_values(element, lambda v: shift(str(v), days)))
        if vr == "DT":
            days = context.date_shift_days
            shift_dt = context.pseudonymizer.shift_datetime
            return with_value(element, _map_values(element, lambda v: shift_dt(str(v), days)))
        if vr == "TM":
            return element
        if vr == "UI":
            return HashUID().apply(element, context)
        return with_value(element, dummy_value(element))


__all__ = ["Clean", "Empty", "Hash", "HashUID", "Keep", "Remove", "Replace", "SetFixedValue"]
