"""The TCIA private tag knowledge base (edition 2024-02-01), normalised.

The Cancer Imaging Archive keeps a list of vendors' private elements with a disposition for
each. ``tools/generate_standard.py`` cleans it into ``tcia_private_kb.csv.gz`` (see that script
for the source format and the normalisation); this module loads it.

Dispositions: ``k`` keep, ``d`` delete, ``h`` hash (UIDs), ``o`` offset (a date or date-time),
``oi`` offset an integer date representation (e.g. seconds), ``na`` not applicable (e.g. a
sequence whose items are judged one by one), ``""`` no disposition recorded.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import re
from importlib import resources
from typing import NamedTuple

__all__ = ["DISPOSITIONS", "PathElement", "TCIAEntry", "load_tcia_kb", "parse_sequence_path"]

KB_FILE = "tcia_private_kb.csv.gz"
DISPOSITIONS = frozenset({"k", "d", "h", "o", "oi", "na", ""})
_COLUMNS = [
    "sequence_path",
    "group",
    "private_creator",
    "element_offset",
    "vr",
    "disposition",
    "tag_name",
]
_PATH_ELEMENT_RE = re.compile(
    r'\((?P<group>[0-9A-F]{4}),(?:(?P<element>[0-9A-F]{4})|"(?P<creator>[^"]*)",'
    r"(?P<offset>[0-9A-F]{2}))\)\[<(?P<depth>[0-9]+)>\]"
)


class PathElement(NamedTuple):
    """One enclosing sequence of a knowledge-base entry.

    ``private_creator`` is None for a standard tag, whose ``element`` is then the full element
    number; for a private sequence ``element`` is the offset (low byte) in the creator's block.
    """

    group: int
    private_creator: str | None
    element: int


class TCIAEntry(NamedTuple):
    """One private element of the TCIA knowledge base.

    ``sequence_path`` names the enclosing sequences from the top level, ``""`` at top level,
    written canonically: ``(GGGG,EEEE)`` for a standard tag, ``(GGGG,"Creator",EE)`` for a
    private one, each followed by ``[<depth>]``, e.g. ``(0008,1084)[<0>]``. Appending
    ``(GGGG,"Creator",EE)`` of this entry gives its full TCIA pattern. ``element_offset`` is the
    low byte of the element (the element is ``block << 8 | element_offset`` where the creator
    reserved ``block``). ``private_creator`` is ``""`` where TCIA recorded none; ``vr`` is
    ``""`` where unknown. The same element may appear once per VR seen by TCIA.
    """

    sequence_path: str
    group: int
    private_creator: str
    element_offset: int
    vr: str
    disposition: str
    tag_name: str

    @property
    def parents(self) -> tuple[PathElement, ...]:
        """The enclosing sequences, outermost first (``()`` at top level)."""
        return parse_sequence_path(self.sequence_path)


def parse_sequence_path(path: str) -> tuple[PathElement, ...]:
    """Split a canonical ``sequence_path`` into its elements.

    Raises ValueError when ``path`` is not in the canonical form written by the generator.
    """
    elements: list[PathElement] = []
    position = 0
    for match in _PATH_ELEMENT_RE.finditer(path):
        if match.start() != position or int(match["depth"]) != len(elements):
            break
        position = match.end()
        group = int(match["group"], 16)
        if match["element"] is not None:
            elements.append(PathElement(group, None, int(match["element"], 16)))
        else:
            elements.append(PathElement(group, match["creator"], int(match["offset"], 16)))
    if position != len(path):
        raise ValueError(f"not a canonical TCIA sequence path: {path!r}")
    return tuple(elements)


@functools.cache
def load_tcia_kb() -> tuple[TCIAEntry, ...]:
    """All entries of the knowledge base, in file order (read once, then cached)."""
    data = resources.files("idiscore.standard").joinpath(KB_FILE).read_bytes()
    text = gzip.decompress(data).decode("utf-8")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    if header != _COLUMNS:
        raise ValueError(f"{KB_FILE}: unexpected columns {header}")
    entries = []
    for path, group, creator, offset, vr, disposition, name in reader:
        if disposition not in DISPOSITIONS:
            raise ValueError(f"{KB_FILE}: unknown disposition {disposition!r}")
        entries.append(
            TCIAEntry(path, int(group, 16), creator, int(offset, 16), vr, disposition, name)
        )
    return tuple(entries)
