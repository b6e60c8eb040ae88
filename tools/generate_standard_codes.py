"""Generate ``src/idiscore/standard/standard_codes.txt.gz`` from pydicom's concept dictionaries.

    .venv/bin/python tools/generate_standard_codes.py

The table lists every standard code that :mod:`idiscore.operators.codes` lets survive:
each (scheme, code value) of ``pydicom.sr._concepts_dict.concepts`` (DCM, SCT, LN, UCUM,
NCIt, RADLEX, MDC, FMA ...) with its code meanings, and each legacy SNOMED-RT (``SRT``)
code of pydicom's SRT -> SCT map with the meanings of its SCT code. One line per code:
``SCHEME<TAB>value<TAB>meaning<TAB>meaning...``, schemes upper-cased, meanings normalised
(case folded, white space removed, as compared), lines sorted. The header names the
pydicom version it came from. Shipping the table (instead of reading pydicom's modules at
run time) keeps outputs independent of the installed pydicom and costs about 5 MB of
memory instead of about 24 MB.
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "src" / "idiscore" / "standard" / "standard_codes.txt.gz"


def normalise_meaning(meaning: str) -> str:
    """As :func:`idiscore.operators.codes.normalise_meaning` (kept in step by a test)."""
    return "".join(meaning.split()).casefold()


def build() -> bytes:
    """The table's bytes (gzip with a fixed header time: the same input, the same bytes)."""
    import pydicom
    from pydicom.sr._concepts_dict import concepts
    from pydicom.sr._snomed_dict import mapping

    meanings: dict[tuple[str, str], set[str]] = {}
    for scheme, names in concepts.items():
        for codes in names.values():
            for value, (meaning, _cids) in codes.items():
                key = (scheme.upper(), value.strip())
                meanings.setdefault(key, set()).add(normalise_meaning(meaning))
    for old, sct in mapping.get("SRT", {}).items():
        found = meanings.get(("SCT", sct))
        if found:
            meanings.setdefault(("SRT", old.strip()), set()).update(found)
    lines = [
        "\t".join((scheme, value, *sorted(found)))
        for (scheme, value), found in sorted(meanings.items())
    ]
    header = (
        f"# standard codes of pydicom {pydicom.__version__} (pydicom.sr concepts and the "
        "SRT -> SCT map); SCHEME<TAB>value<TAB>normalised meanings; "
        "tools/generate_standard_codes.py"
    )
    text = "\n".join([header, *lines]) + "\n"
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=TARGET)
    args = parser.parse_args()
    data = build()
    args.output.write_bytes(data)
    print(f"wrote {args.output} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
