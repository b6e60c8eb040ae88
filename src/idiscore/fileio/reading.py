"""Reading DICOM files for de-identification: complete, with large values left in the file.

* :func:`read` -- :func:`pydicom.dcmread` that leaves values larger than ``defer_size``
  in the file and refuses truncated input (:func:`check_complete`);
* :class:`FileWindow` -- a read-only, seekable view of a byte range of a file, usable
  as the value of a pydicom data element (pydicom writes such *buffered* values in
  chunks, so a 2 GB multi-frame image never needs to be in memory);
* :func:`deferred_window` -- the :class:`FileWindow` of a value left in the file.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO

from pydicom import dcmread
from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian
from pydicom.valuerep import BUFFERABLE_VRS

from idiscore.elements import creator_of, vr_of
from idiscore.errors import InputError
from idiscore.filekinds import check_regular

__all__ = [
    "DEFAULT_DEFER_SIZE",
    "FileWindow",
    "check_complete",
    "deferred_window",
    "read",
    "read_counting_warnings",
]

#: Values larger than this stay in the input file until written (see :func:`read`):
#: the pixel data of a 256 x 256 16-bit image and anything larger.
DEFAULT_DEFER_SIZE = 1 << 16

_UNDEFINED = 0xFFFFFFFF
_LONG_VRS = frozenset(
    {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}
)
_PIXEL_DATA = 0x7FE00010


class FileWindow(io.BufferedIOBase):
    """Read-only bytes ``offset .. offset + length`` of the file at ``path``.

    The file is opened on first read and closed by :meth:`close` (or when the window
    is garbage collected). Reading never changes the file. The byte ranges of
    ``zeroed`` (relative to ``offset``) read as zero bytes (see :meth:`zeroing`).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        offset: int,
        length: int,
        zeroed: Sequence[tuple[int, int]] = (),
    ) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self.offset = offset
        self.length = length
        self.zeroed = tuple(sorted(zeroed))
        self._position = 0
        self._handle: BinaryIO | None = None

    def __repr__(self) -> str:
        zeroed = f", zeroed={list(self.zeroed)}" if self.zeroed else ""
        return f"FileWindow({self.path!r}, offset={self.offset}, length={self.length}{zeroed})"

    def zeroing(self, spans: Sequence[tuple[int, int]]) -> FileWindow:
        """A new window over the same bytes that also reads ``spans`` as zeros."""
        return FileWindow(self.path, self.offset, self.length, (*self.zeroed, *spans))

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._check_open()
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        if whence == io.SEEK_SET:
            position = offset
        elif whence == io.SEEK_CUR:
            position = self._position + offset
        elif whence == io.SEEK_END:
            position = self.length + offset
        else:
            raise ValueError(f"invalid whence {whence!r}")
        if position < 0:
            raise ValueError("negative seek position")
        self._position = position
        return position

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        remaining = max(0, self.length - self._position)
        if size is None or size < 0 or size > remaining:
            size = remaining
        if size == 0:
            return b""
        if self._handle is None:
            self._handle = open(self.path, "rb")  # noqa: SIM115 - closed by close()
        self._handle.seek(self.offset + self._position)
        data = self._handle.read(size)
        if len(data) != size:
            raise OSError(f"{self.path} is shorter than when it was read (truncated?)")
        start = self._position
        self._position += size
        if self.zeroed:
            data = self._zero(data, start)
        return data

    def _zero(self, data: bytes, start: int) -> bytes:
        """``data`` (read from ``start``) with the zeroed ranges it overlaps zeroed."""
        end = start + len(data)
        overlapping = [(a, b) for a, b in self.zeroed if a < end and b > start]
        if not overlapping:
            return data
        buffer = bytearray(data)
        for a, b in overlapping:
            low, high = max(a, start) - start, min(b, end) - start
            buffer[low:high] = bytes(high - low)
        return bytes(buffer)

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        super().close()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on a closed FileWindow")


def read(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    defer_size: int | str | None = DEFAULT_DEFER_SIZE,
    force: bool = False,
) -> Dataset:
    """Read a DICOM file completely, leaving values larger than ``defer_size`` in it.

    The deferred values are read (or streamed by :class:`FileWindow`) only when needed;
    a deflated data set is read whole (it cannot be re-read piecewise). pydicom's
    warnings are not passed on (they may quote values).

    Raises:
        InputError: not a regular file (a FIFO, a device: checked before opening), not
            DICOM, no data set after the file meta, or truncated (an
            element, read or deferred, ends after the end of the file). The message
            quotes no value.
    """
    return read_counting_warnings(source, defer_size=defer_size, force=force)[0]


def read_counting_warnings(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    defer_size: int | str | None = DEFAULT_DEFER_SIZE,
    force: bool = False,
    describe: Callable[[BaseException], str] = lambda exc: type(exc).__name__,
) -> tuple[Dataset, int]:
    """:func:`read`, and how many warnings pydicom issued while reading.

    ``describe`` turns a reading error into the end of the :class:`InputError` message
    (default: its type only, which quotes nothing from the file).
    """
    if isinstance(source, str | os.PathLike):
        check_regular(source)  # a FIFO would block the open forever, a device never ends
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            dataset = dcmread(source, defer_size=defer_size, force=force)
            meta = getattr(dataset, "file_meta", None)
            if (
                defer_size is not None
                and meta is not None
                and meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian
            ):
                if not isinstance(source, str | os.PathLike):
                    source.seek(0)
                dataset = dcmread(source, force=force)
        except (MemoryError, RecursionError):
            raise InputError(
                "cannot read DICOM: the file is too large or too deeply nested"
            ) from None
        except Exception as exc:
            raise InputError(f"cannot read DICOM: {describe(exc)}") from None
    for warning in caught:
        text = str(warning.message).lower()
        if "eof" in text or "end of file" in text:
            raise InputError("cannot read DICOM: the file ends in the middle of the data set")
    check_complete(dataset)
    return dataset, len(caught)


def check_complete(dataset: Dataset) -> None:
    """Raise :class:`InputError` if ``dataset`` is empty or an element was cut short.

    Elements left in the file (deferred) must end within the file, and the last element
    must end where the file ends: pydicom stops reading, without a word, at a file that
    ends inside the header of an element (fewer than 8 bytes left), which dcmtk
    reports as a premature end.
    """
    elements = dataset._dict
    if not elements:
        raise InputError("no data set after the file meta information (truncated or empty)")
    size: int | None = None
    for tag, element in elements.items():
        if not isinstance(element, RawDataElement) or element.length == _UNDEFINED:
            continue
        if element.value is None and element.length:
            if size is None:
                size = _source_size(dataset)
            short = size is not None and element.value_tell + element.length > size
        else:
            short = isinstance(element.value, bytes) and len(element.value) < element.length
        if short:
            raise InputError(f"truncated: {_named(tag)} ends after the end of the file")
    _check_last_element_ends_the_file(dataset)


def _named(tag: int) -> str:
    """``element (gggg,eeee)``, or ``an element`` for a tag unknown to the dictionary."""
    # a tag read from something that is not DICOM is four bytes of its content
    known = tag & 0x10000 or bool(keyword_for_tag(tag))
    return f"element ({tag >> 16:04X},{tag & 0xFFFF:04X})" if known else "an element"


_SEQUENCE_DELIMITER = {True: b"\xfe\xff\xdd\xe0\0\0\0\0", False: b"\xff\xfe\xe0\xdd\0\0\0\0"}


def _check_last_element_ends_the_file(dataset: Dataset) -> None:
    """Raise :class:`InputError` when the last element of a file does not end it.

    A defined-length element ends at its value's end (its length is read back from the
    file for an element pydicom decoded while reading, such as Specific Character Set);
    an undefined-length one (an encapsulated or undefined-length sequence value) ends
    with its sequence delimitation item, which must then be the file's last 8 bytes.
    Data sets not read from a file, and deflated ones (their positions are in the
    inflated stream), are not checked.
    """
    meta = getattr(dataset, "file_meta", None)
    if meta is not None and meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian:
        return
    implicit, little = dataset.original_encoding
    if implicit is None or little is None:
        return
    last = next(reversed(dataset._dict.values()))  # type: ignore[call-overload]
    size = _source_size(dataset)
    if size is None:
        return
    start: int | None
    length: int | None
    if isinstance(last, RawDataElement):
        start, length = last.value_tell, last.length
    else:
        start, vr = getattr(last, "file_tell", None), last.VR
        if not start or (vr == "SQ" and not last.is_undefined_length):
            return  # not read from the file: nothing to check
        length = _UNDEFINED if vr == "SQ" else _length_before(dataset, start, vr, implicit, little)
    if start is None or length is None:
        return
    if length != _UNDEFINED:
        if start + length < size:
            raise InputError("truncated: the file ends inside the header of an element")
        if start + length > size:
            name = _named(int(last.tag))
            raise InputError(f"truncated: {name} ends after the end of the file")
        return
    tail = _source_bytes(dataset, size - 8, 8)
    if tail is not None and tail != _SEQUENCE_DELIMITER[little]:
        raise InputError("truncated: the file ends inside the header of an element")


def _length_before(
    dataset: Dataset, start: int, vr: str | None, implicit: bool, little: bool
) -> int | None:
    """The value length in the header of the element whose value starts at ``start``."""
    long_length = implicit or vr is None or vr in _LONG_VRS
    data = _source_bytes(dataset, start - (4 if long_length else 2), 4 if long_length else 2)
    if data is None or len(data) != (4 if long_length else 2):
        return None
    order = "<" if little else ">"
    return int(struct.unpack(order + ("L" if long_length else "H"), data)[0])


def _source_bytes(dataset: Dataset, offset: int, count: int) -> bytes | None:
    """``count`` bytes at ``offset`` of the file (or buffer) ``dataset`` was read from."""
    if offset < 0:
        return None
    buffer = getattr(dataset, "buffer", None)
    if buffer is not None:
        try:
            return bytes(buffer.getbuffer()[offset : offset + count])
        except (AttributeError, ValueError):
            return None
    filename = getattr(dataset, "filename", None)
    if not isinstance(filename, str) or not filename:
        return None
    try:
        with open(filename, "rb") as handle:
            handle.seek(offset)
            return handle.read(count)
    except OSError:
        return None


def _source_size(dataset: Dataset) -> int | None:
    buffer = getattr(dataset, "buffer", None)
    if buffer is not None:
        try:
            return len(buffer.getbuffer())
        except (AttributeError, ValueError):
            return None
    filename = getattr(dataset, "filename", None)
    if isinstance(filename, str) and filename:
        try:
            return os.stat(filename).st_size
        except OSError:
            return None
    return None


def deferred_window(source: Dataset, element: RawDataElement) -> FileWindow | None:
    """A :class:`FileWindow` over the value of a deferred (not yet read) raw element.

    None when the value cannot be streamed: it was read already; its length is odd or
    undefined; its VR is not one pydicom streams (OB, OW, OD, OF, OL, OV -- never UN, which
    may hide a sequence, see :mod:`idiscore.elements`); ``source`` was
    not read from a named file (or was inflated from a deflated one); or the value does
    not end within the file.
    """
    filename = getattr(source, "filename", None)
    vr = element.VR
    if vr is None:  # implicit VR: the VR idiscore.elements decodes it with
        vr = vr_of(element, creator_of(source, int(element.tag)))
    if (
        element.value is not None
        or element.length in (0, _UNDEFINED)
        or element.length % 2
        or vr not in BUFFERABLE_VRS
        or not isinstance(filename, str)
        or not filename
        or getattr(source, "buffer", None) is not None
    ):
        return None
    try:
        if element.value_tell + element.length > os.stat(filename).st_size:
            return None
    except OSError:
        return None
    return FileWindow(filename, element.value_tell, element.length)
