"""One batch at a time per output folder, report and mapping file.

Two runs writing into one output folder (or appending to one report) would mix their
files and their report lines. A batch therefore takes an exclusive lock before it writes
anything: :class:`RunLock` holds ``fcntl.flock`` on a lock file -- ``.idiscore.lock`` in the
output folder, ``<report>.lock`` and ``<mapping>.lock`` beside those files -- with the
holder's process id, host and start time written in it. A second run finds the lock
taken and stops with :class:`~idiscore.errors.OutputInUseError`, naming the holder.

The kernel releases a ``flock`` when its holder dies, however it dies: a lock file left by a
killed run is stale and is taken over (:attr:`RunLock.stale` describes the dead holder, for
a message). Where ``flock`` is not available (some network file systems), the recorded
holder decides: a live process on this host keeps the lock, a dead one is taken over.
Lock files are removed when the batch ends.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import time
from collections.abc import Iterable
from pathlib import Path

from idiscore.errors import OutputInUseError, StorageError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_NAME", "RunLock", "lock_path"]

#: the lock file of an output folder
LOCK_NAME = ".idiscore.lock"


def lock_path(path: str | os.PathLike[str], *, folder: bool) -> Path:
    """The lock file of an output ``folder``, or of a report or mapping file."""
    target = Path(path)
    return target / LOCK_NAME if folder else target.with_name(target.name + ".lock")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _holder(fd: int) -> dict[str, object]:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = os.read(fd, 4096)
        record = json.loads(data) if data.strip() else {}
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


#: how long a run refused a lock waits for the holder to write who it is
_HOLDER_WAIT = 2.0


def _recorded_holder(fd: int) -> dict[str, object]:
    """The holder of the lock on ``fd``, which writes its record just after it locks:
    waited for a moment, so that a run that lost the race by a hair can name it."""
    deadline = time.monotonic() + _HOLDER_WAIT
    holder = _holder(fd)
    while not holder and time.monotonic() < deadline:
        time.sleep(0.02)
        holder = _holder(fd)
    return holder


def _describe(holder: dict[str, object]) -> str:
    if not holder:
        return "an unknown process"
    return (
        f"process {holder.get('pid', '?')} on host {holder.get('host', '?')} "
        f"(started {holder.get('started', '?')})"
    )


class RunLock:
    """Exclusive locks on the places one batch writes to; release with :meth:`release`.

    Args:
        paths: (path, is_folder) pairs: the output folder (which must exist) and the
            report and mapping files.

    Raises:
        OutputInUseError: another live run holds one of the locks (none is kept).
        StorageError: a lock file cannot be created (read-only or missing folder).
    """

    def __init__(self, paths: Iterable[tuple[str | os.PathLike[str], bool]]) -> None:
        self._held: list[tuple[Path, int]] = []
        #: descriptions of dead holders whose lock files were taken over
        self.stale: list[str] = []
        try:
            for path, folder in paths:
                self._acquire(lock_path(path, folder=folder), os.fspath(path))
        except BaseException:
            self.release()
            raise

    def _acquire(self, lock: Path, what: str) -> None:
        for _ in range(10):  # another run may remove the file between open and lock
            try:
                fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
            except OSError as exc:
                raise StorageError(
                    exc.errno,
                    f"cannot create the lock file {os.fspath(lock)!r} "
                    f"({exc.strerror or exc}): is {what!r} writable?",
                ) from None
            try:
                self._lock(fd, lock)
            except BaseException:
                os.close(fd)
                raise
            try:  # locked; is it still the file at that name?
                same = os.path.samestat(os.fstat(fd), os.stat(lock))
            except OSError:
                same = False
            if same:
                self._held.append((lock, fd))
                self._write_holder(fd, lock)
                return
            os.close(fd)
        raise OutputInUseError(f"cannot lock {os.fspath(lock)!r}: it keeps changing")

    def _lock(self, fd: int, lock: Path) -> None:
        """Take the lock on ``fd``, or raise :class:`OutputInUseError`."""
        previous = _holder(fd)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise OutputInUseError(
                        f"another idiscore run is using this output, report or mapping: "
                        f"{_describe(_recorded_holder(fd) or previous)} holds "
                        f"{os.fspath(lock)!r}; "
                        "wait for it to finish (or stop it), then run again"
                    ) from None
                if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                    raise StorageError(
                        exc.errno, f"cannot lock {os.fspath(lock)!r}: {exc.strerror or exc}"
                    ) from None
                self._by_holder(previous, lock)  # no flock here: the recorded holder decides
        else:  # pragma: no cover - Windows
            self._by_holder(previous, lock)
        if previous:
            self.stale.append(
                f"took over the lock file {os.fspath(lock)!r} left by {_describe(previous)}, "
                "which is no longer running"
            )

    @staticmethod
    def _by_holder(holder: dict[str, object], lock: Path) -> None:
        pid = holder.get("pid")
        same_host = holder.get("host") == socket.gethostname()
        if isinstance(pid, int) and pid != os.getpid() and (not same_host or _alive(pid)):
            raise OutputInUseError(
                f"another idiscore run is using this output, report or mapping: "
                f"{_describe(holder)} holds {os.fspath(lock)!r}"
                + ("" if same_host else " (on another host: remove the file if it is gone)")
            )

    @staticmethod
    def _write_holder(fd: int, lock: Path) -> None:
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        data = (json.dumps(record) + "\n").encode("ascii")
        try:  # written over the old record, then cut: never an empty file to read
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
        except OSError as exc:
            raise StorageError(
                exc.errno, f"cannot write the lock file {os.fspath(lock)!r}: {exc.strerror}"
            ) from None

    def release(self) -> None:
        """Remove the lock files and release the locks (removed first: a run that opened
        the old file finds it is no longer at its name, and tries again)."""
        while self._held:
            lock, fd = self._held.pop()
            with contextlib.suppress(OSError):
                os.unlink(lock)
            os.close(fd)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
