"""What the default profile keeps on purpose is no leak for ``idiscore verify``: a standard
code (scheme, value and standard meaning, see idiscore.operators.codes) and the words
idiscore itself writes in the de-identification method. A local code in the same place is
replaced, and verify still reports a planted leak beside them."""

from __future__ import annotations

from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from idiscore.batch import BatchOptions, run_batch
from idiscore.core import Core, Profile
from idiscore.defaults import create_default_core, get_dicom_rule_sets
from idiscore.insertions import StandardInsertions
from idiscore.operators import Keep
from idiscore.pseudonyms import Pseudonymizer
from idiscore.rules import Rule, RuleSet
from idiscore.verify import VerifyOptions, run_verify

from factories import sop_dataset

KEY = b"verify-kept-codes-key-0123456789"


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def _write(folder: Path) -> None:
    folder.mkdir()
    ds = sop_dataset()
    # a standard code the profile keeps, and words that idiscore's method description uses
    ds.CTDIPhantomTypeCodeSequence = Sequence(
        [_code("113691", "DCM", "IEC Body Dosimetry Phantom")]
    )
    ds.ImageComments = "Basic Profile phantom"
    ds.StudyDescription = "Clean Descriptors Option"
    ds.save_as(folder / "a.dcm", enforce_file_format=True)


def _leaks(core: Core, tmp_path: Path) -> list[dict[str, str]]:
    _write(tmp_path / "in")
    run_batch(
        core, [tmp_path / "in"], BatchOptions(output=tmp_path / "out", report=tmp_path / "r.jsonl")
    )
    summary = run_verify(
        tmp_path / "in",
        tmp_path / "out",
        VerifyOptions(dciodvfy=False, ocr=False, run_report=tmp_path / "r.jsonl"),
        keep_results=True,
    )
    assert summary.results is not None and len(summary.results) == 1
    return summary.results[0].leaks


def test_standard_codes_and_inserted_words_are_no_leaks(tmp_path: Path) -> None:
    core = create_default_core(pseudonymizer=Pseudonymizer(KEY), text_detection=None)
    assert _leaks(core, tmp_path) == []


def test_a_kept_identifier_beside_them_is_still_a_leak(tmp_path: Path) -> None:
    holes = RuleSet([Rule("PatientName", Keep())], name="holes")
    profile = Profile([get_dicom_rule_sets().basic_profile, holes], name="weakened")
    core = Core(profile, insertions=[StandardInsertions()], pseudonymizer=Pseudonymizer(KEY))
    leaks = _leaks(core, tmp_path)
    assert {leak["where"] for leak in leaks if leak["class"] == "name"} == {"(0010,0010)"}
    assert not [leak for leak in leaks if leak["where"].startswith(("(0018,9346)", "(0012,"))]
