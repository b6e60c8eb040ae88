"""Step 3 of :class:`~idiscore.core.Core`: one walk over a dataset and its items.

:class:`Walker` gives every element of a dataset, of its file meta and of every nested
sequence item the rule compiled for its own tag (and private creator), and builds the
new dataset from what the operators return. Values are decoded only when an operator
needs them: kept elements are shared as the input's raw bytes, and the built-in
operators whose result does not depend on a value's meaning have raw fast paths that
give the operator's bytes (``tests/test_fast_paths.py`` and ``test_deidentify_file.py``
compare them with the long way). :mod:`idiscore.elements` decides what a sequence is,
whatever its encoding: sequences are decoded and walked, never copied.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import BaseTag
from pydicom.uid import UID

from idiscore.elements import (
    SEQUENCE_TAGS,
    decode,
    is_sequence,
    load_deferred,
    looks_like_items,
    vr_of,
)
from idiscore.errors import DatasetRejectedError, DeidentificationError, IDISCoreError, InputError
from idiscore.fileio import deferred_window
from idiscore.identifiers import normalise_creator, tag_string
from idiscore.operators.base import Context, Operator
from idiscore.operators.basic import Clean, Empty, HashUID, Keep, Remove, SetFixedValue
from idiscore.operators.safe_private import KeepAsDeclared
from idiscore.operators.values import TEXT_VRS, FinalElement, charset_of, empty_item
from idiscore.profile import CompiledRules
from idiscore.rules import Rule

__all__ = ["Walker", "describe_dataset"]

_SQ = "SQ"
_SOP_CLASS_UID = 0x00080016


def describe_dataset(dataset: Dataset) -> str:
    """A file-level description that contains no element value."""
    filename = getattr(dataset, "filename", None)
    if isinstance(filename, str) and filename:
        return f"file {filename}"
    raw = dataset.get_item(_SOP_CLASS_UID)
    if raw is not None and raw.value:
        value = raw.value.decode("ascii", "replace") if isinstance(raw.value, bytes) else raw.value
        uid = UID(str(value).strip(" \x00"))
        return f"dataset of SOP class {uid.name}"
    return "dataset"


def _private_creator(dataset: Dataset, group: int, block: int) -> str | None:
    """The creator string reserving ``block`` of private ``group`` in ``dataset``."""
    element = dataset._dict.get(BaseTag((group << 16) | block))
    if element is None or not isinstance(element.value, bytes | str):
        return None
    return normalise_creator(element.value)


def _copy(element: DataElement | RawDataElement) -> DataElement | RawDataElement:
    """An element safe to put in the output: raw elements are immutable and shared."""
    if isinstance(element, RawDataElement):
        return element
    value = element.value
    if isinstance(value, MultiValue | list):
        value = list(value)
    return DataElement(element.tag, element.VR, value)


def _load_deferred(source: Dataset, element: RawDataElement) -> RawDataElement:
    """The value of a deferred-read element, read from the file without changing ``source``.

    (``source[tag]`` would store the loaded element back into the caller's dataset.)
    """
    try:
        return load_deferred(source, element)
    except InputError as exc:
        raise InputError(f"{describe_dataset(source)}: {exc}") from exc


_UNCHANGED: Any = object()
_CLEAN_CACHE: dict[tuple[Any, ...], Any] = {}
_CLEAN_CACHE_SIZE = 4096  # cleared when full; repeats come from the same series


def _raw_empty(element: RawDataElement) -> RawDataElement:
    """*Empty* on a raw element: the same element with a zero-length value."""
    return element._replace(length=0, value=b"")


#: VRs whose *Clean* result depends only on the value, its VR and character set and the
#: dataset's identifying values: free text (cleaned), and AE, AS, CS and PN (the dummy of
#: Replace, one per value). Not dates (the shift is the patient's) nor UIDs (the key's).
_REMEMBERED_CLEAN = TEXT_VRS | {"AE", "AS", "CS", "PN"}

#: Text VRs pydicom encodes as the value's bytes padded with one space to an even length.
_SPACE_PADDED = frozenset({"AE", "CS", "LO", "LT", "SH", "ST", "UC", "UR", "UT"})


def _raw_fixed(element: RawDataElement, vr: str, value: Any) -> RawDataElement | None:
    """*SetFixedValue* of one ASCII text value on a raw text element, encoded as pydicom
    does (ASCII is the same bytes in every DICOM character set). None for anything else
    (the operator then handles it)."""
    if not isinstance(value, str) or not value.isascii() or "\\" in value:
        return None
    if vr not in _SPACE_PADDED:
        return None
    data = value.encode("ascii")
    if len(data) % 2:
        data += b" "
    return element._replace(length=len(data), value=data)


def _raw_uids(element: RawDataElement, uid: Callable[[str], str]) -> RawDataElement | None:
    """*HashUID* on a raw UI element, decoded and encoded as pydicom does.

    Returns the element itself when it has no value (as the operator does), None when
    the value is not plain ASCII (the operator then handles it).
    """
    value = element.value
    if not value:  # empty (pydicom reads an empty implicit VR value as None)
        return element
    try:
        text = value.decode("ascii").rstrip("\0 ")
    except UnicodeDecodeError:
        return None
    if not text:
        return element
    try:
        new = "\\".join(uid(part.strip()) for part in text.split("\\")).encode("ascii")
    except Exception:  # the operator reports it, with the element's path
        return None
    if len(new) % 2:
        new += b"\0"
    return element._replace(length=len(new), value=new)


class Walker:
    """One walk over a dataset and all nested items, applying compiled rules.

    Elements are decoded only when an operator needs their value. The built-in
    operators whose result does not depend on the value's meaning have raw fast
    paths that give the same bytes as the operator (tested against it): *Empty*
    becomes a raw zero-length element, *HashUID* maps the raw UID bytes. An operator
    that returns the element it was given unchanged gets the input's raw element,
    byte for byte.
    """

    __slots__ = ("_describe_source", "lookup", "raw_fast_paths", "stream_deferred")

    def __init__(
        self,
        rules: CompiledRules,
        source: Dataset,
        *,
        raw_fast_paths: bool = True,
        stream_deferred: bool = False,
    ) -> None:
        self.lookup = rules.lookup
        self._describe_source = source
        self.raw_fast_paths = raw_fast_paths
        self.stream_deferred = stream_deferred

    @property
    def describe(self) -> str:
        return describe_dataset(self._describe_source)

    def walk(self, source: Dataset, context: Context, out: Dataset) -> None:
        lookup = self.lookup
        fast = self.raw_fast_paths
        creators: dict[int, DataElement | RawDataElement] = {}
        creator_names: dict[int, str | None] = {}
        kept_blocks: set[int] = set()
        out_dict = out._dict
        items: list[tuple[BaseTag, DataElement | RawDataElement]] = list(source._dict.items())
        for source_tag, element in items:
            tag = int(source_tag)  # plain ints hash and compare faster than BaseTag
            key = source_tag if type(source_tag) is BaseTag else BaseTag(tag)
            group = tag >> 16
            number = tag & 0xFFFF
            if number == 0:
                continue  # group lengths: retired, recomputed where needed
            if group & 1:
                if number < 0x10:
                    continue  # not a valid private element
                if number <= 0xFF:
                    creators[tag] = element
                    continue
                block_key = (group << 8) | (number >> 8)
                if block_key not in creator_names:
                    creator_names[block_key] = _private_creator(source, group, number >> 8)
                creator = creator_names[block_key]
                rule = lookup(tag, creator)
            else:
                block_key = -1
                creator = None
                rule = lookup(tag, None)

            if type(element) is FinalElement:
                out_dict[key] = DataElement(element.tag, element.VR, element.value)
                if block_key >= 0:
                    kept_blocks.add(block_key)
                continue

            operation = None if rule is None else rule.operation
            kind = type(operation)
            if kind is Remove:
                continue
            raw = element if type(element) is RawDataElement else None
            if raw is not None and raw.value is None and raw.length:
                loaded = self._deferred(source, raw, operation, creator)
                if type(loaded) is not RawDataElement:
                    out_dict[key] = loaded  # a streamed value: kept as it is
                    if block_key >= 0:
                        kept_blocks.add(block_key)
                    continue
                element = raw = loaded
            result: DataElement | RawDataElement | None
            # idiscore.elements decides what a sequence is (VR SQ, or UN / implicit VR
            # values that hold items): sequences are decoded and walked, never copied
            if operation is None or kind is Keep:
                if is_sequence(element, creator):
                    decoded = self._decoded(element, source, context, creator, rule)
                    result = self._sequence(decoded, context)
                else:
                    result = _copy(element)
            else:
                assert rule is not None
                sequence = is_sequence(element, creator)
                operation = operation.resolve(tag, sequence, context)
                kind = type(operation)
                if kind is Remove:
                    continue
                if kind is Keep:
                    result = (
                        self._sequence(
                            self._decoded(element, source, context, creator, rule), context
                        )
                        if sequence
                        else _copy(element)
                    )
                elif sequence or not fast or raw is None or raw.VR == "UN":
                    result = self._apply(rule, operation, source, tag, context, element, creator)
                elif kind is Empty:
                    result = _raw_empty(raw)
                elif kind is Clean and (vr := raw.VR or vr_of(raw, creator)) in _REMEMBERED_CLEAN:
                    result = self._clean_text(raw, vr, rule, operation, source, context, creator)
                elif kind is SetFixedValue:
                    result = _raw_fixed(
                        raw,
                        raw.VR or vr_of(raw, creator),
                        operation.value,  # type: ignore[attr-defined]
                    )
                    if result is None:  # not one ASCII text value: let the operator do it
                        result = self._apply(
                            rule, operation, source, tag, context, element, creator
                        )
                elif (
                    kind is KeepAsDeclared
                    and raw.VR
                    and (kept := operation.keeps_encoded(raw.VR, raw.value or b"")) is not None  # type: ignore[attr-defined]
                ):
                    result = raw if kept else None
                elif kind is HashUID and (raw.VR or vr_of(raw, creator)) == "UI":
                    result = _raw_uids(raw, context.pseudonymizer.uid)
                    if result is None:  # not plain UIDs: let the operator decide
                        result = self._apply(
                            rule, operation, source, tag, context, element, creator
                        )
                else:
                    result = self._apply(rule, operation, source, tag, context, element, creator)
                if result is None:
                    continue
            if block_key >= 0:
                kept_blocks.add(block_key)
            if type(result) is not RawDataElement and result.VR == _SQ:
                out[key] = result
            else:
                out_dict[key] = result
        for creator_tag, creator_element in creators.items():
            if ((creator_tag >> 16) << 8) | (creator_tag & 0xFF) in kept_blocks:
                out_dict[BaseTag(creator_tag)] = _copy(creator_element)

    def _clean_text(
        self,
        raw: RawDataElement,
        vr: str,
        rule: Rule,
        operation: Operator,
        source: Dataset,
        context: Context,
        creator: str | None,
    ) -> DataElement | RawDataElement | None:
        """*Clean* on free text (and the VRs of ``_REMEMBERED_CLEAN``), remembered by raw
        value: descriptions, station names repeat in a series.

        The result depends only on the operator, the value, its VR and character set
        and the dataset's identifying values, which are all part of the key.
        """
        encoding = context.encoding
        key = (
            operation,
            vr,
            raw.value,
            encoding if isinstance(encoding, str) else tuple(encoding),
            context.identifying_values,
        )
        hit = _CLEAN_CACHE.get(key)
        tag = int(raw.tag)
        if hit is None:
            result = self._apply(rule, operation, source, tag, context, raw, creator)
            if result is raw:
                hit = _UNCHANGED
            elif isinstance(result, DataElement) and isinstance(result.value, str | list):
                hit = (
                    result.VR,
                    result.value if isinstance(result.value, str) else tuple(result.value),
                )
            else:
                return result  # not a plain text value: not remembered
            if len(_CLEAN_CACHE) >= _CLEAN_CACHE_SIZE:
                _CLEAN_CACHE.clear()
            _CLEAN_CACHE[key] = hit
            return result
        if hit is _UNCHANGED:
            return raw
        vr, value = hit
        return DataElement(BaseTag(tag), vr, value if isinstance(value, str) else list(value))

    def _deferred(
        self,
        source: Dataset,
        element: RawDataElement,
        operation: Operator | None,
        creator: str | None,
    ) -> DataElement | RawDataElement:
        """A deferred (not yet read) value: streamed from the file if kept, else read.

        Only values of a known binary VR are streamed (see
        :func:`~idiscore.fileio.deferred_window`); a value whose VR is unknown is read,
        so that a sequence behind it is walked.
        """
        if self.stream_deferred and (operation is None or type(operation) is Keep):
            window = deferred_window(source, element)
            if window is not None:
                vr = vr_of(element, creator)
                if (
                    vr != _SQ
                    and int(element.tag) not in SEQUENCE_TAGS
                    and not (vr == "UN" and looks_like_items(window.read(4)))
                ):
                    window.seek(0)
                    return DataElement(element.tag, vr, window)
                window.close()
        return _load_deferred(source, element)

    def _decoded(
        self,
        element: DataElement | RawDataElement,
        source: Dataset,
        context: Context,
        creator: str | None,
        rule: Rule | None,
    ) -> DataElement:
        """``element`` decoded by :func:`idiscore.elements.decode` (``source`` unchanged).

        Raises:
            DeidentificationError: the value cannot be decoded (a sequence whose items
                cannot be read, a value pydicom refuses).
        """
        try:
            return decode(element, source, context.encoding, creator)
        except Exception as exc:
            tag = int(element.tag)
            message = exc.message if isinstance(exc, DeidentificationError) else None
            raise DeidentificationError(
                message or f"cannot decode the value ({type(exc).__name__}: {exc})",
                tag=BaseTag(tag),
                rule=rule,
                path=self._path(context, tag),
                context=self.describe,
            ) from exc

    def _apply(
        self,
        rule: Rule,
        operation: Operator,
        source: Dataset,
        tag: int,
        context: Context,
        original: DataElement | RawDataElement,
        creator: str | None,
    ) -> DataElement | RawDataElement | None:
        element = self._decoded(original, source, context, creator, rule)
        try:
            result = operation.apply(element, context)
        except (DatasetRejectedError, DeidentificationError):
            raise
        except Exception as exc:
            raise DeidentificationError(
                f"{type(exc).__name__}: {exc}" if not isinstance(exc, IDISCoreError) else str(exc),
                tag=BaseTag(tag),
                rule=rule,
                path=self._path(context, tag),
                context=self.describe,
            ) from exc
        if result is None:
            return None
        if not isinstance(result, DataElement) or result.tag != tag:
            raise DeidentificationError(
                f"operator returned {type(result).__name__} for another element",
                tag=BaseTag(tag),
                rule=rule,
                path=self._path(context, tag),
                context=self.describe,
            )
        if result.VR == _SQ and not operation.handles_items:
            return self._sequence(result, context)
        if result is element:
            if type(original) is RawDataElement and original.value is not None:
                return original  # unchanged: the input's bytes
            return DataElement(result.tag, result.VR, result.value)  # not the caller's object
        return result

    def _sequence(self, element: DataElement, context: Context) -> DataElement:
        items = DicomSequence()
        parent_encoding = context.dataset.original_encoding
        for item in element.value or ():
            encoding = charset_of(item, context.encoding)
            new_item = empty_item(item, encoding, parent_encoding)
            self.walk(item, context.child(item, element.tag, encoding), new_item)
            items.append(new_item)
        return DataElement(element.tag, _SQ, items)

    @staticmethod
    def _path(context: Context, tag: int) -> str:
        return " > ".join(tag_string(t) for t in (*context.path, tag))
