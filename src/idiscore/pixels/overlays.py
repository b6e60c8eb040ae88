"""Overlays kept in the unused bits of native pixel data: cleared with their description.

Before 2004 an overlay (graphics, annotations, text) could be stored in the high bits of
the Pixel Data words that the image does not use (PS3.5 8.1.2, retired): the overlay group
(60xx) then has Overlay Bits Allocated greater than 1, an Overlay Bit Position outside the
image's stored bits, and no Overlay Data. The profiles remove overlay groups, but removing
the description leaves the bit plane in every pixel: anyone reading the raw words sees the
annotation. So when the output no longer describes such an overlay, its bit is cleared in
every sample of the output's native Pixel Data (:func:`clear_embedded_overlays`); the stored
bits of the image are not touched. An overlay the output still describes (a profile that
keeps it) stays.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from idiscore.fileio import FileWindow
from idiscore.pixels._dataset import read_value

__all__ = [
    "clear_bits",
    "clear_embedded_overlays",
    "cleared_value",
    "described_groups",
    "embedded_overlay_bits",
]

_PIXEL_DATA = BaseTag(0x7FE00010)
_NATIVE = {
    "1.2.840.10008.1.2": True,  # Implicit VR Little Endian
    "1.2.840.10008.1.2.1": True,  # Explicit VR Little Endian
    "1.2.840.10008.1.2.1.99": True,  # Deflated Explicit VR Little Endian
    "1.2.840.10008.1.2.2": False,  # Explicit VR Big Endian
}
_WORDS = {8: "u1", 16: "u2", 32: "u4"}
#: Overlay Bit Position (60xx,0102) of each overlay group
_BIT_POSITION = {group: BaseTag((group << 16) | 0x0102) for group in range(0x6000, 0x6020, 2)}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def embedded_overlay_bits(dataset: Dataset) -> dict[int, int]:
    """The overlays ``dataset`` stores in unused bits of its Pixel Data: {overlay group:
    bit position}. Reads the header only; never changes ``dataset``."""
    elements = dataset._dict
    groups = [group for group in range(0x6000, 0x6020, 2) if _BIT_POSITION[group] in elements]
    if not groups:  # (every dataset is asked: the common answer comes first)
        return {}
    allocated = _int(read_value(dataset, 0x00280100))
    stored = _int(read_value(dataset, 0x00280101))
    high = _int(read_value(dataset, 0x00280102))
    if allocated not in _WORDS or stored is None or high is None:
        return {}
    image_bits = range(high - stored + 1, high + 1)
    found: dict[int, int] = {}
    for group in groups:
        if elements.get(BaseTag((group << 16) | 0x3000)) is not None:
            continue  # the overlay has its own data
        position = _int(read_value(dataset, (group << 16) | 0x0102))
        bits = _int(read_value(dataset, (group << 16) | 0x0100))
        if position is None or bits is None or bits <= 1:
            continue
        if 0 <= position < allocated and position not in image_bits:
            found[group] = position
    return found


def clear_bits(value: bytes, bits_allocated: int, little_endian: bool, bits: list[int]) -> bytes:
    """``value`` (native pixel words) with the bit positions ``bits`` cleared."""
    dtype = np.dtype(_WORDS[bits_allocated]).newbyteorder("<" if little_endian else ">")
    whole = len(value) - len(value) % dtype.itemsize
    words = np.frombuffer(value, dtype=dtype, count=whole // dtype.itemsize)
    mask = ((1 << bits_allocated) - 1) & ~sum(1 << bit for bit in set(bits))
    cleared: bytes = (words & np.array(mask, dtype=dtype)).astype(dtype).tobytes()
    return cleared + value[whole:]


def cleared_value(
    source: Dataset, value: bytes, syntax: str, described: Container[int] = ()
) -> bytes | None:
    """``value`` (the native Pixel Data words of ``source``, in ``syntax``) with the bits
    of the overlays ``source`` embeds there cleared, but those of the overlay groups in
    ``described`` (which the output still describes); None when nothing is cleared (no
    such overlay, a compressed syntax, no bit set)."""
    bits = [bit for group, bit in embedded_overlay_bits(source).items() if group not in described]
    allocated = _int(read_value(source, 0x00280100))
    if not bits or syntax not in _NATIVE or allocated not in _WORDS:
        return None
    cleared = clear_bits(value, allocated, _NATIVE[syntax], bits)
    return None if cleared == value else cleared


def described_groups(dataset: Dataset) -> set[int]:
    """The overlay groups whose bit position ``dataset`` holds."""
    return {group for group, tag in _BIT_POSITION.items() if tag in dataset._dict}


def clear_embedded_overlays(source: Dataset, output: Dataset) -> bool:
    """Clear, in ``output``'s native Pixel Data, the bits of the overlays ``source``
    embeds there and ``output`` no longer describes. A changed value is stored as a new
    element (a streamed value is read). Returns whether a bit was set and cleared."""
    if not embedded_overlay_bits(source):
        return False
    meta = getattr(output, "file_meta", None)
    syntax = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    element = output._dict.get(_PIXEL_DATA)
    if element is None or syntax not in _NATIVE:
        return False
    value = element.value
    if isinstance(value, FileWindow):
        value.seek(0)
        data = value.read()
        value.seek(0)  # (the writer copies a window from where it stands)
        value = data
    if not isinstance(value, bytes) or not value:
        return False
    cleared = cleared_value(source, value, syntax, described_groups(output))
    if cleared is None:
        return False
    allocated = _int(read_value(source, 0x00280100))
    vr = element.VR if element.VR in ("OB", "OW") else ("OB" if allocated == 8 else "OW")
    output._dict[_PIXEL_DATA] = DataElement(_PIXEL_DATA, vr, cleared)
    return True
