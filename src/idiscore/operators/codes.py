"""Coded concepts (PS3.3 Table 8.8-1, the Code Sequence Macro) that cannot identify.

A code item (Code Value, Long Code Value or URN Code Value, Coding Scheme Designator,
Code Meaning ...) describes structure when it is a standard code, and can carry a
badge number, a hospital's name or a physician in a local code. The rule:

* a code item keeps its code only when it is a **standard code with its standard
  meaning**: the (scheme, value) pair is in the concept dictionaries pydicom ships
  (``pydicom.sr``: DCM, SCT, LN, UCUM, NCIt, RADLEX, MDC, FMA, ... and legacy SNOMED
  ``SRT`` codes through pydicom's SRT -> SCT map; shipped as a generated table, see
  :func:`standard_codes`), and its Code Meaning is one of the
  meanings listed for it (or the code value itself, as UCUM units often have), compared
  ignoring case and white space;
* any other code item (local schemes such as ``99...`` or ``L``, site schemes, unknown
  values, another meaning, several values in one field) gets the dummy code
  :data:`DUMMY_CODE`: Code Value (or Long / URN Code Value) ``REMOVED``, Coding Scheme
  Designator ``99IDISCORE`` (a private scheme, PS3.16 §8: designators starting with
  ``99`` are local) and Code Meaning ``REMOVED``;
* inside a sequence that identifies a person or an organisation
  (:data:`IDENTIFYING_SEQUENCES`: Person Identification Code Sequence, Institution Code
  Sequence, the ``... Identification/Identifier Code Sequence`` attributes of PS3.6 that
  name a person or organisation ...) no original code survives, standard or not, at any
  depth;
* inside a sequence that an applied PS3.15 option keeps explicitly (``K`` in its Table
  E.1-1 column, e.g. Institution Code Sequence under *Retain Institution Identity*,
  Performed Station Name Code Sequence under *Retain Device Identity*) codes are kept
  as they are: the option asks for exactly that.

The attributes that qualify a code follow its fate: Coding Scheme Version survives
only with a standard code and a version made of digits and dots; Context Identifier,
Mapping Resource and Context UID only for a standard code with a numeric context
identifier, a DICOM mapping resource (``DCMR``, ``SDM``) and a DICOM UID; the
local-extension attributes (Context Group Extension Flag, Extension Creator UID) and
Mapping Resource Name/UID never. Context Group Version and Local Version are dates that
Table E.1-1 lists: their own rules apply.

:class:`StandardCodesOnly` applies the rule to these attributes wherever the profile's
rules reach them (the Basic Profile has a rule for each); :class:`~idiscore.operators.Replace`
applies the same rule inside a sequence it replaces.
"""

from __future__ import annotations

import re
from functools import cache

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset

from idiscore.operators.base import Context, Operator
from idiscore.operators.values import read_element, values_of, with_value

CODE_VALUE = 0x00080100
CODING_SCHEME_DESIGNATOR = 0x00080102
CODING_SCHEME_VERSION = 0x00080103
CODE_MEANING = 0x00080104
MAPPING_RESOURCE = 0x00080105
CONTEXT_GROUP_EXTENSION_FLAG = 0x0008010B
CONTEXT_GROUP_EXTENSION_CREATOR_UID = 0x0008010D
CONTEXT_IDENTIFIER = 0x0008010F
CONTEXT_UID = 0x00080117
MAPPING_RESOURCE_UID = 0x00080118
LONG_CODE_VALUE = 0x00080119
URN_CODE_VALUE = 0x00080120
MAPPING_RESOURCE_NAME = 0x00080122

#: The three ways to hold a code's value (exactly one is present in a valid item).
VALUE_TAGS = (CODE_VALUE, LONG_CODE_VALUE, URN_CODE_VALUE)

#: (Code Value, Coding Scheme Designator, Code Meaning) of the dummy code.
DUMMY_CODE = ("REMOVED", "99IDISCORE", "REMOVED")

#: The dummy value of each code attribute that is replaced (the others are removed).
DUMMY_VALUES: dict[int, str] = {
    CODE_VALUE: DUMMY_CODE[0],
    LONG_CODE_VALUE: DUMMY_CODE[0],
    URN_CODE_VALUE: "urn:idiscore:removed",
    CODING_SCHEME_DESIGNATOR: DUMMY_CODE[1],
    CODE_MEANING: DUMMY_CODE[2],
}

#: The attributes of a code item (Code Sequence Macro) this module decides on. Context
#: Group Version and Context Group Local Version are dates that Table E.1-1 lists (D):
#: their rules apply.
CODE_ATTRIBUTES = frozenset(
    {
        CODE_VALUE,
        CODING_SCHEME_DESIGNATOR,
        CODING_SCHEME_VERSION,
        CODE_MEANING,
        MAPPING_RESOURCE,
        CONTEXT_GROUP_EXTENSION_FLAG,
        CONTEXT_GROUP_EXTENSION_CREATOR_UID,
        CONTEXT_IDENTIFIER,
        CONTEXT_UID,
        MAPPING_RESOURCE_UID,
        LONG_CODE_VALUE,
        URN_CODE_VALUE,
        MAPPING_RESOURCE_NAME,
    }
)

#: Code sequences whose codes identify a person or an organisation (PS3.3 / PS3.6):
#: no original code survives inside them, at any depth.
IDENTIFYING_SEQUENCES = frozenset(
    {
        0x00080082,  # Institution Code Sequence
        0x00100050,  # Patient's Insurance Plan Code Sequence (the payer)
        0x00400039,  # Assigning Jurisdiction Code Sequence (issuer of an ID)
        0x0040003A,  # Assigning Agency or Department Code Sequence (issuer of an ID)
        0x00401101,  # Person Identification Code Sequence
        0x0040A028,  # Documenting Organization Identifier Code Sequence (Trial)
        0x0040A066,  # Document Identifier Code Sequence (Trial)
        0x0040A068,  # Document Author Identifier Code Sequence (Trial)
        0x0040A070,  # Identifier Code Sequence (Trial)
        0x0040A076,  # Documenting Observer Identifier Code Sequence (Trial)
        0x0040A085,  # Procedure Identifier Code Sequence (Trial)
        0x0040A088,  # Verifying Observer Identification Code Sequence
        0x0040A358,  # Verbal Source Identifier Code Sequence (Trial)
        0x00700086,  # Content Creator's Identification Code Sequence
        0x0072000E,  # Hanging Protocol User Identification Code Sequence
    }
)

_KEEP, _STANDARD, _DUMMY = 0, 1, 2
_MEMO_KEY = "idiscore.operators.codes"
_MAPPING_RESOURCES = frozenset({"DCMR", "SDM"})
_VERSION = re.compile(r"^[0-9][0-9.]*$")
_DICOM_UID_ROOT = "1.2.840.10008."


def normalise_meaning(meaning: str) -> str:
    """A code meaning as compared: case folded, without any white space."""
    return "".join(meaning.split()).casefold()


#: The shipped table of standard codes (see ``tools/generate_standard_codes.py``).
CODES_FILE = "standard_codes.txt.gz"


@cache
def standard_codes() -> dict[str, tuple[str, ...]]:
    """``"SCHEME\tvalue"`` -> normalised meanings of every standard code idiscore knows.

    Read once per process from the table shipped with idiscore, generated from
    pydicom's concept dictionaries (about 23,000 codes, legacy SRT codes included, about
    5 MB in memory); the header line names the pydicom version.
    """
    import gzip
    from importlib import resources

    data = resources.files("idiscore.standard").joinpath(CODES_FILE).read_bytes()
    table: dict[str, tuple[str, ...]] = {}
    for line in gzip.decompress(data).decode("utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        scheme, value, *meanings = line.split("\t")
        table[f"{scheme}\t{value}"] = tuple(meanings)
    return table


@cache
def is_standard_code(scheme: str, value: str, meaning: str) -> bool:
    """Is (scheme, value, meaning) a standard code with one of its standard meanings?"""
    scheme = scheme.strip().upper()
    value = value.strip()
    if not scheme or not value or "\\" in value or "\t" in scheme or "\t" in value:
        return False
    known = standard_codes().get(f"{scheme}\t{value}")
    if known is None:
        return False
    said = normalise_meaning(meaning)
    # a meaning that only repeats the code value ("mm" for UCUM mm) says nothing more
    return said in known or said == normalise_meaning(value)


@cache
def retained_sequences(applied_codes: tuple[str, ...]) -> frozenset[int]:
    """Sequences an applied option keeps explicitly (``K`` in its Table E.1-1 column)."""
    from pydicom.datadict import dictionary_VR

    from idiscore.standard import _tables
    from idiscore.standard.rulesets import OPTION_CODES

    columns = [
        index
        for index, column in enumerate(_tables.E1_1_OPTION_COLUMNS)
        if column != "basic" and OPTION_CODES.get(column) in applied_codes
    ]
    found: set[int] = set()
    for pattern, _name, _retired, _in_iod, actions in _tables.E1_1_ROWS:
        if "x" in pattern or pattern == "ggggeeee":
            continue
        if not any(actions[index] == "K" for index in columns):
            continue
        tag = int(pattern, 16)
        try:
            if dictionary_VR(tag) == "SQ":
                found.add(tag)
        except KeyError:  # newer than pydicom's dictionary
            continue
    return frozenset(found)


def _text(item: Dataset, tag: int, encoding: str | list[str]) -> str | None:
    """The value of ``item``'s element ``tag`` as one string (None when absent).

    Several values are joined with backslashes. A raw ASCII value is read from its bytes
    (without decoding the element: this runs for every attribute of every code item);
    anything else is decoded as pydicom does, without changing ``item``.
    """
    element = item._dict.get(tag)  # type: ignore[call-overload]
    if element is None:
        return None
    value = element.value
    if type(element) is RawDataElement and isinstance(value, bytes):
        try:
            return value.decode("ascii").strip(" \0")
        except UnicodeDecodeError:
            pass
    values = values_of(read_element(item, tag, encoding))
    return "\\".join(str(v) for v in values)


def _decision(context: Context) -> int:
    """Keep the item's code as it is, as a standard code, or replace it by the dummy.

    Worked out once per item of the dataset being de-identified. The memo holds the item
    itself, so no other item can take its id while the memo lives (operators may build
    short-lived copies of items).
    """
    item = context.dataset
    key = (_MEMO_KEY, id(item), context.path)
    memo = context.memo
    hit: tuple[Dataset, int] | None = memo.get(key)
    if hit is not None and hit[0] is item:
        return hit[1]
    decision = _decide(context)
    memo[key] = (item, decision)
    return decision


def _decide(context: Context) -> int:
    path = context.path
    if path:
        applied = context.options.get("applied_codes", ())
        retained = retained_sequences(tuple(applied)) if applied else frozenset()
        for tag in reversed(path):  # the innermost sequence that says something decides
            if tag in retained:
                return _KEEP
            if tag in IDENTIFYING_SEQUENCES:
                return _DUMMY
    item = context.dataset
    encoding = context.encoding
    values = [v for v in (_text(item, tag, encoding) for tag in VALUE_TAGS) if v is not None]
    scheme = _text(item, CODING_SCHEME_DESIGNATOR, encoding)
    meaning = _text(item, CODE_MEANING, encoding)
    if len(values) != 1 or scheme is None or meaning is None:
        return _DUMMY
    return _STANDARD if is_standard_code(scheme, values[0], meaning) else _DUMMY


def _context_group_is_standard(item: Dataset, encoding: str | list[str]) -> bool:
    identifier = _text(item, CONTEXT_IDENTIFIER, encoding)
    resource = _text(item, MAPPING_RESOURCE, encoding)
    uid = _text(item, CONTEXT_UID, encoding)
    return (
        identifier is not None
        and identifier.strip().isdigit()
        and (resource or "").strip() in _MAPPING_RESOURCES
        and (uid is None or uid.strip().startswith(_DICOM_UID_ROOT))
    )


def code_attribute(element: DataElement, context: Context) -> DataElement | None:
    """Element ``element`` of a code item (one of :data:`CODE_ATTRIBUTES`), made safe.

    Returns the element unchanged, its dummy, or None (removed); ``context.dataset`` is
    the item that holds it.
    """
    decision = _decision(context)
    if decision == _KEEP:
        return element
    tag = int(element.tag)
    if decision == _DUMMY:
        dummy = DUMMY_VALUES.get(tag)
        return None if dummy is None else with_value(element, dummy)
    if tag in DUMMY_VALUES:
        return element
    if tag == CODING_SCHEME_VERSION:
        version = "\\".join(str(v) for v in values_of(element)).strip()
        return element if _VERSION.match(version) else None
    if tag in (CONTEXT_IDENTIFIER, MAPPING_RESOURCE, CONTEXT_UID):
        return element if _context_group_is_standard(context.dataset, context.encoding) else None
    return None  # local extensions and mapping resource names / UIDs


class StandardCodesOnly(Operator):
    """C for the attributes of a code item: a standard code with its standard meaning is
    kept, any other code becomes the dummy code ``(REMOVED, 99IDISCORE, REMOVED)``;
    see :mod:`idiscore.operators.codes`. A code attribute that holds a sequence is
    removed; any other attribute gets the dummy of :class:`~idiscore.operators.Replace`."""

    action_code = "C"

    def resolve(self, tag: int, is_sequence: bool, context: Context) -> Operator:
        """Keep or Remove when the item's code decides without the element's value (the
        engine then copies the input's bytes, or drops them, without decoding)."""
        tag = int(tag)
        if is_sequence:
            return _operators()[1]  # a code attribute holding a sequence is not a code
        if tag not in CODE_ATTRIBUTES:
            return self
        decision = _decision(context)
        if decision == _KEEP or (decision == _STANDARD and tag in DUMMY_VALUES):
            return _operators()[0]
        if decision == _DUMMY:
            return _dummy_operator(tag) if tag in DUMMY_VALUES else _operators()[1]
        return self

    def apply(self, element: DataElement, context: Context) -> DataElement | None:
        if element.VR == "SQ":
            return None  # not a code, whatever it holds
        if int(element.tag) not in CODE_ATTRIBUTES:
            from idiscore.operators.basic import Replace

            return Replace().apply(element, context)
        return code_attribute(element, context)


@cache
def _operators() -> tuple[Operator, Operator]:
    """The engine's own Keep and Remove (it copies or drops the raw element for them)."""
    from idiscore.operators.basic import Keep, Remove

    return Keep(), Remove()


@cache
def _dummy_operator(tag: int) -> Operator:
    """The dummy of attribute ``tag`` as a fixed value (the engine writes it without
    decoding the element)."""
    from idiscore.operators.basic import SetFixedValue

    return SetFixedValue(DUMMY_VALUES[tag])


__all__ = [
    "CODE_ATTRIBUTES",
    "DUMMY_CODE",
    "IDENTIFYING_SEQUENCES",
    "StandardCodesOnly",
    "code_attribute",
    "is_standard_code",
    "normalise_meaning",
    "retained_sequences",
    "standard_codes",
]
