"""The byte search of ``idiscore verify``: every encoding, and word boundaries for short
values and numbers (no ID found inside a longer number)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from idiscore.verify.search import find_values
from idiscore.verify.values import IdentifyingValue, date_renderings

ENCODINGS = ["latin-1", "utf-8", "utf-16-le", "utf-16-be"]


@given(
    value=st.text(
        alphabet=st.characters(whitelist_categories=["Lu", "Ll", "Nd"]), min_size=3, max_size=20
    ),
    before=st.binary(max_size=40),
    after=st.binary(max_size=40),
    encoding=st.sampled_from(ENCODINGS),
)
def test_a_value_between_separators_is_found_in_every_encoding(
    value: str, before: bytes, after: bytes, encoding: str
) -> None:
    try:
        encoded = value.encode(encoding)
    except UnicodeEncodeError:
        return
    space = " ".encode(encoding)
    data = before + space + encoded.upper() + space + after
    hits = find_values(data, [IdentifyingValue(value, "name")], [encoding])
    assert any(hit.offset == len(before) + len(space) for hit in hits)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_short_values_and_numbers_need_word_boundaries(encoding: str) -> None:
    def found(text: str, value: str) -> bool:
        data = text.encode(encoding)
        return bool(find_values(data, [IdentifyingValue(value, "id")], [encoding]))

    assert found("ID 4471 here", "4471")
    assert not found("ID 44712 here", "4471")
    assert not found("1.2.3.44710", "4471")
    assert found("^4471\\", "4471")
    assert not found("ABDOMEN", "DOME")  # short: a whole word only
    assert found("QUILLFEATHERS", "QUILLFEATHER")  # long: anywhere
    assert not found("19610301", "1961030")


def test_pixel_data_range_is_skipped() -> None:
    data = b"head DOE^JOHN pixels DOE^JOHN tail"
    hits = find_values(data, [IdentifyingValue("DOE^JOHN", "name")], ["latin-1"], (13, 28))
    assert [hit.offset for hit in hits] == [5]


def test_date_renderings() -> None:
    forms = date_renderings("19610301", "DA")
    assert {"19610301", "1961-03-01", "03/01/1961", "01/03/1961", "01.03.1961"} <= set(forms)
    assert "14:30:15" in date_renderings("20210314143015.123", "DT")
    assert date_renderings("1430", "TM") == ["1430"]
