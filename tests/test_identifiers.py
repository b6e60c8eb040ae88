import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydicom.tag import Tag

from idiscore.errors import ConfigurationError
from idiscore.identifiers import (
    PrivateBlockTagIdentifier,
    PrivateTags,
    RepeatingGroup,
    SingleTag,
    parse_tag,
    tag_string,
)

tags = st.integers(min_value=0, max_value=0xFFFFFFFF)


@pytest.mark.parametrize(
    "value",
    ["PatientName", "0010,0010", "(0010,0010)", " (0010, 0010) ", "00100010", 0x00100010,
     (0x10, 0x10), Tag(0x00100010)],
)  # fmt: skip
def test_single_tag_accepts_every_form(value: object) -> None:
    ident = SingleTag(value)
    assert ident.tag == 0x00100010
    assert ident.matches(0x00100010)
    assert not ident.matches(0x00100020)
    assert ident == SingleTag("PatientName")
    assert repr(ident) == "SingleTag('PatientName')"


@given(tags)
def test_tag_string_round_trips(tag: int) -> None:
    text = tag_string(tag)
    assert parse_tag(text) == tag
    assert parse_tag(text[1:-1]) == tag
    assert parse_tag(text.lower()) == tag


@given(tags)
def test_single_tag_repr_evaluates_back(tag: int) -> None:
    ident = SingleTag(tag)
    assert eval(repr(ident)) == ident


@pytest.mark.parametrize(
    "bad", ["PatientNam", "0010,001", "(0010;0010)", "", 1.5, True, -1, 0x1_0000_0000, (1, 2, 3),
            ("a", 1), None],
)  # fmt: skip
def test_bad_tags_raise_configuration_error(bad: object) -> None:
    with pytest.raises(ConfigurationError):
        SingleTag(bad)


@pytest.mark.parametrize(
    ("pattern", "inside", "outside"),
    [
        # a wildcard in the group's last digit: even (standard) groups only, never the
        # private odd groups 5001, 50FF, 6001 ... in between
        ("50xx,xxxx", [0x50000000, 0x50FE1234, 0x501E3000],
         [0x51000000, 0x60003000, 0x50FF1234, 0x50013000, 0x501F0010]),
        ("60xx,3000", [0x60003000, 0x601E3000],
         [0x60003001, 0x61003000, 0x60013000, 0x601F3000]),
        ("xxxx,0010", [0x00100010, 0x00080010], [0x00100011, 0x00090010]),
        # a fixed group, or a fixed last group digit: matched as written, odd or even
        ("(0020,xx10)", [0x00200010, 0x0020FF10], [0x00200011, 0x00210010]),
        ("6001,xxxx", [0x60010010, 0x60011000], [0x60000010, 0x60031000]),
        ("60x1,xxxx", [0x60010010, 0x60F11000], [0x60000010, 0x60021000]),
    ],
)  # fmt: skip
def test_repeating_group_matches(pattern: str, inside: list[int], outside: list[int]) -> None:
    ident = RepeatingGroup(pattern)
    assert all(ident.matches(t) for t in inside)
    assert not any(ident.matches(t) for t in outside)
    assert eval(repr(ident)) == ident


@given(st.text(alphabet="0123456789abcdefABCDEFxX", min_size=8, max_size=8))
def test_repeating_group_round_trip(digits: str) -> None:
    pattern = f"{digits[:4]},{digits[4:]}"
    if "x" not in digits.lower():
        with pytest.raises(ConfigurationError):
            RepeatingGroup(pattern)
        return
    ident = RepeatingGroup(pattern)
    assert RepeatingGroup(ident.pattern) == ident
    concrete = int(digits.lower().replace("x", "0"), 16)
    assert ident.matches(concrete)
    assert ident.specificity == 10 + sum(c not in "xX" for c in digits)


@given(
    st.text(alphabet="0123456789abcdefx", min_size=8, max_size=8).filter(lambda d: "x" in d),
    st.integers(min_value=0, max_value=0xFFFFFFFF),
)
def test_repeating_group_matches_fixed_digits_and_even_wildcard_groups(
    digits: str, tag: int
) -> None:
    ident = RepeatingGroup(f"{digits[:4]},{digits[4:]}")
    text = f"{tag:08x}"
    fixed = all(d in ("x", t) for d, t in zip(digits, text, strict=True))
    even = digits[3] != "x" or not (tag >> 16) & 1
    assert ident.matches(tag) == (fixed and even)
    # the pattern with every wildcard filled from ``tag``'s digits: it matches exactly
    # when the group is even or its last digit is fixed
    filled = int("".join(t if d == "x" else d for d, t in zip(digits, text, strict=True)), 16)
    assert ident.matches(filled) == (digits[3] != "x" or not (filled >> 16) & 1)


@pytest.mark.parametrize("bad", ["50xx,xxx", "gggg,xxxx", "0010,0010", 5])
def test_bad_patterns(bad: object) -> None:
    with pytest.raises(ConfigurationError):
        RepeatingGroup(bad)  # type: ignore[arg-type]


def test_private_tags_match_odd_groups_only() -> None:
    ident = PrivateTags()
    assert ident.matches(0x00091001)
    assert ident.matches(0x7FE11010)
    assert not ident.matches(0x00100010)


def test_private_block_identifier_matches_any_block_number() -> None:
    ident = PrivateBlockTagIdentifier("0013,[MyCreator]01")
    assert ident.group == 0x13 and ident.offset == 0x01
    for block in (0x10, 0x11, 0xFF):
        assert ident.matches((0x0013 << 16) | (block << 8) | 0x01, "MyCreator")
    assert not ident.matches(0x00131001, "OtherCreator")
    assert not ident.matches(0x00131002, "MyCreator")
    assert not ident.matches(0x00151001, "MyCreator")
    assert not ident.matches(0x00130010, "MyCreator")  # the creator element itself
    assert eval(repr(ident)) == ident
    assert PrivateBlockTagIdentifier.from_parts(0x13, "MyCreator", 1) == ident


@given(
    st.integers(min_value=0, max_value=0x7FFF).map(lambda g: g * 2 + 1),
    st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="]"),
            min_size=1, max_size=64),
    st.integers(min_value=0, max_value=0xFF),
)  # fmt: skip
def test_private_block_round_trip(group: int, creator: str, offset: int) -> None:
    ident = PrivateBlockTagIdentifier.from_parts(group, creator, offset)
    assert PrivateBlockTagIdentifier(ident.key) == ident
    assert ident.matches((group << 16) | 0x4200 | offset, creator)


@pytest.mark.parametrize("bad", ["0012,[X]01", "0013,[]01", "0013,X01", "0013,[X]1"])
def test_bad_private_block(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        PrivateBlockTagIdentifier(bad)


def test_identifiers_pickle() -> None:
    for ident in (SingleTag("PatientID"), RepeatingGroup("50xx,xxxx"), PrivateTags(),
                  PrivateBlockTagIdentifier("0019,[SIEMENS MR HEADER]08")):  # fmt: skip
        assert pickle.loads(pickle.dumps(ident)) == ident
