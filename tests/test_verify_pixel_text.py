"""``idiscore verify`` reads the outputs' pixels by OCR: a name or date burned into an image
that de-identification left alone is a ``pixel_text`` leak; the default core's blanked output
has none. Skipped without a text engine (``idiscore[ocr]``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from click.testing import CliRunner
from pixel_files import US_IMAGE, US_MULTIFRAME, make_dataset
from text_images import background, text_mask

from idiscore.batch import BatchOptions, run_batch
from idiscore.cli import main
from idiscore.core import Core
from idiscore.defaults import create_default_core
from idiscore.pseudonyms import Pseudonymizer
from idiscore.verify import VerifyOptions, run_verify
from idiscore.verify.audit import PairResult
from idiscore.verify.midib import AnswerCheck, score_outputs
from idiscore.verify.pixel_text import ocr_engine, text_in_box

pytestmark = pytest.mark.skipif(
    ocr_engine(None) is None, reason="needs a text engine: pip install 'idiscore[ocr]'"
)

SIZE = 256
NAME_LINE = (8, 10, "DOE^JOHN")
DATE_LINE = (8, 34, "12.04.1961")
#: where the name is drawn (left, top, right, bottom), for MIDI-B pixels_hidden
NAME_BOX = (4, 6, 110, 32)
PHI_WORDS = ("DOE", "JOHN", "1961", "12.04")


def _picture(lines: list[tuple[int, int, str]], colour: bool, seed: int = 0) -> np.ndarray:
    mask = text_mask(lines, rows=SIZE, columns=SIZE)
    picture = background(SIZE, SIZE, seed=seed)
    if colour:
        rgb = np.stack([picture * 255, picture * 200, picture * 120], axis=-1)
        rgb[mask] = (250, 250, 230)
        return rgb.round().astype(np.int64)
    return np.where(mask, 240.0, picture * 255).round().astype(np.int64)


def image(kind: str, burned_in: str) -> pydicom.Dataset:
    """A 256x256 image showing the patient's name and birth date: grey, RGB, or two frames
    with the name on the second only."""
    if kind == "frames":
        frames = [_picture([DATE_LINE], False), _picture([NAME_LINE, DATE_LINE], False)]
        pixels = np.stack(frames)
    else:
        pixels = _picture([NAME_LINE, DATE_LINE], kind == "rgb")[None]
    ds = make_dataset(
        pixels,
        photometric="RGB" if kind == "rgb" else "MONOCHROME2",
        bits_allocated=8,
        bits_stored=8,
        sop_class=US_MULTIFRAME if kind == "frames" else US_IMAGE,
        modality="US",
        number=7,
        BurnedInAnnotation=burned_in,
    )
    ds.PatientName = "Doe^John"
    ds.PatientID = "PAT-7731"
    ds.PatientBirthDate = "19610412"
    return ds


def no_text_detection() -> Core:
    """The default profile without text detection: trusts Burned In Annotation NO."""
    return create_default_core(
        text_detection=None, pseudonymizer=Pseudonymizer(b"verify-pixel-tests")
    )


def run(tmp_path: Path, core: Core, ds: pydicom.Dataset) -> tuple[Path, Path]:
    source, target = tmp_path / "in", tmp_path / "out"
    source.mkdir(parents=True)
    ds.save_as(source / "image.dcm", enforce_file_format=True)
    summary = run_batch(core, [source], BatchOptions(output=target))
    assert summary.counts["done"] == 1, summary
    return source, target


def verified(source: Path, target: Path, ocr: bool | None = None) -> PairResult:
    options = VerifyOptions(dciodvfy=False, ocr=ocr)
    summary = run_verify(source, target, options, keep_results=True)
    assert summary.results is not None and len(summary.results) == 1
    return summary.results[0]


def pixel_leaks(result: PairResult) -> list[dict[str, str]]:
    return [leak for leak in result.leaks if leak["class"] == "pixel_text"]


@pytest.mark.parametrize("kind", ["grey", "rgb", "frames"])
def test_text_left_in_the_pixels_is_a_leak(tmp_path: Path, kind: str) -> None:
    source, target = run(tmp_path, no_text_detection(), image(kind, "NO"))
    result = verified(source, target)
    leaks = pixel_leaks(result)
    assert result.status == "leak"
    assert len({leak["digest"] for leak in leaks}) == 2, leaks  # the name and the date
    assert all(leak["encoding"] == "ocr" for leak in leaks)
    assert all(leak["where"].startswith("pixels frame ") for leak in leaks)
    frames = {leak["where"].split(" (")[0] for leak in leaks}
    if kind == "frames":  # the date on every frame, the name on the second only
        assert frames == {"pixels frame all", "pixels frame 2"}, leaks
    else:
        assert frames == {"pixels frame 1"}, leaks
    report = result.to_json().upper()
    assert not any(word in report for word in PHI_WORDS)


def test_the_leak_is_where_the_name_is(tmp_path: Path) -> None:
    source, target = run(tmp_path, no_text_detection(), image("grey", "NO"))
    boxes = []
    for leak in pixel_leaks(verified(source, target)):
        x, y, width, height = (int(n) for n in leak["where"].split("(")[1][:-1].split(","))
        boxes.append((x, y, width, height))
    assert any(
        x < 20 and 2 <= y <= 16 and width > 40 and height < 40 for x, y, width, height in boxes
    )
    assert any(x < 20 and 26 <= y <= 40 for x, y, _, _ in boxes)


@pytest.mark.parametrize("kind", ["grey", "rgb", "frames"])
def test_the_default_core_blanks_the_text_and_verify_finds_none(tmp_path: Path, kind: str) -> None:
    core = create_default_core(pseudonymizer=Pseudonymizer(b"verify-pixel-tests"))
    source, target = run(tmp_path, core, image(kind, "YES"))
    result = verified(source, target)
    assert pixel_leaks(result) == []
    assert result.status in ("clean", "kept"), result.to_json()


def test_no_ocr_leaves_the_pixels_unread(tmp_path: Path) -> None:
    source, target = run(tmp_path, no_text_detection(), image("grey", "NO"))
    result = verified(source, target, ocr=False)
    assert pixel_leaks(result) == []
    assert result.status in ("clean", "kept"), result.to_json()


def test_text_that_is_not_the_patients_is_no_leak(tmp_path: Path) -> None:
    ds = image("grey", "NO")
    ds.PatientName = "Roe^Richard"
    ds.PatientBirthDate = "19700101"
    source, target = run(tmp_path, no_text_detection(), ds)
    assert pixel_leaks(verified(source, target)) == []


def test_cli_ocr_flags(tmp_path: Path) -> None:
    source, target = run(tmp_path, no_text_detection(), image("grey", "NO"))
    runner = CliRunner()
    report = tmp_path / "verify.jsonl"
    args = ["verify", str(source), str(target), "--no-dciodvfy", "--workers", "1", "-q"]
    found = runner.invoke(main, [*args, "--report", str(report)])
    assert found.exit_code == 1, found.output
    line = json.loads(report.read_text().splitlines()[0])
    assert "pixel_text" in {leak["class"] for leak in line["leaks"]}
    assert not any(word in report.read_text().upper() for word in PHI_WORDS)
    unread = runner.invoke(main, [*args, "--no-ocr"])
    assert unread.exit_code == 0, unread.output


def test_midi_b_pixels_hidden_by_ocr(tmp_path: Path) -> None:
    weak = run(tmp_path / "weak", no_text_detection(), image("grey", "NO"))[1]
    core = create_default_core(pseudonymizer=Pseudonymizer(b"verify-pixel-tests"))
    strong = run(tmp_path / "strong", core, image("grey", "YES"))[1]
    engine = ocr_engine(True)
    assert engine is not None
    assert text_in_box(pydicom.dcmread(weak / "image.dcm"), NAME_BOX, engine)
    assert not text_in_box(pydicom.dcmread(strong / "image.dcm"), NAME_BOX, engine)
    # a box away from the text reads nothing, even where the text was left
    assert not text_in_box(pydicom.dcmread(weak / "image.dcm"), (150, 150, 250, 250), engine)


def test_midi_b_scores_pixels_hidden_by_ocr_when_asked(tmp_path: Path) -> None:
    """A box over picture but no text, left as it was: the pixel rule fails it (not blanked,
    unchanged), OCR passes it (no token there); the box over the name fails either way."""
    source, weak = run(tmp_path, no_text_detection(), image("grey", "NO"))
    original = pydicom.dcmread(source / "image.dcm").SOPInstanceUID
    uids = {original: pydicom.dcmread(weak / "image.dcm").SOPInstanceUID}

    def hidden(box: tuple[int, int, int, int]) -> AnswerCheck:
        spec = {"top_left": list(box[:2]), "bottom_right": list(box[2:])}
        return AnswerCheck(original, "pixels_hidden", ((0x7FE00010, None),), "", json.dumps(spec))

    checks = [hidden((150, 150, 250, 250)), hidden(NAME_BOX)]
    originals = {original: source / "image.dcm"}
    by_pixels = score_outputs(checks, weak, uids, {}, originals)
    by_ocr = score_outputs(checks, weak, uids, {}, originals, ocr=ocr_engine(True))
    assert by_pixels.by_action["pixels_hidden"] == [0, 2]
    assert by_ocr.by_action["pixels_hidden"] == [1, 2]


@pytest.mark.skipif(ocr_engine(None, "tesseract") is None, reason="needs tesseract")
def test_tesseract_reads_the_leak_too(tmp_path: Path) -> None:
    source, target = run(tmp_path, no_text_detection(), image("grey", "NO"))
    options = VerifyOptions(dciodvfy=False, ocr=True, ocr_engine="tesseract")
    summary = run_verify(source, target, options, keep_results=True)
    assert summary.results is not None
    assert pixel_leaks(summary.results[0])


def test_no_ocr_asked_means_no_engine() -> None:
    assert ocr_engine(False) is None
    assert ocr_engine(None) == ocr_engine(True) == "rapidocr"
