"""Where outputs go (layouts) and how they are written (atomically).

Layouts:

``mirror``   the input tree, relative to its input root: ``in/a/b/x.dcm`` -> ``out/a/b/x.dcm``.
             File and folder names are copied as they are (they may hold identifying
             text; use ``patient`` when they do).
``patient``  ``<PatientID>/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``
             from the *de-identified* values, each made safe as a file name.

Every file is first written completely to a temporary file in its destination folder
(named ``.idiscore-<token>.tmp``) and only then renamed over its final name with
:func:`os.replace`, so an interrupted or killed run never leaves a partial output file under
its final name. Whether the file is also fsynced before the rename (``fsync=True``, the
default of these functions) or later, in a group with others, is the batch's durability
policy (see :mod:`idiscore.batch.durability`). A run killed outright may leave temporary
files behind; :func:`sweep_temp_files` removes them (a resumed run does so before it starts).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
from pathlib import Path
from typing import Any, BinaryIO

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from idiscore.fileio import save

__all__ = [
    "LAYOUTS",
    "TEMP_PREFIX",
    "TEMP_SUFFIX",
    "commit",
    "copy_to_quarantine",
    "discard",
    "fsync_folder",
    "fsync_path",
    "output_path",
    "safe_name",
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
    """A short token, the same for the same parts: temporary names are reproducible."""
    digest = hashlib.blake2b("\x00".join(parts).encode("utf-8", "surrogateescape"))
    return digest.hexdigest()[:20]


def _temp_for(destination: Path, token: str) -> Path:
    return destination.parent / f"{TEMP_PREFIX}{token}{TEMP_SUFFIX}"


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
    dataset: Dataset, destination: Path, token: str, *, fsync: bool = True
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
        with open(temp, "wb") as handle:
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
        if _same_content(candidate, source):
            return candidate
        number += 1
        candidate = destination.with_name(f"{destination.name}.{number}")
    temp = _temp_for(candidate, temp_token("quarantine", str(source), str(candidate)))
    try:
        with open(source, "rb") as reader, open(temp, "wb") as writer:
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


def _same_content(first: Path, second: Path) -> bool:
    try:
        if first.stat().st_size != second.stat().st_size:
            return False
        with open(first, "rb") as a, open(second, "rb") as b:
            while True:
                block_a = a.read(1 << 20)
                if block_a != b.read(1 << 20):
                    return False
                if not block_a:
                    return True
    except OSError:
        return False


def sweep_temp_files(folder: Path) -> int:
    """Remove the temporary files an interrupted run left below ``folder``; count them."""
    removed = 0
    if not folder.is_dir():
        return 0
    for dirpath, _dirnames, filenames in os.walk(folder):
        for name in filenames:
            if name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX):
                discard(Path(dirpath) / name)
                removed += 1
    return removed
