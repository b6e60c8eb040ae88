"""The safety net: a fallback by VR for standard attributes that no rule names.

PS3.15 Table E.1-1 lists the attributes the standard's authors judged identifying when
the edition was written. New attributes (Study Update DateTime, Evaluator Name, SOP
Instance UID of Concatenation Source ...) and attributes the table never named would be
kept verbatim by a deny-list alone. The safety net gives every *standard* data element
(even group, in the DICOM dictionary, repeating groups included) that **no rule of the
profile matches** a rule chosen by the element's dictionary VR:

==================  ====================================================================
VR                  fallback
==================  ====================================================================
PN                  emptied (:class:`~idiscore.operators.Empty`)
DA, DT, TM          shifted like the profile's other dates when the profile shifts dates
                    (its rule for Study Date is :class:`~idiscore.operators.Clean`, as
                    with Retain Longitudinal Temporal Information with Modified Dates),
                    removed otherwise
UI                  the keyed replacement UID of :class:`~idiscore.operators.HashUID`,
                    the same as every other UID, so references stay whole
LO, SH, ST, LT,     cleaned (:class:`~idiscore.operators.Clean`)
UT, UC
AE, UR              removed (:class:`~idiscore.operators.Remove`): an application entity
                    title names a node of the site, a URL or URI locates the original
                    data (Retrieve URL, Storage URL, Pixel Data Provider URL, Contact
                    URI ...) and often carries its study and patient identifiers
unknown             removed: an element of an even group that pydicom's dictionary does
                    not know (or knows only as a nameless retired entry) cannot be
                    reviewed, so whatever it holds is dropped, in every VR
==================  ====================================================================

Every other VR of a known attribute (code strings, numbers, binary, sequences ...) is
left to the rules as before: those values carry structure, and the items of a kept
sequence are walked with the rules (and the safety net) anyway.

The net is the lowest-priority rule of all: any rule of any rule set wins over it,
however general (a ``RepeatingGroup("xxxx,xxxx")`` or a Keep-all too). It is on for
every :class:`~idiscore.profile.Profile`; ``Profile(..., safety_net=False)`` (or
``safety_net = false`` in a profile file) switches it off. ``idiscore explain`` and
``idiscore profile`` name it as the rule set :data:`SAFETY_NET_NAME`. The compiled
profile consults it once per tag (its answers are cached like every other), so it costs
nothing per element.

Table E.1-1 (2026d) has no catch-all row for standard attributes that would shadow the
net: its only pattern rows are Curve Data (50xx,xxxx), Overlay Data and Comments
(60xx,3000 and 60xx,4000) and the private attributes (odd groups). Under Retain
Longitudinal Temporal Information with Full Dates the net still removes unnamed dates:
they were never reviewed. UIDs are mapped exactly as :class:`~idiscore.operators.HashUID`
maps them elsewhere (it replaces every UID, well-known ones included), so a UID that also
sits in a named attribute gets the same replacement in both.

Structure survives: attributes of these VRs that define or reference something rather
than describe the patient or the site are not part of the net (:data:`STRUCTURAL`):

* coded concepts -- the attributes of the Code Sequence Macro (PS3.3 Table 8.8-1) and of
  the Coding Scheme Identification Sequence (code value, scheme designator and version,
  meaning, context and mapping resource identifiers);
* definitions named by UID -- every attribute whose keyword names a SOP Class, a Transfer
  Syntax or ends in ``ClassUID`` (their values are registered, not assigned per study);
* references to private creators (``...PrivateCreator``, Private Creator Reference) and
  the descriptions of private data elements, which other elements must match;
* the product, not the site: Manufacturer, Manufacturer's Model Name and Software
  Versions (the General Equipment attributes PS3.15 leaves out of Table E.1-1 while it
  lists the site's: Station Name, Device Serial Number, Institution ...), the file
  meta's Implementation Version Name, and MIME types of encapsulated documents.

The exclusions are chosen by keyword from pydicom's dictionary when this module is
imported, so a newer dictionary is covered the same way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from pydicom._dicom_dict import DicomDictionary
from pydicom.datadict import get_entry

from idiscore.identifiers import TagIdentifier
from idiscore.operators.base import Operator
from idiscore.operators.basic import Clean, Empty, HashUID, Remove
from idiscore.rules import Rule, RuleSet

__all__ = [
    "DATE_VRS",
    "LOCATOR_VRS",
    "NAME_VRS",
    "SAFETY_NET_NAME",
    "STRUCTURAL",
    "TEXT_VRS",
    "UID_VRS",
    "UnknownStandardElements",
    "UnnamedStandardAttributes",
    "dates_shift",
    "is_unknown_standard",
    "safety_net_rule_set",
    "standard_vr",
]

#: The name of the safety net's rule set, as ``explain`` and ``profile`` show it.
SAFETY_NET_NAME = "Safety net (fallback by VR)"

NAME_VRS = ("PN",)
DATE_VRS = ("DA", "DT", "TM")
UID_VRS = ("UI",)
TEXT_VRS = ("LO", "SH", "ST", "LT", "UT", "UC")
LOCATOR_VRS = ("AE", "UR")

_STUDY_DATE = 0x00080020

#: Code Sequence Macro and Coding Scheme Identification attributes.
_CODE_KEYWORDS = frozenset(
    {
        "CodeValue",
        "CodingSchemeDesignator",
        "CodingSchemeVersion",
        "CodeMeaning",
        "LongCodeValue",
        "URNCodeValue",
        "ExtendedCodeValue",
        "ExtendedCodeMeaning",
        "ContextIdentifier",
        "ContextUID",
        "MappingResource",
        "MappingResourceUID",
        "MappingResourceName",
        "ContextGroupVersion",
        "ContextGroupLocalVersion",
        "ContextGroupExtensionFlag",
        "ContextGroupExtensionCreatorUID",
        "CodingSchemeUID",
        "CodingSchemeURL",
        "CodingSchemeRegistry",
        "CodingSchemeExternalID",
        "CodingSchemeName",
        "CodingSchemeResponsibleOrganization",
    }
)
#: The product and the file format, not the site or the patient.
_PRODUCT_KEYWORDS = frozenset(
    {
        "Manufacturer",
        "ManufacturerModelName",
        "SoftwareVersions",
        "ImplementationVersionName",
        "MIMETypeOfEncapsulatedDocument",
        "ListOfMIMETypes",
        "PrivateCreatorReference",
        "PrivateDataElementName",
        "PrivateDataElementKeyword",
        "PrivateDataElementDescription",
        "PrivateDataElementEncoding",
    }
)


def _is_structural(keyword: str, vr: str) -> bool:
    if keyword in _CODE_KEYWORDS or keyword in _PRODUCT_KEYWORDS:
        return True
    if keyword.endswith("PrivateCreator"):
        return True
    return vr == "UI" and (
        "SOPClass" in keyword or "TransferSyntax" in keyword or keyword.endswith("ClassUID")
    )


#: Standard tags the safety net leaves alone (see the module documentation).
STRUCTURAL: frozenset[int] = frozenset(
    tag
    for tag, (vr, _vm, _name, _retired, keyword) in DicomDictionary.items()
    if _is_structural(keyword, vr)
)


@functools.lru_cache(maxsize=8192)
def standard_vr(tag: int) -> str | None:
    """The dictionary VR of the standard element ``tag`` (repeating groups included),
    None for private, unknown and group length elements."""
    if tag >> 16 & 1 or not tag & 0xFFFF:
        return None
    try:
        return str(get_entry(tag)[0])
    except KeyError:
        return None


class UnnamedStandardAttributes(TagIdentifier):
    """Standard elements of the given dictionary VRs, :data:`STRUCTURAL` ones excepted.

    Only the safety net uses it: it is consulted after every rule of the profile, so it
    applies exactly to the standard elements of these VRs that no rule names.
    """

    specificity = -1

    def __init__(self, *vrs: str) -> None:
        self.vrs = frozenset(vrs)
        self._text = "/".join(vrs)

    def matches(self, tag: int, private_creator: str | None = None) -> bool:
        if private_creator is not None or tag in STRUCTURAL:
            return False
        return standard_vr(tag) in self.vrs

    @property
    def key(self) -> str:
        return f"(standard {self._text})"

    @property
    def name(self) -> str:
        return f"standard {self._text} attributes that no rule names"

    def __repr__(self) -> str:
        args = ", ".join(repr(vr) for vr in sorted(self.vrs))
        return f"UnnamedStandardAttributes({args})"


@functools.lru_cache(maxsize=8192)
def is_unknown_standard(tag: int) -> bool:
    """Whether ``tag`` is an element of an even group, not a group length, that pydicom's
    dictionary (repeating groups included) does not know, or knows only as a nameless
    retired entry."""
    if tag >> 16 & 1 or not tag & 0xFFFF:
        return False
    try:
        keyword = get_entry(tag)[4]
    except KeyError:
        return True
    return not keyword


class UnknownStandardElements(TagIdentifier):
    """Elements of even groups that the DICOM dictionary does not know.

    Only the safety net uses it (see :func:`is_unknown_standard`).
    """

    specificity = -1

    def matches(self, tag: int, private_creator: str | None = None) -> bool:
        return private_creator is None and is_unknown_standard(tag)

    @property
    def key(self) -> str:
        return "(unknown standard)"

    @property
    def name(self) -> str:
        return "even-group elements the DICOM dictionary does not know"

    def __repr__(self) -> str:
        return "UnknownStandardElements()"


def dates_shift(lookup: Callable[[int], Rule | None]) -> bool:
    """Does the profile (its rule lookup, without the net) shift dates?

    Yes when its rule for Study Date cleans it: Clean shifts dates by the keyed
    per-patient shift (the Retain Longitudinal Temporal Information with Modified
    Dates option, or a user's own rule).
    """
    rule = lookup(_STUDY_DATE)
    return rule is not None and isinstance(rule.operation, Clean)


def safety_net_rule_set(shift_dates: bool) -> RuleSet:
    """The safety net's rules (dates shifted with ``shift_dates``, else removed)."""
    date_operator: Operator = Clean() if shift_dates else Remove()
    return RuleSet(
        [
            Rule(UnnamedStandardAttributes(*NAME_VRS), Empty()),
            Rule(UnnamedStandardAttributes(*DATE_VRS), date_operator),
            Rule(UnnamedStandardAttributes(*UID_VRS), HashUID()),
            Rule(UnnamedStandardAttributes(*TEXT_VRS), Clean()),
            Rule(UnnamedStandardAttributes(*LOCATOR_VRS), Remove()),
            Rule(UnknownStandardElements(), Remove()),
        ],
        name=SAFETY_NET_NAME,
    )
