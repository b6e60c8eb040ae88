"""pydicom warns about invalid values quoting them: the batch counts those warnings in the
report (``warnings``) and ``explain`` says how many there were; neither shows one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fuzz import MARKER, _fit, _generated
from pydicom.uid import ExplicitVRLittleEndian


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    script = str(Path(sys.executable).parent / "idiscore")
    return subprocess.run([script, *map(str, args)], capture_output=True, text=True, timeout=60)


@pytest.fixture
def invalid(tmp_path: Path) -> Path:
    import io
    import random

    ds = _generated(random.Random(3), 3)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.PixelSpacing = ["1.234567", "1"]
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue().replace(b"1.234567", MARKER.encode() + b"1", 1)
    data = data.replace(b"1.2.826.0.1.3680043.8.498.7\x00", _fit(f"1.2.{MARKER}.", 28), 1)
    # the Media Storage SOP Class UID in the file meta, decoded to spot DICOMDIR files
    data = data.replace(b"1.2.840.10008.5.1.4.1.1.2\x00", _fit(f"1.2.{MARKER}.", 26), 1)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "invalid.dcm").write_bytes(data)
    return folder / "invalid.dcm"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_batch_counts_warnings_in_the_report(
    invalid: Path, tmp_path: Path, workers: str
) -> None:
    report = tmp_path / "r.jsonl"
    done = run(
        "deidentify",
        invalid.parent,
        "-o",
        tmp_path / "out",
        "--report",
        report,
        "--workers",
        workers,
    )
    assert MARKER not in done.stdout + done.stderr
    assert "Warning" not in done.stderr and "warn" not in done.stderr.lower()
    (record,) = [json.loads(line) for line in report.read_text().splitlines()]
    assert record["warnings"] >= 1 and MARKER not in json.dumps(record)


def test_explain_counts_warnings_and_shows_none(invalid: Path) -> None:
    done = run("explain", invalid)
    assert done.returncode == 0, done.stderr
    assert MARKER not in done.stdout + done.stderr and done.stderr == ""
    assert "warning(s) from pydicom not shown" in done.stdout
