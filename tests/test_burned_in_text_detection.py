"""Burned-in text, found and blanked by the default core, in every pixel encoding.

For each image with text drawn into it: the dataset is de-identified (not rejected), the text
pixels are covered by the blanked boxes, every pixel outside them is unchanged, a second OCR
pass over every frame of the output finds no text, and the output says Burned In Annotation
NO with code 113101 (Clean Pixel Data).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import text_images as images
from pydicom.dataset import Dataset
from pydicom.pixels.decoders.base import get_decoder
from pydicom.uid import ExplicitVRLittleEndian

from idiscore.core import PIXEL_FINDINGS, Core
from idiscore.defaults import create_default_core
from idiscore.errors import DatasetRejectedError
from idiscore.image_processing import PIILocation, SquareArea
from idiscore.pixels.layout import PixelLayout
from idiscore.pixels.ocr import (
    TextDetection,
    TextFindings,
    forget_text_results,
    is_text,
    viewable_frames,
)
from idiscore.pixels.processor import _decoding_syntax
from idiscore.pixels.text import TextBox, engine_available, get_detector

from factories import assert_unchanged, roundtrip, snapshot

pytestmark = pytest.mark.skipif(
    not engine_available("rapidocr"),
    reason="text detection needs the ocr extra: pip install 'idiscore[ocr]'",
)

CASES: dict[str, Callable[[], images.TextImage]] = {
    "mono2_8bit": lambda: images.monochrome(8),
    "mono2_16bit": lambda: images.monochrome(12),
    "mono1_8bit": lambda: images.monochrome(8, inverted=True),
    "mono1_16bit": lambda: images.monochrome(16, inverted=True),
    "rgb": images.rgb,
    "ybr_full_422": images.ybr_full_422,
    "palette": images.palette,
    "cine_4_frames": images.cine,
    "jpeg_baseline_colour": images.jpeg_baseline,
    "jpeg_baseline_grey": lambda: images.jpeg_baseline(colour=False),
    "rle": images.rle,
}


def _core(**detection: object) -> Core:
    text = TextDetection(**detection)  # type: ignore[arg-type]
    return create_default_core(text_detection=text)


def decoded(ds: Dataset) -> np.ndarray:
    """All frames as pydicom decodes them by default (colour as RGB), frames first."""
    syntax = _decoding_syntax(ds)
    array, _ = get_decoder(syntax).as_array(ds, raw=False)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    return array if frames > 1 else array[None]


def text_left(ds: Dataset, engine: str = "rapidocr") -> list[TextBox]:
    """A second, independent OCR pass: the text boxes any frame of ``ds`` still shows."""
    layout = PixelLayout.from_dataset(ds)
    frames = viewable_frames(ds, layout, _decoding_syntax(ds))
    detector = get_detector(engine)
    left = []
    for frame in frames:
        # read at the size the detection used, so the check is as sharp as the search
        big = np.repeat(np.repeat(frame, 3, axis=0), 3, axis=1)
        left += [
            TextBox(box.x // 3, box.y // 3, -(-box.width // 3), -(-box.height // 3), 1.0)
            for box in detector.detect(np.ascontiguousarray(big))
            if is_text(box, 0.5)
        ]
    return left


def covered(findings: TextFindings, rows: int, columns: int, pairs: bool) -> np.ndarray:
    """True on every pixel a blanked region covers (widened to pixel pairs for 4:2:2)."""
    mask = np.zeros((rows, columns), dtype=bool)
    for top, bottom, left, right in findings.regions:
        if pairs:
            left, right = left // 2 * 2, (right + 1) // 2 * 2
        mask[top:bottom, left:right] = True
    return mask


def deidentified(core: Core, ds: Dataset) -> tuple[Dataset, TextFindings]:
    result = core.deidentify(ds)
    findings = result.__dict__.get(PIXEL_FINDINGS)
    assert isinstance(findings, TextFindings)
    return roundtrip(result), findings


@pytest.mark.parametrize("case", CASES)
def test_text_is_found_blanked_and_gone(case: str) -> None:
    image = CASES[case]()
    ds = roundtrip(image.dataset)
    assert text_left(ds), "the test image shows text"
    before = snapshot(ds)  # after text_left, whose decoding reads the pixel module's elements

    out, findings = deidentified(_core(), ds)

    assert_unchanged(ds, before)
    assert out.BurnedInAnnotation == "NO"
    codes = [item.CodeValue for item in out.DeidentificationMethodCodeSequence]
    assert "113101" in codes
    assert findings.frames == int(ds.get("NumberOfFrames", 1) or 1)
    assert findings.boxes and findings.regions

    layout = PixelLayout.from_dataset(ds)
    pairs = (
        layout.photometric == "YBR_FULL_422" and not ds.file_meta.TransferSyntaxUID.is_compressed
    )
    blanked = covered(findings, layout.rows, layout.columns, pairs)
    text = image.mask if image.mask.ndim == 3 else image.mask[None]
    assert not (text & ~blanked).any(), "a text pixel outside every blanked box"

    old, new = decoded(ds), decoded(out)
    assert old.shape == new.shape
    assert np.array_equal(old[:, ~blanked], new[:, ~blanked]), "a pixel outside the boxes changed"
    assert not np.array_equal(old[:, blanked], new[:, blanked])

    assert text_left(out) == []


def test_phi_mode_blanks_identifying_text_and_keeps_machine_text() -> None:
    image = images.named(images.rgb())
    ds = roundtrip(image.dataset)
    out, findings = deidentified(_core(mode="phi"), ds)
    assert findings.mode == "phi"
    left = text_left(out)
    assert left, "the machine text stays"
    machine = images.text_mask([line for line in images.LINES if line[2] == images.MACHINE])
    for box in left:  # only the machine text is still there
        assert machine[box.y : box.y + box.height, box.x : box.x + box.width].any()
    person = images.text_mask([line for line in images.LINES if line[2] != images.MACHINE])
    layout = PixelLayout.from_dataset(ds)
    blanked = covered(findings, layout.rows, layout.columns, pairs=False)
    assert not (person & ~blanked).any()
    assert not (machine & blanked).all()


def test_location_rules_combine_with_the_detector() -> None:
    image = images.rgb()
    ds = roundtrip(image.dataset)
    corner = PIILocation([SquareArea(origin_x=200, origin_y=40, width=30, height=20)])
    core = create_default_core(location_list=[corner])
    out, findings = deidentified(core, ds)
    pixels = decoded(out)[0]
    assert np.all(pixels[40:60, 200:230] == 0), "the location's rectangle is blanked"
    assert text_left(out) == []
    assert findings.boxes


def test_no_text_leaves_the_pixel_data_byte_identical() -> None:
    ds = roundtrip(images.no_text())
    out, findings = deidentified(_core(), ds)
    assert findings.boxes == () and findings.regions == ()
    assert out.PixelData == ds.PixelData
    assert out.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert out.BurnedInAnnotation == "NO"


def test_no_text_in_a_file_leaves_the_pixel_bytes_identical(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    source, target = folder / "in.dcm", folder / "out.dcm"
    clean = images.no_text()
    clean.save_as(source, enforce_file_format=True)
    _core().deidentify_file(source, target)
    pixel_bytes = roundtrip(clean).PixelData
    assert pixel_bytes in target.read_bytes()


def test_images_the_policy_does_not_flag_are_not_read() -> None:
    image = images.monochrome(12)
    ds = image.dataset
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"  # CT
    ds.Modality = "CT"
    del ds.BurnedInAnnotation
    ds = roundtrip(ds)
    core = _core()
    assert core.pixel_processor is not None
    assert not core.pixel_processor.matches(ds)
    result = core.deidentify(ds)
    assert PIXEL_FINDINGS not in result.__dict__
    assert "BurnedInAnnotation" not in result
    assert roundtrip(result).PixelData == ds.PixelData


def test_without_text_detection_the_policy_still_rejects() -> None:
    ds = roundtrip(images.rgb().dataset)
    with pytest.raises(DatasetRejectedError) as info:
        create_default_core(text_detection=None).deidentify(ds)
    assert "--ocr" in info.value.reason


@pytest.mark.skipif(not engine_available("tesseract"), reason="needs pytesseract and tesseract")
def test_the_tesseract_engine_finds_and_blanks_the_text() -> None:
    image = images.monochrome(8)
    ds = roundtrip(image.dataset)
    out, findings = deidentified(_core(engine="tesseract"), ds)
    assert findings.engine == "tesseract" and findings.boxes
    layout = PixelLayout.from_dataset(ds)
    blanked = covered(findings, layout.rows, layout.columns, pairs=False)
    assert not (image.mask & ~blanked).any()
    assert text_left(out, "tesseract") == []
    assert text_left(out) == []


def test_the_same_pixels_are_not_read_twice() -> None:
    forget_text_results()
    ds = roundtrip(images.monochrome(8).dataset)
    core = _core()
    first = deidentified(core, ds)[1]
    again, findings = deidentified(core, roundtrip(images.monochrome(8).dataset))
    assert first.detector_runs >= 1 and findings.detector_runs == 0
    assert findings.boxes == first.boxes and findings.regions == first.regions
    assert text_left(again) == []
    forget_text_results()
    assert deidentified(core, ds)[1].detector_runs >= 1
