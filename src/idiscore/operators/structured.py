"""Clean Structured Content (PS3.15 E.3.4): content items cleaned by their concept name.

Applied to a sequence of content items (Content Sequence, Acquisition Context Sequence,
Specimen Preparation Sequence, Waveform Annotation Sequence), every item is looked up by
its Concept Name Code in Table E.3.4-1 (generated into ``idiscore.standard._tables``):

* ``X`` -- the content item is removed;
* ``Z`` / ``D`` / ``X/D`` -- the item stays, its value is emptied (Z) or replaced by a
  dummy (D; ``X/D`` takes D, which keeps the template's structure);
* ``K`` -- the value is kept; ``C`` -- the value is cleaned; ``U`` -- UIDs replaced.

Options the profile applies (Retain UIDs, Retain Longitudinal ... , Clean Descriptors)
override the Basic Profile's action as the table's columns say. Items whose concept is
not in the table have their value cleaned: text by the vocabulary, names replaced, UIDs
keyed, dates shifted / kept / replaced as the longitudinal options say. The other
elements of each item, and nested content items, then get the profile's rules.
"""

from __future__ import annotations

from functools import cache

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from idiscore.operators.base import Context, Operator
from idiscore.operators.basic import Clean
from idiscore.operators.values import FinalElement, empty_item, read_element

#: Value element of each content item value type (PS3.3 C.17.3).
VALUE_TAGS: dict[str, int] = {
    "TEXT": 0x0040A160,
    "PNAME": 0x0040A123,
    "DATE": 0x0040A121,
    "TIME": 0x0040A122,
    "DATETIME": 0x0040A120,
    "UIDREF": 0x0040A124,
}
_CONCEPT_NAME = 0x0040A043
_VALUE_TYPE = 0x0040A040

#: CID 7050 code value of each option column of Table E.3.4-1.
_COLUMN_CODES = {
    "retain_uids": "113110",
    "retain_device_identity": "113109",
    "retain_institution_identity": "113112",
    "retain_patient_characteristics": "113108",
    "retain_long_full_dates": "113106",
    "retain_long_modified_dates": "113107",
    "clean_descriptors": "113105",
}


@cache
def _operator(action: str) -> Operator:
    """The operator for a content item's value (X removes the item before this)."""
    from idiscore.standard.actions import ActionCode

    # X/D: D keeps the template's structure
    return ActionCode.parse("D" if action == "X/D" else action).operator()


@cache
def _table() -> dict[tuple[str, str, str], dict[str, str]]:
    from idiscore.standard._tables import (
        CLEAN_STRUCTURED_CONTENT,
        CLEAN_STRUCTURED_CONTENT_COLUMNS,
    )

    table: dict[tuple[str, str, str], dict[str, str]] = {}
    for value, scheme, _meaning, value_type, actions in CLEAN_STRUCTURED_CONTENT:
        columns = dict(zip(CLEAN_STRUCTURED_CONTENT_COLUMNS, actions, strict=True))
        table[(value, scheme.upper(), value_type)] = columns
        table.setdefault((value, scheme.upper(), ""), columns)
    return table


def _text(dataset: Dataset, tag: int) -> str:
    if tag not in dataset._dict:
        return ""
    value = read_element(dataset, tag, "iso8859").value
    return str(value or "").strip()


class CleanStructuredContent(Operator):
    """C under the Clean Structured Content Option: content items by concept name."""

    action_code = "C"
    handles_items = True

    def apply(self, element: DataElement, context: Context) -> DataElement | None:
        if element.VR != "SQ":
            return Clean().apply(element, context)
        applied = set(context.options.get("applied_codes", ()))
        items = Sequence()
        for item in element.value or ():
            action = self._action(item, applied)
            if action == "X":
                continue
            items.append(self._item(item, action, context, element.tag))
        return context.process_sequence(DataElement(element.tag, "SQ", items))

    @staticmethod
    def _unlisted(value_type: str, applied: set[str]) -> str:
        """The action for a concept Table E.3.4-1 does not list, by value type."""
        if value_type in ("DATE", "TIME", "DATETIME"):
            if _COLUMN_CODES["retain_long_modified_dates"] in applied:
                return "C"
            return "K" if _COLUMN_CODES["retain_long_full_dates"] in applied else "D"
        return {"PNAME": "D", "UIDREF": "U"}.get(value_type, "C")

    @classmethod
    def _action(cls, item: Dataset, applied: set[str]) -> str:
        value_type = _text(item, _VALUE_TYPE)
        names = item.get(_CONCEPT_NAME)
        if not names or not names.value:
            return cls._unlisted(value_type, applied)
        concept = names.value[0]
        key = (_text(concept, 0x00080100), _text(concept, 0x00080102).upper())
        columns = _table().get((*key, value_type)) or _table().get((*key, ""))
        if columns is None:
            return cls._unlisted(value_type, applied)
        action = columns["basic"]
        for column, code in _COLUMN_CODES.items():
            if code in applied and columns.get(column):
                action = columns[column]
        return action

    @staticmethod
    def _item(item: Dataset, action: str, context: Context, sequence_tag: int) -> Dataset:
        """A copy of ``item`` with its value element handled by ``action``."""
        value_tag = VALUE_TAGS.get(_text(item, _VALUE_TYPE))
        copy = empty_item(item, context.encoding)
        child = context.child(item, sequence_tag, context.encoding)
        for tag, raw in item._dict.items():
            if tag != value_tag:
                copy._dict[tag] = raw
                continue
            value = read_element(item, tag, context.encoding)
            result = _operator(action).apply(value, child)
            if result is not None:
                copy[tag] = FinalElement(result)
        return copy


__all__ = ["VALUE_TAGS", "CleanStructuredContent"]
