"""What kind of file a path names, decided before it is opened.

Opening a FIFO for reading waits for a writer -- forever, if there is none; opening a
device may have side effects (a tape rewinds) or deliver endless bytes; a socket cannot
be opened at all. Every place idiscore reads an input asks :func:`check_regular` (one
``stat``) first, and opens it with :func:`open_regular`, which does not block even if the
path was swapped for a FIFO in between and checks again on the open file.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from idiscore.errors import InputError

__all__ = ["check_regular", "kind_of", "open_regular"]

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a folder"),
)


def kind_of(mode: int) -> str | None:
    """None for a regular file, else what it is (``"a FIFO (named pipe)"`` ...)."""
    if stat.S_ISREG(mode):
        return None
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def check_regular(path: str | os.PathLike[str]) -> os.stat_result:
    """``os.stat(path)`` (symbolic links followed) if it names a regular file.

    Raises:
        InputError: it does not exist, cannot be examined, or is not a regular file.
    """
    try:
        result = os.stat(path)
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or type(exc).__name__}") from None
    kind = kind_of(result.st_mode)
    if kind is not None:
        raise InputError(f"not a regular file: {kind}")
    return result


def _nonblocking(path: str, flags: int) -> int:
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0))


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a regular file for reading, never blocking on a FIFO or opening a device.

    Raises:
        InputError: as :func:`check_regular`, or the file cannot be opened.
    """
    check_regular(path)
    try:
        handle = open(os.fspath(path), "rb", opener=_nonblocking)  # noqa: SIM115 - returned
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or type(exc).__name__}") from None
    try:
        kind = kind_of(os.fstat(handle.fileno()).st_mode)
    except OSError as exc:
        handle.close()
        raise InputError(f"cannot read file: {exc.strerror or type(exc).__name__}") from None
    if kind is not None:  # swapped between the stat and the open
        handle.close()
        raise InputError(f"not a regular file: {kind}")
    return handle
