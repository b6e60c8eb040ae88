"""Cleaning of descriptors and free text: the "C" action of the Clean Descriptors Option.

PS3.15 asks that text such as Series Description, Study Description, Protocol Name or Image
Comments be *cleaned*: the clinically useful words stay, anything that could identify a person
goes. :func:`clean_text` does this with an allow-list, token by token:

* the text is split into tokens on white space, control characters and the separators
  ``_^-/\\,;:()[]{}<>+=|&"*!?#~`` and the backquote (a ``+`` or ``-`` that ends a word, as
  in ``C+`` or ``C-``, stays with its word; ``.`` and ``'`` belong to words);
* a token is kept when it is a word of the :class:`Vocabulary`, a short number (at most four
  digits, one decimal point: ``5``, ``2.5``, ``1000``) or a combination of both with at most
  four parts (``3D``, ``T1``, ``b1000``, ``2.5mm``, ``1.5T``, ``L5``, ``50%``). Everything
  else is dropped: names, words the vocabulary does not know, long digit runs (IDs, DICOM
  dates and times), numbers with several dots (UIDs), years (1900-2099, except as a b-value:
  ``b=2000``), tokens with other symbols (``@``, ``$``);
* before that, dates and times in the usual formats (``2020-01-31``, ``31/01/2020``,
  ``31 Jan 2020``, ``12:30``, ``5pm``), e-mail addresses, URLs and phone numbers are found on
  the whole text and every token they touch is dropped;
* every token equal (case-insensitively, ignoring ``.`` and ``'`` at its ends) to one of the
  identifying values passed by the caller is dropped, and so is a token containing such a value
  as an alphanumeric part (``Smith`` in ``Smith's``). An identifying value of several tokens
  (``Doe^John``, ``St. Mary``) is dropped wherever its tokens follow each other.

The separators between two kept tokens are the original ones; where tokens were dropped the
separator of the left-hand side is kept, brackets that enclosed only dropped tokens disappear and
unbalanced brackets are removed, white space is collapsed and the result is stripped. The output
is never longer than the input, never contains an identifying value as a token, and cleaning it
again changes nothing: the cleaner runs until its output is stable (and returns ``""`` in the
pathological case where it does not settle). ``""`` is also returned when nothing survives.

:func:`identifying_values` collects the values to pass from a dataset: names and their parts,
IDs, accession number, institution, department, station, addresses, phone numbers, birth date.

Decisions worth knowing:

* Single-character values (a lone initial ``J``) are not collected by
  :func:`identifying_values`: one letter is not identifying on its own, and collecting it would
  strip laterality and contrast markers (``L``, ``R``, ``C+``) from every description. Values
  passed explicitly to :func:`clean_text` are always honoured, whatever their length.
* Person names are collected with every part (family, given and middle names, and each word
  of a part), even when a part is an ordinary vocabulary word: a patient called ``White`` loses
  ``WHITE`` from the descriptions. Name prefixes and suffixes (``Dr``, ``Jr``) are not.
* For institutions, departments, stations, addresses and IDs the whole value and every part
  that is *not* a vocabulary word are collected: the distinctive words (``JFK``, ``Galliera``)
  go everywhere, the generic ones (``IMAGING``, ``CENTER``, ``RADIOLOGY``, ``CT``) may stay in
  other attributes.
* The vocabulary is a generated allow-list (see ``tools/generate_vocabulary.py``): clinically
  important words that are also surnames (``HEAD``, ``LONG``, ``WHITE``, ``GRAY``) are in it, so
  such a surname of a person *other* than those named in the dataset survives. Eponyms (Willis,
  Trendelenburg ...) are not in it.
"""

from __future__ import annotations

import enum
import functools
import itertools
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import pydicom
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName

from idiscore.errors import ConfigurationError

__all__ = ["Vocabulary", "clean_text", "default_vocabulary", "identifying_values"]

# ----------------------------------------------------------------------------------------------
# Tokens

_SEPARATORS = frozenset(' _^-/\\,;:()[]{}<>+=|&"*!?#~`')
_OPENERS = "([{<"
_CLOSERS = ")]}>"
_MATCHING_OPENER = dict(zip(_CLOSERS, _OPENERS, strict=True))
_BRACKETS = frozenset(_OPENERS + _CLOSERS)
_SUFFIX_MARKS = "+-"  # "C+", "C-": kept with the word they end
_TRIMMED = ".'\u2019"  # ignored at either end of a token when comparing ("Dr.", "'T1'")
_MAX_DIGITS = 4
_MAX_RUNS = 4
_MAX_PASSES = 8


def _is_separator(char: str) -> bool:
    return char in _SEPARATORS or char.isspace() or not char.isprintable()


def _is_space(char: str) -> bool:
    return char.isspace() or not char.isprintable()


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    text: str

    @property
    def core(self) -> str:
        """The token without a suffix mark and without trimmed punctuation at its ends."""
        return self.text.rstrip(_SUFFIX_MARKS).strip(_TRIMMED)

    @property
    def key(self) -> str:
        return self.core.casefold()


def _tokenise(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    length = len(text)
    index = 0
    while index < length:
        if _is_separator(text[index]):
            index += 1
            continue
        end = index
        while end < length and not _is_separator(text[end]):
            end += 1
        marks_end = end
        while marks_end < length and text[marks_end] in _SUFFIX_MARKS:
            marks_end += 1
        if marks_end > end and (marks_end == length or _is_separator(text[marks_end])):
            end = marks_end
        tokens.append(_Token(index, end, text[index:end]))
        index = end
    return tokens


def _keys(text: str) -> tuple[str, ...]:
    """Comparison keys of the tokens of ``text`` that have any content."""
    return tuple(token.key for token in _tokenise(text) if token.core)


# ----------------------------------------------------------------------------------------------
# Vocabulary


class Vocabulary:
    """An immutable set of upper-case words that cleaning may keep.

    Membership is case-insensitive: ``"flair" in vocabulary``. Every word must be a single
    token (no white space or separator), otherwise it could never match and
    :class:`~idiscore.errors.ConfigurationError` is raised.
    """

    __slots__ = ("_words",)

    def __init__(self, words: Iterable[str] = ()) -> None:
        if isinstance(words, str):
            raise ConfigurationError("Vocabulary expects an iterable of words, not one string")
        self._words: frozenset[str] = frozenset(_vocabulary_word(word) for word in words)

    @classmethod
    def from_text(cls, text: str) -> Vocabulary:
        """Parse one word per line; blank lines and ``#`` comments are ignored."""
        return cls(_lines(text))

    @classmethod
    def _checked(cls, words: Iterable[str]) -> Vocabulary:
        """A vocabulary of words known to be single tokens (the shipped list, whose words
        a test checks), without tokenising each of them again at every start."""
        vocabulary = cls.__new__(cls)
        vocabulary._words = frozenset(word.strip().upper() for word in words)
        return vocabulary

    @property
    def words(self) -> frozenset[str]:
        return self._words

    def with_words(self, words: Iterable[str]) -> Vocabulary:
        """A new vocabulary with ``words`` added."""
        return Vocabulary(self._words | Vocabulary(words).words)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and word.upper() in self._words

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._words))

    def __len__(self) -> int:
        return len(self._words)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self._words == other._words

    def __hash__(self) -> int:
        return hash(self._words)

    def __reduce__(self) -> tuple[type[Vocabulary], tuple[tuple[str, ...]]]:
        return (Vocabulary, (tuple(sorted(self._words)),))

    def __repr__(self) -> str:
        return f"Vocabulary(<{len(self._words)} words>)"


def _vocabulary_word(word: object) -> str:
    if not isinstance(word, str):
        raise ConfigurationError(f"vocabulary words must be str, got {type(word).__name__}")
    normalised = word.strip().upper()
    tokens = _tokenise(normalised)
    if len(tokens) != 1 or tokens[0].text != normalised or tokens[0].core != normalised:
        raise ConfigurationError(f"vocabulary word {word!r} is not a single token")
    return normalised


def _lines(text: str) -> list[str]:
    """The words of a word list: one per line, blank lines and ``#`` comments ignored."""
    words = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [word for word in words if word]


def _shipped_vocabulary_text() -> str:
    return resources.files("idiscore").joinpath("data/vocabulary.txt").read_text("utf-8")


@functools.cache
def default_vocabulary() -> Vocabulary:
    """The vocabulary shipped with idiscore (``idiscore/data/vocabulary.txt``), loaded once."""
    return Vocabulary._checked(_lines(_shipped_vocabulary_text()))


# ----------------------------------------------------------------------------------------------
# Sensitive patterns found on the whole text

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
_DAY_OR_YEAR_AFTER = rf"(?:{_GAP}\d{{2,4}}(?!\d))?"


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    min_digits: int = 0


def _pattern(source: str, min_digits: int = 0) -> _Pattern:
    return _Pattern(re.compile(source, re.IGNORECASE), min_digits)


_PATTERNS: tuple[_Pattern, ...] = (
    # e-mail addresses and URLs
    _pattern(r"(?<![\w.+%-])[\w.+%-]+@[\w-]+(?:\.[\w-]+)+"),
    _pattern(r"(?<![\w.])(?:[a-z][a-z0-9+.-]*://|www\.)\S*"),
    # numeric dates: 2020-01-31, 31/01/2020, 1.2.20, 2020-01, 01/2020
    _pattern(rf"{_NO_ALNUM_BEFORE}\d{{4}}[-/.]\d{{1,2}}[-/.]\d{{1,2}}(?!\d)"),
    _pattern(rf"{_NO_ALNUM_BEFORE}\d{{1,2}}[-/.]\d{{1,2}}[-/.]\d{{2,4}}(?!\d)"),
    _pattern(rf"{_NO_ALNUM_BEFORE}(?:19|20)\d{{2}}[-/.](?:0?[1-9]|1[0-2])(?!\d)"),
    _pattern(rf"{_NO_ALNUM_BEFORE}(?:0?[1-9]|1[0-2])[-/.](?:19|20)\d{{2}}(?!\d)"),
    # dates with a month name: 31 Jan 2020, 31-JAN-2020, 31JAN2020, Jan 31st, 2020, Jan 2020
    _pattern(
        rf"(?<![\d.]){_NO_LETTER_BEFORE}\d{{1,2}}{_ORDINAL}{_GAP}{_NO_LETTER_BEFORE}{_MONTH}"
        rf"{_NO_LETTER_AFTER}{_DAY_OR_YEAR_AFTER}"
    ),
    _pattern(
        rf"{_NO_LETTER_BEFORE}{_MONTH}{_GAP}\d{{1,4}}{_ORDINAL}{_NO_ALNUM_AFTER}"
        rf"{_DAY_OR_YEAR_AFTER}"
    ),
    # times: 12:30, 12:30:15.5, 5pm, 5 a.m., 12h30
    _pattern(
        rf"{_NO_ALNUM_BEFORE}\d{{1,2}}:\d{{2}}(?::\d{{2}}(?:[.,]\d+)?)?"
        rf"(?:\s*[ap]\.?m\.?{_NO_LETTER_AFTER})?(?!\d)"
    ),
    _pattern(rf"{_NO_ALNUM_BEFORE}\d{{1,2}}\s*[ap]\.?m\.?{_NO_LETTER_AFTER}"),
    _pattern(rf"{_NO_ALNUM_BEFORE}\d{{1,2}}h\d{{2}}(?!\d)"),
    # phone numbers: +44 20 7946 0958, (555) 123-4567, 555-123-4567, 555 123 4567,
    # 555-1234, 06 12 34 56 78
    _pattern(rf"{_NO_ALNUM_BEFORE}\+\d{{1,3}}(?:[\s./-]?\(?\d{{1,5}}\)?){{2,6}}(?!\d)", 8),
    _pattern(
        rf"{_NO_ALNUM_BEFORE}\(\d{{2,5}}\)\s?\d{{2,4}}[\s.-]?\d{{2,4}}(?:[\s.-]?\d{{2,4}})?"
        rf"{_NO_ALNUM_AFTER}"
    ),
    _pattern(r"(?<![\w.=])\d{3}[\s.-]\d{3}[\s.-]\d{4}(?![\w.])"),
    _pattern(r"(?<![\w.=])\d{3,4}-\d{4}(?![\w.%])"),
    _pattern(r"(?<![\w.=])0\d(?:[\s.-]\d{2}){4}(?![\w.])"),
)


def _sensitive_mask(text: str) -> list[bool]:
    """True for every character of a date, a time, an e-mail address, a URL or a phone number."""
    mask = [False] * len(text)
    for pattern in _PATTERNS:
        for match in pattern.regex.finditer(text):
            if pattern.min_digits and sum(c.isdigit() for c in match.group()) < pattern.min_digits:
                continue
            mask[match.start() : match.end()] = [True] * (match.end() - match.start())
    return mask


# ----------------------------------------------------------------------------------------------
# Token verdicts

_ATOM = re.compile(r"(?P<letters>[^\W\d_]+)|(?P<number>\d+(?:\.\d+)*)|(?P<other>.)", re.DOTALL)
_ALNUM_RUN = re.compile(r"[^\W_]+")
_ALLOWED_INSIDE = frozenset(".%\u00b0'\u2019")  # 2.5, 50%, 45°, Crohn's


_YEAR = re.compile(r"(?:19|20)\d\d")


class _Verdict(enum.Enum):
    KEEP = enum.auto()
    DROP = enum.auto()
    YEAR = enum.auto()  # a bare 19xx/20xx: dropped unless it is a b-value ("b=2000")


def _verdict(core: str, vocabulary: Vocabulary) -> _Verdict:
    """Whether a token (that is not identifying) is safe, from its content alone."""
    if core.upper() in vocabulary.words:
        return _Verdict.KEEP
    if _YEAR.fullmatch(core):
        return _Verdict.YEAR
    digits = 0
    runs = 0
    for atom in _ATOM.finditer(core):
        value = atom.group()
        if atom.lastgroup == "letters":
            if value.upper() not in vocabulary.words:
                return _Verdict.DROP
            runs += 1
        elif atom.lastgroup == "number":
            if value.count(".") > 1:  # a UID or a dotted date
                return _Verdict.DROP
            digits += sum(char.isdigit() for char in value)
            runs += 1
        elif value not in _ALLOWED_INSIDE:
            return _Verdict.DROP
    if runs == 0 or runs > _MAX_RUNS or digits > _MAX_DIGITS:
        return _Verdict.DROP
    return _Verdict.KEEP


class _IdentifyingMatcher:
    """Case-insensitive matching of identifying values against tokens."""

    def __init__(self, values: Iterable[str]) -> None:
        singles: set[str] = set()
        sequences: set[tuple[str, ...]] = set()
        for value in values:
            keys = _keys(value)
            if len(keys) == 1:
                singles.add(keys[0])
            elif keys:
                sequences.add(keys)
        self.singles = frozenset(singles)
        self.sequences = tuple(sorted(sequences))

    def matches_token(self, token: _Token) -> bool:
        if token.key in self.singles:
            return True
        return any(run.casefold() in self.singles for run in _ALNUM_RUN.findall(token.core))

    def drop_sequences(
        self, tokens: Sequence[_Token], indices: list[int], keep: list[bool]
    ) -> bool:
        """Mark as dropped every run of ``indices`` that spells an identifying sequence."""
        changed = False
        keys = [tokens[index].key for index in indices]
        for sequence in self.sequences:
            size = len(sequence)
            for start in range(len(keys) - size + 1):
                if tuple(keys[start : start + size]) == sequence:
                    for index in indices[start : start + size]:
                        changed = changed or keep[index]
                        keep[index] = False
        return changed


@functools.lru_cache(maxsize=32)
def _matcher_for(values: frozenset[str]) -> _IdentifyingMatcher:
    return _IdentifyingMatcher(values)


def _is_b_value(text: str, tokens: Sequence[_Token], position: int) -> bool:
    if position == 0:
        return False
    previous = tokens[position - 1]
    between = text[previous.end : tokens[position].start].strip()
    return previous.core.upper() == "B" and between in {"=", ":"}


def _decide(
    text: str, tokens: list[_Token], matcher: _IdentifyingMatcher, vocab: Vocabulary
) -> list[bool]:
    mask = _sensitive_mask(text)
    keep: list[bool] = []
    for position, token in enumerate(tokens):
        if not token.core or any(mask[token.start : token.end]) or matcher.matches_token(token):
            keep.append(False)
            continue
        verdict = _verdict(token.core, vocab)
        if verdict == _Verdict.YEAR:
            keep.append(_is_b_value(text, tokens, position))
        else:
            keep.append(verdict == _Verdict.KEEP)
    if matcher.sequences:
        matcher.drop_sequences(tokens, [i for i, token in enumerate(tokens) if token.core], keep)
        while matcher.drop_sequences(tokens, [i for i, kept in enumerate(keep) if kept], keep):
            pass
    return keep


# ----------------------------------------------------------------------------------------------
# Re-assembling the kept tokens


def _collapse_space(text: str) -> str:
    out: list[str] = []
    pending: str | None = None
    for char in text:
        if _is_space(char):
            pending = "\n" if char == "\n" or pending == "\n" else " "
            continue
        if pending is not None:
            out.append(pending)
            pending = None
        out.append(char)
    if pending is not None:
        out.append(pending)
    return "".join(out)


def _brackets(text: str) -> str:
    return "".join(char for char in text if char in _BRACKETS)


def _without_brackets(text: str) -> str:
    return _collapse_space("".join(char for char in text if char not in _BRACKETS))


def _unpaired(runs: Iterable[str]) -> tuple[str, str]:
    """The brackets of ``runs`` left once the pairs they close among themselves are removed.

    Such pairs enclosed dropped tokens only. What is left is some closing brackets followed by
    some opening ones, which pair with brackets beyond the runs.
    """
    closers: list[str] = []
    openers: list[str] = []
    for char in _brackets("".join(runs)):
        if char in _OPENERS:
            openers.append(char)
        elif openers and openers[-1] == _MATCHING_OPENER[char]:
            openers.pop()
        else:
            closers.append(char)
    return "".join(closers), "".join(openers)


def _merged_gap(runs: Sequence[str]) -> str:
    """The separator between two kept tokens that had dropped tokens between them."""
    closers, openers = _unpaired(runs)
    middle = _without_brackets(runs[0]) or _without_brackets(runs[-1])
    return closers + middle + openers


def _balance(pieces: list[str]) -> list[str]:
    """Remove brackets that have no partner anywhere in the assembled text."""
    stack: list[tuple[int, int, str]] = []
    unmatched: set[tuple[int, int]] = set()
    for piece_index, piece in enumerate(pieces):
        for char_index, char in enumerate(piece):
            if char in _OPENERS:
                stack.append((piece_index, char_index, char))
            elif char in _CLOSERS:
                if stack and stack[-1][2] == _MATCHING_OPENER[char]:
                    stack.pop()
                else:
                    unmatched.add((piece_index, char_index))
    unmatched.update((piece_index, char_index) for piece_index, char_index, _ in stack)
    if not unmatched:
        return pieces
    return [
        "".join(c for i, c in enumerate(piece) if (piece_index, i) not in unmatched)
        for piece_index, piece in enumerate(pieces)
    ]


def _assemble(text: str, tokens: list[_Token], keep: list[bool]) -> str:
    kept = [index for index, flag in enumerate(keep) if flag]
    if not kept:
        return ""
    starts = [token.start for token in tokens] + [len(text)]
    ends = [0] + [token.end for token in tokens]
    runs = [
        text[end:start] for end, start in zip(ends, starts, strict=True)
    ]  # runs[i] precedes token i
    gaps = ["".join(_unpaired(runs[: kept[0] + 1]))]
    for left, right in itertools.pairwise(kept):
        if right == left + 1:
            gaps.append(_collapse_space(runs[right]))
        else:
            gaps.append(_merged_gap(runs[left + 1 : right + 1]))
    gaps.append("".join(_unpaired(runs[kept[-1] + 1 :])))
    gaps = _balance(gaps)
    pieces = [gaps[0]]
    for position, index in enumerate(kept):
        pieces.append(tokens[index].text)
        gap = gaps[position + 1]
        if position + 1 < len(kept):
            gap = _collapse_space(gap) or " "
        pieces.append(gap)
    return "".join(pieces).strip()


def _clean_once(text: str, matcher: _IdentifyingMatcher, vocabulary: Vocabulary) -> str:
    tokens = _tokenise(text)
    keep = _decide(text, tokens, matcher, vocabulary)
    return _assemble(text, tokens, keep)


def clean_text(
    value: str,
    identifying_values: Iterable[str] = (),
    *,
    vocabulary: Vocabulary | None = None,
) -> str:
    """Return ``value`` with every word that is not known to be safe removed.

    ``identifying_values`` are the dataset's own identifying values (see
    :func:`identifying_values`); none of them survives as a token. ``vocabulary`` defaults to
    :func:`default_vocabulary`. The result may be ``""``; it is never longer than ``value``.
    """
    vocab = default_vocabulary() if vocabulary is None else vocabulary
    if isinstance(identifying_values, frozenset):
        matcher = _matcher_for(identifying_values)  # the same set for every element of a dataset
    elif isinstance(identifying_values, str):
        matcher = _IdentifyingMatcher((identifying_values,))
    else:
        matcher = _IdentifyingMatcher(identifying_values)
    current = value
    for _ in range(_MAX_PASSES):
        cleaned = _clean_once(current, matcher, vocab)
        if cleaned == current:
            return cleaned
        current = cleaned
    return ""


# ----------------------------------------------------------------------------------------------
# Identifying values of a dataset

_PERSON_KEYWORDS = (
    "PatientName",
    "OtherPatientNames",
    "PatientBirthName",
    "PatientMotherBirthName",
    "ResponsiblePerson",
    "ReferringPhysicianName",
    "ConsultingPhysicianName",
    "PerformingPhysicianName",
    "NameOfPhysiciansReadingStudy",
    "PhysiciansOfRecord",
    "RequestingPhysician",
    "ScheduledPerformingPhysicianName",
    "OperatorsName",
)
_OTHER_KEYWORDS = (
    "PatientID",
    "OtherPatientIDs",
    "IssuerOfPatientID",
    "AccessionNumber",
    "StudyID",
    "MedicalRecordLocator",
    "PatientBirthDate",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "ResponsibleOrganization",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "StationName",
    "DeviceSerialNumber",
)
_NESTED = {"OtherPatientIDsSequence": ("PatientID", "IssuerOfPatientID")}
_MIN_LENGTH = 2


def _read(dataset: pydicom.Dataset, keyword: str) -> Any:
    """The decoded value of ``keyword`` in ``dataset`` (None if absent), read without
    storing the decoded element back into ``dataset``."""
    from idiscore.operators.values import read_element

    tag = tag_for_keyword(keyword)
    if tag is None or tag not in dataset._dict:
        return None
    return read_element(dataset, tag, dataset._character_set).value


def _element_strings(dataset: pydicom.Dataset, keyword: str) -> list[str]:
    try:
        value = _read(dataset, keyword)
    except Exception:  # a malformed raw value: fall back to its bytes
        value = _raw_bytes(dataset, keyword)
    return _strings(value)


def _raw_bytes(dataset: pydicom.Dataset, keyword: str) -> bytes | None:
    tag = tag_for_keyword(keyword)
    if tag is None or tag not in dataset:
        return None
    raw = dataset.get_item(tag)
    value = getattr(raw, "value", None)
    return value if isinstance(value, bytes) else None


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (MultiValue, list, tuple)):
        return [text for item in value for text in _strings(item)]
    if isinstance(value, PersonName):
        return ["=".join(value.components)]
    if isinstance(value, bytes):
        return value.decode("latin-1").split("\\")
    return [str(value)]


def _person_parts(name: str) -> Iterator[str]:
    yield name
    for group in name.split("="):
        components = group.split("^")
        yield group
        for component in components[:3]:  # family, given, middle; not prefix or suffix
            yield component
            yield from (token.core for token in _tokenise(component))


def _other_parts(value: str, vocabulary: Vocabulary) -> Iterator[str]:
    """The value and its distinctive words; nothing for one generic word ("Radiology")."""
    cores = [token.core for token in _tokenise(value) if token.core]
    distinctive = [core for core in cores if core.upper() not in vocabulary.words]
    if len(cores) > 1 or distinctive:
        yield value
    yield from distinctive


_CHARSET_TAG = 0x00080005
_IDENTITY_TAGS: tuple[int, ...] | None = None
_IDENTITY_CACHE: dict[tuple[object, ...], frozenset[str]] = {}
_IDENTITY_CACHE_SIZE = 256
_IDENTITY_LOCK = threading.Lock()


def _identity_key(dataset: pydicom.Dataset) -> tuple[object, ...] | None:
    """The raw bytes :func:`identifying_values` depends on, or None if not all raw.

    Every file of a series carries the same names and IDs: their identifying values
    are computed once and looked up by these bytes afterwards.
    """
    global _IDENTITY_TAGS
    if _IDENTITY_TAGS is None:
        keywords = (*_PERSON_KEYWORDS, *_OTHER_KEYWORDS, *_NESTED, "SpecificCharacterSet")
        _IDENTITY_TAGS = tuple(int(tag_for_keyword(k) or 0) for k in keywords)
    elements = dataset._dict
    key: list[object] = []
    for tag in _IDENTITY_TAGS:
        element = elements.get(tag)  # type: ignore[call-overload]
        if element is None:
            key.append(None)
        elif type(element) is RawDataElement and element.value is not None:
            key.append(element.value)
        elif tag == _CHARSET_TAG:  # pydicom decodes it while reading
            value = element.value
            key.append(tuple(value) if isinstance(value, MultiValue | list) else value)
        else:
            return None
    return tuple(key)


def identifying_values(
    dataset: pydicom.Dataset, *, vocabulary: Vocabulary | None = None
) -> frozenset[str]:
    """The identifying values of ``dataset`` (see :func:`find_identifying_values`).

    With the default vocabulary, the result is remembered for the raw values it was
    computed from (the last few hundred distinct ones).
    """
    if vocabulary is not None:
        return find_identifying_values(dataset, vocabulary=vocabulary)
    key = _identity_key(dataset)
    if key is None:
        return find_identifying_values(dataset)
    found = _IDENTITY_CACHE.get(key)
    if found is None:
        found = find_identifying_values(dataset)
        with _IDENTITY_LOCK:
            while len(_IDENTITY_CACHE) >= _IDENTITY_CACHE_SIZE:
                del _IDENTITY_CACHE[next(iter(_IDENTITY_CACHE))]
            _IDENTITY_CACHE[key] = found
    return found


def find_identifying_values(
    dataset: pydicom.Dataset, *, vocabulary: Vocabulary | None = None
) -> frozenset[str]:
    """The identifying values of ``dataset`` to pass to :func:`clean_text`.

    Reads names (every part), IDs, accession number, birth date, addresses and phone numbers,
    institution, department and station names, the device serial number and the IDs of the
    Other Patient IDs Sequence. Multi-word institution-like values contribute their whole value
    and their words that are not in ``vocabulary`` (default: :func:`default_vocabulary`).
    Values shorter than two characters are ignored. The dataset is only read.
    """
    vocab = default_vocabulary() if vocabulary is None else vocabulary
    found: set[str] = set()
    for keyword in _PERSON_KEYWORDS:
        for name in _element_strings(dataset, keyword):
            found.update(_person_parts(name))
    for keyword in _OTHER_KEYWORDS:
        for value in _element_strings(dataset, keyword):
            found.update(_other_parts(value, vocab))
    for sequence_keyword, keywords in _NESTED.items():
        try:
            items = _read(dataset, sequence_keyword)
        except Exception:  # an undecodable sequence: nothing to read
            items = None
        for item in items if isinstance(items, pydicom.Sequence) else ():
            for keyword in keywords:
                for value in _element_strings(item, keyword):
                    found.update(_other_parts(value, vocab))
    return frozenset(stripped for value in found if len(stripped := value.strip()) >= _MIN_LENGTH)
