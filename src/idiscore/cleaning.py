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
from pydicom._dicom_dict import DicomDictionary
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName

from idiscore.errors import ConfigurationError
from idiscore.identifier_shapes import identifier_tokens, is_measurement

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
_MIN_ID_DIGITS = 3  # letters with this many digits are an ID unless unit-shaped
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
    letters = False
    for atom in _ATOM.finditer(core):
        value = atom.group()
        if atom.lastgroup == "letters":
            if value.upper() not in vocabulary.words:
                return _Verdict.DROP
            runs += 1
            letters = True
        elif atom.lastgroup == "number":
            if value.count(".") > 1:  # a UID or a dotted date
                return _Verdict.DROP
            digits += sum(char.isdigit() for char in value)
            runs += 1
        elif value not in _ALLOWED_INSIDE:
            return _Verdict.DROP
    if runs == 0 or runs > _MAX_RUNS or digits > _MAX_DIGITS:
        return _Verdict.DROP
    if letters and digits >= _MIN_ID_DIGITS and not is_measurement(core):
        return _Verdict.DROP  # an ID shape: A1234, x204
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
        by_first: dict[str, list[tuple[str, ...]]] = {}
        for sequence in self.sequences:
            by_first.setdefault(sequence[0], []).append(sequence)
        self._by_first = {key: tuple(found) for key, found in by_first.items()}

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
        by_first = self._by_first
        for start, key in enumerate(keys):
            for sequence in by_first.get(key, ()):
                size = len(sequence)
                if tuple(keys[start : start + size]) == sequence:
                    for index in indices[start : start + size]:
                        changed = changed or keep[index]
                        keep[index] = False
        return changed


@functools.lru_cache(maxsize=32)
def _matcher_for(values: frozenset[str]) -> _IdentifyingMatcher:
    return _IdentifyingMatcher(values)


_PARAMETERS = frozenset({"TR", "TE", "TI", "KV", "KVP", "MAS", "DLP", "FOV"})


def _is_parameter_value(text: str, tokens: Sequence[_Token], position: int) -> bool:
    """Whether a year-like number is the value of a parameter (``b=2000``, ``TR 2000``)."""
    if position == 0:
        return False
    previous = tokens[position - 1]
    between = text[previous.end : tokens[position].start].strip()
    name = previous.core.upper()
    return (name == "B" and between in {"=", ":"}) or (
        name in _PARAMETERS and between in {"", "=", ":"}
    )


def _decide(
    text: str, tokens: list[_Token], matcher: _IdentifyingMatcher, vocab: Vocabulary
) -> list[bool]:
    shaped = identifier_tokens(text, tokens, vocab.words)
    keep: list[bool] = []
    for position, token in enumerate(tokens):
        if not token.core or shaped[position] or matcher.matches_token(token):
            keep.append(False)
            continue
        verdict = _verdict(token.core, vocab)
        if verdict == _Verdict.YEAR:
            keep.append(_is_parameter_value(text, tokens, position))
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


def _person_keywords() -> tuple[str, ...]:
    """Every current attribute of the DICOM dictionary whose VR is PN."""
    return tuple(
        sorted(entry[4] for entry in DicomDictionary.values() if entry[0] == "PN" and not entry[3])
    )


_PERSON_KEYWORDS = _person_keywords()
_OTHER_KEYWORDS = (
    "PatientID",
    "OtherPatientIDs",
    "IssuerOfPatientID",
    "AccessionNumber",
    "StudyID",
    "AdmissionID",
    "ServiceEpisodeID",
    "RequestedProcedureID",
    "ScheduledProcedureStepID",
    "PerformedProcedureStepID",
    "PlacerOrderNumberImagingServiceRequest",
    "FillerOrderNumberImagingServiceRequest",
    "MedicalRecordLocator",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "RegionOfResidence",
    "PatientInstitutionResidence",
    "CurrentPatientLocation",
    "ResponsibleOrganization",
    "ReferringPhysicianAddress",
    "ReferringPhysicianTelephoneNumbers",
    "PersonAddress",
    "PersonTelephoneNumbers",
    "OrderCallbackPhoneNumber",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "StationName",
    "ScheduledStationName",
    "PerformedStationName",
    "DeviceSerialNumber",
)
_DATE_KEYWORDS = ("PatientBirthDate",)
#: Sequences whose items name people, IDs or institutions; read recursively (items get the
#: top-level keywords, and their code sequences the code value and meaning).
_NESTED = (
    "OtherPatientIDsSequence",
    "ReferringPhysicianIdentificationSequence",
    "ConsultingPhysicianIdentificationSequence",
    "PhysiciansOfRecordIdentificationSequence",
    "PerformingPhysicianIdentificationSequence",
    "PhysiciansReadingStudyIdentificationSequence",
    "OperatorIdentificationSequence",
    "RequestAttributesSequence",
    "VerifyingObserverSequence",
)
_IDENTIFYING_CODES = (
    "PersonIdentificationCodeSequence",
    "InstitutionCodeSequence",
    "VerifyingObserverIdentificationCodeSequence",
)
_CODE_KEYWORDS = ("CodeValue", "CodeMeaning")
_MAX_NESTING = 3
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
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
        keywords = (
            *_PERSON_KEYWORDS,
            *_OTHER_KEYWORDS,
            *_DATE_KEYWORDS,
            *_NESTED,
            *_IDENTIFYING_CODES,
            "SpecificCharacterSet",
        )
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

    Reads every person name (every attribute of VR PN, with every part), IDs, accession
    number, order and procedure step numbers, addresses and phone numbers, institution,
    department and station names, the device serial number, the patient's birth date (also
    as it is usually written: ``1961-03-01``, ``01/03/1961``, ``03/01/1961``, ``1.3.1961``,
    ``01-Mar-1961``, ``1 March 1961``, ``Mar 1, 1961`` ...) and the same attributes in the
    items of the sequences that identify people (Other Patient IDs, the physician and operator
    identification sequences, Request Attributes, Verifying Observer), with the code values
    and meanings of their person and institution codes. Multi-word institution-like values
    contribute their whole value and their words that are not in ``vocabulary`` (default:
    :func:`default_vocabulary`). Values shorter than two characters are ignored. The dataset
    is only read.
    """
    vocab = default_vocabulary() if vocabulary is None else vocabulary
    found: set[str] = set()
    _collect(dataset, vocab, found, 0)
    for keyword in _DATE_KEYWORDS:
        for value in _element_strings(dataset, keyword):
            found.update(_date_renderings(value))
    return frozenset(stripped for value in found if len(stripped := value.strip()) >= _MIN_LENGTH)


def _collect(dataset: pydicom.Dataset, vocab: Vocabulary, found: set[str], depth: int) -> None:
    for keyword in _PERSON_KEYWORDS:
        for name in _element_strings(dataset, keyword):
            found.update(_person_parts(name))
    for keyword in _OTHER_KEYWORDS:
        for value in _element_strings(dataset, keyword):
            found.update(_other_parts(value, vocab))
    if depth:
        for keyword in _DATE_KEYWORDS:
            for value in _element_strings(dataset, keyword):
                found.update(_date_renderings(value))
    if depth >= _MAX_NESTING:
        return
    for sequence_keyword in _NESTED:
        for item in _items(dataset, sequence_keyword):
            _collect(item, vocab, found, depth + 1)
    for sequence_keyword in _IDENTIFYING_CODES:
        for item in _items(dataset, sequence_keyword):
            for keyword in _CODE_KEYWORDS:
                for value in _element_strings(item, keyword):
                    found.update(_other_parts(value, vocab))


def _items(dataset: pydicom.Dataset, keyword: str) -> list[pydicom.Dataset]:
    try:
        items = _read(dataset, keyword)
    except Exception:  # an undecodable sequence: nothing to read
        return []
    return list(items) if isinstance(items, pydicom.Sequence) else []


def _date_renderings(value: str) -> Iterator[str]:
    """A DICOM date (``19610301``) as it is usually written in free text."""
    digits = value.strip().replace(".", "")
    if len(digits) != 8 or not digits.isdigit():
        return
    year, month, day = digits[:4], int(digits[4:6]), int(digits[6:])
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        return
    yield digits
    short = year[2:]
    for y in (year, short):
        for d, m in ((f"{day:02d}", f"{month:02d}"), (str(day), str(month))):
            for separator in "/.-":
                yield f"{d}{separator}{m}{separator}{y}"  # day first
                yield f"{m}{separator}{d}{separator}{y}"  # month first
    for separator in "-/.":
        yield f"{year}{separator}{month:02d}{separator}{day:02d}"
    full = _MONTHS[month - 1]
    for name in (full, full[:3]):
        for d in (str(day), f"{day:02d}"):
            yield f"{d} {name} {year}"
            yield f"{d}-{name}-{year}"
            yield f"{name} {d}, {year}"
            yield f"{name} {d} {year}"
            yield f"{d}{name}{year}"
