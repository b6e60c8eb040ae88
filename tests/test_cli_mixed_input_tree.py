"""End to end through the installed ``idiscore`` script: a tree of mixed inputs gives the
right outputs, report lines and exit codes, and the input tree is byte-identical after."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.data import get_testdata_file

from idiscore.demo import encapsulated_pdf


def idiscore_script() -> str:
    found = shutil.which("idiscore", path=str(Path(sys.executable).parent))
    return found or str(Path(sys.executable).parent / "idiscore")


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [idiscore_script(), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "120"},
    )


def tree_hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def report(path: Path) -> dict[str, dict[str, Any]]:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert len({r["input"] for r in records}) == len(records)
    return {str(Path(r["input"]).relative_to(path.parent / "in")): r for r in records}


@pytest.fixture
def mixed_tree(tmp_path: Path) -> Path:
    inputs = tmp_path / "in"
    files = {
        "patients/p1/study/ct.dcm": "CT_small.dcm",
        "patients/p2/mr.dcm": "MR_small.dcm",
        "patients/p2/plan/rtplan.dcm": "rtplan.dcm",
        "patients/p3/IMAGE0001": "MR_small.dcm",
    }
    for relative, name in files.items():
        (inputs / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(str(get_testdata_file(name)), inputs / relative)
    (inputs / "notes.txt").write_text("Findings: see report.\n")
    ct = Path(str(get_testdata_file("CT_small.dcm"))).read_bytes()
    (inputs / "patients" / "p1" / "truncated.dcm").write_bytes(ct[:300])
    encapsulated_pdf().save_as(inputs / "patients" / "p4.dcm", enforce_file_format=True)
    return inputs


def test_mixed_tree_end_to_end(tmp_path: Path, mixed_tree: Path) -> None:
    before = tree_hashes(mixed_tree)
    out = tmp_path / "out"
    result = run(
        "deidentify",
        mixed_tree,
        "-o",
        out,
        "--report",
        tmp_path / "report.jsonl",
        "--quarantine",
        tmp_path / "quarantine",
        "--workers",
        "2",
    )
    assert result.returncode == 1, result.stderr
    assert tree_hashes(mixed_tree) == before

    lines = report(tmp_path / "report.jsonl")
    assert {k: r["status"] for k, r in lines.items()} == {
        "patients/p1/study/ct.dcm": "done",
        "patients/p2/mr.dcm": "done",
        "patients/p2/plan/rtplan.dcm": "done",
        "patients/p3/IMAGE0001": "done",
        "notes.txt": "skipped",
        "patients/p1/truncated.dcm": "failed",
        "patients/p4.dcm": "rejected",
    }
    for key, record in lines.items():
        assert set(record) >= {
            "status",
            "reason",
            "input",
            "output",
            "input_bytes",
            "output_bytes",
            "seconds",
        }
        assert record["input_bytes"] == (mixed_tree / key).stat().st_size
        if record["status"] == "done":
            assert record["output"] == str(out / key) and record["reason"] == ""
            assert record["output_bytes"] == (out / key).stat().st_size
        else:
            assert record["output"] is None and record["reason"]
    text = (tmp_path / "report.jsonl").read_text()
    for value in ("CompressedSamples", "Doe^Jane", "PDF-0001", "Findings"):
        assert value not in text

    assert set(tree_hashes(out)) == {k for k, r in lines.items() if r["status"] == "done"}
    for key in ("patients/p1/study/ct.dcm", "patients/p3/IMAGE0001"):
        original = pydicom.dcmread(mixed_tree / key)
        written = pydicom.dcmread(out / key)
        assert written.get("PatientName", "") != original.PatientName
        assert written.SOPInstanceUID != original.SOPInstanceUID
        assert written.PatientIdentityRemoved == "YES"
    assert tree_hashes(tmp_path / "quarantine") == {
        "patients/p1/truncated.dcm": before["patients/p1/truncated.dcm"],
        "patients/p4.dcm": before["patients/p4.dcm"],
    }
    # not a terminal: plain lines for the problems, then the summary table
    assert "rejected:" in result.stdout and "failed:" in result.stdout
    assert "done" in result.stdout and "skipped" in result.stdout
    assert "\x1b[" not in result.stdout


def test_all_good_inputs_exit_zero_and_patient_layout(tmp_path: Path, mixed_tree: Path) -> None:
    out = tmp_path / "out"
    result = run(
        "deidentify",
        mixed_tree / "patients" / "p2",
        mixed_tree / "notes.txt",
        "-o",
        out,
        "--layout",
        "patient",
        "--workers",
        "1",
        "-q",
    )
    assert result.returncode == 0, result.stderr
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert len(files) == 2
    for path in files:
        ds = pydicom.dcmread(path)
        assert path.relative_to(out).parts[1:] == (
            ds.StudyInstanceUID,
            ds.SeriesInstanceUID,
            f"{ds.SOPInstanceUID}.dcm",
        )


def test_dry_run_writes_nothing(tmp_path: Path, mixed_tree: Path) -> None:
    before = tree_hashes(tmp_path)
    result = run(
        "deidentify", mixed_tree, "-o", tmp_path / "out", "--report", tmp_path / "r", "--dry-run"
    )
    assert result.returncode == 0, result.stderr
    assert tree_hashes(tmp_path) == before
    assert not (tmp_path / "out").exists()
    assert "would process" in result.stdout
