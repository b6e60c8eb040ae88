"""SetFixedValue on raw text elements (the dummy code of idiscore.operators.codes uses it)
gives the bytes of the operator, without decoding: explicit and implicit VR, odd and even
lengths, multi-valued inputs, UN and non-ASCII values left to the operator."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from idiscore.core import Core, Profile
from idiscore.defaults import create_default_core
from idiscore.identifiers import SingleTag
from idiscore.operators import SetFixedValue
from idiscore.rules import Rule, RuleSet

from factories import assert_same_bytes, sop_dataset

#: (keyword, VR) of text attributes of each space-padded VR the fast path writes.
TEXT_ATTRIBUTES = [
    ("StationName", "SH"),
    ("StudyDescription", "LO"),
    ("Modality", "CS"),
    ("ImageComments", "LT"),
    ("DerivationDescription", "ST"),
    ("RetrieveURL", "UR"),
    ("PerformedProcedureStepDescription", "LO"),
]


def _bytes(core: Core, ds: Dataset, folder: Path, name: str) -> bytes:
    source = folder / f"{name}.dcm"
    ds.save_as(source, enforce_file_format=True)
    destination = folder / f"{name}.out.dcm"
    core.deidentify_file(source, destination)
    return destination.read_bytes()


def _cores(rules: list[Rule]) -> tuple[Core, Core]:
    fast = Core(Profile([RuleSet(rules, name="fixed")]))
    slow = Core(Profile([RuleSet(rules, name="fixed")]))
    slow.raw_fast_paths = False
    return fast, slow


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
@given(
    value=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", min_size=1, max_size=15)
    .map(str.strip)
    .filter(bool),
    original=st.lists(st.sampled_from(["A", "BB", "CCC", "Q_R"]), min_size=1, max_size=3),
)
def test_fixed_text_values_give_the_operators_bytes(
    syntax: str, value: str, original: list[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("fixed")
    ds = sop_dataset()
    ds.file_meta.TransferSyntaxUID = syntax
    rules = []
    for keyword, vr in TEXT_ATTRIBUTES:
        ds.add_new(keyword, vr, original if vr in ("SH", "LO", "CS") else "_".join(original))
        rules.append(Rule(SingleTag(keyword), SetFixedValue(value)))
    fast, slow = _cores(rules)
    expected = _bytes(slow, ds, folder, "slow")
    assert_same_bytes(expected, _bytes(fast, ds, folder, "fast"))
    out = pydicom.dcmread(io.BytesIO(expected))
    assert all(out[keyword].value == value for keyword, _vr in TEXT_ATTRIBUTES)


def test_un_non_ascii_and_non_text_values_are_left_to_the_operator(tmp_path: Path) -> None:
    ds = sop_dataset()
    ds.add_new("StationName", "UN", b"ABC ")
    ds.add_new("StudyDescription", "LO", "X")
    ds.add_new("SeriesNumber", "IS", "7")
    rules = [
        Rule(SingleTag("StationName"), SetFixedValue("REMOVED")),
        Rule(SingleTag("StudyDescription"), SetFixedValue("ÉTUDE")),
        Rule(SingleTag("SeriesNumber"), SetFixedValue(12)),
    ]
    fast, slow = _cores(rules)
    assert_same_bytes(_bytes(slow, ds, tmp_path, "slow"), _bytes(fast, ds, tmp_path, "fast"))


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
def test_dummy_codes_give_the_same_bytes_with_and_without_fast_paths(
    syntax: str, tmp_path: Path
) -> None:
    def code(field: str, value: str, scheme: str, meaning: str) -> Dataset:
        item = Dataset()
        vr = {"CodeValue": "SH", "LongCodeValue": "UC", "URNCodeValue": "UR"}[field]
        item.add_new(field, vr, value)
        item.CodingSchemeDesignator = scheme
        item.CodingSchemeVersion = "SITE"
        item.CodeMeaning = meaning
        return item

    ds = sop_dataset(
        AnatomicRegionSequence=Sequence(
            [
                code("CodeValue", "4711", "99HOSP", "Jane"),
                code("LongCodeValue", "LONG-4711", "L", "Smith"),
                code("URNCodeValue", "urn:oid:1.2.3", "99X", "odd"),
                code("CodeValue", "76752008", "SCT", "Breast"),
            ]
        )
    )
    ds.file_meta.TransferSyntaxUID = syntax
    fast = create_default_core()
    slow = create_default_core()
    slow.raw_fast_paths = False
    expected = _bytes(slow, ds, tmp_path, "slow")
    assert_same_bytes(expected, _bytes(fast, ds, tmp_path, "fast"))
    items = pydicom.dcmread(io.BytesIO(expected)).AnatomicRegionSequence
    assert [i.CodingSchemeDesignator for i in items] == ["99IDISCORE"] * 3 + ["SCT"]
