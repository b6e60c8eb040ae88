"""Reading and writing DICOM files without touching what does not change.

Most of a de-identified file is copied from its input: the elements no rule changes
are still the undecoded bytes pydicom read, and in an image the pixel data is by far
the largest of them. This module writes such elements as they are and streams large
values straight from the input file:

* :func:`read` -- :func:`pydicom.dcmread` that leaves values larger than ``defer_size``
  in the file and refuses truncated input (:func:`check_complete`);
* :class:`FileWindow` -- a read-only, seekable view of a byte range of a file, usable
  as the value of a pydicom data element (pydicom writes such *buffered* values in
  chunks, so a 2 GB multi-frame image never needs to be in memory);
* :func:`save` -- writes a dataset exactly as :meth:`pydicom.dataset.Dataset.save_as`
  (same bytes, tested) but copies raw elements with one ``write`` each instead of
  pydicom's general per-element encoder, remembers the encoding of short plain values
  that repeat across files, and copies streamed values file to file (by the kernel's
  ``copy_file_range`` where it can); anything unusual (another transfer syntax than the
  dataset was read with, a changed character set, deflate, undefined-length raw
  values, Pixel Data pydicom re-encodes) is handed to pydicom;
* :class:`OutputDataset` -- the :class:`~pydicom.dataset.FileDataset` that
  :class:`~idiscore.core.Core` returns, whose ``save_as`` uses the same writer, so that
  ``core.deidentify(dcmread(path)).save_as(out)`` is fast too.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import os
import secrets
import struct
import warnings
from collections.abc import Callable
from typing import IO, Any, BinaryIO

from pydicom import dcmread
from pydicom.charset import convert_encodings
from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset, validate_file_meta
from pydicom.filebase import DicomBytesIO, DicomFileLike, DicomIO, WriteableBuffer
from pydicom.filewriter import (
    correct_ambiguous_vr_element,
    write_data_element,
    write_dataset,
)
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.uid import DeflatedExplicitVRLittleEndian
from pydicom.valuerep import AMBIGUOUS_VR, BUFFERABLE_VRS

from idiscore.elements import creator_of, dictionary_vr, isolated, vr_of
from idiscore.errors import IDISCoreError, InputError, encoding_error
from idiscore.filekinds import check_regular

__all__ = [
    "DEFAULT_DEFER_SIZE",
    "FileWindow",
    "OutputDataset",
    "check_complete",
    "deferred_window",
    "dictionary_vr",
    "read",
    "read_counting_warnings",
    "save",
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
    temporary = os.path.join(
        folder, f".{os.path.basename(target)}.{secrets.token_hex(6)}.idiscore.tmp"
    )
    # created as open() creates files (mode 0o666 less the umask), never over another file
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with open(descriptor, "wb") as handle:
            _save_to(handle, dataset)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


class OutputDataset(FileDataset):
    """A :class:`~pydicom.dataset.FileDataset` whose :meth:`save_as` writes like :func:`save`.

    :class:`~idiscore.core.Core` returns its de-identified files as this class. Called
    with no option, :meth:`save_as` writes the bytes pydicom's ``save_as`` writes (tested
    on every bundled pydicom file), with the faster writer of :func:`save`. Like pydicom,
    and unlike :func:`save`, it writes a path in place: it follows a symbolic link and
    keeps an existing file's permissions, and an error can leave a partial file; use
    :func:`save` (or :meth:`~idiscore.core.Core.deidentify_file`) for a write that is
    never partial. With any option (``implicit_vr``, ``little_endian``,
    ``enforce_file_format``, ``overwrite=False``, ...) it is pydicom's ``save_as``.

    Its errors are idiscore's, as those of :class:`~idiscore.core.Core`: an error of the
    file system is passed on as the ``OSError`` it is; anything else (pydicom's
    refusals, its errors for a value it cannot encode, which quote the value) becomes an
    :class:`~idiscore.errors.EncodingError` (a ``ValueError``) naming only the error's
    type.
    """

    def save_as(
        self,
        filename: str | os.PathLike[Any] | BinaryIO | WriteableBuffer,
        write_like_original: bool | None = None,
        /,
        *,
        implicit_vr: bool | None = None,
        little_endian: bool | None = None,
        enforce_file_format: bool = False,
        overwrite: bool = True,
        **kwargs: Any,
    ) -> None:
        try:
            self._save_as(
                filename,
                write_like_original,
                implicit_vr=implicit_vr,
                little_endian=little_endian,
                enforce_file_format=enforce_file_format,
                overwrite=overwrite,
                **kwargs,
            )
        except IDISCoreError:
            raise
        except OSError as exc:
            if exc.errno is not None:
                raise  # the file system's: it names the file, never a value
            # pydicom's wrapper of an encoding error, which quotes the element
            raise encoding_error(exc, "cannot write the data set") from None
        except Exception as exc:
            raise encoding_error(exc, "cannot write the data set") from None

    def _save_as(
        self,
        filename: str | os.PathLike[Any] | BinaryIO | WriteableBuffer,
        write_like_original: bool | None,
        *,
        implicit_vr: bool | None,
        little_endian: bool | None,
        enforce_file_format: bool,
        overwrite: bool,
        **kwargs: Any,
    ) -> None:
        if (
            write_like_original is not None
            or implicit_vr is not None
            or little_endian is not None
            or enforce_file_format
            or not overwrite
            or kwargs
        ):
            super().save_as(
                filename,
                write_like_original,
                implicit_vr=implicit_vr,
                little_endian=little_endian,
                enforce_file_format=enforce_file_format,
                overwrite=overwrite,
                **kwargs,
            )
            return
        plan = _plan(self)  # refusals come before the file is opened, as with pydicom
        if plan is None:
            super().save_as(filename)
        elif isinstance(filename, str | os.PathLike):
            with open(filename, "wb") as handle:
                _write(handle, self, *plan)
        else:
            _write(filename, self, *plan)


def _save_to(handle: IO[bytes] | BinaryIO | WriteableBuffer, dataset: Dataset) -> None:
    plan = _plan(dataset)
    if plan is None:
        # pydicom decides (and refuses) as it always does, on a view: it decodes the
        # elements it writes into the dataset it is given
        Dataset.save_as(isolated(dataset), handle)
        return
    _write(handle, dataset, *plan)


def _plan(dataset: Dataset) -> tuple[FileMetaDataset | None, tuple[bool, bool]] | None:
    """The file meta and encoding this module's writer writes ``dataset`` with; None
    when pydicom must write it (see the module docs).

    Raises:
        ValueError: pydicom would refuse to write it (a preamble that is not 128 bytes,
            a non-group-2 element in the file meta), before anything is written.
    """
    meta = getattr(dataset, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    encoding = _encoding(dataset, syntax)
    if (
        encoding is None
        or encoding != dataset.original_encoding
        or dataset.original_character_set != dataset._character_set
        or syntax == DeflatedExplicitVRLittleEndian
        or _pixel_data_needs_pydicom(dataset, syntax)
        or any(tag >> 16 in (0, 2) for tag in dataset._dict)
    ):
        return None
    preamble = getattr(dataset, "preamble", None)
    if preamble and len(preamble) != 128:
        raise ValueError(f"'{type(dataset).__name__}.preamble' must be 128-bytes long")
    if meta:
        validate_file_meta(meta, enforce_standard=False)
    return meta, encoding


def _encoding(dataset: Dataset, syntax: Any) -> tuple[bool, bool] | None:
    """The (implicit VR, little endian) pydicom writes ``dataset`` with, if plain."""
    if syntax is None or syntax.is_private or not syntax.is_transfer_syntax:
        return None
    return (bool(syntax.is_implicit_VR), bool(syntax.is_little_endian))


def _pixel_data_needs_pydicom(dataset: Dataset, syntax: Any) -> bool:
    """True when pydicom would re-encode Pixel Data while writing (length mode, a VR
    of UN, an odd length)."""
    element = dataset._dict.get(BaseTag(_PIXEL_DATA))
    if element is None:
        return False
    if isinstance(element, RawDataElement):
        if element.VR == "UN" or (isinstance(element.value, bytes) and len(element.value) % 2):
            return True  # pydicom decodes it to write it: VR from the dictionary, padded
        undefined = element.length == _UNDEFINED
    else:
        undefined = bool(element.is_undefined_length)
    return undefined != bool(syntax.is_compressed)


def _write(
    handle: IO[bytes] | BinaryIO | WriteableBuffer,
    dataset: Dataset,
    meta: FileMetaDataset | None,
    encoding: tuple[bool, bool],
) -> None:
    fp = DicomFileLike(handle)
    fp.is_implicit_VR, fp.is_little_endian = encoding
    preamble = getattr(dataset, "preamble", None)
    if preamble:  # 128 bytes: checked by _plan
        fp.write(preamble)
        fp.write(b"DICM")
    if meta:
        _write_meta(fp, meta)
    _write_dataset(fp, dataset, encoding)


def _write_meta(fp: DicomIO, meta: FileMetaDataset) -> None:
    """pydicom's ``write_file_meta_info`` (not enforcing the standard), on a copy.

    The group length, when present, is the length of the elements after it. The meta
    was validated by :func:`_plan`.
    """
    body = DicomBytesIO()
    body.is_implicit_VR, body.is_little_endian = False, True
    view = FileMetaDataset()
    view._dict.update(meta._dict)
    view._dict.pop(BaseTag(0x00020000), None)
    implicit, little = meta.original_encoding
    view.set_original_encoding(implicit, little, meta.original_character_set)
    _write_dataset(body, view, (False, True))
    data = body.getvalue()
    if 0x00020000 in meta._dict:
        fp.write(struct.pack("<HH2sHL", 2, 0, b"UL", 4, len(data)))
    fp.write(data)


def _plain(dataset: Dataset) -> bool:
    """True when pydicom's re-encoding of ``dataset`` would change nothing.

    That is when every element is decoded already, none is a sequence and none has
    an ambiguous VR (such as ``US or SS``) to correct.
    """
    for element in dataset._dict.values():
        if (
            not isinstance(element, DataElement)
            or element.VR == "SQ"
            or element.VR in AMBIGUOUS_VR
        ):
            return False
    return True


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
    ) and not _plain(dataset):
        write_dataset(fp, isolated(dataset), parent_encoding=parent_charset)
        return
    implicit, little = encoding
    headers = _headers(little)
    implicit_header, short_header, long_header = headers
    charset = dataset.get("SpecificCharacterSet", parent_charset)
    write: Callable[[bytes], int] = fp.write
    elements = dataset._dict
    view: Dataset | None = None
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
        elif isinstance(value, FileWindow):
            if _write_window(fp, int(tag), element.VR or "", value, encoding):
                continue
        elif isinstance(element, DataElement):
            encoded = _encoded(element, value, charset, encoding)
            if encoded is not None:
                write(encoded)
                continue
        unknown_vr = element.VR is None or len(element.VR) != 2
        if isinstance(element, RawDataElement) and (value is None or unknown_vr):
            # a deferred value, or a value read without its VR (implicit VR data in a
            # file whose transfer syntax says explicit: no VR, or an ambiguous one) to be
            # written with one: pydicom decodes it (and reads a deferred value) to write
            # it, in a view
            if view is None:
                view = isolated(dataset, deep=False)
            if unknown_vr:
                element = correct_ambiguous_vr_element(view[tag], view, little)
            else:
                element = view.get_item(tag)
        write_data_element(fp, element, charset)


_COPY_CHUNK = 1 << 20


def _write_window(
    fp: DicomIO, tag: int, vr: str, window: FileWindow, encoding: tuple[bool, bool]
) -> bool:
    """A streamed value copied file to file (by the kernel where it can).

    Writes what pydicom writes for a buffered value; returns False (nothing written)
    for the cases left to pydicom (odd length, a short VR too long to encode).
    """
    implicit, little = encoding
    implicit_header, short_header, long_header = _headers(little)
    start = window.tell()
    length = window.length - start
    if length % 2 or length < 0 or not vr:
        return False
    if implicit:
        header = implicit_header(tag >> 16, tag & 0xFFFF, length)
    elif vr in _LONG_VRS:
        header = long_header(tag >> 16, tag & 0xFFFF, vr.encode(), 0, length)
    elif len(vr) == 2 and length <= 0xFFFF:
        header = short_header(tag >> 16, tag & 0xFFFF, vr.encode(), length)
    else:
        return False
    fp.write(header)
    target = getattr(fp, "parent", None)
    if not _copy_range(window, start, length, target):
        window.seek(start)
        while chunk := window.read(_COPY_CHUNK):
            fp.write(chunk)
    window.seek(start)
    return True


def _copy_range(window: FileWindow, start: int, length: int, target: Any) -> bool:
    """Copy with ``os.copy_file_range`` into ``target``'s file; False if not possible."""
    copy = getattr(os, "copy_file_range", None)
    if copy is None or target is None or not hasattr(target, "fileno"):
        return False
    try:
        destination = target.fileno()
    except (OSError, io.UnsupportedOperation):
        return False
    target.flush()
    position = os.lseek(destination, 0, os.SEEK_CUR)
    copied = 0
    try:
        with open(window.path, "rb") as source:
            while copied < length:
                done = copy(
                    source.fileno(), destination, length - copied, window.offset + start + copied
                )
                if done == 0:
                    raise OSError(f"{window.path} is shorter than when it was read (truncated?)")
                copied += done
    except OSError as exc:
        if copied == 0 and exc.errno in _NO_COPY_RANGE:
            os.lseek(destination, position, os.SEEK_SET)
            return False
        raise
    target.seek(position + length)
    return True


_NO_COPY_RANGE = frozenset(
    {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF}
)

_ENCODED: dict[tuple[Any, ...], bytes] = {}
_ENCODED_SIZE = 8192
_PLAIN = (str, int, float)
_DOUBLE = struct.Struct("<d").pack


def _frozen(value: Any) -> Any:
    """``value`` as a cache key part that is equal only for values encoded alike.

    Floats are keyed by their IEEE bytes (``0.0 == -0.0`` and NaNs never equal
    themselves), every value by its type (``1 == 1.0 == True``).
    """
    kind = type(value)
    if kind is float:
        return (kind, _DOUBLE(value))
    return (kind, value)


def _encoded(
    element: DataElement, value: Any, charset: Any, encoding: tuple[bool, bool]
) -> bytes | None:
    """pydicom's encoding of a short plain value, remembered: values repeat across files.

    Only values that are plain ``str``, ``int`` or ``float`` (or lists of them) are
    remembered, keyed by everything pydicom's encoder reads: tag, VR, the value (its
    type and, for floats, its bytes), character set and transfer syntax encoding.
    """
    kind = type(value)
    if kind in _PLAIN:
        if kind is str and len(value) > 1024:
            return None
        frozen: Any = (kind, _DOUBLE(value)) if kind is float else (kind, value)
    elif (kind is list or kind is MultiValue) and all(type(v) in _PLAIN for v in value):
        frozen = (kind, tuple(_frozen(v) for v in value))
    else:
        return None
    key = (
        element.tag,
        element.VR,
        frozen,
        charset if isinstance(charset, str) or charset is None else tuple(charset),
        encoding,
    )
    found = _ENCODED.get(key)
    if found is None:
        buffer = DicomBytesIO()
        buffer.is_implicit_VR, buffer.is_little_endian = encoding
        write_data_element(buffer, element, charset)
        found = buffer.getvalue()
        if len(_ENCODED) >= _ENCODED_SIZE:
            _ENCODED.clear()
        _ENCODED[key] = found
    return found


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
