"""What an element is: its VR, whether it is a sequence, its decoded value.

The one authority the rest of idiscore asks -- the rule walker of
:class:`~idiscore.core.Core`, its raw fast paths, the streaming of deferred values
(:mod:`idiscore.fileio`), ``idiscore explain`` and every operator that reads an element
(:func:`~idiscore.operators.values.read_element`). It answers as pydicom decodes:

* an element read with its VR (explicit VR) has that VR, except ``UN``: pydicom
  replaces ``UN`` by the VR of the public dictionary (values shorter than 64 KiB) or of
  the private dictionary for the element's private creator
  (``pydicom.config.replace_un_with_known_vr``);
* an element read without VR (implicit VR) has the VR of the public dictionary, else of
  the private dictionary for its creator, else ``UN`` (private creators are ``LO``, group
  lengths ``UL``);
* an element whose VR is still ``UN`` is a **sequence** when its length is undefined or
  its value starts with an item tag (FFFE,E000) -- PS3.5 §6.2.2: a sequence whose VR is
  unknown is encoded as Implicit VR Little Endian, of defined or undefined length. Both
  byte orders of the item tag are recognised; the items are read in the order found.

* an element read with an explicit VR other than ``SQ`` and ``UN`` (``OB``, ``LO`` ...)
  whose tag the DICOM dictionary gives VR ``SQ`` is a **sequence** too, whatever its
  value: a writer that got the VR wrong still wrote items, and bytes in a sequence's
  place are never copied unexamined. pydicom would keep the wrong VR; here the value is
  read as items, and a value that is not items is a
  :class:`~idiscore.errors.DeidentificationError` (the dataset is refused).

So a sequence hidden behind ``UN`` (a standard sequence written by a system that did not
know it, a private sequence of an unknown creator, an implicit VR private sequence) is a
sequence here, is decoded (:func:`decode`) and its items are walked by the rules of their
own tags -- never copied as bytes. When a value looks like a sequence but cannot be read
as one, :func:`decode` raises :class:`~idiscore.errors.DeidentificationError` rather
than guess.

**Output.** A sequence decoded from ``UN`` is written as ``SQ`` (what PS3.5 intends:
``UN`` only stands for a VR the writer did not know). Its items keep the encoding they
were read with (implicit VR little endian) and the writer converts them to the output's.

**The caller's dataset is never changed.** pydicom's ``dataset[tag]``,
``dataset.get(...)``, attribute access and ``get_item`` of a deferred value store the
decoded element back into the dataset. :func:`read`, :func:`decode` and
:func:`creator_of` read ``dataset._dict`` and never store; :func:`isolated` gives a
dataset whose element dictionaries are copies, for code (bouncers, pixel processing,
third-party operators) that reads with pydicom's accessors.
"""

from __future__ import annotations

import functools
import io
import warnings
from collections.abc import MutableSequence
from typing import Any

from pydicom import config
from pydicom._dicom_dict import DicomDictionary
from pydicom.datadict import dictionary_VR, private_dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag

from idiscore.errors import DeidentificationError, InputError

__all__ = [
    "SEQUENCE_TAGS",
    "UNDEFINED_LENGTH",
    "creator_of",
    "decode",
    "dictionary_vr",
    "is_sequence",
    "isolated",
    "load_deferred",
    "looks_like_items",
    "private_vr",
    "read",
    "vr_of",
]

SQ = "SQ"
UN = "UN"
UNDEFINED_LENGTH = 0xFFFFFFFF
_ITEM_LITTLE = b"\xfe\xff\x00\xe0"
_ITEM_BIG = b"\xff\xfe\xe0\x00"
_NO_CREATOR: Any = object()
#: Item and sequence delimitation tags, in both byte orders: how items start.
_ITEM_STARTS = frozenset({_ITEM_LITTLE, _ITEM_BIG, b"\xfe\xff\xdd\xe0", b"\xff\xfe\xe0\xdd"})
#: Standard tags whose dictionary VR is SQ.
SEQUENCE_TAGS: frozenset[int] = frozenset(
    tag for tag, entry in DicomDictionary.items() if entry[0] == SQ
)


@functools.lru_cache(maxsize=4096)
def dictionary_vr(tag: int) -> str:
    """The VR the DICOM dictionary gives ``tag`` (``UN`` when it has none)."""
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return UN


@functools.lru_cache(maxsize=4096)
def private_vr(tag: int, creator: str | None) -> str:
    """The VR of private element ``tag`` of ``creator`` in pydicom's private dictionary
    (``LO`` for a private creator element, ``UN`` when unknown)."""
    number = tag & 0xFFFF
    if 0x10 <= number <= 0xFF:
        return "LO"
    if creator is None or number < 0x100:
        return UN
    try:
        return str(private_dictionary_VR(tag, creator))
    except KeyError:
        return UN


def creator_of(dataset: Dataset, tag: int) -> str | None:
    """The private creator that reserved the block of private element ``tag`` in
    ``dataset`` (padding and outer spaces removed), read without changing ``dataset``."""
    group, number = tag >> 16, tag & 0xFFFF
    if not group & 1 or number < 0x100:
        return None
    element = dataset._dict.get(BaseTag((group << 16) | (number >> 8)))
    if element is None:
        return None
    value = element.value
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str):
        return None
    return value.strip(" \x00")


def vr_of(element: DataElement | RawDataElement, creator: str | None = None) -> str:
    """The VR pydicom decodes ``element`` with (``creator``: its private creator).

    ``UN`` means the VR is unknown: :func:`is_sequence` then looks at the value.
    """
    vr = element.VR
    if type(element) is not RawDataElement:
        return str(vr)
    tag = int(element.tag)
    if vr is None:
        vr = dictionary_vr(tag)
        if vr == UN:
            if (tag >> 16) & 1:
                vr = private_vr(tag, creator)
            elif tag & 0xFFFF == 0:
                vr = "UL"
    elif vr == UN and config.replace_un_with_known_vr:
        if (tag >> 16) & 1:
            vr = private_vr(tag, creator)
        elif element.value is None or len(element.value) < 0xFFFF:
            vr = dictionary_vr(tag)
    return str(vr)


def looks_like_items(head: bytes | None) -> bool:
    """True when a value starts with an item tag (FFFE,E000), in either byte order."""
    return head is not None and head[:4] in (_ITEM_LITTLE, _ITEM_BIG)


def is_sequence(element: DataElement | RawDataElement, creator: str | None = None) -> bool:
    """Whether ``element`` is a sequence: VR SQ, or a VR pydicom cannot tell (``UN``)
    and a value of undefined length or that starts with an item tag.

    A deferred value (not read yet) is judged on its VR only: read it (or its first four
    bytes, see :func:`looks_like_items`) before deciding that a ``UN`` is not a sequence.
    """
    vr = element.VR
    if vr == SQ:
        return True
    if vr is not None and vr != UN:
        # a standard sequence written with a wrong explicit VR is still a sequence
        return type(element) is RawDataElement and int(element.tag) in SEQUENCE_TAGS
    if isinstance(element, RawDataElement):
        vr = vr_of(element, creator)
        if vr != UN:
            return vr == SQ
        if element.length == UNDEFINED_LENGTH:
            return True
    elif element.is_undefined_length:
        return True
    value = element.value
    return isinstance(value, bytes) and looks_like_items(value)


def load_deferred(dataset: Dataset, element: RawDataElement) -> RawDataElement:
    """A deferred (not yet read) raw element with its value, read from the file that
    ``dataset`` was read from; ``dataset`` keeps its deferred element.

    Raises:
        InputError: the value cannot be read any more (file changed, deleted, deflated).
    """
    if element.value is not None or not element.length:
        return element
    from pydicom.filereader import read_deferred_data_element

    # a data set read from a buffer, or inflated from a deflated file, is re-read from
    # that buffer; else from its file
    origin = getattr(dataset, "buffer", None)
    if origin is None:
        origin = getattr(dataset, "filename", None) or None
    if origin is None:
        return element
    try:
        return read_deferred_data_element(
            getattr(dataset, "fileobj_type", open),
            origin,
            getattr(dataset, "timestamp", None),
            element,
        )
    except Exception as exc:
        tag = int(element.tag)
        raise InputError(
            f"the deferred value of ({tag >> 16:04X},{tag & 0xFFFF:04X}) cannot be read "
            f"({type(exc).__name__}: {exc}); read the file without defer_size"
        ) from exc


def decode(
    element: DataElement | RawDataElement,
    dataset: Dataset,
    encoding: str | MutableSequence[str],
    creator: str | None = _NO_CREATOR,
) -> DataElement:
    """``element`` of ``dataset`` with its value decoded, as pydicom decodes it, except
    that a sequence hidden behind ``UN`` (see :func:`is_sequence`) becomes ``SQ``.

    ``dataset`` is not changed. ``creator`` is the private creator of ``element`` when
    the caller knows it already (else it is looked up). A deferred value must have been
    read (:func:`load_deferred`).

    Raises:
        DeidentificationError: the value looks like a sequence but is not one.
    """
    if creator is _NO_CREATOR:
        creator = creator_of(dataset, int(element.tag))
    if not isinstance(element, RawDataElement):
        if element.VR == UN and isinstance(element.value, bytes) and is_sequence(element):
            return _sequence(element.tag, element.value, True, element.file_tell, encoding)
        return element
    vr = vr_of(element, creator)
    if element.VR != SQ and vr != SQ and int(element.tag) in SEQUENCE_TAGS:
        vr = UN  # a standard sequence behind a wrong explicit VR: read as items
    if element.VR != SQ and vr in (UN, SQ) and is_sequence(element, creator):
        return _sequence(
            element.tag,
            element.value or b"",
            element.is_little_endian,
            element.value_tell,
            encoding,
            undefined=element.length == UNDEFINED_LENGTH,
        )
    if vr != element.VR:
        element = element._replace(VR=vr)
    # ds=None: the VR is known already; pydicom would look the creator up with
    # dataset.get(), which stores the decoded creator back into the dataset
    return convert_raw_data_element(element, encoding=encoding, ds=None)


def _sequence(
    tag: BaseTag,
    value: bytes,
    little: bool,
    offset: int | None,
    encoding: str | MutableSequence[str],
    *,
    undefined: bool = False,
) -> DataElement:
    """Items read from a value in Implicit VR (PS3.5 §6.2.2)."""
    if value and value[:4] not in _ITEM_STARTS:
        raise DeidentificationError(
            "the value stands where a sequence is but does not start with an item",
            tag=BaseTag(tag),
        )
    if value[:4] == _ITEM_BIG:
        little = False
    elif value[:4] == _ITEM_LITTLE:
        little = True
    from pydicom.filereader import read_sequence

    encodings = [encoding] if isinstance(encoding, str) else list(encoding)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom's warnings may quote values
            items = read_sequence(io.BytesIO(value), True, little, len(value), encodings, 0)
    except Exception as exc:
        raise DeidentificationError(
            f"the value looks like a sequence (VR UN, item tag) but its items cannot be "
            f"read ({type(exc).__name__})",
            tag=BaseTag(tag),
        ) from None
    items.is_undefined_length = undefined
    return DataElement(tag, SQ, items, offset, undefined, already_converted=True)


def read(dataset: Dataset, tag: int, encoding: str | list[str]) -> DataElement:
    """Element ``tag`` of ``dataset``, decoded (see :func:`decode`), without changing
    ``dataset`` (a deferred value is read from the file and not stored).

    Raises:
        KeyError: ``dataset`` has no element ``tag``.
    """
    element = dataset._dict[BaseTag(tag)]
    if type(element) is RawDataElement and element.value is None and element.length:
        element = load_deferred(dataset, element)
    return decode(element, dataset, encoding)


def isolated(dataset: Dataset, *, deep: bool = True) -> Dataset:
    """A dataset that looks like ``dataset`` and shares its elements, but not its element
    dictionaries: what pydicom's accessors store (decoded elements, loaded deferred
    values) goes into the copy. Items of decoded sequences (unless ``deep`` is False)
    and the file meta are isolated the same way; raw elements are immutable and shared.
    """
    view: Dataset = object.__new__(type(dataset))
    state = view.__dict__
    state.update(dataset.__dict__)
    elements = dict(dataset._dict)
    for tag, element in elements.items() if deep else ():
        if (
            type(element) is not RawDataElement
            and element.VR == SQ
            and isinstance(element.value, Sequence)
            and len(element.value)
        ):
            items = Sequence([isolated(item) for item in element.value])
            items.is_undefined_length = getattr(element.value, "is_undefined_length", False)
            copy = DataElement(
                element.tag,
                SQ,
                items,
                element.file_tell,
                element.is_undefined_length,
                already_converted=True,
            )
            elements[tag] = copy
    state["_dict"] = elements
    blocks = state.get("_private_blocks")
    if isinstance(blocks, dict):
        state["_private_blocks"] = dict(blocks)
    meta = state.get("file_meta")
    if isinstance(meta, Dataset):
        state["file_meta"] = isolated(meta)
    return view
