"""A run killed with SIGKILL and restarted with --resume gives the same output tree as an
uninterrupted run (byte-identical files, same key), with no temporary file left; Ctrl-C
(SIGINT) stops cleanly with a report whose every line is complete."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

FILES = 200
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


def script() -> str:
    return str(Path(sys.executable).parent / "idiscore")


def tree_hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def small_dataset(index: int) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = CT_IMAGE_STORAGE
    ds.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.{1000 + index}"
    ds.StudyInstanceUID = f"1.2.826.0.1.3680043.8.498.{index % 5 + 1}"
    ds.SeriesInstanceUID = f"1.2.826.0.1.3680043.8.498.{index % 10 + 100}"
    ds.PatientName = f"Patient^Number{index % 5}"
    ds.PatientID = f"PID{index % 5:04d}"
    ds.PatientBirthDate = "19700101"
    ds.StudyDate = "20240102"
    ds.Modality = "CT"
    ds.SeriesDescription = "CT CHEST"
    ds.Rows = ds.Columns = 8
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.SamplesPerPixel = 1
    ds.PixelRepresentation = 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = bytes(range(64))
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


@pytest.fixture(scope="module")
def many_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("many") / "in"
    for index in range(FILES):
        path = root / f"patient{index % 5}" / f"image{index:04d}.dcm"
        path.parent.mkdir(parents=True, exist_ok=True)
        small_dataset(index).save_as(path, enforce_file_format=True)
    return root


def deidentify(inputs: Path, out: Path, report: Path, *extra: str) -> list[str]:
    return [
        script(),
        "deidentify",
        str(inputs),
        "-o",
        str(out),
        "--report",
        str(report),
        "--workers",
        "1",
        *extra,
    ]


def start_and_signal(command: list[str], report: Path, sig: int) -> tuple[int, str]:
    """Start ``command``, send ``sig`` once its report has some lines; (exit code, stderr)."""
    with subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as process:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if report.exists() and report.read_bytes().count(b"\n") >= 10:
                break
            time.sleep(0.005)
        process.send_signal(sig)
        _, stderr = process.communicate(timeout=60)
    return process.returncode, stderr


def count_lines(report: Path) -> int:
    return report.read_bytes().count(b"\n")


def test_resume_after_sigkill_equals_uninterrupted_run(tmp_path: Path, many_files: Path) -> None:
    reference = tmp_path / "reference"
    done = subprocess.run(
        deidentify(many_files, reference, tmp_path / "reference.jsonl"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    expected = tree_hashes(reference)
    assert len(expected) == FILES

    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    code, _ = start_and_signal(deidentify(many_files, out, report), report, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert 10 <= count_lines(report) < FILES, "the run was not killed midway"

    resumed = subprocess.run(
        deidentify(many_files, out, report, "--resume"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert tree_hashes(out) == expected
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    records = [json.loads(line) for line in report.read_text().splitlines()]
    assert {r["input"] for r in records if r["status"] == "done"} == {
        str(p) for p in many_files.rglob("*.dcm")
    }


def test_sigint_stops_cleanly_with_a_valid_report(tmp_path: Path, many_files: Path) -> None:
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    code, stderr = start_and_signal(deidentify(many_files, out, report), report, signal.SIGINT)
    assert code == 130, stderr
    assert "interrupted" in stderr
    text = report.read_text()
    assert text.endswith("\n")
    records = [json.loads(line) for line in text.splitlines()]
    # on a busy machine the signal may come while the last group is synced: then every
    # file is done, and every line is still written
    assert 10 <= len(records) <= FILES
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    written = {str(p) for p in out.rglob("*") if p.is_file()}
    assert written == {r["output"] for r in records if r["status"] == "done"}
