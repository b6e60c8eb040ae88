"""idiscore 1.x's published examples, retold in our own words with the same calls.

One test per example of the idiscore repository (``examples/`` and the code blocks of its
"Getting started" and "Advanced" pages), run on files bundled with pydicom. Only the file
names differ (and ``pydicom.read``, which pydicom 3 no longer has, is ``pydicom.dcmread``).
Each example runs on several encodings of its input: explicit VR little endian, implicit VR,
explicit VR big endian; the safe private example adds private elements as explicit LO, as
explicit UN, implicit (unknown VR), inside a sequence item, and without a private creator.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from factories import PYDICOM_TEST_FILES, assert_unchanged, snapshot

#: Bundled files in three encodings: (file, Modality).
ENCODINGS = {
    "explicit little endian": "CT_small.dcm",
    "implicit little endian": "MR_small_implicit.dcm",
    "explicit big endian": "MR_small_bigendian.dcm",
}


@pytest.fixture(params=sorted(ENCODINGS))
def my_file(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The examples' ``my_file.dcm``, in the working directory as the examples expect."""
    shutil.copy(Path(PYDICOM_TEST_FILES) / ENCODINGS[request.param], tmp_path / "my_file.dcm")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "my_file.dcm"


def _original() -> Dataset:
    return pydicom.dcmread("my_file.dcm")


def test_minimal_example(my_file: Path) -> None:
    """examples/deidentify_a_dataset_minimal.py and "How to run idiscore"."""
    import pydicom

    from idiscore.defaults import create_default_core

    core = create_default_core()  # an idiscore instance
    ds = pydicom.dcmread("my_file.dcm")  # read the file
    ds = core.deidentify(ds)  # take the patient information out
    ds.save_as("deidentified.dcm")  # write it

    original, written = _original(), pydicom.dcmread("deidentified.dcm")
    assert str(original.PatientName) and str(written.PatientName) != str(original.PatientName)
    assert written.PatientIdentityRemoved == "YES"
    assert written.SOPInstanceUID != original.SOPInstanceUID
    assert written.file_meta.MediaStorageSOPInstanceUID == written.SOPInstanceUID
    codes = {item.CodeValue for item in written.DeidentificationMethodCodeSequence}
    assert {"113100", "113105", "113108", "113109", "113111"} <= codes
    assert written.PixelData == original.PixelData


def test_basic_example_with_retain_modified_dates(my_file: Path) -> None:
    """examples/deidentify_a_dataset_basic.py and "Choosing a deidentification profile":
    ``sets.retain_modified_dates`` is idiscore 1.x's name of Retain Longitudinal Temporal
    Information Modified Dates."""
    import pydicom

    from idiscore.core import Core, Profile
    from idiscore.defaults import get_dicom_rule_sets

    sets = get_dicom_rule_sets()  # the rule sets of PS3.15 Annex E
    profile = Profile(  # the rule sets to apply
        rule_sets=[sets.basic_profile, sets.retain_modified_dates, sets.retain_device_id]
    )
    core = Core(profile)  # a de-identification core

    core.deidentify(pydicom.dcmread("my_file.dcm")).save_as("deidentified.dcm")

    original, written = _original(), pydicom.dcmread("deidentified.dcm")
    assert sets.retain_modified_dates is sets.retain_long_modified_dates
    assert "StudyDate" in original
    # modified dates: shifted, never removed or emptied
    assert written.StudyDate and written.StudyDate != original.StudyDate
    # device identity retained
    for keyword in ("Manufacturer", "StationName", "DeviceSerialNumber"):
        if keyword in original:
            assert written[keyword].value == original[keyword].value
    # a bare Core inserts nothing, as the 1.x Core(profile) did not
    assert "PatientIdentityRemoved" not in written


def test_custom_profile_example(my_file: Path) -> None:
    """examples/custom_profile.py ("Advanced" page)."""
    import pydicom

    from idiscore.core import Core, Profile
    from idiscore.defaults import get_dicom_rule_sets
    from idiscore.identifiers import RepeatingGroup, SingleTag
    from idiscore.operators import Hash, Remove
    from idiscore.rules import Rule, RuleSet

    # our rules: hash the patient name, remove curve data
    my_ruleset = RuleSet(
        rules=[
            Rule(SingleTag("PatientName"), Hash()),
            Rule(RepeatingGroup("50xx,xxxx"), Remove()),
        ],
        name="My Custom RuleSet",
    )
    sets = get_dicom_rule_sets()
    profile = Profile(rule_sets=[sets.basic_profile, my_ruleset])  # basic profile + ours
    core = Core(profile)

    core.deidentify(pydicom.dcmread("my_file.dcm")).save_as("deidentified.dcm")

    original, written = _original(), pydicom.dcmread("deidentified.dcm")
    assert str(written.PatientName) not in ("", str(original.PatientName))
    assert not any(element.tag.group & 0xFF00 == 0x5000 for element in written)


# --------------------------------------------------------------------------- safe private


def _add_private_blocks(ds: Dataset, un: bool) -> None:
    """The example's private blocks, in three creators, one in a sequence item, plus an
    element whose block has no creator."""
    vr = "UN" if un else "LO"

    def value(text: str) -> bytes | str:
        return text.encode() if un else text

    siemens = ds.private_block(0x0023, "SIEMENS MED SP DXMG WH AWS 1", create=True)
    siemens.add_new(0x10, vr, value("SAFE0023-10"))
    siemens.add_new(0x11, vr, value("SAFE0023-11"))
    siemens.add_new(0x12, vr, value("UNSAFE0023-12"))
    test = ds.private_block(0x00B1, "TestCreator", create=True)
    test.add_new(0x01, vr, value("SAFE-TC-01"))
    test.add_new(0x02, vr, value("SAFE-TC-02"))
    test.add_new(0x03, vr, value("UNSAFE-TC-03"))
    other = ds.private_block(0x00B1, "othercreator", create=True)
    other.add_new(0x11, vr, value("SAFE-OC-11"))
    other.add_new(0x13, vr, value("UNSAFE-OC-13"))
    ds.add_new(0x00B11701, vr, value("ORPHAN-NO-CREATOR"))  # block 0x17: nobody reserved it
    item = Dataset()
    nested = item.private_block(0x00B1, "othercreator", create=True)
    nested.add_new(0x12, vr, value("SAFE-OC-12-NESTED"))
    nested.add_new(0x14, vr, value("UNSAFE-OC-14-NESTED"))
    ds.ReferencedImageSequence = Sequence([item])


def _written(ds: Dataset, implicit: bool) -> Dataset:
    """``ds`` as a file would hand it over: written and read back."""
    buffer = io.BytesIO()
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    ds.save_as(buffer, implicit_vr=implicit, little_endian=True)
    buffer.seek(0)
    return pydicom.dcmread(buffer)


def _texts(ds: Dataset) -> set[str]:
    """The values of the private elements the test added (groups 0023 and 00B1)."""
    found: set[str] = set()
    for element in ds.iterall():
        ours = element.tag.group in (0x0023, 0x00B1)
        if ours and not element.tag.is_private_creator:
            raw = element.value
            found.add(raw.decode().strip("\x00 ") if isinstance(raw, bytes) else str(raw))
    return found


SAFE_FOR_CT = {"SAFE0023-10", "SAFE0023-11", "SAFE-TC-01", "SAFE-TC-02"}
SAFE_ALWAYS = {"SAFE-OC-11", "SAFE-OC-12-NESTED"}


@pytest.mark.parametrize("modality", ["CT", "MR"])
@pytest.mark.parametrize("encoding", ["explicit LO", "explicit UN", "implicit"])
def test_safe_private_and_location_list_example(modality: str, encoding: str) -> None:
    """examples/deidentify_a_dataset_with_lists.py and "Safe Private and PII location list",
    applied to a CT (the criterion holds) and an MR (it does not)."""
    from idiscore.defaults import create_default_core
    from idiscore.image_processing import PIILocation, PIILocationList, SquareArea
    from idiscore.private_processing import SafePrivateBlock, SafePrivateDefinition

    safe_private = SafePrivateDefinition(
        blocks=[
            SafePrivateBlock(
                tags=[
                    "0023[SIEMENS MED SP DXMG WH AWS 1]10",
                    "0023[SIEMENS MED SP DXMG WH AWS 1]11",
                    "00b1[TestCreator]01",
                    "00b1[TestCreator]02",
                ],
                criterion=lambda x: x.Modality == "CT",
                comment="test tags that are safe in CT only",
            ),
            SafePrivateBlock(
                tags=["00b1[othercreator]11", "00b1[othercreator]12"],
                comment="test tags that are always safe",
            ),
        ]
    )
    location_list = PIILocationList(
        [
            PIILocation(
                areas=[SquareArea(5, 10, 4, 12), SquareArea(0, 0, 20, 3)],
                criterion=lambda x: x.Rows == 265 and x.Columns == 512,
            ),
            PIILocation(
                areas=[SquareArea(0, 200, 4, 12)],
                criterion=lambda x: x.Rows == 265 and x.Columns == 712,
            ),
        ]
    )
    core = create_default_core(safe_private_definition=safe_private, location_list=location_list)

    ds = pydicom.dcmread(Path(PYDICOM_TEST_FILES) / "CT_small.dcm")
    ds.Modality = modality
    _add_private_blocks(ds, un=encoding == "explicit UN")
    ds = _written(ds, implicit=encoding == "implicit")
    before = snapshot(ds)

    out = core.deidentify(ds)

    assert_unchanged(ds, before)
    kept = _texts(out)
    expected = SAFE_ALWAYS | (SAFE_FOR_CT if modality == "CT" else set())
    assert kept == expected
    creators = {str(e.value).strip() for e in out.iterall() if e.tag.is_private_creator}
    wanted = {"othercreator"} | (
        {"TestCreator", "SIEMENS MED SP DXMG WH AWS 1"} if modality == "CT" else set()
    )
    assert wanted <= creators
    assert not {"TestCreator", "SIEMENS MED SP DXMG WH AWS 1"} & creators or modality == "CT"
    # no location matches a 128 x 128 image: the pixels are untouched
    assert out.PixelData == ds.PixelData
    assert "BurnedInAnnotation" not in out or out.BurnedInAnnotation == ds.BurnedInAnnotation


def test_location_list_example_blanks_matching_images() -> None:
    """The example's location list, with criteria that match the bundled 128 x 128 CT."""
    from idiscore.defaults import create_default_core
    from idiscore.image_processing import PIILocation, PIILocationList, SquareArea

    location_list = PIILocationList(
        [
            PIILocation(
                areas=[SquareArea(5, 10, 4, 12), SquareArea(0, 0, 20, 3)],
                criterion=lambda x: x.Rows == 128 and x.Columns == 128,
            ),
            PIILocation(
                areas=[SquareArea(0, 100, 4, 12)],
                criterion=lambda x: x.Rows == 128 and x.Columns == 712,
            ),
        ]
    )
    core = create_default_core(location_list=location_list)
    ds = pydicom.dcmread(Path(PYDICOM_TEST_FILES) / "CT_small.dcm")
    before = ds.pixel_array.copy()

    after = core.deidentify(ds).pixel_array

    blanked = np.zeros(before.shape, dtype=bool)
    blanked[10:22, 5:9] = True
    blanked[0:3, 0:20] = True
    assert (after[blanked] != before[blanked]).any()
    assert len(np.unique(after[blanked])) == 1
    assert np.array_equal(after[~blanked], before[~blanked])
    assert np.array_equal(ds.pixel_array, before)  # the input is left alone


# --------------------------------------------------------------------------- migration guide

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "migrating-from-idiscore.md"


def _guide_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)


def test_the_guide_has_an_example_for_each_defect() -> None:
    text = GUIDE.read_text()
    sections = re.split(r"\n## ", text)[1:]
    assert len(sections) >= 6
    for section in sections[:5]:
        assert "```python" in section, section.splitlines()[0]


@pytest.mark.parametrize("index", range(len(_guide_blocks())))
def test_migration_guide_example_runs(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(Path(PYDICOM_TEST_FILES) / "CT_small.dcm", tmp_path / "my_file.dcm")
    monkeypatch.chdir(tmp_path)
    block = _guide_blocks()[index]
    code = compile(block, f"migrating-from-idiscore.md block {index}", "exec")
    exec(code, {"__name__": "guide"})
