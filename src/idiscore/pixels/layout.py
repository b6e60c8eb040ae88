"""The Image Pixel description of a dataset, read once and validated.

:class:`PixelLayout` gathers Rows, Columns, Samples per Pixel, Bits Allocated/Stored,
High Bit, Pixel Representation, Planar Configuration, Number of Frames and Photometric
Interpretation, and refuses (with :class:`~idiscore.errors.PixelDataProcessingError`) what
the pixel step cannot clean correctly: missing or inconsistent values, 1-bit data,
float pixel data, a High Bit that is not Bits Stored - 1, unknown photometric
interpretations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from idiscore.errors import PixelDataProcessingError

PIXEL_DATA = BaseTag(0x7FE00010)
FLOAT_PIXEL_DATA = BaseTag(0x7FE00008)
DOUBLE_FLOAT_PIXEL_DATA = BaseTag(0x7FE00009)

MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
COLOUR: tuple[str, ...] = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_PARTIAL_422")
COLOUR += ("YBR_PARTIAL_420", "YBR_ICT", "YBR_RCT")
SUPPORTED_PHOTOMETRIC = (*MONOCHROME, "PALETTE COLOR", *COLOUR)


def fail(message: str) -> PixelDataProcessingError:
    return PixelDataProcessingError(message, tag=PIXEL_DATA)


def _int(dataset: Dataset, keyword: str, default: int | None = None) -> int:
    value: Any = dataset.get(keyword, None)
    if value is None or value == "":
        if default is None:
            raise fail(f"{keyword} is missing, the pixel data cannot be interpreted")
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise fail(f"{keyword} has an unusable value") from None


@dataclass(frozen=True)
class PixelLayout:
    rows: int
    columns: int
    samples: int
    bits_allocated: int
    bits_stored: int
    signed: bool
    planar: int
    frames: int
    photometric: str

    @property
    def itemsize(self) -> int:
        return self.bits_allocated // 8

    @property
    def subsampled(self) -> bool:
        """Native YBR_FULL_422: two horizontally adjacent pixels share Cb and Cr."""
        return self.photometric == "YBR_FULL_422"

    @property
    def value_range(self) -> tuple[int, int]:
        """The smallest and largest stored value Bits Stored and the sign allow."""
        if self.signed:
            return -(1 << (self.bits_stored - 1)), (1 << (self.bits_stored - 1)) - 1
        return 0, (1 << self.bits_stored) - 1

    def native_frame_items(self) -> int:
        """Number of stored items in one uncompressed frame."""
        if self.subsampled:
            return self.rows * self.columns * 2
        return self.rows * self.columns * self.samples

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> PixelLayout:
        """Read and validate; ``dataset`` must be one the caller may convert elements of."""
        if PIXEL_DATA not in dataset:
            if FLOAT_PIXEL_DATA in dataset or DOUBLE_FLOAT_PIXEL_DATA in dataset:
                raise fail("float pixel data cannot be cleaned")
            raise fail("the dataset has no Pixel Data")
        rows = _int(dataset, "Rows")
        columns = _int(dataset, "Columns")
        samples = _int(dataset, "SamplesPerPixel")
        bits_allocated = _int(dataset, "BitsAllocated")
        bits_stored = _int(dataset, "BitsStored", bits_allocated)
        high_bit = _int(dataset, "HighBit", bits_stored - 1)
        signed = _int(dataset, "PixelRepresentation", 0)
        planar = _int(dataset, "PlanarConfiguration", 0) if samples > 1 else 0
        frames = _int(dataset, "NumberOfFrames", 1)
        photometric = str(dataset.get("PhotometricInterpretation", "") or "").strip().upper()

        if rows <= 0 or columns <= 0:
            raise fail(f"image size {rows}x{columns} is not usable")
        if frames <= 0:
            raise fail(f"Number of Frames {frames} is not usable")
        if bits_allocated not in (8, 16, 32):
            raise fail(f"Bits Allocated {bits_allocated} is not supported (8, 16 or 32)")
        if not 1 <= bits_stored <= bits_allocated:
            raise fail(f"Bits Stored {bits_stored} does not fit Bits Allocated {bits_allocated}")
        if high_bit != bits_stored - 1:
            raise fail(f"High Bit {high_bit} is not Bits Stored - 1 ({bits_stored - 1})")
        if signed not in (0, 1):
            raise fail(f"Pixel Representation {signed} is not 0 or 1")
        if planar not in (0, 1):
            raise fail(f"Planar Configuration {planar} is not 0 or 1")
        if photometric not in SUPPORTED_PHOTOMETRIC:
            raise fail(f"Photometric Interpretation {photometric!r} is not supported")
        expected_samples = 3 if photometric in COLOUR else 1
        if samples != expected_samples:
            raise fail(f"{samples} samples per pixel do not fit {photometric}")
        if photometric == "YBR_FULL_422" and columns % 2:
            raise fail("YBR_FULL_422 needs an even number of columns")
        return cls(
            rows=rows,
            columns=columns,
            samples=samples,
            bits_allocated=bits_allocated,
            bits_stored=bits_stored,
            signed=bool(signed),
            planar=planar,
            frames=frames,
            photometric=photometric,
        )
