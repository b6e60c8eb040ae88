"""The generated PS3.15 tables: reproducible from the data, faithful to it, and validated."""

from __future__ import annotations

import csv
import gzip
import hashlib
import importlib.util
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from idiscore.standard import EDITION, _tables, attribute_type, load_tcia_kb
from idiscore.standard.iod import iod_name, known_sop_classes
from idiscore.standard.tcia import DISPOSITIONS, PathElement, parse_sequence_path

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / "tools"
PACKAGE = REPO / "src" / "idiscore" / "standard"
#: the in-repository copy of the standard's tables (see its README.md)
STANDARD = REPO / "standard-data"
#: the project's shared standard folder, when the checkout sits beside it
SHARED_STANDARD = REPO.parent / "shared" / "standard"
E1_1_CSV = STANDARD / "confidentiality_profile_attributes.csv"
TCIA_CSV = STANDARD / "tcia_private_tag_kb_2024-02-01.csv"
CT = "1.2.840.10008.5.1.4.1.1.2"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def run_tool(script: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOLS / script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The standard tables generated twice, into two fresh folders."""
    folders = []
    for name in ("first", "second"):
        out = tmp_path_factory.mktemp(name)
        result = run_tool("generate_standard.py", STANDARD, "--output-dir", out)
        assert result.returncode == 0, result.stderr
        folders.append(out)
    return folders[0], folders[1]


# --- reproducibility -------------------------------------------------------------------------


def test_committed_tables_match_a_fresh_generation(regenerated: tuple[Path, Path]) -> None:
    first, _ = regenerated
    assert (first / "_tables.py").read_bytes() == (PACKAGE / "_tables.py").read_bytes()
    # zlib builds may compress differently, so the gzip is compared by content and header.
    committed = (PACKAGE / "tcia_private_kb.csv.gz").read_bytes()
    fresh = (first / "tcia_private_kb.csv.gz").read_bytes()
    assert gzip.decompress(fresh) == gzip.decompress(committed)
    assert committed[4:8] == b"\0\0\0\0"  # mtime 0
    assert committed[3] & 0x08 == 0  # no file name stored


def test_generation_is_byte_identical_across_runs(regenerated: tuple[Path, Path]) -> None:
    first, second = regenerated
    names = sorted(p.name for p in first.iterdir())
    assert names == ["_tables.py", "tcia_private_kb.csv.gz"]
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_generated_modules_are_ruff_formatted() -> None:
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.exists():
        pytest.skip("ruff not installed next to the interpreter")
    files = [PACKAGE / "_tables.py", PACKAGE / "_iod_types.py"]
    result = subprocess.run(
        [str(ruff), "format", "--check", "--line-length", "99", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_iod_types_match_a_fresh_generation(tmp_path: Path) -> None:
    from idiscore.standard import _iod_types

    spec = importlib.util.find_spec("highdicom")  # located, not imported
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("highdicom (a development dependency) is not installed")
    source = Path(next(iter(spec.submodule_search_locations))) / "_standard"
    for name, digest in _iod_types.SOURCES.items():
        if hashlib.sha256((source / name).read_bytes()).hexdigest() != digest:
            pytest.skip(f"installed highdicom differs from {_iod_types.SOURCE_PACKAGE}")
    result = run_tool("generate_iod_types.py", "--output-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    fresh = (tmp_path / "_iod_types.py").read_bytes()
    assert fresh == (PACKAGE / "_iod_types.py").read_bytes()
    assert len(fresh) < 3_000_000


# --- content ---------------------------------------------------------------------------------


def test_the_repository_holds_the_standard_data() -> None:
    """The data the generator and the conformance tests read ships with the code."""
    names = sorted(p.relative_to(STANDARD).as_posix() for p in STANDARD.rglob("*") if p.is_file())
    assert set(DATA_FILES) | {"PROVENANCE.md", "README.md"} <= set(names), names
    assert sorted(_tables.SOURCES) == sorted(n for n in names if n in _tables.SOURCES)
    assert all(name in names for name in _tables.SOURCES)


def test_the_repository_copy_equals_the_shared_standard_folder() -> None:
    if not SHARED_STANDARD.is_dir():
        pytest.skip(f"no shared standard folder at {SHARED_STANDARD} to compare with")
    for path in sorted(STANDARD.rglob("*")):
        if path.is_file() and path.name != "README.md":
            shared = SHARED_STANDARD / path.relative_to(STANDARD)
            assert shared.read_bytes() == path.read_bytes(), path.name


def test_the_generator_and_make_tables_read_the_repository_copy() -> None:
    spec = importlib.util.spec_from_file_location(
        "generate_standard", TOOLS / "generate_standard.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    assert module.DEFAULT_STANDARD_DIR == STANDARD
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^STANDARD \?= standard-data$", makefile, re.MULTILINE)


def test_edition_and_sources() -> None:
    assert EDITION == _tables.EDITION == "2026d"
    assert "confidentiality_profile_attributes.csv" in _tables.SOURCES
    assert all(re.fullmatch(r"[0-9a-f]{64}", d) for d in _tables.SOURCES.values())


def test_sources_are_the_checksums_of_the_data_files() -> None:
    for name, digest in _tables.SOURCES.items():
        assert hashlib.sha256((STANDARD / name).read_bytes()).hexdigest() == digest, name


def test_row_counts() -> None:
    assert len(_tables.E1_1_ROWS) == 657
    assert len(_tables.SAFE_PRIVATE) == 479
    assert len(_tables.CID7050) == 13
    assert len(_tables.ACTION_CODES) == 11
    assert len(_tables.INSERTED_ATTRIBUTES) == 8
    assert len(_tables.CLEAN_STRUCTURED_CONTENT) == 214


def test_basic_profile_code_distribution() -> None:
    expected = {
        "X": 417,
        "D": 93,
        "U": 55,
        "Z": 42,
        "X/D": 23,
        "X/Z": 11,
        "X/Z/D": 8,
        "Z/D": 6,
        "X/Z/U*": 2,
    }
    from_csv = Counter(row["basic"] for row in read_csv(E1_1_CSV))
    generated = Counter(actions[0] for *_, actions in _tables.E1_1_ROWS)
    assert from_csv == generated == expected


def test_every_e1_1_row_matches_the_csv() -> None:
    assert _tables.E1_1_OPTION_COLUMNS == (
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
    generated = {row[0]: row for row in _tables.E1_1_ROWS}
    special = {
        "(50xx,xxxx)": "50xxxxxx",
        "(60xx,3000)": "60xx3000",
        "(60xx,4000)": "60xx4000",
        "(gggg,eeee) where gggg is odd": "ggggeeee",
    }
    rows = read_csv(E1_1_CSV)
    for row in rows:
        pattern = special.get(row["tag"]) or row["tag"][1:5] + row["tag"][6:10]
        assert generated[pattern] == (
            pattern,
            row["name"],
            row["retired"] == "Y",
            row["in_std_comp_iod"] == "Y",
            tuple(row[column] for column in _tables.E1_1_OPTION_COLUMNS),
        )
    patterns = [row[0] for row in _tables.E1_1_ROWS]
    assert patterns == sorted(patterns)
    assert len(set(patterns)) == len(rows)


def test_tables_have_the_documented_shapes() -> None:
    assert ("00100010", "Patient's Name") in {row[:2] for row in _tables.E1_1_ROWS}
    assert {code for code, _ in _tables.ACTION_CODES} == {
        "D",
        "Z",
        "X",
        "K",
        "C",
        "U",
        "Z/D",
        "X/Z",
        "X/D",
        "X/Z/D",
        "X/Z/U*",
    }
    assert _tables.CID7050[0] == ("DCM", "113100", "Basic Application Confidentiality Profile")
    inserted = {(row[0], row[5]) for row in _tables.INSERTED_ATTRIBUTES}
    assert (0x00120062, "YES") in inserted
    assert (0x00280303, "REMOVED") in inserted
    lower_case_hex = [r for r in _tables.SAFE_PRIVATE if r[0] == 0x2001 and r[2] == 0x0A]
    assert lower_case_hex and lower_case_hex[0][1] == "Philips Imaging DD 001"
    assert all(row[0] % 2 == 1 and 0 <= row[2] <= 0xFF for row in _tables.SAFE_PRIVATE)
    assert sum(1 for row in _tables.SAFE_PRIVATE if row[3] == "") == 5
    columns = _tables.CLEAN_STRUCTURED_CONTENT_COLUMNS
    assert columns[0] == "basic"
    assert all(len(row[4]) == len(columns) for row in _tables.CLEAN_STRUCTURED_CONTENT)


# --- validation ------------------------------------------------------------------------------

DATA_FILES = (
    "confidentiality_profile_attributes.csv",
    "deidentification_action_codes.csv",
    "cid7050.csv",
    "deidentification_inserted_attributes.csv",
    "safe_private_attributes.csv",
    "clean_structured_content_concepts_2026c.csv",
    "tcia_private_tag_kb_2024-02-01.csv",
)


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def drop_last_line(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-1]), encoding="utf-8")


CORRUPTIONS = {
    "unknown action code": (
        lambda d: replace_once(d / DATA_FILES[0], '"(0008,0050)",N,Y,Z,', '"(0008,0050)",N,Y,Q,'),
        "unknown action code 'Q'",
    ),
    "malformed tag": (
        lambda d: replace_once(d / DATA_FILES[0], '"(0008,0050)"', '"(0008,005G)"'),
        "malformed tag",
    ),
    "missing row": (lambda d: drop_last_line(d / DATA_FILES[0]), "656 rows, expected 657"),
    "bad Y/N": (
        lambda d: replace_once(d / DATA_FILES[0], '"(0008,0050)",N,Y,', '"(0008,0050)",No,Y,'),
        "expected Y or N",
    ),
    "bad private tag": (
        lambda d: replace_once(d / DATA_FILES[4], '"(7053,xx00)"', '"(7053,0000)"'),
        "malformed private tag",
    ),
    "bad TCIA disposition": (
        lambda d: replace_once(
            d / DATA_FILES[6], "Image Actual Date,OB,oi", "Image Actual Date,OB,x"
        ),
        "unknown disposition 'x'",
    ),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_generator_refuses_corrupted_input_and_writes_nothing(
    corruption: str, tmp_path: Path
) -> None:
    data = tmp_path / "standard"
    data.mkdir()
    for name in DATA_FILES:  # no PROVENANCE.md: no checksum check, the edition is given
        shutil.copyfile(STANDARD / name, data / name)
    corrupt, message = CORRUPTIONS[corruption]
    corrupt(data)
    out = tmp_path / "out"
    out.mkdir()
    (out / "_tables.py").write_text("previous\n", encoding="utf-8")
    result = run_tool("generate_standard.py", data, "--output-dir", out, "--edition", "2026d")
    assert result.returncode == 1
    assert message in result.stderr
    assert "nothing was written" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["_tables.py"]
    assert (out / "_tables.py").read_text(encoding="utf-8") == "previous\n"


def test_generator_refuses_a_file_that_contradicts_provenance(tmp_path: Path) -> None:
    data = tmp_path / "standard"
    data.mkdir()
    for name in (*DATA_FILES, "PROVENANCE.md"):
        shutil.copyfile(STANDARD / name, data / name)
    replace_once(data / DATA_FILES[1], "keep (unchanged", "keep  (unchanged")
    out = tmp_path / "out"
    result = run_tool("generate_standard.py", data, "--output-dir", out)
    assert result.returncode == 1
    assert "does not match PROVENANCE.md" in result.stderr
    assert not out.exists()


# --- TCIA knowledge base ---------------------------------------------------------------------


def test_tcia_kb_loads_normalised_entries() -> None:
    kb = load_tcia_kb()
    assert load_tcia_kb() is kb  # cached
    assert 8000 < len(kb) < 8800
    assert {entry.disposition for entry in kb} <= DISPOSITIONS
    assert {"k", "d", "h", "o", "oi", "na", ""} == {entry.disposition for entry in kb}
    for entry in kb:
        assert entry.group % 2 == 1
        assert 0 <= entry.element_offset <= 0xFF
        assert '"' not in entry.private_creator
        assert entry.private_creator == entry.private_creator.strip()
        assert entry.tag_name == entry.tag_name.strip()
        parse_sequence_path(entry.sequence_path)  # canonical
    ramsoft = [
        e
        for e in kb
        if e.private_creator == "Ramsoft Diagnosis Datetime Identifier" and e.vr == "DA"
    ]
    assert len(ramsoft) == 1
    entry = ramsoft[0]
    assert (entry.sequence_path, entry.group, entry.element_offset, entry.disposition) == (
        "(0008,1084)[<0>]",
        0x312F,
        0x10,
        "d",
    )
    assert entry.parents == (PathElement(0x0008, None, 0x1084),)
    hologic = [e for e in kb if e.private_creator == "HOLOGIC, Inc." and e.group == 0x0019]
    assert hologic


def test_tcia_kb_keeps_every_private_element_row() -> None:
    rows = read_csv(TCIA_CSV)
    ends_with_standard_tag = re.compile(r"\([0-9a-fA-F]{4},[0-9a-fA-F]{4}\)$")
    private = [r for r in rows if not ends_with_standard_tag.search(r["element_sig_pattern"])]
    kb = load_tcia_kb()
    assert len(kb) == len(private) == 8233
    expected = Counter(r["private_disposition"].strip().lower() for r in private)
    assert Counter(entry.disposition for entry in kb) == expected


def test_parse_sequence_path() -> None:
    path = '(2001,"Philips Imaging DD 129",00)[<0>](0070,0001)[<1>]'
    assert parse_sequence_path(path) == (
        PathElement(0x2001, "Philips Imaging DD 129", 0x00),
        PathElement(0x0070, None, 0x0001),
    )
    assert parse_sequence_path("") == ()
    with pytest.raises(ValueError):
        parse_sequence_path("(0070,0001)[<1>]")


# --- IOD attribute Types ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        (0x00100010, "2"),  # Patient's Name
        (0x00100020, "2"),  # Patient ID
        (0x0020000D, "1"),  # Study Instance UID
        (0x00080050, "2"),  # Accession Number
        (0x0008103E, "3"),  # Series Description
        (0x00081140, "3"),  # Referenced Image Sequence
        (0x60023000, "1"),  # Overlay Data, repeating group 6002
        (0x300A00B0, None),  # Beam Sequence: not in the CT Image IOD
    ],
)
def test_attribute_type_in_ct_image(tag: int, expected: str | None) -> None:
    assert attribute_type(CT, tag) == expected


def test_attribute_type_nested_and_fallbacks() -> None:
    # Referenced SOP Instance UID inside Referenced Image Sequence is Type 1.
    assert attribute_type(CT, 0x00081155, (0x00081140,)) == "1"
    # Not listed at that nesting: its Type at another position of the IOD.
    assert attribute_type(CT, 0x00081155) == "1"
    # Code Meaning under Procedure Code Sequence (via the suffix of a deeper path).
    assert attribute_type(CT, 0x00080104, (0x99990010, 0x00081032)) == "1"
    enhanced_mr = "1.2.840.10008.5.1.4.1.1.4.1"
    assert attribute_type(enhanced_mr, 0x00189074, (0x52009230, 0x00209111)) == "1C"


def test_unknown_sop_class() -> None:
    assert attribute_type("1.2.3.4", 0x00100010) is None
    assert iod_name("1.2.3.4") is None
    assert iod_name(CT) == "ct-image"
    assert CT in known_sop_classes()
    assert len(known_sop_classes()) == 180
