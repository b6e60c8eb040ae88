"""Bouncers: each one with real SOP class UIDs, reasons, pickling, and no side effects."""

from __future__ import annotations

import io
import pickle

import pydicom
import pytest
from pixel_files import bundled, snapshot
from pydicom._uid_dict import UID_dictionary
from pydicom.dataset import Dataset

from idiscore.bouncers import (
    AUDIO_SOP_CLASSES,
    BURNED_IN_TEXT_SOP_CLASSES,
    ENCAPSULATED_DOCUMENT_SOP_CLASSES,
    Bouncer,
    CriterionBouncer,
    RejectAudio,
    RejectBurnedInAnnotation,
    RejectEncapsulatedDocuments,
    RejectEncapsulatedImageStorage,
    RejectKOGSPS,
    RejectNonStandardDicom,
    default_bouncers,
    is_standard_storage_sop_class,
)
from idiscore.defaults import create_default_core
from idiscore.errors import ConfigurationError, DatasetRejectedError
from idiscore.image_processing import Criterion

CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
US = "1.2.840.10008.5.1.4.1.1.6.1"
US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
US_RETIRED = "1.2.840.10008.5.1.4.1.1.6"
SC = "1.2.840.10008.5.1.4.1.1.7"
KOS = "1.2.840.10008.5.1.4.1.1.88.59"
GSPS = "1.2.840.10008.5.1.4.1.1.11.1"
COLOR_PS = "1.2.840.10008.5.1.4.1.1.11.2"
PDF = "1.2.840.10008.5.1.4.1.1.104.1"
CDA = "1.2.840.10008.5.1.4.1.1.104.2"
STL = "1.2.840.10008.5.1.4.1.1.104.3"
OBJ = "1.2.840.10008.5.1.4.1.1.104.4"
MTL = "1.2.840.10008.5.1.4.1.1.104.5"
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
VERIFICATION = "1.2.840.10008.1.1"
STORAGE_COMMITMENT = "1.2.840.10008.1.20.1"
PHILIPS_PRIVATE = "1.3.46.670589.11.0.0.12.1"


def header(sop_class: str | None = None, **attributes: object) -> Dataset:
    ds = Dataset()
    with pydicom.config.disable_value_validation():  # some tests need invalid values
        if sop_class is not None:
            ds.SOPClassUID = sop_class
        for keyword, value in attributes.items():
            setattr(ds, keyword, value)
    return ds


def rejection(bouncer: Bouncer, ds: Dataset, **kwargs: bool) -> str:
    with pytest.raises(DatasetRejectedError) as info:
        bouncer.inspect(ds, **kwargs)
    assert info.value.bouncer is bouncer
    assert info.value.bouncer_name == type(bouncer).__name__
    return info.value.reason


# --------------------------------------------------------------------------- non-standard


@pytest.mark.parametrize("sop_class", [CT, MR, US, US_MULTIFRAME, SC, KOS, PDF, COMPREHENSIVE_SR])
def test_standard_storage_classes_pass(sop_class: str) -> None:
    RejectNonStandardDicom().inspect(header(sop_class))


@pytest.mark.parametrize(
    "sop_class, reason",
    [
        (None, "SOP Class UID (0008,0016) is missing or empty"),
        ("", "SOP Class UID (0008,0016) is missing or empty"),
        ("1.2.abc", "SOP Class UID '1.2.abc' is not a valid UID"),
        (PHILIPS_PRIVATE, f"SOP class {PHILIPS_PRIVATE} is not a standard DICOM SOP class"),
        (VERIFICATION, f"SOP class {VERIFICATION} (Verification SOP Class) is not a storage"),
        (STORAGE_COMMITMENT, "is not a storage SOP class"),
        ("1.2.840.10008.1.2.1", "(Explicit VR Little Endian) is not a storage SOP class"),
    ],
)
def test_non_standard_classes_are_rejected(sop_class: str | None, reason: str) -> None:
    assert reason in rejection(RejectNonStandardDicom(), header(sop_class))


def test_retired_storage_classes_pass_unless_disallowed() -> None:
    RejectNonStandardDicom().inspect(header(US_RETIRED))
    bouncer = RejectNonStandardDicom(allow_retired=False)
    assert "is retired" in rejection(bouncer, header(US_RETIRED))
    bouncer.inspect(header(US))


def test_extra_sop_classes_are_accepted() -> None:
    bouncer = RejectNonStandardDicom(extra_sop_classes=(PHILIPS_PRIVATE,))
    bouncer.inspect(header(PHILIPS_PRIVATE))
    with pytest.raises(ConfigurationError):
        RejectNonStandardDicom(extra_sop_classes=("not a uid",))


def test_every_storage_name_in_pydicom_counts_as_storage() -> None:
    storage = [uid for uid in UID_dictionary if is_standard_storage_sop_class(uid)]
    assert CT in storage and GSPS in storage and PDF in storage
    assert STORAGE_COMMITMENT not in storage and VERIFICATION not in storage
    assert all("Storage" in UID_dictionary[uid][0] for uid in storage)


# --------------------------------------------------------------------------- KO / PS


def test_key_objects_and_presentation_states_are_rejected() -> None:
    bouncer = RejectKOGSPS()
    assert rejection(bouncer, header(KOS)) == (
        f"SOP class {KOS} (Key Object Selection Document Storage) carries free-text "
        "key object descriptions"
    )
    assert "(Grayscale Softcopy Presentation State Storage) is a presentation state" in (
        rejection(bouncer, header(GSPS))
    )
    assert "Color Softcopy Presentation State" in rejection(bouncer, header(COLOR_PS))
    for image in (CT, US, SC, COMPREHENSIVE_SR):
        bouncer.inspect(header(image))


def test_ko_gsps_only_mode_lets_other_presentation_states_through() -> None:
    bouncer = RejectKOGSPS(all_presentation_states=False)
    rejection(bouncer, header(KOS))
    rejection(bouncer, header(GSPS))
    bouncer.inspect(header(COLOR_PS))
    assert repr(bouncer) == "RejectKOGSPS(all_presentation_states=False)"


# --------------------------------------------------------------------------- documents


@pytest.mark.parametrize(
    "sop_class, name",
    [
        (PDF, "Encapsulated PDF Storage"),
        (CDA, "Encapsulated CDA Storage"),
        (STL, "Encapsulated STL Storage"),
        (OBJ, "Encapsulated OBJ Storage"),
        (MTL, "Encapsulated MTL Storage"),
    ],
)
def test_encapsulated_documents_are_rejected(sop_class: str, name: str) -> None:
    reason = rejection(RejectEncapsulatedDocuments(), header(sop_class, Modality="DOC"))
    assert reason == f"SOP class {sop_class} ({name}) carries free-form documents"


def test_encapsulated_document_list_matches_pydicom_and_alias() -> None:
    names = {UID_dictionary[uid][0] for uid in ENCAPSULATED_DOCUMENT_SOP_CLASSES}
    expected = {
        entry[0]
        for entry in UID_dictionary.values()
        if entry[0].startswith("Encapsulated ") and entry[1] == "SOP Class"
    }
    assert names == expected
    assert RejectEncapsulatedImageStorage is RejectEncapsulatedDocuments
    RejectEncapsulatedDocuments().inspect(header(CT))


@pytest.mark.parametrize(
    "sop_class, name",
    [
        ("1.2.840.10008.5.1.4.1.1.9.4.1", "Basic Voice Audio Waveform Storage"),
        ("1.2.840.10008.5.1.4.1.1.9.4.2", "General Audio Waveform Storage"),
    ],
)
def test_recorded_sound_is_rejected(sop_class: str, name: str) -> None:
    reason = rejection(RejectAudio(), header(sop_class, Modality="AU"))
    assert reason == f"SOP class {sop_class} ({name}) carries recorded sound"
    # by the default core too, whatever the header says about burned-in text
    ds = header(sop_class, Modality="AU", BurnedInAnnotation="NO")
    with pytest.raises(DatasetRejectedError, match="recorded sound"):
        create_default_core().deidentify(ds)


def test_audio_list_is_every_audio_waveform_pydicom_knows() -> None:
    expected = {
        uid
        for uid, entry in UID_dictionary.items()
        if "Audio" in entry[0] and entry[0].endswith("Waveform Storage")
    }
    assert set(AUDIO_SOP_CLASSES) == expected
    RejectAudio().inspect(header("1.2.840.10008.5.1.4.1.1.9.1.1"))  # an ECG is no sound


# --------------------------------------------------------------------------- burned in


def test_burned_in_yes_is_rejected_unless_pixels_are_cleaned() -> None:
    bouncer = RejectBurnedInAnnotation()
    ds = header(CT, Modality="CT", BurnedInAnnotation="YES")
    assert "Burned In Annotation is YES" in rejection(bouncer, ds)
    bouncer.inspect(ds, pixels_will_be_cleaned=True)


@pytest.mark.parametrize(
    "sop_class, modality, fragment",
    [
        (US, "US", f"SOP class {US} (Ultrasound Image Storage)"),
        (US_MULTIFRAME, "US", "(Ultrasound Multi-frame Image Storage)"),
        (SC, "OT", "(Secondary Capture Image Storage)"),
        ("1.2.840.10008.5.1.4.1.1.77.1.4", "XC", "(VL Photographic Image Storage)"),
        ("1.2.840.10008.5.1.4.1.1.77.1.1.1", "ES", "(Video Endoscopic Image Storage)"),
        (CT, "US", "modality US"),  # odd, but the modality alone is enough
        (MR, "OT", "modality OT"),
    ],
)
def test_absent_burned_in_on_risky_data_is_rejected(
    sop_class: str, modality: str, fragment: str
) -> None:
    bouncer = RejectBurnedInAnnotation()
    ds = header(sop_class, Modality=modality)
    reason = rejection(bouncer, ds)
    assert "Burned In Annotation is absent" in reason and fragment in reason
    bouncer.inspect(ds, pixels_will_be_cleaned=True)
    bouncer.inspect(header(sop_class, Modality=modality, BurnedInAnnotation="NO"))


def test_strict_mode_distrusts_no() -> None:
    ds = header(US, Modality="US", BurnedInAnnotation="NO")
    RejectBurnedInAnnotation().inspect(ds)
    bouncer = RejectBurnedInAnnotation(strict=True)
    assert "NO (not trusted in strict mode)" in rejection(bouncer, ds)
    bouncer.inspect(ds, pixels_will_be_cleaned=True)
    bouncer.inspect(header(CT, Modality="CT", BurnedInAnnotation="NO"))
    assert repr(bouncer) == "RejectBurnedInAnnotation(strict=True)"


def test_unusual_burned_in_values() -> None:
    bouncer = RejectBurnedInAnnotation()
    rejection(bouncer, header(CT, Modality="CT", BurnedInAnnotation="yes "))
    assert "not YES or NO" in rejection(bouncer, header(US, BurnedInAnnotation="MAYBE"))
    bouncer.inspect(header(CT, Modality="CT"))  # CT without the attribute: no suspicion
    assert set(BURNED_IN_TEXT_SOP_CLASSES) >= {SC, US, US_MULTIFRAME, PDF}


def test_real_files() -> None:
    ultrasound = pydicom.dcmread(io.BytesIO(bundled("examples_ybr_color.dcm")()))
    before = snapshot(ultrasound)
    for bouncer in default_bouncers()[:3]:
        bouncer.inspect(ultrasound)
    rejection(RejectBurnedInAnnotation(), ultrasound)
    assert snapshot(ultrasound) == before
    ct = pydicom.dcmread(io.BytesIO(bundled("CT_small.dcm")()))
    for bouncer in default_bouncers():
        bouncer.inspect(ct)


# --------------------------------------------------------------------------- criterion


def test_criterion_bouncer() -> None:
    bouncer = CriterionBouncer(
        Criterion({"Modality": "SR", "Manufacturer": {"contains": "acme"}}),
        "ACME reports carry names in free text",
    )
    ds = header(COMPREHENSIVE_SR, Modality="SR", Manufacturer="ACME Inc")
    assert rejection(bouncer, ds) == "ACME reports carry names in free text"
    bouncer.inspect(header(COMPREHENSIVE_SR, Modality="SR", Manufacturer="Other"))
    assert repr(bouncer).startswith("CriterionBouncer(criterion=Criterion(")
    with pytest.raises(ConfigurationError):
        CriterionBouncer(Criterion({"Modality": "SR"}), " ")
    with pytest.raises(ConfigurationError):
        CriterionBouncer({"Modality": "SR"}, "reason")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- general


def test_bouncers_pickle_and_compare() -> None:
    bouncers = [
        *default_bouncers(),
        RejectBurnedInAnnotation(strict=True),
        RejectNonStandardDicom(allow_retired=False, extra_sop_classes=(PHILIPS_PRIVATE,)),
        CriterionBouncer(Criterion({"Modality": ["SR", "DOC"]}), "no reports"),
    ]
    copies = pickle.loads(pickle.dumps(bouncers))
    assert copies == bouncers
    assert [repr(b) for b in copies] == [repr(b) for b in bouncers]
    assert len({*bouncers, *copies}) == len(bouncers)
    ds = header(COMPREHENSIVE_SR, Modality="SR")
    assert rejection(copies[-1], ds) == "no reports"


def test_default_bouncers() -> None:
    assert [type(b).__name__ for b in default_bouncers()] == [
        "RejectNonStandardDicom",
        "RejectKOGSPS",
        "RejectEncapsulatedDocuments",
        "RejectAudio",
        "RejectBurnedInAnnotation",
    ]
    assert repr(default_bouncers()[0]) == "RejectNonStandardDicom()"


def test_bouncers_do_not_convert_raw_elements() -> None:
    ds = pydicom.dcmread(io.BytesIO(bundled("MR_small.dcm")()))
    before = snapshot(ds)
    for bouncer in default_bouncers():
        bouncer.inspect(ds)
    assert snapshot(ds) == before


def test_there_is_one_bouncer_type() -> None:
    """core, steps and bouncers name the same class, and every built-in bouncer is one."""
    import idiscore.bouncers
    import idiscore.core
    import idiscore.steps
    from idiscore.bouncers import default_bouncers

    assert idiscore.core.Bouncer is idiscore.bouncers.Bouncer is idiscore.steps.Bouncer
    assert all(isinstance(b, idiscore.steps.Bouncer) for b in default_bouncers())
    assert not isinstance(object(), idiscore.steps.Bouncer)  # a class, not a loose protocol


def test_a_one_argument_inspect_sees_the_dataset_as_if_cleaned() -> None:
    """A 1.x-style subclass is adapted: with pixels to be cleaned it sees Burned In
    Annotation NO on a copy, and its rejection names it; the input is unchanged."""
    from idiscore.steps import Bouncer

    seen: list[str] = []

    class Legacy(Bouncer):
        def inspect(self, dataset):  # type: ignore[no-untyped-def, override]
            seen.append(dataset.BurnedInAnnotation)
            raise DatasetRejectedError("no")

    ds = Dataset()
    ds.BurnedInAnnotation = "YES"
    bouncer = Legacy()
    with pytest.raises(DatasetRejectedError) as caught:
        bouncer.inspect(ds, pixels_will_be_cleaned=True)
    assert caught.value.bouncer is bouncer
    with pytest.raises(DatasetRejectedError):
        bouncer.inspect(ds)
    assert seen == ["NO", "YES"]
    assert ds.BurnedInAnnotation == "YES"
