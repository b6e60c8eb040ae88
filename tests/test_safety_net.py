"""The safety net: standard attributes that no rule names get a fallback by VR.

The attributes are found in pydicom's DICOM dictionary and checked against the default
profile's own rules (edition 2026d of Table E.1-1), not against a list kept here.
"""

from __future__ import annotations

import io
import pickle
from functools import cache
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.datadict import DicomDictionary, keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from idiscore.cli.explain import explain_dataset
from idiscore.core import Core, Profile
from idiscore.defaults import create_core, default_profile, get_dicom_rule_sets
from idiscore.describe import describe
from idiscore.identifiers import RepeatingGroup, SingleTag
from idiscore.operators import Clean, Empty, HashUID, Keep, Remove
from idiscore.profile_file import dump_profile, load_profile_text
from idiscore.pseudonyms import Pseudonymizer, is_valid_uid
from idiscore.rules import Rule, RuleSet
from idiscore.safety_net import SAFETY_NET_NAME, STRUCTURAL

from factories import PYDICOM_FILES, PYDICOM_TEST_FILES, assert_unchanged, snapshot, sop_dataset

KEY = "safety-net-test-key"
NET_VRS = {"PN", "DA", "DT", "TM", "UI", "LO", "SH", "ST", "LT", "UT", "UC"}
TEXT_VRS = {"LO", "SH", "ST", "LT", "UT", "UC"}
#: a value per VR that is identifying (the text ones name the patient of sop_dataset)
PHI: dict[str, str] = {
    "PN": "Doe^John",
    "DA": "20200314",
    "DT": "20200314101112",
    "TM": "101112",
    "UI": "1.2.826.0.1.3680043.8.498.4242",
    "LO": "Jane Smith PID-778899",
    "SH": "Smith PID-778899",
    "ST": "Jane Smith PID-778899",
    "LT": "Jane Smith PID-778899",
    "UT": "Jane Smith PID-778899",
    "UC": "Jane Smith PID-778899",
}
#: Study Date of sop_dataset, to compare shifted dates with
STUDY_DATE = "20210314"


def _pseudonymizer() -> Pseudonymizer:
    return Pseudonymizer(KEY)


@cache
def _without_net() -> Profile:
    return Profile(default_profile().rule_sets, name="no net", safety_net=False)


def _unnamed() -> list[int]:
    """Standard tags of the net's VRs that no rule of the default profile names."""
    lookup = _without_net().compiled.lookup
    return sorted(
        tag
        for tag, (vr, _vm, _name, _retired, _keyword) in DicomDictionary.items()
        if vr in NET_VRS and not tag >> 16 & 1 and tag >> 16 not in (0x0000, 0x0002)
        if lookup(tag) is None
    )


UNNAMED = _unnamed()


def _id(tag: int) -> str:
    return keyword_for_tag(tag) or f"{tag:08X}"


@cache
def _core(modified_dates: bool = False) -> Core:
    sets = get_dicom_rule_sets()
    profile = default_profile()
    if modified_dates:
        profile = Profile([*profile.rule_sets, sets.retain_long_modified_dates])
    return create_core(profile, pseudonymizer=_pseudonymizer())


def _deidentify(core: Core, ds: Dataset) -> Dataset:
    before = snapshot(ds)
    out = core.deidentify(ds)
    assert_unchanged(ds, before)
    return out


def _with(tag: int, value: Any | None = None) -> Dataset:
    ds = sop_dataset()
    vr = DicomDictionary[tag][0]
    if tag == 0x00080016:
        value = ds.SOPClassUID  # a bouncer refuses others
    ds.add(DataElement(tag, vr, PHI[vr] if value is None else value))
    return ds


def _assert_fallback(tag: int, source: Dataset, out: Dataset, *, shifted: bool = False) -> None:
    vr = DicomDictionary[tag][0]
    original = source[tag].value
    if tag in STRUCTURAL:
        assert out[tag].value == original, "structure is kept"
        return
    if vr == "PN":
        assert tag in out and not out[tag].value
    elif vr in ("DA", "DT", "TM") and not shifted:
        assert tag not in out
    elif vr == "DA":
        assert out[tag].value == out.StudyDate != STUDY_DATE
    elif vr == "DT":
        assert out[tag].value[:8] == out.StudyDate != STUDY_DATE
    elif vr == "TM":
        assert out[tag].value == original
    elif vr == "UI":
        assert out[tag].value == _pseudonymizer().uid(original) != original
        assert is_valid_uid(out[tag].value)
    else:
        assert vr in TEXT_VRS
        text = str(out[tag].value)
        assert "Smith" not in text and "778899" not in text, text


def test_the_dictionary_holds_unnamed_attributes_of_every_vr() -> None:
    """The parametrized test below covers something: 2026d leaves many unnamed."""
    vrs = {DicomDictionary[tag][0] for tag in UNNAMED}
    assert vrs == NET_VRS
    assert len(UNNAMED) > 500
    named_in_2026d = 0x3004007F  # Dose Calculation Model Name, added in 2026d
    assert named_in_2026d not in UNNAMED
    structural = [tag for tag in UNNAMED if tag in STRUCTURAL]
    assert len(structural) <= len(UNNAMED) // 8, "the net leaves only structure alone"


@pytest.mark.parametrize("tag", UNNAMED, ids=_id)
def test_every_unnamed_standard_attribute_gets_the_fallback(tag: int) -> None:
    ds = _with(tag)
    out = _deidentify(_core(), ds)
    _assert_fallback(tag, ds, out)
    rule = _core().profile.get_rule(tag)
    owner = _core().profile.rule_set_of(rule) if rule is not None else None
    if tag in STRUCTURAL:
        assert rule is None
    else:
        assert owner is not None and owner.name == SAFETY_NET_NAME


DATES = [tag for tag in UNNAMED if DicomDictionary[tag][0] in ("DA", "DT", "TM")]


@pytest.mark.parametrize("tag", DATES, ids=_id)
def test_unnamed_dates_shift_with_the_profiles_dates(tag: int) -> None:
    vr = DicomDictionary[tag][0]
    value = {"DA": STUDY_DATE, "DT": STUDY_DATE + "101112", "TM": "101112"}[vr]
    ds = _with(tag, value)
    _assert_fallback(tag, ds, _deidentify(_core(modified_dates=True), ds), shifted=True)


@pytest.mark.parametrize(
    "keyword",
    ["CodeValue", "CodingSchemeDesignator", "CodeMeaning", "CodingSchemeVersion", "LongCodeValue",
     "ContextUID", "MappingResourceUID", "SOPClassUID", "ReferencedSOPClassUID",
     "TransferSyntaxUID", "ImplementationClassUID", "Manufacturer", "DimensionIndexPrivateCreator",
     "FunctionalGroupPrivateCreator", "MIMETypeOfEncapsulatedDocument"],
)  # fmt: skip
def test_structure_is_no_part_of_the_net(keyword: str) -> None:
    from idiscore.operators import StandardCodesOnly

    profile = default_profile()
    rule = profile.get_rule(keyword)
    # code attributes have a rule of their own (codes that identify), never the net's
    assert (
        rule is None or keyword == "SOPClassUID" or isinstance(rule.operation, StandardCodesOnly)
    )
    assert _without_net().get_rule(keyword) == rule


# -- the four examples, end to end ----------------------------------------------------

SOURCE_UID = "1.2.826.0.1.3680043.8.498.777"


def _examples(nested: bool = False, undefined: bool = False) -> Dataset:
    ds = sop_dataset()
    ds.SourceImageSequence = Sequence([Dataset()])
    ds.SourceImageSequence[0].ReferencedSOPClassUID = ds.SOPClassUID
    ds.SourceImageSequence[0].ReferencedSOPInstanceUID = SOURCE_UID
    holder = ds
    if nested:  # inside a sequence that the profile keeps and walks
        item = Dataset()
        item.CodeValue = "T-D1100"
        item.CodingSchemeDesignator = "SRT"
        item.CodeMeaning = "Head"
        ds.AnatomicRegionSequence = Sequence([item])
        ds["AnatomicRegionSequence"].is_undefined_length = undefined
        item.is_undefined_length_sequence_item = undefined
        holder = item
    holder.StudyUpdateDateTime = STUDY_DATE + "120000"
    holder.SOPInstanceUIDOfConcatenationSource = SOURCE_UID
    holder.EvaluatorName = "Evaluator^Eve"
    holder.SecondaryReviewerName = "Reviewer^Rob"
    return ds


def _check_examples(out: Dataset, nested: bool, shifted: bool = False) -> None:
    holder = out.AnatomicRegionSequence[0] if nested else out
    assert ("StudyUpdateDateTime" in holder) == shifted
    if shifted:
        assert holder.StudyUpdateDateTime == out.StudyDate + "120000"
    hashed = out.SourceImageSequence[0].ReferencedSOPInstanceUID
    assert hashed != SOURCE_UID
    assert holder.SOPInstanceUIDOfConcatenationSource == hashed, "references stay whole"
    assert holder.EvaluatorName == "" and holder.SecondaryReviewerName == ""
    if nested:
        code = (holder.CodeValue, holder.CodingSchemeDesignator, holder.CodeMeaning)
        assert code == ("T-D1100", "SRT", "Head")


ENCODINGS = {
    "explicit little": ExplicitVRLittleEndian,
    "implicit little": ImplicitVRLittleEndian,
    "explicit big": ExplicitVRBigEndian,
}


PLACES = {"top level": (False, False), "nested": (True, False), "nested, undefined": (True, True)}


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("syntax", ENCODINGS.values(), ids=list(ENCODINGS))
def test_the_four_examples_through_deidentify_file(
    syntax: Any, place: str, tmp_path: Path
) -> None:
    nested, undefined = PLACES[place]
    ds = _examples(nested, undefined)
    ds.file_meta.TransferSyntaxUID = syntax
    source = tmp_path / "in.dcm"
    ds.save_as(source, enforce_file_format=True)
    target = tmp_path / "out.dcm"
    _core().deidentify_file(source, target)
    _check_examples(pydicom.dcmread(target), nested)
    shifted = tmp_path / "shifted.dcm"
    _core(modified_dates=True).deidentify_file(source, shifted)
    _check_examples(pydicom.dcmread(shifted), nested, shifted=True)


@pytest.mark.parametrize("nested", [False, True], ids=["top level", "nested"])
def test_the_four_examples_through_deidentify(nested: bool) -> None:
    out = _deidentify(_core(), _examples(nested))
    _check_examples(out, nested)
    buffer = io.BytesIO()
    out.save_as(buffer)
    _check_examples(pydicom.dcmread(io.BytesIO(buffer.getvalue())), nested)


@pytest.mark.parametrize("creator", [None, "SOME CREATOR"], ids=["no creator", "creator"])
def test_private_elements_are_no_part_of_the_net(creator: str | None) -> None:
    """Only standard elements meet the net: private ones are for the private rules."""
    ds = sop_dataset()
    if creator is not None:
        ds.add_new(0x00090010, "LO", creator)
    ds.add_new(0x00091001, "PN", "Doe^John")
    ds.add_new(0x00091002, "UI", SOURCE_UID)
    core = Core(
        Profile([RuleSet([Rule("PatientName", Remove())])]), pseudonymizer=_pseudonymizer()
    )
    out = _deidentify(core, ds)
    assert out[0x00091001].value == "Doe^John" and out[0x00091002].value == SOURCE_UID
    assert out.SOPInstanceUID != ds.SOPInstanceUID, "while standard UIDs are mapped"


def test_the_net_reaches_elements_encoded_as_un(tmp_path: Path) -> None:
    """A name written with VR UN (as an unknown-VR relay would) is emptied too."""
    ds = sop_dataset()
    evaluator = 0x00142006
    ds.add(DataElement(evaluator, "UN", b"Evaluator^Eve "))
    source = tmp_path / "in.dcm"
    ds.save_as(source, enforce_file_format=True)
    target = tmp_path / "out.dcm"
    _core().deidentify_file(source, target)
    assert b"Evaluator" not in target.read_bytes()


# -- any rule wins; the option switches it off ----------------------------------------


@pytest.mark.parametrize(
    "rule",
    [Rule("EvaluatorName", Keep()), Rule(RepeatingGroup("xxxx,xxxx"), Keep()),
     Rule(RepeatingGroup("0014,xxxx"), Keep())],
    ids=["single tag", "keep all", "group"],
)  # fmt: skip
def test_any_rule_wins_over_the_net(rule: Rule) -> None:
    ds = _examples()
    out = _deidentify(Core(Profile([RuleSet([rule])]), pseudonymizer=_pseudonymizer()), ds)
    assert out.EvaluatorName == "Evaluator^Eve"
    if rule.identifier == SingleTag("EvaluatorName"):
        assert out.SecondaryReviewerName == "", "the net still covers the others"


def test_the_net_is_on_for_every_profile_and_can_be_switched_off() -> None:
    sets = get_dicom_rule_sets()
    custom = RuleSet([Rule("PatientName", Remove())], name="custom")
    seed = Profile(rule_sets=[sets.basic_profile, custom])
    assert seed.safety_net
    out = _deidentify(Core(seed, pseudonymizer=_pseudonymizer()), _examples())
    _check_examples(out, nested=False)

    off = Profile(rule_sets=[sets.basic_profile, custom], safety_net=False)
    assert off.safety_net_rules is None
    out = _deidentify(Core(off, pseudonymizer=_pseudonymizer()), _examples())
    assert out.EvaluatorName == "Evaluator^Eve"
    assert out.SOPInstanceUIDOfConcatenationSource == SOURCE_UID
    assert "safety_net=False" in repr(off)


@pytest.mark.parametrize("on", [True, False])
def test_the_option_survives_pickle_and_profile_files(on: bool) -> None:
    profile = Profile(default_profile().rule_sets, name="p", safety_net=on)
    assert pickle.loads(pickle.dumps(profile)).safety_net is on
    loaded = load_profile_text(dump_profile(profile))
    assert loaded.safety_net is on
    core = pickle.loads(pickle.dumps(Core(profile, pseudonymizer=_pseudonymizer())))
    out = core.deidentify(_examples())
    assert (out.EvaluatorName == "") is on


def test_the_net_follows_the_profiles_date_option() -> None:
    plain = default_profile().safety_net_rules
    shifted = _core(modified_dates=True).profile.safety_net_rules
    assert plain is not None and shifted is not None
    operators = {type(r.operation) for r in plain}
    assert operators == {Empty, Remove, HashUID, Clean}
    # dates shift; URLs, AE titles and unknown elements are removed either way
    assert {type(r.operation) for r in shifted} == {Empty, HashUID, Clean, Remove}
    assert [type(r.operation) for r in shifted][1] is Clean


def test_explain_and_profile_name_the_net() -> None:
    profile = default_profile()
    lines = list(explain_dataset(_examples(nested=True), profile))
    by_keyword = {line.keyword: line for line in lines}
    for keyword in ("EvaluatorName", "SecondaryReviewerName", "StudyUpdateDateTime",
                    "SOPInstanceUIDOfConcatenationSource"):  # fmt: skip
        assert SAFETY_NET_NAME in by_keyword[keyword].rule
    assert by_keyword["EvaluatorName"].outcome == "emptied"
    assert by_keyword["StudyUpdateDateTime"].outcome == "removed"
    assert SAFETY_NET_NAME not in by_keyword["CodeValue"].rule
    table = describe(profile, "csv")
    assert table.count(SAFETY_NET_NAME) == 6
    assert SAFETY_NET_NAME not in describe(_without_net(), "csv")


# -- structure survives on every bundled file -----------------------------------------


_CODE_KEYWORDS = ("CodeValue", "CodingSchemeDesignator", "CodingSchemeVersion", "CodeMeaning")


def _codes(ds: Dataset) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for element in ds.iterall():
        if element.VR == "SQ":
            for item in element.value:
                if "CodeValue" in item or "CodingSchemeDesignator" in item:
                    found.append(tuple(str(item.get(k, "")) for k in _CODE_KEYWORDS))
    return found


def _readable() -> list[str]:
    names = []
    for name in PYDICOM_FILES:
        if not name.endswith((".dcm", ".dicom")) and "." in name.rsplit("/", 1)[-1]:
            continue
        try:
            pydicom.dcmread(Path(PYDICOM_TEST_FILES) / name)
        except Exception:
            continue
        names.append(name)
    return names


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", _readable())
def test_bundled_files_keep_sop_class_and_codes(name: str) -> None:
    """With the net, outputs re-read, keep their SOP Class, and the codes the profile
    keeps are those it kept without the net."""
    ds = pydicom.dcmread(Path(PYDICOM_TEST_FILES) / name)
    pseudonymizer = _pseudonymizer()
    # no bouncer: the net is checked on every file the rules can process
    with_net = create_core(default_profile(), pseudonymizer=pseudonymizer, bouncers=[])
    without = create_core(_without_net(), pseudonymizer=pseudonymizer, bouncers=[])
    try:
        out = with_net.deidentify(ds)
    except Exception as exc:
        with pytest.raises(type(exc)):
            without.deidentify(ds)
        pytest.skip(f"refused with and without the net ({type(exc).__name__})")
    buffer = io.BytesIO()
    out.save_as(buffer)
    again = pydicom.dcmread(io.BytesIO(buffer.getvalue()), force=True)
    assert again.get("SOPClassUID") == ds.get("SOPClassUID")
    reference = without.deidentify(ds)
    meta = getattr(again, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in getattr(ds, "file_meta", {}):
        # the same as without the net (blanked burned-in text may be re-encoded losslessly)
        assert meta.TransferSyntaxUID == reference.file_meta.TransferSyntaxUID
    assert _codes(again) == _codes(reference)
