"""A deterministic benchmark corpus: CT slices and one large multi-frame file.

Everything is derived from fixed seeds, so two machines generate byte-identical files::

    .venv/bin/python benchmarks/corpus.py            # 1,000 CT slices + the multi-frame file
    .venv/bin/python benchmarks/corpus.py --files 50

Layout of ``benchmarks/_corpus/`` (git-ignored)::

    stamp.json          corpus version and seed; a mismatch wipes and regenerates the corpus
    ct/ct_000000.dcm    512x512 int16 CT slices (CT Image Storage), ~150 attributes each
    multiframe.dcm      Enhanced CT, 512x512 uint16 x 290 frames (~152 MB)

CT file ``i`` depends only on the seed and ``i``, so asking for more files only adds the
missing ones, and the first N files of a bigger corpus are the corpus of N files. Files are
written to a temporary name and renamed, so an interrupted run never leaves a partial file.

Every file is Explicit VR Little Endian. The CT slices belong to 2 series of 100 slices per
study and one study per patient (file ``i``: patient ``i // 200``), with names, dates, UIDs,
nested sequences (ReferencedImageSequence, ProcedureCodeSequence, RequestAttributesSequence
with a nested code sequence, ...) and a GE-style private block (``GEMS_ACQU_01``, 11 elements
in group 0019; 3 of them are safe private elements of PS3.15 Table E.3.10-1).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import struct
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

#: Bump when the content of the generated files changes: the corpus is then regenerated.
CORPUS_VERSION = 4
SEED = 20_240_601
DEFAULT_FILES = 1_000
ROWS = COLUMNS = 512
MULTIFRAME_FRAMES = 290

HERE = Path(__file__).resolve().parent
CORPUS_DIR = HERE / "_corpus"
CT_DIR = CORPUS_DIR / "ct"
MULTIFRAME_PATH = CORPUS_DIR / "multiframe.dcm"
STAMP_PATH = CORPUS_DIR / "stamp.json"

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2.1"
IMPLEMENTATION_UID = "2.25.1822003851702318104634823612066478347"

SLICES_PER_SERIES = 100
SERIES_PER_STUDY = 2

_FAMILY = [
    "MUELLER",
    "GARCIA",
    "NGUYEN",
    "SMITH",
    "JANSSEN",
    "ROSSI",
    "KOWALSKI",
    "TANAKA",
    "OKAFOR",
    "HANSEN",
    "DUBOIS",
    "SILVA",
    "EVANS",
    "PETROV",
    "LINDQVIST",
    "MORENO",
]
_GIVEN = [
    "ANNA",
    "JOHN",
    "MARIA",
    "PETER",
    "LIN",
    "AHMED",
    "SOFIA",
    "LUCAS",
    "EMMA",
    "NOAH",
    "YUKI",
    "OLGA",
    "DAVID",
    "CHIARA",
    "MATEO",
    "INGRID",
]
_CITIES = ["Springfield", "Rivertown", "Lakeside", "Hillview", "Oakridge", "Maplewood"]
_STREETS = ["Main St", "Station Rd", "Church Lane", "Park Ave", "Mill Road", "High Street"]


def uid(*parts: object) -> str:
    """A deterministic UID under the 2.25 root (a 128-bit number derived from ``parts``)."""
    digest = hashlib.sha256(":".join(str(p) for p in (SEED, *parts)).encode()).digest()
    return "2.25." + str(int.from_bytes(digest[:16], "big"))


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def _date(rng: np.random.Generator, start_year: int, end_year: int) -> str:
    year = int(rng.integers(start_year, end_year + 1))
    return f"{year:04d}{int(rng.integers(1, 13)):02d}{int(rng.integers(1, 29)):02d}"


def _time(rng: np.random.Generator) -> str:
    hour, minute, second = (int(rng.integers(7, 19)), int(rng.integers(60)), int(rng.integers(60)))
    return f"{hour:02d}{minute:02d}{second:02d}.{int(rng.integers(1_000_000)):06d}"


def _name(rng: np.random.Generator) -> str:
    return f"{_FAMILY[int(rng.integers(len(_FAMILY)))]}^{_GIVEN[int(rng.integers(len(_GIVEN)))]}"


class _Patient:
    """Everything shared by the files of one patient (and their one study)."""

    def __init__(self, index: int) -> None:
        rng = np.random.default_rng([SEED, 2, index])
        self.index = index
        self.name = _name(rng)
        self.id = f"PAT{index:06d}{int(rng.integers(100, 1000))}"
        self.birth_date = _date(rng, 1935, 2000)
        self.sex = "MF"[int(rng.integers(2))]
        self.age = f"{int(rng.integers(20, 90)):03d}Y"
        self.size = round(float(rng.uniform(1.5, 1.95)), 2)
        self.weight = round(float(rng.uniform(48, 120)), 1)
        number = int(rng.integers(1, 200))
        street = _STREETS[int(rng.integers(len(_STREETS)))]
        city = _CITIES[int(rng.integers(len(_CITIES)))]
        self.address = f"{number} {street}, {city}"
        self.phone = f"+1-555-{int(rng.integers(1000, 10000))}"
        self.study_date = _date(rng, 2015, 2024)
        self.study_time = _time(rng)
        self.accession = f"ACC{int(rng.integers(10**7, 10**8))}"
        self.referring = _name(rng)
        self.performing = _name(rng)
        self.operator = _name(rng)
        self.reader = _name(rng)


def _ct_dataset(index: int, patient: _Patient, rng: np.random.Generator) -> Dataset:
    """The header of CT slice ``index`` (everything but PixelData)."""
    series = index // SLICES_PER_SERIES
    number_in_series = index % SLICES_PER_SERIES
    series_in_study = series % SERIES_PER_STUDY
    study_uid = uid("study", patient.index)
    series_uid = uid("series", series)
    instance_uid = uid("instance", index)
    frame_uid = uid("frame-of-reference", patient.index)
    z = -20.0 - 1.25 * number_in_series
    content_time = _time(rng)

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
    meta.MediaStorageSOPInstanceUID = instance_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = IMPLEMENTATION_UID
    meta.ImplementationVersionName = "IDISBENCH_1"
    meta.SourceApplicationEntityTitle = "CT_SCANNER_01"

    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.InstanceCreationDate = patient.study_date
    ds.InstanceCreationTime = content_time
    ds.InstanceCreatorUID = uid("creator")
    ds.SOPClassUID = CT_IMAGE_STORAGE
    ds.SOPInstanceUID = instance_uid
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = patient.study_date
    ds.StudyTime = patient.study_time
    ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = content_time
    ds.AccessionNumber = patient.accession
    ds.Modality = "CT"
    ds.Manufacturer = "GE MEDICAL SYSTEMS"
    ds.InstitutionName = "Springfield General Hospital"
    ds.InstitutionAddress = "1 Hospital Plaza, Springfield"
    ds.ReferringPhysicianName = patient.referring
    ds.ReferringPhysicianAddress = "12 Clinic Road, Springfield"
    ds.ReferringPhysicianTelephoneNumbers = "+1-555-0100"
    ds.TimezoneOffsetFromUTC = "+0100"
    ds.StationName = "CTSCAN01"
    ds.ProcedureCodeSequence = Sequence([_code("ZDS1C", "GEHC", "CT CHEST ABDOMEN W CONTRAST")])
    ds.StudyDescription = "CT CHEST ABDOMEN W CONTRAST"
    ds.SeriesDescription = ["5mm Axial", "1.25mm Axial Lung"][series_in_study]
    ds.InstitutionalDepartmentName = "Radiology"
    ds.PhysiciansOfRecord = patient.referring
    ds.PerformingPhysicianName = patient.performing
    ds.NameOfPhysiciansReadingStudy = patient.reader
    ds.OperatorsName = patient.operator
    ds.AdmittingDiagnosesDescription = "Suspected pulmonary embolism"
    ds.ManufacturerModelName = "Revolution CT"
    ds.ReferencedStudySequence = Sequence([_study_reference(patient)])
    ds.ReferencedImageSequence = Sequence(
        [_image_reference(uid("scout", patient.index, k)) for k in range(2)]
    )
    ds.SourceImageSequence = Sequence([_image_reference(uid("source", index))])
    ds.DerivationDescription = "Reconstructed from raw data"
    ds.AnatomicRegionSequence = Sequence([_code("T-D3000", "SRT", "Chest")])
    ds.IrradiationEventUID = uid("irradiation", series)

    ds.PatientName = patient.name
    ds.PatientID = patient.id
    ds.IssuerOfPatientID = "SGH"
    ds.PatientBirthDate = patient.birth_date
    ds.PatientBirthTime = "083000"
    ds.PatientSex = patient.sex
    ds.OtherPatientIDs = f"MRN{patient.index:08d}"
    ds.OtherPatientNames = patient.name.replace("^", "^^")
    ds.PatientAge = patient.age
    ds.PatientSize = patient.size
    ds.PatientWeight = patient.weight
    ds.PatientAddress = patient.address
    ds.PatientTelephoneNumbers = patient.phone
    ds.EthnicGroup = "UNKNOWN"
    ds.SmokingStatus = "NO"
    ds.AdditionalPatientHistory = "Follow-up after surgery at Springfield General"
    ds.PregnancyStatus = 4
    ds.PatientComments = f"Patient {patient.name} prefers morning appointments"

    ds.BodyPartExamined = "CHEST"
    ds.ScanOptions = "HELICAL MODE"
    ds.SliceThickness = [5.0, 1.25][series_in_study]
    ds.KVP = 120
    ds.DataCollectionDiameter = 500.0
    ds.DeviceSerialNumber = "RCT12345"
    ds.SoftwareVersions = ["revo_ct_22.100", "sys_2.3"]
    ds.ProtocolName = "5.4 CHEST ABD PE"
    ds.ReconstructionDiameter = 360.0
    ds.DistanceSourceToDetector = 1085.6
    ds.DistanceSourceToPatient = 625.6
    ds.GantryDetectorTilt = 0.0
    ds.TableHeight = 152.5
    ds.RotationDirection = "CW"
    ds.ExposureTime = 500
    ds.XRayTubeCurrent = int(rng.integers(150, 400))
    ds.Exposure = int(rng.integers(3, 12))
    ds.FilterType = "BODY FILTER"
    ds.GeneratorPower = 48
    ds.FocalSpots = 1.2
    ds.DateOfLastCalibration = "20240101"
    ds.TimeOfLastCalibration = "070000"
    ds.ConvolutionKernel = ["STANDARD", "LUNG"][series_in_study]
    ds.PatientPosition = "FFS"
    ds.RevolutionTime = 0.5
    ds.SingleCollimationWidth = 0.625
    ds.TotalCollimationWidth = 40.0
    ds.TableSpeed = 78.75
    ds.TableFeedPerRotation = 39.375
    ds.SpiralPitchFactor = 0.984
    ds.AcquisitionType = "SPIRAL"
    ds.CTDIvol = round(float(rng.uniform(5, 15)), 3)
    ds.CTDIPhantomTypeCodeSequence = Sequence(
        [_code("113691", "DCM", "IEC Body Dosimetry Phantom")]
    )
    ds.ContrastBolusAgent = "OMNIPAQUE 350"
    ds.ContrastBolusRoute = "IV"
    ds.ContrastBolusVolume = 100.0
    ds.ContrastBolusStartTime = "101500"
    ds.ContrastBolusIngredient = "IODINE"

    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = f"{patient.index % 100_000}"
    ds.SeriesNumber = series_in_study + 2
    ds.AcquisitionNumber = 1
    ds.InstanceNumber = number_in_series + 1
    ds.ImagePositionPatient = [-180.0, -180.0, z]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.FrameOfReferenceUID = frame_uid
    ds.PositionReferenceIndicator = "SN"
    ds.SliceLocation = z
    ds.ImageComments = (
        f"Slice {number_in_series + 1} of {SLICES_PER_SERIES}, tech {patient.operator}"
    )

    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ROWS
    ds.Columns = COLUMNS
    ds.PixelSpacing = [0.703125, 0.703125]
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.SmallestImagePixelValue = -1024
    ds.LargestImagePixelValue = 3071
    ds.WindowCenter = [40, -600][series_in_study]
    ds.WindowWidth = [400, 1500][series_in_study]
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.RescaleType = "HU"
    ds.WindowCenterWidthExplanation = ["WINDOW1", "WINDOW2"][series_in_study]
    ds.LossyImageCompression = "00"

    ds.RequestingPhysician = patient.referring
    ds.RequestingService = "Emergency Department"
    ds.RequestedProcedureDescription = "CT CHEST ABDOMEN W CONTRAST"
    ds.RequestedContrastAgent = "OMNIPAQUE"
    ds.StudyComments = f"Requested by {patient.referring}"
    ds.PerformedStationAETitle = "CTSCAN01"
    ds.PerformedProcedureStepStartDate = patient.study_date
    ds.PerformedProcedureStepStartTime = patient.study_time
    ds.PerformedProcedureStepID = f"PPS{patient.index:06d}"
    ds.PerformedProcedureStepDescription = "CT CHEST ABDOMEN W CONTRAST"
    ds.RequestAttributesSequence = Sequence([_request_attributes(patient)])
    ds.CurrentPatientLocation = "Ward 7B"

    _add_private_block(ds, rng, z)
    return ds


def _study_reference(patient: _Patient) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    item.ReferencedSOPInstanceUID = uid("study-component", patient.index)
    return item


def _image_reference(instance_uid: str) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = CT_IMAGE_STORAGE
    item.ReferencedSOPInstanceUID = instance_uid
    return item


def _request_attributes(patient: _Patient) -> Dataset:
    item = Dataset()
    item.RequestedProcedureID = f"RP{patient.index:07d}"
    item.ScheduledProcedureStepID = f"SPS{patient.index:07d}"
    item.ScheduledProcedureStepDescription = "CT CHEST ABDOMEN W CONTRAST"
    item.ScheduledProtocolCodeSequence = Sequence(
        [_code("CTCAPW", "99SGH", "CT chest abdomen pelvis with contrast")]
    )
    item.AccessionNumber = patient.accession
    return item


def _add_private_block(ds: Dataset, rng: np.random.Generator, z: float) -> None:
    """A GE-style private block: creator GEMS_ACQU_01 at (0019,0010), 11 elements."""
    block = ds.private_block(0x0019, "GEMS_ACQU_01", create=True)
    block.add_new(0x02, "SL", 912)
    block.add_new(0x03, "DS", 455.25)
    block.add_new(0x04, "DS", 1.0)
    block.add_new(0x0C, "US", int(rng.integers(0, 100)))
    block.add_new(0x0F, "DS", 0.0)
    block.add_new(0x10, "DT", "20240101101500")
    block.add_new(0x18, "LO", "I")
    block.add_new(0x1E, "DS", 360.0)
    block.add_new(0x23, "DS", 39.375)  # 23, 24, 27: safe private in PS3.15 Table E.3.10-1
    block.add_new(0x24, "DS", round(float(rng.uniform(0, 10)), 3))
    block.add_new(0x27, "DS", 0.5)


_PHANTOM: np.ndarray | None = None


def _phantom() -> np.ndarray:
    """A body-like CT phantom in HU (air, soft tissue, lungs, a bone ring), cached."""
    global _PHANTOM
    if _PHANTOM is None:
        y, x = np.mgrid[:ROWS, :COLUMNS].astype(np.float32)
        y = (y - ROWS / 2) / (ROWS / 2)
        x = (x - COLUMNS / 2) / (COLUMNS / 2)
        image = np.full((ROWS, COLUMNS), -1000.0, dtype=np.float32)
        body = (x / 0.85) ** 2 + (y / 0.65) ** 2 <= 1
        image[body] = 40
        for cx in (-0.35, 0.35):
            image[((x - cx) / 0.28) ** 2 + (y / 0.45) ** 2 <= 1] = -820
        ring = (x**2 + (y - 0.45) ** 2 <= 0.01) & (x**2 + (y - 0.45) ** 2 > 0.004)
        image[ring] = 700
        _PHANTOM = image
    return _PHANTOM


def _ct_pixels(rng: np.random.Generator, index: int) -> bytes:
    noise = rng.normal(0.0, 12.0, size=(ROWS, COLUMNS)).astype(np.float32)
    shift = 20.0 * np.sin(index / 15.0)
    pixels = np.clip(_phantom() + noise + shift, -1024, 3071).astype("<i2")
    return pixels.tobytes()


def write_ct_file(index: int, path: Path) -> None:
    """Generate CT slice ``index`` (a function of the seed and ``index`` only) at ``path``."""
    patient = _Patient(index // (SLICES_PER_SERIES * SERIES_PER_STUDY))
    rng = np.random.default_rng([SEED, 1, index])
    ds = _ct_dataset(index, patient, rng)
    ds.PixelData = _ct_pixels(rng, index)
    ds["PixelData"].VR = "OW"
    _atomic_save(ds, path)


def _atomic_save(ds: Dataset, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    ds.save_as(tmp, enforce_file_format=True)
    os.replace(tmp, path)


def _multiframe_header(frames: int) -> Dataset:
    """An Enhanced CT header with shared and per-frame functional groups."""
    rng = np.random.default_rng([SEED, 3])
    patient = _Patient(99_999)
    ds = _ct_dataset(0, patient, rng)
    for keyword in (
        "SliceLocation",
        "ImagePositionPatient",
        "ImageOrientationPatient",
        "PixelSpacing",
        "SliceThickness",
        "WindowCenter",
        "WindowWidth",
        "RescaleIntercept",
        "RescaleSlope",
        "RescaleType",
        "KVP",
        "WindowCenterWidthExplanation",
        "InstanceNumber",
        "ImageType",
        "SmallestImagePixelValue",
        "LargestImagePixelValue",
        "ScanOptions",
        "ExposureTime",
        "XRayTubeCurrent",
        "Exposure",
    ):
        delattr(ds, keyword)
    instance_uid = uid("multiframe", 0)
    ds.file_meta.MediaStorageSOPClassUID = ENHANCED_CT_IMAGE_STORAGE
    ds.file_meta.MediaStorageSOPInstanceUID = instance_uid
    ds.SOPClassUID = ENHANCED_CT_IMAGE_STORAGE
    ds.SOPInstanceUID = instance_uid
    ds.SeriesInstanceUID = uid("multiframe-series", 0)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL", "NONE"]
    ds.InstanceNumber = 1
    ds.NumberOfFrames = frames
    ds.PixelRepresentation = 0
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.ContentQualification = "PRODUCT"
    ds.BurnedInAnnotation = "NO"

    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = [0.703125, 0.703125]
    measures.SliceThickness = 1.25
    shared.PixelMeasuresSequence = Sequence([measures])
    orientation = Dataset()
    orientation.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    shared.PlaneOrientationSequence = Sequence([orientation])
    transform = Dataset()
    transform.RescaleIntercept = -1024
    transform.RescaleSlope = 1
    transform.RescaleType = "HU"
    shared.PixelValueTransformationSequence = Sequence([transform])
    window = Dataset()
    window.WindowCenter = 40
    window.WindowWidth = 400
    shared.FrameVOILUTSequence = Sequence([window])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])

    per_frame = []
    for frame in range(frames):
        item = Dataset()
        content = Dataset()
        content.FrameAcquisitionNumber = 1
        content.FrameReferenceDateTime = f"{patient.study_date}101500.{frame:06d}"
        content.FrameAcquisitionDateTime = f"{patient.study_date}101500.{frame:06d}"
        content.DimensionIndexValues = [1, frame + 1]
        content.StackID = "1"
        content.InStackPositionNumber = frame + 1
        item.FrameContentSequence = Sequence([content])
        position = Dataset()
        position.ImagePositionPatient = [-180.0, -180.0, -20.0 - 1.25 * frame]
        item.PlanePositionSequence = Sequence([position])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    return ds


def _frames(frames: int) -> Iterator[bytes]:
    """Frame after frame of 12-bit noise, one frame in memory at a time."""
    rng = np.random.default_rng([SEED, 4])
    for _ in range(frames):
        yield rng.integers(0, 4096, size=(ROWS, COLUMNS), dtype="<u2").tobytes()


def write_multiframe(path: Path, frames: int = MULTIFRAME_FRAMES) -> None:
    """The multi-frame file: header written by pydicom, PixelData appended frame by frame.

    PixelData is the last element of the dataset (no trailing padding), so appending its
    header and value after the pydicom-written header gives a valid file without ever holding
    the whole ~150 MB value in memory.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    _multiframe_header(frames).save_as(tmp, enforce_file_format=True)
    length = ROWS * COLUMNS * 2 * frames
    with open(tmp, "ab") as handle:
        # (7FE0,0010) OW, 2 reserved bytes, 32-bit length: Explicit VR Little Endian
        handle.write(struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, length))
        for chunk in _frames(frames):
            handle.write(chunk)
    os.replace(tmp, path)


def _stamp() -> dict[str, object]:
    return {"version": CORPUS_VERSION, "seed": SEED, "multiframe_frames": MULTIFRAME_FRAMES}


def _check_stamp() -> None:
    """Wipe the corpus when it was made by another version of this module."""
    if STAMP_PATH.exists():
        try:
            current = json.loads(STAMP_PATH.read_text())
        except ValueError:
            current = None
        if current == _stamp():
            return
    if CORPUS_DIR.exists():
        shutil.rmtree(CORPUS_DIR)
    CORPUS_DIR.mkdir(parents=True)
    STAMP_PATH.write_text(json.dumps(_stamp(), indent=2) + "\n")


def ct_path(index: int) -> Path:
    return CT_DIR / f"ct_{index:06d}.dcm"


def ensure_ct(files: int, *, quiet: bool = False) -> list[Path]:
    """The paths of CT slices 0 .. ``files`` - 1, generating the missing ones."""
    _check_stamp()
    CT_DIR.mkdir(parents=True, exist_ok=True)
    paths = [ct_path(i) for i in range(files)]
    missing = [i for i, p in enumerate(paths) if not p.exists()]
    if missing:
        start = time.perf_counter()
        _log(f"generating {len(missing)} CT slice(s) in {CT_DIR} ...", quiet)
        for count, index in enumerate(missing, 1):
            write_ct_file(index, paths[index])
            if count % 500 == 0:
                _log(f"  {count}/{len(missing)}", quiet)
        _log(f"  done in {time.perf_counter() - start:.1f} s", quiet)
    return paths


def ensure_ct_folder(files: int, *, quiet: bool = False) -> Path:
    """A folder that holds exactly the first ``files`` CT slices (for the CLI).

    That is ``ct/`` itself when it holds exactly that many files, else a folder
    ``ct-first-<files>/`` of hard links (copies where hard links are not possible).
    """
    paths = ensure_ct(files, quiet=quiet)
    if len(list(CT_DIR.glob("*.dcm"))) == files:
        return CT_DIR
    folder = CORPUS_DIR / f"ct-first-{files}"
    if folder.exists() and len(list(folder.glob("*.dcm"))) == files:
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir()
    for path in paths:
        try:
            os.link(path, folder / path.name)
        except OSError:
            shutil.copy2(path, folder / path.name)
    return folder


def ensure_multiframe(*, quiet: bool = False) -> Path:
    """The path of the multi-frame file, generated when missing."""
    _check_stamp()
    if not MULTIFRAME_PATH.exists():
        start = time.perf_counter()
        _log(f"generating {MULTIFRAME_PATH} ...", quiet)
        write_multiframe(MULTIFRAME_PATH)
        _log(f"  done in {time.perf_counter() - start:.1f} s", quiet)
    return MULTIFRAME_PATH


def _log(message: str, quiet: bool) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=DEFAULT_FILES, help="CT slices (1000)")
    parser.add_argument("--no-multiframe", action="store_true", help="skip the multi-frame file")
    args = parser.parse_args(argv)
    if args.files < 1:
        parser.error("--files must be at least 1")
    ensure_ct(args.files)
    if not args.no_multiframe:
        ensure_multiframe()
    print(CORPUS_DIR)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
