"""idiscore 1.x's public names import from the same modules and behave compatibly.

The upstream public-API tests could not even be collected before (``idiscore.private_processing``
was missing); the tests here take their shape: same calls, our own datasets (pydicom's bundled
files and small generated ones).
"""

from __future__ import annotations

import importlib
import pickle
from datetime import datetime
from pathlib import Path

import pydicom
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydicom.dataset import Dataset

from factories import PYDICOM_TEST_FILES, assert_unchanged, snapshot, sop_dataset

#: Every name the issue lists, by module (idiscore 1.6's documented API).
LEGACY_NAMES = {
    "idiscore.private_processing": ["SafePrivateBlock", "SafePrivateDefinition"],
    "idiscore.image_processing": [
        "PIILocation", "PIILocationList", "PixelProcessor", "SquareArea", "CriterionException",
        "PixelDataProcessorException",
    ],
    "idiscore.rule_sets": ["DICOMRuleSets"],
    "idiscore.bouncers": [
        "DatasetRejected", "BouncerError", "CriterionBouncer", "RejectKOGSPS",
        "RejectNonStandardDicom", "RejectEncapsulatedImageStorage", "determine_bouncer_results",
        "PatchedDataset", "Bouncer",
    ],
    "idiscore.identifiers": [
        "TagIdentifier", "RepeatingTag", "SingleTag", "RepeatingGroup", "PrivateTags",
        "PrivateBlockTagIdentifier",
    ],
    "idiscore.dicom": ["ActionCodes", "ActionCode"],
    "idiscore.insertions": [
        "get_deidentification_method", "get_idis_code_sequence", "PATIENT_IDENTITY_REMOVED",
    ],
    "idiscore.operators": [
        "TimeDeltaProvider", "Operator", "Keep", "Remove", "Empty", "Clean", "Replace",
        "HashUID", "Hash", "SetFixedValue",
    ],
    "idiscore.validation": ["extract_signature", "Delta", "DeltaStatusCodes"],
    "idiscore.exceptions": [
        "IDISCoreError", "IDISCoreException", "SafePrivateError", "CriterionException",
        "BouncerError", "DatasetRejected",
    ],
    "idiscore.core": ["Core", "Profile", "DeidentificationError"],
    "idiscore.defaults": ["create_default_core", "get_dicom_rule_sets", "create_core"],
    "idiscore.rules": ["Rule", "RuleSet"],
}  # fmt: skip

CT_FILE = Path(PYDICOM_TEST_FILES) / "CT_small.dcm"


@pytest.mark.parametrize("module", sorted(LEGACY_NAMES))
def test_every_legacy_name_imports(module: str) -> None:
    loaded = importlib.import_module(module)
    for name in LEGACY_NAMES[module]:
        assert getattr(loaded, name, None) is not None, f"{module}.{name}"


def test_legacy_exception_names_are_our_tree() -> None:
    from idiscore import bouncers, core, errors, exceptions, image_processing

    assert core.DeidentificationError is errors.DeidentificationError
    assert bouncers.DatasetRejected is errors.DatasetRejectedError
    assert exceptions.IDISCoreException is errors.IDISCoreError
    assert issubclass(bouncers.BouncerError, errors.DatasetRejectedError)
    assert image_processing.CriterionException is exceptions.CriterionException
    assert image_processing.PixelDataProcessorException is errors.PixelDataProcessingError
    for name in ("CriterionException", "SafePrivateError"):
        assert issubclass(getattr(exceptions, name), errors.DeidentificationError)


# --------------------------------------------------------------------------- private_processing


def _ct(**values: object) -> Dataset:
    return sop_dataset(**values)


def _block():  # type: ignore[no-untyped-def]
    from idiscore.private_processing import SafePrivateBlock

    return SafePrivateBlock(
        tags=[
            "0023[SIEMENS MED SP DXMG WH AWS 1]10",
            "0023[SIEMENS MED SP DXMG WH AWS 1]11",
            "00b1[TestCreator]01",
            "00b1[TestCreator]02",
        ],
        criterion=lambda x: x.Modality == "CT",
        comment="only in CT",
    )


def test_safe_private_block_criterion_and_strings() -> None:
    from idiscore.identifiers import PrivateBlockTagIdentifier, TagIdentifier
    from idiscore.private_processing import SafePrivateBlock

    block = _block()
    assert len(block.get_safe_private_tags(_ct())) == 4
    assert len(block.get_safe_private_tags(_ct(Modality="US"))) == 0
    assert all(isinstance(tag, TagIdentifier) for tag in block.get_safe_private_tags(_ct()))
    assert block.tags[0] == PrivateBlockTagIdentifier("0023,[SIEMENS MED SP DXMG WH AWS 1]10")
    always = SafePrivateBlock(tags=block.tags)
    assert len(always.get_safe_private_tags(_ct(Modality="US"))) == 4


def test_safe_private_block_errors() -> None:
    from idiscore.exceptions import CriterionException
    from idiscore.private_processing import SafePrivateBlock

    with pytest.raises(CriterionException):
        _block().get_safe_private_tags(Dataset())  # no Modality to look at
    with pytest.raises(ValueError):
        SafePrivateBlock(tags=["not_a_private_block_tag"])
    with pytest.raises(ValueError):
        SafePrivateBlock(tags=["0023[Creator]10"], criterion="Modality is CT")  # type: ignore[arg-type]


def test_safe_private_definition() -> None:
    from idiscore.exceptions import SafePrivateError
    from idiscore.private_processing import SafePrivateBlock, SafePrivateDefinition

    definition = SafePrivateDefinition(
        blocks=[_block(), SafePrivateBlock(tags=["00b1[othercreator]11", "00b1[othercreator]12"])]
    )
    assert len(definition.safe_identifiers(_ct())) == 6
    assert len(definition.safe_identifiers(_ct(Modality="US"))) == 2
    ds = _ct()
    ds.private_block(0x00B1, "TestCreator", create=True).add_new(0x01, "LO", "x")
    ds.private_block(0x00B1, "othercreator", create=True).add_new(0x13, "LO", "y")
    assert definition.is_safe(ds[0x00B11001], ds)
    assert not definition.is_safe(ds[0x00B11113], ds)
    with pytest.raises(SafePrivateError):
        definition.safe_identifiers(Dataset())


def test_safe_private_criterion_failure_is_a_deidentification_error() -> None:
    from idiscore.defaults import create_default_core
    from idiscore.errors import DeidentificationError
    from idiscore.private_processing import SafePrivateDefinition

    core = create_default_core(safe_private_definition=SafePrivateDefinition([_block()]))
    ds = _ct()
    del ds.Modality
    ds.private_block(0x00B1, "TestCreator", create=True).add_new(0x01, "LO", "Smith secret")
    with pytest.raises(DeidentificationError) as caught:
        core.deidentify(ds)
    assert "Smith" not in str(caught.value)


def test_get_dicom_rule_sets_takes_a_safe_private_definition() -> None:
    from idiscore.defaults import get_dicom_rule_sets
    from idiscore.private_processing import SafePrivateBlock, SafePrivateDefinition

    plain = get_dicom_rule_sets()
    sets = get_dicom_rule_sets(SafePrivateDefinition([SafePrivateBlock(["00b1[Mine]01"])]))
    assert len(sets.retain_safe_private.rules) == len(plain.retain_safe_private.rules) + 1
    assert sets.basic_profile is plain.basic_profile
    assert get_dicom_rule_sets() is plain  # the standard sets are unchanged


# --------------------------------------------------------------------------- rule_sets, dicom


def test_dicom_rule_sets_answer_both_names() -> None:
    from idiscore.defaults import get_dicom_rule_sets
    from idiscore.rule_sets import DICOMRuleSets

    ours = get_dicom_rule_sets()
    assert DICOMRuleSets() == ours
    pairs = {
        "retain_modified_dates": "retain_long_modified_dates",
        "retain_full_dates": "retain_long_full_dates",
        "retain_patient_chars": "retain_patient_characteristics",
    }
    for legacy, name in pairs.items():
        assert getattr(ours, legacy) is getattr(ours, name)
        assert ours.by_name(legacy) is getattr(ours, name)
    for name in (
        "basic_profile", "retain_safe_private", "retain_uid", "retain_device_id",
        "retain_institution_id", "retain_patient_characteristics", "clean_descriptors",
        "clean_structured_content", "clean_graphics",
    ):  # fmt: skip
        assert getattr(ours, name).code is not None


def test_action_mapping_replaces_the_operators_of_a_code() -> None:
    from idiscore.core import Core, Profile
    from idiscore.dicom import ActionCodes
    from idiscore.operators import Remove, SetFixedValue
    from idiscore.rule_sets import DICOMRuleSets

    sets = DICOMRuleSets(action_mapping={ActionCodes.CLEAN: SetFixedValue("CLEANED")})
    clean = [r for r in DICOMRuleSets().clean_descriptors.rules if r.action_code == "C"]
    assert clean
    assert all(r.operation == SetFixedValue("CLEANED") for r in sets.clean_descriptors.rules)
    ds = _ct(StudyDescription="Jane's scan")
    out = Core(Profile([sets.basic_profile, sets.clean_descriptors])).deidentify(ds)
    assert out.StudyDescription == "CLEANED"
    by_text = DICOMRuleSets(action_mapping={"X": Remove()})
    assert by_text == DICOMRuleSets()
    with pytest.raises(ValueError):
        DICOMRuleSets(action_mapping={"Q": Remove()})
    with pytest.raises(ValueError):
        DICOMRuleSets(action_mapping={ActionCodes.KEEP: "keep"})  # type: ignore[dict-item]


def test_action_codes() -> None:
    from idiscore.dicom import ActionCodes
    from idiscore.standard.actions import ActionCode

    assert ActionCodes.get_code("X/Z/D") is ActionCodes.REMOVE_OR_EMPTY_OR_DUMMY
    assert ActionCodes.CLEAN.key == "C"
    assert ActionCodes.UNDEFINED not in ActionCodes.ALL
    assert {code.standard() for code in ActionCodes.ALL} == set(ActionCode)
    with pytest.raises(ValueError):
        ActionCodes.get_code("?")


# --------------------------------------------------------------------------- identifiers


@given(
    pattern=st.text(alphabet="0123456789abcdefx", min_size=8, max_size=8).filter(
        lambda p: "x" in p
    ),
    tag=st.integers(min_value=0, max_value=0xFFFFFFFF),
)
def test_repeating_tag_matches_like_repeating_group(pattern: str, tag: int) -> None:
    from idiscore.identifiers import RepeatingGroup, RepeatingTag

    repeating = RepeatingTag(pattern)
    assert repeating.tag == pattern
    assert repeating.matches(tag) == RepeatingGroup(repeating).matches(tag)
    assert repeating.matches(repeating.static_component())


def test_repeating_tag_forms() -> None:
    from idiscore.identifiers import RepeatingTag

    tag = RepeatingTag("(0010, xx10)")
    assert (tag.tag, str(tag)) == ("0010xx10", "(0010, xx10)")
    assert (tag.as_mask(), tag.static_component()) == (0xFFFF00FF, 0x00100010)
    assert tag.number_of_matchable_tags() == 256
    assert RepeatingTag("60xx3000").name() == "OverlayData"
    assert RepeatingTag("50xx,xxxx").name().startswith("Unknown Repeater tag")
    for bad in ("0010,001", "zz10xx10", 12):
        with pytest.raises(ValueError):
            RepeatingTag(bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- bouncers


def _header(sop_class: str, **values: object) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = sop_class
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


def test_rejections_are_dataset_rejected() -> None:
    from idiscore.bouncers import DatasetRejected, RejectEncapsulatedImageStorage
    from idiscore.defaults import create_default_core

    for uid in ("1.2.840.10008.5.1.4.1.1.104.1", "1.2.840.10008.5.1.4.1.1.104.2"):
        with pytest.raises(DatasetRejected):
            RejectEncapsulatedImageStorage().inspect(_header(uid))
    assert RejectEncapsulatedImageStorage().inspect(_header("1.2.840.10008.5.1.4.1.1.2")) is None
    with pytest.raises(DatasetRejected):
        create_default_core().deidentify(sop_dataset(SOPClassUID="1.2.3.4"))


def test_determine_bouncer_results() -> None:
    from idiscore.bouncers import CriterionBouncer, DatasetRejected, determine_bouncer_results

    bouncers = [
        CriterionBouncer("Modality.equals('US') and not BurnedInAnnotation.equals('NO')"),
        CriterionBouncer(lambda ds: ds.Modality == "CT", justification="no CT please"),
    ]
    with pytest.raises(DatasetRejected, match="no CT please"):
        determine_bouncer_results(bouncers, _header("1.2.840.10008.5.1.4.1.1.2", Modality="CT"))
    us = _header("1.2.840.10008.5.1.4.1.1.6.1", Modality="US")
    before = snapshot(us)
    assert determine_bouncer_results(bouncers, us) == [bouncers[0]]
    assert_unchanged(us, before)
    assert determine_bouncer_results(bouncers, _header("1.2.3", Modality="PT")) == []


def test_criterion_bouncer_criteria_pickle() -> None:
    from idiscore.bouncers import CriterionBouncer, DatasetRejected
    from idiscore.image_processing import Criterion

    bouncers = [
        CriterionBouncer("Modality.equals('SR')", "reports"),
        CriterionBouncer(Criterion({"Modality": "SR"}), "reports"),
        CriterionBouncer(_is_report),
    ]
    copies = pickle.loads(pickle.dumps(bouncers))
    assert copies == bouncers
    report = _header("1.2.840.10008.5.1.4.1.1.88.33", Modality="SR")
    for bouncer in copies:
        with pytest.raises(DatasetRejected, match=r"reports|_is_report"):
            bouncer.inspect(report)
    with pytest.raises(ValueError):
        CriterionBouncer("Modality.equals('SR') and and")


def _is_report(ds: Dataset) -> bool:
    return bool(ds.Modality == "SR")


def test_patched_dataset_restores_everything() -> None:
    from idiscore.bouncers import PatchedDataset

    ds = pydicom.dcmread(CT_FILE)
    original_name = ds.PatientName  # decoded here, by the test, before the snapshot
    before = snapshot(ds)
    with PatchedDataset(dataset=ds, patch={"Modality": "US", "PatientID": "123"}) as patched:
        assert (patched.Modality, patched.PatientID) == ("US", "123")
        assert patched.PatientName == original_name
    assert_unchanged(ds, before)
    assert "PatientComments" not in ds
    with PatchedDataset(ds, {"PatientComments": "added"}):
        assert ds.PatientComments == "added"
    assert "PatientComments" not in ds
    with pytest.raises(ValueError):
        PatchedDataset(ds, {"NotAKeyword": 1})


def test_a_bouncer_written_for_idiscore_1_works_in_a_core() -> None:
    """1.x bouncers define ``inspect(self, dataset)`` and raise DatasetRejected."""
    from idiscore.bouncers import Bouncer, DatasetRejected
    from idiscore.core import Core, Profile
    from idiscore.image_processing import PIILocation, PixelProcessor, SquareArea

    class RejectUntrustedUltrasound(Bouncer):
        def inspect(self, dataset):  # type: ignore[no-untyped-def, override]
            if dataset.Modality == "US" and dataset.get("BurnedInAnnotation") != "NO":
                raise DatasetRejected("ultrasound with burned-in text")

    ds = pydicom.dcmread(CT_FILE)
    ds.Modality = "US"
    core = Core(Profile([]), bouncers=[RejectUntrustedUltrasound()])
    with pytest.raises(DatasetRejected) as caught:
        core.deidentify(ds)
    assert caught.value.bouncer_name == "RejectUntrustedUltrasound"
    cleaning = PixelProcessor(location_list=[PIILocation([SquareArea(0, 0, 8, 8)])])
    core = Core(Profile([]), bouncers=[RejectUntrustedUltrasound()], pixel_processor=cleaning)
    out = core.deidentify(ds)  # the bouncer lets it through: the pixels get cleaned
    assert (out.pixel_array[:8, :8] != ds.pixel_array[:8, :8]).any()


# --------------------------------------------------------------------------- image_processing


def test_pixel_processor_1x_calls() -> None:
    """The shape of idiscore 1.x's test_basic_image_processing, on a bundled CT."""
    from idiscore.image_processing import (
        CriterionException,
        PIILocation,
        PIILocationList,
        PixelDataProcessorException,
        PixelProcessor,
        SquareArea,
    )

    dataset = pydicom.dcmread(CT_FILE)
    dataset.Modality = "US"  # suspicious: needs cleaning
    location = PIILocation(
        areas=[SquareArea(5, 10, 4, 12), SquareArea(0, 0, 20, 3)],
        criterion=lambda x: x.Modality == "US",
    )
    processor = PixelProcessor(location_list=PIILocationList([location]))
    assert location.exists_in(dataset)
    assert processor.needs_cleaning(dataset)
    assert processor.get_locations(dataset) == [location]
    before = dataset.pixel_array.copy()
    cleaned = processor.clean_pixel_data(dataset=dataset)
    after = cleaned.pixel_array
    for x, y in ((6, 12), (8, 20), (1, 1)):
        assert after[y, x] != before[y, x]
    for x, y in ((21, 1), (20, 10)):
        assert after[y, x] == before[y, x]
    assert cleaned.BurnedInAnnotation == "NO"
    assert (dataset.pixel_array == before).all() and "BurnedInAnnotation" not in dataset

    ct = pydicom.dcmread(CT_FILE)
    assert not processor.needs_cleaning(ct)
    assert processor.clean_pixel_data(ct) is ct
    with pytest.raises(PixelDataProcessorException):
        PixelProcessor(PIILocationList([])).clean_pixel_data(dataset)
    with pytest.raises(CriterionException):
        PIILocation([SquareArea(0, 0, 1, 1)], criterion=lambda x: x.NoSuchThing).exists_in(ct)


def test_function_criteria_pickle_when_the_function_does() -> None:
    from idiscore.image_processing import FunctionCriterion, PIILocation, SquareArea

    location = PIILocation([SquareArea(0, 0, 4, 4)], criterion=_is_report)
    assert isinstance(location.criterion, FunctionCriterion)
    assert pickle.loads(pickle.dumps(location)) == location
    with pytest.raises(ValueError):
        location.to_dict()  # a function cannot be written to a location file
    with pytest.raises(Exception, match="lambda"):
        pickle.dumps(PIILocation([SquareArea(0, 0, 4, 4)], criterion=lambda ds: True))


# --------------------------------------------------------------------------- insertions


def test_insertions() -> None:
    from idiscore.core import Core, Profile
    from idiscore.insertions import (
        PATIENT_IDENTITY_REMOVED,
        get_deidentification_method,
        get_idis_code_sequence,
    )
    from idiscore.rule_sets import DICOMRuleSets

    sets = DICOMRuleSets()
    sequence = get_idis_code_sequence([sets.basic_profile.name, sets.retain_safe_private.name])
    assert [item.CodeValue for item in sequence.value] == ["113100", "113111"]
    assert [i.CodeValue for i in get_idis_code_sequence(["retain_modified_dates"]).value] == [
        "113107"
    ]
    with pytest.raises(ValueError, match="Could not find"):
        get_idis_code_sequence([sets.basic_profile.name, "unknown option"])
    assert get_deidentification_method(method="testmethod").value == "testmethod"
    assert get_deidentification_method("testmethod").value == "testmethod"
    assert get_deidentification_method().value.startswith("idiscore ")

    insertions = [sequence, PATIENT_IDENTITY_REMOVED, get_deidentification_method()]
    out = Core(Profile([sets.basic_profile]), insertions=insertions).deidentify(_ct())
    assert out.PatientIdentityRemoved == "YES"
    assert [item.CodeValue for item in out.DeidentificationMethodCodeSequence] == [
        "113100",
        "113111",
    ]
    out.PatientIdentityRemoved = "NO"
    assert PATIENT_IDENTITY_REMOVED.value == "YES"  # the Core copied it


# --------------------------------------------------------------------------- operators


def test_time_delta_provider_gives_the_shift_the_core_applies() -> None:
    from idiscore.core import Core, Profile
    from idiscore.defaults import get_dicom_rule_sets
    from idiscore.operators import TimeDeltaProvider
    from idiscore.pseudonyms import Pseudonymizer

    pseudonymizer = Pseudonymizer("a-key-for-this-test")
    sets = get_dicom_rule_sets()
    core = Core(
        Profile([sets.basic_profile, sets.retain_modified_dates]), pseudonymizer=pseudonymizer
    )
    provider = TimeDeltaProvider(Pseudonymizer("a-key-for-this-test"))
    first, second = _ct(StudyDate="20210314"), _ct(StudyDate="20190101")
    second.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.99"  # another study, same patient
    for ds in (first, second):
        delta = provider.get_delta(ds)
        expected = (datetime.strptime(ds.StudyDate, "%Y%m%d") - delta).strftime("%Y%m%d")
        assert core.deidentify(ds).StudyDate == expected
    assert provider.get_delta(first) == provider.get_delta(second)
    assert provider.get_delta(_ct(PatientID="someone else")) != provider.get_delta(first)
    other_key = TimeDeltaProvider(Pseudonymizer("another-key"))
    assert other_key.get_delta(first) != provider.get_delta(first)


# --------------------------------------------------------------------------- validation


def test_extract_signature() -> None:
    from idiscore.defaults import create_default_core
    from idiscore.validation import DeltaStatusCodes, extract_signature

    ds = pydicom.dcmread(CT_FILE)
    before = snapshot(ds)
    deltas = {delta.tag: delta for delta in extract_signature(create_default_core(), ds)}
    assert_unchanged(ds, before)
    status = {pydicom.datadict.keyword_for_tag(t): d.status for t, d in deltas.items()}
    assert status["PatientName"] == DeltaStatusCodes.EMPTIED
    assert status["SOPInstanceUID"] == DeltaStatusCodes.CHANGED
    assert status["Modality"] == DeltaStatusCodes.UNCHANGED
    assert status["PatientIdentityRemoved"] == DeltaStatusCodes.CREATED
    assert status["OtherPatientIDsSequence"] == DeltaStatusCodes.REMOVED
    assert set(status.values()) <= DeltaStatusCodes.ALL
    name = deltas[pydicom.tag.Tag("PatientName")]
    assert str(pydicom.dcmread(CT_FILE).PatientName) not in str(name) and not name.after


def test_an_operator_written_for_idiscore_1_works_in_a_core() -> None:
    """1.x operators take ``apply(element, dataset=None)`` and raise ElementShouldBeRemoved."""
    from copy import copy

    from pydicom.dataelem import DataElement
    from pydicom.sequence import Sequence

    from idiscore.core import Core, Profile
    from idiscore.identifiers import SingleTag
    from idiscore.operators import ElementShouldBeRemoved, Operator
    from idiscore.rules import Rule, RuleSet

    class TagWithModality(Operator):
        name = "TagWithModality"

        def apply(self, element, dataset=None):  # type: ignore[no-untyped-def, override]
            changed = copy(element)
            changed.value = f"{dataset.get('Modality', 'item')}:{len(str(element.value))}"
            return changed

    class Drop(Operator):
        def apply(self, element: DataElement, dataset: Dataset | None = None) -> DataElement:  # type: ignore[override]
            raise ElementShouldBeRemoved()

    ds = _ct(SeriesDescription="CT CHEST")
    item = Dataset()
    item.SeriesDescription = "Jane's old scan"
    ds.ReferencedSeriesSequence = Sequence([item])
    before = snapshot(ds)
    rules = RuleSet(
        [Rule(SingleTag("SeriesDescription"), TagWithModality()), Rule("PatientName", Drop())]
    )
    out = Core(Profile([rules])).deidentify(ds)
    assert out.SeriesDescription == "CT:8"
    assert out.ReferencedSeriesSequence[0].SeriesDescription == "item:15"  # the item's dataset
    assert "PatientName" not in out
    assert_unchanged(ds, before)
