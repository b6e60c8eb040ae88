"""Two inputs that map to the same output path: the later one fails, nothing is overwritten."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from pydicom.data import get_testdata_file

from idiscore.batch import BatchOptions, run_batch
from idiscore.core import Core, Profile
from idiscore.operators import Hash
from idiscore.pseudonyms import Pseudonymizer
from idiscore.rules import Rule, RuleSet


def core() -> Core:
    return Core(
        Profile([RuleSet([Rule("PatientName", Hash())], name="t")]),
        pseudonymizer=Pseudonymizer("collision-key"),
    )


def statuses(report: Path) -> list[tuple[str, str, str]]:
    records = [json.loads(line) for line in report.read_text().splitlines()]
    return [(Path(r["input"]).parent.name, r["status"], r["reason"]) for r in records]


def test_duplicate_files_collide_in_patient_layout(tmp_path: Path) -> None:
    for folder in ("first", "second"):
        (tmp_path / "in" / folder).mkdir(parents=True)
        shutil.copyfile(str(get_testdata_file("CT_small.dcm")), tmp_path / "in" / folder / "x")
    out, report = tmp_path / "out", tmp_path / "r.jsonl"
    summary = run_batch(
        core(), [tmp_path / "in"], BatchOptions(output=out, layout="patient", report=report)
    )
    assert summary.counts["done"] == 1 and summary.counts["failed"] == 1
    (first, second) = statuses(report)
    assert first[:2] == ("first", "done")
    assert second[:2] == ("second", "failed") and "same output path" in second[2]
    assert len([p for p in out.rglob("*") if p.is_file()]) == 1


def test_same_relative_path_under_two_roots_collides_in_mirror_layout(tmp_path: Path) -> None:
    for folder, name in (("one", "CT_small.dcm"), ("two", "MR_small.dcm")):
        (tmp_path / folder).mkdir()
        shutil.copyfile(str(get_testdata_file(name)), tmp_path / folder / "image.dcm")
    out, report = tmp_path / "out", tmp_path / "r.jsonl"
    run_batch(
        core(), [tmp_path / "one", tmp_path / "two"], BatchOptions(output=out, report=report)
    )
    assert [s[:2] for s in statuses(report)] == [("one", "done"), ("two", "failed")]
    kept = (out / "image.dcm").read_bytes()
    run_batch(core(), [tmp_path / "one"], BatchOptions(output=tmp_path / "fresh"))
    assert kept == (tmp_path / "fresh" / "image.dcm").read_bytes()  # the first one won


def test_existing_output_file_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    shutil.copyfile(str(get_testdata_file("CT_small.dcm")), tmp_path / "in" / "ct.dcm")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "ct.dcm").write_bytes(b"precious")
    report = tmp_path / "r.jsonl"
    summary = run_batch(
        core(), [tmp_path / "in"], BatchOptions(output=tmp_path / "out", report=report)
    )
    assert summary.counts["failed"] == 1
    assert "already exists" in statuses(report)[0][2]
    assert (tmp_path / "out" / "ct.dcm").read_bytes() == b"precious"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["ct.dcm"]  # no temp file
