"""Before the first output: can the batch write where it must?

A batch that finds out halfway that its report's disk is full, or that its output folder is
read-only, leaves outputs without report lines. So, before anything is processed, the
output and quarantine folders are created (:func:`prepare_folder`), and the report and the
mapping journal -- once opened -- get one byte written, flushed to the disk and taken back
(:func:`probe`). Every failure is a :class:`~idiscore.errors.StorageError` saying what and
where, with the system's reason; the command line prints it as one line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

from idiscore.errors import StorageError

__all__ = ["prepare_folder", "probe", "storage_error"]


def storage_error(exc: OSError, what: str, path: str | os.PathLike[str]) -> StorageError:
    """``exc`` as a :class:`StorageError`: ``cannot <what> '<path>': <reason>``."""
    if isinstance(exc, StorageError):
        return exc
    reason = exc.strerror or type(exc).__name__
    return StorageError(exc.errno, f"cannot {what} {os.fspath(path)!r}: {reason}")


def prepare_folder(folder: str | os.PathLike[str], what: str) -> Path:
    """Create ``folder`` (and its parents) and check it is writable; return it.

    Raises:
        StorageError: it cannot be created, or files cannot be created in it.
    """
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, f"create the {what}", path) from None
    if not os.access(path, os.W_OK | os.X_OK):
        read_only = bool(os.statvfs(path).f_flag & getattr(os, "ST_RDONLY", 1))
        code, reason = (30, "Read-only file system") if read_only else (13, "Permission denied")
        raise StorageError(code, f"cannot write in the {what} {os.fspath(path)!r}: {reason}")
    return path


def probe(handle: IO[Any], what: str, path: str | os.PathLike[str]) -> None:
    """Write one byte at the end of an open file, flush it to the disk, take it back.

    Raises:
        StorageError: the file system refuses (full, read-only, an I/O error).
    """
    try:
        handle.flush()
        fd = handle.fileno()
        end = os.lseek(fd, 0, os.SEEK_END)
        os.write(fd, b"\n")
        os.fsync(fd)
        os.ftruncate(fd, end)
        os.lseek(fd, end, os.SEEK_SET)
    except OSError as exc:
        raise storage_error(exc, f"write the {what}", path) from None
