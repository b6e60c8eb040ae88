"""Every output resolves inside ``-o``; a run never overwrites a file its report does not
claim; ``--resume`` removes only temporary files idiscore made; the report is keyed by real
paths, so a resumed run recognises its inputs however they are spelled."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydicom.data import get_testdata_file

from idiscore.batch import BatchOptions, run_batch
from idiscore.batch.writer import new_temp_name
from idiscore.cli import main
from idiscore.defaults import create_default_core


def tree_hashes(folder: Path, *, skip: tuple[str, ...] = ()) -> dict[str, str]:
    return {
        str(path): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not any(part in skip for part in path.relative_to(folder).parts)
    }


def ct(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(str(get_testdata_file("CT_small.dcm")), path)
    return path


def test_a_glob_through_dotdot_writes_inside_the_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in" / "sub").mkdir(parents=True)
    source = ct(tmp_path / "src" / "ct.dcm")
    victim = ct(tmp_path / "victim" / "keep.dcm")
    before = tree_hashes(tmp_path)
    for resume in (False, True):
        options = BatchOptions(output=Path("out"), report=Path(f"r{resume}.jsonl"), resume=resume)
        summary = run_batch(create_default_core(), ["in/*/../../src/*.dcm"], options)
        assert summary.counts["done"] + summary.counts["failed"] == 1
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert [p.name for p in written] == ["ct.dcm"]
    assert tree_hashes(tmp_path, skip=("out", "rFalse.jsonl", "rTrue.jsonl")) == before
    assert source.exists() and victim.exists()


def test_a_link_in_the_output_leading_out_is_never_written_through(tmp_path: Path) -> None:
    ct(tmp_path / "in" / "sub" / "a.dcm")
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "sub").symlink_to(outside)
    summary = run_batch(create_default_core(), [tmp_path / "in"], BatchOptions(tmp_path / "out"))
    assert summary.counts["failed"] == 1
    assert list(outside.iterdir()) == []


def test_resume_never_overwrites_a_file_its_report_does_not_claim(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    for name in ("a.dcm", "b.dcm", "c.dcm"):
        ct(inputs / name)
    reference = tmp_path / "ref"
    run_batch(create_default_core(), [inputs], BatchOptions(output=reference))
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.dcm").write_bytes(b"a user's file")
    shutil.copyfile(reference / "b.dcm", out / "b.dcm")  # left by a run killed before its line
    report = tmp_path / "fresh.jsonl"
    options = BatchOptions(output=out, report=report, resume=True)
    summary = run_batch(create_default_core(), [inputs], options)
    assert (out / "a.dcm").read_bytes() == b"a user's file"
    assert (out / "b.dcm").read_bytes() == (reference / "b.dcm").read_bytes()
    assert (out / "c.dcm").read_bytes() == (reference / "c.dcm").read_bytes()
    records = {Path(r["input"]).name: r for r in map(json.loads, report.read_text().splitlines())}
    assert records["a.dcm"]["status"] == "failed"
    assert "does not claim" in records["a.dcm"]["reason"]
    assert records["b.dcm"]["status"] == records["c.dcm"]["status"] == "done"
    assert summary.counts == {"done": 2, "rejected": 0, "skipped": 0, "failed": 1}


def test_resume_removes_only_temporary_files_it_made(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    ct(inputs / "a.dcm")
    out, report = tmp_path / "out", tmp_path / "r.jsonl"
    run_batch(create_default_core(), [inputs], BatchOptions(output=out, report=report))
    ours = out / new_temp_name()
    ours.write_bytes(b"half a file")
    users = [out / ".idiscore-notes.tmp", out / ".idiscore-0123456789abcdef0123.tmp"]
    for path in users:
        path.write_bytes(b"precious")
    options = BatchOptions(output=out, report=report, resume=True)
    summary = run_batch(create_default_core(), [inputs], options)
    assert summary.temp_files_removed == 1 and not ours.exists()
    assert all(path.read_bytes() == b"precious" for path in users)


def test_resume_recognises_inputs_however_they_are_spelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for index in range(3):
        ct(tmp_path / "in" / f"s{index}" / "ct.dcm")
    (tmp_path / "link").symlink_to(tmp_path / "in")
    (tmp_path / "elsewhere").mkdir()
    out, report = tmp_path / "out", tmp_path / "r.jsonl"
    monkeypatch.chdir(tmp_path)
    first = CliRunner().invoke(main, ["deidentify", "in", "-o", str(out), "--report", str(report)])
    assert first.exit_code == 0, first.output
    lines = report.read_text()
    for cwd, spelled in ((tmp_path, "link"), (tmp_path / "elsewhere", "../in")):
        monkeypatch.chdir(cwd)
        args = ["deidentify", spelled, "-o", str(out), "--report", str(report), "--resume"]
        again = CliRunner().invoke(main, args)
        assert again.exit_code == 0, again.output
        assert report.read_text() == lines, f"{spelled}: nothing redone, nothing failed"
