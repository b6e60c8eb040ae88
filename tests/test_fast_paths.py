"""The shortcuts that make de-identification cheap give the same results as the long way.

Each shortcut remembers or skips work; these tests compare it with the work done in full:
fresh datasets, remembered Clean results, remembered derived UIDs, remembered identifying
values, streamed values in :meth:`Core.deidentify`.
"""

from __future__ import annotations

import copy
import io
import warnings
from pathlib import Path

import pydicom
import pytest
from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from idiscore import cleaning, pseudonyms, walker
from idiscore.core import Core, Profile
from idiscore.defaults import create_default_core, get_dicom_rule_sets
from idiscore.fileio import FileWindow
from idiscore.insertions import StandardInsertions, applied_codes
from idiscore.operators import basic
from idiscore.operators.values import new_dataset
from idiscore.pixels._dataset import read_value
from idiscore.pseudonyms import Pseudonymizer
from idiscore.rules import RuleSet
from idiscore.steps import DeidentificationInfo

from factories import (
    assert_same_bytes,
    assert_unchanged,
    file_dataset,
    pydicom_bytes,
    snapshot,
    sop_dataset,
)


@pytest.mark.parametrize("encoding", ["iso8859", ["iso8859", "iso2022_jp"]])
def test_new_dataset_is_like_a_dataset_pydicom_makes(encoding: str | list[str]) -> None:
    made = new_dataset(encoding)
    reference = Dataset(parent_encoding=encoding)
    assert vars(made) == vars(reference)
    assert type(made) is Dataset


def test_new_datasets_share_no_container() -> None:
    first, second = new_dataset(), new_dataset()
    first.PatientID = "A"
    assert "PatientID" not in second
    for name, value in vars(first).items():
        if isinstance(value, dict | list | set):
            assert value is not vars(second)[name], name


def _described(description: str, name: str = "Smith^Jane") -> pydicom.FileDataset:
    return file_dataset(
        sop_dataset(
            PatientName=name,
            StudyDescription=description,
            SeriesDescription="CT CHEST",
            ImageComments="nothing to clean",
        )
    )


def test_remembered_clean_results_equal_fresh_ones() -> None:
    deidentifier = create_default_core()
    texts = ["Smith chest follow-up", "CHEST ABDOMEN", "Dr Jones 555-1234", "CHEST ABDOMEN"]
    warm = [pydicom_bytes(deidentifier.deidentify(_described(text))) for text in texts]
    walker._CLEAN_CACHE.clear()
    cleaning._IDENTITY_CACHE.clear()
    cold = []
    for text in texts:
        cold.append(pydicom_bytes(deidentifier.deidentify(_described(text))))
        walker._CLEAN_CACHE.clear()
        cleaning._IDENTITY_CACHE.clear()
    assert warm == cold


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
def test_remembered_clean_results_of_codes_and_names_equal_the_operators(syntax: str) -> None:
    """Clean on AE (and CS, AS, PN) gives the dummy of Replace, one per value: remembered
    by raw value like free text, it must give what the operator gives."""
    deidentifier = create_default_core()
    slow = create_default_core()
    slow.raw_fast_paths = False
    rule = deidentifier._rules.lookup(0x00400241, None)  # PerformedStationAETitle
    assert rule is not None and type(rule.operation) is basic.Clean
    titles = ["CT01", "CT01\\CT02", "", "CT01", "CT01\\CT02", "STATION_A"]

    def dataset(title: str) -> pydicom.FileDataset:
        ds = sop_dataset(PerformedStationAETitle=title)
        ds.file_meta.TransferSyntaxUID = syntax
        return file_dataset(ds)

    walker._CLEAN_CACHE.clear()
    warm = [deidentifier.deidentify(dataset(title)) for title in titles]
    for title, output in zip(titles, warm, strict=True):
        reference = slow.deidentify(dataset(title))
        assert_same_bytes(pydicom_bytes(reference), pydicom_bytes(output))
        element = output["PerformedStationAETitle"]
        assert (len(title.split("\\")) if title else 0) == element.VM
        assert "CT0" not in str(element.value) and "STATION" not in str(element.value)


def test_a_remembered_clean_result_is_not_reused_for_another_patient() -> None:
    # "Chest" is a safe word, except for a patient called Chest: the result remembered
    # for one patient must not be reused for the other
    deidentifier = create_default_core()
    smith = deidentifier.deidentify(_described("CHEST ABDOMEN"))
    chest = deidentifier.deidentify(_described("CHEST ABDOMEN", name="Chest^Ann"))
    assert "CHEST" in str(smith.StudyDescription).upper()
    assert "CHEST" not in str(chest.StudyDescription).upper()


def test_an_unchanged_clean_value_keeps_its_bytes() -> None:
    source = _described("CHEST ABDOMEN")
    output = create_default_core().deidentify(source)
    assert output.get_item(0x00081030) is source.get_item(0x00081030)


def test_remembered_identifying_values_equal_fresh_ones() -> None:
    dataset = _described("x")
    cleaning._IDENTITY_CACHE.clear()
    first = cleaning.identifying_values(dataset)
    assert first == cleaning.find_identifying_values(dataset)
    assert cleaning.identifying_values(dataset) is first  # remembered
    changed = _described("x", name="Brown^Ann")
    assert cleaning.identifying_values(changed) != first


def test_remembered_uids_equal_fresh_ones() -> None:
    remembered = Pseudonymizer("key")
    originals = [f"1.2.3.{i}" for i in range(50)]
    first = [remembered.uid(u) for u in originals]
    second = [remembered.uid(u) for u in originals]
    fresh = [Pseudonymizer("key").uid(u) for u in originals]
    assert first == second == fresh
    assert Pseudonymizer("key", uid_root="1.2.840.99.").uid("1.2.3.1") != first[1]


def test_remembered_uids_are_still_recorded() -> None:
    from idiscore.pseudonyms import MappingRecorder

    recorder = MappingRecorder()
    pseudonymizer = Pseudonymizer("key", recorder=recorder)
    new = pseudonymizer.uid("1.2.3")
    pseudonymizer.recorder = recorder = MappingRecorder()
    assert pseudonymizer.uid("1.2.3") == new
    assert ("uid", "1.2.3", new) in recorder.entries()


def test_the_uid_memory_does_not_travel_in_the_pickle() -> None:
    import pickle

    pseudonymizer = Pseudonymizer("key")
    pseudonymizer.uid("1.2.3")
    copy = pickle.loads(pickle.dumps(pseudonymizer))
    assert copy._uids == {}
    assert copy.uid("1.2.3") == pseudonymizer.uid("1.2.3")


def _big_pixel_file(tmp_path, size: int = 120_000) -> str:
    dataset = sop_dataset(Rows=2, Columns=size // 4, BitsAllocated=16, BitsStored=16)
    dataset.HighBit = 15
    dataset.PixelRepresentation = 0
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.PixelData = bytes(range(256)) * (size // 256) + bytes(size % 256)
    dataset["PixelData"].VR = "OW"
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path = tmp_path / "big.dcm"
    dataset.save_as(path, enforce_file_format=True)
    return str(path)


def test_deidentify_streams_kept_deferred_values_only_when_asked(tmp_path) -> None:
    path = _big_pixel_file(tmp_path)
    deidentifier = create_default_core()
    read = pydicom.dcmread(path, defer_size=1024)
    before = snapshot(read)
    streamed = deidentifier.deidentify(read, stream=True)
    assert_unchanged(read, before)
    deferred = pydicom.dcmread(path, defer_size=1024)
    before = snapshot(deferred)
    loaded = deidentifier.deidentify(deferred)
    assert_unchanged(deferred, before)  # loaded for the output, not in the input
    assert isinstance(streamed.get_item(0x7FE00010).value, FileWindow)
    assert isinstance(loaded.get_item(0x7FE00010).value, bytes)
    assert (
        pydicom_bytes(streamed)
        == pydicom_bytes(loaded)
        == pydicom_bytes(deidentifier.deidentify(pydicom.dcmread(path)))
    )
    # the input still has its value in the file
    raw = read.get_item(0x7FE00010, keep_deferred=True)
    assert raw.value is None


def test_remembered_clean_results_keep_each_elements_vr_in_implicit_vr() -> None:
    # in Implicit VR the raw elements carry no VR: the same text in an LO and an LT
    # element must still come out as LO and LT
    from pydicom.uid import ImplicitVRLittleEndian

    text = "Smith said hello"
    source = sop_dataset(StudyDescription=text, ImageComments=text)
    source.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    read = file_dataset(source)
    assert read.get_item(0x00081030).VR is None
    before = snapshot(read)
    output = create_default_core().deidentify(read)
    assert_unchanged(read, before)
    assert output["StudyDescription"].VR == "LO"
    assert output["ImageComments"].VR == "LT"
    assert "Smith" not in str(output.StudyDescription) + str(output.ImageComments)


def test_batch_outputs_are_the_bytes_of_deidentify_and_save_as(tmp_path) -> None:
    """The batch reads with deferred values, streams them and writes raw elements as read:
    its outputs are byte for byte those of the straightforward path."""
    import shutil

    from pydicom.data import get_testdata_file

    from idiscore.batch import BatchOptions, run_batch

    inputs = tmp_path / "in"
    inputs.mkdir()
    big = _big_pixel_file(tmp_path, size=200_000)  # pixel data above the defer size
    shutil.copy(big, inputs / "big.dcm")
    for name in ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm"):
        source = get_testdata_file(name)
        assert source is not None
        shutil.copy(source, inputs / name)
    deidentifier = create_default_core()
    summary = run_batch(deidentifier, [inputs], BatchOptions(output=tmp_path / "out"))
    assert summary.counts["done"] == 4
    outputs = sorted((tmp_path / "out").rglob("*.dcm"))
    assert len(outputs) == 4
    expected = {
        pydicom_bytes(deidentifier.deidentify(pydicom.dcmread(p))) for p in inputs.iterdir()
    }
    assert {path.read_bytes() for path in outputs} == expected


def _batch(count: int) -> list[pydicom.FileDataset]:
    """Files of three patients, each with its own UIDs and a comment no other file has."""
    return [
        file_dataset(
            sop_dataset(
                PatientName=f"Patient{i % 3}^Jane",
                SOPInstanceUID=f"1.2.826.0.1.3680043.8.498.100.{i}",
                StudyInstanceUID=f"1.2.826.0.1.3680043.8.498.200.{i % 3}",
                StudyDescription="CHEST ABDOMEN",
                ImageComments=f"slice {i} of the Patient{i % 3} series",
            )
        )
        for i in range(count)
    ]


def test_caches_stay_within_their_sizes_and_overflowing_them_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch of millions of files must not grow the caches; clearing one when it is full
    (or evicting from it) must give the bytes a fresh computation gives."""
    datasets = _batch(40)
    deidentifier = create_default_core()
    roomy = [pydicom_bytes(deidentifier.deidentify(ds)) for ds in datasets]

    monkeypatch.setattr(walker, "_CLEAN_CACHE_SIZE", 3)
    monkeypatch.setattr(pseudonyms, "_UID_CACHE_SIZE", 4)
    walker._CLEAN_CACHE.clear()
    tight = create_default_core()
    squeezed = []
    for ds in datasets:
        squeezed.append(pydicom_bytes(tight.deidentify(ds)))
        assert len(walker._CLEAN_CACHE) <= 3
        assert len(tight.pseudonymizer._uids) <= 4
    assert squeezed == roomy
    assert basic._cached_clean.cache_info().maxsize is not None  # an LRU, bounded


# -- the inserted attributes, encoded once per profile and encoding ----------------------

_ENCODINGS = {
    "implicit little": (True, True, ImplicitVRLittleEndian),
    "explicit little": (False, True, ExplicitVRLittleEndian),
    "explicit big": (False, False, ExplicitVRBigEndian),
}


def _in_encoding(ds: Dataset, syntax: str) -> pydicom.FileDataset:
    ds.file_meta.TransferSyntaxUID = syntax
    return file_dataset(ds)


@pytest.mark.parametrize("pixels_cleaned", [False, True])
@pytest.mark.parametrize("encoding", list(_ENCODINGS))
def test_encoded_insertions_are_the_elements_insertions_yield(
    encoding: str, pixels_cleaned: bool
) -> None:
    implicit, little, _syntax = _ENCODINGS[encoding]
    profile = create_default_core().profile
    info = DeidentificationInfo(profile=profile, pixels_cleaned=pixels_cleaned)
    insertions = StandardInsertions()
    expected = list(insertions.elements(Dataset(), info))
    raw = insertions.encoded_elements(info, implicit, little)
    assert raw is not None
    assert [int(e.tag) for e in raw] == sorted(int(e.tag) for e in expected)
    decoded = Dataset()
    decoded.set_original_encoding(implicit, little, None)
    for element in raw:
        assert type(element) is RawDataElement
        assert (element.is_implicit_VR, element.is_little_endian) == (implicit, little)
        decoded._dict[element.tag] = element
    for element in expected:
        got = decoded[element.tag]  # pydicom decodes the raw element
        assert got.VR == element.VR
        assert got.value == element.value, element
    codes = [
        (item.CodingSchemeDesignator, item.CodeValue, item.CodeMeaning)
        for item in decoded.DeidentificationMethodCodeSequence
    ]
    assert codes == applied_codes(profile, pixels_cleaned)
    assert ("BurnedInAnnotation" in decoded) is pixels_cleaned


@pytest.mark.parametrize("encoding", list(_ENCODINGS))
def test_outputs_with_encoded_insertions_are_written_as_pydicom_writes_them(
    encoding: str, tmp_path: Path
) -> None:
    _implicit, _little, syntax = _ENCODINGS[encoding]
    source = tmp_path / "in.dcm"
    _in_encoding(sop_dataset(), syntax).save_as(source)
    deidentifier = create_default_core()
    written = tmp_path / "out.dcm"
    output = deidentifier.deidentify_file(source, written)
    # the inserted elements are shared raw elements; written, they are what pydicom
    # writes for the decoded values
    assert type(output._dict[BaseTag(0x00120064)]) is RawDataElement
    decoded = copy.deepcopy(pydicom.dcmread(written))
    for element in decoded.iterall():
        _ = element.value
    assert_same_bytes(pydicom_bytes(decoded), written.read_bytes())
    again = pydicom.dcmread(written)
    assert again.PatientIdentityRemoved == "YES"
    codes = applied_codes(deidentifier.profile)
    assert len(again.DeidentificationMethodCodeSequence) == len(codes)


def test_outputs_share_no_inserted_value_a_caller_can_change() -> None:
    deidentifier = create_default_core()
    first = deidentifier.deidentify(file_dataset(sop_dataset()))
    second = deidentifier.deidentify(file_dataset(sop_dataset(PatientID="OTHER")))
    first.DeidentificationMethodCodeSequence[0].CodeValue = "CHANGED"
    first.DeidentificationMethod = "changed"
    first.PatientIdentityRemoved = "NO"
    third = deidentifier.deidentify(file_dataset(sop_dataset()))
    for other in (second, third):
        assert other.DeidentificationMethodCodeSequence[0].CodeValue != "CHANGED"
        assert other.DeidentificationMethod != "changed"
        assert other.PatientIdentityRemoved == "YES"


def test_a_method_text_that_is_not_ascii_is_inserted_decoded() -> None:
    sets = get_dicom_rule_sets()
    profile = Profile(rule_sets=[sets.basic_profile, RuleSet(rules=[], name="Röntgen Zürich")])
    info = DeidentificationInfo(profile=profile, pixels_cleaned=False)
    assert StandardInsertions().encoded_elements(info, False, True) is None
    deidentifier = Core(profile, insertions=[StandardInsertions()])
    ds = sop_dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    output = deidentifier.deidentify(file_dataset(ds))
    assert "Röntgen Zürich" in output.DeidentificationMethod
    assert "Röntgen Zürich" in pydicom.dcmread(io.BytesIO(_saved(output))).DeidentificationMethod


def _saved(output: Dataset) -> bytes:
    buffer = io.BytesIO()
    output.save_as(buffer)
    return buffer.getvalue()


# -- remembered header values (the bouncers' and the pixel step's reads) -----------------


def _raw_file(syntax: str = ExplicitVRLittleEndian, **values: object) -> pydicom.FileDataset:
    ds = sop_dataset()
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return _in_encoding(ds, syntax)


@pytest.mark.parametrize("syntax", [s for _i, _l, s in _ENCODINGS.values()])
def test_remembered_header_values_are_the_values_pydicom_reads(syntax: str) -> None:
    tags = ("SOPClassUID", "Modality", "SeriesDescription", "PatientName", "ImageType")
    for _ in range(2):  # read twice: the second read is the remembered one
        ds = _raw_file(syntax, ImageType=["ORIGINAL", "PRIMARY"])
        before = snapshot(ds)
        reference = copy.deepcopy(ds)
        for keyword in tags:
            tag = pydicom.datadict.tag_for_keyword(keyword)
            assert tag is not None
            assert read_value(ds, tag) == reference[tag].value, keyword
        assert_unchanged(ds, before)


@pytest.mark.parametrize(
    ("charset", "text"),
    [("ISO_IR 100", "Müller"), ("ISO_IR 192", "Müller"), ("ISO 2022 IR 87", "山田")],
)
def test_header_values_that_depend_on_the_character_set_are_read_in_their_own(
    charset: str, text: str
) -> None:
    ds = sop_dataset(SeriesDescription=text)
    ds.SpecificCharacterSet = charset if charset != "ISO 2022 IR 87" else ["", charset]
    first = file_dataset(ds)
    assert read_value(first, 0x0008103E) == text
    # the same bytes under another character set are decoded in that one
    other = file_dataset(ds)
    raw = other._dict[BaseTag(0x0008103E)]
    other._dict[BaseTag(0x00080005)] = DataElement(0x00080005, "CS", "ISO_IR 100")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ISO 2022 escapes are no latin-1 escapes
        got = read_value(other, 0x0008103E)
        assert got == convert_raw_data_element(raw, encoding="iso8859", ds=None).value
    assert (got == text) is (charset == "ISO_IR 100")


def test_header_values_pydicom_warns_about_warn_on_every_read() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = _raw_file(SOPClassUID="1.2.3.abc")  # no valid UI: pydicom warns reading it
    for _ in range(3):
        with pytest.warns(UserWarning, match="Invalid value for VR UI"):
            assert read_value(ds, 0x00080016) == "1.2.3.abc"


def test_multi_valued_header_values_are_new_for_every_read() -> None:
    ds = _raw_file(ImageType=["ORIGINAL", "PRIMARY"])
    first = read_value(ds, 0x00080008)
    first.append("CHANGED")
    assert list(read_value(ds, 0x00080008)) == ["ORIGINAL", "PRIMARY"]


def test_a_subclass_with_its_own_elements_is_asked_for_every_dataset() -> None:
    class WithStudyNote(StandardInsertions):
        def elements(self, dataset: Dataset, info: DeidentificationInfo):  # type: ignore[no-untyped-def]
            yield from super().elements(dataset, info)
            yield DataElement(0x00324000, "LT", f"modality {dataset.Modality}")

    deidentifier = Core(create_default_core().profile, insertions=[WithStudyNote()])
    for modality in ("CT", "MR"):
        output = deidentifier.deidentify(file_dataset(sop_dataset(Modality=modality)))
        assert output.StudyComments == f"modality {modality}"
        assert output.PatientIdentityRemoved == "YES"
