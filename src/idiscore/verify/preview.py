"""Thumbnails for the HTML report: an input's pixels and its output's, with the blanked boxes.

A thumbnail is the first frame, scaled to at most :data:`SIZE` pixels a side (every n-th
pixel), its values stretched to 0-255, as a PNG ``data:`` URI (encoded here: no imaging
library needed). The boxes are the bounding boxes (in thumbnail pixels) of the connected
areas where the output's pixels differ from the input's. Pixel data that cannot be decoded
(a codec is missing) gives no thumbnail.

The input thumbnail shows the original image: text burned into it (a name, a date) is
visible in the report, which therefore stays with the data custodian.
"""

from __future__ import annotations

import base64
import struct
import warnings
import zlib
from collections import deque
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

__all__ = ["SIZE", "changed_boxes", "png_data_uri", "previews", "thumbnail"]

#: the longest side of a thumbnail
SIZE = 160
_MAX_BOXES = 32


def _frame(dataset: Dataset) -> np.ndarray[Any, Any] | None:
    if "PixelData" not in dataset:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pixels = np.asarray(dataset.pixel_array)
    except Exception:  # no codec, or not an image: no thumbnail
        return None
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    if frames > 1 and pixels.ndim >= 3:
        pixels = pixels[0]
    if pixels.ndim == 3:  # colour: the mean of the samples
        pixels = pixels.mean(axis=-1)
    return pixels if pixels.ndim == 2 and pixels.size else None


def _step(shape: tuple[int, ...]) -> int:
    return max(1, -(-max(shape) // SIZE))


def thumbnail(
    pixels: np.ndarray[Any, Any], window: tuple[float, float] | None = None
) -> np.ndarray[Any, Any]:
    """Every n-th pixel (at most :data:`SIZE` a side), ``window`` (default: its own
    range; values outside are clipped) stretched to ``uint8``."""
    small = pixels[:: _step(pixels.shape), :: _step(pixels.shape)].astype(np.float64)
    low, high = window if window is not None else (float(small.min()), float(small.max()))
    scaled = (small - low) * (255.0 / (high - low)) if high > low else small * 0
    return np.asarray(scaled.clip(0, 255).astype(np.uint8))


def png_data_uri(image: np.ndarray[Any, Any]) -> str:
    """A grey ``uint8`` image as a ``data:image/png;base64,`` URI."""
    height, width = image.shape
    rows = b"".join(b"\x00" + image[row].tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
    png += chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b"")
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def changed_boxes(mask: np.ndarray[Any, Any]) -> list[tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) of each connected area of ``mask`` (4-connectivity, end exclusive),
    largest first."""
    seen = np.zeros_like(mask)
    boxes: list[tuple[int, int, int, int]] = []
    height, width = mask.shape
    for y, x in zip(*np.nonzero(mask), strict=True):
        if seen[y, x]:
            continue
        seen[y, x] = True
        queue = deque([(int(y), int(x))])
        x0, y0, x1, y1 = int(x), int(y), int(x), int(y)
        while queue:
            cy, cx = queue.popleft()
            x0, y0, x1, y1 = min(x0, cx), min(y0, cy), max(x1, cx), max(y1, cy)
            for ny, nx in ((cy + 1, cx), (cy - 1, cx), (cy, cx + 1), (cy, cx - 1)):
                if 0 <= ny < height and 0 <= nx < width and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    queue.append((ny, nx))
        boxes.append((x0, y0, x1 + 1, y1 + 1))
    boxes.sort(key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)
    return boxes[:_MAX_BOXES]


def previews(original: Dataset, output: Dataset) -> dict[str, Any] | None:
    """Before/after thumbnails and the boxes that changed, or None (no decodable pixels)."""
    before, after = _frame(original), _frame(output)
    if before is None and after is None:
        return None
    shown = before if before is not None else after
    assert shown is not None
    window = (float(shown.min()), float(shown.max()))  # the input's: blanking shows as such
    small = thumbnail(shown, window)
    result: dict[str, Any] = {
        "width": int(small.shape[1]),
        "height": int(small.shape[0]),
        "after": png_data_uri(thumbnail(after, window)) if after is not None else None,
        "before": png_data_uri(small) if before is not None else None,
        "boxes": [],
    }
    if before is not None and after is not None and before.shape == after.shape:
        result["boxes"] = [list(box) for box in changed_boxes(_small_mask(before != after))]
    return result


def _small_mask(mask: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``mask`` at thumbnail scale: a cell is set when any pixel it covers is."""
    step = _step(mask.shape)
    height, width = -(-mask.shape[0] // step), -(-mask.shape[1] // step)
    padded = np.zeros((height * step, width * step), dtype=bool)
    padded[: mask.shape[0], : mask.shape[1]] = mask
    return np.asarray(padded.reshape(height, step, width, step).any(axis=(1, 3)))
