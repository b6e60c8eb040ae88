"""Small synthetic datasets for tests, and helpers to check invariants."""

from __future__ import annotations

import copy
import io
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"

#: The folder of the files bundled with pydicom (listed directly: pydicom.data's
#: get_testdata_files tries the network).
PYDICOM_TEST_FILES = os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files")
#: Every file bundled with pydicom, relative to PYDICOM_TEST_FILES ("/"-separated), sorted.
PYDICOM_FILES = sorted(
    os.path.relpath(os.path.join(root, name), PYDICOM_TEST_FILES).replace(os.sep, "/")
    for root, _folders, names in os.walk(PYDICOM_TEST_FILES)
    for name in names
)

#: A valid example value for every VR (single-valued).
VR_EXAMPLES: dict[str, Any] = {
    "AE": "SCANNER_7",
    "AS": "042Y",
    "AT": 0x00100010,
    "CS": "ORIGINAL",
    "DA": "20210314",
    "DS": "12.5",
    "DT": "20210314101112.123456+0100",
    "FL": 1.5,
    "FD": 2.25,
    "IS": "42",
    "LO": "Jane Smith Clinic",
    "LT": "Patient Jane Smith said hello",
    "OB": b"\x01\x02\x03\x04",
    "OD": b"\x00" * 8,
    "OF": b"\x00\x00\x80\x3f",
    "OL": b"\x01\x00\x00\x00",
    "OV": b"\x01" * 8,
    "OW": b"\x01\x02",
    "PN": "Smith^Jane",
    "SH": "JS-1234",
    "SL": -7,
    "SS": -3,
    "ST": "Short text about Jane",
    "SV": -9,
    "TM": "101112.5",
    "UC": "unlimited characters Jane",
    "UI": "1.2.826.0.1.3680043.8.498.1",
    "UL": 7,
    "UN": b"\x05\x06",
    "UR": "http://example.org/jane",
    "US": 3,
    "UT": "unlimited text Jane",
    "UV": 11,
}

#: A second value for multi-valued tests (VRs that allow VM > 1).
MULTI_EXAMPLES: dict[str, list[Any]] = {
    "AE": ["SCANNER_7", "WS_2"],
    "AS": ["042Y", "003M"],
    "AT": [0x00100010, 0x00100020],
    "CS": ["ORIGINAL", "PRIMARY"],
    "DA": ["20210314", "20200101"],
    "DS": ["12.5", "-3"],
    "DT": ["20210314101112", "2020"],
    "FL": [1.5, 2.5],
    "FD": [2.25, 3.25],
    "IS": ["42", "-1"],
    "LO": ["Jane", "Smith"],
    "PN": ["Smith^Jane", "Doe^John"],
    "SH": ["JS-1234", "X"],
    "SL": [-7, 8],
    "SS": [-3, 4],
    "SV": [-9, 10],
    "TM": ["101112.5", "2359"],
    "UC": ["a", "b"],
    "UI": ["1.2.3.4", "1.2.3.5"],
    "UL": [7, 8],
    "US": [3, 4],
    "UV": [11, 12],
}


def sop_dataset(**values: Any) -> Dataset:
    """A small CT-like dataset with identifying values and file meta."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = CT_IMAGE_STORAGE
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.10"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.11"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.12"
    ds.PatientName = "Smith^Jane"
    ds.PatientID = "PID-778899"
    ds.PatientBirthDate = "19700101"
    ds.StudyDate = "20210314"
    ds.Modality = "CT"
    ds.SeriesDescription = "CT CHEST"
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def nested(depth: int, leaf: Dataset) -> Sequence:
    """ReferencedImageSequence nested ``depth`` levels around ``leaf``."""
    inner = leaf
    for _ in range(depth - 1):
        wrapper = Dataset()
        wrapper.ReferencedImageSequence = Sequence([inner])
        inner = wrapper
    return Sequence([inner])


def first_difference(a: bytes, b: bytes) -> str:
    """Where two byte strings part: their lengths and 16 bytes either side of the first
    difference (the message of :func:`assert_same_bytes`)."""
    pairs = enumerate(zip(a, b, strict=False))
    index = next((i for i, (x, y) in pairs if x != y), min(len(a), len(b)))
    return (
        f"lengths {len(a)} vs {len(b)}; first difference at byte {index}: "
        f"{a[max(0, index - 16) : index + 16]!r} vs {b[max(0, index - 16) : index + 16]!r}"
    )


def assert_same_bytes(expected: bytes, got: bytes) -> None:
    assert got == expected, first_difference(expected, got)


def pydicom_bytes(ds: Dataset, **options: Any) -> bytes:
    """``ds`` written by pydicom's own ``save_as`` into memory, warnings silenced.

    The reference for idiscore's writer: ``Dataset.save_as`` is called as the base class
    method, so an :class:`~idiscore.fileio.OutputDataset` (whose ``save_as`` is idiscore's
    writer) is written by pydicom too.
    """
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Dataset.save_as(ds, buffer, **options)
    return buffer.getvalue()


def roundtrip(ds: Dataset) -> FileDataset:
    """Write ``ds`` as a DICOM file in memory and read it back."""
    buffer = io.BytesIO()
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta and "SOPClassUID" in ds:
        ds.save_as(buffer, enforce_file_format=True)
    elif meta is not None and "TransferSyntaxUID" in meta:
        ds.save_as(buffer)
    else:
        ds.save_as(buffer, implicit_vr=False, little_endian=True)
    buffer.seek(0)
    return pydicom.dcmread(buffer, force=True)


def file_dataset(ds: Dataset) -> FileDataset:
    """Write ``ds`` and read it back, so elements are raw as in a real file."""
    return roundtrip(ds)


def deep_copy(ds: Dataset) -> Dataset:
    """A deep copy of ``ds`` (file meta included)."""
    return copy.deepcopy(ds)


@dataclass(frozen=True)
class Snapshot:
    """Everything observable of a dataset, recorded without converting anything.

    For every element, recursively through the items of decoded sequences and the file
    meta: the element object itself (so a raw element that was decoded in place, or an
    element that was replaced, is an other object), its type (``RawDataElement`` or
    ``DataElement``), its VR and a deep copy of its value. Also the dataset's original
    encoding and character set, and for a file its preamble.
    """

    records: tuple[Any, ...]
    elements: tuple[Any, ...]  # the objects, kept alive so that ``is`` can be checked
    encoding: tuple[Any, ...]
    meta: Snapshot | None
    preamble: bytes | None


def snapshot(ds: Dataset) -> Snapshot:
    """Record ``ds`` (see :class:`Snapshot`); compare later with :func:`assert_unchanged`."""
    records: list[Any] = []
    elements: list[Any] = []
    for tag, element in ds._dict.items():
        elements.append(element)
        value = element.value
        if isinstance(element, RawDataElement):
            records.append((int(tag), "raw", tuple(element)))
        elif isinstance(value, Sequence):
            items = tuple((item, snapshot(item)) for item in value)
            records.append((int(tag), "element", element.VR, id(value), items))
        else:
            records.append((int(tag), "element", element.VR, copy.deepcopy(value)))
    meta = getattr(ds, "file_meta", None)
    return Snapshot(
        records=tuple(records),
        elements=tuple(elements),
        encoding=(ds.original_encoding, ds.original_character_set),
        meta=snapshot(meta) if isinstance(meta, Dataset) else None,
        preamble=getattr(ds, "preamble", None),
    )


def assert_unchanged(ds: Dataset, before: Snapshot, where: str = "dataset") -> None:
    """``ds`` holds the very element objects, of the same types, VRs and values, that it
    held when ``before`` was taken (recursively), and nothing else. Reads nothing through
    pydicom's accessors, so it converts nothing itself."""
    tags = [int(t) for t in ds._dict]
    assert tags == [r[0] for r in before.records], f"{where}: the elements changed"
    for element, old, record in zip(
        ds._dict.values(), before.elements, before.records, strict=True
    ):
        tag = f"{where} ({record[0] >> 16:04X},{record[0] & 0xFFFF:04X})"
        assert element is old, f"{tag}: the element was replaced (decoded in place?)"
        if record[1] == "raw":
            assert isinstance(element, RawDataElement), f"{tag}: no longer raw"
            assert tuple(element) == record[2], f"{tag}: raw element changed"
            continue
        assert isinstance(element, DataElement) and record[2] == element.VR, tag
        value = element.value
        if len(record) == 5:
            assert id(value) == record[3], f"{tag}: the sequence was replaced"
            assert len(value) == len(record[4]), f"{tag}: items added or removed"
            for index, (item, (old_item, item_snapshot)) in enumerate(
                zip(value, record[4], strict=True)
            ):
                assert item is old_item, f"{tag} item {index} was replaced"
                assert_unchanged(item, item_snapshot, f"{tag} item {index}")
        else:
            assert value == record[3], f"{tag}: the value changed"
    assert (ds.original_encoding, ds.original_character_set) == before.encoding, where
    meta = getattr(ds, "file_meta", None)
    if before.meta is None:
        assert not isinstance(meta, Dataset), f"{where}: file meta added"
    else:
        assert isinstance(meta, Dataset), f"{where}: file meta removed"
        assert_unchanged(meta, before.meta, f"{where} file meta")
    assert getattr(ds, "preamble", None) == before.preamble, f"{where}: preamble changed"


def new_uid() -> str:
    return str(generate_uid(prefix="1.2.826.0.1.3680043.8.498."))


#: (PatientID, IssuerOfPatientID, PatientName, PatientBirthDate) of :func:`linked_datasets`.
LINKED_PATIENTS = (
    ("PID-ALPHA-7731", "", "Alpha^Alice", "19610203"),
    ("PID-BRAVO-8842", "HOSPITAL-NORTH", "Bravo^Bob^J", "19750611"),
    ("PID-CHARLIE-9953", "", "Charlie^Carol", "19881224"),
)


def linked_datasets() -> dict[str, Dataset]:
    """Small files of 3 patients, 2 studies each, that refer to one another.

    Keys are relative file names (``pA/study1/i0.dcm``). Within a series the second image
    refers to the first (SourceImageSequence > ReferencedImageSequence), and each study's
    second series refers to an image of the first study of the same patient. UIDs are
    fixed, so the set is the same in every call; there is no pixel data.
    """
    files: dict[str, Dataset] = {}
    serial = 100
    for p, (patient_id, issuer, name, birth) in enumerate(LINKED_PATIENTS):
        first_study_image = ""
        for study in range(2):
            study_uid = f"1.2.826.0.1.3680043.8.498.{p + 1}.{study + 1}"
            study_date = f"20{18 + 2 * study + p}0{3 + study}1{p}"
            for series in range(2):
                series_uid = f"{study_uid}.{series + 1}"
                previous = first_study_image if series == 1 else ""
                for image in range(2):
                    serial += 1
                    ds = sop_dataset(
                        PatientID=patient_id,
                        PatientName=name,
                        PatientBirthDate=birth,
                        StudyDate=study_date,
                        SeriesDate=study_date,
                        AcquisitionDateTime=f"{study_date}1015{image}0.25+0100",
                        AccessionNumber=f"ACC{p}{study}{series}-{serial}",
                        InstitutionName="Saint Elsewhere Hospital",
                        ReferringPhysicianName="Ehrlich^Donald",
                        StudyID=f"S{serial}",
                    )
                    if issuer:
                        ds.IssuerOfPatientID = issuer
                    ds.StudyInstanceUID = study_uid
                    ds.SeriesInstanceUID = series_uid
                    ds.SOPInstanceUID = f"{series_uid}.{image + 1}.{serial}"
                    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
                    if previous:
                        inner = Dataset()
                        inner.ReferencedSOPClassUID = CT_IMAGE_STORAGE
                        inner.ReferencedSOPInstanceUID = previous
                        middle = Dataset()
                        middle.ReferencedImageSequence = Sequence([inner])
                        ds.SourceImageSequence = Sequence([middle])
                    previous = ds.SOPInstanceUID
                    if not first_study_image:
                        first_study_image = ds.SOPInstanceUID
                    files[f"p{'ABC'[p]}/study{study + 1}/s{series + 1}i{image}.dcm"] = ds
    return files


def write_linked_files(folder: Path) -> list[Path]:
    """Write :func:`linked_datasets` below ``folder``; the paths written, sorted."""
    paths = []
    for relative, ds in linked_datasets().items():
        path = Path(folder) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return sorted(paths)


#: the pydicom files of :func:`write_mixed_series` (five, of different kinds)
MIXED_SERIES_FILES = (
    "CT_small.dcm",
    "MR_small.dcm",
    "rtplan.dcm",
    "rtdose.dcm",
    "waveform_ecg.dcm",
)


def write_mixed_series(folder: Path) -> Path:
    """``folder`` with :data:`MIXED_SERIES_FILES` split over two series folders and one
    file that is not DICOM (``notes.txt``); returns ``folder``."""
    from pydicom.data import get_testdata_file

    for index, name in enumerate(MIXED_SERIES_FILES):
        target = folder / f"series{index % 2}" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(str(get_testdata_file(name)), target)
    (folder / "notes.txt").write_text("not DICOM")
    return folder
