#!/usr/bin/env python3
"""Generate idiscore's DICOM PS3.15 tables from the standard's data files.

Usage::

    python tools/generate_standard.py [STANDARD_DIR] [--output-dir DIR] [--edition ED]
                                      [--with-iod-types]

``STANDARD_DIR`` defaults to ``standard-data`` in the repository root (the in-repository copy of
the standard's tables, see its README.md). It must hold the CSV files described in its
``PROVENANCE.md``. ``make tables`` runs this script.

Outputs (in ``--output-dir``, default ``src/idiscore/standard``):

``_tables.py``
    PS3.15 Annex E as Python literals: ``EDITION``, ``SOURCES`` (input file name -> sha256),
    ``E1_1_OPTION_COLUMNS``, ``E1_1_ROWS`` (Table E.1-1), ``ACTION_CODES`` (Table E.1-1a),
    ``CID7050``, ``INSERTED_ATTRIBUTES``, ``SAFE_PRIVATE`` (Table E.3.10-1),
    ``CLEAN_STRUCTURED_CONTENT_COLUMNS`` and ``CLEAN_STRUCTURED_CONTENT`` (Table E.3.4-1).
    The text is laid out the way ``ruff format`` lays it out, so the formatter leaves it alone.
``tcia_private_kb.csv.gz``
    The TCIA private tag knowledge base, normalised (see "TCIA knowledge base" below).

``--with-iod-types`` also runs ``tools/generate_iod_types.py`` (it needs highdicom, a
development dependency) so that one command refreshes every generated table.

Guarantees
----------
* Deterministic: the same input gives byte-identical output (no dates, no dict-order or
  locale effects; the gzip header carries mtime 0 and no file name).
* Nothing is written unless every input passes validation: headers must be exactly as
  expected, every action cell must be a Table E.1-1a code, every tag well formed, Y/N columns
  Y or N, VRs and VMs well formed, keys unique; for a pinned edition (``EXPECTED_ROWS``) the
  row counts must match too (2026d: 657 rows in Table E.1-1). The leading digits of the
  checksums quoted in ``PROVENANCE.md`` (``abcd…wxyz``) must match the files. When the folder
  holds an independent parse of the same edition (``pymedphys-<edition>/*.json``), Tables
  E.1-1, E.1-1a, E.3.10-1 and CID 7050 must equal it row for row. Outputs are written to a
  temporary file and renamed into place.
* The edition is read from ``PROVENANCE.md`` ("Newest edition found: **2026d**") unless
  ``--edition`` is given. For a new edition, update the data folder, run ``make tables``,
  review the diff, and pin the new row counts in ``EXPECTED_ROWS``; until pinned, the script
  prints the counts and relies on the structural checks alone.

TCIA knowledge base
-------------------
Each ``element_sig_pattern`` is a path of elements separated by ``[<n>]`` markers, where ``n``
is the nesting depth of the element that follows. An element is either a standard tag
``(gggg,eeee)`` or a private element ``(gggg,"Creator",ee)`` (group, private creator, low byte
of the element). Hex digits are lower case in the source. Examples::

    (0019,"GEMS_ACQU_01",b8)
    (0008,1084)[<0>](312f,"Ramsoft Diagnosis Datetime Identifier",10)
    (2001,"Philips Imaging DD 129",00)[<0>](0070,0001)[<1>](2001,"Philips Imaging DD 001",48)

The source is messy: creator quotes are unbalanced (``(0017,SIEMENS_FLCOMPACT_VA01A_PROC",19)``,
the opening quote of the first element is usually missing), some creators are empty
(``(0009,,02)``) and some contain commas (``"HOLOGIC, Inc."``, ``"0021,1000"``), dispositions
carry stray spaces and upper case (``" k"``, ``"K"``, ``"D"``).

Normalisation: creators lose their surrounding quotes and whitespace; hex is upper case;
dispositions are stripped and lower-cased and must be one of k, d, h, o, oi, na or empty; tag
names are whitespace-trimmed. The parent path is rewritten canonically as
``(GGGG,EEEE)`` / ``(GGGG,"Creator",EE)`` elements joined by ``[<n>]``. Rows whose last element
is a standard tag (a public attribute nested in a private sequence) are not private-element
entries and are left out; their number is checked. Output rows are sorted and de-duplicated.
Columns: sequence_path, group (4 hex), private_creator, element_offset (2 hex), vr,
disposition, tag_name.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STANDARD_DIR = REPO_ROOT / "standard-data"
DEFAULT_OUTPUT_DIR = REPO_ROOT / "src" / "idiscore" / "standard"
TABLES_FILE = "_tables.py"
TCIA_OUTPUT_FILE = "tcia_private_kb.csv.gz"
LINE_LENGTH = 99

E1_1_FILE = "confidentiality_profile_attributes.csv"
ACTION_CODES_FILE = "deidentification_action_codes.csv"
CID7050_FILE = "cid7050.csv"
INSERTED_FILE = "deidentification_inserted_attributes.csv"
SAFE_PRIVATE_FILE = "safe_private_attributes.csv"
CSC_GLOB = "clean_structured_content_concepts*.csv"
TCIA_GLOB = "tcia_private_tag_kb_*.csv"

# Row counts pinned per edition (data rows, header excluded).
EXPECTED_ROWS: dict[str, dict[str, int]] = {
    "2026d": {
        E1_1_FILE: 657,
        ACTION_CODES_FILE: 11,
        CID7050_FILE: 13,
        INSERTED_FILE: 8,
        SAFE_PRIVATE_FILE: 479,
        "clean_structured_content_concepts_2026c.csv": 214,
    },
}
# The TCIA knowledge base is dated independently of the standard.
EXPECTED_TCIA: dict[str, tuple[int, int]] = {
    # file name: (rows in the file, rows whose last element is a standard tag)
    "tcia_private_tag_kb_2024-02-01.csv": (8787, 554),
}

# Table E.1-1a. A new code in a future edition needs code in the library, so it fails here.
KNOWN_ACTION_CODES = ("D", "Z", "X", "K", "C", "U", "Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*")
E1_1_OPTION_COLUMNS = (
    "basic",
    "retain_safe_private",
    "retain_uids",
    "retain_device_identity",
    "retain_institution_identity",
    "retain_patient_characteristics",
    "retain_long_full_dates",
    "retain_long_modified_dates",
    "clean_descriptors",
    "clean_structured_content",
    "clean_graphics",
)
E1_1_HEADER = ("name", "tag", "retired", "in_std_comp_iod", *E1_1_OPTION_COLUMNS)
PRIVATE_ATTRIBUTES_TAG = "(gggg,eeee) where gggg is odd"
PRIVATE_ATTRIBUTES_PATTERN = "ggggeeee"
CSC_FIXED_HEADER = (
    "code_meaning",
    "code_value",
    "coding_scheme_designator",
    "value_type",
    "retired",
    "in_std_template",
)
_SR_VALUE_TYPES = "TEXT NUM CODE DATETIME DATE TIME UIDREF PNAME COMPOSITE IMAGE WAVEFORM SCOORD"
SR_VALUE_TYPES = frozenset(f"{_SR_VALUE_TYPES} SCOORD3D TCOORD CONTAINER TABLE".split(" "))
_VRS = "AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN"
VRS = frozenset(f"{_VRS} UR US UT UV".split(" "))
TCIA_HEADER = ("element_sig_pattern", "tag_name", "vr", "private_disposition")
TCIA_OUTPUT_HEADER = (
    "sequence_path",
    "group",
    "private_creator",
    "element_offset",
    "vr",
    "disposition",
    "tag_name",
)
TCIA_DISPOSITIONS = frozenset({"k", "d", "h", "o", "oi", "na", ""})

_TAG_RE = re.compile(r"\(([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)")
_E1_1_TAG_RE = re.compile(r"\(([0-9A-Fx]{4}),([0-9A-Fx]{4})\)")
_SAFE_PRIVATE_TAG_RE = re.compile(r"\(([0-9A-Fa-f]{4}),xx([0-9A-Fa-f]{2})\)")
_VM_RE = re.compile(r"[0-9]+(-([0-9]+|[0-9]*n))?")
_KEYWORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_SECTION_RE = re.compile(r"[A-Z](\.[0-9]+)+")
_EDITION_RE = re.compile(r"Newest edition found: \*\*([0-9]{4}[a-z])\*\*")
_PROVENANCE_SHA_RE = re.compile(
    r"^\|\s*\**`([^`]+)`\**\s*\|.*`([0-9a-f]{6,})…([0-9a-f]{3,})`\s*\|\s*$", re.MULTILINE
)
_TCIA_SEPARATOR_RE = re.compile(r"\[<([0-9]+)>\]")
_TCIA_STANDARD_RE = re.compile(r"\(([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)")
# Greedy creator: a segment is one element, so the last ",ee)" ends the creator.
_TCIA_PRIVATE_RE = re.compile(r"\(([0-9A-Fa-f]{4}),(.*),([0-9A-Fa-f]{2})\)")


class GenerationError(Exception):
    """An input file is not what this generator expects; nothing was written."""


# ---------------------------------------------------------------------------------------------
# Literal formatting (the layout ruff format produces for these literals)


def format_str(value: str) -> str:
    """A string literal as ruff format writes it: double quotes unless that needs more escapes."""
    for char in value:
        if ord(char) < 0x20 or ord(char) == 0x7F:
            raise GenerationError(f"control character {char!r} in {value!r}")
    quote = "'" if value.count('"') > value.count("'") else '"'
    body = value.replace("\\", "\\\\").replace(quote, "\\" + quote)
    return f"{quote}{body}{quote}"


def _inline(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, HexInt):
        return value.literal()
    if isinstance(value, str):
        return format_str(value)
    if isinstance(value, tuple):
        if len(value) == 1:
            return f"({_inline(value[0])},)"
        return "(" + ", ".join(_inline(v) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_inline(k)}: {_inline(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot format {type(value).__name__}")


@dataclass(frozen=True)
class HexInt:
    """An int written as an upper-case hex literal (``0x00100010``), as ruff normalises it."""

    value: int
    digits: int = 8

    def literal(self) -> str:
        return f"0x{self.value:0{self.digits}X}"


def format_literal(
    value: object, indent: int = 0, suffix: str = "", explode: bool = False, prefix: str = ""
) -> str:
    """Lay out ``value`` on a line indented by ``indent`` after ``prefix``, then ``suffix``.

    A collection that fits on the line is written inline; otherwise (or with ``explode``) it is
    split one element per line with a trailing comma, recursively. Returns the text after the
    indentation (``prefix`` included).
    """
    inline = _inline(value)
    if not explode and indent + len(prefix) + len(inline) + len(suffix) <= LINE_LENGTH:
        return prefix + inline + suffix
    inner = indent + 4
    if isinstance(value, tuple) and value:
        opening, closing = "(", ")"
        items = [format_literal(v, inner, ",") for v in value]
    elif isinstance(value, dict) and value:
        opening, closing = "{", "}"
        items = [format_literal(v, inner, ",", prefix=f"{_inline(k)}: ") for k, v in value.items()]
    else:
        return prefix + inline + suffix
    body = "\n".join(" " * inner + item for item in items)
    return f"{prefix}{opening}\n{body}\n{' ' * indent}{closing}{suffix}"


def format_assignment(name: str, annotation: str, value: object, explode: bool = True) -> str:
    head = f"{name}: {annotation} = "
    return head + format_literal(value, 0, "", explode=explode) + "\n"


# ---------------------------------------------------------------------------------------------
# Reading and validation


@dataclass(frozen=True)
class CsvFile:
    name: str
    sha256: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def read_csv(path: Path) -> CsvFile:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GenerationError(f"cannot read {path}: {exc}") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GenerationError(f"{path.name}: not UTF-8: {exc}") from exc
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        all_rows = [tuple(row) for row in reader]
    except csv.Error as exc:
        raise GenerationError(f"{path.name}: malformed CSV: {exc}") from exc
    if not all_rows:
        raise GenerationError(f"{path.name}: empty file")
    header, rows = all_rows[0], all_rows[1:]
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise GenerationError(
                f"{path.name} line {number}: {len(row)} fields, header has {len(header)}"
            )
    return CsvFile(path.name, hashlib.sha256(data).hexdigest(), header, tuple(rows))


def expect_header(table: CsvFile, expected: Sequence[str]) -> None:
    if table.header != tuple(expected):
        raise GenerationError(
            f"{table.name}: unexpected columns {list(table.header)}, expected {list(expected)}"
        )


def expect_rows(table: CsvFile, edition: str) -> None:
    pinned = EXPECTED_ROWS.get(edition)
    if pinned is None:
        print(f"note: {table.name}: {len(table.rows)} rows (not pinned for {edition})")
        return
    if table.name not in pinned:
        raise GenerationError(f"{table.name}: no row count pinned for edition {edition}")
    if len(table.rows) != pinned[table.name]:
        raise GenerationError(
            f"{table.name}: {len(table.rows)} rows, expected {pinned[table.name]} for {edition}"
        )


def check_cells(table: CsvFile) -> None:
    """No cell of a NEMA table has surrounding whitespace or control characters."""
    for index, row in enumerate(table.rows):
        for cell in row:
            check_text(cell, where(table, index), allow_empty=True)


def where(table: CsvFile, index: int) -> str:
    return f"{table.name} row {index + 1}"


def parse_yes_no(value: str, context: str) -> bool:
    if value not in ("Y", "N"):
        raise GenerationError(f"{context}: expected Y or N, got {value!r}")
    return value == "Y"


def check_text(value: str, context: str, allow_empty: bool = False) -> str:
    if not value and not allow_empty:
        raise GenerationError(f"{context}: empty value")
    if value != value.strip():
        raise GenerationError(f"{context}: leading/trailing whitespace in {value!r}")
    format_str(value)  # rejects control characters
    return value


def check_action(value: str, context: str, allow_empty: bool = True) -> str:
    if value == "" and allow_empty:
        return value
    if value not in KNOWN_ACTION_CODES:
        raise GenerationError(f"{context}: unknown action code {value!r}")
    return value


def check_vr(value: str, context: str) -> str:
    if value == "":
        return value
    parts = re.split(r"/| or ", value)
    if not all(part in VRS for part in parts):
        raise GenerationError(f"{context}: unknown VR {value!r}")
    return value


def check_vm(value: str, context: str) -> str:
    if not _VM_RE.fullmatch(value):
        raise GenerationError(f"{context}: malformed VM {value!r}")
    return value


def parse_tag(value: str, context: str) -> int:
    match = _TAG_RE.fullmatch(value)
    if not match:
        raise GenerationError(f"{context}: malformed tag {value!r}")
    return int(match.group(1) + match.group(2), 16)


def check_unique(keys: Iterable[object], context: str) -> None:
    seen: set[object] = set()
    for key in keys:
        if key in seen:
            raise GenerationError(f"{context}: duplicate key {key!r}")
        seen.add(key)


def read_edition(standard_dir: Path) -> str:
    provenance = standard_dir / "PROVENANCE.md"
    try:
        text = provenance.read_text(encoding="utf-8")
    except OSError as exc:
        raise GenerationError(f"cannot read {provenance} (or pass --edition): {exc}") from exc
    match = _EDITION_RE.search(text)
    if not match:
        raise GenerationError(f"{provenance}: no 'Newest edition found: **...**' line")
    return match.group(1)


def check_provenance_checksums(standard_dir: Path, tables: Iterable[CsvFile]) -> None:
    """Check the abbreviated checksums PROVENANCE.md quotes (``abcdef…wxyz``) against the files.

    The leading digits must match. The trailing ones are only reported: the 2026d notes quote
    wrong tails for two files whose content is verified against the independent 2026d parse.
    """
    provenance = standard_dir / "PROVENANCE.md"
    if not provenance.exists():
        return
    quoted = {
        m.group(1): (m.group(2), m.group(3))
        for m in _PROVENANCE_SHA_RE.finditer(provenance.read_text(encoding="utf-8"))
    }
    for table in tables:
        if table.name in quoted:
            head, tail = quoted[table.name]
            if not table.sha256.startswith(head):
                raise GenerationError(
                    f"{table.name}: sha256 {table.sha256} does not match PROVENANCE.md "
                    f"({head}…{tail})"
                )
            if not table.sha256.endswith(tail):
                print(
                    f"note: PROVENANCE.md quotes {head}…{tail} for {table.name}, "
                    f"its sha256 is {table.sha256}"
                )


# Cross-check against an independent parse of the same edition (pymedphys-<edition>/*.json,
# schema pymedphys-deid-table/1), when the data folder has one.
_PYMEDPHYS_OPTION_NAMES = {
    "retain_long_full_dates": "retain_longitudinal_full_dates",
    "retain_long_modified_dates": "retain_longitudinal_modified_dates",
}


def _load_pymedphys(folder: Path, name: str, edition: str) -> list[dict[str, object]]:
    path = folder / name
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GenerationError(f"cannot read {path}: {exc}") from exc
    if document.get("schema") != "pymedphys-deid-table/1" or document.get("edition") != edition:
        raise GenerationError(f"{path}: not a pymedphys-deid-table/1 document for {edition}")
    rows = document.get("rows")
    canonical = json.dumps(rows, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if hashlib.sha256(canonical.encode("utf-8")).hexdigest() != document.get("content_sha256"):
        raise GenerationError(f"{path}: rows do not match its content_sha256")
    if not isinstance(rows, list):
        raise GenerationError(f"{path}: rows is not a list")
    return rows


def _same_rows(ours: Iterable[object], theirs: Iterable[object], what: str) -> None:
    mine = sorted(json.dumps(row, sort_keys=True) for row in ours)
    other = sorted(json.dumps(row, sort_keys=True) for row in theirs)
    if mine != other:
        differing = sorted(set(mine).symmetric_difference(other))[:3]
        raise GenerationError(f"{what} differs from the independent parse, e.g. {differing}")


def cross_check_pymedphys(
    standard_dir: Path, edition: str, e1_1: CsvFile, codes: CsvFile, safe: CsvFile, cid: CsvFile
) -> bool:
    folder = standard_dir / f"pymedphys-{edition}"
    if not folder.is_dir():
        return False
    _same_rows(
        (
            {
                "name": name,
                "tag": tag,
                "retired": retired == "Y",
                "in_standard_iod": in_iod == "Y",
                "basic_profile": actions[0],
                "options": {
                    _PYMEDPHYS_OPTION_NAMES.get(column, column): action
                    for column, action in zip(E1_1_OPTION_COLUMNS[1:], actions[1:], strict=True)
                    if action
                },
            }
            for name, tag, retired, in_iod, *actions in e1_1.rows
        ),
        _load_pymedphys(folder, "e1_1.json", edition),
        e1_1.name,
    )
    _same_rows(
        ({"code": c, "description": d} for c, d in codes.rows),
        _load_pymedphys(folder, "e1_1a.json", edition),
        codes.name,
    )
    _same_rows(
        (dict(zip(safe.header, row, strict=True)) for row in safe.rows),
        _load_pymedphys(folder, "e3_10_1.json", edition),
        safe.name,
    )
    _same_rows(
        ({"scheme_designator": s, "code_value": v, "code_meaning": m} for s, v, m in cid.rows),
        _load_pymedphys(folder, "cid_7050.json", edition),
        cid.name,
    )
    return True


# ---------------------------------------------------------------------------------------------
# Tables


Row = tuple[object, ...]


def build_e1_1(table: CsvFile, edition: str) -> list[Row]:
    expect_header(table, E1_1_HEADER)
    expect_rows(table, edition)
    rows: list[Row] = []
    for index, raw in enumerate(table.rows):
        ctx = where(table, index)
        name, tag, retired, in_iod, *actions = raw
        if tag == PRIVATE_ATTRIBUTES_TAG:
            pattern = PRIVATE_ATTRIBUTES_PATTERN
        else:
            match = _E1_1_TAG_RE.fullmatch(tag.upper().replace("X", "x"))
            if not match:
                raise GenerationError(f"{ctx}: malformed tag {tag!r}")
            pattern = match.group(1) + match.group(2)
            if pattern.startswith("xx") or pattern == "x" * 8:
                raise GenerationError(f"{ctx}: implausible tag pattern {tag!r}")
        for column, action in zip(E1_1_OPTION_COLUMNS, actions, strict=True):
            check_action(action, f"{ctx} column {column}", allow_empty=column != "basic")
        rows.append(
            (
                pattern,
                check_text(name, ctx),
                parse_yes_no(retired, f"{ctx} retired"),
                parse_yes_no(in_iod, f"{ctx} in_std_comp_iod"),
                tuple(actions),
            )
        )
    check_unique((row[0] for row in rows), table.name)
    rows.sort(key=lambda row: str(row[0]))
    return rows


def build_action_codes(table: CsvFile, edition: str) -> list[Row]:
    expect_header(table, ("code", "description"))
    expect_rows(table, edition)
    rows: list[Row] = []
    for index, (code, description) in enumerate(table.rows):
        ctx = where(table, index)
        rows.append((check_action(code, ctx, allow_empty=False), check_text(description, ctx)))
    check_unique((row[0] for row in rows), table.name)
    if {row[0] for row in rows} != set(KNOWN_ACTION_CODES):
        raise GenerationError(
            f"{table.name}: codes {[row[0] for row in rows]} differ from {KNOWN_ACTION_CODES}"
        )
    return rows


def build_cid7050(table: CsvFile, edition: str) -> list[Row]:
    expect_header(table, ("coding_scheme_designator", "code_value", "code_meaning"))
    expect_rows(table, edition)
    rows: list[Row] = [
        tuple(check_text(cell, where(table, index)) for cell in raw)
        for index, raw in enumerate(table.rows)
    ]
    check_unique(((row[0], row[1]) for row in rows), table.name)
    return rows


def build_inserted(table: CsvFile, edition: str) -> list[Row]:
    header = table.header
    if len(header) != 9 or not header[8].startswith("quote_"):
        raise GenerationError(f"{table.name}: unexpected columns {list(header)}")
    expect_header(
        table,
        ("tag", "name", "keyword", "vr", "vm", "when", "value", "ps3_15_section", header[8]),
    )
    expect_rows(table, edition)
    rows: list[Row] = []
    for index, raw in enumerate(table.rows):
        ctx = where(table, index)
        tag, name, keyword, vr, vm, when, value, section, quote = raw
        check_text(name, ctx)
        check_text(quote, ctx)
        if not _KEYWORD_RE.fullmatch(keyword):
            raise GenerationError(f"{ctx}: malformed keyword {keyword!r}")
        if not _SECTION_RE.fullmatch(section):
            raise GenerationError(f"{ctx}: malformed section {section!r}")
        if not vr:
            raise GenerationError(f"{ctx}: empty VR")
        rows.append(
            (
                HexInt(parse_tag(tag, ctx)),
                keyword,
                check_vr(vr, ctx),
                check_vm(vm, ctx),
                check_text(when, ctx),
                check_text(value, ctx),
                section,
            )
        )
    check_unique(((row[0], row[4]) for row in rows), table.name)
    return rows


def build_safe_private(table: CsvFile, edition: str) -> list[Row]:
    expect_header(table, ("tag", "private_creator", "vr", "vm", "meaning"))
    expect_rows(table, edition)
    rows: list[Row] = []
    for index, (tag, creator, vr, vm, meaning) in enumerate(table.rows):
        ctx = where(table, index)
        match = _SAFE_PRIVATE_TAG_RE.fullmatch(tag)
        if not match:
            raise GenerationError(f"{ctx}: malformed private tag {tag!r}")
        group = int(match.group(1), 16)
        if group % 2 == 0:
            raise GenerationError(f"{ctx}: private tag {tag!r} has an even group")
        rows.append(
            (
                HexInt(group, 4),
                check_text(creator, ctx),
                HexInt(int(match.group(2), 16), 2),
                check_vr(vr, ctx),
                check_vm(vm, ctx),
                check_text(meaning, ctx, allow_empty=True),  # a few are published empty
            )
        )
    check_unique(((row[0], row[1], row[2]) for row in rows), table.name)
    return rows


def build_clean_structured_content(
    table: CsvFile, edition: str
) -> tuple[tuple[str, ...], list[Row]]:
    header = table.header
    if header[: len(CSC_FIXED_HEADER)] != CSC_FIXED_HEADER or len(header) <= len(CSC_FIXED_HEADER):
        raise GenerationError(f"{table.name}: unexpected columns {list(header)}")
    columns = header[len(CSC_FIXED_HEADER) :]
    if columns[0] != "basic" or not set(columns) <= set(E1_1_OPTION_COLUMNS):
        raise GenerationError(f"{table.name}: unexpected action columns {list(columns)}")
    expect_rows(table, edition)
    rows: list[Row] = []
    for index, raw in enumerate(table.rows):
        ctx = where(table, index)
        meaning, value, scheme, value_type, retired, in_template, *actions = raw
        if value_type not in SR_VALUE_TYPES:
            raise GenerationError(f"{ctx}: unknown value type {value_type!r}")
        parse_yes_no(retired, f"{ctx} retired")
        parse_yes_no(in_template, f"{ctx} in_std_template")
        for column, action in zip(columns, actions, strict=True):
            check_action(action, f"{ctx} column {column}", allow_empty=column != "basic")
        rows.append(
            (
                check_text(value, ctx),
                check_text(scheme, ctx),
                check_text(meaning, ctx),
                value_type,
                tuple(actions),
            )
        )
    check_unique(((row[0], row[1], row[3]) for row in rows), table.name)
    return columns, rows


# ---------------------------------------------------------------------------------------------
# TCIA private tag knowledge base


@dataclass(frozen=True)
class TciaElement:
    group: int
    creator: str | None  # None for a standard tag
    element: int  # full element for a standard tag, low byte for a private one

    def canonical(self) -> str:
        if self.creator is None:
            return f"({self.group:04X},{self.element:04X})"
        return f'({self.group:04X},"{self.creator}",{self.element:02X})'


def clean_creator(raw: str, context: str) -> str:
    creator = raw.strip()
    if creator.startswith('"'):
        creator = creator[1:]
    if creator.endswith('"'):
        creator = creator[:-1]
    creator = creator.strip()
    if '"' in creator or "[<" in creator:
        raise GenerationError(f"{context}: cannot clean private creator {raw!r}")
    format_str(creator)
    return creator


def parse_tcia_pattern(pattern: str, context: str) -> list[TciaElement]:
    pieces = _TCIA_SEPARATOR_RE.split(pattern)
    segments, depths = pieces[0::2], [int(d) for d in pieces[1::2]]
    if depths != list(range(len(depths))):
        raise GenerationError(f"{context}: nesting markers out of order in {pattern!r}")
    elements: list[TciaElement] = []
    for segment in segments:
        standard = _TCIA_STANDARD_RE.fullmatch(segment)
        if standard:
            group, element = int(standard.group(1), 16), int(standard.group(2), 16)
            elements.append(TciaElement(group, None, element))
            continue
        private = _TCIA_PRIVATE_RE.fullmatch(segment)
        if not private:
            raise GenerationError(f"{context}: malformed element {segment!r} in {pattern!r}")
        group = int(private.group(1), 16)
        if group % 2 == 0:
            raise GenerationError(f"{context}: private element in even group in {pattern!r}")
        creator = clean_creator(private.group(2), context)
        elements.append(TciaElement(group, creator, int(private.group(3), 16)))
    return elements


def build_tcia(table: CsvFile) -> tuple[list[tuple[str, ...]], int]:
    """Normalised rows and the number of rows left out (last element a standard tag)."""
    expect_header(table, TCIA_HEADER)
    rows: set[tuple[str, ...]] = set()
    skipped = 0
    for index, (pattern, tag_name, vr, disposition) in enumerate(table.rows):
        ctx = where(table, index)
        elements = parse_tcia_pattern(pattern, ctx)
        last = elements[-1]
        if last.creator is None:
            skipped += 1
            continue
        normalised = disposition.strip().lower()
        if normalised not in TCIA_DISPOSITIONS:
            raise GenerationError(f"{ctx}: unknown disposition {disposition!r}")
        parent = "".join(
            f"{element.canonical()}[<{depth}>]" for depth, element in enumerate(elements[:-1])
        )
        name = tag_name.strip()
        format_str(name)
        rows.add(
            (
                parent,
                f"{last.group:04X}",
                last.creator,
                f"{last.element:02X}",
                check_vr(vr.strip(), ctx),
                normalised,
                name,
            )
        )
    expected = EXPECTED_TCIA.get(table.name)
    if expected is None:
        print(f"note: {table.name}: {len(table.rows)} rows, {skipped} skipped (not pinned)")
    elif (len(table.rows), skipped) != expected:
        raise GenerationError(
            f"{table.name}: {len(table.rows)} rows with {skipped} standard-tag rows, "
            f"expected {expected[0]} with {expected[1]}"
        )
    # Sort key: group, creator, offset, then the rest, so related entries sit together.
    ordered = sorted(rows, key=lambda r: (r[1], r[2], r[3], r[0], r[4], r[5], r[6]))
    return ordered, skipped


def render_tcia(rows: Sequence[tuple[str, ...]]) -> bytes:
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(TCIA_OUTPUT_HEADER)
    writer.writerows(rows)
    raw = text.getvalue().encode("utf-8")
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(raw)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# Rendering and writing


def render_tables(
    edition: str,
    sources: dict[str, str],
    e1_1: list[Row],
    action_codes: list[Row],
    cid7050: list[Row],
    inserted: list[Row],
    safe_private: list[Row],
    csc_columns: tuple[str, ...],
    csc_rows: list[Row],
    csc_file: str,
    tcia_skipped: int,
) -> str:
    doc = f'''"""DICOM PS3.15 Annex E tables, edition {edition}, as Python data.

GENERATED by tools/generate_standard.py from the CSV files listed in SOURCES (see the data
folder's PROVENANCE.md); do not edit. Regenerate with ``make tables``.

Text (c) NEMA, DICOM Standard, copied as data.

- E1_1_ROWS: Table E.1-1, (tag_pattern, name, retired, in_std_comp_iod, actions) sorted by
  pattern. tag_pattern is 8 upper-case hex digits, "x" for a wildcard nibble ("50xxxxxx",
  "60xx3000", "60xx4000"), or "ggggeeee" for private attributes (odd groups). actions holds one
  code per E1_1_OPTION_COLUMNS entry, as published ("" when the option gives no override).
- ACTION_CODES: Table E.1-1a (code, description).
- CID7050: PS3.16 CID 7050 (coding scheme, code value, code meaning).
- INSERTED_ATTRIBUTES: (tag, keyword, VR, VM, when, value, PS3.15 section).
- SAFE_PRIVATE: Table E.3.10-1 (group, private creator, element offset = low byte of the
  "xxEE" element, VR ("" if none), VM, meaning).
- CLEAN_STRUCTURED_CONTENT: Table E.3.4-1 (code value, coding scheme, code meaning, value
  type, actions per CLEAN_STRUCTURED_CONTENT_COLUMNS), from
  {csc_file}.

The TCIA private tag knowledge base is normalised into tcia_private_kb.csv.gz by the same
script ({tcia_skipped} rows whose last element is a standard tag are left out).
"""
'''
    parts = [
        doc,
        format_assignment("EDITION", "str", edition),
        format_assignment("SOURCES", "dict[str, str]", sources),
        format_assignment("E1_1_OPTION_COLUMNS", "tuple[str, ...]", E1_1_OPTION_COLUMNS),
        format_assignment(
            "E1_1_ROWS", "tuple[tuple[str, str, bool, bool, tuple[str, ...]], ...]", tuple(e1_1)
        ),
        format_assignment("ACTION_CODES", "tuple[tuple[str, str], ...]", tuple(action_codes)),
        format_assignment("CID7050", "tuple[tuple[str, str, str], ...]", tuple(cid7050)),
        format_assignment(
            "INSERTED_ATTRIBUTES",
            "tuple[tuple[int, str, str, str, str, str, str], ...]",
            tuple(inserted),
        ),
        format_assignment(
            "SAFE_PRIVATE", "tuple[tuple[int, str, int, str, str, str], ...]", tuple(safe_private)
        ),
        format_assignment("CLEAN_STRUCTURED_CONTENT_COLUMNS", "tuple[str, ...]", csc_columns),
        format_assignment(
            "CLEAN_STRUCTURED_CONTENT",
            "tuple[tuple[str, str, str, str, tuple[str, ...]], ...]",
            tuple(csc_rows),
        ),
    ]
    return "\n".join(parts)


def write_outputs(output_dir: Path, outputs: dict[str, bytes]) -> None:
    """Write every output through a temporary file and a rename (all inputs already valid)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    for name, data in sorted(outputs.items()):
        target = output_dir / name
        fd, temp = tempfile.mkstemp(prefix=f".{name}.", dir=output_dir)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(temp, 0o644)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        print(f"wrote {target} ({len(data):,} bytes)")


def find_one(standard_dir: Path, pattern: str) -> Path:
    matches = sorted(standard_dir.glob(pattern))
    if len(matches) != 1:
        names = [m.name for m in matches]
        raise GenerationError(f"{standard_dir}: expected one {pattern!r}, found {names}")
    return matches[0]


def generate(standard_dir: Path, edition: str | None = None) -> dict[str, bytes]:
    """Read and validate every input, and return the outputs (file name -> bytes)."""
    if not standard_dir.is_dir():
        raise GenerationError(f"{standard_dir}: not a directory")
    edition = edition or read_edition(standard_dir)
    if not re.fullmatch(r"[0-9]{4}[a-z]", edition):
        raise GenerationError(f"malformed edition {edition!r}")
    e1_1_csv = read_csv(standard_dir / E1_1_FILE)
    codes_csv = read_csv(standard_dir / ACTION_CODES_FILE)
    cid_csv = read_csv(standard_dir / CID7050_FILE)
    inserted_csv = read_csv(standard_dir / INSERTED_FILE)
    safe_csv = read_csv(standard_dir / SAFE_PRIVATE_FILE)
    csc_csv = read_csv(find_one(standard_dir, CSC_GLOB))
    tcia_csv = read_csv(find_one(standard_dir, TCIA_GLOB))
    tables = [e1_1_csv, codes_csv, cid_csv, inserted_csv, safe_csv, csc_csv, tcia_csv]
    check_provenance_checksums(standard_dir, tables)
    for table in tables[:6]:
        check_cells(table)
    if cross_check_pymedphys(standard_dir, edition, e1_1_csv, codes_csv, safe_csv, cid_csv):
        print(f"cross-checked against {standard_dir / ('pymedphys-' + edition)}")

    csc_columns, csc_rows = build_clean_structured_content(csc_csv, edition)
    tcia_rows, tcia_skipped = build_tcia(tcia_csv)
    text = render_tables(
        edition=edition,
        sources={table.name: table.sha256 for table in sorted(tables, key=lambda t: t.name)},
        e1_1=build_e1_1(e1_1_csv, edition),
        action_codes=build_action_codes(codes_csv, edition),
        cid7050=build_cid7050(cid_csv, edition),
        inserted=build_inserted(inserted_csv, edition),
        safe_private=build_safe_private(safe_csv, edition),
        csc_columns=csc_columns,
        csc_rows=csc_rows,
        csc_file=csc_csv.name,
        tcia_skipped=tcia_skipped,
    )
    return {TABLES_FILE: text.encode("utf-8"), TCIA_OUTPUT_FILE: render_tcia(tcia_rows)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "standard_dir",
        nargs="?",
        type=Path,
        default=DEFAULT_STANDARD_DIR,
        help=f"folder with the PS3.15 CSV files (default: {DEFAULT_STANDARD_DIR})",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=DEFAULT_OUTPUT_DIR,
        help=f"where to write {TABLES_FILE} and {TCIA_OUTPUT_FILE} (default: %(default)s)",
    )
    parser.add_argument("--edition", help="edition to record (default: from PROVENANCE.md)")
    parser.add_argument(
        "--with-iod-types",
        action="store_true",
        help="also run tools/generate_iod_types.py into the same output folder",
    )
    args = parser.parse_args(argv)
    errors: tuple[type[Exception], ...] = (GenerationError,)
    if args.with_iod_types:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import generate_iod_types

        # That script imports this file as a module, a second copy with its own error class.
        errors = (GenerationError, generate_iod_types.GenerationError)
    try:
        outputs = generate(args.standard_dir, args.edition)
        if args.with_iod_types:
            outputs.update(generate_iod_types.generate())
    except errors as exc:
        print(f"error: {exc}; nothing was written", file=sys.stderr)
        return 1
    write_outputs(args.output_dir, outputs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
