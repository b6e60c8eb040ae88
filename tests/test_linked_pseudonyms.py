"""Keyed pseudonyms through the Core: linkable across files and runs, interval-preserving."""

from __future__ import annotations

import datetime
import io
import subprocess
import sys
from pathlib import Path

import pydicom
from hypothesis import given
from hypothesis import strategies as st
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from idiscore.core import Core, Profile
from idiscore.defaults import get_dicom_rule_sets, profile_from_options
from idiscore.identifiers import SingleTag
from idiscore.insertions import StandardInsertions
from idiscore.operators import Hash, Keep
from idiscore.pseudonyms import Crosswalk, Pseudonymizer
from idiscore.rules import Rule, RuleSet

from factories import assert_unchanged, new_uid, roundtrip, snapshot, sop_dataset

LINK = RuleSet(
    [
        Rule(SingleTag("PatientID"), Hash()),
        Rule(SingleTag("PatientName"), Hash()),
        # keep source references (Type 3 in CT: X by default); the UIDs inside still get U
        Rule(SingleTag("SourceImageSequence"), Keep()),
        Rule(SingleTag("ReferencedImageSequence"), Keep()),
    ],
    name="linkable patient pseudonyms",
)


def _core(key: str = "k1", *options: str, crosswalk: Crosswalk | None = None) -> Core:
    profile = profile_from_options(options, extra=[LINK])
    return Core(
        profile,
        [StandardInsertions()],
        pseudonymizer=Pseudonymizer(key, crosswalk=crosswalk),
    )


def _bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _study(patient: str, study_date: str, referenced: str | None = None) -> Dataset:
    ds = sop_dataset(PatientID=patient, StudyDate=study_date, SeriesDate=study_date)
    ds.StudyInstanceUID = new_uid()
    ds.SOPInstanceUID = new_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    if referenced:
        inner = Dataset()
        inner.ReferencedSOPClassUID = ds.SOPClassUID
        inner.ReferencedSOPInstanceUID = referenced
        middle = Dataset()
        middle.ReferencedImageSequence = Sequence([inner])
        ds.SourceImageSequence = Sequence([middle])
    return ds


def test_same_patient_links_across_files_and_another_key_does_not() -> None:
    a = _core("k1").deidentify(_study("PID-1", "20200101"))
    b = _core("k1").deidentify(_study("PID-1", "20230505"))
    c = _core("k2").deidentify(_study("PID-1", "20200101"))
    assert a.PatientID == b.PatientID != "PID-1"
    assert a.PatientName == b.PatientName
    assert c.PatientID != a.PatientID


def test_three_studies_over_five_years_keep_every_interval() -> None:
    dates = ["20180105", "20200229", "20230101"]
    core = _core("k1", "retain_long_modified_dates")
    out = [core.deidentify(_study("PID-7", d)) for d in dates]
    assert all(o.LongitudinalTemporalInformationModified == "MODIFIED" for o in out)

    def parse(text: str) -> datetime.date:
        return datetime.datetime.strptime(text, "%Y%m%d").date()

    originals = [parse(d) for d in dates]
    shifted = [parse(o.StudyDate) for o in out]
    assert shifted != originals
    deltas = {(s - o).days for s, o in zip(shifted, originals, strict=True)}
    assert len(deltas) == 1, "one shift per patient"
    again = _core("k1", "retain_long_modified_dates").deidentify(_study("PID-7", dates[1]))
    assert again.StudyDate == out[1].StudyDate, "the same shift in another run"


def test_uid_referenced_from_three_files_at_two_depths_maps_to_one_uid() -> None:
    target = _study("PID-2", "20200101")
    refs = [_study("PID-2", "20200101", referenced=target.SOPInstanceUID) for _ in range(2)]
    core = _core("k1")
    new_target = core.deidentify(target)
    for ref in refs:
        out = core.deidentify(ref)
        inner = out.SourceImageSequence[0].ReferencedImageSequence[0]
        assert inner.ReferencedSOPInstanceUID == new_target.SOPInstanceUID
        top = Dataset()
        top.ReferencedSOPInstanceUID = target.SOPInstanceUID
        shallow = sop_dataset()
        shallow.SourceImageSequence = Sequence([top])
        out = core.deidentify(shallow)
        assert out.SourceImageSequence[0].ReferencedSOPInstanceUID == new_target.SOPInstanceUID
        assert out.StudyInstanceUID != ref.StudyInstanceUID


def test_output_is_byte_identical_across_processes(tmp_path: Path) -> None:
    ds = _study("PID-3", "20210101", referenced="1.2.3.4.5")
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.77"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.78"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    path = tmp_path / "in.dcm"
    ds.save_as(path, enforce_file_format=True)
    here = _bytes(_core("k1", "retain_long_modified_dates").deidentify(pydicom.dcmread(path)))
    script = (
        "import sys, io, pydicom\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "from test_linked_pseudonyms import _core, _bytes\n"
        "core = _core('k1', 'retain_long_modified_dates')\n"
        "out = core.deidentify(pydicom.dcmread(sys.argv[1]))\n"
        "sys.stdout.buffer.write(_bytes(out))\n"
    )
    there = subprocess.run(
        [sys.executable, "-c", script, str(path), str(Path(__file__).parent)],
        check=True,
        capture_output=True,
    ).stdout
    assert here == there


def test_crosswalk_overrides_patient_id_and_uid() -> None:
    ds = _study("PID-4", "20210101")
    walk = Crosswalk(
        patient_ids={"PID-4": "SUBJ-0001"},
        patient_names={"PID-4": "SUBJECT^ONE"},
        uids={ds.StudyInstanceUID: "1.2.826.0.1.3680043.8.498.1234"},
    )
    out = _core("k1", crosswalk=walk).deidentify(ds)
    assert out.PatientID == "SUBJ-0001"
    assert out.PatientName == "SUBJECT^ONE"
    assert out.StudyInstanceUID == "1.2.826.0.1.3680043.8.498.1234"


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=4, max_size=20))
def test_derived_values_never_contain_the_original_and_key_never_leaks(text: str) -> None:
    patient = "ID-" + text
    key = "super-secret-key-do-not-leak"
    ds = _study(patient, "20200101")
    before = snapshot(ds)
    out = _core(key).deidentify(ds)
    assert_unchanged(ds, before)
    data = _bytes(out)
    assert patient.encode() not in data
    assert key.encode() not in data
    back = roundtrip(out)
    assert patient not in str(back.PatientID)


def test_basic_profile_alone_removes_longitudinal_information() -> None:
    out = Core(Profile([get_dicom_rule_sets().basic_profile])).deidentify(sop_dataset())
    assert out.StudyDate == ""
