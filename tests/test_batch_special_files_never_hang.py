"""FIFOs, sockets and devices are classified with ``stat`` before anything opens them:
skipped with a reason by the batch (1 or 2 workers, ``--dry-run``), refused with an
InputError by ``explain``, ``Core.deidentify_file``, ``fileio.read`` and ``sniff``. A FIFO
opened for reading would wait for a writer forever; every run here is bounded in time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path
from types import FrameType

import pytest
from pydicom.data import get_testdata_file

from idiscore.batch import sniff
from idiscore.core import Core
from idiscore.defaults import create_default_core
from idiscore.errors import InputError
from idiscore.fileio import read
from idiscore.filekinds import check_regular, kind_of, open_regular


def script() -> str:
    return str(Path(sys.executable).parent / "idiscore")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copyfile(str(get_testdata_file("CT_small.dcm")), folder / "ct.dcm")
    os.mkfifo(folder / "pipe.dcm")
    server = socket.socket(socket.AF_UNIX)
    server.bind(os.fspath(folder / "sock.dcm"))
    server.close()
    (folder / "link-to-pipe.dcm").symlink_to(folder / "pipe.dcm")
    if os.geteuid() == 0:  # only root may create device nodes
        os.mknod(folder / "null.dcm", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    return folder


def special(tree: Path) -> list[Path]:
    return [path for path in sorted(tree.iterdir()) if path.name != "ct.dcm"]


@pytest.mark.parametrize(
    "extra", [["--workers", "1"], ["--workers", "2"], ["--dry-run"]], ids=["1", "2", "dry"]
)
def test_the_batch_skips_every_special_file_with_a_reason(
    tree: Path, tmp_path: Path, extra: list[str]
) -> None:
    report = tmp_path / "report.jsonl"
    command = [script(), "deidentify", str(tree), "-o", str(tmp_path / "out"), "-v"]
    if "--dry-run" not in extra:
        command += ["--report", str(report)]
    done = subprocess.run(command + extra, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    for path in special(tree):
        line = next(line for line in done.stdout.splitlines() if path.name in line)
        assert line.startswith("skipped:") and "not a regular file" in line, line
    if "--dry-run" not in extra:
        records = {
            Path(r["input"]).name: r for r in map(json.loads, report.read_text().splitlines())
        }
        assert records["ct.dcm"]["status"] == "done"
        for path in special(tree):
            assert records[path.name]["status"] == "skipped"
        assert "FIFO" in records["pipe.dcm"]["reason"]
        assert "socket" in records["sock.dcm"]["reason"]


def test_explain_refuses_a_fifo(tree: Path) -> None:
    done = subprocess.run(
        [script(), "explain", str(tree / "pipe.dcm")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "not a regular file: a FIFO" in done.stderr and "Traceback" not in done.stderr


def _hung(signum: int, frame: FrameType | None) -> None:
    raise TimeoutError("opened a special file and waited")


def test_the_api_refuses_special_files_before_opening_them(tree: Path, tmp_path: Path) -> None:
    core = create_default_core()
    previous = signal.signal(signal.SIGALRM, _hung)
    signal.alarm(30)  # a FIFO opened for reading would block this test forever
    try:
        _refuses(core, tree, tmp_path)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _refuses(core: Core, tree: Path, tmp_path: Path) -> None:
    for path in special(tree):
        with pytest.raises(InputError, match="not a regular file"):
            core.deidentify_file(path, tmp_path / "x.dcm")
        with pytest.raises(InputError, match="not a regular file"):
            read(path)
        with pytest.raises(InputError, match="not a regular file"):
            sniff(path)
        with pytest.raises(InputError, match="not a regular file"):
            open_regular(path)
    assert not (tmp_path / "x.dcm").exists()
    assert check_regular(tree / "ct.dcm").st_size > 0
    assert kind_of(os.stat(tree).st_mode) == "a folder"
