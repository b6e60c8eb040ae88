"""A mixed tree through the library batch API: every input gets the right status, the
report says why, rejected and failed inputs land in quarantine, and the input tree is
byte-identical afterwards -- in process and with a process pool."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from idiscore.batch import BatchOptions, run_batch
from idiscore.core import Core, Profile
from idiscore.demo import encapsulated_pdf
from idiscore.errors import DatasetRejectedError
from idiscore.operators import Hash, HashUID, Remove
from idiscore.pseudonyms import Pseudonymizer
from idiscore.rules import Rule, RuleSet


class RejectPDF:
    """A bouncer of our own: refuses Encapsulated PDF Storage."""

    def inspect(self, dataset: Dataset, *, pixels_will_be_cleaned: bool = False) -> None:
        if str(dataset.get("SOPClassUID", "")) == "1.2.840.10008.5.1.4.1.1.104.1":
            raise DatasetRejectedError("encapsulated PDF may hold burnt-in text", bouncer=self)


def small_core() -> Core:
    rules = RuleSet(
        [
            Rule("PatientName", Hash()),
            Rule("PatientID", Hash()),
            Rule("PatientBirthDate", Remove()),
            Rule("SOPInstanceUID", HashUID()),
            Rule("StudyInstanceUID", HashUID()),
            Rule("SeriesInstanceUID", HashUID()),
            Rule("MediaStorageSOPInstanceUID", HashUID()),
        ],
        name="test rules",
    )
    return Core(Profile([rules]), bouncers=[RejectPDF()], pseudonymizer=Pseudonymizer("k" * 32))


def tree_hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def build_tree(root: Path) -> Path:
    inputs = root / "in"
    (inputs / "a" / "b").mkdir(parents=True)
    (inputs / "c").mkdir()
    shutil.copyfile(str(get_testdata_file("CT_small.dcm")), inputs / "a" / "b" / "ct.dcm")
    shutil.copyfile(str(get_testdata_file("MR_small.dcm")), inputs / "a" / "mr.dcm")
    shutil.copyfile(str(get_testdata_file("rtplan.dcm")), inputs / "c" / "noextension")
    (inputs / "c" / "notes.txt").write_text("hello, not DICOM\n")
    ct = Path(str(get_testdata_file("CT_small.dcm"))).read_bytes()
    (inputs / "c" / "truncated.dcm").write_bytes(ct[:300])
    encapsulated_pdf().save_as(inputs / "c" / "report.dcm", enforce_file_format=True)
    dicomdir = get_testdata_file("DICOMDIR")
    shutil.copyfile(str(dicomdir), inputs / "DICOMDIR")
    return inputs


def report_lines(path: Path) -> dict[str, dict[str, Any]]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return {Path(r["input"]).name: r for r in lines}


@pytest.mark.parametrize("workers", [1, 2])
def test_mixed_tree_statuses_outputs_and_quarantine(tmp_path: Path, workers: int) -> None:
    inputs = build_tree(tmp_path)
    before = tree_hashes(inputs)
    options = BatchOptions(
        output=tmp_path / "out",
        report=tmp_path / "report.jsonl",
        quarantine=tmp_path / "quarantine",
        workers=workers,
    )
    seen: list[str] = []
    summary = run_batch(
        small_core(), [inputs], options, on_result=lambda r, s: seen.append(r.status)
    )

    assert tree_hashes(inputs) == before
    lines = report_lines(tmp_path / "report.jsonl")
    assert {name: r["status"] for name, r in lines.items()} == {
        "ct.dcm": "done",
        "mr.dcm": "done",
        "noextension": "done",
        "notes.txt": "skipped",
        "truncated.dcm": "failed",
        "report.dcm": "rejected",
        "DICOMDIR": "skipped",
    }
    assert lines["report.dcm"]["bouncer"] == "RejectPDF"
    assert "PDF" in lines["report.dcm"]["reason"]
    assert "truncated" in lines["truncated.dcm"]["reason"]
    assert "DICOMDIR" in lines["DICOMDIR"]["reason"]
    assert "not DICOM" in lines["notes.txt"]["reason"]
    for record in lines.values():
        assert set(record) >= {"status", "reason", "input", "output", "input_bytes", "seconds"}
        assert "Smith" not in json.dumps(record) and "CompressedSamples" not in json.dumps(record)
    assert summary.counts == {"done": 3, "rejected": 1, "skipped": 2, "failed": 1}
    assert not summary.ok and not summary.interrupted
    assert sorted(seen) == sorted(r["status"] for r in lines.values())

    out = tmp_path / "out"
    assert tree_hashes(out).keys() == {"a/b/ct.dcm", "a/mr.dcm", "c/noextension"}
    assert lines["ct.dcm"]["output"] == str(out / "a" / "b" / "ct.dcm")
    assert lines["ct.dcm"]["output_bytes"] == (out / "a" / "b" / "ct.dcm").stat().st_size
    original = pydicom.dcmread(inputs / "a" / "b" / "ct.dcm")
    written = pydicom.dcmread(out / "a" / "b" / "ct.dcm")
    assert written.PatientName != original.PatientName
    assert "PatientBirthDate" not in written
    assert written.SOPInstanceUID != original.SOPInstanceUID
    assert written.file_meta.MediaStorageSOPInstanceUID == written.SOPInstanceUID
    assert written.PixelData == original.PixelData

    assert tree_hashes(tmp_path / "quarantine") == {
        "c/report.dcm": before["c/report.dcm"],
        "c/truncated.dcm": before["c/truncated.dcm"],
    }


def test_pool_and_in_process_write_identical_files(tmp_path: Path) -> None:
    inputs = build_tree(tmp_path)
    trees = []
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        run_batch(small_core(), [inputs], BatchOptions(output=out, workers=workers))
        trees.append(tree_hashes(out))
    assert trees[0] == trees[1] and len(trees[0]) == 3


def test_patient_layout_uses_deidentified_values(tmp_path: Path) -> None:
    inputs = build_tree(tmp_path)
    out = tmp_path / "out"
    run_batch(small_core(), [inputs], BatchOptions(output=out, layout="patient"))
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert len(files) == 3
    for path in files:
        ds = pydicom.dcmread(path)
        parts = path.relative_to(out).parts
        assert parts == (
            str(ds.PatientID),
            ds.StudyInstanceUID,
            ds.SeriesInstanceUID,
            f"{ds.SOPInstanceUID}.dcm",
        )
    original_ids = {str(pydicom.dcmread(p).PatientID) for p in (inputs / "a").rglob("*.dcm")}
    assert not original_ids & {p.relative_to(out).parts[0] for p in files}


def test_input_given_as_file_and_glob(tmp_path: Path) -> None:
    inputs = build_tree(tmp_path)
    out = tmp_path / "out"
    summary = run_batch(
        small_core(),
        [inputs / "a" / "mr.dcm", str(inputs / "c" / "*.txt"), str(inputs / "**" / "ct.dcm")],
        BatchOptions(output=out),
    )
    assert summary.counts["done"] == 2 and summary.counts["skipped"] == 1
    assert set(tree_hashes(out)) == {"mr.dcm", "a/b/ct.dcm"}
