"""Reading and writing DICOM files without touching what does not change.

Most of a de-identified file is copied from its input: the elements no rule changes
are still the undecoded bytes pydicom read, and in an image the pixel data is by far
the largest of them. This module writes such elements as they are and streams large
values straight from the input file:

* :func:`read` -- :func:`pydicom.dcmread` that leaves values larger than ``defer_size``
  in the file;
* :class:`FileWindow` -- a read-only, seekable view of a byte range of a file, usable
  as the value of a pydicom data element (pydicom writes such *buffered* values in
  chunks, so a 2 GB multi-frame image never needs to be in memory);
* :func:`save` -- writes a dataset exactly as :meth:`pydicom.dataset.Dataset.save_as`
  (same bytes, tested) but copies raw elements with one ``write`` each instead of
  pydicom's general per-element encoder; anything unusual (another transfer syntax
  than the dataset was read with, a changed character set, deflate, undefined-length
  raw values) is handed to pydicom.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import struct
import tempfile
from collections.abc import Callable
from typing import IO, Any, BinaryIO

from pydicom import dcmread
from pydicom.charset import convert_encodings
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO, DicomFileLike, DicomIO
from pydicom.filewriter import (
    dcmwrite,
    write_data_element,
    write_dataset,
    write_file_meta_info,
)
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.uid import DeflatedExplicitVRLittleEndian

__all__ = ["FileWindow", "read", "save"]

#: Values larger than this stay in the input file until written (see :func:`read`).
DEFAULT_DEFER_SIZE = 1 << 20

_UNDEFINED = 0xFFFFFFFF
_LONG_VRS = frozenset(
    {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}
)
_PIXEL_DATA = 0x7FE00010


class FileWindow(io.BufferedIOBase):
    """Read-only bytes ``offset .. offset + length`` of the file at ``path``.

    The file is opened on first read and closed by :meth:`close` (or when the window
    is garbage collected). Reading never changes the file.
    """

    def __init__(self, path: str | os.PathLike[str], offset: int, length: int) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self.offset = offset
        self.length = length
        self._position = 0
        self._handle: BinaryIO | None = None

    def __repr__(self) -> str:
        return f"FileWindow({self.path!r}, offset={self.offset}, length={self.length})"

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
        self._position += size
        return data

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
    """:func:`pydicom.dcmread` that leaves values larger than ``defer_size`` in the file.

    The deferred values are read (or streamed by :class:`FileWindow`) only when needed.
    """
    return dcmread(source, defer_size=defer_size, force=force)


def deferred_window(source: Dataset, element: RawDataElement) -> FileWindow | None:
    """A :class:`FileWindow` over the value of a deferred (not yet read) raw element.

    None when the value cannot be streamed: it was read already, its length is
    undefined, or ``source`` was not read from a named file.
    """
    filename = getattr(source, "filename", None)
    if (
        element.value is not None
        or element.length in (0, _UNDEFINED)
        or not isinstance(filename, str)
        or not filename
    ):
        return None
    return FileWindow(filename, element.value_tell, element.length)


def save(dataset: Dataset, destination: str | os.PathLike[str] | BinaryIO) -> None:
    """Write ``dataset`` as :meth:`~pydicom.dataset.Dataset.save_as` does, faster.

    The bytes written are those of ``dataset.save_as(destination)``. Raw elements of
    the encoding the dataset is written in are copied with a single write; everything
    else is encoded by pydicom. A path is written to a temporary file in the same
    folder, renamed over ``destination`` only when complete (never a partial file).
    """
    if not isinstance(destination, str | os.PathLike):
        _save_to(destination, dataset)
        return
    target = os.fspath(destination)
    folder = os.path.dirname(os.path.abspath(target))
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - renamed or removed below
        "wb", dir=folder, prefix=f".{os.path.basename(target)}.", suffix=".tmp", delete=False
    )
    try:
        with handle:
            _save_to(handle, dataset)
        os.replace(handle.name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)
        raise


def _save_to(handle: IO[bytes] | BinaryIO, dataset: Dataset) -> None:
    meta = getattr(dataset, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    encoding = _encoding(dataset, syntax)
    if (
        encoding is None
        or encoding != dataset.original_encoding
        or dataset.original_character_set != dataset._character_set
        or syntax == DeflatedExplicitVRLittleEndian
        or _pixel_length_mismatch(dataset, syntax)
        or any(tag >> 16 in (0, 2) for tag in dataset._dict)
    ):
        dcmwrite(handle, dataset)
        return
    _write(handle, dataset, meta, encoding)


def _encoding(dataset: Dataset, syntax: Any) -> tuple[bool, bool] | None:
    """The (implicit VR, little endian) pydicom writes ``dataset`` with, if plain."""
    if syntax is None or syntax.is_private or not syntax.is_transfer_syntax:
        return None
    return (bool(syntax.is_implicit_VR), bool(syntax.is_little_endian))


def _pixel_length_mismatch(dataset: Dataset, syntax: Any) -> bool:
    """True when pydicom would change Pixel Data's length mode while writing."""
    element = dataset._dict.get(BaseTag(_PIXEL_DATA))
    if element is None:
        return False
    if isinstance(element, RawDataElement):
        undefined = element.length == _UNDEFINED
    else:
        undefined = bool(element.is_undefined_length)
    return undefined != bool(syntax.is_compressed)


def _write(
    handle: IO[bytes], dataset: Dataset, meta: FileMetaDataset | None, encoding: tuple[bool, bool]
) -> None:
    fp = DicomFileLike(handle)
    fp.is_implicit_VR, fp.is_little_endian = encoding
    preamble = getattr(dataset, "preamble", None)
    if preamble:
        if len(preamble) != 128:
            raise ValueError(f"'{type(dataset).__name__}.preamble' must be 128-bytes long")
        fp.write(preamble)
        fp.write(b"DICM")
    if meta:
        # pydicom writes a copy of the file meta: do not change the caller's group length
        own = FileMetaDataset()
        own._dict.update(meta._dict)
        implicit, little = meta.original_encoding
        own.set_original_encoding(implicit, little, meta.original_character_set)
        if 0x00020000 in own._dict:
            own[0x00020000] = DataElement(0x00020000, "UL", 0)
        write_file_meta_info(fp, own, enforce_standard=False)
    _write_dataset(fp, dataset, encoding)


def _write_dataset(
    fp: DicomIO,
    dataset: Dataset,
    encoding: tuple[bool, bool],
    parent_charset: str | list[str] = "iso8859",
) -> None:
    """pydicom's ``write_dataset``, with raw values and sequences written directly.

    A dataset (or item) whose elements pydicom would re-encode (another encoding or
    character set than it was read with) is handed to pydicom as a whole.
    """
    if (
        dataset.original_encoding != encoding
        or dataset.original_character_set != dataset._character_set
    ):
        write_dataset(fp, dataset, parent_encoding=parent_charset)
        return
    implicit, little = encoding
    headers = _headers(little)
    implicit_header, short_header, long_header = headers
    charset = dataset.get("SpecificCharacterSet", parent_charset)
    write: Callable[[bytes], int] = fp.write
    elements = dataset._dict
    for tag in sorted(elements):
        if tag & 0xFFFF == 0 and tag >> 16 > 6:
            continue  # retired group length, as pydicom
        element = elements[tag]
        value = element.value
        if (
            isinstance(element, RawDataElement)
            and type(value) is bytes
            and element.length != _UNDEFINED
        ):
            vr = element.VR
            length = len(value)
            if implicit:
                write(implicit_header(tag >> 16, tag & 0xFFFF, length) + value)
                continue
            if vr is not None and len(vr) == 2:
                if vr in _LONG_VRS:
                    write(long_header(tag >> 16, tag & 0xFFFF, vr.encode(), 0, length) + value)
                    continue
                if length <= 0xFFFF:
                    write(short_header(tag >> 16, tag & 0xFFFF, vr.encode(), length) + value)
                    continue
        elif (
            isinstance(element, DataElement) and element.VR == "SQ" and isinstance(value, Sequence)
        ):
            _write_sequence(fp, element, value, charset, encoding)
            continue
        write_data_element(fp, dataset.get_item(tag), charset)


@functools.cache
def _headers(
    little: bool,
) -> tuple[Callable[..., bytes], Callable[..., bytes], Callable[..., bytes]]:
    order = "<" if little else ">"
    return (
        struct.Struct(order + "HHL").pack,
        struct.Struct(order + "HH2sH").pack,
        struct.Struct(order + "HH2sHL").pack,
    )


def _write_sequence(
    fp: DicomIO,
    element: DataElement,
    items: Sequence,
    charset: str | list[str] | None,
    encoding: tuple[bool, bool],
) -> None:
    """A sequence element as pydicom writes it (items with their lengths)."""
    implicit, little = encoding
    encodings = convert_encodings(charset or "iso8859")
    implicit_header = _headers(little)[0]
    body = DicomBytesIO()
    body.is_implicit_VR, body.is_little_endian = encoding
    for item in items:
        content = DicomBytesIO()
        content.is_implicit_VR, content.is_little_endian = encoding
        _write_dataset(content, item, encoding, encodings)
        data = content.getvalue()
        if getattr(item, "is_undefined_length_sequence_item", False):
            body.write(implicit_header(0xFFFE, 0xE000, _UNDEFINED) + data)
            body.write(implicit_header(0xFFFE, 0xE00D, 0))
        else:
            body.write(implicit_header(0xFFFE, 0xE000, len(data)) + data)
    value = body.getvalue()
    undefined = bool(element.is_undefined_length)
    length = _UNDEFINED if undefined else len(value)
    tag = int(element.tag)
    if implicit:
        header = implicit_header(tag >> 16, tag & 0xFFFF, length)
    else:
        header = _headers(little)[2](tag >> 16, tag & 0xFFFF, b"SQ", 0, length)
    fp.write(header + value)
    if undefined:
        fp.write(implicit_header(0xFFFE, 0xE0DD, 0))
