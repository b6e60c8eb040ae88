"""Read-only access to a caller's dataset, and the shallow copy the pixel step works on.

Two rules keep the caller's dataset exactly as it was:

* Header values are read with :func:`read_element`, which converts a raw element into a
  :class:`~pydicom.dataelem.DataElement` *without* storing the conversion back into the
  dataset (``dataset[tag]`` would replace the raw element in place).
* Pixel cleaning happens on :func:`shallow_copy`, a new :class:`~pydicom.dataset.Dataset`
  whose dictionary holds the *same* element objects as the input. Elements that change are
  replaced by new :class:`~pydicom.dataelem.DataElement` objects with :func:`put`; a shared
  element is never modified (``new.Keyword = value`` would modify it in place, and with it
  the caller's dataset).

An element whose value was deferred when the file was read (``dcmread(...,
defer_size=...)``) is read from the file for the copy and for header reads, and stays
deferred in the caller's dataset (:func:`idiscore.elements.load_deferred`).
"""

from __future__ import annotations

import warnings
from collections.abc import MutableSequence
from typing import Any

from pydicom.charset import convert_encodings
from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import BaseTag, Tag

from idiscore.elements import decode, load_deferred

SPECIFIC_CHARACTER_SET = BaseTag(0x00080005)


def _encoding_of(dataset: Dataset) -> str | MutableSequence[str]:
    element = _item(dataset, SPECIFIC_CHARACTER_SET)
    if element is None:
        return "iso8859"
    if isinstance(element, RawDataElement):
        element = convert_raw_data_element(element, ds=None)
    value = element.value
    if not value:
        return "iso8859"
    try:
        return convert_encodings(value)
    except Exception:  # an unknown character set: header reads fall back to the default
        return "iso8859"


def _item(dataset: Dataset, tag: BaseTag) -> DataElement | RawDataElement | None:
    """The stored element, raw or not; a deferred value (not loaded yet, non-zero length)
    is read from the file without storing it in ``dataset`` (``get_item`` would convert
    it, and empty raw elements, in place)."""
    element = dataset._dict.get(tag)
    if isinstance(element, RawDataElement) and element.value is None and element.length:
        return load_deferred(dataset, element)
    return element


def _stored(dataset: Dataset, tag: BaseTag) -> DataElement | RawDataElement:
    element = _item(dataset, tag)
    assert element is not None  # tag comes from dataset.keys()
    return element


def read_element(dataset: Dataset, tag: int) -> DataElement | None:
    """Return the element ``tag`` of ``dataset`` (converted), or None; never stores anything."""
    element = _item(dataset, Tag(tag))
    if element is None or isinstance(element, DataElement):
        return element
    return decode(element, dataset, _encoding_of(dataset))


def read_value(dataset: Dataset, tag: int) -> Any:
    """Return the value of element ``tag`` (None when absent); never stores anything."""
    raw = dataset._dict.get(tag)  # type: ignore[call-overload]
    if (
        type(raw) is RawDataElement
        and type(raw.value) is bytes
        and len(raw.value) <= _REMEMBERED_LENGTH
        and not (tag >> 16) & 1
    ):
        key = (tag, raw.VR, raw.value, raw.is_implicit_VR, raw.is_little_endian)
        value = _VALUES.get(key, _VALUES)
        if value is not _VALUES:
            return value
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            element = read_element(dataset, tag)
        for warning in caught:  # passed on as they came, and never remembered
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
        value = None if element is None else element.value
        if (
            not caught
            and isinstance(value, str)
            and raw.value.isascii()
            and b"\x1b" not in raw.value
        ):
            # a short public header value (SOP class, modality, flags), read for every
            # dataset of a series: ASCII without ISO 2022 escapes decodes alike in every
            # character set; a str value is immutable
            if len(_VALUES) >= _REMEMBERED_VALUES:
                _VALUES.clear()
            _VALUES[key] = value
        return value
    element = read_element(dataset, tag)
    return None if element is None else element.value


#: :func:`read_value` remembers the decoded str values of raw public elements this short
_REMEMBERED_LENGTH = 64
_REMEMBERED_VALUES = 4096
_VALUES: dict[tuple[Any, ...], Any] = {}


def shallow_copy(dataset: Dataset) -> Dataset:
    """Return a new Dataset sharing the input's element objects, with a copied file meta."""
    new = Dataset({tag: _stored(dataset, tag) for tag in dataset.keys()})  # noqa: SIM118
    is_implicit, is_little = dataset.original_encoding
    if is_implicit is not None and is_little is not None:
        new.set_original_encoding(is_implicit, is_little, dataset.original_character_set)
    file_meta = getattr(dataset, "file_meta", None)
    if file_meta is not None:
        meta = FileMetaDataset()
        for tag in file_meta.keys():  # noqa: SIM118 (iterating converts)
            meta[tag] = _stored(file_meta, tag)
        new.file_meta = meta
    preamble = getattr(dataset, "preamble", None)
    if preamble is not None:
        new.preamble = preamble
    return new


def put(dataset: Dataset, keyword_or_tag: str | int, vr: str, value: Any) -> None:
    """Store a *new* element in ``dataset`` (never modifies a possibly shared element)."""
    tag = Tag(keyword_or_tag)
    dataset[tag] = DataElement(tag, vr, value)


def drop(dataset: Dataset, keyword_or_tag: str | int) -> None:
    """Remove an element from ``dataset`` if present (the element object is left as it is)."""
    tag = Tag(keyword_or_tag)
    if tag in dataset:
        del dataset[tag]
