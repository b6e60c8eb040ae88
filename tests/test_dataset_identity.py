"""The identifying values of a dataset (idiscore.dataset_identity): every attribute that names
a person, an ID or an institution, also inside the sequences that identify people, and the
birth date as it is usually written -- and none of them survives cleaning."""

from __future__ import annotations

from io import BytesIO

import pydicom
import pytest
from pydicom.datadict import dictionary_is_retired, dictionary_VR, keyword_dict
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from idiscore.cleaning import clean_text
from idiscore.dataset_identity import find_identifying_values, identifying_values

PERSON_KEYWORDS = sorted(
    keyword
    for keyword, tag in keyword_dict.items()
    if dictionary_VR(tag) == "PN" and not dictionary_is_retired(tag)
)


def _read_back(dataset: Dataset, syntax: str) -> Dataset:
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = syntax
    dataset.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    dataset.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    buffer = BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    buffer.seek(0)
    return pydicom.dcmread(buffer)


ENCODINGS = ["built", ExplicitVRLittleEndian, ImplicitVRLittleEndian]


def _encoded(dataset: Dataset, encoding: str) -> Dataset:
    return dataset if encoding == "built" else _read_back(dataset, encoding)


@pytest.mark.parametrize("keyword", PERSON_KEYWORDS)
def test_every_person_name_attribute_is_read(keyword: str) -> None:
    dataset = Dataset()
    setattr(dataset, keyword, "Quenneville^Aurelio")
    values = identifying_values(dataset)
    assert {"Quenneville", "Aurelio"} <= values
    assert clean_text("AX T2 Aurelio Quenneville FLAIR", values) == "AX T2 FLAIR"


@pytest.mark.parametrize(
    ("keyword", "value", "word"),
    [
        ("PatientID", "PX-448812", "PX-448812"),
        ("OtherPatientIDs", "OTHER-77", "OTHER-77"),
        ("IssuerOfPatientID", "MERCYHOSP", "MERCYHOSP"),
        ("AccessionNumber", "ACC987", "ACC987"),
        ("StudyID", "S7781", "S7781"),
        ("AdmissionID", "ADM5521", "ADM5521"),
        ("RequestedProcedureID", "RQ7781", "RQ7781"),
        ("PlacerOrderNumberImagingServiceRequest", "PL88123", "PL88123"),
        ("FillerOrderNumberImagingServiceRequest", "FL88124", "FL88124"),
        ("InstitutionName", "Ospedale Galliera", "Galliera"),
        ("InstitutionAddress", "12 Hartwell Road", "Hartwell"),
        ("InstitutionalDepartmentName", "Kowalczyk Wing", "Kowalczyk"),
        ("StationName", "CTSCAN07", "CTSCAN07"),
        ("PerformedStationName", "MRWEST2", "MRWEST2"),
        ("PatientAddress", "4 Quayside Lane", "Quayside"),
        ("ReferringPhysicianAddress", "9 Birchmoor Street", "Birchmoor"),
        ("PatientTelephoneNumbers", "5550123", "5550123"),
        ("CurrentPatientLocation", "Zephyr Ward", "Zephyr"),
        ("DeviceSerialNumber", "SN1234X", "SN1234X"),
    ],
)
@pytest.mark.parametrize("encoding", ENCODINGS, ids=["built", "explicit", "implicit"])
def test_ids_institutions_and_addresses_are_read(
    keyword: str, value: str, word: str, encoding: str
) -> None:
    dataset = Dataset()
    setattr(dataset, keyword, value)
    values = identifying_values(_encoded(dataset, encoding))
    assert word in values
    assert clean_text(f"CT {word} HEAD", values) == "CT HEAD"


def _nested() -> Dataset:
    dataset = Dataset()
    other = Dataset()
    other.PatientID = "OLD-4421"
    other.IssuerOfPatientID = "WESTBROOK"
    dataset.OtherPatientIDsSequence = Sequence([other])
    code = Dataset()
    code.CodeValue = "EMP0042"
    code.CodingSchemeDesignator = "L"
    code.CodeMeaning = "Badge Thornquist"
    person = Dataset()
    person.PersonIdentificationCodeSequence = Sequence([code])
    person.InstitutionName = "Hartwell Clinic"
    person.PersonTelephoneNumbers = "5550199"
    dataset.ReferringPhysicianIdentificationSequence = Sequence([person])
    observer = Dataset()
    observer.VerifyingObserverName = "Zimmermann^Eva"
    dataset.VerifyingObserverSequence = Sequence([observer])
    request = Dataset()
    request.RequestedProcedureID = "RQ7781"
    request.ScheduledProcedureStepID = "SP4410"
    dataset.RequestAttributesSequence = Sequence([request])
    return dataset


@pytest.mark.parametrize("encoding", ENCODINGS, ids=["built", "explicit", "implicit"])
def test_sequences_that_identify_people_are_read(encoding: str) -> None:
    source = _encoded(_nested(), encoding)
    before = source.to_json_dict()
    values = identifying_values(source)
    assert source.to_json_dict() == before  # only read
    expected = {"OLD-4421", "WESTBROOK", "EMP0042", "Thornquist", "Hartwell", "5550199"}
    expected |= {"Zimmermann", "Eva", "RQ7781", "SP4410"}
    assert expected <= values
    text = "CT HEAD OLD-4421 EMP0042 Thornquist Hartwell Zimmermann Eva RQ7781 SP4410"
    assert clean_text(text, values) == "CT HEAD"


BIRTH_DATE_RENDERINGS = [
    "19610301",
    "1961-03-01",
    "01/03/1961",
    "03/01/1961",
    "1.3.1961",
    "01-Mar-1961",
    "1 March 1961",
    "Mar 1, 1961",
    "01.03.61",
    "3/1/61",
    "1961/03/01",
]


@pytest.mark.parametrize("rendering", BIRTH_DATE_RENDERINGS)
def test_the_birth_date_as_usually_written(rendering: str) -> None:
    dataset = Dataset()
    dataset.PatientBirthDate = "19610301"
    values = identifying_values(dataset)
    assert rendering in values
    assert clean_text(f"CT {rendering} HEAD", values) == "CT HEAD"
    # given as a value, the rendering goes even where no date rule would see it
    assert clean_text(f"CT {rendering} HEAD", [rendering]) == "CT HEAD"


@pytest.mark.filterwarnings("ignore:Invalid value for VR DA")
@pytest.mark.parametrize("value", ["1961", "1961-03-01 ", "01.03.1961x"])
def test_a_malformed_birth_date_is_kept_as_written(value: str) -> None:
    dataset = Dataset()
    dataset.PatientBirthDate = value
    assert value.strip() in find_identifying_values(dataset)


def test_an_empty_dataset_has_no_identifying_values() -> None:
    assert find_identifying_values(Dataset()) == frozenset()
