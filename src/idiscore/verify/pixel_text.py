"""Identifying text still burned into an output's pixels, read by OCR.

When a text engine is installed (``idiscore[ocr]``: RapidOCR, or Tesseract), verify reads every
frame of each output with the same text finder that de-identification uses
(:func:`idiscore.pixels.ocr.read_text`, which also remembers images it has read) and reports a
leak of class ``pixel_text`` for every legible line that contains an identifying value of the
input: a name or one of its components, an ID or number, a date or time in any of its
renderings. Text is compared as :class:`~idiscore.pixels.phi_text.PhiText` compares it (letters
and digits only, without case; dates also as ``12.04.1961``, ``12APR1961`` ...).

A leak names the frame and the box, ``pixels frame 1 (6,6,180,18)`` (``frame all``: the static
part of a multi-frame image), and a digest of the input value it matched; never the text read.

:func:`text_in_box` is the MIDI-B ``pixels_hidden`` judgement by OCR: is any legible text read
with its centre inside a given box?
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from pydicom.dataset import Dataset
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from idiscore.errors import MissingDependencyError
from idiscore.pixels.layout import PixelLayout
from idiscore.pixels.ocr import TextDetection, legible, read_text
from idiscore.pixels.phi_text import PhiText
from idiscore.pixels.text import INSTALL_HINT, TextBox, engine_available
from idiscore.verify.values import IdentifyingValue

__all__ = ["PIXEL_TEXT", "ocr_engine", "pixel_text_leaks", "text_in_box"]

#: the class of a leak read from the pixels
PIXEL_TEXT = "pixel_text"
#: the classes of input values looked for in the pixels' text
_KINDS = frozenset({"name", "id", "date"})
_PIXEL_DATA = 0x7FE00010


def ocr_engine(wanted: bool | None, engine: str = "rapidocr") -> str | None:
    """The engine verify reads pixels with, or None (off).

    ``wanted`` None: ``engine`` when it is installed; False: off; True: ``engine``, and
    :class:`~idiscore.errors.MissingDependencyError` when it is not installed.
    """
    if wanted is False:
        return None
    if engine_available(engine):
        return engine
    if wanted:
        raise MissingDependencyError(f"verify --ocr needs a text engine: {INSTALL_HINT[engine]}")
    return None


def _syntax(dataset: Dataset) -> UID:
    meta = getattr(dataset, "file_meta", None)
    declared = meta.get("TransferSyntaxUID") if meta is not None else None
    if declared:
        return UID(str(declared))
    if dataset.is_little_endian is False:
        return ExplicitVRBigEndian
    return ImplicitVRLittleEndian if dataset.is_implicit_VR else ExplicitVRLittleEndian


def _read(output: Dataset, engine: str) -> tuple[list[tuple[TextBox, str]], PixelLayout]:
    """The legible boxes read on ``output``'s frames, each with its frame label."""
    layout = PixelLayout.from_dataset(output)
    detection = TextDetection(engine=engine)
    boxes, _ = read_text(output, layout, _syntax(output), detection)
    found: list[tuple[TextBox, str]] = []
    for box, frames in boxes:
        if not legible(box, detection, layout):
            continue
        if frames is None:
            found.append((box, "1" if layout.frames == 1 else "all"))
        else:
            found.extend((box, str(index + 1)) for index in frames)
    return found, layout


def _digest(text: str) -> str:
    return hashlib.blake2b(text.lower().encode("utf-8"), digest_size=4).hexdigest()


def pixel_text_leaks(
    output: Dataset, values: Iterable[IdentifyingValue], engine: str
) -> list[dict[str, str]]:
    """A ``pixel_text`` leak for every legible text on ``output``'s frames that holds one of
    ``values`` (names, IDs, dates); none when the output has no pixel data."""
    if _PIXEL_DATA not in output:
        return []
    wanted = [value.text for value in values if value.kind in _KINDS]
    if not wanted:
        return []
    every = PhiText(wanted)
    leaks: list[dict[str, str]] = []
    reported: list[tuple[TextBox, str, str]] = []
    boxes, _ = _read(output, engine)
    for box, frame in boxes:
        if not every.holds_value(box.text):
            continue
        matched = next((v for v in wanted if PhiText([v]).holds_value(box.text)), "")
        digest = _digest(matched)
        if any(
            frame == seen_frame and digest == seen_digest and _same_place(box, seen)
            for seen, seen_frame, seen_digest in reported
        ):
            continue  # the same line read again (at the other scale)
        reported.append((box, frame, digest))
        where = f"pixels frame {frame} ({box.x},{box.y},{box.width},{box.height})"
        leaks.append({"class": PIXEL_TEXT, "where": where, "encoding": "ocr", "digest": digest})
    return leaks


def _same_place(one: TextBox, other: TextBox) -> bool:
    """True when the centre of either box lies inside the other."""
    return _centre_in(one, other) or _centre_in(other, one)


def _centre_in(box: TextBox, around: TextBox) -> bool:
    column, row = box.x + box.width / 2, box.y + box.height / 2
    return (
        around.x <= column < around.x + around.width and around.y <= row < around.y + around.height
    )


def text_in_box(output: Dataset, box: tuple[int, int, int, int], engine: str) -> bool:
    """True when a legible text read on ``output``'s frames has its centre inside ``box``
    (left, top, right, bottom; right and bottom excluded)."""
    left, top, right, bottom = box
    area = TextBox(left, top, right - left, bottom - top, 1.0)
    boxes, _ = _read(output, engine)
    return any(_centre_in(found, area) for found, _frame in boxes)
