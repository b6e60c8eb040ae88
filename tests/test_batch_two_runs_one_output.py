"""Two runs into one output folder (or onto one report) never mix their files: the second
refuses while the first holds the lock, naming the holder; a lock left by a dead run is
taken over with a note."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from idiscore.batch import BatchOptions, run_batch
from idiscore.batch.locking import LOCK_NAME, RunLock, lock_path
from idiscore.batch.report import report_path
from idiscore.defaults import create_default_core
from idiscore.errors import OutputInUseError
from idiscore.pseudonyms import Pseudonymizer


def script() -> str:
    return str(Path(sys.executable).parent / "idiscore")


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    for index in range(120):
        sub = folder / f"s{index % 4}"
        sub.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(str(get_testdata_file("CT_small.dcm")), sub / f"ct{index:03d}.dcm")
    return folder


def deidentify(inputs: Path, out: Path, report: Path, key: str) -> subprocess.Popen[str]:
    env = dict(os.environ, IDISCORE_KEY=key)
    command = [script(), "deidentify", str(inputs), "-o", str(out), "--report", str(report)]
    return subprocess.Popen(
        [*command, "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def expected_bytes(source: str, key: str, folder: Path) -> bytes:
    core = create_default_core(pseudonymizer=Pseudonymizer(key))
    target = folder / "expected.dcm"
    core.deidentify_file(source, target)
    return target.read_bytes()


def test_two_concurrent_runs_never_mix_outputs(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    keys = {"a": "first-run-key-0123456789", "b": "second-run-key-0123456789"}
    runs = {
        name: deidentify(inputs, out, tmp_path / f"{name}.jsonl", key)
        for name, key in keys.items()
    }
    results = {name: (*run.communicate(timeout=120), run.returncode) for name, run in runs.items()}
    codes = sorted(code for _, _, code in results.values())
    for stdout, stderr, _ in results.values():
        assert "Traceback" not in stdout + stderr
    if codes == [0, 2]:  # the usual case: they overlapped and the second refused
        refused = next(stderr for _, stderr, code in results.values() if code == 2)
        assert "another idiscore run is using this output" in refused
        assert f"on host {socket.gethostname()}" in refused and "process " in refused
    else:  # the first had finished: the second wrote nothing over its files
        assert codes == [0, 1], results
    checked = 0
    sample = {}
    for name, key in keys.items():
        report = tmp_path / f"{name}.jsonl"
        if not report.exists():
            continue
        for record in map(json.loads, report.read_text().splitlines()):
            if record["status"] != "done":
                continue
            source = report_path(record)
            assert source is not None
            if (source, key) not in sample:
                sample[source, key] = expected_bytes(source, key, tmp_path)
            assert Path(record["output"]).read_bytes() == sample[source, key]
            checked += 1
    assert checked == 120, "every output holds the bytes of the run that reports it"
    assert not list(out.rglob("*.tmp")) and not (out / LOCK_NAME).exists()


def test_a_run_holding_the_lock_makes_the_second_refuse(inputs: Path, tmp_path: Path) -> None:
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    out.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from idiscore.batch.locking import RunLock; "
            f"lock = RunLock([({str(out)!r}, True)]); print('locked', flush=True); "
            "sys.stdin.read(); lock.release()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        done = subprocess.run(
            [script(), "deidentify", str(inputs), "-o", str(out), "--report", str(report)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert f"process {holder.pid} on host {socket.gethostname()}" in done.stderr
        assert "Traceback" not in done.stderr
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME], "nothing written"
        assert not report.exists()
    finally:
        holder.communicate("", timeout=30)
    assert not (out / LOCK_NAME).exists(), "released and removed"


def test_the_report_and_the_mapping_are_locked_too(inputs: Path, tmp_path: Path) -> None:
    report, mapping = tmp_path / "r.jsonl", tmp_path / "private" / "map.csv"
    mapping.parent.mkdir()
    core = create_default_core()
    for locked, folder in ((report, False), (mapping, False)):
        with RunLock([(locked, folder)]):
            options = BatchOptions(output=tmp_path / "other", report=report, mapping=mapping)
            with pytest.raises(OutputInUseError, match=f"process {os.getpid()}"):
                run_batch(core, [inputs], options)
        assert not lock_path(locked, folder=False).exists()
    assert not (tmp_path / "other").exists(), "a batch that cannot start leaves no folder"


def test_a_lock_left_by_a_dead_run_is_taken_over_with_a_note(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    stale = {"pid": dead.pid, "host": socket.gethostname(), "started": "earlier"}
    (out / LOCK_NAME).write_text(json.dumps(stale))
    started = time.monotonic()
    summary = run_batch(create_default_core(), [inputs], BatchOptions(output=out))
    assert summary.counts["done"] == 120 and time.monotonic() - started < 60
    assert len(summary.notes) == 1
    assert f"process {dead.pid}" in summary.notes[0] and "no longer running" in summary.notes[0]
    assert not (out / LOCK_NAME).exists()


def test_without_flock_a_live_holder_on_this_host_keeps_the_lock(tmp_path: Path) -> None:
    holder = {"pid": os.getppid(), "host": socket.gethostname()}
    with pytest.raises(OutputInUseError, match=f"process {os.getppid()}"):
        RunLock._by_holder(holder, tmp_path / LOCK_NAME)
    RunLock._by_holder({"pid": 2**22 + 7, "host": socket.gethostname()}, tmp_path / "x")
