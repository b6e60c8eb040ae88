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
  dates and times), numbers with several dots (UIDs), years (1900-2099, except as the value of
  a parameter: ``b=2000``, ``TR 2000``), letters with three digits or more that are not
  unit-shaped (``A1234``, ``x204``; ``b1000``, ``120kV`` stay), tokens with other symbols
  (``@``, ``$``);
* a short number is not safe on its own: identifier shapes are judged over neighbouring tokens
  and on the whole text (:mod:`idiscore.identifier_shapes`), and every token of one is
  dropped -- digit groups that together make five digits or more (``1234 5678``,
  ``123-45-6789``, ``555 1234``), numbers after a label (``MRN 1234``, ``ext. 12``), dates with
  or without a year (``3/14``, ``14.3.``, ``March 14``, ``31/01/2020``), times, phone numbers,
  e-mail addresses, URLs, and the name after a title (``Dr. White``). Measurements stay
  (``5 mm``, ``C3-C4``, ``L4/L5``, ``1/2 dose``, ``Phase 2/4``, ``100-120 ml``);
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

:func:`identifying_values` collects the values to pass from a dataset: every person name (all
attributes of VR PN) and its parts, IDs, accession, order and procedure step numbers,
institution, department, station, addresses, phone numbers, the birth date as it is usually
written (``1961-03-01``, ``01/03/1961``, ``1 March 1961``, ``Mar 1, 1961`` ...), and the same
in the sequences that identify people (Other Patient IDs, the physician and operator
identification sequences, Request Attributes, Verifying Observer).

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
  such a surname of a person *other* than those named in the dataset survives, unless a title
  introduces it (``Dr. White``). Eponyms (Willis, Trendelenburg ...) are not in it.
* The labelled corpus of ``tests/data/clean_corpus.txt`` (421 descriptions and comments)
  measures the result: no labelled identifier survives, and 99.7 % of the words a reader needs
  do (``benchmarks/clean_text.py``).
"""

from __future__ import annotations

import enum
import functools
import itertools
import re
from collections.abc import Iterable, Sequence

from idiscore.dataset_identity import (
    _IDENTITY_CACHE,
    find_identifying_values,
    identifying_values,
)
from idiscore.identifier_shapes import identifier_tokens, is_measurement
from idiscore.vocabulary import (
    _BRACKETS,
    _CLOSERS,
    _MATCHING_OPENER,
    _OPENERS,
    Vocabulary,
    _is_space,
    _keys,
    _shipped_vocabulary_text,
    _Token,
    _tokenise,
    default_vocabulary,
)

__all__ = [
    "Vocabulary",
    "clean_text",
    "default_vocabulary",
    "find_identifying_values",
    "identifying_values",
]
# re-exported for the tests and tools that reach them here
_REEXPORTED = (_IDENTITY_CACHE, _shipped_vocabulary_text)

_MAX_DIGITS = 4
_MIN_ID_DIGITS = 3  # letters with this many digits are an ID unless unit-shaped
_MAX_RUNS = 4
_MAX_PASSES = 8

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


def mentions_identity(value: str, identifying_values: frozenset[str]) -> bool:
    """Whether ``value`` holds a token (or a run of tokens) of the dataset's own
    identifying values (see :func:`identifying_values`): a name part, an ID ..."""
    if not identifying_values or not value:
        return False
    matcher = _matcher_for(identifying_values)
    tokens = _tokenise(value)
    if any(matcher.matches_token(token) for token in tokens):
        return True
    keep = [True] * len(tokens)
    return matcher.drop_sequences(tokens, list(range(len(tokens))), keep)


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
