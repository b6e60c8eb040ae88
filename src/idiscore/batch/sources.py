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
import stat
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from idiscore.errors import InputError
from idiscore.filekinds import kind_of, open_regular

__all__ = [
    "SNIFF_BYTES",
    "Candidate",
    "Sniffed",
    "check_inputs",
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
    """One entry found by discovery.

    ``path`` is the entry's folder with every symbolic link resolved, joined with the
    entry's name: the same file gets the same ``path`` however the input was spelled
    (through a symbolic link, ``../in`` from another folder), and a resumed run recognises
    it. ``relative`` is its path below ``root``, the input folder (or the fixed part of a
    glob pattern, or the folder holding a file given by name) that the mirror layout
    reproduces. ``error`` (it cannot be read: failed) and ``skip`` (it is not a regular
    file: skipped) give a reason when the entry is not an input to process.
    """

    path: Path
    root: Path
    relative: Path
    error: str | None = None
    skip: str | None = None


@dataclass(frozen=True)
class Sniffed:
    """What the first bytes of a file say: DICOM (with or without preamble) or not."""

    is_dicom: bool
    has_preamble: bool = False
    reason: str = ""


def is_glob(text: str) -> bool:
    """True if ``text`` contains glob wildcards and does not name an existing path."""
    return any(c in _GLOB_CHARS for c in text) and not os.path.lexists(text)


def check_inputs(inputs: Iterable[str | os.PathLike[str]]) -> None:
    """Raise :class:`InputError` for an input that does not exist or a glob pattern that
    matches nothing (before a batch starts: nothing is written)."""
    for item in inputs:
        text = os.fspath(item)
        if is_glob(text):
            if next(glob.iglob(text, recursive=True), None) is None:
                raise InputError(f"the pattern {text!r} matches no file")
        elif not os.path.lexists(text):
            raise InputError(f"input {text!r} does not exist")


def _glob_root(pattern: str) -> Path:
    """The fixed leading folders of a glob pattern (``data/*/x.dcm`` -> ``data``), resolved."""
    parts = Path(pattern).parts
    fixed: list[str] = []
    for part in parts[:-1]:
        if any(c in _GLOB_CHARS for c in part):
            break
        fixed.append(part)
    return Path(os.path.realpath(Path(*fixed))) if fixed else Path(os.path.realpath("."))


def _real_entry(path: str | os.PathLike[str]) -> Path:
    """``path`` with its folder resolved (the entry itself, a link or not, kept)."""
    folder, name = os.path.split(os.path.abspath(path))
    return Path(os.path.realpath(folder), name)


class _Walker:
    """Walks folders in sorted order, following symbolic links to folders once each.

    ``seen`` holds (device, inode) of every folder entered, so a link cycle or a second
    link to a folder already walked is reported (skipped) instead of walked again;
    folders inside ``exclude`` (the output and quarantine folders, resolved) are not
    entered.
    """

    def __init__(self, exclude: tuple[Path, ...]) -> None:
        self.exclude = exclude
        self.seen: set[tuple[int, int]] = set()

    def excluded(self, real: Path) -> bool:
        return any(real == folder or folder in real.parents for folder in self.exclude)

    def enter(self, real: Path) -> str | None:
        """Why the folder cannot be walked (None: walk it; it is now seen)."""
        if self.excluded(real):
            return "the output or quarantine folder (never read back)"
        try:
            info = os.stat(real)
        except OSError as exc:
            return f"cannot list folder: {exc.strerror or exc}"
        key = (info.st_dev, info.st_ino)
        if key in self.seen:
            return "symbolic link to a folder already walked (a cycle, or a second link)"
        self.seen.add(key)
        return None

    def walk(self, real: Path, root: Path, relative: Path) -> Iterator[Candidate]:
        """Every entry below ``real`` (already entered), files of a folder first."""
        stack = [(real, relative)]
        while stack:
            folder, below = stack.pop()
            try:
                with os.scandir(folder) as listing:
                    entries = sorted(listing, key=lambda entry: entry.name)
            except OSError as exc:
                reason = f"cannot list folder: {exc.strerror or exc}"
                yield Candidate(folder, root, below, error=reason)
                continue
            folders: list[tuple[Path, Path]] = []
            for entry in entries:
                path = folder / entry.name
                relative_path = below / entry.name
                try:
                    if entry.is_dir(follow_symlinks=False):
                        why = self.enter(path)
                        if why is None:
                            folders.append((path, relative_path))
                        else:
                            yield Candidate(path, root, relative_path, skip=why)
                        continue
                    if entry.is_file(follow_symlinks=False):
                        yield Candidate(path, root, relative_path)
                        continue
                    yield from self._other(entry, path, root, relative_path, folders)
                except OSError as exc:
                    reason = f"cannot read file: {exc.strerror or exc}"
                    yield Candidate(path, root, relative_path, error=reason)
            # depth first, in sorted order: the stack pops the first folder first
            stack.extend(reversed(folders))

    def _other(
        self,
        entry: os.DirEntry[str],
        path: Path,
        root: Path,
        relative: Path,
        folders: list[tuple[Path, Path]],
    ) -> Iterator[Candidate]:
        """A symbolic link, FIFO, socket or device."""
        if entry.is_symlink():
            try:
                target = os.stat(path)
            except OSError:
                yield Candidate(path, root, relative, skip="broken symbolic link")
                return
            if stat.S_ISDIR(target.st_mode):
                real = Path(os.path.realpath(path))
                reason = self.enter(real)
                if reason is None:
                    folders.append((real, relative))
                else:
                    yield Candidate(path, root, relative, skip=reason)
                return
            mode = target.st_mode
        else:
            mode = entry.stat(follow_symlinks=False).st_mode
        kind = kind_of(mode)
        if kind is None:
            yield Candidate(path, root, relative)
        else:
            yield Candidate(path, root, relative, skip=f"not a regular file: {kind}")


def _from_path(text: str, root: Path | None, walker: _Walker) -> Iterator[Candidate]:
    """The candidates of one input path (a glob match when ``root`` is given)."""
    entry = _real_entry(text)
    try:
        info = os.stat(text)
    except OSError as exc:
        reason = f"cannot read file: {exc.strerror or exc}"
        if os.path.islink(text):
            yield Candidate(entry, entry.parent, Path(entry.name), skip="broken symbolic link")
        else:
            yield Candidate(entry, entry.parent, Path(entry.name), error=reason)
        return
    if stat.S_ISDIR(info.st_mode):
        real = Path(os.path.realpath(text))
        why = walker.enter(real)
        folder_root = root if root is not None else real
        relative = _relative(real, folder_root) if root is not None else Path()
        if why is None:
            yield from walker.walk(real, folder_root, relative)
        else:
            yield Candidate(entry, entry.parent, Path(entry.name), skip=why)
        return
    if root is not None and (entry == root or root in entry.parents):
        base, relative = root, entry.relative_to(root)
    else:
        base, relative = entry.parent, Path(entry.name)
    kind = kind_of(info.st_mode)
    skip = None if kind is None else f"not a regular file: {kind}"
    yield Candidate(entry, base, relative, skip=skip)


def _relative(path: Path, root: Path) -> Path:
    try:
        return path.relative_to(root)
    except ValueError:
        return Path(path.name)


def discover(
    inputs: Iterable[str | os.PathLike[str]], *, exclude: Iterable[str | os.PathLike[str]] = ()
) -> Iterator[Candidate]:
    """Yield every entry below the given files, folders (recursively) and glob patterns.

    Folders are walked in sorted order (the files of a folder before its sub-folders).
    Symbolic links to folders are followed, each folder once: a link cycle, or a second
    link to a folder already walked, is yielded as skipped. Nothing is opened: FIFOs,
    sockets, devices and broken links are classified with ``stat`` and yielded with a
    ``skip`` reason. Folders inside ``exclude`` (the output and quarantine folders) are
    never entered. A glob pattern is expanded (``**`` included) in sorted order; its
    matches are placed relative to the pattern's fixed leading folders (a match outside
    them, through ``..``, relative to its own folder).

    Raises:
        InputError: an input does not exist (a pattern matching nothing yields nothing;
            :func:`check_inputs` refuses it).
    """
    excluded = tuple(Path(os.path.realpath(os.fspath(folder))) for folder in exclude)
    for item in inputs:
        walker = _Walker(excluded)
        text = os.fspath(item)
        if is_glob(text):
            root = _glob_root(text)
            for match in sorted(glob.glob(text, recursive=True)):
                yield from _from_path(match, root, walker)
            continue
        if not os.path.lexists(text):
            raise InputError(f"input {text!r} does not exist")
        yield from _from_path(text, None, walker)


def count_candidates(inputs: Iterable[str | os.PathLike[str]]) -> int:
    """How many entries :func:`discover` would yield (names only; nothing is opened)."""
    return sum(1 for _ in discover(inputs))


def sniff(path: str | os.PathLike[str]) -> Sniffed:
    """Decide from its first bytes whether ``path`` holds DICOM (see the module docs).

    Raises:
        InputError: the file is not a regular file (checked before opening), or cannot be
            opened or read.
    """
    try:
        with open_regular(path) as handle:  # never a FIFO or a device
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
