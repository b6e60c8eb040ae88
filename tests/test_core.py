"""The rule engine: Core.deidentify with custom profiles."""

from __future__ import annotations

import pickle

import pydicom
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydicom.data import get_testdata_file
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from idiscore.core import Core, Profile
from idiscore.errors import ConfigurationError, DeidentificationError
from idiscore.identifiers import (
    PrivateBlockTagIdentifier,
    PrivateTags,
    RepeatingGroup,
    SingleTag,
)
from idiscore.operators import (
    Context,
    Empty,
    Hash,
    HashUID,
    Keep,
    Operator,
    Remove,
    Replace,
    SetFixedValue,
)
from idiscore.rules import Rule, RuleSet

from factories import assert_unchanged, file_dataset, nested, roundtrip, snapshot, sop_dataset


def core_of(*rules: Rule, name: str = "test") -> Core:
    return Core(Profile([RuleSet(rules, name=name)]))


def deidentify(core: Core, ds: Dataset) -> Dataset:
    """De-identify, check the input is unchanged and the output re-reads."""
    before = snapshot(ds)
    out = core.deidentify(ds)
    assert_unchanged(ds, before)
    back = roundtrip(out)
    assert len(back) >= 1
    return out


@pytest.mark.parametrize("raw", [False, True], ids=["built", "read-from-file"])
def test_rules_apply_and_unmatched_elements_are_kept(raw: bool) -> None:
    ds = sop_dataset()
    if raw:
        ds = file_dataset(ds)
    core = core_of(
        Rule(SingleTag("PatientName"), Hash()),
        Rule("PatientID", Empty()),
        Rule("PatientBirthDate", Remove()),
        Rule("SOPInstanceUID", HashUID()),
    )
    out = deidentify(core, ds)
    assert out.PatientName != ds.PatientName and str(out.PatientName)
    assert out.PatientID == ""
    assert "PatientBirthDate" not in out
    assert out.SOPInstanceUID != ds.SOPInstanceUID
    assert out.SeriesDescription == "CT CHEST"  # no rule: kept
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID


def test_plain_tag_is_accepted_as_identifier() -> None:
    rule = Rule(pydicom.tag.Tag("PatientID"), Remove())
    assert rule.identifier == SingleTag("PatientID")
    assert repr(rule) == "Rule(SingleTag('PatientID'), Remove())"


def test_rule_needs_an_operator() -> None:
    with pytest.raises(ConfigurationError):
        Rule("PatientID", "Remove")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        Rule("NoSuchKeyword", Remove())
    with pytest.raises(ConfigurationError):
        RuleSet([Remove()])  # type: ignore[list-item]
    with pytest.raises(ConfigurationError):
        Profile([Rule("PatientID", Remove())])  # type: ignore[list-item]


def test_most_specific_identifier_wins() -> None:
    profile = Profile(
        [
            RuleSet([Rule(SingleTag("0010,0020"), Keep())], name="a"),
            RuleSet([Rule(RepeatingGroup("0010,xxxx"), Remove())], name="b"),
            RuleSet([Rule(RepeatingGroup("00xx,xxxx"), Empty())], name="c"),
        ]
    )
    assert isinstance(profile.get_rule("PatientID").operation, Keep)  # type: ignore[union-attr]
    assert isinstance(profile.get_rule("PatientName").operation, Remove)  # type: ignore[union-attr]
    assert isinstance(profile.get_rule("StudyDate").operation, Empty)  # type: ignore[union-attr]
    assert profile.get_rule("PixelData") is None


def test_identical_identifiers_later_rule_set_wins() -> None:
    first = RuleSet([Rule("PatientID", Remove()), Rule(RepeatingGroup("50xx,xxxx"), Keep())])
    second = RuleSet([Rule("PatientID", Hash()), Rule(RepeatingGroup("50xx,xxxx"), Remove())])
    assert isinstance(Profile([first, second]).get_rule("PatientID").operation, Hash)  # type: ignore[union-attr]
    assert isinstance(Profile([second, first]).get_rule("PatientID").operation, Remove)  # type: ignore[union-attr]
    assert isinstance(Profile([first, second]).get_rule(0x50001234).operation, Remove)  # type: ignore[union-attr]
    # within one rule set the later rule wins
    one = RuleSet([Rule("PatientID", Remove()), Rule("PatientID", Keep())])
    assert isinstance(Profile([one]).get_rule("PatientID").operation, Keep)  # type: ignore[union-attr]
    assert len(Profile([first, second]).rules) == 2


def test_equally_specific_patterns_later_wins() -> None:
    a = RuleSet([Rule(RepeatingGroup("50xx,xxxx"), Keep())])
    b = RuleSet([Rule(RepeatingGroup("xxxx,xx34"), Remove())])
    assert isinstance(Profile([a, b]).get_rule(0x50001234).operation, Remove)  # type: ignore[union-attr]
    assert isinstance(Profile([b, a]).get_rule(0x50001234).operation, Keep)  # type: ignore[union-attr]


def test_private_block_beats_single_tag_beats_private_tags() -> None:
    profile = Profile(
        [
            RuleSet(
                [
                    Rule(PrivateTags(), Remove()),
                    Rule(SingleTag(0x00091001), Empty()),
                    Rule(PrivateBlockTagIdentifier("0009,[ACME]01"), Keep()),
                ]
            )
        ]
    )
    lookup = profile.compiled.lookup
    assert isinstance(lookup(0x00091001, "ACME").operation, Keep)  # type: ignore[union-attr]
    assert isinstance(lookup(0x00091001, "OTHER").operation, Empty)  # type: ignore[union-attr]
    assert isinstance(lookup(0x00091101, "OTHER").operation, Remove)  # type: ignore[union-attr]
    assert isinstance(lookup(0x00091101, "ACME").operation, Keep)  # type: ignore[union-attr]


def _with_private_block(block: int, creator: str = "ACME") -> Dataset:
    ds = sop_dataset()
    ds.add_new(0x00090000 | block, "LO", creator)
    ds.add_new(0x00090000 | (block << 8) | 0x01, "LO", "keep me")
    ds.add_new(0x00090000 | (block << 8) | 0x02, "LO", "Jane Smith")
    ds.add_new(0x00110010, "LO", "OTHER VENDOR")
    ds.add_new(0x00111001, "LO", "secret")
    return ds


@pytest.mark.parametrize("block", [0x10, 0x42, 0xFF])
@pytest.mark.parametrize("raw", [False, True])
def test_private_block_found_wherever_the_creator_was_placed(block: int, raw: bool) -> None:
    ds = _with_private_block(block)
    if raw:
        ds = file_dataset(ds)
    core = core_of(
        Rule(PrivateTags(), Remove()),
        Rule(PrivateBlockTagIdentifier("0009,[ACME]01"), Keep()),
    )
    out = deidentify(core, ds)
    private = {e.tag: e.value for e in out if e.tag.is_private}
    assert private == {
        0x00090000 | block: "ACME",
        0x00090000 | (block << 8) | 0x01: "keep me",
    }, "the creator survives with its kept element, unchanged; the rest goes"


def test_creator_removed_when_block_is_empty() -> None:
    ds = _with_private_block(0x10)
    out = deidentify(core_of(Rule(PrivateTags(), Remove())), ds)
    assert not [e for e in out if e.tag.is_private]


def test_private_creator_is_never_rewritten_even_by_a_matching_rule() -> None:
    ds = _with_private_block(0x10)
    out = deidentify(core_of(Rule(RepeatingGroup("0009,xxxx"), Replace())), ds)
    assert out[0x00090010].value == "ACME"
    assert out[0x00091001].value == "ANONYMIZED"


def _three_levels() -> Dataset:
    leaf = Dataset()
    leaf.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    leaf.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.8.498.99"
    leaf.PatientName = "Nested^Name"
    ds = sop_dataset()
    ds.ReferencedImageSequence = nested(3, leaf)
    return ds


def _leaf(ds: Dataset) -> Dataset:
    return ds.ReferencedImageSequence[0].ReferencedImageSequence[0].ReferencedImageSequence[0]


@pytest.mark.parametrize("raw", [False, True])
def test_nested_elements_get_their_own_rule_three_levels_deep(raw: bool) -> None:
    ds = _three_levels()
    if raw:
        ds = file_dataset(ds)
    core = core_of(
        Rule("ReferencedSOPInstanceUID", HashUID()),
        Rule("PatientName", Empty()),
        Rule("SOPInstanceUID", HashUID()),
    )
    out = deidentify(core, ds)
    leaf = _leaf(out)
    assert leaf.PatientName == ""
    assert leaf.ReferencedSOPInstanceUID != _leaf(ds).ReferencedSOPInstanceUID
    assert leaf.ReferencedSOPClassUID == _leaf(ds).ReferencedSOPClassUID
    # the same UID maps to the same new UID wherever it appears
    other = sop_dataset(SOPInstanceUID=_leaf(ds).ReferencedSOPInstanceUID)
    assert core.deidentify(other).SOPInstanceUID == leaf.ReferencedSOPInstanceUID


def test_sequence_rules_apply_to_the_whole_sequence() -> None:
    ds = _three_levels()
    removed = deidentify(core_of(Rule("ReferencedImageSequence", Remove())), ds)
    assert "ReferencedImageSequence" not in removed
    emptied = deidentify(core_of(Rule("ReferencedImageSequence", Empty())), ds)
    assert len(emptied.ReferencedImageSequence) == 0
    replaced = deidentify(core_of(Rule("ReferencedImageSequence", Replace())), ds)
    leaf = _leaf(replaced)
    assert leaf.PatientName == "ANONYMIZED"
    assert leaf.ReferencedSOPInstanceUID != _leaf(ds).ReferencedSOPInstanceUID
    kept = deidentify(
        core_of(Rule("ReferencedImageSequence", Keep()), Rule("PatientName", Remove())), ds
    )
    assert "PatientName" not in _leaf(kept)
    assert _leaf(kept).ReferencedSOPClassUID == _leaf(ds).ReferencedSOPClassUID


def test_file_meta_is_processed_and_media_uid_follows_sop_instance_uid() -> None:
    ds = sop_dataset()
    ds.file_meta.SourceApplicationEntityTitle = "HOSPITAL_PACS"
    core = core_of(
        Rule("SOPInstanceUID", HashUID()), Rule("SourceApplicationEntityTitle", Remove())
    )
    out = deidentify(core, ds)
    assert "SourceApplicationEntityTitle" not in out.file_meta
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    assert out.file_meta.MediaStorageSOPClassUID == ds.SOPClassUID
    assert out.file_meta.TransferSyntaxUID == ds.file_meta.TransferSyntaxUID


class Explodes(Operator):
    def apply(self, element: DataElement, context: Context) -> DataElement | None:
        raise RuntimeError("cannot handle")


def test_operator_failure_is_a_typed_error_and_input_is_untouched() -> None:
    ds = _three_levels()
    before = snapshot(ds)
    core = core_of(Rule("PatientID", Hash()), Rule("ReferencedSOPClassUID", Explodes()))
    with pytest.raises(DeidentificationError) as info:
        core.deidentify(ds)
    err = info.value
    assert err.tag == 0x00081150
    assert isinstance(err.rule, Rule) and isinstance(err.rule.operation, Explodes)
    assert "(0008,1140) > (0008,1140) > (0008,1140) > (0008,1150)" in str(err)
    assert "Smith" not in str(err)  # no values in messages
    assert_unchanged(ds, before)


def test_operator_returning_another_tag_is_refused() -> None:
    class Wrong(Operator):
        def apply(self, element: DataElement, context: Context) -> DataElement | None:
            return DataElement(0x00100020, "LO", "x")

    with pytest.raises(DeidentificationError):
        core_of(Rule("PatientName", Wrong())).deidentify(sop_dataset())


def test_output_shares_no_mutable_element_with_input() -> None:
    ds = sop_dataset()
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    out = core_of().deidentify(ds)
    out.PatientName = "changed"
    out.ImageType.append("X")
    assert ds.PatientName == "Smith^Jane"
    assert list(ds.ImageType) == ["ORIGINAL", "PRIMARY"]


def test_insertions_are_added() -> None:
    core = Core(
        Profile([RuleSet([Rule("PatientName", Remove())])]),
        [DataElement(0x00120062, "CS", "YES")],
    )
    out = core.deidentify(sop_dataset())
    assert out.PatientIdentityRemoved == "YES"
    with pytest.raises(ConfigurationError):
        Core(Profile([]), ["not an insertion"])  # type: ignore[list-item]


def test_core_pickles() -> None:
    core = core_of(Rule("PatientName", Hash()), Rule(RepeatingGroup("50xx,xxxx"), Remove()))
    clone = pickle.loads(pickle.dumps(core))
    ds = sop_dataset()
    assert clone.deidentify(ds).PatientName == core.deidentify(ds).PatientName


@pytest.mark.parametrize(
    "name", ["CT_small.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm", "rtplan.dcm",
             "image_dfl.dcm", "nested_priv_SQ.dcm", "SC_rgb_rle.dcm"],
)  # fmt: skip
def test_real_files_round_trip_with_a_keep_everything_profile(name: str) -> None:
    path = get_testdata_file(name)
    assert path is not None
    ds = pydicom.dcmread(path)
    rules = RuleSet([Rule("PatientName", SetFixedValue("ANON"))])
    out = deidentify(Core(Profile([rules], safety_net=False)), ds)
    back = roundtrip(out)
    for element in ds:
        if element.tag in (0x00100010,):
            continue
        if element.tag.is_private and element.tag.element < 0x10:
            # not in any private block (PS3.5 7.8.1): never kept
            assert element.tag not in back
            continue
        assert back[element.tag].value == element.value or element.VR == "SQ"
    if "PatientName" in ds:
        assert back.PatientName == "ANON"


@given(
    st.dictionaries(
        st.sampled_from(["PatientName", "PatientID", "StudyDate", "SeriesDescription",
                         "AccessionNumber", "StudyInstanceUID"]),
        st.sampled_from([Keep(), Remove(), Empty(), Replace(), Hash(), HashUID()]),
    )
)  # fmt: skip
def test_any_profile_leaves_input_unchanged_and_output_rereads(rules: dict[str, Operator]) -> None:
    ds = file_dataset(_three_levels())
    before = snapshot(ds)
    out = core_of(*(Rule(k, v) for k, v in rules.items())).deidentify(ds)
    assert_unchanged(ds, before)
    back = roundtrip(out)
    for keyword, operator in rules.items():
        if isinstance(operator, Remove):
            assert keyword not in back
        elif keyword in ds:
            assert keyword in back


def test_sequence_items_of_kept_sequences_are_new_objects() -> None:
    ds = _three_levels()
    out = core_of().deidentify(ds)
    assert out.ReferencedImageSequence[0] is not ds.ReferencedImageSequence[0]
    out.ReferencedImageSequence.append(Dataset())
    assert len(ds.ReferencedImageSequence) == 1
    assert isinstance(out.ReferencedImageSequence, Sequence)
