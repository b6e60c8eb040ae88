"""What identified the patient in an input: the values :mod:`idiscore.verify` looks for.

:func:`collect_values` walks the file meta, the data set and every nested item of one input
and returns each identifying value once (compared without case), with its *class*:

``name``         person names, whole and each component (family, given, middle)
``id``           IDs and numbers the Basic Profile acts on (patient, accession, study ...)
``date``         dates, times and datetimes, in the renderings they can take
                 (``19610301``, ``1961-03-01``, ``03/01/1961``, ``01.03.1961`` ...)
``uid``          every UID that is not a DICOM-defined one (``1.2.840.10008.…``)
``institution``  institution, department, station, device, physician and operator strings
``text``         free text the Basic Profile acts on: the whole value and its tokens that
                 are not medical vocabulary (:func:`~idiscore.cleaning.default_vocabulary`)
``private``      the values of private elements (printable runs of binary ones)
``other``        any other value of an attribute the Basic Profile does not keep

and what :func:`~idiscore.cleaning.identifying_values` finds (names, IDs, addresses ...).
Which attributes count is decided by PS3.15 Table E.1-1 (the Basic Profile's rules), not by
a list of keywords here. Values shorter than :data:`MIN_LENGTH` characters are ignored: a
sex (``M``) or a laterality (``L``) identifies no one and would be found everywhere.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache

from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.valuerep import PersonName

from idiscore.fileio import dictionary_vr
from idiscore.operators.cleaning import clean_text, default_vocabulary, identifying_values
from idiscore.operators.codes import is_standard_code
from idiscore.profile import CompiledRules, Profile

__all__ = [
    "MIN_LENGTH",
    "Collected",
    "IdentifyingValue",
    "collect",
    "collect_values",
    "date_renderings",
]

#: shortest value collected
MIN_LENGTH = 3
#: values of DICOM itself: never identifying
_DICOM_ROOT = "1.2.840.10008."
_TEXT_VRS = frozenset({"LO", "LT", "SH", "ST", "UT", "UC", "AE", "UR"})
#: numbers (DS, IS) are measurements, not identities
_STRING_VRS = _TEXT_VRS | {"AS", "CS", "UI", "PN", "DA", "DT", "TM"}
_BINARY_VRS = frozenset({"OB", "OW", "UN", "OD", "OF", "OL", "OV"})
_PRINTABLE = re.compile(rb"[\x20-\x7e]{4,}")
#: file meta elements that describe the writing software, not the patient
_META_SKIPPED = frozenset({0x00020001, 0x00020002, 0x00020010, 0x00020012, 0x00020013})
_PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})
#: Code Value, Coding Scheme Designator and Version, Code Meaning, Long and URN Code Value
_CODE_TAGS = frozenset({0x00080100, 0x00080102, 0x00080103, 0x00080104, 0x00080119, 0x00080120})


def _standard_code_item(dataset: Dataset) -> bool:
    """A code item whose code is a standard one with its standard meaning: the profile
    keeps it on purpose (idiscore.operators.codes), so its words identify no one."""
    try:
        value = dataset.get("CodeValue") or dataset.get("LongCodeValue") or ""
        scheme = dataset.get("CodingSchemeDesignator") or ""
        meaning = dataset.get("CodeMeaning") or ""
        return is_standard_code(str(scheme), str(value), str(meaning))
    except Exception:  # an undecodable value: not a standard code
        return False


_REFERENCED_SOP_INSTANCE = 0x00081155
_UNDEFINED = 0xFFFFFFFF
_KIND_WORDS = (
    ("Institution", "institution"),
    ("Station", "institution"),
    ("Device", "institution"),
    ("Physician", "institution"),
    ("Operator", "institution"),
    ("Manufacturer", "institution"),
    ("ID", "id"),
    ("Number", "id"),
)
_TOKEN = re.compile(r"[^\s_^\-/\\,;:()\[\]{}<>+=|&\"*!?#~`]+")


@dataclass(frozen=True)
class IdentifyingValue:
    """One value to look for, and its class (see the module docs)."""

    text: str
    kind: str


@cache
def _basic_rules() -> CompiledRules:
    from idiscore.defaults import get_dicom_rule_sets

    return Profile([get_dicom_rule_sets().basic_profile], name="basic").compiled


def date_renderings(value: str, vr: str) -> list[str]:
    """The forms a DA, DT or TM value can take in text (the value first)."""
    value = value.strip()
    forms = [value]
    digits = value[:8] if vr in ("DA", "DT") else ""
    if len(digits) == 8 and digits.isdigit():
        y, m, d = digits[:4], digits[4:6], digits[6:]
        forms += [digits, f"{y}-{m}-{d}", f"{y}/{m}/{d}", f"{y}.{m}.{d}"]
        forms += [f"{m}/{d}/{y}", f"{d}/{m}/{y}", f"{d}.{m}.{y}", f"{d}-{m}-{y}", f"{m}-{d}-{y}"]
    time = value if vr == "TM" else value[8:] if vr == "DT" else ""
    time = time.split("+")[0].split("-")[0]
    if len(time) >= 6 and time[:6].isdigit():
        forms += [time[:6], f"{time[:2]}:{time[2:4]}:{time[4:6]}"]
    return list(dict.fromkeys(forms))


def _kind_of(keyword: str, vr: str) -> str:
    for word, kind in _KIND_WORDS:
        if word in keyword:
            return kind
    return "text" if vr in ("LT", "ST", "UT", "UC") else "other"


def _strings(value: object) -> Iterator[str]:
    if value is None:
        return
    if isinstance(value, MultiValue | list | tuple):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, PersonName):
        yield from (str(part) for part in value.components)
    elif isinstance(value, bytes | bytearray):
        for run in _PRINTABLE.findall(bytes(value)):
            yield run.decode("ascii")
    else:
        yield str(value)


def _name_parts(name: str) -> Iterator[str]:
    yield name
    for component in name.split("^")[:3]:
        yield component
        yield from component.split()


@lru_cache(maxsize=4096)
def _text_parts(text: str) -> tuple[str, ...]:
    """The words of ``text`` the cleaner drops on its own (not vocabulary, not a short
    number or a combination of both), and ``text`` itself when there is one."""
    kept = {token.upper() for token in _TOKEN.findall(clean_text(text))}
    dropped = [t for t in (t.strip(".'") for t in _TOKEN.findall(text)) if t.upper() not in kept]
    return (text, *dropped) if dropped else ()


def _private_worthy(text: str) -> bool:
    """A private value worth looking for: it has a letter, or is a long digit run (an ID);
    a measurement (``5.000000``) is not."""
    text = text.strip()
    return any(c.isalpha() for c in text) or (text.isdigit() and len(text) >= 6)


class _Collector:
    def __init__(self) -> None:
        self.found: dict[str, IdentifyingValue] = {}
        #: every UID that is not DICOM's, and every Referenced SOP Instance UID
        self.uids: set[str] = set()
        self.references: list[str] = []
        self.vocabulary = default_vocabulary().words
        self.rules = _basic_rules()

    def add(self, text: str, kind: str) -> None:
        text = text.strip().strip("\x00").strip()
        if len(text) < MIN_LENGTH or text.upper() in self.vocabulary:
            return
        if kind == "uid" and text.startswith(_DICOM_ROOT):
            return
        self.found.setdefault(text.lower(), IdentifyingValue(text, kind))

    def walk(self, dataset: Dataset, *, meta: bool = False) -> None:
        standard_code = not meta and 0x00080104 in dataset._dict and _standard_code_item(dataset)
        for key in list(dataset.keys()):
            tag = int(key)
            if tag in _PIXEL_TAGS or (meta and tag in _META_SKIPPED):
                continue
            if standard_code and tag in _CODE_TAGS:
                continue
            raw = dataset.get_item(key)
            vr = raw.VR or dictionary_vr(tag)
            value = raw.value
            group, number = tag >> 16, tag & 0xFFFF
            undefined = getattr(raw, "length", 0) == _UNDEFINED
            if group & 1 and number > 0xFF and isinstance(value, bytes) and not undefined:
                self.private(value)  # read from the raw bytes, whatever the VR
                continue
            if vr == "UI" and isinstance(value, bytes):
                for text in value.decode("latin-1").split("\\"):
                    self.uid(tag, text)
                continue
            always = vr in ("SQ", "PN", "DA", "DT") or undefined or group & 1
            if not always and (vr not in _STRING_VRS or not self._acted_on(tag)):
                continue
            try:
                element = dataset[key]
            except Exception:  # an undecodable value: its raw bytes are searched for
                self.private(value if isinstance(value, bytes) else b"")
                continue
            self.element(element)

    def private(self, value: bytes) -> None:
        for text in _strings(value):
            if _private_worthy(text):
                self.add(text, "private")

    def uid(self, tag: int, text: str) -> None:
        text = text.strip("\x00 ")
        if not text:
            return
        if tag == _REFERENCED_SOP_INSTANCE:
            self.references.append(text)
        if not text.startswith(_DICOM_ROOT):
            self.uids.add(text)
        self.add(text, "uid")

    def element(self, element: DataElement) -> None:
        tag, vr = int(element.tag), element.VR
        if vr == "SQ" or isinstance(element.value, Sequence):
            for item in element.value or ():
                self.walk(item)
            return
        group, number = tag >> 16, tag & 0xFFFF
        if group & 1:
            if number > 0xFF:  # the creator strings themselves are not identifying
                for text in _strings(element.value):
                    if _private_worthy(text):
                        self.add(text, "private")
            return
        if vr == "UI":
            for text in _strings(element.value):
                self.uid(tag, text)
            return
        if vr == "PN":
            for name in _strings(element.value):
                for part in _name_parts(name):
                    self.add(part, "name")
            return
        if vr in ("DA", "DT", "TM"):
            if vr == "TM" and not self._acted_on(tag):
                return
            for text in _strings(element.value):
                for form in date_renderings(text, vr):
                    self.add(form, "date")
            return
        if vr in _BINARY_VRS or vr not in _STRING_VRS or not self._acted_on(tag):
            return
        kind = _kind_of(keyword_for_tag(tag), vr)
        for text in _strings(element.value):
            if kind in ("text", "institution", "other") and vr in _TEXT_VRS:
                for part in _text_parts(text):
                    self.add(part, kind)
            else:
                self.add(text, kind)

    def _acted_on(self, tag: int) -> bool:
        rule = self.rules.lookup(tag)
        return rule is not None and rule.action_code not in (None, "K")


@dataclass
class Collected:
    """What :func:`collect_values` found in one input."""

    values: list[IdentifyingValue]
    #: every UID that is not a DICOM-defined one
    uids: set[str]
    #: the Referenced SOP Instance UIDs, wherever they are
    references: list[str]


def collect_values(dataset: Dataset) -> list[IdentifyingValue]:
    """The identifying values of one input (see the module docs); the dataset is only read
    (decoded elements may be cached in it, as pydicom does)."""
    return collect(dataset).values


def collect(dataset: Dataset) -> Collected:
    """:func:`collect_values`, with the input's UIDs and references."""
    collector = _Collector()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        meta = getattr(dataset, "file_meta", None)
        if meta is not None:
            collector.walk(meta, meta=True)
        collector.walk(dataset)
        for text in identifying_values(dataset):
            collector.add(text, "name" if "^" in text else "other")
    return Collected(list(collector.found.values()), collector.uids, collector.references)
