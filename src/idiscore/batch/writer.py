"""Where outputs go (layouts) and how they are written (atomically).

Layouts:

``mirror``   the input tree, relative to its input root: ``in/a/b/x.dcm`` -> ``out/a/b/x.dcm``.
             File and folder names are copied as they are (they may hold identifying
             text; use ``patient`` when they do).
``patient``  ``<PatientID>/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``
             from the *de-identified* values, each made safe as a file name.

Every file is first written completely to a temporary file in its destination folder
and only then renamed over its final name with :func:`os.replace`, so an interrupted or
killed run never leaves a partial output file under its final name. Whether the file is
also fsynced before the rename (``fsync=True``, the default of these functions) or later,
in a group with others, is the batch's durability policy (see
:mod:`idiscore.batch.durability`).

Temporary names are unique to the writing process and carry a mark only idiscore makes:
``.idiscore-<pid>-<random>-<check>.tmp``, where ``<check>`` is a keyed hash of what precedes
it (:func:`is_temp_name`). Two processes never write to the same temporary file, and a run
killed outright leaves temporary files that :func:`sweep_temp_files` removes (a resumed run
does so before it starts) -- only those: a user's file named ``.idiscore-notes.tmp`` lacks
the mark and is never touched.

:func:`inside` checks that a destination resolves inside the output folder (no ``..``, no
symbolic link leading out of it) before anything is written there.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import stat
from pathlib import Path
from typing import Any, BinaryIO

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from idiscore.errors import InputError
from idiscore.fileio import save
from idiscore.filekinds import open_regular

__all__ = [
    "LAYOUTS",
    "TEMP_PREFIX",
    "TEMP_SUFFIX",
    "commit",
    "copy_to_quarantine",
    "discard",
    "fsync_folder",
    "fsync_path",
    "inside",
    "is_temp_name",
    "new_temp_name",
    "output_path",
    "safe_name",
    "same_content",
    "sweep_temp_files",
    "temp_token",
    "write_dataset",
    "write_temp",
]

LAYOUTS = ("mirror", "patient")
TEMP_PREFIX = ".idiscore-"
TEMP_SUFFIX = ".tmp"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}
)
_MAX_NAME = 100


def safe_name(value: Any, placeholder: str) -> str:
    """``value`` as one portable file name component (``placeholder`` if nothing is left).

    Keeps letters, digits, ``.``, ``_`` and ``-``; every other run of characters becomes
    ``_``. Leading dots become ``_`` (no hidden files, no ``..``); Windows device names are
    prefixed.
    """
    text = "" if value is None else str(value).strip(" \x00")
    text = _UNSAFE.sub("_", text)[:_MAX_NAME]
    dots = len(text) - len(text.lstrip("."))
    text = "_" * dots + text[dots:]
    if not text.strip("._"):
        return placeholder
    if text.split(".")[0].upper() in _RESERVED:
        text = "_" + text
    return text


def output_path(dataset: Dataset, relative: Path, output: Path, layout: str) -> Path:
    """The path of the de-identified ``dataset`` below ``output``."""
    if layout == "mirror":
        return output / relative
    if layout == "patient":
        parts = [
            safe_name(dataset.get("PatientID"), "NO_PATIENT_ID"),
            safe_name(dataset.get("StudyInstanceUID"), "NO_STUDY_UID"),
            safe_name(dataset.get("SeriesInstanceUID"), "NO_SERIES_UID"),
            safe_name(dataset.get("SOPInstanceUID"), "NO_SOP_INSTANCE_UID") + ".dcm",
        ]
        return output.joinpath(*parts)
    raise ValueError(f"unknown layout {layout!r}; choose from {', '.join(LAYOUTS)}")


def temp_token(*parts: str) -> str:
    """A short token, the same for the same parts (kept for callers; temporary names no
    longer depend on it)."""
    digest = hashlib.blake2b("\x00".join(parts).encode("utf-8", "surrogateescape"))
    return digest.hexdigest()[:20]


_MARK_KEY = b"idiscore temporary file v1"
_TEMP_NAME = re.compile(
    re.escape(TEMP_PREFIX) + r"([0-9a-f]+-[0-9a-f]{16})-([0-9a-f]{10})" + re.escape(TEMP_SUFFIX)
)


def _check(body: str) -> str:
    return hashlib.blake2b(body.encode("ascii"), key=_MARK_KEY, digest_size=5).hexdigest()


def new_temp_name() -> str:
    """A temporary file name unique to this process and call, with idiscore's mark."""
    body = f"{os.getpid():x}-{secrets.token_hex(8)}"
    return f"{TEMP_PREFIX}{body}-{_check(body)}{TEMP_SUFFIX}"


def is_temp_name(name: str) -> bool:
    """True only for a name :func:`new_temp_name` made (its mark checks out)."""
    match = _TEMP_NAME.fullmatch(name)
    return match is not None and secrets.compare_digest(_check(match[1]), match[2])


def _temp_for(destination: Path, token: str | None = None) -> Path:
    return destination.parent / new_temp_name()


def inside(destination: Path, output_real: str) -> bool:
    """True if ``destination``'s folder, symbolic links resolved, is ``output_real`` (a
    resolved folder) or below it, and its name is a plain name."""
    name = destination.name
    if name in ("", ".", "..") or "/" in name or (os.altsep and os.altsep in name):
        return False
    folder = os.path.realpath(destination.parent)
    return folder == output_real or folder.startswith(output_real.rstrip(os.sep) + os.sep)


def _prepare(dataset: Dataset) -> None:
    """Give a dataset read without file meta a transfer syntax and a preamble."""
    meta = getattr(dataset, "file_meta", None)
    if meta is None:
        meta = FileMetaDataset()
        dataset.file_meta = meta
    if "TransferSyntaxUID" not in meta:
        implicit, little = dataset.original_encoding
        if implicit is False and little is False:
            meta.TransferSyntaxUID = ExplicitVRBigEndian
        elif implicit is False:
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
        else:
            meta.TransferSyntaxUID = ImplicitVRLittleEndian
    if not getattr(dataset, "preamble", None):
        dataset.preamble = b"\x00" * 128


_REQUIRED_META = (0x00020001, 0x00020002, 0x00020003, 0x00020010, 0x00020012)


def _complete_meta(dataset: Dataset) -> bool:
    """True when ``dataset`` has a preamble and the PS3.10 file meta a de-identified
    dataset gets from the Core (so enforcing the file format would add nothing)."""
    meta = getattr(dataset, "file_meta", None)
    if meta is None or not getattr(dataset, "preamble", None):
        return False
    return all(tag in meta._dict for tag in _REQUIRED_META)


def write_dataset(dataset: Dataset, handle: BinaryIO) -> None:
    """Write ``dataset`` as a DICOM file to ``handle`` (at its start, seekable), with a
    preamble and complete file meta (PS3.10) when the dataset allows it (it has SOP Class
    and Instance UIDs); otherwise as it is."""
    _prepare(dataset)
    if _complete_meta(dataset):
        save(dataset, handle)  # as save_as, raw values copied, pixel data streamed
    else:
        try:
            dataset.save_as(handle, enforce_file_format=True)
        except (ValueError, AttributeError):  # meta cannot be completed: as it is
            handle.seek(0)
            handle.truncate()
            dataset.save_as(handle)


def write_temp(
    dataset: Dataset, destination: Path, token: str | None = None, *, fsync: bool = True
) -> tuple[Path, int]:
    """Write ``dataset`` as a DICOM file to a temporary file next to ``destination``.

    The file gets a preamble and complete file meta (PS3.10) when the dataset allows it
    (it has SOP Class and Instance UIDs); otherwise it is written as it is. The file is
    fsynced unless ``fsync`` is False. Returns the temporary path and its size; the
    temporary file is removed if writing fails or is interrupted.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    temp = _temp_for(destination, token)
    try:
        # a new file, never an existing one (nor what a symbolic link of that name names)
        with open(temp, "xb") as handle:
            write_dataset(dataset, handle)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
            size = handle.tell()
    except BaseException:
        discard(temp)
        raise
    return temp, size


def commit(temp: Path, destination: Path, *, fsync: bool = True) -> None:
    """Move a finished temporary file to its destination (atomic on one file system).

    With ``fsync`` the destination folder is fsynced, so the new name survives a power
    failure.
    """
    os.replace(temp, destination)
    if fsync:
        fsync_folder(destination.parent)


def discard(temp: str | os.PathLike[str] | None) -> None:
    """Remove a temporary file if it exists."""
    if temp is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def fsync_path(path: str | os.PathLike[str]) -> None:
    """Flush a written file to the disk (data and size).

    Raises:
        OSError: the file cannot be opened or the disk reports an error.
    """
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_folder(folder: str | os.PathLike[str]) -> None:
    """Flush a folder's entries (new names) to the disk; a no-op where unsupported."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not supported here (e.g. Windows): the rename is still atomic
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def copy_to_quarantine(
    source: Path, relative: Path, quarantine: Path, *, fsync: bool = True
) -> Path:
    """Copy an input that was rejected or failed to ``quarantine / relative``, atomically.

    An existing copy with the same content is reused; a different file already there is
    kept and the copy gets a numbered name (``x.dcm.1``, ``x.dcm.2`` ...). Unless ``fsync``
    is False, the copy is fsynced before its rename and its folder after it.
    """
    destination = quarantine / relative
    destination.parent.mkdir(parents=True, exist_ok=True)
    candidate = destination
    number = 0
    while candidate.exists():
        if same_content(candidate, source):
            return candidate
        number += 1
        candidate = destination.with_name(f"{destination.name}.{number}")
    temp = _temp_for(candidate)
    try:
        with open_regular(source) as reader, open(temp, "xb") as writer:
            shutil.copyfileobj(reader, writer)
            writer.flush()
            if fsync:
                os.fsync(writer.fileno())
        os.replace(temp, candidate)
    except BaseException:
        discard(temp)
        raise
    if fsync:
        fsync_folder(candidate.parent)
    return candidate


def same_content(first: Path, second: Path) -> bool:
    """True if both are readable regular files with the same bytes."""
    try:
        if first.stat().st_size != second.stat().st_size:
            return False
        with open_regular(first) as a, open_regular(second) as b:
            while True:
                block_a = a.read(1 << 20)
                if block_a != b.read(1 << 20):
                    return False
                if not block_a:
                    return True
    except (OSError, InputError):
        return False


def sweep_temp_files(folder: Path) -> int:
    """Remove the temporary files an interrupted run left below ``folder``; count them.

    Only regular files whose name has idiscore's mark (:func:`is_temp_name`) are removed;
    symbolic links are neither removed nor followed. The caller holds the output folder's
    lock, so no other run is writing them.
    """
    removed = 0
    if not folder.is_dir():
        return 0
    for dirpath, _dirnames, filenames in os.walk(folder):
        for name in filenames:
            if not is_temp_name(name):
                continue
            path = Path(dirpath) / name
            try:
                if not stat.S_ISREG(os.lstat(path).st_mode):
                    continue
            except OSError:
                continue
            discard(path)
            removed += 1
    return removed
