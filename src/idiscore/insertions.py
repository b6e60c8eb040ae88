"""Step 4: the attributes PS3.15 requires a de-identifier to add.

From ``deidentification_inserted_attributes.csv`` (PS3.15 E.1.1, E.2, E.3): Patient
Identity Removed = YES; De-identification Method (text) and De-identification Method
Code Sequence (one CID 7050 code per profile and option applied); Longitudinal
Temporal Information Modified; Burned In Annotation = NO only when pixel data was
really cleaned.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset
from pydicom.filewriter import write_dataset
from pydicom.sequence import Sequence

from idiscore._version import __version__
from idiscore.errors import ConfigurationError
from idiscore.operators.values import new_dataset
from idiscore.profile import Profile
from idiscore.standard._tables import CID7050
from idiscore.standard.rulesets import (
    CLEAN_PIXEL_DATA_CODE,
    LEGACY_SET_NAMES,
    OPTION_CODES,
    SET_NAMES,
    cid7050,
)
from idiscore.steps import DeidentificationInfo

_LO_MAX = 64


def applied_codes(profile: Profile, pixels_cleaned: bool = False) -> list[tuple[str, str, str]]:
    """The CID 7050 codes of the profile and options applied, in profile order.

    Rule sets without a code (custom rule sets) add nothing.
    """
    codes: list[tuple[str, str, str]] = []
    for rule_set in profile.rule_sets:
        if rule_set.code is not None and rule_set.code not in codes:
            codes.append(rule_set.code)
    if pixels_cleaned:
        pixel_code = cid7050(CLEAN_PIXEL_DATA_CODE)
        if pixel_code not in codes:
            codes.append(pixel_code)
    return codes


def get_deidentification_method(
    profile: Profile | str | None = None,
    *,
    text: str | None = None,
    method: str | None = None,
) -> DataElement:
    """The *De-identification Method* (0012,0063) element: idiscore, its version, the profile.

    Each value fits LO (64 characters): the tool and version first, then the profile
    name and the names of its rule sets. ``method`` (idiscore 1.x; also accepted as the
    first argument) gives the whole value instead.
    """
    if isinstance(profile, str):
        profile, method = None, profile
    if method is not None:
        return DataElement(0x00120063, "LO", method)
    values = [f"idiscore {__version__}"]
    if text is not None:
        values.append(text)
    if profile is not None:
        values.append(profile.name)
        values.extend(rule_set.name for rule_set in profile.rule_sets)
    cleaned: list[str] = []
    for value in values:
        value = value.replace("\\", "/").strip()[:_LO_MAX]
        if value and value not in cleaned:
            cleaned.append(value)
    return DataElement(0x00120063, "LO", cleaned if len(cleaned) > 1 else cleaned[0])


def _code_for_name(name: str) -> tuple[str, str, str]:
    """The CID 7050 code of a rule set: by its name (the code meaning), its attribute name in
    ``get_dicom_rule_sets()`` (1.x names too) or its Table E.1-1 column name."""
    key = name.strip()
    key = LEGACY_SET_NAMES.get(key, key)
    columns = {attribute: column for column, attribute in SET_NAMES.items()}
    column = columns.get(key, key)
    if column in OPTION_CODES:
        return cid7050(OPTION_CODES[column])
    for code in CID7050:
        if code[2].casefold() == key.casefold():
            return code
    raise ConfigurationError(f"Could not find a CID 7050 code for rule set {name!r}")


def get_idis_code_sequence(ruleset_names: Iterable[str]) -> DataElement:
    """The *De-identification Method Code Sequence* (0012,0064) for the named rule sets.

    One item per name, with the rule set's CID 7050 code (idiscore 1.x). Names are rule set
    names (``get_dicom_rule_sets().basic_profile.name``), attribute names (``"basic_profile"``,
    ``"retain_modified_dates"``) or Table E.1-1 column names.

    Raises:
        ConfigurationError: (a ValueError) for a name that is not a PS3.15 profile or option.
    """
    if isinstance(ruleset_names, str):
        ruleset_names = [ruleset_names]
    items = [_code_item(_code_for_name(name)) for name in ruleset_names]
    return DataElement(0x00120064, "SQ", Sequence(items))


def _code_item(code: tuple[str, str, str]) -> Dataset:
    item = new_dataset()
    item[0x00080100] = DataElement(0x00080100, "SH", code[1])
    item[0x00080102] = DataElement(0x00080102, "SH", code[0])
    item[0x00080104] = DataElement(0x00080104, "LO", code[2])
    return item


class StandardInsertions:
    """The PS3.15 insertions, derived from what was actually applied to a dataset."""

    def __init__(self) -> None:
        # what the insertions are for a profile (and pixel cleaning) is worked out once
        self._plans: dict[tuple[int, bool], tuple[Profile, list[tuple[str, str, str]], Any, str]]
        self._plans = {}
        self._encoded: dict[tuple[int, bool, bool, bool], tuple[Profile, Any]] = {}

    def _plan(
        self, profile: Profile, pixels_cleaned: bool
    ) -> tuple[list[tuple[str, str, str]], Any, str]:
        key = (id(profile), pixels_cleaned)
        plan = self._plans.get(key)
        if plan is None or plan[0] is not profile:
            codes = applied_codes(profile, pixels_cleaned)
            values = {code[1] for code in codes}
            if OPTION_CODES["retain_long_modified_dates"] in values:
                longitudinal = "MODIFIED"
            elif OPTION_CODES["retain_long_full_dates"] in values:
                longitudinal = "UNMODIFIED"
            else:
                longitudinal = "REMOVED"
            method = get_deidentification_method(profile).value
            plan = (profile, codes, method, longitudinal)
            if len(self._plans) > 64:
                self._plans.clear()
            self._plans[key] = plan
        return plan[1], plan[2], plan[3]

    def elements(self, dataset: Dataset, info: DeidentificationInfo) -> Iterable[DataElement]:
        codes, method, longitudinal = self._plan(info.profile, info.pixels_cleaned)
        yield DataElement(0x00120062, "CS", "YES")
        yield DataElement(0x00120063, "LO", list(method) if isinstance(method, list) else method)
        if codes:
            yield DataElement(0x00120064, "SQ", Sequence([_code_item(c) for c in codes]))
        yield DataElement(0x00280303, "CS", longitudinal)
        if info.pixels_cleaned:
            yield DataElement(0x00280301, "CS", "NO")

    def encoded_elements(
        self, info: DeidentificationInfo, implicit_vr: bool, little_endian: bool
    ) -> tuple[RawDataElement, ...] | None:
        """The elements of :meth:`elements`, encoded once per profile and encoding.

        They are raw elements (pydicom's undecoded form, immutable, so every output can
        share them) holding the bytes pydicom writes for :meth:`elements` in the given
        encoding; pydicom decodes them when they are read. None when a value is not
        ASCII (its bytes would depend on the output's character set), and for a
        subclass with its own :meth:`elements` (which may depend on the dataset).
        """
        if type(self).elements is not StandardInsertions.elements:
            return None
        key = (id(info.profile), bool(info.pixels_cleaned), bool(implicit_vr), bool(little_endian))
        entry = self._encoded.get(key)
        if entry is None or entry[0] is not info.profile:
            encoded = _encode(
                list(self.elements(Dataset(), info)), bool(implicit_vr), bool(little_endian)
            )
            entry = (info.profile, encoded)
            if len(self._encoded) > 64:
                self._encoded.clear()
            self._encoded[key] = entry
        return entry[1]  # type: ignore[no-any-return]

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._plans = {}
        self._encoded = {}

    def __repr__(self) -> str:
        return "StandardInsertions()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StandardInsertions)

    def __hash__(self) -> int:
        return hash(type(self))


def _encode(
    elements: list[DataElement], implicit_vr: bool, little_endian: bool
) -> tuple[RawDataElement, ...] | None:
    """``elements`` written by pydicom and read back undecoded; None if a value is not
    ASCII text."""
    dataset = Dataset()
    for element in elements:
        dataset[element.tag] = element
    for item in _texts(dataset):
        if not item.isascii():
            return None
    buffer = DicomBytesIO()
    buffer.is_implicit_VR, buffer.is_little_endian = implicit_vr, little_endian
    write_dataset(buffer, dataset)
    raw = read_dataset(io.BytesIO(buffer.getvalue()), implicit_vr, little_endian)
    return tuple(raw._dict.values())  # type: ignore[arg-type]


def _texts(dataset: Dataset) -> Iterable[str]:
    for element in dataset:
        if element.VR == "SQ":
            for item in element.value:
                yield from _texts(item)
        else:
            values = element.value if isinstance(element.value, list) else [element.value]
            yield from (str(value) for value in values)


#: *Patient Identity Removed* (0012,0062) = YES, the element every PS3.15 de-identifier
#: adds (idiscore 1.x). A Core copies insertion elements, so this one is never modified.
PATIENT_IDENTITY_REMOVED = DataElement(0x00120062, "CS", "YES")


__all__ = [
    "PATIENT_IDENTITY_REMOVED",
    "StandardInsertions",
    "applied_codes",
    "get_deidentification_method",
    "get_idis_code_sequence",
]
