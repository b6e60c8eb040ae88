"""Writing DICOM files: the bytes of pydicom's ``save_as``, without re-encoding what did
not change.

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
from collections.abc import Callable, Iterator
from typing import IO, Any, BinaryIO

from pydicom.charset import convert_encodings
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
from pydicom.valuerep import AMBIGUOUS_VR

from idiscore.elements import isolated
from idiscore.errors import IDISCoreError, encoding_error
from idiscore.fileio.reading import _LONG_VRS, _PIXEL_DATA, _UNDEFINED, FileWindow

__all__ = ["OutputDataset", "save"]


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
        with _idiscore_errors():
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


@contextlib.contextmanager
def _idiscore_errors() -> Iterator[None]:
    """Errors of writing as idiscore's: a file system ``OSError`` passes as it is (it
    names the file, never a value); pydicom's errors (and its ``OSError`` wrapper of an
    encoding error, which prints the element) become an :class:`EncodingError` naming
    the type only."""
    try:
        yield
    except IDISCoreError:
        raise
    except OSError as exc:
        if exc.errno is not None:
            raise
        raise encoding_error(exc, "cannot write the data set") from None
    except Exception as exc:
        raise encoding_error(exc, "cannot write the data set") from None


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
    if copy is None or target is None or not hasattr(target, "fileno") or window.zeroed:
        return False  # (zeroed ranges are applied by the window's read)
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
