"""Find burned-in text on every frame of a dataset, and turn it into rectangles to blank.

:class:`TextDetection` is the configuration (plain data: it pickles with the Core; the engine
itself is created in each process on first use, see :mod:`idiscore.pixels.text`).
:func:`find_text` does the work:

1. Every frame is decoded (any transfer syntax pydicom decodes) and made viewable as 8 bits:
   colour as RGB, PALETTE COLOR through its lookup tables, grey values scaled from the
   smallest to the largest value of the whole image, MONOCHROME1 inverted.
2. Frames are compared pixel by pixel. What never changes over the loop (the banner, the
   labels, the scale) is read **once**, on a composite of the static pixels with every
   varying pixel at its darkest over the loop. Then each frame is read only inside the
   areas whose pixels vary (:func:`varying_areas`: touching 16-pixel tiles, plus a
   margin; in lossy input a pixel must change by more than 16 levels of 255 to count, so
   compression noise does not), and a crop identical to one already read reuses its result
   (hash of the pixels): a loop whose frames repeat is read once per distinct frame, a
   clock once per distinct time. A single frame is read whole.
3. Images whose shorter side is under ``min_side`` (720) pixels are read twice: at their
   own size, and enlarged (bilinear, by a whole factor up to 4), since burned-in text of 6
   to 10 pixels is missed at its own size and large lettering is missed enlarged.
4. Boxes with too little confidence (:func:`is_text`), taller than a third of the image and
   than 64 pixels (a line of burned-in text is not; speckle read as a letter can be), or
   (in ``phi`` mode) whose text is not identifying
   (:class:`~idiscore.pixels.phi_text.PhiText`) are left out. Every other box, widened by
   ``margin`` pixels on each side, is blanked on every frame.

:class:`TextFindings` records the frames, the number of detector runs and the boxes'
coordinates, never the text. The boxes read are remembered for the last 64 images, by a hash
of their viewable frames: the same pixels de-identified again are not read again (0 detector
runs); :func:`forget_text_results` clears this.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels.decoders.base import get_decoder
from pydicom.pixels.processing import apply_color_lut
from pydicom.uid import (
    UID,
    HTJ2KLossless,
    HTJ2KLosslessRPCL,
    JPEG2000Lossless,
    JPEG2000MCLossless,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)

from idiscore.errors import ConfigurationError
from idiscore.pixels.blanking import Region
from idiscore.pixels.layout import PixelLayout, fail
from idiscore.pixels.phi_text import PhiText
from idiscore.pixels.text import (
    ENGINES,
    INSTALL_HINT,
    MIN_CONFIDENCE,
    TextBox,
    TextDetector,
    check_engine,
    engine_available,
    get_detector,
)

#: ``all`` blanks every text box; ``phi`` only text that identifies someone.
MODES: tuple[str, ...] = ("all", "phi")
_CROP_MARGIN = 8  # pixels around the varying part of a loop, so text on its edge is whole
_MAX_UPSCALE = 4
_SINGLE_CHARACTER_CONFIDENCE = 0.8
#: 8-bit levels a pixel of lossy input may wander over a loop and still count as static
#: (compression noise around a static label differs from frame to frame)
_LOSSY_TOLERANCE = 16
_LOSSLESS = frozenset(
    (
        RLELossless,
        JPEGLSLossless,
        JPEG2000Lossless,
        JPEGLossless,
        JPEG2000MCLossless,
        JPEGLosslessSV1,
        HTJ2KLossless,
        HTJ2KLosslessRPCL,
    )
)
#: boxes read, per image (engine, scale, tolerance and a hash of every viewable frame): the
#: same pixels de-identified again (a file sent twice, a re-run) are not read again
_REMEMBERED: dict[tuple[Any, ...], list[tuple[TextBox, tuple[int, ...] | None]]] = {}
_REMEMBERED_SIZE = 64
_REMEMBERED_LOCK = threading.Lock()
_TILE = 16  # pixels: the grain at which the varying part of a loop is cut into areas
_MIN_TALLEST_TEXT = 64  # pixels; boxes taller than this and a third of the image are not text


@dataclass(frozen=True)
class TextDetection:
    """How burned-in text is found: engine, mode, margin and minimum confidence."""

    engine: str = "rapidocr"
    mode: str = "all"
    margin: int = 4
    min_confidence: float | None = None  # None: the engine's default (MIN_CONFIDENCE)
    min_side: int = 720

    def __post_init__(self) -> None:
        check_engine(self.engine)
        if self.mode not in MODES:
            raise ConfigurationError(
                f"unknown text detection mode {self.mode!r}: use one of {', '.join(MODES)}"
            )
        if isinstance(self.margin, bool) or not isinstance(self.margin, int) or self.margin < 0:
            raise ConfigurationError("the text box margin is a non-negative number of pixels")
        if self.min_confidence is not None and not 0.0 <= float(self.min_confidence) <= 1.0:
            raise ConfigurationError("the minimum text confidence is between 0 and 1")
        if isinstance(self.min_side, bool) or not isinstance(self.min_side, int):
            raise ConfigurationError("min_side is a number of pixels")
        if self.min_side < 0:
            raise ConfigurationError("min_side is a number of pixels")

    @property
    def available(self) -> bool:
        """True when the engine can run in this process."""
        return engine_available(self.engine)

    @property
    def install_hint(self) -> str:
        return INSTALL_HINT[self.engine]

    @property
    def confidence_floor(self) -> float:
        """The confidence a box needs: ``min_confidence``, or the engine's default."""
        if self.min_confidence is None:
            return MIN_CONFIDENCE[self.engine]
        return float(self.min_confidence)

    def detector(self) -> TextDetector:
        return get_detector(self.engine)


@dataclass(frozen=True)
class FoundBox:
    """A box to blank: where (x = column, y = row) and on which frames it was read."""

    x: int
    y: int
    width: int
    height: int
    frames: tuple[int, ...] | None  # None: the static part of the image, every frame

    def to_dict(self) -> dict[str, Any]:
        return {
            "x": self.x,
            "y": self.y,
            "width": self.width,
            "height": self.height,
            "frames": "all" if self.frames is None else list(self.frames),
        }


@dataclass(frozen=True)
class TextFindings:
    """What text detection found in one dataset (coordinates only, never text)."""

    engine: str
    mode: str
    frames: int
    detector_runs: int
    boxes: tuple[FoundBox, ...]
    regions: tuple[Region, ...]  # row_start, row_stop, column_start, column_stop

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "mode": self.mode,
            "frames": self.frames,
            "detector_runs": self.detector_runs,
            "boxes": len(self.boxes),
            "areas": [box.to_dict() for box in self.boxes],
        }


def _decoded(dataset: Dataset, syntax: UID) -> tuple[np.ndarray, str]:
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        raise fail(f"no decoder exists for {syntax.name} ({syntax})") from None
    if not decoder.is_available:
        raise fail(f"cannot decode {syntax.name}: install idiscore[codecs]")
    try:
        array, meta = decoder.as_array(dataset, raw=False)
    except Exception as error:
        # the decoder's message is not quoted (it may quote values): its type is
        raise fail(
            f"{syntax.name} pixel data could not be decoded ({type(error).__name__})"
        ) from None
    photometric = str(meta.get("photometric_interpretation", "")).strip().upper()
    return array, photometric


def viewable_frames(dataset: Dataset, layout: PixelLayout, syntax: UID) -> np.ndarray:
    """Every frame as ``uint8``: ``(frames, rows, columns)`` or ``(frames, rows, columns, 3)``."""
    array, photometric = _decoded(dataset, syntax)
    if layout.frames == 1:
        array = array[None, ...]
    if array.shape[:3] != (layout.frames, layout.rows, layout.columns):
        raise fail(f"decoded pixel data has shape {array.shape}, not the header's size")
    photometric = photometric or layout.photometric
    if photometric == "PALETTE COLOR":
        try:
            array = apply_color_lut(array, dataset)
        except Exception as error:
            raise fail(f"the palette colour lookup tables cannot be read ({error})") from error
    elif photometric.startswith("YBR"):  # decoders convert to RGB; a few leave YBR as is
        from pydicom.pixels.processing import convert_color_space

        array = convert_color_space(array, photometric, "RGB")
    if array.dtype == np.uint8 and photometric != "MONOCHROME1":
        return array
    values = array.astype(np.float32)
    low, high = float(values.min()), float(values.max())
    scale = 255.0 / (high - low) if high > low else 0.0
    viewable = ((values - low) * scale).round().astype(np.uint8)
    if photometric == "MONOCHROME1":
        viewable = 255 - viewable
    return viewable


def lossy(dataset: Dataset, syntax: UID) -> bool:
    """True when the pixels went through lossy compression (now, or as Lossy Image
    Compression says, before)."""
    if syntax.is_transfer_syntax and syntax.is_encapsulated and syntax not in _LOSSLESS:
        return True
    return str(dataset.get("LossyImageCompression", "") or "").strip() == "01"


def _digest(array: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(array).tobytes(), digest_size=16).digest()


def varying_areas(mask: np.ndarray, margin: int = _CROP_MARGIN) -> list[Region]:
    """The areas where ``mask`` (rows, columns) is set, as separate rectangles.

    The image is cut into tiles of :data:`_TILE` pixels; tiles holding a set pixel that touch
    (also diagonally) form one area, whose bounding box is widened by ``margin``. A moving
    picture and a clock in a corner so give two small crops, not one that covers both.
    """
    rows, columns = mask.shape
    tiles_down, tiles_across = -(-rows // _TILE), -(-columns // _TILE)
    padded = np.zeros((tiles_down * _TILE, tiles_across * _TILE), dtype=bool)
    padded[:rows, :columns] = mask
    tiles = np.asarray(padded.reshape(tiles_down, _TILE, tiles_across, _TILE).any(axis=(1, 3)))
    seen = np.zeros(tiles.shape, dtype=bool)
    areas: list[Region] = []
    for start in zip(*np.nonzero(tiles), strict=True):
        if seen[start]:
            continue
        seen[start] = True
        stack = [start]
        top, bottom, left, right = start[0], start[0], start[1], start[1]
        while stack:
            row, column = stack.pop()
            top, bottom = min(top, row), max(bottom, row)
            left, right = min(left, column), max(right, column)
            for near_row in range(max(0, row - 1), min(tiles_down, row + 2)):
                for near_column in range(max(0, column - 1), min(tiles_across, column + 2)):
                    if tiles[near_row, near_column] and not seen[near_row, near_column]:
                        seen[near_row, near_column] = True
                        stack.append((near_row, near_column))
        areas.append(
            (
                max(0, int(top) * _TILE - margin),
                min(rows, (int(bottom) + 1) * _TILE + margin),
                max(0, int(left) * _TILE - margin),
                min(columns, (int(right) + 1) * _TILE + margin),
            )
        )
    return areas


def upscale_factor(rows: int, columns: int, min_side: int) -> int:
    """How much a frame is enlarged before detection, so that small text is legible."""
    shortest = min(rows, columns)
    if shortest >= min_side:
        return 1
    return min(_MAX_UPSCALE, -(-min_side // shortest))


def _enlarged(image: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return image
    from PIL import Image

    rows, columns = image.shape[:2]
    picture = Image.fromarray(np.ascontiguousarray(image))
    size = (columns * factor, rows * factor)
    return np.asarray(picture.resize(size, Image.Resampling.BILINEAR))


def _shrunk(box: TextBox, factor: int) -> TextBox:
    if factor == 1:
        return box
    left, top = box.x // factor, box.y // factor
    right = -(-(box.x + box.width) // factor)
    bottom = -(-(box.y + box.height) // factor)
    return TextBox(left, top, right - left, bottom - top, box.confidence, box.text)


class _Reader:
    """Runs the detector at one scale, remembering results by the pixels it was given."""

    def __init__(self, detector: TextDetector, factor: int) -> None:
        self.detector = detector
        self.factor = factor
        self.runs = 0
        self._seen: dict[bytes, list[TextBox]] = {}

    def read(self, image: np.ndarray) -> list[TextBox]:
        key = _digest(image) + repr(image.shape).encode()
        found = self._seen.get(key)
        if found is None:
            found = self.detector.detect(np.ascontiguousarray(image))
            if self.factor > 1:  # small text is read enlarged, large text at its own size
                enlarged = np.ascontiguousarray(_enlarged(image, self.factor))
                found += [_shrunk(box, self.factor) for box in self.detector.detect(enlarged)]
            self.runs += 1
            self._seen[key] = found
        return found


def _detected(
    frames: np.ndarray, reader: _Reader, tolerance: int
) -> list[tuple[TextBox, tuple[int, ...] | None]]:
    """Every box read, with the frames it was read on (None: the static part)."""
    if len(frames) == 1:
        return [(box, None) for box in reader.read(frames[0])]
    low, high = frames.min(axis=0), frames.max(axis=0)
    varying = (high - low) > tolerance
    if varying.ndim == 3:
        varying = varying.any(axis=2)
    found: list[tuple[TextBox, tuple[int, ...] | None]] = []
    if not varying.all():
        static = frames[0].copy()
        static[varying] = low[varying]  # no hard black holes that could read as glyphs
        found += [(box, None) for box in reader.read(static)]
    per_box: dict[tuple[int, int, int, int], tuple[TextBox, list[int]]] = {}
    for top, bottom, left, right in varying_areas(varying):
        for index, frame in enumerate(frames):
            for box in reader.read(frame[top:bottom, left:right]):
                moved = box.shifted(top, left)
                key = (moved.x, moved.y, moved.width, moved.height)
                if key not in per_box:
                    per_box[key] = (moved, [])
                if index not in per_box[key][1]:
                    per_box[key][1].append(index)
    found += [(box, tuple(sorted(indices))) for box, indices in per_box.values()]
    return found


def is_text(box: TextBox, floor: float) -> bool:
    """True for a box read with at least ``floor`` confidence that holds a letter or digit.

    A box of one letter or digit needs :data:`_SINGLE_CHARACTER_CONFIDENCE`: discs, squares
    and speckle are read as ``O``, ``D`` or a CJK glyph at modest confidence.
    """
    characters = sum(character.isalnum() for character in box.text)
    if characters == 0 or box.confidence < floor:
        return False
    return characters > 1 or box.confidence >= _SINGLE_CHARACTER_CONFIDENCE


def _kept(box: TextBox, detection: TextDetection, phi: PhiText | None, tallest: int) -> bool:
    if box.height > tallest or not is_text(box, detection.confidence_floor):
        return False
    return phi is None or phi.is_identifying(box.text)


def read_text(
    dataset: Dataset, layout: PixelLayout, syntax: UID, detection: TextDetection
) -> tuple[list[tuple[TextBox, tuple[int, ...] | None]], int]:
    """Every box the engine reads on the frames of ``dataset``, with the frames it was read
    on (None: the static part, every frame), unfiltered; and the detector runs it took
    (0 when the same pixels were read before). The boxes' text is PHI."""
    frames = viewable_frames(dataset, layout, syntax)
    factor = upscale_factor(layout.rows, layout.columns, detection.min_side)
    tolerance = _LOSSY_TOLERANCE if lossy(dataset, syntax) else 0
    key = (detection.engine, factor, tolerance, frames.shape, _digest(frames))
    remembered = _REMEMBERED.get(key)
    runs = 0
    if remembered is None:
        reader = _Reader(detection.detector(), factor)
        remembered = _detected(frames, reader, tolerance)
        runs = reader.runs
        with _REMEMBERED_LOCK:
            while len(_REMEMBERED) >= _REMEMBERED_SIZE:
                del _REMEMBERED[next(iter(_REMEMBERED))]
            _REMEMBERED[key] = remembered
    return remembered, runs


def legible(box: TextBox, detection: TextDetection, layout: PixelLayout) -> bool:
    """True for a box that reads as a line of text (confidence, letters, not too tall)."""
    tallest = max(_MIN_TALLEST_TEXT, layout.rows // 3)
    return box.height <= tallest and is_text(box, detection.confidence_floor)


def find_text(
    dataset: Dataset,
    layout: PixelLayout,
    syntax: UID,
    detection: TextDetection,
    identifying_values: Iterable[str] = (),
) -> TextFindings:
    """Find the text to blank on every frame of ``dataset`` (see the module docstring)."""
    remembered, runs = read_text(dataset, layout, syntax, detection)
    tallest = max(_MIN_TALLEST_TEXT, layout.rows // 3)
    phi = PhiText(identifying_values) if detection.mode == "phi" else None
    boxes: list[FoundBox] = []
    regions: list[Region] = []
    margin = detection.margin
    for box, on_frames in remembered:
        if not _kept(box, detection, phi, tallest):
            continue
        found = FoundBox(box.x, box.y, box.width, box.height, on_frames)
        if found in boxes:
            continue
        boxes.append(found)
        region = (
            max(0, box.y - margin),
            min(layout.rows, box.y + box.height + margin),
            max(0, box.x - margin),
            min(layout.columns, box.x + box.width + margin),
        )
        if region[0] < region[1] and region[2] < region[3] and region not in regions:
            regions.append(region)
    return TextFindings(
        engine=detection.engine,
        mode=detection.mode,
        frames=layout.frames,
        detector_runs=runs,
        boxes=tuple(boxes),
        regions=tuple(regions),
    )


def forget_text_results() -> None:
    """Forget the boxes remembered for images already read (see :func:`find_text`)."""
    with _REMEMBERED_LOCK:
        _REMEMBERED.clear()


def merge_regions(*groups: Sequence[Region]) -> list[Region]:
    """The regions of every group, each once, in order."""
    merged: list[Region] = []
    for group in groups:
        for region in group:
            if region not in merged:
                merged.append(region)
    return merged


__all__ = [
    "ENGINES",
    "MODES",
    "FoundBox",
    "TextDetection",
    "TextFindings",
    "find_text",
    "forget_text_results",
    "is_text",
    "legible",
    "merge_regions",
    "read_text",
    "viewable_frames",
]
