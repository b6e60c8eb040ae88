"""A corpus with planted identifiers, for the tests of ``idiscore verify``.

Every planted value is distinctive (no vocabulary word, no chance match), and the
dataset can be written in every encoding of its shapes: explicit or implicit VR,
sequences of defined or undefined length, a private block with a creator idiscore knows
nothing about, and one whose sequence is stored as explicit UN.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from factories import CT_IMAGE_STORAGE

NAME = "Quillfeather^Zebadiah"
FAMILY = "Quillfeather"
PATIENT_ID = "ZX-88123-PID"
INSTITUTION = "Wrexbury Infirmary"
BIRTH_DATE = "19610301"
NESTED_ID = "NESTED-ID-4471"
REQUEST_ID = "RQP-90817"
PRIVATE_NOTE = "Vorpalis note"
UN_NAME = "Mockridge^Ottoline"
STUDY_UID = "1.2.826.0.1.3680043.8.498.7001"
SERIES_UID = "1.2.826.0.1.3680043.8.498.7002"

#: every encoding of the corpus' shapes
ENCODINGS = ("explicit-undefined", "explicit-defined", "implicit-undefined", "implicit-defined")

#: (class, where) of every leak the weakened profile lets through (see weakened_profile)
WEAKENED_LEAKS = {
    ("id", "(0010,0020)"),
    ("institution", "(0008,0080)"),
    ("id", "(0010,1002)[0]/(0010,0020)"),
    ("id", "(0040,0275)[0]/(0040,1001)"),
    ("name", "(0020,4000)"),
    ("date", "(0020,4000)"),
    ("private", "(0009,1001)"),
    ("name", "(0009,1002)"),
    ("name", "(0009,1003)"),
    ("private", "(0011,1010)[0]/(0013,1001)"),
}


def _implicit_item(*elements: tuple[int, str]) -> bytes:
    """One Implicit VR item holding ``elements`` (tag, ASCII text)."""
    body = b""
    for tag, text in elements:
        value = text.encode("ascii")
        if len(value) % 2:
            value += b" "
        body += struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(value)) + value
    return struct.pack("<HHI", 0xFFFE, 0xE000, len(body)) + body


def planted_dataset(encoding: str, number: int = 1) -> Dataset:
    """One CT image with identifiers planted at the top level, in nested items, in private
    elements (a known creator, UTF-16 text, an unknown creator's UN sequence)."""
    undefined = encoding.endswith("undefined")
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = CT_IMAGE_STORAGE
    ds.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.7003.{number}"
    ds.StudyInstanceUID = STUDY_UID
    ds.SeriesInstanceUID = SERIES_UID
    ds.StudyDate = "20210314"
    ds.Modality = "CT"
    ds.InstitutionName = INSTITUTION
    ds.PatientName = NAME
    ds.PatientID = PATIENT_ID
    ds.PatientBirthDate = BIRTH_DATE
    other = Dataset()
    other.PatientID = NESTED_ID
    ds.OtherPatientIDsSequence = Sequence([other])
    request = Dataset()
    request.RequestedProcedureID = REQUEST_ID
    ds.RequestAttributesSequence = Sequence([request])
    ds.ImageComments = f"seen 03/01/1961 by {FAMILY}"
    if number > 1:  # refers to the first image of the series
        reference = Dataset()
        reference.ReferencedSOPClassUID = CT_IMAGE_STORAGE
        reference.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.8.498.7003.1"
        ds.ReferencedImageSequence = Sequence([reference])
    ds.add_new(0x00090010, "LO", "PLANTED CREATOR")
    ds.add_new(0x00091001, "LO", PRIVATE_NOTE)
    ds.add_new(0x00091002, "OB", NAME.encode("utf-16-le"))
    ds.add_new(0x00091003, "OB", NAME.encode("utf-16-be"))
    ds.add_new(0x00110010, "LO", "UNKNOWN PLANT")
    # the UN sequence is decoded and walked, so the leak is a private element in its item
    # that the weakened profile keeps
    ds.add_new(
        0x00111010,
        "UN",
        _implicit_item((0x00130010, "INNER PLANT"), (0x00131001, UN_NAME)),
    )
    ds.Rows = ds.Columns = 8
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.SamplesPerPixel = 1
    ds.PixelRepresentation = 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = np.arange(64, dtype=np.uint8).tobytes()
    for keyword in ("OtherPatientIDsSequence", "RequestAttributesSequence"):
        ds[keyword].is_undefined_length = undefined
        for item in ds[keyword].value:
            item.is_undefined_length_sequence_item = undefined
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = (
        ImplicitVRLittleEndian if encoding.startswith("implicit") else ExplicitVRLittleEndian
    )
    ds.preamble = (b"preamble of " + NAME.encode("ascii")).ljust(128, b"\x00")
    return ds


def write_planted(folder: Path, encoding: str, files: int = 2) -> list[Path]:
    """``files`` images of the planted patient below ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(1, files + 1):
        path = folder / f"image{number}.dcm"
        planted_dataset(encoding, number).save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
