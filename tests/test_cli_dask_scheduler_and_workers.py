"""The command line on a real cluster: ``dask scheduler`` and two ``dask worker`` processes on
127.0.0.1, ``idiscore deidentify --engine dask --scheduler tcp://127.0.0.1:PORT``; and on a
local cluster it starts itself. Outputs and report match the local engine's."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom.data import get_testdata_file

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
FILES = ["CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "rtdose.dcm", "UN_sequence.dcm"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A ``dask scheduler`` and two single-threaded ``dask worker`` processes on loopback."""
    logs = tmp_path_factory.mktemp("dask-logs")
    address = f"tcp://127.0.0.1:{free_port()}"
    port = address.rsplit(":", 1)[1]
    processes: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    files = contextlib.ExitStack()
    try:
        processes.append(
            subprocess.Popen(
                [
                    BIN / "dask",
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    port,
                    "--no-dashboard",
                ],
                stdout=subprocess.DEVNULL,
                stderr=files.enter_context((logs / "scheduler.log").open("wb")),
                env=env,
            )
        )
        for number in range(2):
            processes.append(
                subprocess.Popen(
                    [
                        BIN / "dask",
                        "worker",
                        address,
                        "--host",
                        "127.0.0.1",
                        "--nthreads",
                        "1",
                        "--nworkers",
                        "1",
                        "--no-dashboard",
                        "--name",
                        f"w{number}",
                        "--local-directory",
                        str(logs / f"w{number}"),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=files.enter_context((logs / f"worker{number}.log").open("wb")),
                    env=env,
                )
            )
        deadline = time.monotonic() + 120
        while True:
            try:
                with distributed.Client(address, timeout=5) as client:
                    client.wait_for_workers(2, timeout=max(1, deadline - time.monotonic()))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield address
    finally:
        for process in reversed(processes):
            stop(process)
        files.close()


def make_inputs(folder: Path) -> Path:
    folder.mkdir()
    for name in FILES:
        shutil.copyfile(str(get_testdata_file(name)), folder / name)
    (folder / "readme.txt").write_text("not DICOM\n")
    return folder


def cli(*args: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BIN / "idiscore", "deidentify", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def report(path: Path, output: Path) -> list[tuple[Any, ...]]:
    rows = []
    for record in map(json.loads, path.read_text().splitlines()):
        out = record["output"] and str(Path(record["output"]).relative_to(output))
        rows.append((record["status"], record["reason"], Path(record["input"]).name, out))
    return rows


def run(inputs: Path, work: Path, key: Path, *options: Any) -> subprocess.CompletedProcess[str]:
    """``idiscore deidentify`` of ``inputs`` into ``work``/out, reporting to ``work``/r.jsonl."""
    return cli(
        inputs, "-o", work / "out", "--report", work / "r.jsonl", "--key-file", key, *options
    )


def rows(work: Path) -> list[tuple[Any, ...]]:
    """The report of a :func:`run` into ``work``."""
    return report(work / "r.jsonl", work / "out")


def exit_code(work: Path) -> int:
    """1 when some of pydicom's files were refused (burned-in captures without the ocr
    extra), else 0."""
    return 1 if any(row[0] in ("rejected", "failed") for row in rows(work)) else 0


def assert_same_run(work: Path, reference: Path) -> None:
    """The same output bytes and the same report as the reference run."""
    assert digests(work / "out") == digests(reference / "out")
    assert rows(work) == rows(reference)


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    tmp = tmp_path_factory.mktemp("cli-local")
    inputs = make_inputs(tmp / "in")
    key = tmp / "key.txt"
    key.write_text("the cluster test key\n")
    done = run(inputs, tmp, key, "--workers", "2", "-q")
    assert done.returncode == exit_code(tmp), done.stderr
    return tmp, inputs, key


def test_cli_on_a_running_scheduler_matches_the_local_engine(
    scheduler: str, local: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    reference, inputs, key = local
    mapping = tmp_path / "map.csv"
    dask = ("--engine", "dask", "--scheduler", scheduler)
    # the key stays on the workers; same bytes
    done = run(inputs, tmp_path, key, *dask, "--mapping", mapping, "--worker-key-file", key)
    assert done.returncode == exit_code(reference), done.stderr
    assert f"engine: dask on {scheduler}" in done.stdout
    with distributed.Client(scheduler) as client:  # the files went through the scheduler
        prefixes = client.run_on_scheduler(
            lambda dask_scheduler: list(dask_scheduler.task_prefixes)
        )
    assert "run_chunk" in prefixes
    assert_same_run(tmp_path, reference)
    done_files = [row for row in rows(reference) if row[0] == "done"]
    assert len(digests(tmp_path / "out")) == len(done_files) >= 3
    assert len(mapping.read_text().splitlines()) > len(done_files)  # gathered from the workers

    again = run(inputs, tmp_path, key, *dask, "--resume", "-q")
    assert again.returncode == 0, again.stderr  # finished inputs are not tried again
    statuses = [row[0] for row in rows(tmp_path)]
    assert statuses.count("done") == len(done_files)  # none done twice
    assert len(statuses) == len(rows(reference))


def test_cli_starts_a_local_cluster_of_workers(
    local: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    reference, inputs, key = local
    done = run(inputs, tmp_path, key, "--engine", "dask", "--workers", "2")
    assert done.returncode == 1, done.stderr
    assert "a local cluster of 2 worker processes" in done.stdout
    assert_same_run(tmp_path, reference)


def test_scheduler_without_the_dask_engine_is_a_usage_error(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path / "in")
    done = cli(inputs, "-o", tmp_path / "out", "--scheduler", "tcp://127.0.0.1:1")
    assert done.returncode == 2
    assert "--engine dask" in done.stderr
    assert not (tmp_path / "out").exists()
