#!/usr/bin/env python3
"""Generate ``src/idiscore/standard/_iod_types.py``: the Type of every attribute in each IOD.

Usage::

    python tools/generate_iod_types.py [--source-dir DIR] [--output-dir DIR]

(``python tools/generate_standard.py --with-iod-types`` runs it too.)

The data is DICOM PS3.3 (IOD -> modules -> attributes with their Type 1/1C/2/2C/3) as
shipped in the highdicom wheel (``highdicom/_standard/*.json``). highdicom is a development
dependency used only here; the generated module needs nothing but the standard library.
``--source-dir`` can point at another folder holding the same three JSON files.

Keywords are turned into tags with pydicom's data dictionary. Repeating-group attributes
(overlays, ``60xx``) are stored with group 6000. Attributes whose Type highdicom records as
``None`` (DIMSE/normalized modules, which have no Type) are left out; modules that an IOD
references but for which highdicom has no attribute table are listed in MISSING_MODULES.
Only the IODs reachable from a SOP Class, and their modules, are kept.

Layout of the generated module (compact: tags and paths are interned, see ``iod.py``):

``TYPES``
    ``("1", "1C", "2", "2C", "3")``; an entry stores the index (lower is stricter).
``PATHS``
    ``(parent_index, sequence_tag)`` per nesting position; index 0 (a placeholder entry) is
    the top level, so a path is rebuilt by following parent indices back to 0.
``MODULES``
    module key -> space-separated entries ``TTTTTTTTnP``: tag (8 hex digits), Type index (one
    digit), path index (hex) of the enclosing sequences.
``IODS``
    IOD key -> module keys. ``SOP_CLASS_IODS``: SOP Class UID -> IOD key.

Output is deterministic: sorted keys, no timestamps; the sha256 of each JSON file and the
highdicom version are recorded in ``SOURCES``/``SOURCE_PACKAGE``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_standard import (
    DEFAULT_OUTPUT_DIR,
    GenerationError,
    HexInt,
    format_assignment,
    format_literal,
    format_str,
    write_outputs,
)

OUTPUT_FILE = "_iod_types.py"
JSON_FILES = ("iod_module_map.json", "module_attribute_map.json", "sop_class_iod_map.json")
TYPES = ("1", "1C", "2", "2C", "3")
# Even groups of the repeating-group ranges (PS3.5 7.6), stored under their first group.
REPEATING_GROUPS = ((0x5000, 0x501E), (0x6000, 0x601E))


def highdicom_source() -> tuple[Path, str]:
    spec = importlib.util.find_spec("highdicom")
    if spec is None or not spec.submodule_search_locations:
        raise GenerationError("highdicom is not installed (pip install -e '.[dev]')")
    folder = Path(next(iter(spec.submodule_search_locations))) / "_standard"
    return folder, f"highdicom {importlib.metadata.version('highdicom')}"


def keyword_to_tag() -> dict[str, int]:
    """Every keyword pydicom knows, repeating-group masks resolved to their first group."""
    try:
        from pydicom._dicom_dict import DicomDictionary, RepeatersDictionary
    except ImportError as exc:
        raise GenerationError(f"pydicom is needed to map keywords to tags: {exc}") from exc
    mapping = {entry[4]: tag for tag, entry in DicomDictionary.items() if entry[4]}
    for mask, entry in RepeatersDictionary.items():
        keyword = entry[4]
        if not keyword or keyword in mapping:
            continue
        tag = int(mask.replace("x", "0"), 16)
        group = tag >> 16
        if "x" in mask[4:] or not any(low <= group <= high for low, high in REPEATING_GROUPS):
            continue  # not a repeating group this table can represent
        mapping[keyword] = tag
    return mapping


def load(folder: Path) -> tuple[dict[str, object], dict[str, str]]:
    documents: dict[str, object] = {}
    sources: dict[str, str] = {}
    for name in JSON_FILES:
        path = folder / name
        try:
            data = path.read_bytes()
            documents[name] = json.loads(data)
        except (OSError, ValueError) as exc:
            raise GenerationError(f"cannot read {path}: {exc}") from exc
        sources[name] = hashlib.sha256(data).hexdigest()
    return documents, sources


Built = tuple[
    list[tuple[int, int]],  # PATHS
    dict[str, str],  # MODULES
    dict[str, tuple[str, ...]],  # IODS
    dict[str, str],  # SOP_CLASS_IODS
    list[str],  # MISSING_MODULES
    int,  # untyped entries left out
]


def build(documents: dict[str, object], tags: dict[str, int]) -> Built:
    sop_classes = documents["sop_class_iod_map.json"]
    iod_modules = documents["iod_module_map.json"]
    module_attributes = documents["module_attribute_map.json"]
    if not (
        isinstance(sop_classes, dict)
        and isinstance(iod_modules, dict)
        and isinstance(module_attributes, dict)
    ):
        raise GenerationError("the highdicom JSON files are not mappings")

    sop_class_iods: dict[str, str] = {}
    for uid, iod in sorted(sop_classes.items()):
        if not isinstance(iod, str) or iod not in iod_modules:
            raise GenerationError(f"SOP Class {uid}: unknown IOD {iod!r}")
        if not all(part.isdigit() for part in uid.split(".")):
            raise GenerationError(f"malformed SOP Class UID {uid!r}")
        sop_class_iods[uid] = iod

    iods: dict[str, tuple[str, ...]] = {}
    missing: set[str] = set()
    for iod in sorted(set(sop_class_iods.values())):
        keys: list[str] = []
        for module in iod_modules[iod]:
            key = module.get("key") if isinstance(module, dict) else None
            if not isinstance(key, str):
                raise GenerationError(f"IOD {iod}: malformed module entry {module!r}")
            if key not in module_attributes:
                missing.add(key)
                continue
            if key not in keys:
                keys.append(key)
        iods[iod] = tuple(keys)

    paths: dict[tuple[int, ...], int] = {(): 0}
    path_entries: list[tuple[int, int]] = [(0, 0)]

    def path_index(path: tuple[int, ...]) -> int:
        if path not in paths:
            parent = path_index(path[:-1])
            paths[path] = len(path_entries)
            path_entries.append((parent, path[-1]))
        return paths[path]

    def tag_of(keyword: object, module: str) -> int:
        if not isinstance(keyword, str) or keyword not in tags:
            raise GenerationError(f"module {module}: keyword {keyword!r} unknown to pydicom")
        return tags[keyword]

    modules: dict[str, str] = {}
    untyped = 0
    for module in sorted({key for keys in iods.values() for key in keys}):
        best: dict[tuple[tuple[int, ...], int], int] = {}
        for attribute in module_attributes[module]:
            kind = attribute.get("type")
            if kind == "None":
                untyped += 1
                continue
            if kind not in TYPES:
                raise GenerationError(f"module {module}: unknown Type {kind!r} in {attribute}")
            raw_path = attribute.get("path")
            if not isinstance(raw_path, list):
                raise GenerationError(f"module {module}: malformed path in {attribute}")
            path = tuple(tag_of(keyword, module) for keyword in raw_path)
            key = (path, tag_of(attribute.get("keyword"), module))
            rank = TYPES.index(kind)
            best[key] = min(rank, best.get(key, rank))
        # Entries in order of first appearance (the module table's order) for readable diffs.
        modules[module] = " ".join(
            f"{tag:08X}{rank}{path_index(path):X}" for (path, tag), rank in best.items()
        )
    return path_entries, modules, iods, sop_class_iods, sorted(missing), untyped


def render_modules(modules: dict[str, str]) -> str:
    lines = ["MODULES: dict[str, str] = {"]
    for key, text in modules.items():
        head = f"    {format_str(key)}: "
        if len(head) + len(text) + 3 <= 99:
            lines.append(f"{head}{format_str(text)},")
            continue
        lines.append(f"{head}(")
        if 8 + len(text) + 2 <= 99:
            chunks = [text]  # ruff format joins an implicit concatenation that fits one line
        else:
            chunks = textwrap.wrap(text, width=86, break_on_hyphens=False, break_long_words=False)
        for number, chunk in enumerate(chunks):
            tail = "" if number == len(chunks) - 1 else " "
            lines.append(f"        {format_str(chunk + tail)}")
        lines.append("    ),")
    lines.append("}")
    return "\n".join(lines) + "\n"


def generate(source_dir: Path | None = None) -> dict[str, bytes]:
    """Read and validate the highdicom tables; return {file name: bytes}."""
    if source_dir is None:
        source_dir, package = highdicom_source()
    else:
        package = f"files in {source_dir.name}"
    documents, sources = load(source_dir)
    path_entries, modules, iods, sop_class_iods, missing, untyped = build(
        documents, keyword_to_tag()
    )
    entries = sum(len(text.split()) for text in modules.values())
    doc = f'''"""Attribute Type (1, 1C, 2, 2C, 3) per IOD, DICOM PS3.3 as packaged by {package}.

GENERATED by tools/generate_iod_types.py; do not edit. Read it through idiscore.standard.iod.
Layout: see the generator's docstring.

- {len(sop_class_iods)} SOP Classes, {len(iods)} IODs, {len(modules)} modules
- {entries} attribute entries, {len(path_entries) - 1} sequence paths
- {untyped} untyped entries (DIMSE/normalized modules) left out
"""
'''
    parts = [
        doc,
        format_assignment("SOURCE_PACKAGE", "str", package),
        format_assignment("SOURCES", "dict[str, str]", sources),
        format_assignment("TYPES", "tuple[str, ...]", TYPES),
        format_assignment("MISSING_MODULES", "tuple[str, ...]", tuple(missing)),
        format_assignment("SOP_CLASS_IODS", "dict[str, str]", sop_class_iods),
        format_assignment("IODS", "dict[str, tuple[str, ...]]", iods),
        "PATHS: tuple[tuple[int, int], ...] = "
        + format_literal(tuple((p, HexInt(t)) for p, t in path_entries), 0, "", explode=True)
        + "\n",
        render_modules(modules),
    ]
    return {OUTPUT_FILE: "\n".join(parts).encode("utf-8")}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the IOD attribute Type table.")
    parser.add_argument(
        "--source-dir",
        type=Path,
        default=None,
        help="folder with the highdicom JSON files (default: the installed highdicom)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=DEFAULT_OUTPUT_DIR,
        help=f"where to write {OUTPUT_FILE} (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    try:
        outputs = generate(args.source_dir)
    except GenerationError as exc:
        print(f"error: {exc}; nothing was written", file=sys.stderr)
        return 1
    write_outputs(args.output_dir, outputs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
