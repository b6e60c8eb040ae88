"""Every file bundled in the pydicom wheel: de-identified by the default core, or refused
with the typed idiscore error and reason listed for it in EXPECTED_REFUSALS -- an
unexpected refusal fails, and so does a listed file that is not refused.

De-identified outputs re-read with pydicom, the input is never changed, and the reference
IOD validator (dciodvfy, Debian's dicom3tools) reports no error on the output that it did
not report on the input.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from functools import cache
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from idiscore.batch.runner import read_dicom
from idiscore.core import Core
from idiscore.defaults import create_default_core
from idiscore.errors import DatasetRejectedError, IDISCoreError, InputError
from idiscore.pixels.text import engine_available

from factories import assert_unchanged, snapshot

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
FILES = sorted(
    p.relative_to(TEST_FILES).as_posix()
    for p in TEST_FILES.rglob("*")
    if p.is_file() and p.suffix not in {".txt", ".dump", ".json", ".icc", ".gz"}
    and p.name != "README"
)  # fmt: skip
DCIODVFY = shutil.which("dciodvfy")

#: Files whose dciodvfy report cannot be compared, and why.
NOT_COMPARABLE = {
    "image_dfl.dcm": "deflated transfer syntax: dciodvfy cannot inflate it and reads garbage",
}


_BURNED_IN = (DatasetRejectedError, "Burned In Annotation is absent")
_NO_SOP_CLASS = (DatasetRejectedError, "SOP Class UID (0008,0016) is missing or empty")
_TRUNCATED = (InputError, "truncated: ")

#: The files the default core refuses without text detection (the ``ocr`` extra):
#: file -> (exception type, text of its reason). With text detection the burned-in ones
#: are de-identified instead: tests/test_pydicom_bundled_burned_in.py checks them.
EXPECTED_REFUSALS: dict[str, tuple[type[IDISCoreError], str]] = {
    # Ultrasound and Secondary Capture often have text burned into their pixels
    **{
        name: _BURNED_IN
        for name in (
            "ExplVR_BigEnd.dcm", "GDCMJ2K_TextGBR.dcm", "JPEG-lossy.dcm",
            "JPEG2000-embedded-sequence-delimiter.dcm", "JPEG2000.dcm",
            "JPEGLSNearLossless_08.dcm", "JPEGLSNearLossless_16.dcm", "JPGExtended.dcm",
            "SC_jpeg_no_color_transform.dcm", "SC_jpeg_no_color_transform_2.dcm",
            "SC_rgb_dcmtk_+eb+cr.dcm", "SC_rgb_dcmtk_+eb+cy+n1.dcm",
            "SC_rgb_dcmtk_+eb+cy+n2.dcm", "SC_rgb_dcmtk_+eb+cy+np.dcm",
            "SC_rgb_dcmtk_+eb+cy+s2.dcm", "SC_rgb_dcmtk_+eb+cy+s4.dcm", "SC_rgb_gdcm_KY.dcm",
            "SC_rgb_jls_lossy_line.dcm", "SC_rgb_jls_lossy_sample.dcm", "SC_rgb_jpeg.dcm",
            "SC_rgb_jpeg_app14_dcmd.dcm", "SC_rgb_jpeg_dcmd.dcm", "SC_rgb_jpeg_dcmtk.dcm",
            "SC_rgb_jpeg_gdcm.dcm", "SC_rgb_jpeg_lossy_gdcm.dcm", "SC_rgb_rle.dcm",
            "SC_rgb_rle_16bit.dcm", "SC_rgb_rle_16bit_2frame.dcm", "SC_rgb_rle_2frame.dcm",
            "SC_rgb_rle_32bit.dcm", "SC_rgb_rle_32bit_2frame.dcm", "SC_rgb_small_odd.dcm",
            "SC_rgb_small_odd_big_endian.dcm", "SC_rgb_small_odd_jpeg.dcm",
            "SC_ybr_full_422_uncompressed.dcm", "examples_jpeg2k.dcm", "examples_palette.dcm",
            "examples_rgb_color.dcm", "examples_ybr_color.dcm", "image_dfl.dcm",
        )
    },
    # not a composite instance: no SOP Class UID (directories, bare test data sets)
    **{
        name: _NO_SOP_CLASS
        for name in (
            "UN_sequence.dcm", "dicomdirtests/DICOMDIR", "dicomdirtests/DICOMDIR-bigEnd",
            "dicomdirtests/DICOMDIR-empty.dcm", "dicomdirtests/DICOMDIR-implicit",
            "dicomdirtests/DICOMDIR-nooffset", "dicomdirtests/DICOMDIR-nopatient",
            "dicomdirtests/DICOMDIR-reordered", "dicomdirtests/TINY_ALPHA/DICOMDIR",
            "empty_charset_LEI.dcm", "meta_missing_tsyntax.dcm", "nested_priv_SQ.dcm",
            "no_meta_group_length.dcm", "priv_SQ.dcm",
        )
    },
    # cut short: the last element ends after the end of the file
    "MR_truncated.dcm": _TRUNCATED,
    "rtplan_truncated.dcm": _TRUNCATED,
    "no_meta.dcm": _TRUNCATED,
}  # fmt: skip


@cache
def _core() -> Core:
    return create_default_core()


def _read(path: Path) -> Dataset:
    try:
        return read_dicom(path)
    except InputError:
        return read_dicom(path, has_preamble=False)


def _errors(path: Path) -> Counter[str]:
    assert DCIODVFY is not None
    run = subprocess.run(
        [DCIODVFY, "-new", str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    lines = [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]
    # values (<...>) and item numbers ([n]) differ after de-identification by design
    return Counter(re.sub(r"= <[^>]*>|\[\d+\]", "", line) for line in lines)


def test_the_wheel_ships_test_files() -> None:
    assert len(FILES) > 60
    missing = sorted(set(EXPECTED_REFUSALS) - set(FILES))
    assert not missing, f"expected refusals of files pydicom no longer ships: {missing}"


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", FILES)
def test_bundled_file(name: str, tmp_path: Path) -> None:
    path = TEST_FILES / name
    expected = EXPECTED_REFUSALS.get(name)
    if expected is _BURNED_IN and engine_available("rapidocr"):
        pytest.skip("text detection is installed: test_pydicom_bundled_burned_in.py checks it")
    dataset: Dataset | None = None
    before: Dataset | None = None
    try:
        dataset = _read(path)
        before = snapshot(dataset)
        output = _core().deidentify(dataset)
    except IDISCoreError as exc:
        if dataset is not None and before is not None:
            assert_unchanged(dataset, before)
        if expected is None:
            raise AssertionError(f"unexpected refusal: {type(exc).__name__}: {exc}") from exc
        kind, reason = expected
        assert type(exc) is kind, f"refused with {type(exc).__name__}: {exc}"
        if isinstance(exc, DatasetRejectedError):
            assert exc.bouncer_name
            assert reason in exc.reason
        assert reason in str(exc)
        return
    assert expected is None, f"expected a refusal ({expected[0].__name__}: {expected[1]})"
    assert before is not None
    assert_unchanged(dataset, before)
    assert output.PatientIdentityRemoved == "YES"
    out_path = tmp_path / "out.dcm"
    output.save_as(out_path)
    again = pydicom.dcmread(out_path, force=True)
    assert again.PatientIdentityRemoved == "YES"
    if "PatientName" in dataset and dataset.PatientName:
        assert again.PatientName != dataset.PatientName

    if DCIODVFY is None:
        pytest.skip("dciodvfy (Debian package dicom3tools) is not installed")
    if name in NOT_COMPARABLE:
        pytest.skip(NOT_COMPARABLE[name])
    new = _errors(out_path) - _errors(path)
    assert not new, f"dciodvfy reports new errors: {sorted(new)}"
