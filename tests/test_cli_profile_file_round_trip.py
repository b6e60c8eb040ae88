"""Profile files: the default profile exports and loads back identical; custom rules work."""

from __future__ import annotations

from pathlib import Path

import pytest

from idiscore.defaults import default_profile, get_dicom_rule_sets, profile_from_options
from idiscore.errors import ConfigurationError
from idiscore.identifiers import (
    PrivateBlockTagIdentifier,
    PrivateTags,
    RepeatingGroup,
    SingleTag,
)
from idiscore.operators import Empty, Hash, Keep, Remove, SetFixedValue
from idiscore.profile import Profile
from idiscore.profile_file import dump_profile, load_profile, load_profile_text
from idiscore.rules import Rule, RuleSet


def same(a: Profile, b: Profile) -> bool:
    return a.name == b.name and a.rule_sets == b.rule_sets


def test_default_profile_round_trips(tmp_path: Path) -> None:
    profile = default_profile()
    text = dump_profile(profile)
    assert "[[rules]]" not in text  # only standard rule sets, by name
    path = tmp_path / "default.toml"
    path.write_text(text)
    loaded = load_profile(path)
    assert same(loaded, profile)
    assert dump_profile(loaded) == text


def test_options_profile_round_trips() -> None:
    profile = profile_from_options(["basic", "retain_uid", "clean_graphics"])
    assert same(load_profile_text(dump_profile(profile)), profile)


def test_custom_rules_round_trip() -> None:
    custom = RuleSet(
        [
            Rule(SingleTag("PatientName"), Hash(prefix="P")),
            Rule(SingleTag("0009,0010"), Remove()),
            Rule(RepeatingGroup("50xx,xxxx"), Remove()),
            Rule(PrivateBlockTagIdentifier("0013,[My Creator]01"), Keep()),
            Rule(PrivateTags(), Remove()),
            Rule(SingleTag("BodyPartExamined"), SetFixedValue("CHEST")),
            Rule(SingleTag("ImageType"), SetFixedValue(["DERIVED", "SECONDARY"])),
            Rule(SingleTag("PatientComments"), Empty()),
        ],
        name='site rules "quoted"',
        code=("99SITE", "S1", "Site rules"),
    )
    profile = Profile([get_dicom_rule_sets().basic_profile, custom], name="Site ÄÖ")
    loaded = load_profile_text(dump_profile(profile))
    assert same(loaded, profile)


def test_hand_written_file(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(
        """
rule_sets = ["basic", "site", "retain_uid"]

[[rules]]
rule_set = "site"
tag = "PatientName"
operator = "Hash"
args = { prefix = "X" }

[[rules]]
tag = "(0010,0020)"
operator = "Remove"
"""
    )
    profile = load_profile(path)
    sets = get_dicom_rule_sets()
    assert profile.name == "site"
    assert [r.name for r in profile.rule_sets] == [
        sets.basic_profile.name,
        "site",
        sets.retain_uid.name,
        "custom",
    ]
    assert profile.get_rule("PatientName") == Rule("PatientName", Hash("X"))
    assert profile.get_rule("PatientID") == Rule("PatientID", Remove())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('rule_sets = ["no_such_option"]', "unknown rule set"),
        ('rule_sets = "basic"', "list of names"),
        ('rule_sets = ["basic", "basic_profile"]', "listed twice"),
        ("colour = 1", "unknown key"),
        ('[[rules]]\ntag = "PatientName"\noperator = "Explode"', "unknown operator"),
        ('[[rules]]\ntag = "PatientName"\noperator = "Operator"', "unknown operator"),
        ('[[rules]]\ntag = "NotAKeyword"\noperator = "Remove"', "rule 1"),
        ('[[rules]]\ntag = "PatientName"\noperator = "Hash"\nargs = { nope = 1 }', "arguments"),
        ('[[rules]]\noperator = "Remove"', "'tag'"),
        ('[[rules]]\ntag = "PatientName"\noperator = "Remove"\ncolour = 2', "unknown key"),
        ('[codes]\nghost = ["a", "b", "c"]', "has no rules"),
        ("this is = not toml =", "not valid TOML"),
    ],
)
def test_bad_files_are_configuration_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_profile_text(text)


def test_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_profile(tmp_path / "missing.toml")


def test_unexportable_operator_argument_is_refused() -> None:
    profile = Profile([RuleSet([Rule("PatientName", SetFixedValue(b"\x00"))], name="bytes")])
    with pytest.raises(ConfigurationError, match="cannot be written"):
        dump_profile(profile)
