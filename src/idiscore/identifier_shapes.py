"""Where identifiers sit in free text, judged over neighbouring tokens.

:func:`idiscore.cleaning.clean_text` keeps a token when it is a vocabulary word or a short
number. A short number is not safe on its own: ``1234 5678`` is an ID split in two,
``123-45-6789`` a social security number, ``555 1234`` a phone number, ``3/14`` a date. This
module finds such shapes, on the whole text and over runs of neighbouring tokens, and tells the
cleaner which tokens belong to one. It knows nothing about vocabularies beyond a set of words.

The rules, in the order they are applied (each marks tokens; a marked token is dropped):

1. **Patterns on the text**: e-mail addresses, URLs and bare domains (``pacs.example.org``);
   dates with a year in every usual order and separator (``2020-01-31``, ``31/01/2020``,
   ``1.3.61``, ``01/2020``), ISO 8601 date-times (``2020-01-31T10:22``); dates with a
   month name, with or without a year (``31 Jan 2020``,
   ``14 Mar``, ``March 14``, ``14th of March``, ``Mar 1, 1961``); times (``12:30``, ``5pm``,
   ``10h15``); phone numbers with a country code (``+44 20 7946 0958``), an area code in
   brackets (``(555) 123-4567``) or the usual groupings (``555-123-4567``, ``555-1234``,
   ``06 12 34 56 78``).
2. **Numeric day and month without a year** (``3/14``, ``14-3``, ``14.3``):

   * with ``/``: a date when the two numbers make a day and a month in either order; kept
     as a fraction or a count only after a counting word (``Phase 2/4``, ``Series 1/3``,
     ``Grade 2/6``) or before a word that a fraction qualifies (``1/2 dose``, ``2/3 of``);
   * with ``.`` and a closing dot: a date (``14.3.``, German and Dutch style; a decimal that
     ends a sentence, ``measures 1.2.``, goes too);
   * with ``-`` or ``.`` otherwise: a range or a decimal (``3-4 mm``, ``14.3``), unless a date
     word comes before it (``on 14-3``, ``seen 3.4``, ``DOB 1-3``);
   * never a date when a unit follows (``3/4 mm``), or when the numbers cannot be a day and
     a month (``0/1``, ``40/60``).
3. **Runs of digit groups**: neighbouring tokens made of digits, separated only by white
   space, brackets, ``-``, ``.`` or ``/`` (``1234 5678``, ``123 45 6789``, ``1-800-555-0199``),
   and tokens of letters and digits joined to them by a bare ``-`` or ``/`` (``S12-3456``),
   form one run. A run of five digits or more is an identifier. Three exceptions, for plain
   numbers only, keep measurements: a range of two ascending groups of at most three digits
   (``100-120``), a count after a counting word (``image 45/120``), a list followed by a unit
   (``10 20 30 mm``), b-values after ``b`` (``b=0 500 1000``). A short word (up to four
   letters) joined to a dropped run by a bare ``-`` or ``/`` is the run's prefix
   (``AB-1234-5678``) and goes with it; joined by ``-`` to a number of three or four digits
   it makes an ID too (``JS-1234``, ``RX-991``), unless the two are a parameter and its
   value (``b-1000``, ``TR-2000``); so does a number with a leading zero after a word the
   vocabulary does not know (``PACS-WEST-02``).
4. **Labelled numbers**: after a label (``MRN``, ``ID``, ``Acc``, ``SSN``, ``DOB``, ``Patient``,
   ``Case``, ``Tel``, ``Pager``, ``Ext``, ``Room`` ... see :data:`LABELS`), and after up to two
   filler words or words that are not in the vocabulary (``MRN is``, ``SSN ending``,
   ``Patient Smith``), the next run of tokens holding digits is an
   identifier whatever its length (``MRN 1234``, ``ext. 12``). A ``#`` before digits is a label
   too, except after a counting word and for at most two digits (``lesion #2``).
5. **Names after a title** (``Dr.``, ``Mrs``, ``Prof`` ...): the title, initials and the next
   word go; so does the word after that when it is capitalised in mixed-case text
   (``Dr. John White``), or, in text of one case, when the first was not a vocabulary word (a
   given name: ``DR JOHN WHITE``). A title without a dot and not capitalised (``DR``, ``MS``,
   ``MR`` are also modalities and diseases, ``ms`` a unit) counts only in text of one case and
   before a word of letters that is not in the vocabulary (``DR JOHNSON``, not ``MR BRAIN``
   or ``MR CTSCAN07``).

Letters-and-digits tokens with three digits or more (``A1234``, ``x204``, ``RX991``) are judged
by :func:`is_measurement`: only unit-like shapes survive (``b1000``, ``TI2500``, ``120kV``,
``2.5mm``, ``1000ms``).

What stays, on purpose: numbers up to four digits alone (``5``, ``120``, ``1000``), decimals
(``2.5``, ``0.625``), vertebral levels (``C3-C4``, ``L4/L5``), ranges (``100-140``), counts
(``Series 3``, ``Phase 2/4``). A bare ``123-456`` (two ascending groups of three) is taken for a
range; with a label it goes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

__all__ = ["LABELS", "TITLES", "identifier_tokens", "is_measurement", "pattern_spans"]


class TokenLike(Protocol):
    """What this module needs of a token: its place in the text and its core text."""

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...

    @property
    def core(self) -> str: ...


# ----------------------------------------------------------------------------------------------
# 1. Patterns on the whole text

_NO_ALNUM_BEFORE = r"(?<![^\W_])"
_NO_ALNUM_AFTER = r"(?![^\W_])"
_NO_LETTER_BEFORE = r"(?<![^\W\d_])"
_NO_LETTER_AFTER = r"(?![^\W\d_])"
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_ORDINAL = r"(?:st|nd|rd|th)?"
_GAP = r"[\s\-./,]*"
_DAY_OR_YEAR_AFTER = rf"(?:{_GAP}'?\d{{2,4}}(?!\d))?"
_TLD = r"(?:com|org|net|edu|gov|int|info|io|nl|de|uk|fr|be|ch|it|es|ca|au|us|eu|at|se|dk|no)"


def _compile(source: str) -> re.Pattern[str]:
    return re.compile(source, re.IGNORECASE)


_PATTERNS: tuple[tuple[re.Pattern[str], int], ...] = tuple(
    (_compile(source), min_digits)
    for source, min_digits in (
        # e-mail addresses, URLs, bare domains
        (r"(?<![\w.+%-])[\w.+%-]+@[\w-]+(?:\.[\w-]+)+", 0),
        (r"(?<![\w.])(?:[a-z][a-z0-9+.-]*://|www\.)\S*", 0),
        (rf"(?<![\w@.-])(?:[a-z0-9-]+\.)+{_TLD}(?![\w-])(?:/\S*)?", 0),
        # ISO 8601 date and time: 2020-01-31T10:22, 2020-01-31T10:22:15.5+01:00
        (
            rf"{_NO_ALNUM_BEFORE}\d{{4}}-?\d{{2}}-?\d{{2}}T\d{{2}}(?::?\d{{2}}){{0,2}}"
            r"(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?(?![\w])",
            0,
        ),
        # numeric dates with a year: 2020-01-31, 31/01/2020, 1.2.20, 2020-01, 01/2020
        (rf"{_NO_ALNUM_BEFORE}\d{{4}}[-/.]\d{{1,2}}[-/.]\d{{1,2}}(?!\d)", 0),
        (rf"{_NO_ALNUM_BEFORE}\d{{1,2}}[-/.]\d{{1,2}}[-/.]\d{{2,4}}(?!\d)", 0),
        (rf"{_NO_ALNUM_BEFORE}(?:19|20)\d{{2}}[-/.](?:0?[1-9]|1[0-2])(?!\d)", 0),
        (rf"{_NO_ALNUM_BEFORE}(?:0?[1-9]|1[0-2])[-/.](?:19|20)\d{{2}}(?!\d)", 0),
        # dates with a month name: 31 Jan 2020, 31-JAN-2020, 31JAN2020, 14th of March,
        # Jan 31st, 2020, Jan 2020, March 14
        (
            rf"(?<![\d.]){_NO_LETTER_BEFORE}\d{{1,2}}{_ORDINAL}(?:{_GAP}of)?{_GAP}"
            rf"{_NO_LETTER_BEFORE}{_MONTH}{_NO_LETTER_AFTER}{_DAY_OR_YEAR_AFTER}",
            0,
        ),
        (
            rf"{_NO_LETTER_BEFORE}{_MONTH}{_GAP}\d{{1,4}}{_ORDINAL}{_NO_ALNUM_AFTER}"
            rf"{_DAY_OR_YEAR_AFTER}",
            0,
        ),
        # times: 12:30, 12:30:15.5, 5pm, 5 a.m., 12h30
        (
            rf"{_NO_ALNUM_BEFORE}\d{{1,2}}:\d{{2}}(?::\d{{2}}(?:[.,]\d+)?)?"
            rf"(?:\s*[ap]\.?m\.?{_NO_LETTER_AFTER})?(?!\d)",
            0,
        ),
        (rf"{_NO_ALNUM_BEFORE}\d{{1,2}}\s*[ap]\.?m\.?{_NO_LETTER_AFTER}", 0),
        (rf"{_NO_ALNUM_BEFORE}\d{{1,2}}h\d{{2}}(?!\d)", 0),
        # phone numbers: +44 20 7946 0958, (555) 123-4567, 555-123-4567, 555 123 4567,
        # 555-1234, 06 12 34 56 78
        (rf"{_NO_ALNUM_BEFORE}\+\d{{1,3}}(?:[\s./-]?\(?\d{{1,5}}\)?){{2,6}}(?!\d)", 8),
        (
            rf"{_NO_ALNUM_BEFORE}\(\d{{2,5}}\)\s?\d{{2,4}}[\s.-]?\d{{2,4}}(?:[\s.-]?\d{{2,4}})?"
            rf"{_NO_ALNUM_AFTER}",
            0,
        ),
        (r"(?<![\w.=])\d{3}[\s.-]\d{3}[\s.-]\d{4}(?![\w.])", 0),
        (r"(?<![\w.=])\d{3,4}-\d{4}(?![\w.%])", 0),
        (r"(?<![\w.=])0\d(?:[\s.-]\d{2}){4}(?![\w.])", 0),
    )
)
_DIGIT = re.compile(r"\d")
_SYMBOLS = re.compile(r"[@:/]|www\.|\.[a-z]", re.IGNORECASE)


def pattern_spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) spans of the dates, times, phone numbers, e-mails and URLs of
    ``text`` (rule 1)."""
    if _DIGIT.search(text) is None and _SYMBOLS.search(text) is None:
        return []
    spans: list[tuple[int, int]] = []
    for regex, min_digits in _PATTERNS:
        for match in regex.finditer(text):
            if min_digits and len(_DIGIT.findall(match.group())) < min_digits:
                continue
            spans.append(match.span())
    return spans


# ----------------------------------------------------------------------------------------------
# Words that give numbers and names their meaning


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Words after which digits are an identifier (rule 4); compared case-insensitively,
#: without dots at the ends.
LABELS = _wordset(
    """
    mrn id ids pid ssn sin nhs nhi bsn acc accn accession acct account record rec chart
    case pt patient pat subject subj participant no nr num number dob d.o.b born birth birthdate
    tel telephone phone ph fax pager page bleep beeper ext extn extension cell mobile mob
    call room rm bed ward order req requisition visit encounter enc fin csn ref reference
    file folder badge employee emp staff member policy insurance claim voucher ticket
    """
)
_FILLERS = _wordset("is was are number no nr num ending last digits #")
_COUNTING = _wordset(
    """
    series ser image images img im slice slices sl phase phases echo echoes view views part
    parts step steps grade level levels stage run runs acquisition acq scan scans lesion
    lesions node nodes nodule nodules segment segments frame frames dose doses fraction
    fractions cycle cycles bolus volume volumes sequence sequences position rib ribs
    """
)
_FRACTION_NEXT = _wordset(
    """
    dose doses of strength fraction tablet tablets volume vol concentration power
    """
)
_DATE_WORDS = _wordset(
    """
    on dated date from since until till seen prior performed scanned done dob born birth
    birthday visit admitted discharged exam examined study studied compared comparison
    d.o.b
    """
)
#: Person titles after which a name follows (rule 5).
TITLES = _wordset("dr doctor prof professor mr mrs ms miss mx sr sister rev")
_UNITS = _wordset(
    """
    mm cm m um ms s sec secs min mins h hr hrs kv kvp ma mas ml cc l mg g kg mgy gy msv
    sv mgycm t mt hz khz mhz bpm kev mev mbq gbq mci uci % deg ° degrees x mm2 mm3 cm2 cm3
    mmol hu
    """
)
#: Units that make a list of numbers a list of measurements (rule 3): no single letters.
_LIST_UNITS = frozenset(unit for unit in _UNITS if len(unit) > 1 or unit in "%°")
_MEASUREMENT = re.compile(
    r"(?:b|tr|te|ti|ta|tf|fa|fov|kv|kvp|ma|mas|ctdi|dlp|asir|asirv|dose|nex|etl|bw|vol|thk)"
    r"\d+(?:\.\d+)?"
    r"|\d+(?:\.\d+)?"
    r"(?:mm|cm|m|um|ms|s|sec|min|h|hr|kv|kvp|ma|mas|ml|cc|mg|g|kg|mgy|gy|msv|sv|t|mt"
    r"|hz|khz|mhz|bpm|kev|mev|mbq|gbq|mci|deg|hu|x|ch|d)(?:2|3)?",
    re.IGNORECASE,
)


def is_measurement(core: str) -> bool:
    """Whether a token of letters and digits is unit-shaped (``b1000``, ``120kV``, ``2.5mm``)."""
    return _MEASUREMENT.fullmatch(core) is not None


# ----------------------------------------------------------------------------------------------
# 2.-5. Rules over neighbouring tokens

_OTHER, _NUMBER, _MIXED, _MEASURE = 0, 1, 2, 3  # token kinds
_NUMBER_RE = re.compile(r"\d+")
_PLAIN_JOIN = re.compile(r"[\s()\[\]]*[-./]?[\s()\[\]]*")
_LABEL_JOIN = re.compile(r"[\s()\[\]\-./#:=]*")
_TIGHT_JOIN = frozenset("-/")
_PARTIAL_DATE = re.compile(r"(?<![\w./-])(\d{1,2})([/.-])(\d{1,2})(\.?)(?![\w%°]|[/.-]\d)")
_MIN_RUN_DIGITS = 5
_B_VALUE = re.compile(r"b\d*")
_B_JOIN = frozenset({"", "=", ":", ","})
_WORD = re.compile(r"[^\W\d_]+")
_NAME = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*")


def _key(core: str) -> str:
    return core.casefold().strip(".")


def _kind(core: str) -> tuple[int, int]:
    """(kind, number of digits) of a token."""
    digits = len(_DIGIT.findall(core))
    if not digits:
        return _OTHER, 0
    if _NUMBER_RE.fullmatch(core):
        return _NUMBER, digits
    if is_measurement(core) or "." in core:
        return _MEASURE, digits
    return _MIXED, digits


def identifier_tokens(
    text: str, tokens: Sequence[TokenLike], vocabulary: frozenset[str]
) -> list[bool]:
    """For each token of ``text``, whether it is part of an identifier shape (rules 1-5).

    ``vocabulary`` holds the upper-case words the cleaner may keep; rule 5 asks it whether a
    word after a title is a given name.
    """
    count = len(tokens)
    marked = [False] * count
    if not count:
        return marked
    keys = [_key(token.core) for token in tokens]
    has_digits = _DIGIT.search(text) is not None
    for start, end in pattern_spans(text):
        _mark_span(tokens, marked, start, end)
    if has_digits:
        kinds = [_kind(token.core) for token in tokens]
        gaps = [text[tokens[i - 1].end if i else 0 : tokens[i].start] for i in range(count)]
        _partial_dates(text, tokens, keys, marked)
        _runs(tokens, keys, kinds, gaps, vocabulary, marked)
        _labels(keys, kinds, gaps, vocabulary, marked)
    if not TITLES.isdisjoint(keys):
        _titles(text, tokens, keys, vocabulary, marked)
    return marked


def _mark_span(tokens: Sequence[TokenLike], marked: list[bool], start: int, end: int) -> None:
    for index, token in enumerate(tokens):
        if token.start < end and token.end > start:
            marked[index] = True


def _token_at(tokens: Sequence[TokenLike], position: int) -> int:
    """The index of the last token starting at or before ``position`` (-1 if none)."""
    found = -1
    for index, token in enumerate(tokens):
        if token.start > position:
            break
        found = index
    return found


def _is_day_and_month(first: int, second: int) -> bool:
    return (1 <= first <= 12 and 1 <= second <= 31) or (1 <= second <= 12 and 1 <= first <= 31)


def _partial_dates(
    text: str, tokens: Sequence[TokenLike], keys: list[str], marked: list[bool]
) -> None:
    """Rule 2: a day and a month without a year."""
    for match in _PARTIAL_DATE.finditer(text):
        first, separator, second, closing = match.groups()
        if not _is_day_and_month(int(first), int(second)):
            continue
        index = _token_at(tokens, match.start())
        last = _token_at(tokens, match.end() - 1)
        before = keys[index - 1] if index > 0 else ""
        after = keys[last + 1] if last + 1 < len(keys) else ""
        if after in _UNITS:
            continue
        if before in _DATE_WORDS:
            date = True
        elif separator == "/":
            date = before not in _COUNTING and after not in _FRACTION_NEXT
        else:
            date = separator == "." and closing == "."
        if date:
            _mark_span(tokens, marked, match.start(), match.end())


def _joins(gap: str, left: int, right: int) -> bool:
    if left == _NUMBER and right == _NUMBER:
        return _PLAIN_JOIN.fullmatch(gap) is not None
    return gap in _TIGHT_JOIN


def _runs(
    tokens: Sequence[TokenLike],
    keys: list[str],
    kinds: list[tuple[int, int]],
    gaps: list[str],
    vocabulary: frozenset[str],
    marked: list[bool],
) -> None:
    """Rule 3: runs of digit groups of five digits or more."""
    count = len(tokens)
    index = 0
    while index < count:
        kind = kinds[index][0]
        if kind not in (_NUMBER, _MIXED):
            index += 1
            continue
        last = index
        while (
            last + 1 < count
            and kinds[last + 1][0] in (_NUMBER, _MIXED)
            and _joins(gaps[last + 1], kinds[last][0], kinds[last + 1][0])
        ):
            last += 1
        digits = sum(kinds[i][1] for i in range(index, last + 1))
        prefix = index - 1
        if not (
            prefix >= 0
            and gaps[index] in _TIGHT_JOIN
            and kinds[prefix][0] == _OTHER
            and len(keys[prefix]) <= 4
            and keys[prefix].isalpha()
        ):
            prefix = -1
        word = index - 1  # a word joined by a dash: PACS-WEST-02
        if not (
            word >= 0 and gaps[index] == "-" and kinds[word][0] == _OTHER and keys[word].isalpha()
        ):
            word = -1
        if digits >= _MIN_RUN_DIGITS:
            identifier = not _measurements(keys, kinds, gaps, index, last)
        elif word >= 0 and kinds[index][0] == _NUMBER:
            identifier = (  # AB-1234, RX-991: letters and a number of three digits or more
                prefix >= 0
                and kinds[index][1] >= 3
                and not is_measurement(keys[prefix] + keys[index])
            ) or (  # WEST-02: a numbered name, the name unknown to the vocabulary
                keys[index].startswith("0") and keys[word].upper() not in vocabulary
            )
            prefix = word if identifier else prefix
        else:
            identifier = False
        if identifier:
            for position in range(max(prefix, index), last + 1):
                marked[position] = True
            if prefix >= 0:
                marked[prefix] = True
        index = last + 1


def _measurements(
    keys: list[str],
    kinds: list[tuple[int, int]],
    gaps: list[str],
    first: int,
    last: int,
) -> bool:
    """Whether a run of plain numbers is a range, a list of measurements or of b-values."""
    span = range(first, last + 1)
    if any(kinds[i][0] != _NUMBER for i in span):
        return False
    groups = [keys[i] for i in span]
    if any(len(group) > 4 for group in groups):
        return False
    inner = [gaps[i] for i in range(first + 1, last + 1)]
    if len(groups) == 2 and inner[0].strip() == "/" and first and keys[first - 1] in _COUNTING:
        return True  # a count: image 45/120
    if (
        len(groups) == 2
        and inner[0].strip() == "-"
        and all(len(group) <= 3 and not group.startswith("0") for group in groups)
        and int(groups[0]) < int(groups[1])
    ):
        return True  # a range: 100-120
    if first > 0 and _B_VALUE.fullmatch(keys[first - 1]) and gaps[first].strip() in _B_JOIN:
        return True  # b-values: b=0 500 1000, b0 500 1000
    after = keys[last + 1] if last + 1 < len(keys) else ""
    return (
        after in _LIST_UNITS
        and all(gap.strip() in {"", ","} for gap in inner)
        and not any(group.startswith("0") and len(group) > 1 for group in groups)
    )


def _labels(
    keys: list[str],
    kinds: list[tuple[int, int]],
    gaps: list[str],
    vocabulary: frozenset[str],
    marked: list[bool],
) -> None:
    """Rule 4: digits after a label, or after ``#``."""
    count = len(keys)
    for index in range(count):
        target = -1
        if keys[index] in LABELS:
            target = index + 1
            skipped = 0
            while target < count and skipped < 2 and _skippable(keys[target], vocabulary):
                target += 1
                skipped += 1
            if target < count and _LABEL_JOIN.fullmatch(gaps[target]) is None:
                target = -1  # a word or a symbol stands between
        elif kinds[index][1] and "#" in gaps[index]:
            counted = index > 0 and keys[index - 1] in _COUNTING
            if not counted or kinds[index][1] > 2:
                target = index
        if target < 0 or target >= count:
            continue
        if (
            not kinds[target][1]
            and len(keys[target]) <= 4
            and target + 1 < count
            and kinds[target + 1][1]
            and gaps[target + 1] in _TIGHT_JOIN
        ):
            marked[target] = True  # the prefix of AB-1234
            target += 1
        if not kinds[target][1]:
            continue
        position = target
        while True:
            marked[position] = True
            following = position + 1
            if (
                following >= count
                or not kinds[following][1]
                or _LABEL_JOIN.fullmatch(gaps[following]) is None
            ):
                break
            position = following


def _skippable(key: str, vocabulary: frozenset[str]) -> bool:
    """A filler word, or a word that the cleaner drops anyway (``MRN Smith 1234``): a label
    reaches over it, which it could not once the word is gone."""
    return key in _FILLERS or (key.isalpha() and key.upper() not in vocabulary)


def _titles(
    text: str,
    tokens: Sequence[TokenLike],
    keys: list[str],
    vocabulary: frozenset[str],
    marked: list[bool],
) -> None:
    """Rule 5: the name after a person's title."""
    mixed_case = text != text.upper() and text != text.lower()
    count = len(tokens)
    for index, key in enumerate(keys):
        if key not in TITLES or index + 1 >= count:
            continue
        title = tokens[index]
        written = title.core
        strong = text[title.start : title.end].endswith(".") or (
            written[:1].isupper() and not written[1:].isupper()
        )
        if not strong and (mixed_case or (index and _DIGIT.search(tokens[index - 1].core))):
            continue  # MR, DR, MS in mixed-case text, ms after a number: not titles
        position = index + 1
        while position < count and len(tokens[position].core) == 1:  # initials
            position += 1
        if position >= count:
            continue
        first = _NAME.fullmatch(tokens[position].core)
        if first is None:
            continue
        given = first.group().upper() not in vocabulary
        if not strong and not given:
            continue
        for name in range(index, position + 1):  # the title goes too: it names nobody
            marked[name] = True  # alone, but a name could follow it once words are dropped
        if position + 1 < count:
            second = tokens[position + 1].core
            capitalised = second[:1].isupper() and not second.isupper()
            if _WORD.match(second) and (capitalised if mixed_case else given):
                marked[position + 1] = True
