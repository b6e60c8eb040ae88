"""Descriptor cleaning (the C action of the Clean Descriptors Option)."""

from __future__ import annotations

import copy
import importlib.util
import pickle
import re
from pathlib import Path

import pydicom
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from idiscore.cleaning import Vocabulary, clean_text, default_vocabulary, identifying_values
from idiscore.errors import ConfigurationError

ROOT = Path(__file__).resolve().parent.parent
VOCABULARY_FILE = ROOT / "src" / "idiscore" / "data" / "vocabulary.txt"

# An independent definition of "a whole token", for the invariants below.
_SEPARATORS = set(' _^-/\\,;:()[]{}<>+=|&"*!?#~`')


def whole_tokens(text: str) -> list[str]:
    spaced = "".join(
        " " if (c in _SEPARATORS or c.isspace() or not c.isprintable()) else c for c in text
    )
    parts = (part.strip(".'\u2019").casefold() for part in spaced.split(" "))
    return [part for part in parts if part]


def contains_sequence(haystack: list[str], needle: list[str]) -> bool:
    size = len(needle)
    return any(haystack[i : i + size] == needle for i in range(len(haystack) - size + 1))


def survives(value: str, output: str) -> bool:
    needle = whole_tokens(value)
    return bool(needle) and contains_sequence(whole_tokens(output), needle)


# --------------------------------------------------------------------------------------------
# Vocabulary


IMAGING_WORDS = """
T1 T2 FLAIR DWI ADC SWI TOF MPRAGE SPACE VIBE HASTE TSE FSE GRE EPI DTI BOLD PD STIR CTA MRA PET
SUV AX COR SAG LOCALIZER SCOUT W WO C 3D CT MR US BRAIN LIVER LUNG CHEST ABDOMEN PELVIS CERVICAL
SPINE LEFT RIGHT CONTRAST GADOLINIUM AXIAL CORONAL SAGITTAL OBLIQUE PRONE SUPINE MM
"""


@pytest.mark.parametrize("word", IMAGING_WORDS.split())
def test_default_vocabulary_has_imaging_words(word: str) -> None:
    assert word in default_vocabulary()


def test_default_vocabulary_leaves_out_dates_and_names() -> None:
    vocabulary = default_vocabulary()
    for word in ("JANUARY", "JAN", "MAY", "MONDAY", "WILLIS", "JAMES", "ID", "MRN", "SMITH"):
        assert word not in vocabulary, word


def test_default_vocabulary_is_loaded_once() -> None:
    assert default_vocabulary() is default_vocabulary()


def test_default_vocabulary_words_pass_the_checks_of_any_vocabulary() -> None:
    """The shipped list is loaded without checking each word; every word passes them."""
    from idiscore.cleaning import _shipped_vocabulary_text

    checked = Vocabulary.from_text(_shipped_vocabulary_text())
    assert checked == default_vocabulary()
    assert len(checked) > 1000


def test_vocabulary_is_case_insensitive() -> None:
    vocabulary = Vocabulary(["flair", " Mprage "])
    assert "FLAIR" in vocabulary and "flair" in vocabulary and "Flair" in vocabulary
    assert "MPRAGE" in vocabulary.words
    assert 42 not in vocabulary
    assert len(vocabulary) == 2
    assert list(vocabulary) == ["FLAIR", "MPRAGE"]


def test_with_words_returns_an_extended_copy() -> None:
    base = Vocabulary(["T1"])
    extended = base.with_words(["Heartbeat", "zz9"])
    assert "HEARTBEAT" in extended and "ZZ9" in extended and "T1" in extended
    assert "HEARTBEAT" not in base
    assert clean_text("heartbeat scan", vocabulary=default_vocabulary()) == "scan"
    extended_default = default_vocabulary().with_words(["heartbeat"])
    assert clean_text("heartbeat scan", vocabulary=extended_default) == "heartbeat scan"


@pytest.mark.parametrize("word", ["", "two words", "T1_MPRAGE", "a/b", "DR.", "C+"])
def test_vocabulary_rejects_words_that_are_not_one_token(word: str) -> None:
    with pytest.raises(ConfigurationError):
        Vocabulary([word])


def test_vocabulary_rejects_non_strings_and_a_bare_string() -> None:
    with pytest.raises(ConfigurationError):
        Vocabulary([1])  # type: ignore[list-item]
    with pytest.raises(ConfigurationError):
        Vocabulary("FLAIR")


def test_vocabulary_from_text_skips_comments_and_blanks() -> None:
    vocabulary = Vocabulary.from_text("# header\nT1\n\n  flair  # inline\n")
    assert vocabulary.words == frozenset({"T1", "FLAIR"})


def test_vocabulary_pickles_and_compares() -> None:
    vocabulary = Vocabulary(["T1", "T2"])
    restored = pickle.loads(pickle.dumps(vocabulary))
    assert restored == vocabulary and hash(restored) == hash(vocabulary)
    assert restored != Vocabulary(["T1"])
    assert "2 words" in repr(vocabulary)


def test_vocabulary_file_is_sorted_upper_case_and_small() -> None:
    text = VOCABULARY_FILE.read_text(encoding="utf-8")
    assert len(text.encode()) < 1_000_000
    header = [line for line in text.splitlines() if line.startswith("#")]
    words = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert any("CID 4 " in line for line in header)
    assert any("pydicom" in line for line in header)
    assert words == sorted(set(words))
    assert all(word == word.upper() and " " not in word for word in words)
    assert len(words) > 1000


def test_vocabulary_file_matches_its_generator() -> None:
    spec = importlib.util.spec_from_file_location(
        "generate_vocabulary", ROOT / "tools" / "generate_vocabulary.py"
    )
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    current = VOCABULARY_FILE.read_text(encoding="utf-8")
    if f"pydicom {pydicom.__version__}" not in current:
        pytest.skip("vocabulary was generated with another pydicom version")
    assert generator.render() == current


# --------------------------------------------------------------------------------------------
# Realistic descriptions keep their medical words


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # from the pydicom test files
        ("Routine Brain", "Routine Brain"),
        ("1.1 Routine Brain", "1.1 Routine Brain"),
        ("CT, HEAD/BRAIN WO CONTRAST", "CT, HEAD/BRAIN WO CONTRAST"),
        ("Brain-MRA", "Brain-MRA"),
        ("Whole Body Bone", "Whole Body Bone"),
        ("XR C Spine Comp Min 4 Views", "XR C Spine Comp Min 4 Views"),
        ("Cervical OBLI 1", "Cervical OBLI 1"),
        ("FAST LOCALIZER", "FAST LOCALIZER"),
        ("T/S/C RF FAST PILOT", "T/S/C RF FAST PILOT"),
        ("SmartScore - Gated 0.5 sec", "SmartScore - Gated 0.5 sec"),
        ("marked lesion<MPR Collection>", "marked lesion<MPR Collection>"),
        ("abdomen^liver", "abdomen^liver"),
        ("t1_vibe_fs_tra_bh_dyn", "t1_vibe_fs_tra_bh_dyn"),
        ("5/5mm Plain", "5/5mm Plain"),
        ("ANGIO Projected from   C", "ANGIO Projected from C"),
        ("Liver Segmentation", "Liver Segmentation"),
        # typical series and protocol names
        ("T1_MPRAGE", "T1_MPRAGE"),
        ("AX T2 FLAIR", "AX T2 FLAIR"),
        ("Thorax^1HCT_Lung (Adult)", "Thorax^1HCT_Lung (Adult)"),
        ("CT CHEST W/O CONTRAST", "CT CHEST W/O CONTRAST"),
        ("CT HEAD C+", "CT HEAD C+"),
        ("DWI b=1000", "DWI b=1000"),
        ("DWI b=2000 ADC", "DWI b=2000 ADC"),
        ("ep2d_diff_b1000 TRACEW", "ep2d_diff_b1000 TRACEW"),
        ("3D T1 1.5T 2.5mm", "3D T1 1.5T 2.5mm"),
        ("L5-S1 SAG T2", "L5-S1 SAG T2"),
        ("SWI minIP", "SWI minIP"),
        ("PET/CT SUV", "PET/CT SUV"),
        ("Lv2 4CH", "Lv2 4CH"),
    ],
)
def test_medical_words_survive(text: str, expected: str) -> None:
    assert clean_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("OFFIS Structured Reporting Templates", "Structured"),  # unknown words go
        ("JPEG 2000 irreversible (lossy)", "JPEG irreversible (lossy)"),  # a year-like number
        ("Precision V", ""),
        ("", ""),
        ("   ", ""),
        ("Smith", ""),
    ],
)
def test_unknown_words_are_dropped(text: str, expected: str) -> None:
    assert clean_text(text) == expected


# --------------------------------------------------------------------------------------------
# Identifying content is removed

IDENTIFYING = ("Doe^Archibald", "Doe", "Archibald", "1CT1", "A1234", "St. Mary's", "White")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Archibald Doe T1_MPRAGE", "T1_MPRAGE"),
        ("DOE^ARCHIBALD brain", "brain"),
        ("doe-archibald CT HEAD", "CT HEAD"),
        ("CT HEAD 1CT1", "CT HEAD"),
        ("Accession A1234 CT", "CT"),
        ("CT HEAD (Doe)", "CT HEAD"),
        ("AX T2 (Doe), FLAIR", "AX T2 FLAIR"),
        ("Doe's MRI", "MRI"),
        ("T1_Doe_MPRAGE", "T1_MPRAGE"),
        ("white matter T2", "matter T2"),  # a vocabulary word, but also the patient's name
        ("St. Mary's CT chest", "CT chest"),
    ],
)
def test_identifying_values_are_dropped(text: str, expected: str) -> None:
    assert clean_text(text, IDENTIFYING) == expected


@pytest.mark.parametrize(
    "text",
    [
        "CT HEAD 2021-03-04",
        "CT HEAD 04/03/2021",
        "CT HEAD 4.3.21",
        "CT HEAD 20210304",
        "CT HEAD 20210304101500.000",
        "CT HEAD 4 Mar 2021",
        "CT HEAD 04-MAR-2021",
        "CT HEAD 04MAR2021",
        "CT HEAD March 4th, 2021",
        "CT HEAD Mar 2021",
        "CT HEAD 03/2021",
        "CT HEAD 2021",
        "CT HEAD 10:15",
        "CT HEAD 10:15:30.25",
        "CT HEAD 10pm",
        "CT HEAD 10 a.m.",
        "CT HEAD 10h15",
        "CT HEAD +44 20 7946 0958",
        "CT HEAD (555) 123-4567",
        "CT HEAD 555-123-4567",
        "CT HEAD 555.123.4567",
        "CT HEAD 555 123 4567",
        "CT HEAD 555-1234",
        "CT HEAD 06 12 34 56 78",
        "CT HEAD john.doe@example.org",
        "CT HEAD https://pacs.example.org/study?id=5",
        "CT HEAD www.example.org",
        "CT HEAD 1.2.840.10008.5.1.4.1.1.2",
        "CT HEAD 123456789",
        "CT HEAD MRN12345",
    ],
)
def test_dates_times_contacts_and_long_numbers_are_dropped(text: str) -> None:
    assert clean_text(text) == "CT HEAD"


def test_short_technical_numbers_are_kept() -> None:
    assert clean_text("T2 5 mm, 3, 1000, 2.5 0.625 50%") == "T2 5 mm, 3, 1000, 2.5 0.625 50%"
    # two plain numbers next to each other with five digits or more are a split ID
    assert clean_text("T2 5 mm 3 1000") == "T2 5 mm"


def test_identifying_values_given_as_one_string() -> None:
    assert clean_text("Doe CT", "Doe") == "CT"


def test_identifying_value_of_several_tokens_is_dropped_where_its_tokens_meet() -> None:
    # "HEAD NECK" as a whole is identifying; each word alone is not
    assert clean_text("CT HEAD NECK", ["head^neck"]) == "CT"
    assert clean_text("CT HEAD and NECK", ["head^neck"]) == "CT HEAD and NECK"
    # dropping a number in between must not create the sequence
    assert clean_text("HEAD 123456 NECK CT", ["head neck"]) == "CT"


def test_dropped_tokens_leave_no_dangling_separators() -> None:
    assert clean_text("Doe_T1_MPRAGE_Doe", ["Doe"]) == "T1_MPRAGE"
    assert clean_text("(Doe) T1", ["Doe"]) == "T1"
    assert clean_text("T1 (POST Doe) FLAIR", ["Doe"]) == "T1 (POST) FLAIR"
    assert clean_text("T1 (Doe Smith) FLAIR") == "T1 FLAIR"
    assert clean_text("T1 [T2 (Doe]", ["Doe"]) == "T1 [T2]"
    assert clean_text("T1(Doe)T2", ["Doe"]) == "T1 T2"
    assert clean_text("CT HEAD C- Doe", ["Doe"]) == "CT HEAD C-"
    assert clean_text("T1,, Doe ,, T2", ["Doe"]) == "T1,, T2"


def test_white_space_is_collapsed() -> None:
    assert clean_text("  T1 \t\x00 MPRAGE  ") == "T1 MPRAGE"
    assert clean_text("T1\r\nT2") == "T1\nT2"


# --------------------------------------------------------------------------------------------
# Invariants

_SAFE_WORDS = ["T1", "T2", "FLAIR", "AX", "brain", "3D", "2.5mm", "C", "b1000", "5", "Head"]
_SEPARATOR_CHOICES = [" ", "_", "^", "-", "/", ", ", " (", ") ", "[", "]", "+", "=", "  ", "\t"]

_token_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=8
)
_identifying = st.lists(
    st.one_of(
        _token_text,
        st.sampled_from(["T1", "brain", "5", "Doe", "C", "ab cd", "O'Brien", "1.5", "x-y"]),
    ),
    max_size=4,
)


@st.composite
def texts_with_identifying_values(draw: st.DrawFn) -> tuple[str, list[str]]:
    identifying = draw(_identifying)
    pieces = draw(
        st.lists(
            st.one_of(
                st.sampled_from(_SAFE_WORDS),
                _token_text,
                st.sampled_from(identifying) if identifying else st.nothing(),
            ),
            max_size=12,
        )
    )
    text = ""
    for piece in pieces:
        text += piece + draw(st.sampled_from(_SEPARATOR_CHOICES))
    return text, identifying


@given(st.text(), st.lists(st.text(max_size=10), max_size=3))
@settings(max_examples=200)
def test_any_text_is_cleaned_without_error_and_never_grows(
    text: str, identifying: list[str]
) -> None:
    cleaned = clean_text(text, identifying)
    assert isinstance(cleaned, str)
    assert len(cleaned) <= len(text)
    assert clean_text(cleaned, identifying) == cleaned
    assert cleaned == cleaned.strip()


@given(texts_with_identifying_values())
@settings(max_examples=200)
def test_no_identifying_value_survives(case: tuple[str, list[str]]) -> None:
    text, identifying = case
    cleaned = clean_text(text, identifying)
    assert len(cleaned) <= len(text)
    for value in identifying:
        assert not survives(value, cleaned), (value, cleaned)
    # cleaning only removes: every token of the output was a token of the input
    assert set(whole_tokens(cleaned)) <= set(whole_tokens(text))


@given(st.text(alphabet="0123456789 -/.:+()", max_size=40))
def test_no_long_digit_run_survives(text: str) -> None:
    cleaned = clean_text(text)
    assert re.search(r"\d{5}", cleaned.replace(".", "")) is None


# --------------------------------------------------------------------------------------------
# identifying_values


def test_identifying_values_of_a_pydicom_test_file() -> None:
    dataset = pydicom.dcmread(str(get_testdata_file("CT_small.dcm")))
    before = dataset.to_json_dict()
    snapshot = copy.deepcopy(dataset)
    values = identifying_values(dataset)
    assert {"CompressedSamples^CT1", "CompressedSamples", "CT1", "1CT1"} <= values
    assert {"JFK IMAGING CENTER", "JFK", "CT01_OC0"} <= values
    assert "IMAGING" not in values and "CENTER" not in values  # generic institution words
    assert dataset.to_json_dict() == before
    assert dataset == snapshot
    assert clean_text("CompressedSamples CT1 at JFK: CT HEAD", values) == "at CT HEAD"


def _synthetic() -> Dataset:
    ds = Dataset()
    ds.PatientName = "van der Berg^Anna Maria^J^Dr^Jr"
    ds.OtherPatientNames = ["Smith^Jo", "X^Y"]
    ds.PatientID = "PID-12345"
    ds.IssuerOfPatientID = "GENERAL HOSP"
    ds.AccessionNumber = "ACC987"
    ds.ReferringPhysicianName = "House^Gregory"
    ds.PerformingPhysicianName = ["Grey^Meredith"]
    ds.OperatorsName = "tech1"
    ds.InstitutionName = "Springfield General Hospital"
    ds.InstitutionAddress = "742 Evergreen Terrace"
    ds.InstitutionalDepartmentName = "Radiology"
    ds.StationName = "CTSCAN07"
    ds.PatientBirthDate = "19800102"
    ds.PatientTelephoneNumbers = "555-0100"
    item = Dataset()
    item.PatientID = "OTHER-77"
    ds.OtherPatientIDsSequence = [item]
    ds.SeriesDescription = "Anna CT HEAD"
    return ds


def test_identifying_values_of_a_synthetic_dataset() -> None:
    ds = _synthetic()
    before = copy.deepcopy(ds)
    values = identifying_values(ds)
    expected = {
        "van der Berg^Anna Maria^J^Dr^Jr",
        "van der Berg",
        "van",
        "der",
        "Berg",
        "Anna Maria",
        "Anna",
        "Maria",
        "Smith",
        "Jo",
        "PID-12345",
        "PID",
        "12345",
        "ACC987",
        "House",
        "Gregory",
        "Grey",
        "Meredith",
        "tech1",
        "Springfield General Hospital",
        "Springfield",
        "742 Evergreen Terrace",
        "Evergreen",
        "Terrace",
        "742",
        "CTSCAN07",
        "19800102",
        "555-0100",
        "OTHER-77",
        "77",
    }
    assert expected <= values
    # initials, name prefixes and suffixes, generic words are not identifying
    for generic in ("J", "X", "Y", "Dr", "Jr", "General", "Radiology"):
        assert generic not in values
    assert ds == before
    assert clean_text(ds.SeriesDescription, values) == "CT HEAD"
    assert clean_text("Radiology General CT Springfield", values) == "Radiology General CT"


def test_identifying_values_of_an_empty_dataset() -> None:
    assert identifying_values(Dataset()) == frozenset()


def test_identifying_values_read_raw_elements_of_a_file(tmp_path: Path) -> None:
    ds = _synthetic()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = pydicom.uid.UID("1.2.3")
    ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.UID("1.2.3.4")
    path = tmp_path / "x.dcm"
    ds.save_as(path, enforce_file_format=True)
    read = pydicom.dcmread(path)
    before = read.to_json_dict()
    assert {"Berg", "Anna", "ACC987", "OTHER-77"} <= identifying_values(read)
    assert read.to_json_dict() == before
