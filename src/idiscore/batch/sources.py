"""Discovery: turn files, folders and glob patterns into a stream of candidate inputs.

Discovery is a generator: a folder of a million files is walked lazily, one directory
listing at a time, in a deterministic order (names sorted), so that an interrupted run
resumed later sees the inputs in the same order.

Whether a file is DICOM is decided by :func:`sniff`, from its first bytes only:

* a DICOM file (PS3.10) has a 128-byte preamble followed by ``DICM``: accepted;
* a file without preamble is accepted only if it starts like a little-endian data set:
  the tag of a group 0x0002 or 0x0008 element followed by an explicit VR or a plausible
  implicit-VR length. Big-endian files without a preamble are not recognised;
* anything else (text, images, archives, empty files) is skipped with a reason.

A file can still turn out to be unreadable (truncated, corrupt) when it is read; that is
decided when the file is processed and counts as *failed*, not skipped.
"""

from __future__ import annotations

import glob
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from idiscore.errors import InputError

__all__ = [
    "SNIFF_BYTES",
    "Candidate",
    "Sniffed",
    "count_candidates",
    "discover",
    "is_glob",
    "sniff",
    "sniff_head",
]

_MAGIC = b"DICM"
_PREAMBLE = 128
#: how many bytes of a file :func:`sniff_head` needs
SNIFF_BYTES = _PREAMBLE + len(_MAGIC)
_GLOB_CHARS = frozenset("*?[")
_VR_LETTERS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass(frozen=True)
class Candidate:
    """One file found by discovery.

    ``path`` is absolute; ``relative`` is its path below ``root``, the input folder (or the
    fixed part of a glob pattern, or the folder holding a file given by name) that the
    mirror layout reproduces.
    """

    path: Path
    root: Path
    relative: Path
    error: str | None = None


@dataclass(frozen=True)
class Sniffed:
    """What the first bytes of a file say: DICOM (with or without preamble) or not."""

    is_dicom: bool
    has_preamble: bool = False
    reason: str = ""


def is_glob(text: str) -> bool:
    """True if ``text`` contains glob wildcards and does not name an existing path."""
    return any(c in _GLOB_CHARS for c in text) and not os.path.lexists(text)


def _glob_root(pattern: str) -> Path:
    """The fixed leading folders of a glob pattern (``data/*/x.dcm`` -> ``data``)."""
    parts = Path(pattern).parts
    fixed: list[str] = []
    for part in parts[:-1]:
        if any(c in _GLOB_CHARS for c in part):
            break
        fixed.append(part)
    return Path(*fixed).absolute() if fixed else Path.cwd()


def _walk(folder: Path, root: Path) -> Iterator[Candidate]:
    errors: list[OSError] = []

    def drain() -> Iterator[Candidate]:
        while errors:
            error = errors.pop(0)
            path = Path(os.fsdecode(error.filename or folder)).absolute()
            reason = f"cannot list folder: {error.strerror or error}"
            yield Candidate(path, root, _relative(path, root), error=reason)

    for dirpath, dirnames, filenames in os.walk(folder, onerror=errors.append):
        yield from drain()
        dirnames.sort()
        base = Path(dirpath)
        for name in sorted(filenames):
            path = base / name
            yield Candidate(path, root, path.relative_to(root))
    yield from drain()


def _relative(path: Path, root: Path) -> Path:
    try:
        return path.relative_to(root)
    except ValueError:
        return Path(path.name)


def _from_path(path: Path, root: Path | None) -> Iterator[Candidate]:
    path = path.absolute()
    if path.is_dir():
        yield from _walk(path, root if root is not None else path)
    elif root is not None:
        yield Candidate(path, root, path.relative_to(root))
    else:
        yield Candidate(path, path.parent, Path(path.name))


def discover(inputs: Iterable[str | os.PathLike[str]]) -> Iterator[Candidate]:
    """Yield every file below the given files, folders (recursively) and glob patterns.

    Folders are walked in sorted order without following symbolic links to folders.
    A glob pattern is expanded (``**`` included) in sorted order; its matches are placed
    relative to the pattern's fixed leading folders.

    Raises:
        InputError: an input does not exist (a pattern matching nothing yields nothing).
    """
    for item in inputs:
        text = os.fspath(item)
        if is_glob(text):
            root = _glob_root(text)
            for match in sorted(glob.glob(text, recursive=True)):
                path = Path(match).absolute()
                try:
                    path.relative_to(root)
                except ValueError:
                    yield from _from_path(path, None)
                else:
                    yield from _from_path(path, root)
            continue
        path = Path(text)
        if not os.path.lexists(path):
            raise InputError(f"input {text!r} does not exist")
        yield from _from_path(path, None)


def count_candidates(inputs: Iterable[str | os.PathLike[str]]) -> int:
    """How many files :func:`discover` would yield (names only; nothing is opened)."""
    return sum(1 for _ in discover(inputs))


def sniff(path: str | os.PathLike[str]) -> Sniffed:
    """Decide from its first bytes whether ``path`` holds DICOM (see the module docs).

    Raises:
        InputError: the file cannot be opened or read.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
            size = os.fstat(handle.fileno()).st_size
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}") from None
    return sniff_head(head, size)


def sniff_head(head: bytes, size: int) -> Sniffed:
    """:func:`sniff` for the first :data:`SNIFF_BYTES` bytes of a file of ``size`` bytes."""
    if not head:
        return Sniffed(False, reason="empty file")
    if len(head) == SNIFF_BYTES and head[_PREAMBLE:] == _MAGIC:
        return Sniffed(True, has_preamble=True)
    if _looks_like_bare_dataset(head, size):
        return Sniffed(True, has_preamble=False)
    return Sniffed(
        False, reason="not DICOM (no 'DICM' marker after a preamble, no data set at the start)"
    )


def _looks_like_bare_dataset(head: bytes, size: int) -> bool:
    """A little-endian data set (or file meta) starting without preamble?"""
    if len(head) < 8:
        return False
    group, element = struct.unpack("<HH", head[:4])
    if group not in (0x0002, 0x0008) or element > 0x1FFF:
        return False
    if head[4] in _VR_LETTERS and head[5] in _VR_LETTERS:
        return True  # explicit VR
    (length,) = struct.unpack("<I", head[4:8])
    return bool(length < size)  # implicit VR: a length that fits in the file
