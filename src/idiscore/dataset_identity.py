"""The identifying values of a dataset: what :func:`idiscore.cleaning.clean_text` removes.

:func:`identifying_values` reads every person name (all attributes of VR PN) with its parts,
IDs, accession, order and procedure step numbers, addresses and phone numbers, institution,
department and station names, the device serial number, the birth date as it is usually
written, and the same in the sequences that identify people. The dataset is only read; the
result is remembered for the raw bytes it was computed from.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pydicom
from pydicom._dicom_dict import DicomDictionary
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName

from idiscore.vocabulary import Vocabulary, _tokenise, default_vocabulary

__all__ = ["find_identifying_values", "identifying_values"]

# ----------------------------------------------------------------------------------------------
# Identifying values of a dataset


def _person_keywords() -> tuple[str, ...]:
    """Every current attribute of the DICOM dictionary whose VR is PN."""
    return tuple(
        sorted(entry[4] for entry in DicomDictionary.values() if entry[0] == "PN" and not entry[3])
    )


_PERSON_KEYWORDS = _person_keywords()
_OTHER_KEYWORDS = (
    "PatientID",
    "OtherPatientIDs",
    "IssuerOfPatientID",
    "AccessionNumber",
    "StudyID",
    "AdmissionID",
    "ServiceEpisodeID",
    "RequestedProcedureID",
    "ScheduledProcedureStepID",
    "PerformedProcedureStepID",
    "PlacerOrderNumberImagingServiceRequest",
    "FillerOrderNumberImagingServiceRequest",
    "MedicalRecordLocator",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "RegionOfResidence",
    "PatientInstitutionResidence",
    "CurrentPatientLocation",
    "ResponsibleOrganization",
    "ReferringPhysicianAddress",
    "ReferringPhysicianTelephoneNumbers",
    "PersonAddress",
    "PersonTelephoneNumbers",
    "OrderCallbackPhoneNumber",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "StationName",
    "ScheduledStationName",
    "PerformedStationName",
    "DeviceSerialNumber",
)
_DATE_KEYWORDS = ("PatientBirthDate",)
#: Sequences whose items name people, IDs or institutions; read recursively (items get the
#: top-level keywords, and their code sequences the code value and meaning).
_NESTED = (
    "OtherPatientIDsSequence",
    "ReferringPhysicianIdentificationSequence",
    "ConsultingPhysicianIdentificationSequence",
    "PhysiciansOfRecordIdentificationSequence",
    "PerformingPhysicianIdentificationSequence",
    "PhysiciansReadingStudyIdentificationSequence",
    "OperatorIdentificationSequence",
    "RequestAttributesSequence",
    "VerifyingObserverSequence",
)
_IDENTIFYING_CODES = (
    "PersonIdentificationCodeSequence",
    "InstitutionCodeSequence",
    "VerifyingObserverIdentificationCodeSequence",
)
_CODE_KEYWORDS = ("CodeValue", "CodeMeaning")
_MAX_NESTING = 3
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_MIN_LENGTH = 2


def _read(dataset: pydicom.Dataset, keyword: str) -> Any:
    """The decoded value of ``keyword`` in ``dataset`` (None if absent), read without
    storing the decoded element back into ``dataset``."""
    from idiscore.operators.values import read_element

    tag = tag_for_keyword(keyword)
    if tag is None or tag not in dataset._dict:
        return None
    return read_element(dataset, tag, dataset._character_set).value


def _element_strings(dataset: pydicom.Dataset, keyword: str) -> list[str]:
    try:
        value = _read(dataset, keyword)
    except Exception:  # a malformed raw value: fall back to its bytes
        value = _raw_bytes(dataset, keyword)
    return _strings(value)


def _raw_bytes(dataset: pydicom.Dataset, keyword: str) -> bytes | None:
    tag = tag_for_keyword(keyword)
    if tag is None or tag not in dataset:
        return None
    raw = dataset.get_item(tag)
    value = getattr(raw, "value", None)
    return value if isinstance(value, bytes) else None


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (MultiValue, list, tuple)):
        return [text for item in value for text in _strings(item)]
    if isinstance(value, PersonName):
        return ["=".join(value.components)]
    if isinstance(value, bytes):
        return value.decode("latin-1").split("\\")
    return [str(value)]


def _person_parts(name: str) -> Iterator[str]:
    yield name
    for group in name.split("="):
        components = group.split("^")
        yield group
        for component in components[:3]:  # family, given, middle; not prefix or suffix
            yield component
            yield from (token.core for token in _tokenise(component))


def _other_parts(value: str, vocabulary: Vocabulary) -> Iterator[str]:
    """The value and its distinctive words; nothing for one generic word ("Radiology")."""
    cores = [token.core for token in _tokenise(value) if token.core]
    distinctive = [core for core in cores if core.upper() not in vocabulary.words]
    if len(cores) > 1 or distinctive:
        yield value
    yield from distinctive


_CHARSET_TAG = 0x00080005
_IDENTITY_TAGS: tuple[int, ...] | None = None
_IDENTITY_CACHE: dict[tuple[object, ...], frozenset[str]] = {}
_IDENTITY_CACHE_SIZE = 256
_IDENTITY_LOCK = threading.Lock()


def _identity_key(dataset: pydicom.Dataset) -> tuple[object, ...] | None:
    """The raw bytes :func:`identifying_values` depends on, or None if not all raw.

    Every file of a series carries the same names and IDs: their identifying values
    are computed once and looked up by these bytes afterwards.
    """
    global _IDENTITY_TAGS
    if _IDENTITY_TAGS is None:
        keywords = (
            *_PERSON_KEYWORDS,
            *_OTHER_KEYWORDS,
            *_DATE_KEYWORDS,
            *_NESTED,
            *_IDENTIFYING_CODES,
            "SpecificCharacterSet",
        )
        _IDENTITY_TAGS = tuple(int(tag_for_keyword(k) or 0) for k in keywords)
    elements = dataset._dict
    key: list[object] = []
    for tag in _IDENTITY_TAGS:
        element = elements.get(tag)  # type: ignore[call-overload]
        if element is None:
            key.append(None)
        elif type(element) is RawDataElement and element.value is not None:
            key.append(element.value)
        elif tag == _CHARSET_TAG:  # pydicom decodes it while reading
            value = element.value
            key.append(tuple(value) if isinstance(value, MultiValue | list) else value)
        else:
            return None
    return tuple(key)


def identifying_values(
    dataset: pydicom.Dataset, *, vocabulary: Vocabulary | None = None
) -> frozenset[str]:
    """The identifying values of ``dataset`` (see :func:`find_identifying_values`).

    With the default vocabulary, the result is remembered for the raw values it was
    computed from (the last few hundred distinct ones).
    """
    if vocabulary is not None:
        return find_identifying_values(dataset, vocabulary=vocabulary)
    key = _identity_key(dataset)
    if key is None:
        return find_identifying_values(dataset)
    found = _IDENTITY_CACHE.get(key)
    if found is None:
        found = find_identifying_values(dataset)
        with _IDENTITY_LOCK:
            while len(_IDENTITY_CACHE) >= _IDENTITY_CACHE_SIZE:
                del _IDENTITY_CACHE[next(iter(_IDENTITY_CACHE))]
            _IDENTITY_CACHE[key] = found
    return found


def find_identifying_values(
    dataset: pydicom.Dataset, *, vocabulary: Vocabulary | None = None
) -> frozenset[str]:
    """The identifying values of ``dataset`` to pass to :func:`clean_text`.

    Reads every person name (every attribute of VR PN, with every part), IDs, accession
    number, order and procedure step numbers, addresses and phone numbers, institution,
    department and station names, the device serial number, the patient's birth date (also
    as it is usually written: ``1961-03-01``, ``01/03/1961``, ``03/01/1961``, ``1.3.1961``,
    ``01-Mar-1961``, ``1 March 1961``, ``Mar 1, 1961`` ...) and the same attributes in the
    items of the sequences that identify people (Other Patient IDs, the physician and operator
    identification sequences, Request Attributes, Verifying Observer), with the code values
    and meanings of their person and institution codes. Multi-word institution-like values
    contribute their whole value and their words that are not in ``vocabulary`` (default:
    :func:`default_vocabulary`). Values shorter than two characters are ignored. The dataset
    is only read.
    """
    vocab = default_vocabulary() if vocabulary is None else vocabulary
    found: set[str] = set()
    _collect(dataset, vocab, found, 0)
    for keyword in _DATE_KEYWORDS:
        for value in _element_strings(dataset, keyword):
            found.update(_date_renderings(value))
    return frozenset(stripped for value in found if len(stripped := value.strip()) >= _MIN_LENGTH)


def _collect(dataset: pydicom.Dataset, vocab: Vocabulary, found: set[str], depth: int) -> None:
    for keyword in _PERSON_KEYWORDS:
        for name in _element_strings(dataset, keyword):
            found.update(_person_parts(name))
    for keyword in _OTHER_KEYWORDS:
        for value in _element_strings(dataset, keyword):
            found.update(_other_parts(value, vocab))
    if depth:
        for keyword in _DATE_KEYWORDS:
            for value in _element_strings(dataset, keyword):
                found.update(_date_renderings(value))
    if depth >= _MAX_NESTING:
        return
    for sequence_keyword in _NESTED:
        for item in _items(dataset, sequence_keyword):
            _collect(item, vocab, found, depth + 1)
    for sequence_keyword in _IDENTIFYING_CODES:
        for item in _items(dataset, sequence_keyword):
            for keyword in _CODE_KEYWORDS:
                for value in _element_strings(item, keyword):
                    found.update(_other_parts(value, vocab))


def _items(dataset: pydicom.Dataset, keyword: str) -> list[pydicom.Dataset]:
    try:
        items = _read(dataset, keyword)
    except Exception:  # an undecodable sequence: nothing to read
        return []
    return list(items) if isinstance(items, pydicom.Sequence) else []


def _date_renderings(value: str) -> Iterator[str]:
    """A DICOM date (``19610301``) as written, and as it is usually written in free text."""
    yield value.strip()
    digits = "".join(char for char in value if char not in " .-/")
    if len(digits) != 8 or not digits.isdigit():
        return
    year, month, day = digits[:4], int(digits[4:6]), int(digits[6:])
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        return
    yield digits
    short = year[2:]
    for y in (year, short):
        for d, m in ((f"{day:02d}", f"{month:02d}"), (str(day), str(month))):
            for separator in "/.-":
                yield f"{d}{separator}{m}{separator}{y}"  # day first
                yield f"{m}{separator}{d}{separator}{y}"  # month first
    for separator in "-/.":
        yield f"{year}{separator}{month:02d}{separator}{day:02d}"
    full = _MONTHS[month - 1]
    for name in (full, full[:3]):
        for d in (str(day), f"{day:02d}"):
            yield f"{d} {name} {year}"
            yield f"{d}-{name}-{year}"
            yield f"{name} {d}, {year}"
            yield f"{name} {d} {year}"
            yield f"{d}{name}{year}"
