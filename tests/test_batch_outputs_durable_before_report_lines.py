"""A report line is written only after its output is on the disk: with the default policy
outputs are fsynced in groups (with every new folder up to the output folder's parent),
then their lines are written; with ``fsync="each"`` every file is fsynced before its
rename. An output that cannot be fsynced is failed, not reported as done."""

from __future__ import annotations

import errno
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

import idiscore.batch.durability as durability
import idiscore.batch.runner as runner
from idiscore.batch import BatchOptions, FileResult, run_batch
from idiscore.batch.durability import Checkpointer
from idiscore.batch.report import ReportWriter
from idiscore.core import Core, Profile
from idiscore.errors import ConfigurationError
from idiscore.operators import Hash
from idiscore.pseudonyms import Pseudonymizer
from idiscore.rules import Rule, RuleSet

from factories import MIXED_SERIES_FILES, write_mixed_series


def core() -> Core:
    rules = RuleSet([Rule("PatientName", Hash())], name="durability rules")
    return Core(Profile([rules]), pseudonymizer=Pseudonymizer("durable-key"))


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    return write_mixed_series(tmp_path / "in")


def record_calls(monkeypatch: pytest.MonkeyPatch, name: str) -> list[str]:
    """Spy on ``durability.<name>`` (a function of one path): the paths it is called with,
    in order; each call still goes through."""
    calls: list[str] = []
    original = getattr(durability, name)

    def spy(path: str | os.PathLike[str]) -> None:
        calls.append(os.fspath(path))
        original(path)

    monkeypatch.setattr(durability, name, spy)
    return calls


def records(report: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in report.read_text().splitlines()]


@pytest.mark.parametrize("workers", [1, 2])
def test_lines_are_written_after_their_outputs_are_fsynced(
    tmp_path: Path, inputs: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    events: list[tuple[str, str]] = []
    fsync_path, write_many = durability.fsync_path, ReportWriter.write_many

    def spy_fsync(path: str | os.PathLike[str]) -> None:
        events.append(("fsync", os.fspath(path)))
        fsync_path(path)

    def spy_lines(self: ReportWriter, results: Iterable[FileResult]) -> None:
        results = list(results)
        events.extend(("line", str(result.output)) for result in results)
        write_many(self, results)

    monkeypatch.setattr(durability, "fsync_path", spy_fsync)
    monkeypatch.setattr(ReportWriter, "write_many", spy_lines)
    monkeypatch.setattr(durability, "GROUP_FILES", 2)
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    summary = run_batch(core(), [inputs], BatchOptions(output=out, report=report, workers=workers))

    assert summary.counts["done"] == len(MIXED_SERIES_FILES)
    done = [str(r["output"]) for r in records(report) if r["status"] == "done"]
    assert sorted(done) == sorted(str(p) for p in out.rglob("*.dcm"))
    for output in done:
        assert events.index(("fsync", output)) < events.index(("line", output))
    assert len([e for e in events if e[0] == "line"]) == len(MIXED_SERIES_FILES) + 1  # + notes.txt


def test_quarantine_copies_are_fsynced_before_their_lines(
    tmp_path: Path, inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced = record_calls(monkeypatch, "fsync_path")
    broken = inputs / "series0" / "CT_small.dcm"
    broken.write_bytes(broken.read_bytes()[:300])  # truncated: fails
    quarantine, report = tmp_path / "quarantine", tmp_path / "report.jsonl"
    options = BatchOptions(output=tmp_path / "out", report=report, quarantine=quarantine)
    summary = run_batch(core(), [inputs], options)
    assert summary.counts["failed"] == 1
    copy = quarantine / "series0" / "CT_small.dcm"
    assert copy.read_bytes() == broken.read_bytes()
    assert str(copy) in synced


def test_every_new_folder_is_fsynced_up_to_the_output_folders_parent(
    tmp_path: Path, inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folders = record_calls(monkeypatch, "fsync_folder")
    out = tmp_path / "deep" / "out"
    run_batch(core(), [inputs], BatchOptions(output=out, layout="patient"))
    outputs = list(out.rglob("*.dcm"))
    assert len(outputs) == len(MIXED_SERIES_FILES)
    for output in outputs:
        for folder in output.parents:
            if folder == out.parent.parent:
                break
            assert str(folder) in folders


def test_fsync_each_flushes_every_file_before_its_rename(
    tmp_path: Path, inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flags: list[bool] = []
    write_temp = runner.write_temp

    def spy(*args: object, fsync: bool = True) -> tuple[Path, int]:
        flags.append(fsync)
        return write_temp(*args, fsync=fsync)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "write_temp", spy)
    report = tmp_path / "each.jsonl"
    run_batch(
        core(), [inputs], BatchOptions(output=tmp_path / "each", report=report, fsync="each")
    )
    assert flags == [True] * len(MIXED_SERIES_FILES)
    assert len(records(report)) == len(MIXED_SERIES_FILES) + 1
    flags.clear()
    run_batch(core(), [inputs], BatchOptions(output=tmp_path / "grouped"))
    assert flags == [False] * len(MIXED_SERIES_FILES)


def test_an_output_that_cannot_be_fsynced_fails(
    tmp_path: Path, inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsync_path = durability.fsync_path

    def broken_for_mr(path: str | os.PathLike[str]) -> None:
        if os.fspath(path).endswith("MR_small.dcm"):
            raise OSError(errno.EIO, "Input/output error")
        fsync_path(path)

    monkeypatch.setattr(durability, "fsync_path", broken_for_mr)
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    summary = run_batch(core(), [inputs], BatchOptions(output=out, report=report))

    by_name = {Path(str(r["input"])).name: r for r in records(report)}
    assert by_name["MR_small.dcm"]["status"] == "failed"
    assert by_name["MR_small.dcm"]["reason"] == "cannot write output: Input/output error"
    assert by_name["MR_small.dcm"]["output"] is None
    assert not list(out.rglob("MR_small.dcm"))
    assert summary.counts["done"] == len(MIXED_SERIES_FILES) - 1 and summary.counts["failed"] == 1
    assert summary.bytes_out == sum(p.stat().st_size for p in out.rglob("*.dcm"))


def test_a_report_that_cannot_be_written_stops_the_batch(
    tmp_path: Path, inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(self: ReportWriter, results: Iterable[FileResult]) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ReportWriter, "write_many", full)
    with pytest.raises(OSError, match="No space left"):
        run_batch(
            core(), [inputs], BatchOptions(output=tmp_path / "o", report=tmp_path / "r.jsonl")
        )


def test_a_group_is_written_when_it_is_old_enough(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(durability, "GROUP_SECONDS", 0.05)
    path = tmp_path / "report.jsonl"
    report = ReportWriter(path, append=False)
    checkpointer = Checkpointer(report)
    checkpointer.add(FileResult(status="skipped", input="/in/a.txt", reason="not DICOM"))
    deadline = time.monotonic() + 10
    while not path.read_text() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert json.loads(path.read_text())["input"] == "/in/a.txt"  # before close()
    checkpointer.close()
    report.close()


def test_a_group_is_written_when_it_is_full_without_waiting_for_its_age(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(durability, "GROUP_SECONDS", 600.0)
    monkeypatch.setattr(durability, "GROUP_FILES", 3)
    path = tmp_path / "report.jsonl"
    report = ReportWriter(path, append=False)
    checkpointer = Checkpointer(report)
    for name in ("a", "b"):
        checkpointer.add(FileResult(status="skipped", input=f"/in/{name}.txt", reason="x"))
    time.sleep(0.2)
    assert path.read_text() == "", "two of three: the group waits"
    checkpointer.add(FileResult(status="skipped", input="/in/c.txt", reason="x"))
    deadline = time.monotonic() + 10
    while path.read_text().count("\n") < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    lines = [json.loads(line)["input"] for line in path.read_text().splitlines()]
    assert lines == ["/in/a.txt", "/in/b.txt", "/in/c.txt"]  # before close()
    checkpointer.close()
    report.close()


def test_an_unknown_policy_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="fsync policy"):
        BatchOptions(output=tmp_path, fsync="sometimes")
