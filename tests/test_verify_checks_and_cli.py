"""The other checks of ``idiscore verify`` (insertions, pixels, UID references, dciodvfy)
and its command line (exit codes, report lines, pairing by run report)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pydicom
import pytest
from click.testing import CliRunner
from verify_corpus import write_planted

from idiscore.batch import BatchOptions, run_batch
from idiscore.cli import main
from idiscore.core import Core, Profile
from idiscore.defaults import create_default_core, get_dicom_rule_sets
from idiscore.insertions import StandardInsertions
from idiscore.operators import Remove
from idiscore.pseudonyms import Pseudonymizer
from idiscore.rules import Rule, RuleSet
from idiscore.verify import VerifyOptions, run_verify

KEY = b"verify-tests-key"


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """A default-profile run of two planted images: in/, out/, run.jsonl."""
    write_planted(tmp_path / "in", "explicit-undefined")
    core = create_default_core(pseudonymizer=Pseudonymizer(KEY))
    options = BatchOptions(output=tmp_path / "out", report=tmp_path / "run.jsonl")
    assert run_batch(core, [tmp_path / "in"], options).ok
    return tmp_path


def audit(root: Path, **options: object) -> tuple[object, list[object]]:
    summary = run_verify(
        root / "in", root / "out", VerifyOptions(dciodvfy=False, **options), keep_results=True
    )  # type: ignore[arg-type]
    assert summary.results is not None
    return summary, summary.results


def edit_output(root: Path, name: str, change: object) -> None:
    path = root / "out" / name
    ds = pydicom.dcmread(path)
    change(ds)  # type: ignore[operator]
    ds.save_as(path)


def test_clean_run_is_clean(run: Path) -> None:
    summary, results = audit(run)
    assert summary.clean  # type: ignore[attr-defined]
    assert [r.status for r in results] == ["clean", "clean"]  # type: ignore[attr-defined]


def test_missing_insertions_are_a_problem(run: Path) -> None:
    def strip(ds: pydicom.Dataset) -> None:
        del ds.PatientIdentityRemoved
        del ds.DeidentificationMethodCodeSequence

    edit_output(run, "image1.dcm", strip)
    summary, results = audit(run)
    assert results[0].status == "problem"  # type: ignore[attr-defined]
    assert len(results[0].problems) == 2  # type: ignore[attr-defined]
    assert results[1].status == "clean"  # type: ignore[attr-defined]
    assert not summary.clean  # type: ignore[attr-defined]


def test_pixels_changed_without_cleaning_recorded(run: Path) -> None:
    def scribble(ds: pydicom.Dataset) -> None:
        ds.PixelData = bytes(64)

    edit_output(run, "image2.dcm", scribble)
    _, results = audit(run)
    assert results[0].status == "clean"  # type: ignore[attr-defined]
    assert results[1].problems == [  # type: ignore[attr-defined]
        "the pixel data changed, but no pixel cleaning is recorded"
    ]


def test_broken_reference_and_remaining_original_uid(run: Path) -> None:
    def renumber(ds: pydicom.Dataset) -> None:
        ds.SOPInstanceUID = "2.25.1234567"

    edit_output(run, "image1.dcm", renumber)
    summary, _ = audit(run)
    assert summary.references == (1, 1, 0)  # type: ignore[attr-defined]
    assert any("do not resolve" in p for p in summary.set_problems)  # type: ignore[attr-defined]

    def keep_other_uid(ds: pydicom.Dataset) -> None:
        ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.7003.1"  # image1's original

    edit_output(run, "image2.dcm", keep_other_uid)
    summary, _ = audit(run)
    assert any("original UID" in p for p in summary.set_problems)  # type: ignore[attr-defined]


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy is not installed")
def test_dciodvfy_reports_new_errors_only(tmp_path: Path) -> None:
    write_planted(tmp_path / "in", "explicit-defined")
    broken = RuleSet([Rule("Modality", Remove())], name="drops a type 1 attribute")
    profile = Profile([get_dicom_rule_sets().basic_profile, broken])
    core = Core(profile, insertions=[StandardInsertions()], pseudonymizer=Pseudonymizer(KEY))
    assert run_batch(core, [tmp_path / "in"], BatchOptions(output=tmp_path / "out")).ok
    summary = run_verify(
        tmp_path / "in", tmp_path / "out", VerifyOptions(dciodvfy=True), keep_results=True
    )
    assert summary.results is not None
    for result in summary.results:
        new = [p for p in result.problems if p.startswith("dciodvfy")]
        assert new and all("Modality" in p for p in new), result.problems
    # the default profile adds no error
    assert run_batch(
        create_default_core(pseudonymizer=Pseudonymizer(KEY)),
        [tmp_path / "in"],
        BatchOptions(output=tmp_path / "ok"),
    ).ok
    clean = run_verify(tmp_path / "in", tmp_path / "ok", VerifyOptions(dciodvfy=True))
    assert clean.clean, clean.record()


def test_cli_exit_codes_and_report(run: Path) -> None:
    runner = CliRunner()
    report = run / "verify.jsonl"
    args = ["verify", str(run / "in"), str(run / "out"), "--workers", "1", "--no-dciodvfy"]
    result = runner.invoke(main, [*args, "--run-report", str(run / "run.jsonl"), "--report",
                                  str(report)])  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert [line["status"] for line in lines] == ["clean", "clean", "summary"]
    assert lines[-1]["counts"]["clean"] == 2

    def leak(ds: pydicom.Dataset) -> None:
        ds.ImageComments = "for Quillfeather"

    edit_output(run, "image1.dcm", leak)
    result = runner.invoke(main, [*args, "--report", str(report)])
    assert result.exit_code == 1, result.output
    first = json.loads(report.read_text().splitlines()[0])
    assert first["status"] == "leak"
    assert first["leaks"][0]["class"] == "name"
    assert "Quillfeather" not in report.read_text()  # never a value in the report

    result = runner.invoke(main, ["verify", str(run / "in"), str(run / "nowhere")])
    assert result.exit_code == 2
    result = runner.invoke(main, [*args, "--profile", "basic,no_such_option"])
    assert result.exit_code == 2


def test_workers_give_the_same_lines(run: Path) -> None:
    audit(run, workers=1, report=run / "one.jsonl")
    audit(run, workers=2, report=run / "two.jsonl")

    def lines(path: Path) -> list[dict[str, object]]:
        found = [json.loads(line) for line in path.read_text().splitlines()]
        for line in found:
            line.pop("seconds", None)
        return found

    assert lines(run / "one.jsonl") == lines(run / "two.jsonl")


def test_rejected_inputs_are_not_verified(run: Path) -> None:
    report = run / "run2.jsonl"
    lines = (run / "run.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first.update(status="rejected", output=None, reason="a bouncer said no")
    report.write_text(json.dumps(first) + "\n" + lines[1] + "\n")
    summary, results = audit(run, run_report=report)
    assert [r.status for r in results] == ["not_verified", "clean"]  # type: ignore[attr-defined]
    assert summary.clean  # type: ignore[attr-defined]
