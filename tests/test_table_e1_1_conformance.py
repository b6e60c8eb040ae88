"""Every row of PS3.15 Table E.1-1, for the Basic Profile and each option column.

The expected action is read from the CSV in ``standard-data`` (the repository's copy of
the standard's tables, not the package's generated tables): for each row a dataset holding
that attribute is de-identified and the outcome is checked against the action code.
Compound codes are checked in IODs where each Type applies.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from idiscore.core import Core, Profile
from idiscore.defaults import get_dicom_rule_sets
from idiscore.pseudonyms import is_valid_uid
from idiscore.standard.iod import attribute_type, known_sop_classes

from factories import VR_EXAMPLES, assert_unchanged, roundtrip, snapshot, sop_dataset

STANDARD = Path(__file__).resolve().parents[1] / "standard-data"
CSV = STANDARD / "confidentiality_profile_attributes.csv"

COLUMN_SETS = {
    "basic": "basic_profile",
    "retain_safe_private": "retain_safe_private",
    "retain_uids": "retain_uid",
    "retain_device_identity": "retain_device_id",
    "retain_institution_identity": "retain_institution_id",
    "retain_patient_characteristics": "retain_patient_characteristics",
    "retain_long_full_dates": "retain_long_full_dates",
    "retain_long_modified_dates": "retain_long_modified_dates",
    "clean_descriptors": "clean_descriptors",
    "clean_structured_content": "clean_structured_content",
    "clean_graphics": "clean_graphics",
}
UNKNOWN_SOP_CLASS = "1.2.826.0.1.3680043.8.498.999.1"


def _rows() -> list[dict[str, str]]:
    with CSV.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


#: empty when the CSV is missing: test_csv_has_all_rows then fails (and says why)
ROWS = _rows() if CSV.exists() else []


def test_csv_has_all_rows() -> None:
    assert CSV.exists(), f"the PS3.15 CSV is missing: {CSV} (see standard-data/README.md)"
    assert len(ROWS) == 657


def _concrete_tag(tag_text: str) -> int:
    text = tag_text.strip("()").replace(",", "")
    if text.startswith("gggg"):
        return 0x00091001  # a private element (creator added by the dataset builder)
    return int(text.replace("x", "0"), 16) | (0x0010 if text == "50xxxxxx" else 0)


def _vr(tag: int) -> str:
    if tag == 0x00091001:
        return "LO"
    if tag >> 16 == 0x5000:
        return "US"
    try:
        vr = dictionary_VR(tag)
    except KeyError:  # newer than pydicom's dictionary: such elements read as UN
        return "UN"
    return vr.split(" or ")[0]


def _value(vr: str) -> Any:
    if vr == "SQ":
        item = Dataset()
        item.CodeValue = "123"
        item.CodingSchemeDesignator = "99TEST"
        item.InstitutionName = "Smith Jane Clinic"
        return Sequence([item])
    if vr == "LO":
        return "Smith Jane Clinic 555-1234"
    return VR_EXAMPLES[vr]


def _dataset(tag: int, sop_class: str) -> Dataset:
    ds = sop_dataset()
    ds.SOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    if tag == 0x00091001:
        ds.add_new(0x00090010, "LO", "ACME")
    vr = _vr(tag)
    target = ds.file_meta if tag >> 16 == 2 else ds
    if tag in target:
        del target[tag]
    target[tag] = DataElement(tag, vr, _value(vr))
    if tag == 0x00020003:  # PS3.10: always equals the SOP Instance UID
        target[tag].value = ds.SOPInstanceUID
    return ds


@cache
def _core(set_name: str) -> Core:
    sets = get_dicom_rule_sets()
    rule_sets = [sets.basic_profile]
    if set_name != "basic_profile":
        rule_sets.append(getattr(sets, set_name))
    return Core(Profile(rule_sets, name=set_name))


def _check(code: str, tag: int, original: DataElement, out: Dataset) -> None:
    if tag >> 16 == 2:
        out = out.file_meta
    present = tag in out
    if code == "X":
        assert not present, "X removes the attribute"
        return
    assert present, f"{code} keeps the attribute"
    element = out[tag]
    value = element.value
    if code == "Z":
        assert element.is_empty, "Z leaves a zero-length value"
    elif code == "K":
        if element.VR != "SQ":
            assert value == original.value
        else:
            assert len(value) == len(original.value)
    elif code == "D":
        assert not element.is_empty, "D gives a non-zero-length value"
        if element.VR == "SQ":
            assert len(value) == len(original.value)
            assert value[0].InstitutionName != "Smith Jane Clinic"
        elif element.VR not in {"OD"}:
            assert value != original.value
    elif code == "U" and element.VR == "SQ":
        # U* on a sequence: kept, the instance UIDs inside are replaced by their own rules
        assert len(value) == len(original.value)
    elif code == "U":
        assert element.VR == "UI" and is_valid_uid(str(value))
        assert value != original.value
    elif code == "C":
        if element.VR == "SQ":
            assert len(value) == len(original.value)
        elif element.VR != "TM" and not element.is_empty:
            assert value != original.value
    else:  # pragma: no cover
        raise AssertionError(code)


def _sop_class_with_type(tag: int, wanted: str) -> str | None:
    for sop_class in sorted(known_sop_classes()):
        found = attribute_type(sop_class, tag)
        if found is not None and found[0] == wanted:
            return sop_class
    return None


def _sop_class_without(tag: int) -> str | None:
    for sop_class in sorted(known_sop_classes()):
        if attribute_type(sop_class, tag) is None:
            return sop_class
    return None


def _resolved(code: str, attr_type: str | None, sop_class_known: bool, vr: str = "") -> str:
    """What a compound code means for a Type (as PS3.15 E.1.1 describes).

    ``X/Z/U*`` on a reference sequence the IOD knows is U: keeping the references (with
    new UIDs) is what IOD conformance needs (see ByAttributeType).
    """
    options = code.split("/")
    if sop_class_known and code == "X/Z/U*" and vr == "SQ" and attr_type is not None:
        return "U"
    if not sop_class_known:
        return "U" if "U*" in options else ("D" if "D" in options else "Z")
    if attr_type is None or attr_type == "3":
        return "X" if "X" in options else "Z"
    if attr_type == "2":
        return "Z" if "Z" in options else "D"
    return "U" if "U*" in options else "D"


CASES = [
    pytest.param(row, column, id=f"{row['tag']}-{column}")
    for row in ROWS
    for column in COLUMN_SETS
    if row[column]
]


@pytest.mark.parametrize(("row", "column"), CASES)
def test_row_outcome_matches_action_code(row: dict[str, str], column: str) -> None:
    code = row[column]
    tag = _concrete_tag(row["tag"])
    core = _core(COLUMN_SETS[column])
    if row["tag"].startswith("(gggg") and column == "retain_safe_private":
        # C: only the private attributes of Table E.3.10-1 survive, with their creator
        ds = _dataset(tag, sop_dataset().SOPClassUID)
        ds.add_new(0x00190010, "LO", "SIEMENS MR HEADER")
        ds.add_new(0x0019100C, "IS", "1000")  # B_value, safe
        out = core.deidentify(ds)
        assert tag not in out and 0x0019100C in out and out[0x00190010].value
        return
    if "/" not in code:
        scenarios = [(sop_dataset().SOPClassUID, code)]
    else:
        scenarios = [(UNKNOWN_SOP_CLASS, _resolved(code, None, False))]
        for wanted in ("1", "2", "3"):
            sop_class = _sop_class_with_type(tag, wanted)
            if sop_class is not None:
                scenarios.append((sop_class, _resolved(code, wanted, True, _vr(tag))))
        absent = _sop_class_without(tag)
        if absent is not None:
            scenarios.append((absent, _resolved(code, None, True)))
    for sop_class, expected in scenarios:
        ds = _dataset(tag, sop_class)
        before = snapshot(ds)
        holder = ds.file_meta if tag >> 16 == 2 else ds
        original = DataElement(tag, holder[tag].VR, holder[tag].value)
        out = core.deidentify(ds)
        assert_unchanged(ds, before)
        _check(expected, tag, original, out)
        if tag >> 16:  # command elements (0000,eeee) cannot be written to a file
            roundtrip(out)


def _content_item(value_type: str, code: tuple[str, str, str], **values: Any) -> Dataset:
    item = Dataset()
    item.RelationshipType = "CONTAINS"
    item.ValueType = value_type
    concept = Dataset()
    concept.CodeValue, concept.CodingSchemeDesignator, concept.CodeMeaning = code
    item.ConceptNameCodeSequence = Sequence([concept])
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item


def test_clean_structured_content_acts_by_concept_name() -> None:
    """Table E.3.4-1: content items are removed, replaced or cleaned by concept name."""
    ds = sop_dataset()
    ds.ContentSequence = Sequence(
        [
            # Accession Number (121022, DCM): X -> the item goes
            _content_item("TEXT", ("121022", "DCM", "Accession Number"), TextValue="ACC123"),
            # Acquisition Protocol (125203, DCM): X, Clean Descriptors C -> cleaned
            _content_item(
                "TEXT", ("125203", "DCM", "Acquisition Protocol"), TextValue="CT CHEST Smith"
            ),
            # a concept the table does not list: its text is cleaned
            _content_item("TEXT", ("99", "99X", "Remark"), TextValue="AXIAL Jane"),
            _content_item("PNAME", ("99", "99X", "Someone"), PersonName="Doe^John"),
        ]
    )
    core = Core(
        Profile([get_dicom_rule_sets().basic_profile, get_dicom_rule_sets().clean_descriptors,
                 get_dicom_rule_sets().clean_structured_content])
    )  # fmt: skip
    before = snapshot(ds)
    out = core.deidentify(ds)
    assert_unchanged(ds, before)
    items = out.ContentSequence
    meanings = [i.ConceptNameCodeSequence[0].CodeMeaning for i in items]
    # the local concept names (scheme 99X) become the dummy code; the standard one stays
    assert meanings == ["Acquisition Protocol", "REMOVED", "REMOVED"]
    assert items[0].TextValue == "CT CHEST"
    assert items[1].TextValue == "AXIAL"
    assert items[2].PersonName != "Doe^John" and items[2].PersonName
    roundtrip(out)
    # without the option, the Basic Profile's D replaces the whole content sequence
    basic = Core(Profile([get_dicom_rule_sets().basic_profile])).deidentify(ds)
    assert all("ACC123" not in str(i.get("TextValue", "")) for i in basic.ContentSequence)
