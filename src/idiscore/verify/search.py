"""Find identifying values in the bytes of an output file, and say where they sit.

Each value is looked for (without case) in the output's character set (Specific Character
Set), UTF-8, Latin-1, UTF-16LE and UTF-16BE, everywhere in the file: the preamble, the file
meta, the data set with its nested items and private elements -- everything but the value of
Pixel Data, whose bytes are image samples, not text (text burned into the pixels is found by
OCR, when the ``ocr`` extra is installed), except the text segments of compressed frames
(JPEG comments and application segments, JPEG 2000 comments: see
:mod:`idiscore.pixels.codestream`), which are searched. A hit of a short value (under
:data:`FREE_LENGTH` characters) or of a number counts only between word boundaries, so an
ID ``123`` is not found inside ``41235``.

A hit is placed in the innermost element whose value holds it (:class:`ElementSpan`), or in
the ``preamble``, or ``unlocated`` (an item header, an element whose offset pydicom does not
report).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pydicom import dcmread
from pydicom.charset import convert_encodings
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from idiscore.elements import decode, dictionary_vr
from idiscore.verify.values import IdentifyingValue

__all__ = ["FREE_LENGTH", "ElementSpan", "Hit", "element_spans", "find_values", "read_bytes"]

#: values at least this long are found anywhere, shorter ones only as whole words
FREE_LENGTH = 8
#: hits reported per value and encoding
MAX_HITS = 16
_UNDEFINED = 0xFFFFFFFF
_PIXEL_DATA = 0x7FE00010
_BASE_ENCODINGS = ("utf-8", "latin-1", "utf-16-le", "utf-16-be")


@dataclass(frozen=True)
class ElementSpan:
    """Where one element's value lies in a file: bytes ``start`` to ``end``."""

    start: int
    end: int
    path: str
    tag: int
    creator: str | None
    vr: str = "UN"


@dataclass(frozen=True)
class Hit:
    """One identifying value found in an output."""

    value: IdentifyingValue
    encoding: str
    offset: int


def read_bytes(data: bytes) -> Dataset:
    """Parse a whole file held in memory (pydicom's warnings are not passed on)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dcmread(io.BytesIO(data), force=True)


def _tag_text(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def element_spans(
    dataset: Dataset, data: bytes, prefix: str = "", base: int = 0
) -> Iterator[ElementSpan]:
    """The value spans of every element of ``dataset`` read from ``data``, nested ones too.

    pydicom reports the offsets of elements in a sequence of defined length relative to the
    start of the sequence's value, and those of an undefined-length sequence relative to
    the file; ``base`` is added to the offsets of ``dataset`` (checked against the bytes).
    """
    creators: dict[tuple[int, int], str] = {}
    for key in list(dataset.keys()):
        tag = int(key)
        raw = dataset.get_item(tag)
        group, number = tag >> 16, tag & 0xFFFF
        if group & 1 and 0x10 <= number <= 0xFF:
            value = getattr(raw, "value", b"")
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            creators[(group, number)] = text.strip(" \x00")
        creator = creators.get((group, number >> 8)) if group & 1 and number > 0xFF else None
        path = prefix + _tag_text(tag)
        tell = getattr(raw, "value_tell", None)
        length = getattr(raw, "length", None)
        start = None if tell is None else tell + base
        children: list[ElementSpan] = []
        if getattr(raw, "VR", None) in (None, "SQ", "UN") and start is not None:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    # the de-identifier's authority on sequences: a UN or implicit VR
                    # value made of items is a sequence here too
                    value = decode(raw, dataset, "iso8859", creator).value
            except Exception:
                value = None
            if isinstance(value, Sequence):
                for index, item in enumerate(value):
                    shift = _item_base(item, data, start)
                    children.extend(element_spans(item, data, f"{path}[{index}]/", shift))
        if start is not None and length is not None:
            end = (
                start + length
                if length != _UNDEFINED
                else max((child.end for child in children), default=start)
            )
            vr = getattr(raw, "VR", None) or dictionary_vr(tag)
            yield ElementSpan(start, end, path, tag, creator, vr)
        yield from children


def _item_base(item: Dataset, data: bytes, sequence_start: int) -> int:
    """0 when the offsets of ``item``'s elements are file offsets, else ``sequence_start``."""
    for tag in list(item.keys()):
        raw = item.get_item(tag)
        value = getattr(raw, "value", None)
        tell = getattr(raw, "value_tell", None)
        if isinstance(value, bytes) and value and tell is not None:
            if data[tell : tell + len(value)] == value:
                return 0
            if data[sequence_start + tell : sequence_start + tell + len(value)] == value:
                return sequence_start
    return sequence_start


def encodings_of(dataset: Dataset) -> list[str]:
    """The Python codecs of the output's character set, then the ones always tried."""
    found: list[str] = []
    charset = dataset.get("SpecificCharacterSet") if "SpecificCharacterSet" in dataset else None
    try:
        found = list(convert_encodings(charset)) if charset else []
    except Exception:
        found = []
    found = [name for name in found if not name.startswith("iso2022")]  # escape-coded
    return list(dict.fromkeys([*found, *_BASE_ENCODINGS]))


def _numeric(text: str) -> bool:
    return bool(text) and all(c.isdigit() or c in ".-/:" for c in text)


def _inner(char: str, numeric: bool) -> bool:
    return char.isalnum() or (numeric and char == ".")


def _bounded(haystack: bytes, start: int, end: int, encoding: str, numeric: bool) -> bool:
    """No letter or digit (or dot, for numbers) right before or after the match."""
    width = 2 if encoding.startswith("utf-16") else 1
    codec = encoding if width == 2 else "latin-1"
    before = haystack[max(0, start - width) : start]
    after = haystack[end : end + width]
    for chunk in (before, after):
        if len(chunk) == width:
            char = chunk.decode(codec, errors="replace")
            if _inner(char, numeric):
                return False
    return True


def find_values(
    data: bytes,
    values: Iterable[IdentifyingValue],
    encodings: list[str],
    skip: tuple[int, int] | None = None,
    inside: Iterable[tuple[int, int]] = (),
) -> list[Hit]:
    """Every value found in ``data`` (at most :data:`MAX_HITS` per value and encoding),
    outside the byte range ``skip`` (the pixel data) but inside each range of
    ``inside`` (the text segments of compressed frames)."""
    haystacks: list[tuple[int, bytes]] = []
    if skip is None:
        haystacks.append((0, data.lower()))
    else:
        haystacks.append((0, data[: skip[0]].lower()))
        haystacks.append((skip[1], data[skip[1] :].lower()))
    haystacks.extend((start, data[start:end].lower()) for start, end in inside)
    hits: list[Hit] = []
    for value in values:
        needle_text = value.text.lower()
        numeric = _numeric(needle_text)
        bounded = numeric or len(needle_text) < FREE_LENGTH
        seen: set[bytes] = set()
        # the haystack is lowered byte-wise (ASCII letters only): a non-ASCII letter is
        # looked for as the value has it, in upper case and in lower case
        variants = dict.fromkeys((value.text, value.text.upper(), needle_text))
        for encoding in encodings:
            for variant in variants:
                try:
                    needle = variant.encode(encoding).lower()
                except (UnicodeError, LookupError):
                    continue
                if needle in seen:
                    continue
                seen.add(needle)
                for offset in _occurrences(haystacks, needle, encoding, bounded, numeric):
                    hits.append(Hit(value, encoding, offset))
    return hits


def _occurrences(
    haystacks: list[tuple[int, bytes]], needle: bytes, encoding: str, bounded: bool, numeric: bool
) -> Iterator[int]:
    """The offsets of ``needle`` (at most :data:`MAX_HITS`)."""
    found = 0
    for base, haystack in haystacks:
        position = haystack.find(needle)
        while position >= 0 and found < MAX_HITS:
            end = position + len(needle)
            if not bounded or _bounded(haystack, position, end, encoding, numeric):
                found += 1
                yield base + position
            position = haystack.find(needle, position + 1)


def pixel_span(spans: Iterable[ElementSpan], size: int) -> tuple[int, int] | None:
    """The byte range of the top-level Pixel Data value (to the end of the file when its
    length is undefined)."""
    for span in spans:
        if span.tag == _PIXEL_DATA and "/" not in span.path:
            return (span.start, span.end if span.end > span.start else size)
    return None


def locate(offset: int, spans: list[ElementSpan]) -> ElementSpan | None:
    """The innermost element whose value holds byte ``offset``."""
    best: ElementSpan | None = None
    for span in spans:
        if span.start <= offset < span.end and (
            best is None or span.end - span.start < best.end - best.start
        ):
            best = span
    return best
