"""Reference table of pixel data test files for the pixel processing tests.

Two kinds of source, both offline and deterministic:

* files bundled in the pydicom wheel (``get_testdata_file(name, download=False)``);
* small generated files covering what pydicom does not ship (signed data with
  Bits Stored < Bits Allocated, MONOCHROME1, planar configuration 1, inverted presentation,
  a multi-frame ultrasound with Burned In Annotation YES).

Each :class:`PixelCase` states what cleaning must produce: the output transfer syntax and
the fill value as seen in the default decoding (``pydicom.pixels.pixel_array`` with
``raw=False``, i.e. colour as RGB).
"""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixels.encoders.base import get_encoder
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
)

US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
US_IMAGE = "1.2.840.10008.5.1.4.1.1.6.1"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
CR_IMAGE = "1.2.840.10008.5.1.4.1.1.1"
_UID_ROOT = "2.25.31415926535897932384626433"


@dataclass(frozen=True)
class PixelCase:
    id: str
    data: Callable[[], bytes]  # the file's bytes
    output_syntax: UID
    fill: tuple[int, ...]  # in the default decoding (colour as RGB)
    subsampled_native: bool = False  # native YBR_FULL_422: rectangles widen to pixel pairs

    def load(self) -> Dataset:
        return pydicom.dcmread(io.BytesIO(self.data()))


def bundled(name: str) -> Callable[[], bytes]:
    def read() -> bytes:
        path = get_testdata_file(name, download=False)
        assert path is not None, f"{name} is not bundled with pydicom"
        return Path(path).read_bytes()

    read.__name__ = name
    return read


def _ramp(shape: tuple[int, ...], low: int, high: int, seed: int) -> np.ndarray:
    """Deterministic pseudo-random values in [low, high]."""
    rng = np.random.default_rng(seed)
    return rng.integers(low, high, size=shape, endpoint=True)


def make_dataset(
    pixels: np.ndarray,
    *,
    photometric: str,
    bits_allocated: int,
    bits_stored: int,
    signed: bool = False,
    planar: int = 0,
    syntax: UID = ExplicitVRLittleEndian,
    sop_class: str = SECONDARY_CAPTURE,
    modality: str = "OT",
    number: int = 1,
    **attributes: object,
) -> Dataset:
    """A small valid-looking image dataset; ``pixels`` is (frames, rows, columns[, samples])."""
    frames, rows, columns = pixels.shape[:3]
    samples = pixels.shape[3] if pixels.ndim == 4 else 1
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UID(sop_class)
    ds.file_meta.MediaStorageSOPInstanceUID = UID(f"{_UID_ROOT}.{number}")
    ds.file_meta.TransferSyntaxUID = syntax
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = f"{_UID_ROOT}.{number}"
    ds.StudyInstanceUID = f"{_UID_ROOT}.1000"
    ds.SeriesInstanceUID = f"{_UID_ROOT}.2000"
    ds.PatientName = "Test^Pixels"
    ds.PatientID = "PIX-1"
    ds.Modality = modality
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = photometric
    ds.Rows = rows
    ds.Columns = columns
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = int(signed)
    if samples > 1:
        ds.PlanarConfiguration = planar
    if frames > 1:
        ds.NumberOfFrames = frames
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    kind = "i" if signed else "u"
    container = pixels.astype(f"<{kind}{bits_allocated // 8}")
    if syntax.is_encapsulated:
        options = {
            "rows": rows,
            "columns": columns,
            "samples_per_pixel": samples,
            "bits_allocated": bits_allocated,
            "bits_stored": bits_stored,
            "pixel_representation": int(signed),
            "photometric_interpretation": photometric,
            "number_of_frames": 1,
            "planar_configuration": 0,
        }
        encoder = get_encoder(syntax)
        encoded = [encoder.encode(frame, **options) for frame in container]
        ds.PixelData = encapsulate(encoded)
        ds["PixelData"].VR = "OB"
        ds["PixelData"].is_undefined_length = True
    else:
        if planar == 1:
            container = np.ascontiguousarray(container.transpose(0, 3, 1, 2))
        raw = container.tobytes()
        ds.PixelData = raw + (b"\x00" if len(raw) % 2 else b"")
        ds["PixelData"].VR = "OB" if bits_allocated == 8 else "OW"
    return ds


def to_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def generated(factory: Callable[[], Dataset]) -> Callable[[], bytes]:
    @cache
    def build() -> bytes:
        return to_bytes(factory())

    build.__name__ = factory.__name__
    return build


def signed_12bit_two_frames(syntax: UID = ExplicitVRLittleEndian) -> Dataset:
    pixels = _ramp((2, 24, 20), -2048, 2047, seed=1)
    return make_dataset(
        pixels,
        photometric="MONOCHROME2",
        bits_allocated=16,
        bits_stored=12,
        signed=True,
        syntax=syntax,
        sop_class=CT_IMAGE,
        modality="CT",
        number=2,
    )


def monochrome1_implicit() -> Dataset:
    pixels = _ramp((1, 20, 16), 0, 4095, seed=2)
    return make_dataset(
        pixels,
        photometric="MONOCHROME1",
        bits_allocated=16,
        bits_stored=12,
        syntax=ImplicitVRLittleEndian,
        sop_class=CR_IMAGE,
        modality="CR",
        number=3,
    )


def inverse_presentation() -> Dataset:
    pixels = _ramp((1, 16, 16), 0, 255, seed=3)
    return make_dataset(
        pixels,
        photometric="MONOCHROME2",
        bits_allocated=8,
        bits_stored=8,
        sop_class=CR_IMAGE,
        modality="CR",
        number=4,
        PresentationLUTShape="INVERSE",
    )


def rgb_planar_two_frames() -> Dataset:
    pixels = _ramp((2, 12, 18, 3), 0, 255, seed=4)
    return make_dataset(
        pixels, photometric="RGB", bits_allocated=8, bits_stored=8, planar=1, number=5
    )


def ultrasound_burned_in(syntax: UID = ExplicitVRLittleEndian) -> Dataset:
    """A 4-frame RGB ultrasound cine whose header admits burned-in text."""
    pixels = _ramp((4, 48, 64, 3), 0, 255, seed=6)
    pixels[:, :8, :, :] = 255  # a bright "banner" across the top, where the text would be
    return make_dataset(
        pixels,
        photometric="RGB",
        bits_allocated=8,
        bits_stored=8,
        syntax=syntax,
        sop_class=US_MULTIFRAME,
        modality="US",
        number=7,
        BurnedInAnnotation="YES",
        Manufacturer="ACME Ultrasound",
        ManufacturerModelName="Sono 3000",
    )


CASES: list[PixelCase] = [
    # native: edited in place, same transfer syntax
    PixelCase("CT_small", bundled("CT_small.dcm"), ExplicitVRLittleEndian, (-32768,)),
    PixelCase("MR_small", bundled("MR_small.dcm"), ExplicitVRLittleEndian, (0,)),
    PixelCase("MR_implicit", bundled("MR_small_implicit.dcm"), ImplicitVRLittleEndian, (0,)),
    PixelCase("MR_bigendian", bundled("MR_small_bigendian.dcm"), ExplicitVRBigEndian, (0,)),
    PixelCase("RGB_planar1_BE", bundled("ExplVR_BigEnd.dcm"), ExplicitVRBigEndian, (0, 0, 0)),
    PixelCase("deflated", bundled("image_dfl.dcm"), DeflatedExplicitVRLittleEndian, (0,)),
    PixelCase("rtdose_32bit_15f", bundled("rtdose.dcm"), ImplicitVRLittleEndian, (0,)),
    PixelCase(
        "YBR_FULL_422_native",
        bundled("SC_ybr_full_422_uncompressed.dcm"),
        ExplicitVRLittleEndian,
        (0, 0, 0),
        subsampled_native=True,
    ),
    PixelCase("palette", bundled("examples_palette.dcm"), ExplicitVRLittleEndian, (0,)),
    PixelCase("rgb_odd_size", bundled("SC_rgb_small_odd.dcm"), ExplicitVRLittleEndian, (0, 0, 0)),
    PixelCase("signed12", generated(signed_12bit_two_frames), ExplicitVRLittleEndian, (-2048,)),
    PixelCase("mono1", generated(monochrome1_implicit), ImplicitVRLittleEndian, (4095,)),
    PixelCase("inverse", generated(inverse_presentation), ExplicitVRLittleEndian, (255,)),
    PixelCase("rgb_planar1", generated(rgb_planar_two_frames), ExplicitVRLittleEndian, (0, 0, 0)),
    # lossless encapsulated: decoded, blanked, re-encoded in the same syntax
    PixelCase("MR_RLE", bundled("MR_small_RLE.dcm"), RLELossless, (0,)),
    PixelCase("RGB16_RLE_2f", bundled("SC_rgb_rle_16bit_2frame.dcm"), RLELossless, (0, 0, 0)),
    PixelCase("MR_J2K_lossless", bundled("MR_small_jp2klossless.dcm"), JPEG2000Lossless, (0,)),
    PixelCase("MR_JLS_lossless", bundled("MR_small_jpeg_ls_lossless.dcm"), JPEGLSLossless, (0,)),
    PixelCase("J2K_YBR_RCT", bundled("GDCMJ2K_TextGBR.dcm"), JPEG2000Lossless, (0, 0, 0)),
    PixelCase(
        "signed12_RLE",
        generated(lambda: signed_12bit_two_frames(RLELossless)),
        RLELossless,
        (-2048,),
    ),
    PixelCase(
        "signed12_JLS",
        generated(lambda: signed_12bit_two_frames(JPEGLSLossless)),
        JPEGLSLossless,
        (-2048,),
    ),
    # no encoder for the data (32 bits) -> Explicit VR Little Endian
    PixelCase(
        "RGB32_RLE_2f", bundled("SC_rgb_rle_32bit_2frame.dcm"), ExplicitVRLittleEndian, (0, 0, 0)
    ),
    PixelCase("rtdose_RLE_15f", bundled("rtdose_rle.dcm"), ExplicitVRLittleEndian, (0,)),
    # lossy or not encodable -> JPEG-LS Lossless (or the next candidate)
    PixelCase("CT_J2K_lossy", bundled("693_J2KI.dcm"), JPEGLSLossless, (-8192,)),
    PixelCase("NM_J2K", bundled("JPEG2000.dcm"), JPEGLSLossless, (0,)),
    PixelCase("JLS_near_16", bundled("JPEGLSNearLossless_16.dcm"), JPEGLSLossless, (0,)),
    PixelCase("JLS_near_rgb", bundled("SC_rgb_jls_lossy_line.dcm"), JPEGLSLossless, (0, 0, 0)),
    PixelCase("JPEG_extended_12", bundled("JPGExtended.dcm"), JPEGLSLossless, (0,)),
    PixelCase("JPEG_422", bundled("SC_rgb_dcmtk_+eb+cy+np.dcm"), JPEGLSLossless, (0, 0, 0)),
    PixelCase("JPEG_lossless_SV1", bundled("SC_rgb_jpeg_gdcm.dcm"), JPEGLSLossless, (0, 0, 0)),
    # a 3x3 image the JPEG-LS and JPEG 2000 encoders refuse -> RLE Lossless
    PixelCase("JPEG_3x3", bundled("SC_rgb_small_odd_jpeg.dcm"), RLELossless, (0, 0, 0)),
    PixelCase("US_JPEG_30f", bundled("examples_ybr_color.dcm"), JPEGLSLossless, (0, 0, 0)),
]


def dciodvfy_errors(path: Path) -> set[str] | None:
    """The 'Error' lines dciodvfy reports for ``path``; None when dciodvfy is not installed."""
    executable = shutil.which("dciodvfy")
    if executable is None:
        return None
    result = subprocess.run(
        [executable, str(path)], capture_output=True, text=True, errors="replace", timeout=60
    )
    lines = (result.stdout + result.stderr).splitlines()
    return {line.strip() for line in lines if line.startswith("Error")}


def snapshot(ds: Dataset) -> list[tuple[object, ...]]:
    """Everything a caller could observe of a dataset, read without converting anything."""
    items: list[tuple[object, ...]] = []
    for tag in ds.keys():  # noqa: SIM118 - iterating a Dataset converts raw elements
        element = ds.get_item(tag, keep_deferred=True)
        kind = type(element).__name__
        value = element.value
        if isinstance(value, pydicom.sequence.Sequence):
            value = tuple(tuple(snapshot(item)) for item in value)
        items.append((tag, kind, element.VR, value, id(element)))
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        items.append(("file_meta", tuple(snapshot(meta))))
    items.append(("encoding", ds.original_encoding, ds.original_character_set))
    return items
