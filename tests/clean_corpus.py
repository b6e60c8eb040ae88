"""The labelled cleaning corpus (``tests/data/clean_corpus.txt``): loading and scoring.

Shared by ``tests/test_cleaning_corpus.py`` and ``benchmarks/clean_text.py``. The tokens are
cut here by an independent definition (white space and the cleaner's separators), so that
scoring does not trust the tokeniser under test.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

CORPUS = Path(__file__).resolve().parent / "data" / "clean_corpus.txt"
SEPARATORS = frozenset(' _^-/\\,;:()[]{}<>+=|&"*!?#~`')
REQUIRED, IDENTIFIER, OPTIONAL = "required", "identifier", "optional"


@dataclass(frozen=True)
class Token:
    key: str
    label: str


@dataclass(frozen=True)
class Case:
    line: int
    markup: str
    text: str
    tokens: tuple[Token, ...]
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def identifiers(self) -> list[str]:
        return [token.key for token in self.tokens if token.label == IDENTIFIER]

    @property
    def required(self) -> list[str]:
        return [token.key for token in self.tokens if token.label == REQUIRED]

    def dataset(self) -> Dataset:
        """A dataset holding the case's attributes (``Seq.Keyword`` makes a nested item)."""
        dataset = Dataset()
        for path, value in self.attributes.items():
            _set(dataset, path.split("."), value)
        return dataset


def _set(dataset: Dataset, path: list[str], value: str) -> None:
    if len(path) == 1:
        setattr(dataset, path[0], value.split("\\") if "\\" in value else value)
        return
    item = Dataset()
    _set(item, path[1:], value)
    setattr(dataset, path[0], Sequence([item]))


def _is_separator(char: str) -> bool:
    return char in SEPARATORS or char.isspace() or not char.isprintable()


def token_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, comparison key) of every token of ``text``."""
    spans: list[tuple[int, int, str]] = []
    index = 0
    while index < len(text):
        if _is_separator(text[index]):
            index += 1
            continue
        end = index
        while end < len(text) and not _is_separator(text[end]):
            end += 1
        key = text[index:end].strip(".'\u2019").casefold()
        if key:
            spans.append((index, end, key))
        index = end
    return spans


def keys(text: str) -> list[str]:
    return [key for _, _, key in token_spans(text)]


def parse(markup: str, line: int = 0) -> Case:
    """One case from its markup: ``[[identifier]]``, ``{optional}``, ``||| attributes``."""
    body, _, attributes_text = markup.partition("|||")
    body = body.strip()
    chars: list[str] = []
    labels: list[str] = []
    mode = REQUIRED
    index = 0
    while index < len(body):
        if body.startswith("[[", index) and mode == REQUIRED:
            mode, index = IDENTIFIER, index + 2
        elif body.startswith("]]", index) and mode == IDENTIFIER:
            mode, index = REQUIRED, index + 2
        elif body[index] == "{" and mode == REQUIRED:
            mode, index = OPTIONAL, index + 1
        elif body[index] == "}" and mode == OPTIONAL:
            mode, index = REQUIRED, index + 1
        else:
            chars.append(body[index])
            labels.append(mode)
            index += 1
    if mode != REQUIRED:
        raise ValueError(f"line {line}: unclosed markup")
    text = "".join(chars)
    tokens = []
    for start, end, key in token_spans(text):
        span = set(labels[start:end])
        label = IDENTIFIER if IDENTIFIER in span else OPTIONAL if OPTIONAL in span else REQUIRED
        tokens.append(Token(key, label))
    attributes = {}
    for assignment in attributes_text.split(" ; "):
        if assignment.strip():
            keyword, _, value = assignment.strip().partition("=")
            attributes[keyword] = value
    return Case(line, markup, text, tuple(tokens), attributes)


def load(path: Path = CORPUS) -> list[Case]:
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip() and not line.startswith("#"):
            cases.append(parse(line, number))
    return cases


def leaks(case: Case, output: str) -> list[str]:
    """Identifier tokens of ``case`` found in ``output`` (more often than the same token
    occurs in the case outside its identifiers)."""
    found = Counter(keys(output))
    elsewhere = Counter(token.key for token in case.tokens if token.label != IDENTIFIER)
    return sorted({key for key in case.identifiers if found[key] > elsewhere[key]})


def kept(case: Case, output: str) -> int:
    """How many of the required tokens of ``case`` are in ``output``."""
    found = Counter(keys(output))
    required = Counter(case.required)
    return sum(min(count, found[key]) for key, count in required.items())


@dataclass(frozen=True)
class Score:
    cases: int
    identifier_tokens: int
    leaked: list[tuple[int, str, list[str]]]
    required: int
    kept: int

    @property
    def precision(self) -> float:
        return self.kept / self.required if self.required else 1.0

    @property
    def recall(self) -> float:
        leaked = sum(len(keys) for _, _, keys in self.leaked)
        return 1 - leaked / self.identifier_tokens if self.identifier_tokens else 1.0


def score(results: Iterable[tuple[Case, str]]) -> Score:
    cases = identifier_tokens = required = kept_total = 0
    leaked: list[tuple[int, str, list[str]]] = []
    for case, output in results:
        cases += 1
        identifier_tokens += len(case.identifiers)
        required += len(case.required)
        kept_total += kept(case, output)
        found = leaks(case, output)
        if found:
            leaked.append((case.line, output, found))
    return Score(cases, identifier_tokens, leaked, required, kept_total)
