"""Every public name is importable exactly as documented, and the seed example runs."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

import idiscore

PUBLIC = {
    "idiscore.core": ["Core", "Profile"],
    "idiscore.rules": ["Rule", "RuleSet"],
    "idiscore.identifiers": [
        "SingleTag", "RepeatingGroup", "PrivateTags", "PrivateBlockTagIdentifier", "TagIdentifier",
    ],
    "idiscore.operators": [
        "Operator", "Keep", "Remove", "Empty", "Replace", "Hash", "HashUID", "Clean",
        "SetFixedValue",
    ],
    "idiscore.defaults": ["get_dicom_rule_sets", "create_default_core", "create_core"],
    "idiscore.insertions": ["get_deidentification_method"],
    "idiscore.errors": [
        "IDISCoreError", "ConfigurationError", "DatasetRejectedError", "DeidentificationError",
        "PixelDataProcessingError", "InputError", "MissingDependencyError",
    ],
    "idiscore.pseudonyms": ["Pseudonymizer"],
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_names_importable(module: str) -> None:
    loaded = importlib.import_module(module)
    for name in PUBLIC[module]:
        assert hasattr(loaded, name), f"{module}.{name}"


def test_top_level_all_is_sorted_and_complete() -> None:
    assert idiscore.__all__ == sorted(idiscore.__all__)
    for name in idiscore.__all__:
        assert hasattr(idiscore, name)
    assert idiscore.__version__


def test_seed_example_runs_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The example of the idiscore 'Advanced' page, verbatim apart from the file set-up."""
    source = get_testdata_file("CT_small.dcm")
    assert source is not None
    shutil.copy(source, tmp_path / "my_file.dcm")
    monkeypatch.chdir(tmp_path)

    from idiscore.core import Core, Profile
    from idiscore.defaults import get_dicom_rule_sets
    from idiscore.identifiers import RepeatingGroup, SingleTag
    from idiscore.operators import Hash, Remove
    from idiscore.rules import Rule, RuleSet

    # Custom rules that will hash the patient name and remove all curve data
    my_ruleset = RuleSet(
        rules=[
            Rule(SingleTag("PatientName"), Hash()),
            Rule(RepeatingGroup("50xx,xxxx"), Remove()),
        ],
        name="My Custom RuleSet",
    )

    sets = get_dicom_rule_sets()  # Contains official DICOM deidentification rules
    profile = Profile(  # add custom rules to basic profile
        rule_sets=[sets.basic_profile, my_ruleset]
    )
    core = Core(profile)  # Create an deidentification core

    # read a DICOM dataset from file and write to another
    core.deidentify(pydicom.dcmread("my_file.dcm")).save_as("deidentified.dcm")

    original = pydicom.dcmread("my_file.dcm")
    result = pydicom.dcmread("deidentified.dcm")
    assert str(result.PatientName) not in ("", str(original.PatientName))
    assert result.PatientID == ""  # Basic Profile: Z
    assert result.SOPInstanceUID != original.SOPInstanceUID
    assert result.file_meta.MediaStorageSOPInstanceUID == result.SOPInstanceUID
    assert "SourceApplicationEntityTitle" not in result.file_meta
    assert not any(element.tag.is_private for element in result)


def test_describe_formats() -> None:
    from idiscore.defaults import default_profile
    from idiscore.describe import describe

    profile = default_profile()
    csv_text = describe(profile, "csv")
    assert csv_text.splitlines()[0] == "tag,keyword,name,operator,action,rule set"
    assert '"(0010,0010)",PatientName,Patient\'s Name,Empty(),Z,' in csv_text
    assert "| (0010,0010) | PatientName |" in describe(profile, "md")
    assert "<td>PatientName</td>" in describe(profile, "html")
    assert "PatientName" in describe(profile, "text")
    with pytest.raises(idiscore.ConfigurationError):
        describe(profile, "pdf")
