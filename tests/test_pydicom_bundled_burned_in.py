"""pydicom's bundled secondary captures, ultrasounds and other images the burned-in policy
flags: with text detection, the default core de-identifies them instead of refusing them.

A file is refused only with a typed reason that is not the burned-in annotation policy:
:data:`UNDECODABLE` lists the files whose pixel data no installed decoder reads (so the text
cannot be looked for), and why. Where text was found, a second pass finds none in the output.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from idiscore.bouncers import RejectBurnedInAnnotation
from idiscore.core import PIXEL_FINDINGS, Core
from idiscore.defaults import create_default_core
from idiscore.errors import PixelDataProcessingError
from idiscore.pixels.codestream import blank_text
from idiscore.pixels.ocr import TextFindings
from idiscore.pixels.text import engine_available

from factories import roundtrip

pytestmark = pytest.mark.skipif(
    not engine_available("rapidocr"),
    reason="text detection needs the ocr extra: pip install 'idiscore[ocr]'",
)

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"

#: Files whose pixels cannot be decoded by any installed plugin, and why.
UNDECODABLE = {
    "JPEG-lossy.dcm": "12-bit JPEG Extended with a scan header libjpeg refuses",
    "JPEG2000-embedded-sequence-delimiter.dcm": "the JPEG 2000 codestream header is damaged",
}

#: Real burned-in text: files where the detector must find some.
WITH_TEXT = {
    "examples_jpeg2k.dcm",
    "examples_palette.dcm",
    "examples_rgb_color.dcm",
    "examples_ybr_color.dcm",
    "GDCMJ2K_TextGBR.dcm",
}


def _flagged() -> list[str]:
    policy = RejectBurnedInAnnotation()
    names = []
    for path in sorted(TEST_FILES.rglob("*.dcm")):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:
            continue
        if "SOPClassUID" in ds and policy.flags(ds):
            names.append(path.relative_to(TEST_FILES).as_posix())
    return names


FLAGGED = _flagged()


@cache
def _core() -> Core:
    return create_default_core()


def _read(name: str) -> Dataset:
    return pydicom.dcmread(TEST_FILES / name)


def test_the_policy_flags_the_bundled_captures_and_ultrasounds() -> None:
    assert len(FLAGGED) >= 30
    assert set(FLAGGED) >= WITH_TEXT
    assert set(UNDECODABLE) <= set(FLAGGED)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", FLAGGED)
def test_flagged_file_is_done_not_refused(name: str) -> None:
    ds = _read(name)
    if name in UNDECODABLE:
        with pytest.raises(PixelDataProcessingError) as info:
            _core().deidentify(ds)
        assert "decoded" in str(info.value)
        return
    result = _core().deidentify(ds)
    findings = result.__dict__.get(PIXEL_FINDINGS)
    assert isinstance(findings, TextFindings)
    out = roundtrip(result)
    assert out.BurnedInAnnotation == "NO"
    assert "113101" in [item.CodeValue for item in out.DeidentificationMethodCodeSequence]
    if name in WITH_TEXT:
        assert findings.boxes, "the file shows text"
    if not findings.boxes:
        # as they were, but for the comments of compressed frames (an encoder's name)
        syntax = str(ds.file_meta.TransferSyntaxUID)
        expected = blank_text(ds.PixelData, syntax) or ds.PixelData
        assert out.PixelData == expected, "pixels without text are left as they were"
