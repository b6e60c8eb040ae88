"""MIDI-B compatibility: the challenge's mapping files, and scoring by its answer key.

The MIDI-B challenge (Medical Image De-Identification Benchmark, TCIA) scores a
de-identifier with public rules. What this module relies on, from its validation script:

* the **mapping files** ``uid_mapping.csv`` and ``patid_mapping.csv``, columns
  ``id_old,id_new``: what each original UID and Patient ID became;
* the **answer key**, an SQLite table ``answer_data``: one row per original instance (column
  ``SOPInstanceUID``) whose ``AnswerData`` column holds a JSON object of checks, each with
  an ``action`` and the ``tag`` (or ``tag_ds``), ``value``, ``action_text`` it applies to,
  and category columns (``dicom_iod``, ``hipaa_m``, ``hipaa_z``, ``tcia_p15``, ``tcia_ptkb``,
  ``tcia_rev``). Values may be wrapped in angle brackets (``<PID-1>``). A ``scope`` column
  (``<Series>``, ``<Study>``, ``<Patient>``) widens a row to the instances of the series or
  study (columns ``SeriesInstanceUID``, ``StudyInstanceUID``);
* what each **action** passes on:

  ``tag_retained``      the attribute is in the output
  ``text_notnull``      ... and is not empty
  ``text_retained``     its value holds the expected text (whole, or every word of it)
  ``text_removed``      absent, empty, or holds no word of the text (numbers: not equal)
  ``date_shifted``      the original date is not in the value (absent passes)
  ``uid_changed``       the original UID is not in the value (absent passes)
  ``uid_consistent``    the value is what the mapping says the UID became (absent passes)
  ``patid_consistent``  the value is what the mapping says the Patient ID became
  ``pixels_retained``   the MD5 of the Pixel Data is the one given in ``action_text``
  ``pixels_hidden``     no text is legible in the box ``action_text`` gives
                        (``{"text", "top_left", "bottom_right"}``)

  An instance missing from the output fails the actions that keep something
  (``tag_retained``, ``text_notnull``, ``text_retained``, ``pixels_retained``,
  ``uid_consistent``, ``patid_consistent``) and passes the others;
* the **categories**: ``tag_retained`` and ``text_notnull`` count under
  ``dicom``/``dicom_iod``; ``date_shifted`` ``hipaa``/``HIPAA-C``; ``uid_changed``
  ``hipaa``/``HIPAA-R``; ``pixels_hidden`` ``hipaa``/``HIPAA-A``; ``patid_consistent``
  ``dicom``/``DICOM-P15-BASIC-C``; ``uid_consistent`` ``dicom``/``DICOM-P15-BASIC-U``;
  ``pixels_retained`` ``tcia``/``TCIA-P15-PIX-K``; ``text_removed`` the first of
  ``hipaa_m``, ``hipaa_z`` (as ``hipaa``) or ``tcia_p15``, ``tcia_ptkb``, ``tcia_rev`` (as
  ``tcia``); ``text_retained`` the first of the ``tcia_*`` columns. A score is passed / total.

Our own approximations: words are split on anything that is not a letter or a digit and
English stop words are ignored (the script uses NLTK); ``pixels_hidden`` is judged by OCR
when a text engine is installed (the box passes when no legible text is read with its centre
in it, :func:`idiscore.verify.pixel_text.text_in_box`), else without OCR -- the box passes when
its pixels in the output are all one value (blanked) or no longer those of the input.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import sqlite3
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydicom import dcmread
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from idiscore.batch.sources import discover, sniff
from idiscore.errors import ConfigurationError

__all__ = [
    "ACTIONS",
    "AnswerCheck",
    "Score",
    "category_of",
    "load_mappings",
    "originals_by_instance",
    "read_answer_key",
    "read_id_mapping",
    "score_outputs",
    "write_midi_b_mappings",
]

ACTIONS = (
    "tag_retained",
    "text_notnull",
    "text_retained",
    "text_removed",
    "date_shifted",
    "uid_changed",
    "uid_consistent",
    "patid_consistent",
    "pixels_retained",
    "pixels_hidden",
)
#: the actions an instance missing from the output fails
RETAINING = frozenset(
    {
        "tag_retained",
        "text_notnull",
        "text_retained",
        "pixels_retained",
        "uid_consistent",
        "patid_consistent",
    }
)
_FIXED_CATEGORY = {
    "date_shifted": ("hipaa", "HIPAA-C"),
    "uid_changed": ("hipaa", "HIPAA-R"),
    "pixels_hidden": ("hipaa", "HIPAA-A"),
    "patid_consistent": ("dicom", "DICOM-P15-BASIC-C"),
    "uid_consistent": ("dicom", "DICOM-P15-BASIC-U"),
    "pixels_retained": ("tcia", "TCIA-P15-PIX-K"),
}
_STOP_WORDS = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "he", "in", "is",
     "it", "its", "of", "on", "or", "that", "the", "to", "was", "were", "will", "with"}
)  # fmt: skip
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_TAG = re.compile(r"\(?\s*([0-9A-Fa-f]{4})\s*,?\s*([0-9A-Fa-f]{4})\s*\)?")


def _unwrap(value: Any) -> str:
    text = "" if value is None else str(value)
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    return text


@dataclass(frozen=True)
class AnswerCheck:
    """One expected action on one attribute of one original instance."""

    instance: str  # the original SOP Instance UID
    action: str
    path: tuple[tuple[int, int | None], ...]  # (tag, item index) from the top level
    value: str = ""
    action_text: str = ""
    categories: tuple[tuple[str, str], ...] = ()
    scope: str = "Instance"
    series: str = ""
    study: str = ""


@dataclass
class Score:
    """Passed and total checks, per action and per (category, subcategory)."""

    passed: Counter[tuple[str, str]] = field(default_factory=Counter)
    total: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_action: dict[str, list[int]] = field(default_factory=dict)
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # action, tag, why

    def add(self, check: AnswerCheck, passed: bool, why: str = "") -> None:
        category = category_of(check)
        self.total[category] += 1
        self.passed[category] += passed
        counts = self.by_action.setdefault(check.action, [0, 0])
        counts[0] += passed
        counts[1] += 1
        if not passed:
            self.failures.append((check.action, _path_text(check.path), why))

    @property
    def overall(self) -> tuple[int, int]:
        return sum(self.passed.values()), sum(self.total.values())

    def categories(self) -> list[tuple[str, str, int, int]]:
        """(category, subcategory, passed, total), sorted."""
        return [(c, s, self.passed[(c, s)], n) for (c, s), n in sorted(self.total.items())]

    def record(self) -> dict[str, Any]:
        passed, total = self.overall
        return {
            "passed": passed,
            "total": total,
            "categories": [
                {"category": c, "subcategory": s, "passed": p, "total": n}
                for c, s, p, n in self.categories()
            ],
            "actions": {a: {"passed": p, "total": n} for a, (p, n) in self.by_action.items()},
        }


def category_of(check: AnswerCheck) -> tuple[str, str]:
    """The (category, subcategory) a check counts under (see the module docs)."""
    if check.action in _FIXED_CATEGORY:
        return _FIXED_CATEGORY[check.action]
    columns = dict(check.categories)
    if check.action in ("tag_retained", "text_notnull"):
        return ("dicom", columns.get("dicom_iod", "") or "DICOM-IOD")
    order = ["tcia_p15", "tcia_ptkb", "tcia_rev"]
    if check.action == "text_removed":
        order = ["hipaa_m", "hipaa_z", *order]
    for column in order:
        if columns.get(column):
            return (column.split("_")[0], columns[column])
    return ("unknown", "unknown")


def _parse_path(text: str) -> tuple[tuple[int, int | None], ...]:
    """A tag or nested path: ``(0010,0020)``, ``00100020``, ``PatientID``,
    ``(0008,1115)[0](0008,1155)`` or with ``[<0>]`` / ``/`` between the parts."""
    text = _unwrap(text).strip()
    parts: list[tuple[int, int | None]] = []
    pieces = re.split(r"\[<?(\d+)>?\]", text)
    for index, piece in enumerate(pieces):
        if index % 2:  # an item number
            parts[-1] = (parts[-1][0], int(piece))
            continue
        for token in filter(None, re.split(r"[/.\s]+|(?=\()", piece)):
            match = _TAG.fullmatch(token)
            if match:
                parts.append((int(match.group(1) + match.group(2), 16), None))
            else:
                keyword_tag = tag_for_keyword(token.strip("<>"))
                if keyword_tag is None:
                    raise ConfigurationError(f"answer key: cannot read the tag path {text!r}")
                parts.append((int(keyword_tag), None))
    if not parts:
        raise ConfigurationError(f"answer key: empty tag path {text!r}")
    return tuple(parts)


def _path_text(path: tuple[tuple[int, int | None], ...]) -> str:
    out = []
    for tag, item in path:
        out.append(f"({tag >> 16:04X},{tag & 0xFFFF:04X})" + (f"[{item}]" if item else ""))
    return "/".join(out)


def read_answer_key(path: str | os.PathLike[str]) -> list[AnswerCheck]:
    """Every check of an answer key (SQLite, table ``answer_data``).

    Raises:
        ConfigurationError: not such a database, or a row that cannot be read (the message
            names the row, never a value).
    """
    if not os.path.isfile(path):
        raise ConfigurationError(f"answer key {os.fspath(path)!r} does not exist")
    try:
        connection = sqlite3.connect(Path(path).absolute().as_uri() + "?mode=ro", uri=True)
        connection.row_factory = sqlite3.Row
        try:
            rows = connection.execute("SELECT * FROM answer_data").fetchall()
        finally:
            connection.close()
    except sqlite3.Error:
        raise ConfigurationError(
            f"{os.fspath(path)!r} is not a MIDI-B answer key (an SQLite table answer_data)"
        ) from None
    checks: list[AnswerCheck] = []
    for number, row in enumerate(rows, start=1):
        try:
            checks.extend(_row_checks(row))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            raise ConfigurationError(
                f"answer key {os.fspath(path)!r}: row {number} cannot be read"
            ) from None
    return checks


_CATEGORY_COLUMNS = ("dicom_iod", "hipaa_m", "hipaa_z", "tcia_p15", "tcia_ptkb", "tcia_rev")


def _row_checks(row: sqlite3.Row) -> Iterator[AnswerCheck]:
    columns = row.keys()

    def column(name: str) -> str:
        return _unwrap(row[name]) if name in columns else ""

    answers = json.loads(row["AnswerData"])
    for entry in answers.values() if isinstance(answers, dict) else answers:
        action = _unwrap(entry["action"])
        if action not in ACTIONS:
            continue
        tag_text = entry.get("tag") or entry.get("tag_ds") or ""
        if action in ("pixels_retained", "pixels_hidden") and not tag_text:
            tag_text = "(7FE0,0010)"
        yield AnswerCheck(
            instance=column("SOPInstanceUID"),
            action=action,
            path=_parse_path(str(tag_text)),
            value=_unwrap(entry.get("value")),
            action_text=_unwrap(entry.get("action_text")),
            categories=tuple(
                (key, _unwrap(entry[key])) for key in _CATEGORY_COLUMNS if entry.get(key)
            ),
            scope=column("scope") or "Instance",
            series=column("SeriesInstanceUID"),
            study=column("StudyInstanceUID"),
        )


def read_id_mapping(path: str | os.PathLike[str]) -> dict[str, str]:
    """``id_old -> id_new`` from a MIDI-B mapping file (``uid_mapping.csv``,
    ``patid_mapping.csv``)."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except OSError as exc:
        raise ConfigurationError(f"cannot read {os.fspath(path)!r}: {exc.strerror}") from None
    if not rows or [cell.strip().lower() for cell in rows[0]] != ["id_old", "id_new"]:
        raise ConfigurationError(f"{os.fspath(path)!r} is not a mapping with id_old,id_new")
    return {row[0]: row[1] for row in rows[1:] if len(row) == 2}


def write_midi_b_mappings(
    entries: Iterable[tuple[str, str, str]], folder: str | os.PathLike[str]
) -> tuple[Path, Path]:
    """Write ``uid_mapping.csv`` and ``patid_mapping.csv`` (owner-only, they re-identify)
    from idiscore mapping entries ``(kind, original, pseudonym)``."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, kind in (("uid_mapping.csv", "uid"), ("patid_mapping.csv", "patient_id")):
        path = target / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["id_old", "id_new"])
            seen: set[str] = set()
            for entry_kind, original, pseudonym in entries:
                if entry_kind == kind and original not in seen:
                    seen.add(original)
                    writer.writerow([original, pseudonym])
        written.append(path)
    return written[0], written[1]


# ----------------------------------------------------------------------------------------------
# Scoring


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP_WORDS]


def _is_number(text: str) -> bool:
    return text.replace(".", "", 1).isdigit()


def _holds_text(found: str, expected: str) -> tuple[bool, bool]:
    """(all of the expected text is in ``found``, any of it is)."""
    found, expected = found.lower(), expected.lower()
    if _is_number(found) and _is_number(expected):
        same = float(found) == float(expected)
        return same, same
    if expected and expected in found:
        return True, True
    words = _words(expected)
    hits = [w for w in words if w in found]
    return bool(words) and len(hits) == len(words), bool(hits)


def _element(dataset: Dataset, path: tuple[tuple[int, int | None], ...]) -> Any:
    """The element at ``path`` (first item where no index is given), or None."""
    current: Dataset = dataset
    for depth, (tag, item) in enumerate(path):
        if tag not in current:
            return None
        element = current[tag]
        if depth == len(path) - 1:
            return element
        value = element.value
        if not isinstance(value, Sequence) or not value:
            return None
        index = item or 0
        if index >= len(value):
            return None
        current = value[index]
    return None


def _text(element: Any) -> str:
    if element is None or element.value is None:
        return ""
    value = element.value
    if isinstance(value, bytes):
        return value.decode("latin-1").strip("\x00 ")
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def _box_hidden(
    check: AnswerCheck, original: Dataset | None, output: Dataset, ocr: str | None = None
) -> bool:
    spec = json.loads(check.action_text)
    (x0, y0), (x1, y1) = spec["top_left"], spec["bottom_right"]
    if ocr is not None:
        from idiscore.verify.pixel_text import text_in_box

        return not text_in_box(output, (int(x0), int(y0), int(x1), int(y1)), ocr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        after = np.asarray(output.pixel_array)
        before = np.asarray(original.pixel_array) if original is not None else None
    if after.ndim > 2 and after.shape[-1] not in (3, 4):
        after = after[0]
        before = before[0] if before is not None and before.ndim > 2 else before
    region = after[int(y0) : int(y1), int(x0) : int(x1)]
    if region.size and np.all(region == region.flat[0]):
        return True  # blanked
    if before is not None and before.shape == after.shape:
        return not np.array_equal(before[int(y0) : int(y1), int(x0) : int(x1)], region)
    return False


def _judge(
    check: AnswerCheck,
    output: Dataset | None,
    uids: dict[str, str],
    patids: dict[str, str],
    original: Dataset | None = None,
    ocr: str | None = None,
) -> tuple[bool, str]:
    """Whether ``output`` (None: missing) passes ``check``, and why not."""
    if output is None:
        return check.action not in RETAINING, "the instance is not in the output"
    element = _element(output, check.path)
    text = _text(element)
    action = check.action
    if action == "tag_retained":
        return element is not None, "the attribute is gone"
    if action == "text_notnull":
        return bool(text), "the attribute is gone or empty"
    if action == "text_retained":
        return bool(text) and _holds_text(text, check.action_text)[0], "the text was not kept"
    if action == "text_removed":
        return not text or not _holds_text(text, check.action_text)[1], "the text remains"
    if action in ("date_shifted", "uid_changed"):
        return check.value.replace("\\", "") not in text.replace("\\", ""), "unchanged"
    if action in ("uid_consistent", "patid_consistent"):
        table = uids if action == "uid_consistent" else patids
        return element is None or text == table.get(check.value, ""), "not as mapped"
    if action == "pixels_retained":
        raw = output.get_item(0x7FE00010) if 0x7FE00010 in output else None
        data = raw.value if raw is not None else None
        digest = hashlib.md5(data).hexdigest() if isinstance(data, bytes) else ""
        return digest == check.action_text.strip().lower(), "the pixel data changed"
    if action == "pixels_hidden":
        return _box_hidden(check, original, output, ocr), "the box was not blanked"
    return False, "unknown action"


@dataclass
class _Output:
    path: Path
    sop: str
    series: str
    study: str


def _index_outputs(output: str | os.PathLike[str]) -> Iterator[_Output]:
    for candidate in discover([output]):
        if candidate.error is not None or not sniff(candidate.path).is_dicom:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = dcmread(candidate.path, stop_before_pixels=True, force=True)
        yield _Output(
            candidate.path,
            str(ds.get("SOPInstanceUID", "")),
            str(ds.get("SeriesInstanceUID", "")),
            str(ds.get("StudyInstanceUID", "")),
        )


def _read(path: Path) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dcmread(io.BytesIO(path.read_bytes()), force=True)


def score_outputs(
    checks: Iterable[AnswerCheck],
    output: str | os.PathLike[str],
    uids: dict[str, str],
    patids: dict[str, str],
    originals: dict[str, Path] | None = None,
    *,
    ocr: str | None = None,
) -> Score:
    """Score the outputs below ``output`` against the answer key's checks.

    ``uids``/``patids``: what each original UID / Patient ID became (the run's mapping);
    ``originals``: original SOP Instance UID -> input file, for ``pixels_hidden``;
    ``ocr``: the text engine that judges ``pixels_hidden`` (None: by the pixels alone).
    """
    by_sop: dict[str, _Output] = {}
    by_series: dict[str, list[_Output]] = {}
    by_study: dict[str, list[_Output]] = {}
    for item in _index_outputs(output):
        by_sop[item.sop] = item
        by_series.setdefault(item.series, []).append(item)
        by_study.setdefault(item.study, []).append(item)
    cache: dict[Path, Dataset] = {}

    def load(item: _Output) -> Dataset:
        if item.path not in cache:
            if len(cache) > 64:
                cache.clear()
            cache[item.path] = _read(item.path)
        return cache[item.path]

    score = Score()
    for check in checks:
        scope = check.scope.strip().lower()
        targets: list[_Output]
        if scope == "series" and check.series:
            targets = by_series.get(uids.get(check.series, ""), [])
        elif scope in ("study", "patient") and check.study:
            targets = by_study.get(uids.get(check.study, ""), [])
        else:
            found = by_sop.get(uids.get(check.instance, ""))
            targets = [found] if found is not None else []
        original = None
        if check.action == "pixels_hidden" and originals and check.instance in originals:
            original = _read(originals[check.instance])
        if not targets:
            passed, why = _judge(check, None, uids, patids)
            score.add(check, passed, why)
        for target in targets:
            passed, why = _judge(check, load(target), uids, patids, original, ocr)
            score.add(check, passed, why)
    return score


def load_mappings(path: str | os.PathLike[str]) -> tuple[dict[str, str], dict[str, str]]:
    """(UIDs, Patient IDs): old -> new, from an idiscore mapping file (``.csv`` with
    ``kind,original,pseudonym``, ``.sqlite``, ``.db``) or a MIDI-B ``uid_mapping.csv``
    (with ``patid_mapping.csv`` beside it, when there is one)."""
    target = Path(path)
    if target.suffix.lower() == ".csv":
        with open(target, newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), [])
        if [cell.strip().lower() for cell in header] == ["id_old", "id_new"]:
            uids = read_id_mapping(target)
            patid_file = target.with_name("patid_mapping.csv")
            patids = read_id_mapping(patid_file) if patid_file.is_file() else {}
            return uids, patids
    from idiscore.batch.mapping_store import read_mapping

    uids, patids = {}, {}
    for kind, original, pseudonym in read_mapping(target).entries():
        if kind == "uid":
            uids.setdefault(original, pseudonym)
        elif kind == "patient_id":
            patids.setdefault(original, pseudonym)
    return uids, patids


def originals_by_instance(inputs: str | os.PathLike[str]) -> dict[str, Path]:
    """Original SOP Instance UID -> input file, for every DICOM file below ``inputs``."""
    return {item.sop: item.path for item in _index_outputs(inputs) if item.sop}
