"""Text that rides along in compressed pixel data: found, and blanked in place.

A JPEG frame may carry a comment (``COM``) and application segments (``APP1`` Exif with
dates and device serial numbers, ``APP1`` XMP, ``APP13`` IPTC, ...); a JPEG 2000 code
stream comment segments (``COM``) and, wrapped as a JP2 file, XML and UUID boxes. None of
them is part of the image: decoders skip them, and so does every DICOM attribute rule, so
a name written there by a scanner or a photo application survives de-identification
byte for byte. This module finds them in the encapsulated Pixel Data of the JPEG,
JPEG-LS, JPEG 2000 and HTJ2K transfer syntaxes and overwrites their content with zero
bytes. Nothing moves: every segment, fragment and offset table keeps its length, and the
decoded image is the same (tested by decoding before and after).

Kept, because decoders read them: ``APP0`` JFIF (its thumbnail is blanked), ``APP2``
ICC profile, ``APP8`` SPIFF (its directory entries are blanked), ``APP14`` Adobe (the
colour transform). Every other ``APPn``, every comment, the reserved ``JPGn`` segments,
JP2 metadata boxes and whatever follows the end of a frame in its fragments are
blanked. Video syntaxes (MPEG-2, MPEG-4, HEVC) are not examined.

:func:`text_spans` lists the byte ranges (in the Pixel Data value) that hold such text;
:func:`blank_text` returns the value with those ranges zeroed; :func:`blank_dataset_text`
does it to the Pixel Data of a de-identified dataset.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from typing import Any, BinaryIO

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from idiscore.errors import PixelDataProcessingError
from idiscore.fileio import FileWindow

__all__ = [
    "CODESTREAM_SYNTAXES",
    "blank_dataset_text",
    "blank_text",
    "text_spans",
]

_JPEG = (
    "1.2.840.10008.1.2.4.50",  # JPEG Baseline
    "1.2.840.10008.1.2.4.51",  # JPEG Extended
    "1.2.840.10008.1.2.4.57",  # JPEG Lossless
    "1.2.840.10008.1.2.4.70",  # JPEG Lossless SV1
    "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
    "1.2.840.10008.1.2.4.81",  # JPEG-LS Near-Lossless
)
_J2K = (
    "1.2.840.10008.1.2.4.90",  # JPEG 2000 Lossless
    "1.2.840.10008.1.2.4.91",  # JPEG 2000
    "1.2.840.10008.1.2.4.92",  # JPEG 2000 Part 2 Multi-component Lossless
    "1.2.840.10008.1.2.4.93",  # JPEG 2000 Part 2 Multi-component
    "1.2.840.10008.1.2.4.201",  # HTJ2K Lossless
    "1.2.840.10008.1.2.4.202",  # HTJ2K Lossless RPCL
    "1.2.840.10008.1.2.4.203",  # HTJ2K
)
#: The transfer syntaxes whose frames are examined.
CODESTREAM_SYNTAXES = frozenset(_JPEG + _J2K)

_PIXEL_DATA = BaseTag(0x7FE00010)
_ITEM = 0xE000FFFE  # (FFFE,E000) read as little endian tag group, element
_SEQUENCE_END = 0xE0DDFFFE
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
#: APPn segments decoders need, by marker and identifier
_KEPT_APP = (
    (0xE0, b"JFIF\x00"),
    (0xE2, b"ICC_PROFILE\x00"),
    (0xE8, b"SPIFF\x00"),
    (0xEE, b"Adobe"),
)
#: JP2 (and JPX) boxes of metadata: XML, UUID, UUID info, intellectual property, label,
#: association
_BOXES_WITH_TEXT = frozenset({b"xml ", b"uuid", b"uinf", b"jp2i", b"lbl ", b"asoc"})

Span = tuple[int, int]


class CodestreamError(PixelDataProcessingError):
    """The compressed pixel data cannot be walked (it is not what its syntax says)."""


def text_spans(value: bytes | BinaryIO | io.BufferedIOBase, syntax: str) -> list[Span]:
    """The byte ranges of an encapsulated Pixel Data value (bytes, or a seekable binary
    file of just the value, such as :class:`~idiscore.fileio.FileWindow`) that hold
    text segments, for a transfer syntax of :data:`CODESTREAM_SYNTAXES`; [] for
    another one. A file is read one frame at a time.

    Raises:
        CodestreamError: the value is not encapsulated data of that syntax.
    """
    if syntax not in CODESTREAM_SYNTAXES:
        return []
    read, size = _reader(value)
    fragments = _fragments(read, size)
    jpeg = syntax in _JPEG
    frame = _jpeg_frame if jpeg else _j2k_frame
    spans: list[Span] = _offset_table_text(read, fragments)
    for group in _frame_groups(read, fragments, jpeg):
        stream = b"".join(read(start, end - start) for start, end in group)
        found: list[Span] = []
        end = frame(stream, 0, found)
        # what follows the frame in its last fragment is no image: unless it is one
        # padding byte (an odd length) or zeros, it is blanked (data appended after the
        # end of an image is a place to hide text)
        if len(stream) - end > 1 and stream[end:].strip(b"\x00"):
            found.append((end, len(stream)))
        spans.extend(_to_value(found, group))
    return spans


def blank_text(value: bytes, syntax: str) -> bytes | None:
    """``value`` with every text span zeroed (the same length), or None when no span
    holds anything but zeros. See :func:`text_spans`."""
    spans = [span for span in text_spans(value, syntax) if value[span[0] : span[1]].strip(b"\x00")]
    if not spans:
        return None
    blanked = bytearray(value)
    for start, end in spans:
        blanked[start:end] = bytes(end - start)
    return bytes(blanked)


def blank_dataset_text(dataset: Dataset) -> bool:
    """Zero the text spans of ``dataset``'s Pixel Data, for a transfer syntax of
    :data:`CODESTREAM_SYNTAXES`. ``dataset`` is a de-identified dataset of idiscore's:
    its elements may be shared with its input, so a changed value is stored as a new
    element; a streamed value (:class:`~idiscore.fileio.FileWindow`) stays streamed,
    as a window that reads the spans as zeros. Returns whether anything was zeroed.

    Raises:
        CodestreamError: the pixel data is not what its transfer syntax says.
    """
    meta = getattr(dataset, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    element = dataset._dict.get(_PIXEL_DATA)
    if element is None or str(syntax) not in CODESTREAM_SYNTAXES:
        return False
    value = element.value
    vr = element.VR if element.VR in ("OB", "OW") else "OB"
    new: Any
    if isinstance(value, FileWindow):
        spans = text_spans(value, str(syntax))
        spans = [span for span in spans if _read_at(value, *span).strip(b"\x00")]
        value.seek(0)
        if not spans:
            return False
        new = value.zeroing(spans)
    elif isinstance(value, bytes) and value:
        new = blank_text(value, str(syntax))
        if new is None:
            return False
    else:
        return False
    dataset._dict[_PIXEL_DATA] = DataElement(_PIXEL_DATA, vr, new, is_undefined_length=True)
    return True


# -- encapsulation -------------------------------------------------------------------


def _read_at(handle: BinaryIO | io.BufferedIOBase, start: int, end: int) -> bytes:
    handle.seek(start)
    return handle.read(end - start)


def _reader(
    value: bytes | BinaryIO | io.BufferedIOBase,
) -> tuple[Callable[[int, int], bytes], int]:
    """A function reading ``count`` bytes at ``offset`` of the value, and its size."""
    if isinstance(value, bytes):
        return (lambda offset, count: value[offset : offset + count]), len(value)
    size = value.seek(0, 2)

    def read(offset: int, count: int) -> bytes:
        value.seek(offset)
        return value.read(count)

    return read, size


def _fragments(read: Callable[[int, int], bytes], size: int) -> list[Span]:
    """The (start, end) of every fragment's bytes in the value, the offset table left out."""
    fragments: list[Span] = []
    position = 0
    first = True
    while position + 8 <= size:
        tag, length = struct.unpack("<LL", read(position, 8))
        if tag == _SEQUENCE_END:
            return fragments
        if tag != _ITEM or length == 0xFFFFFFFF or position + 8 + length > size:
            raise CodestreamError("the encapsulated pixel data has a malformed item")
        if not first:
            fragments.append((position + 8, position + 8 + length))
        first = False
        position += 8 + length
    if position != size:
        raise CodestreamError("the encapsulated pixel data ends inside an item header")
    return fragments


def _offset_table_text(read: Callable[[int, int], bytes], fragments: list[Span]) -> list[Span]:
    """The Basic Offset Table's content when it is no table of offsets (4 bytes each,
    each the start of a fragment item): a place to hide text, which decoders reject
    or ignore."""
    length = struct.unpack("<L", read(4, 4))[0] if fragments or read(0, 8) else 0
    if not length:
        return []
    table = read(8, length)
    first = 8 + length  # the first fragment item, where offsets count from
    items = {start - 8 - first for start, _ in fragments}
    if length % 4 == 0 and set(struct.unpack(f"<{length // 4}L", table)) <= items:
        return []
    return [(8, 8 + length)]


def _frame_groups(
    read: Callable[[int, int], bytes], fragments: list[Span], jpeg: bool
) -> list[list[Span]]:
    """The fragments of each frame. A frame starts at the start of a fragment (PS3.5
    A.4: a fragment holds data of one frame only) and may run over several; the start
    of a frame (SOI; SOC or the JP2 signature) cannot occur at the start of another
    fragment of the same frame, as no marker code can occur in coded data."""
    groups: list[list[Span]] = []
    for start, end in fragments:
        head = read(start, 12)
        if jpeg:
            starts = head.startswith(b"\xff\xd8")
        else:
            starts = head.startswith(b"\xff\x4f") or head == _JP2_SIGNATURE
        if starts or not groups:
            groups.append([(start, end)])
        else:
            groups[-1].append((start, end))
    return groups


def _to_value(spans: list[Span], fragments: list[Span]) -> list[Span]:
    """Spans in the joined ``fragments``, mapped to ranges of the value (split at
    fragment boundaries)."""
    result: list[Span] = []
    starts: list[tuple[int, int, int]] = []  # (stream start, stream end, value start)
    offset = 0
    for start, end in fragments:
        starts.append((offset, offset + end - start, start))
        offset += end - start
    for span_start, span_end in spans:
        for stream_start, stream_end, value_start in starts:
            low, high = max(span_start, stream_start), min(span_end, stream_end)
            if low < high:
                shift = value_start - stream_start
                result.append((low + shift, high + shift))
    return result


# -- JPEG and JPEG-LS (ITU-T T.81, T.87) ---------------------------------------------


def _jpeg_frame(stream: bytes, start: int, spans: list[Span]) -> int:
    """Walk the JPEG frame at ``start`` (its SOI); add its text spans; return its end."""
    if not stream.startswith(b"\xff\xd8", start):
        raise CodestreamError("a fragment does not start with a JPEG frame")
    size = len(stream)
    position = start + 2
    while position + 2 <= size:
        if stream[position] != 0xFF:
            raise CodestreamError("a JPEG marker was expected")
        marker = stream[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0xD9:  # EOI
            return position + 2
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # RSTn, TEM: no length
            position += 2
            continue
        if position + 4 > size:
            break
        length = (stream[position + 2] << 8) | stream[position + 3]
        end = position + 2 + length
        if length < 2 or end > size:
            raise CodestreamError("a JPEG segment runs past the end of its frame")
        _jpeg_segment(stream, marker, position + 4, end, spans)
        position = end
        if marker == 0xDA:  # SOS: entropy-coded data up to the next marker
            position = _next_marker(stream, position)
    raise CodestreamError("a JPEG frame has no end of image marker")


def _jpeg_segment(stream: bytes, marker: int, start: int, end: int, spans: list[Span]) -> None:
    if marker == 0xFE or (0xF0 <= marker <= 0xFD and marker not in (0xF7, 0xF8)):
        # COM, and the reserved JPGn markers (but JPEG-LS's SOF55 and LSE): no decoder
        # of a DICOM syntax reads them
        spans.append((start, end))
        return
    if not 0xE0 <= marker <= 0xEF:
        return
    payload = stream[start:end]
    if marker == 0xE8 and not payload.startswith(b"SPIFF\x00") and _after_spiff(stream, start):
        # a SPIFF directory entry (T.84 F.2.2): its tag stays; the end of directory
        # entry (tag 1, which holds the frame's SOI) stays whole
        if payload[:4] != b"\x00\x00\x00\x01" and end - start > 4:
            spans.append((start + 4, end))
        return
    for kept_marker, identifier in _KEPT_APP:
        if marker == kept_marker and payload.startswith(identifier):
            if marker == 0xE0 and end - start > 14:  # JFIF with a thumbnail
                spans.append((start + 14, end))
            return
    if marker == 0xE0 and payload.startswith(b"JFXX\x00"):
        spans.append((start + 5, end))  # the extension's thumbnail
        return
    spans.append((start, end))


def _after_spiff(stream: bytes, position: int) -> bool:
    """Whether the APP8 segment whose content starts at ``position`` follows a SPIFF
    header in its frame (the header is the first segment after SOI)."""
    header = stream.rfind(b"\xff\xd8\xff\xe8", 0, position)
    return header >= 0 and stream.startswith(b"SPIFF\x00", header + 6)


def _next_marker(stream: bytes, position: int) -> int:
    """The next marker after entropy-coded data: 0xFF followed by a byte that is no
    stuffing (0x00 in JPEG, below 0x80 in JPEG-LS) and no restart marker."""
    while True:
        found = stream.find(b"\xff", position)
        if found < 0 or found + 1 >= len(stream):
            raise CodestreamError("entropy-coded data runs to the end of the pixel data")
        following = stream[found + 1]
        if following < 0x80 or 0xD0 <= following <= 0xD7:
            position = found + 2
        elif following == 0xFF:
            position = found + 1
        else:
            return found


# -- JPEG 2000 (ITU-T T.800, T.814) ---------------------------------------------------


def _j2k_frame(stream: bytes, start: int, spans: list[Span]) -> int:
    """Walk the JPEG 2000 frame at ``start``: a code stream, or a JP2 file."""
    if stream.startswith(_JP2_SIGNATURE, start):
        return _jp2_file(stream, start, spans)
    if stream.startswith(b"\xff\x4f", start):
        return _j2k_codestream(stream, start, spans)
    raise CodestreamError("a fragment does not start with a JPEG 2000 code stream")


def _jp2_file(stream: bytes, start: int, spans: list[Span]) -> int:
    """Walk the boxes of a JP2 file; blank text boxes; walk the code stream box."""
    position = start
    size = len(stream)
    while position + 8 <= size:
        length, kind = struct.unpack_from(">L4s", stream, position)
        length = int(length)
        header = 8
        if length == 1:
            if position + 16 > size:
                raise CodestreamError("a JP2 box header is cut short")
            length = int(struct.unpack_from(">Q", stream, position + 8)[0])
            header = 16
        elif length == 0:
            length = size - position
        end = position + length
        if length < header or end > size:
            raise CodestreamError("a JP2 box runs past the end of the pixel data")
        if kind == b"jp2c":
            _j2k_codestream(stream, position + header, spans, end)
            return end
        if kind in _BOXES_WITH_TEXT:
            spans.append((position + header, end))
        position = end
    raise CodestreamError("a JP2 file holds no code stream box")


def _j2k_codestream(stream: bytes, start: int, spans: list[Span], limit: int = -1) -> int:
    """Walk the main header and every tile-part header from ``start`` (its SOC); add the
    comment spans; return the end (after EOC)."""
    size = len(stream) if limit < 0 else limit
    position = start + 2
    while True:  # the main header, up to the first tile-part
        marker, position = _j2k_marker(stream, position, size, spans)
        if marker == 0xFF90:
            break
    while True:  # tile-parts: SOT ... SOD, data; then another SOT or EOC
        sot = position - 2
        if sot + 12 > size:
            raise CodestreamError("a JPEG 2000 tile-part header is cut short")
        tile_length = int(struct.unpack_from(">L", stream, sot + 6)[0])
        position = sot + 12
        while True:
            marker, position = _j2k_marker(stream, position, size, spans)
            if marker == 0xFF93:  # SOD: the tile-part's data follows
                break
        if tile_length == 0:  # the last tile-part: its data runs to EOC (no marker
            # code can occur in the coded data: T.800 B.10.1, T.814)
            end = stream.find(b"\xff\xd9", position, size)
            if end < 0:
                raise CodestreamError("a JPEG 2000 code stream has no end marker")
            return end + 2
        position = sot + tile_length
        if position + 2 > size:
            raise CodestreamError("a JPEG 2000 tile-part runs past the end of its frame")
        following = (stream[position] << 8) | stream[position + 1]
        if following == 0xFFD9:
            return position + 2
        if following != 0xFF90:
            raise CodestreamError("a JPEG 2000 tile-part is not followed by another one")
        position += 2


def _j2k_marker(stream: bytes, position: int, size: int, spans: list[Span]) -> tuple[int, int]:
    """The marker at ``position`` and the position after its segment (after the marker
    itself for SOT, whose segment the caller reads, and SOD)."""
    if position + 2 > size or stream[position] != 0xFF:
        raise CodestreamError("a JPEG 2000 marker was expected")
    marker = (stream[position] << 8) | stream[position + 1]
    if marker in (0xFF90, 0xFF93):
        return marker, position + 2
    if position + 4 > size:
        raise CodestreamError("a JPEG 2000 marker segment is cut short")
    length = (stream[position + 2] << 8) | stream[position + 3]
    end = position + 2 + length
    if length < 2 or end > size:
        raise CodestreamError("a JPEG 2000 marker segment runs past the end of its frame")
    if marker == 0xFF64 and length > 4:  # COM: Lcom, Rcom (registration), then the text
        spans.append((position + 6, end))
    return marker, end
