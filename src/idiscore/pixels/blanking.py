"""Overwrite rectangles with a fill value: in a native pixel buffer, or in decoded frames.

Native (uncompressed) pixel data is edited in place in a copy of its bytes, so that every
byte outside the rectangles stays byte-identical. The buffer is viewed as a NumPy array in
the stored layout:

* Planar Configuration 0: ``(frames, rows, columns, samples)``
* Planar Configuration 1: ``(frames, samples, rows, columns)``
* YBR_FULL_422: ``(frames, rows, columns / 2, 4)`` holding ``Y1 Y2 Cb Cr`` per pixel pair;
  because a pair shares its chroma, a rectangle is widened to whole pairs (at most one
  column on each side).

Fill values are written as whole containers (Bits Allocated); for signed data with
Bits Stored < Bits Allocated they are sign-extended, as the standard recommends.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from idiscore.pixels.layout import PixelLayout, fail

Region = tuple[int, int, int, int]  # row_start, row_stop, column_start, column_stop


def _dtype(layout: PixelLayout, little_endian: bool) -> np.dtype[np.integer]:
    kind = "i" if layout.signed else "u"
    order = "<" if little_endian else ">"
    return np.dtype(f"{order}{kind}{layout.itemsize}")


def blank_native(
    value: bytes | bytearray,
    layout: PixelLayout,
    regions: Sequence[Region],
    fill: Sequence[int],
    *,
    little_endian: bool = True,
    swapped_words: bool = False,
) -> bytes:
    """Return a copy of native pixel bytes ``value`` with ``regions`` set to ``fill``.

    ``swapped_words`` handles 8-bit data stored as OW in big endian files, where each
    pair of bytes is swapped relative to the pixel order.
    """
    items_per_frame = layout.native_frame_items()
    count = items_per_frame * layout.frames
    needed = count * layout.itemsize
    if len(value) < needed:
        raise fail(
            f"native pixel data is truncated: {len(value)} bytes for {layout.frames} frame(s) "
            f"that need {needed}"
        )
    buffer = bytearray(value)
    if swapped_words:
        if len(buffer) % 2:
            raise fail("OW pixel data of odd length")
        _swap_words(buffer)
    array = np.frombuffer(buffer, dtype=_dtype(layout, little_endian), count=count)
    if layout.subsampled:
        view = array.reshape(layout.frames, layout.rows, layout.columns // 2, 4)
        luma, blue, red = fill
        for top, bottom, left, right in regions:
            pair_left, pair_right = left // 2, (right + 1) // 2
            view[:, top:bottom, pair_left:pair_right, 0:2] = luma
            view[:, top:bottom, pair_left:pair_right, 2] = blue
            view[:, top:bottom, pair_left:pair_right, 3] = red
    elif layout.planar == 1:
        view = array.reshape(layout.frames, layout.samples, layout.rows, layout.columns)
        for top, bottom, left, right in regions:
            for sample, fill_value in enumerate(fill):
                view[:, sample, top:bottom, left:right] = fill_value
    else:
        view = array.reshape(layout.frames, layout.rows, layout.columns, layout.samples)
        for top, bottom, left, right in regions:
            view[:, top:bottom, left:right, :] = np.asarray(fill, dtype=view.dtype)
    if swapped_words:
        _swap_words(buffer)
    return bytes(buffer)


def _swap_words(buffer: bytearray) -> None:
    pairs = np.frombuffer(buffer, dtype=np.uint8).reshape(-1, 2)
    pairs[:] = pairs[:, ::-1].copy()


def blank_frame(frame: np.ndarray, regions: Sequence[Region], fill: Sequence[int]) -> None:
    """Set ``regions`` of one decoded frame, shaped (rows, columns[, samples]), in place."""
    if frame.ndim == 2:
        for top, bottom, left, right in regions:
            frame[top:bottom, left:right] = fill[0]
    else:
        value = np.asarray(fill, dtype=frame.dtype)
        for top, bottom, left, right in regions:
            frame[top:bottom, left:right, :] = value
