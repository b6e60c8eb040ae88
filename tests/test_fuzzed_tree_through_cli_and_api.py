"""A hostile tree -- 2,000 mutated DICOM files, FIFOs, a socket, odd names, symbolic links
(a cycle too) -- through the command line (2 workers) and the API (``deidentify_file``,
``explain``): nothing hangs, nothing prints a traceback, every error is idiscore's, no
message quotes a planted value, every entry is reported exactly once, and no input changes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import pytest
from fuzz import MARKER, Tree, build_tree

from idiscore.batch.report import report_path
from idiscore.cli.commands import _explanation
from idiscore.defaults import create_default_core
from idiscore.errors import IDISCoreError

#: no single file may take longer than this (seconds), in the batch or through the API
PER_FILE = 10


class _Hung(Exception):
    pass


@contextmanager
def _bounded(seconds: int) -> Iterator[None]:
    """Raise :class:`_Hung` in the test if the block takes longer than ``seconds``."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise _Hung

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Tree:
    return build_tree(tmp_path_factory.mktemp("fuzz"), files=2000, seed=15)


def test_the_tree_is_hostile_enough(tree: Tree) -> None:
    assert len(tree.hashes) >= 2000 and len(tree.special) >= 3
    assert any(os.fsencode(key).decode("utf-8", "ignore") != key for key in tree.entries)


def test_the_command_line_reports_every_entry_once_and_quotes_no_value(
    tree: Tree, tmp_path: Path
) -> None:
    script = Path(sys.executable).parent / "idiscore"
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    command = [script, "deidentify", tree.root, "-o", out, "--report", report, "--workers", "2"]
    started = time.monotonic()
    done = subprocess.run(
        [str(part) for part in command], capture_output=True, timeout=240, env=dict(os.environ)
    )
    elapsed = time.monotonic() - started
    stdout, stderr = done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
    assert done.returncode == 1, stderr  # some fuzzed files fail, none stops the batch
    assert "Traceback" not in stdout + stderr
    assert stderr.strip() == "", "no warning (no key warning either: the test key is set)"
    report_bytes = report.read_bytes()
    for text in (stdout, stderr, report_bytes.decode("utf-8")):
        assert MARKER not in text
    records = [json.loads(line) for line in report_bytes.splitlines()]
    inputs = [report_path(record) for record in records]
    assert len(inputs) == len(set(inputs)), "every entry once"
    assert set(inputs) == tree.entries
    assert max(record["seconds"] for record in records) < PER_FILE
    statuses = {record["status"] for record in records}
    assert statuses == {"done", "rejected", "skipped", "failed"}
    by_input = {report_path(record): record for record in records}
    for special in tree.special:
        assert by_input[special]["status"] == "skipped"
        assert "not a regular file" in by_input[special]["reason"]
    assert tree.hash_inputs() == tree.hashes, "inputs unchanged"
    assert elapsed < 120


def test_the_api_raises_only_idiscore_errors_that_quote_no_value(
    tree: Tree, tmp_path: Path
) -> None:
    core = create_default_core()
    foreign: list[str] = []
    quoting: list[str] = []
    outcomes = {"ok": 0, "error": 0}
    destination = tmp_path / "x.dcm"
    paths = [*tree.entries]
    started = time.monotonic()
    for path in sorted(paths):
        for api in ("deidentify_file", "explain"):
            with warnings.catch_warnings(record=True), _bounded(PER_FILE):
                warnings.simplefilter("always")
                try:
                    if api == "deidentify_file":
                        core.deidentify_file(path, destination)
                    else:
                        lines, _dataset, _output = _explanation(Path(path), core, False)
                        quoting += [path for line in lines if MARKER in line][:1]
                    outcomes["ok"] += 1
                except IDISCoreError as exc:
                    outcomes["error"] += 1
                    if MARKER in str(exc) or MARKER in repr(exc.args):
                        quoting.append(f"{api} {path}: {exc}")
                except _Hung:
                    foreign.append(f"{api} {path}: took longer than {PER_FILE} s")
                except Exception as exc:
                    foreign.append(f"{api} {path}: {type(exc).__name__}")
    assert foreign == []
    assert quoting == []
    assert outcomes["ok"] > 1000 and outcomes["error"] > 1000
    assert tree.hash_inputs() == tree.hashes, "inputs unchanged"
    assert time.monotonic() - started < 120
