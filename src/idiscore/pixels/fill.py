"""The value a blanked pixel gets: the image's black, one value per sample.

==================  =========================================================================
Photometric         Fill
==================  =========================================================================
MONOCHROME2         the stored value displayed darkest: Smallest Image Pixel Value when it is
                    present and representable (the darkest value the image already uses, so
                    that header statistics stay true), else the smallest value Bits Stored and
                    Pixel Representation allow (0, or -2^(BitsStored-1) for signed data).
MONOCHROME1         the same with the largest value (Largest Image Pixel Value / maximum).
                    For either, a negative Rescale Slope or Presentation LUT Shape INVERSE
                    swaps smallest and largest, since they invert what is displayed dark.
RGB                 (0, 0, 0)
YBR_FULL(_422)      Y = 0, Cb = Cr = 2^(BitsStored-1) (128 for 8 bits): full-range black
YBR_PARTIAL_4xx     Y = 16 * 2^(BitsStored-8), Cb = Cr = 2^(BitsStored-1): video-range black
PALETTE COLOR       the index whose palette colour has the lowest luminance
                    (0.299 R + 0.587 G + 0.114 B), the lowest such index on ties
==================  =========================================================================

YBR_ICT / YBR_RCT only occur in JPEG 2000 data, which is decoded to RGB before blanking.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_color_lut

from idiscore.pixels.layout import PixelLayout, fail


def _number(dataset: Dataset, keyword: str) -> float | None:
    value: Any = dataset.get(keyword, None)
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _monochrome_fill(dataset: Dataset, layout: PixelLayout) -> int:
    low, high = layout.value_range
    darkest_is_low = layout.photometric == "MONOCHROME2"
    slope = _number(dataset, "RescaleSlope")
    if slope is not None and slope < 0:
        darkest_is_low = not darkest_is_low
    shape = str(dataset.get("PresentationLUTShape", "") or "").strip().upper()
    if shape == "INVERSE":
        darkest_is_low = not darkest_is_low
    keyword = "SmallestImagePixelValue" if darkest_is_low else "LargestImagePixelValue"
    known = _number(dataset, keyword)
    if known is not None and known == int(known) and low <= known <= high:
        return int(known)
    return low if darkest_is_low else high


def _palette_fill(dataset: Dataset, layout: PixelLayout) -> int:
    descriptor: Any = dataset.get("RedPaletteColorLookupTableDescriptor", None)
    if descriptor is None or len(descriptor) != 3:
        raise fail("PALETTE COLOR without a usable Red Palette Color Lookup Table Descriptor")
    entries = int(descriptor[0]) or 65536
    first = int(descriptor[1])
    low, high = 0, (1 << layout.bits_stored) - 1
    start, stop = max(low, first), min(high, first + entries - 1)
    if start > stop:
        start, stop = low, min(high, entries - 1)
    candidates = np.arange(start, stop + 1, dtype=np.uint16 if high > 255 else np.uint8)
    try:
        colours = apply_color_lut(candidates, dataset).astype(np.float64)
    except Exception as error:
        raise fail(f"the palette colour lookup tables cannot be read ({error})") from error
    luminance = colours @ np.array([0.299, 0.587, 0.114])
    return int(candidates[int(np.argmin(luminance))])


def fill_values(
    dataset: Dataset, layout: PixelLayout, photometric: str | None = None
) -> tuple[int, ...]:
    """One fill value per sample for pixels laid out as ``layout``.

    ``photometric`` overrides the layout's interpretation (decoded data may be RGB even
    where the header says YBR_ICT, for instance).
    """
    interpretation = photometric or layout.photometric
    if interpretation in ("MONOCHROME1", "MONOCHROME2"):
        return (_monochrome_fill(dataset, layout),)
    if interpretation == "PALETTE COLOR":
        return (_palette_fill(dataset, layout),)
    middle = 1 << (layout.bits_stored - 1)
    if interpretation == "RGB":
        return (0, 0, 0)
    if interpretation in ("YBR_FULL", "YBR_FULL_422"):
        return (0, middle, middle)
    if interpretation in ("YBR_PARTIAL_422", "YBR_PARTIAL_420"):
        return (16 << max(0, layout.bits_stored - 8), middle, middle)
    raise fail(f"no fill value is defined for {interpretation!r} pixel data")
