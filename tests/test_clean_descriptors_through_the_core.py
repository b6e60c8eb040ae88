"""Descriptions and comments de-identified by the default core: the labelled corpus in Study
Description (LO) and Image Comments (LT), through ``deidentify`` on a built dataset, on a
dataset read from a file (raw elements, explicit and implicit VR: the core's remembered-Clean
fast path) and through ``deidentify_file``."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from clean_corpus import Case, leaks, load, score
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from idiscore.core import Core
from idiscore.defaults import create_default_core

from factories import sop_dataset

CASES = load()
PRECISION_FLOOR = 0.98  # the floor of tests/test_cleaning_corpus.py
LO_MAX = 64


@cache
def _core() -> Core:
    return create_default_core()


def _dataset(case: Case) -> Dataset:
    dataset = sop_dataset()
    for keyword in ("PatientName", "PatientID", "PatientBirthDate"):
        delattr(dataset, keyword)
    for element in case.dataset():
        dataset[element.tag] = element
    dataset.ImageComments = case.text
    if len(case.text) <= LO_MAX:
        dataset.StudyDescription = case.text
    return dataset


def _read_back(dataset: Dataset, syntax: pydicom.uid.UID) -> Dataset:
    dataset.file_meta.TransferSyntaxUID = syntax
    buffer = BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    buffer.seek(0)
    return pydicom.dcmread(buffer)


def _texts(output: Dataset) -> list[str]:
    texts = [str(output.get("ImageComments", ""))]
    if "StudyDescription" in output:
        texts.append(str(output.StudyDescription))
    return texts


def _check(results: list[tuple[Case, Dataset]]) -> None:
    leaked = [
        (case.line, text, leaks(case, text))
        for case, output in results
        for text in _texts(output)
        if leaks(case, text)
    ]
    assert leaked == []
    comments = score((case, str(output.get("ImageComments", ""))) for case, output in results)
    assert comments.precision >= PRECISION_FLOOR, comments.precision


ENCODINGS: dict[str, Callable[[Case], Dataset]] = {
    "built": _dataset,
    "explicit VR file": lambda case: _read_back(_dataset(case), ExplicitVRLittleEndian),
    "implicit VR file": lambda case: _read_back(_dataset(case), ImplicitVRLittleEndian),
}


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_the_corpus_through_deidentify(encoding: str) -> None:
    make = ENCODINGS[encoding]
    _check([(case, _core().deidentify(make(case))) for case in CASES])


def test_the_corpus_through_deidentify_file(tmp_path: Path) -> None:
    results = []
    for case in CASES:
        source, target = tmp_path / "in.dcm", tmp_path / "out.dcm"
        _dataset(case).save_as(source, enforce_file_format=True)
        _core().deidentify_file(source, target)
        results.append((case, pydicom.dcmread(target)))
    _check(results)


@pytest.mark.parametrize("raw", [False, True], ids=["built", "read"])
def test_a_comment_keeps_its_findings_and_loses_its_identifiers(raw: bool) -> None:
    dataset = sop_dataset(
        SeriesDescription="AX T2 FLAIR Smith 3/14",
        StudyDescription="CT CHEST ABDOMEN PELVIS W CONTRAST",
        ImageComments="Pt Jane Smith, MRN 1234 5678, call 555-1234; stable 5 mm nodule",
    )
    if raw:
        dataset = _read_back(dataset, ExplicitVRLittleEndian)
    output = _core().deidentify(dataset)
    assert output.ImageComments == "Pt stable 5 mm nodule"  # PT: also a modality
    assert output.StudyDescription == "CT CHEST ABDOMEN PELVIS W CONTRAST"
    assert output.SeriesDescription == "AX T2 FLAIR"
