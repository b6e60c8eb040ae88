"""An overlay kept in the unused high bits of the pixel words (retired, PS3.5 8.1.2) is
cleared when its description is removed: the annotation is no longer in any pixel, the
image's stored bits are the same, in every native encoding, streamed or in memory; verify
accepts the clearing; an overlay the profile keeps stays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from idiscore.cli.explain import explain_dataset
from idiscore.core import Core, Profile
from idiscore.defaults import create_default_core, get_dicom_rule_sets
from idiscore.identifiers import RepeatingGroup
from idiscore.operators import Keep
from idiscore.pixels.overlays import clear_bits, embedded_overlay_bits
from idiscore.rules import Rule, RuleSet
from idiscore.verify.audit import PairTask, PairVerifier

from factories import assert_unchanged, snapshot, sop_dataset

ROWS = COLUMNS = 48
SYNTAXES = {
    "explicit little": ExplicitVRLittleEndian,
    "implicit little": ImplicitVRLittleEndian,
    "explicit big": ExplicitVRBigEndian,
}


def _annotation() -> np.ndarray:
    """A bit plane with a mark where a burned-in name would be."""
    plane = np.zeros((ROWS, COLUMNS), dtype=bool)
    plane[4:12, 4:40] = True
    return plane


def _image(bit: int, allocated: int = 16, stored: int = 12) -> np.ndarray:
    rng = np.random.default_rng(7)
    dtype = np.uint16 if allocated == 16 else np.uint8
    image = rng.integers(0, 1 << stored, (ROWS, COLUMNS)).astype(dtype)
    return image | (_annotation().astype(dtype) << bit)


def _dataset(syntax: str, bit: int = 15, allocated: int = 16, stored: int = 12) -> pydicom.Dataset:
    ds = sop_dataset(
        Rows=ROWS,
        Columns=COLUMNS,
        BitsAllocated=allocated,
        BitsStored=stored,
        HighBit=stored - 1,
        PixelRepresentation=0,
        SamplesPerPixel=1,
        PhotometricInterpretation="MONOCHROME2",
    )
    ds.file_meta.TransferSyntaxUID = syntax
    pixels = _image(bit, allocated, stored)
    big = syntax == ExplicitVRBigEndian
    ds.PixelData = pixels.astype(pixels.dtype.newbyteorder(">" if big else "<")).tobytes()
    ds["PixelData"].VR = "OW" if allocated == 16 else "OB"
    ds.add_new(0x60000010, "US", ROWS)
    ds.add_new(0x60000011, "US", COLUMNS)
    ds.add_new(0x60000040, "CS", "G")
    ds.add_new(0x60000050, "SS", [1, 1])
    ds.add_new(0x60000100, "US", allocated)  # retired usage: the pixel words' size ...
    ds.add_new(0x60000102, "US", bit)  # ... and the bit that holds the overlay
    return ds


def _write(ds: pydicom.Dataset, path: Path) -> Path:
    ds.save_as(path, enforce_file_format=True)
    return path


def _words(ds: pydicom.Dataset) -> np.ndarray:
    big = ds.file_meta.TransferSyntaxUID == ExplicitVRBigEndian
    dtype = np.dtype(np.uint16 if ds.BitsAllocated == 16 else np.uint8)
    return np.frombuffer(ds.PixelData, dtype=dtype.newbyteorder(">" if big else "<"))


@pytest.mark.parametrize("encoding", list(SYNTAXES))
def test_an_embedded_overlay_is_cleared_with_its_description(
    encoding: str, tmp_path: Path
) -> None:
    source = _write(_dataset(SYNTAXES[encoding]), tmp_path / "in.dcm")
    original = pydicom.dcmread(source)
    before = snapshot(original)
    words_in = _words(pydicom.dcmread(source))
    assert (words_in >> 15).any(), "the input holds the annotation"
    core = create_default_core()
    core.deidentify_file(source, tmp_path / "file.dcm", defer_size=256)  # streamed
    core.deidentify(original).save_as(tmp_path / "memory.dcm")
    assert_unchanged(original, before, "the caller's dataset")
    for name in ("file.dcm", "memory.dcm"):
        out = pydicom.dcmread(tmp_path / name)
        assert 0x60000102 not in out
        words = _words(out)
        assert not (words >> 12).any(), f"{name}: a bit above the stored bits is set"
        assert np.array_equal(words & 0x0FFF, words_in & 0x0FFF), f"{name}: the image changed"
    assert (tmp_path / "file.dcm").read_bytes() == (tmp_path / "memory.dcm").read_bytes()
    verdict = PairVerifier(dciodvfy=False)(PairTask(str(source), str(tmp_path / "file.dcm")))
    assert not verdict.problems, verdict.to_json()


def test_an_overlay_the_profile_keeps_stays(tmp_path: Path) -> None:
    source = _write(_dataset(ExplicitVRLittleEndian), tmp_path / "in.dcm")
    sets = get_dicom_rule_sets()
    keep = RuleSet(rules=[Rule(RepeatingGroup("60xx,xxxx"), Keep())], name="keep overlays")
    core = Core(Profile(rule_sets=[sets.basic_profile, keep]))
    core.deidentify_file(source, tmp_path / "out.dcm")
    out = pydicom.dcmread(tmp_path / "out.dcm")
    assert out[0x60000102].value == 15
    assert out.PixelData == pydicom.dcmread(source).PixelData


@pytest.mark.parametrize(
    ("bit", "allocated", "stored", "found"),
    [
        (15, 16, 12, True),
        (12, 16, 12, True),
        (11, 16, 12, False),  # inside the image's bits: no embedded overlay
        (0, 16, 12, False),
        (7, 8, 7, True),
    ],
)
def test_which_overlays_are_embedded(bit: int, allocated: int, stored: int, found: bool) -> None:
    ds = _dataset(ExplicitVRLittleEndian, bit, allocated, stored)
    assert embedded_overlay_bits(ds) == ({0x6000: bit} if found else {})
    ds.add_new(0x60003000, "OW", b"\x00" * 288)  # its own data: not in the pixels
    assert embedded_overlay_bits(ds) == {}


def test_pixels_without_an_overlay_bit_set_are_left_as_they_were(tmp_path: Path) -> None:
    ds = _dataset(ExplicitVRLittleEndian)
    ds.PixelData = (_words(ds) & 0x0FFF).astype("<u2").tobytes()
    source = _write(ds, tmp_path / "in.dcm")
    output = create_default_core().deidentify(pydicom.dcmread(source))
    assert output.PixelData == ds.PixelData


def test_clear_bits_clears_only_those_bits() -> None:
    words = np.array([0xFFFF, 0x8001, 0x7FFF], dtype="<u2").tobytes() + b"\x01"
    cleared = clear_bits(words, 16, True, [15, 14])
    assert np.frombuffer(cleared[:6], "<u2").tolist() == [0x3FFF, 0x0001, 0x3FFF]
    assert cleared[6:] == b"\x01"
    big = np.array([0xFFFF], dtype=">u2").tobytes()
    assert clear_bits(big, 16, False, [15]) == b"\x7f\xff"


def test_explain_says_the_overlay_bits_are_cleared(tmp_path: Path) -> None:
    ds = pydicom.dcmread(_write(_dataset(ExplicitVRLittleEndian), tmp_path / "in.dcm"))
    core = create_default_core()
    rows = explain_dataset(ds, core.profile, deidentified=core.deidentify(ds))
    pixels = next(row for row in rows if row.tag == 0x7FE00010)
    assert pixels.outcome == "cleaned" and "overlays embedded" in pixels.rule
