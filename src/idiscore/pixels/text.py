"""Text detectors: one frame in, the boxes of the text it shows out.

A detector is anything with ``detect(frame) -> list[TextBox]`` (:class:`TextDetector`), where
``frame`` is a ``uint8`` NumPy array shaped ``(rows, columns)`` (grey) or
``(rows, columns, 3)`` (RGB). Two engines are built in:

=============  ===================================================================================
``rapidocr``   `RapidOCR <https://github.com/RapidAI/RapidOCR>`_ on ONNX Runtime
               (``pip install idiscore[ocr]``, package ``rapidocr_onnxruntime``): its wheel holds
               the PP-OCR detection and recognition models, nothing is downloaded at run time.
               Frames are read at their own size (scaled down only beyond 2048 pixels).
``tesseract``  Tesseract through ``pytesseract`` (``pip install pytesseract`` and the
               ``tesseract-ocr`` system package).
=============  ===================================================================================

The text a detector reads is protected health information: :class:`TextBox` keeps it out of
its ``repr``, and idiscore never logs it, reports it or puts it in an error message; it is
only compared with the dataset's identifying values (``--ocr-mode phi``).

Engines are created lazily, once per process (:func:`get_detector`), and are never pickled:
a :class:`~idiscore.core.Core` that crosses a process boundary carries only the engine's
name.
"""

from __future__ import annotations

import importlib.util
import shutil
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from idiscore.errors import ConfigurationError, MissingDependencyError

#: The built-in engines, the default first.
ENGINES: tuple[str, ...] = ("rapidocr", "tesseract")
#: The confidence a box needs by default, per engine: RapidOCR's scores are calibrated (its
#: own threshold is 0.5); Tesseract scores real names low (a surname read at 0.3), so every
#: word it reads counts.
MIN_CONFIDENCE = {"rapidocr": 0.5, "tesseract": 0.0}
#: What to install for each engine.
INSTALL_HINT = {
    "rapidocr": "install idiscore[ocr] (pip install 'idiscore[ocr]')",
    "tesseract": "install pytesseract and the tesseract-ocr system package",
}


@dataclass(frozen=True)
class TextBox:
    """An axis-aligned box around text in a frame: ``x`` is the column, ``y`` the row.

    ``text`` (what was read) is PHI: it is left out of ``repr`` and of every report.
    """

    x: int
    y: int
    width: int
    height: int
    confidence: float
    text: str = field(default="", repr=False)

    def shifted(self, rows: int, columns: int) -> TextBox:
        """The same box in a frame where this one's frame starts at (rows, columns)."""
        return TextBox(
            self.x + columns, self.y + rows, self.width, self.height, self.confidence, self.text
        )


@runtime_checkable
class TextDetector(Protocol):
    """Finds text in one frame (``uint8``, grey or RGB)."""

    def detect(self, frame: np.ndarray) -> list[TextBox]: ...


def _as_box(points: Any, confidence: float, text: str) -> TextBox | None:
    corners = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    left, top = np.floor(corners.min(axis=0))
    right, bottom = np.ceil(corners.max(axis=0))
    x, y = max(0, int(left)), max(0, int(top))
    width, height = int(right) - x + 1, int(bottom) - y + 1
    if width <= 0 or height <= 0:
        return None
    return TextBox(x, y, width, height, float(confidence), str(text))


class RapidOCRDetector:
    """The ``rapidocr`` engine (PP-OCR models shipped in the ``rapidocr_onnxruntime`` wheel)."""

    def __init__(self) -> None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as error:
            raise MissingDependencyError(
                f"text detection with rapidocr needs its models: {INSTALL_HINT['rapidocr']}"
            ) from error
        # read frames at the scale they are given (idiscore.pixels.ocr enlarges small
        # ones itself, by the same factor for a whole frame and its crops)
        self._engine = RapidOCR(det_limit_type="max", det_limit_side_len=4096)

    def detect(self, frame: np.ndarray) -> list[TextBox]:
        image = _rgb(frame)[:, :, ::-1]  # the engine reads OpenCV's BGR order
        found, _ = self._engine(np.ascontiguousarray(image), use_cls=False)
        boxes = []
        for points, text, confidence in found or ():
            box = _as_box(points, confidence, text)
            if box is not None:
                boxes.append(box)
        return boxes


class TesseractDetector:
    """The ``tesseract`` engine (``pytesseract`` and the ``tesseract`` program)."""

    def __init__(self) -> None:
        try:
            import pytesseract
        except ImportError as error:
            raise MissingDependencyError(
                f"text detection with tesseract: {INSTALL_HINT['tesseract']}"
            ) from error
        if shutil.which("tesseract") is None:
            raise MissingDependencyError(
                f"the tesseract program is not on PATH: {INSTALL_HINT['tesseract']}"
            )
        self._tesseract = pytesseract

    def detect(self, frame: np.ndarray) -> list[TextBox]:
        from PIL import Image

        image = Image.fromarray(np.ascontiguousarray(frame))
        data = self._tesseract.image_to_data(image, output_type=self._tesseract.Output.DICT)
        boxes = []
        for index, text in enumerate(data.get("text", ())):
            confidence = float(data["conf"][index])
            if not str(text).strip() or confidence < 0:
                continue
            box = TextBox(
                int(data["left"][index]),
                int(data["top"][index]),
                int(data["width"][index]),
                int(data["height"][index]),
                confidence / 100.0,
                str(text),
            )
            if box.width > 0 and box.height > 0:
                boxes.append(box)
        return boxes


def _rgb(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return np.repeat(frame[:, :, None], 3, axis=2)
    return frame


_FACTORIES: dict[str, type[RapidOCRDetector] | type[TesseractDetector]] = {
    "rapidocr": RapidOCRDetector,
    "tesseract": TesseractDetector,
}
_DETECTORS: dict[str, TextDetector] = {}
_AVAILABLE: dict[str, bool] = {}
_LOCK = threading.Lock()


def check_engine(engine: str) -> str:
    """``engine`` if it names a built-in engine, else :class:`ConfigurationError`."""
    if engine not in _FACTORIES:
        raise ConfigurationError(
            f"unknown text detection engine {engine!r}: use one of {', '.join(ENGINES)}"
        )
    return engine


def engine_available(engine: str) -> bool:
    """True when ``engine`` can run in this process (checked once, without loading models)."""
    check_engine(engine)
    known = _AVAILABLE.get(engine)
    if known is None:
        if engine == "rapidocr":
            known = _module_exists("rapidocr_onnxruntime") and _module_exists("onnxruntime")
        else:
            known = _module_exists("pytesseract") and shutil.which("tesseract") is not None
        _AVAILABLE[engine] = known
    return known


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def get_detector(engine: str) -> TextDetector:
    """This process's detector for ``engine``, created on first use.

    Raises :class:`~idiscore.errors.MissingDependencyError` naming what to install.
    """
    check_engine(engine)
    detector = _DETECTORS.get(engine)
    if detector is None:
        with _LOCK:
            detector = _DETECTORS.get(engine)
            if detector is None:
                detector = _FACTORIES[engine]()
                _DETECTORS[engine] = detector
    return detector


__all__ = [
    "ENGINES",
    "MIN_CONFIDENCE",
    "RapidOCRDetector",
    "TesseractDetector",
    "TextBox",
    "TextDetector",
    "check_engine",
    "engine_available",
    "get_detector",
]
