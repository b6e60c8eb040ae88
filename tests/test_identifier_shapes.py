"""Identifier shapes in free text, judged over neighbouring tokens (idiscore.identifier_shapes).

The rules are tested through :func:`idiscore.cleaning.clean_text`, which is where they act:
every case says what survives, so that a cleaner that keeps everything, drops everything or
returns a constant fails.
"""

from __future__ import annotations

import string
from collections import Counter

import pytest
from clean_corpus import keys
from hypothesis import given, settings
from hypothesis import strategies as st

from idiscore import identifier_shapes
from idiscore.cleaning import clean_text, default_vocabulary

# --------------------------------------------------------------------------------------------
# Each rule, with what it must drop and what it must keep


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # split IDs, social security numbers, phone numbers: runs of digit groups
        ("MRN 1234 5678 CT HEAD", "CT HEAD"),
        ("CT HEAD 1234 5678", "CT HEAD"),
        ("CT HEAD 1234-5678", "CT HEAD"),
        ("CT HEAD 123-45-6789", "CT HEAD"),
        ("CT HEAD 123 45 6789", "CT HEAD"),
        ("CT HEAD 555 1234", "CT HEAD"),
        ("CT HEAD 1-800-555-0199", "CT HEAD"),
        ("CT HEAD 0171 234 5678", "CT HEAD"),
        ("CT HEAD 12 34 56 78 90", "CT HEAD"),
        ("CT HEAD +31 6 1234 5678", "CT HEAD"),
        ("CT HEAD (555) 123 4567", "CT HEAD"),
        ("CT HEAD S12-3456", "CT HEAD"),
        ("CT HEAD AB-1234-5678", "CT HEAD"),
        ("CT HEAD 98 7654", "CT HEAD"),
        # labelled numbers, whatever their length
        ("CT HEAD MRN 1234", "CT HEAD"),
        ("CT HEAD ID: 4567", "CT HEAD"),
        ("CT HEAD Acc. No. 7734", "CT HEAD No."),
        ("CT HEAD SSN ending 6789", "CT HEAD"),
        ("CT HEAD pager 4321", "CT HEAD"),
        ("CT HEAD ext. 12", "CT HEAD ext."),
        ("CT HEAD case 17", "CT HEAD"),
        ("CT HEAD Patient 12", "CT HEAD"),
        ("CT HEAD ID AB-1234", "CT HEAD"),
        ("CT HEAD #1234", "CT HEAD"),
        ("CT HEAD MRN#1234", "CT HEAD"),
        ("CT HEAD room 412", "CT HEAD"),
        ("CT HEAD MRN Smith 1234", "CT HEAD"),  # the label reaches over a dropped word
        ("CT HEAD Patient John Carter 12", "CT HEAD"),
        # letters with three digits or more: ID shapes
        ("CT HEAD A1234", "CT HEAD"),
        ("CT HEAD RX991", "CT HEAD"),
        ("CT HEAD x204", "CT HEAD"),
        # partial dates
        ("CT HEAD 3/14", "CT HEAD"),
        ("CT HEAD 14/3", "CT HEAD"),
        ("CT HEAD 3/4", "CT HEAD"),
        ("CT HEAD 14.3.", "CT HEAD"),
        ("CT HEAD on 14-3", "CT HEAD on"),
        ("CT HEAD dated 3.4", "CT HEAD"),
        ("CT HEAD March 14", "CT HEAD"),
        ("CT HEAD 14 Mar", "CT HEAD"),
        ("CT HEAD 14th of March", "CT HEAD"),
        ("CT HEAD Mar 1, 1961", "CT HEAD"),
        ("CT HEAD 1 March 1961", "CT HEAD"),
        ("CT HEAD 01-Mar-1961", "CT HEAD"),
        ("CT HEAD 1.3.1961", "CT HEAD"),
        ("CT HEAD 01.03.61", "CT HEAD"),
        # e-mail, URLs, bare domains
        ("CT HEAD jane.roe@hospital.org", "CT HEAD"),
        ("CT HEAD https://ris.example.net/r/88213", "CT HEAD"),
        ("CT HEAD www.radiology-example.org/protocols", "CT HEAD"),
        ("CT HEAD pacs.example.org", "CT HEAD"),
        # names after a title
        ("Dr. White CT HEAD", "CT HEAD"),
        ("Dr White CT HEAD", "CT HEAD"),
        ("DR. GRAY CT HEAD", "CT HEAD"),
        ("Dr. John White CT HEAD", "CT HEAD"),
        ("Dr. J. White CT HEAD", "CT HEAD"),
        ("DR JOHN WHITE CT HEAD", "CT HEAD"),
        ("Prof. Long CT HEAD", "CT HEAD"),
        ("Mrs Head: CT HEAD", "CT HEAD"),
    ],
)
def test_identifier_shapes_are_dropped(text: str, expected: str) -> None:
    assert clean_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "5 mm",
        "2.5",
        "T1",
        "b1000",
        "120 kV",
        "3 phase",
        "C3-C4",
        "L4/L5",
        "L5-S1",
        "0.5 mSv",
        "1/2 dose",
        "2/3 of",
        "Phase 2/4",
        "Series 1/3",
        "Grade 2/6",
        "Image 45/120",
        "image 3/14",
        "Series 3",
        "Lesion #2",
        "100-120 ml",
        "3-4 mm",
        "14.3 mm",
        "3/4 mm",
        "TE 30 60 90 ms",
        "b=0 500 1000",
        "b0 500 1000",
        "TR 2000 TE 90",
        "DWI b=2000",
        "TI2500",
        "120kV",
        "1000ms",
        "2.5mm",
        "1.5T",
        "T2_TSE_SAG_384",
        "AX T1 POST GAD",
        "CTA HEAD W/WO",
        "Chest PA/LAT",
        "MR BRAIN",
        "MS lesions",
        "TE 30 ms Echo",
        "Slice thickness 1.25 mm, interval 0.625 mm",
        "5 mm, 3, 1000, 2.5",
    ],
)
def test_medical_numbers_and_words_are_kept(text: str) -> None:
    assert clean_text(text) == text


def test_context_words_of_the_rules_are_vocabulary_words() -> None:
    """Counting, fraction and unit words keep numbers; they must survive themselves, or the
    number would lose its context on the next pass of the cleaner."""
    words = default_vocabulary().words
    context = (
        identifier_shapes._COUNTING
        | identifier_shapes._FRACTION_NEXT
        | identifier_shapes._LIST_UNITS
    )
    missing = sorted(word for word in context if word.isalnum() and word.upper() not in words)
    assert missing == []


def test_labels_and_titles_are_not_vocabulary_words_except_modalities() -> None:
    words = default_vocabulary().words
    kept = {word.upper() for word in identifier_shapes.LABELS | identifier_shapes.TITLES}
    assert kept & words <= {"NO", "NUMBER", "PT", "RECORD", "EXT", "EXTENSION", "CELL"} | {
        "MR",
        "MRS",
        "MS",
        "SR",
        "PH",
        "REV",
    }


def test_pattern_spans_finds_nothing_in_words_without_digits_or_symbols() -> None:
    assert identifier_shapes.pattern_spans("AX T2 FLAIR") == []
    assert identifier_shapes.pattern_spans("seen 3/14/2021") == [(5, 14)]


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("b1000", True),
        ("TI2500", True),
        ("120kV", True),
        ("2.5mm", True),
        ("1000ms", True),
        ("A1234", False),
        ("x204", False),
        ("RX991", False),
    ],
)
def test_is_measurement(token: str, expected: bool) -> None:
    assert identifier_shapes.is_measurement(token) is expected


# --------------------------------------------------------------------------------------------
# Invariants: random identifiers of every shape in random medical text

MEDICAL = [
    "CT HEAD",
    "AX T2 FLAIR",
    "T1_MPRAGE_SAG",
    "DWI b=1000",
    "5 mm",
    "2.5 mm",
    "120 kV",
    "C3-C4",
    "L4/L5",
    "Phase 2/4",
    "1/2 dose",
    "stable nodule",
    "Chest PA/LAT",
    "CTA HEAD W/WO",
    "0.5 mSv",
    "3 phase",
    "Series 3",
    "3D TOF",
    "PET/CT SUV",
    "right upper lobe",
]
_DIGITS = st.text(alphabet=string.digits, min_size=1, max_size=1)
_LETTERS = st.text(alphabet=string.ascii_uppercase, min_size=1, max_size=3).filter(
    lambda prefix: not identifier_shapes.is_measurement(prefix + "123")
)


def _digits(size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=string.digits, min_size=size, max_size=size)


@st.composite
def split_ids(draw: st.DrawFn) -> str:
    groups = draw(
        st.lists(st.integers(1, 5), min_size=2, max_size=4).filter(lambda g: sum(g) >= 5)
    )
    joiner = draw(st.sampled_from([" ", "-", ".", " - ", "/"]))
    text = joiner.join(draw(_digits(size)) for size in groups)
    return text if "." not in joiner or len(groups) > 2 else text.replace(".", " ")


@st.composite
def labelled_ids(draw: st.DrawFn) -> str:
    label = draw(st.sampled_from(["MRN", "ID", "Acc", "SSN", "Pt", "Patient", "Case", "#"]))
    number = draw(_digits(draw(st.integers(1, 8))))
    gap = draw(st.sampled_from([" ", ": ", "# ", " #", " is "]))
    return f"{label}{gap}{number}" if label != "#" else f"#{number}"


@st.composite
def ssns(draw: st.DrawFn) -> str:
    separator = draw(st.sampled_from(["-", " "]))
    return separator.join((draw(_digits(3)), draw(_digits(2)), draw(_digits(4))))


@st.composite
def phones(draw: st.DrawFn) -> str:
    area, exchange, line = draw(_digits(3)), draw(_digits(3)), draw(_digits(4))
    shape = draw(st.integers(0, 7))
    if shape == 0:
        return f"({area}) {exchange}-{line}"
    if shape == 1:
        return f"{area}-{exchange}-{line}"
    if shape == 2:
        return f"{area}.{exchange}.{line}"
    if shape == 3:
        return f"{area} {exchange} {line}"
    if shape == 4:
        return f"+{draw(st.integers(1, 99))} {area} {exchange} {line}"
    if shape == 5:
        return f"{exchange}-{line}"
    if shape == 6:
        return f"{area}-{exchange}-{line} x{draw(_digits(3))}"
    return " ".join(draw(_digits(2)) for _ in range(5))


_MONTHS = ["Jan", "Feb", "March", "Apr", "May", "June", "Jul", "Aug", "Sept", "Oct", "Nov", "Dec"]


@st.composite
def dates(draw: st.DrawFn) -> str:
    day, month = draw(st.integers(1, 28)), draw(st.integers(1, 12))
    year = draw(st.integers(1920, 2030))
    name = draw(st.sampled_from(_MONTHS))
    return draw(
        st.sampled_from(
            [
                f"{month}/{day}",
                f"{day}/{month}",
                f"{day}.{month}.",
                f"{name} {day}",
                f"{day} {name}",
                f"{day} {name} {year}",
                f"{name} {day}, {year}",
                f"{day:02d}-{name[:3]}-{year}",
                f"{year}-{month:02d}-{day:02d}",
                f"{year}{month:02d}{day:02d}",
                f"{day:02d}/{month:02d}/{year}",
                f"{day}.{month}.{year % 100:02d}",
                f"on {day}-{month}",
            ]
        )
    )


@st.composite
def contacts(draw: st.DrawFn) -> str:
    user = draw(st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=8))
    host = draw(st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=8))
    return draw(
        st.sampled_from(
            [
                f"{user}@{host}.org",
                f"{user}.{host}@example.com",
                f"https://{host}.example.net/{user}",
                f"www.{host}.org",
            ]
        )
    )


@st.composite
def alphanumeric_ids(draw: st.DrawFn) -> str:
    return draw(_LETTERS) + draw(_digits(draw(st.integers(3, 4))))


@st.composite
def titled_names(draw: st.DrawFn) -> str:
    title = draw(st.sampled_from(["Dr.", "Dr", "Prof.", "Mrs", "Mr.", "Ms"]))
    name = draw(st.sampled_from(["White", "Gray", "Long", "Head", "Smith", "Young", "Nguyen"]))
    return f"{title} {name}"


IDENTIFIERS = st.one_of(
    split_ids(), labelled_ids(), ssns(), phones(), dates(), contacts(), alphanumeric_ids()
)


@st.composite
def embedded(draw: st.DrawFn, identifiers: st.SearchStrategy[str]) -> tuple[str, list[str]]:
    before = draw(st.lists(st.sampled_from(MEDICAL), max_size=3))
    after = draw(st.lists(st.sampled_from(MEDICAL), max_size=3))
    identifier = draw(identifiers)
    separator = draw(st.sampled_from([" ", ", ", "; ", " - "]))
    return separator.join([*before, identifier, *after]), [*before, *after]


def _survivors(identifier: str, medical: list[str], output: str) -> list[str]:
    """Tokens of ``identifier`` in ``output``, beyond those the medical text holds."""
    found = Counter(keys(output))
    allowed = Counter(key for phrase in medical for key in keys(phrase))
    labels = {"mrn", "id", "acc", "ssn", "pt", "patient", "case", "is", "on"}
    labels |= {"dr", "prof", "mrs", "mr", "ms"}  # titles name nobody
    return [key for key in keys(identifier) if key not in labels and found[key] > allowed[key]]


@given(embedded(IDENTIFIERS))
@settings(max_examples=300)
def test_identifiers_of_every_shape_never_survive(case: tuple[str, list[str]]) -> None:
    text, medical = case
    output = clean_text(text)
    identifier = text
    for phrase in medical:
        identifier = identifier.replace(phrase, " ", 1)
    assert _survivors(identifier, medical, output) == [], (text, output)


@given(embedded(titled_names()))
def test_names_after_a_title_never_survive(case: tuple[str, list[str]]) -> None:
    text, medical = case
    output = clean_text(text)
    identifier = text
    for phrase in medical:
        identifier = identifier.replace(phrase, " ", 1)
    assert _survivors(identifier, medical, output) == [], (text, output)


def _is_subsequence(small: list[str], large: list[str]) -> bool:
    remaining = iter(large)
    return all(token in remaining for token in small)


@given(embedded(st.one_of(IDENTIFIERS, titled_names())))
@settings(max_examples=200)
def test_output_is_a_subsequence_of_the_input_tokens_and_stable(
    case: tuple[str, list[str]],
) -> None:
    text, _ = case
    output = clean_text(text)
    assert _is_subsequence(keys(output), keys(text))
    assert clean_text(output) == output


@given(st.lists(st.sampled_from(MEDICAL), min_size=1, max_size=5))
def test_medical_text_alone_is_kept(phrases: list[str]) -> None:
    text = ", ".join(phrases)
    assert clean_text(text) == text
