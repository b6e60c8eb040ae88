"""Burned-in text through the batch (worker processes) and the command line: the report and
the preview say where text was blanked, never what it said; --no-ocr keeps the rejection."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
import text_images as images
from PIL import Image
from pixel_files import signed_12bit_two_frames

from idiscore.batch import BatchOptions, run_batch
from idiscore.defaults import create_default_core
from idiscore.pixels.text import engine_available

pytestmark = pytest.mark.skipif(
    not engine_available("rapidocr"),
    reason="text detection needs the ocr extra: pip install 'idiscore[ocr]'",
)

#: What the images say: none of it may appear in a report or on the console.
SAID = ("DOE", "JOHN", "1961", "20240517", "MHz", "TIS")


def _inputs(folder: Path) -> Path:
    source = folder / "in"
    (source / "us").mkdir(parents=True)
    (source / "ct").mkdir()
    images.named(images.rgb()).dataset.save_as(
        source / "us" / "still.dcm", enforce_file_format=True
    )
    images.cine().dataset.save_as(source / "us" / "loop.dcm", enforce_file_format=True)
    signed_12bit_two_frames().save_as(source / "ct" / "ct.dcm", enforce_file_format=True)
    return source


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "idiscore"
    return subprocess.run(
        [str(script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200", "IDISCORE_KEY": "0" * 64},
    )


def test_worker_processes_detect_text_and_the_report_has_boxes_not_text(tmp_path: Path) -> None:
    source = _inputs(tmp_path)
    core = create_default_core()
    report = tmp_path / "report.jsonl"
    options = BatchOptions(output=tmp_path / "out", report=report, workers=2)
    summary = run_batch(core, [source], options)
    assert summary.ok
    text = report.read_text()
    assert not any(word in text.upper() for word in (s.upper() for s in SAID))
    records = {Path(r["input"]).name: r for r in map(json.loads, text.splitlines())}
    assert {r["status"] for r in records.values()} == {"done"}
    assert "pixels" not in records["ct.dcm"], "the CT is not read: the policy does not flag it"
    for name, frames in (("still.dcm", 1), ("loop.dcm", 4)):
        pixels = records[name]["pixels"]
        assert pixels["frames"] == frames and pixels["boxes"] == len(pixels["areas"]) > 0
        assert set(pixels["areas"][0]) == {"x", "y", "width", "height", "frames"}
        out = pydicom.dcmread(records[name]["output"])
        assert out.BurnedInAnnotation == "NO"
    # the engine lives in the process that used it, never in the Core
    assert len(pickle.dumps(core)) < 200_000


def test_cli_ocr_options(tmp_path: Path) -> None:
    source = _inputs(tmp_path)
    report = tmp_path / "phi.jsonl"
    result = run(
        "deidentify", source, "-o", tmp_path / "phi", "--ocr-mode", "phi", "--report", report
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in report.read_text().splitlines()]
    assert {r["pixels"]["mode"] for r in records if "pixels" in r} == {"phi"}

    result = run("deidentify", source, "-o", tmp_path / "off", "--no-ocr", "-q")
    assert result.returncode == 1  # the ultrasounds are rejected again
    assert "rejected" in result.stdout

    if engine_available("tesseract"):
        report = tmp_path / "tesseract.jsonl"
        result = run(
            "deidentify", source / "us" / "still.dcm", "-o", tmp_path / "tess",
            "--ocr-engine", "tesseract", "--report", report,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert json.loads(report.read_text())["pixels"]["engine"] == "tesseract"

    result = run("deidentify", source, "-o", tmp_path / "bad", "--ocr-mode", "some")
    assert result.returncode == 2


def test_explain_preview_outlines_the_blanked_boxes(tmp_path: Path) -> None:
    source = _inputs(tmp_path)
    preview = tmp_path / "preview.png"
    result = run("explain", source / "us" / "loop.dcm", "--preview", preview)
    assert result.returncode == 0, result.stderr
    assert "burned-in text (rapidocr, mode all)" in result.stdout
    assert "x=" in result.stdout and "every frame" in result.stdout
    assert not any(word in result.stdout for word in SAID)
    picture = Image.open(preview)
    assert picture.size == (2 * images.COLUMNS + 8, images.ROWS)
    pixels = picture.convert("RGB").load()
    assert pixels is not None
    reds = sum(
        1
        for x in range(picture.size[0])
        for y in range(picture.size[1])
        if pixels[x, y] == (255, 0, 0)
    )
    assert reds > 100, "the boxes are outlined in red"

    result = run("explain", source / "ct" / "ct.dcm", "--preview", tmp_path / "ct.png")
    assert result.returncode == 0, result.stderr
    assert "0 blanked box(es)" in result.stdout
