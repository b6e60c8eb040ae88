"""Durability: when outputs reach the disk, and when their report lines are written.

Whatever the policy, a batch promises:

1. No output is ever partial under its final name while the machine keeps running: a
   worker writes a complete temporary file, the main process renames it (see
   :mod:`idiscore.batch.writer`). A killed process (SIGKILL, the OOM killer) leaves complete
   outputs and temporary files, nothing in between.
2. A report line is written only after its output was renamed into place *and* fsynced.
3. When :func:`~idiscore.batch.run_batch` returns -- at the end, or after Ctrl-C -- every
   output, every quarantine copy, the folders holding them and the report are on the disk.

The policy (``BatchOptions.fsync``, ``idiscore deidentify --fsync``) decides what a power
failure or an operating-system crash in the middle of a batch can leave behind:

``grouped`` (default)
    Outputs are renamed into place as soon as they are written, without waiting for the
    disk. A background thread of the main process fsyncs them in groups -- 64 files,
    256 MB, or whatever 2 seconds brought, whichever comes first -- together with the
    folders that received them (and, once, every new folder's parent), and only then
    writes the group's report lines and fsyncs the report. Nobody waits for the disk
    while files are processed, and the kernel writes a group's files together. After a
    power failure, every ``done`` line of the report names a complete output; outputs of
    the last group or two, which have no line yet, may be empty or partial under their
    final names: a run with ``--resume`` keeps such a file if it holds exactly the bytes
    it would write, and otherwise reports the input failed and leaves the file alone (a
    run never overwrites a file its report does not claim): remove it and resume.
    Without a report, distrust the outputs written in the last seconds.
``each``
    Every output is fsynced before its rename and its folder after the rename, and its
    report line follows at once: a complete output under its final name even after a
    power failure. Two synchronous disk flushes per file; on a shared disk they serialise
    the workers.

Either way a resumed run does again every input without a final line (see
:mod:`idiscore.batch.report`), and never overwrites a file its report does not claim.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from idiscore.batch.report import FileResult, ReportWriter
from idiscore.batch.writer import fsync_folder, fsync_path

__all__ = ["FSYNC_POLICIES", "GROUP_BYTES", "GROUP_FILES", "GROUP_SECONDS", "Checkpointer"]

#: the durability policies, default first
FSYNC_POLICIES = ("grouped", "each")
#: a group is synced when it holds this many files ...
GROUP_FILES = 64
#: ... or this many output bytes ...
GROUP_BYTES = 256_000_000
#: ... or when its first file is this old (seconds)
GROUP_SECONDS = 2.0
#: files waiting for the background thread before the main process waits for it
_BACKLOG = 4 * GROUP_FILES


@dataclass
class _Entry:
    result: FileResult
    output: str | None
    copy: str | None


class Checkpointer:
    """Makes committed files durable, then writes their report lines, in input order.

    Args:
        report: where the lines go (None: no report, the files are still synced).
        policy: one of :data:`FSYNC_POLICIES`. With ``"each"`` the caller has fsynced every
            file and its folder already; lines are written at once.
        roots: the folders below which files are written (output, quarantine): the new
            folders up to these get their entries fsynced too.
        also_sync: files synced before every batch of report lines (the mapping journal,
            whose entries must be on the disk before the lines of their outputs).

    After :meth:`close`, :attr:`failed_outputs` lists the results that were ``done`` but
    whose output could not be fsynced: they were changed to ``failed`` (the output was
    removed), with the output size they had, so the caller can correct its counters.
    """

    def __init__(
        self,
        report: ReportWriter | None,
        *,
        policy: str = "grouped",
        roots: Iterable[str | os.PathLike[str]] = (),
        also_sync: Iterable[str | os.PathLike[str]] = (),
    ) -> None:
        if policy not in FSYNC_POLICIES:
            raise ValueError(f"unknown fsync policy {policy!r}; choose from {FSYNC_POLICIES}")
        self.report = report
        self.policy = policy
        self._also_sync = [os.fspath(path) for path in also_sync]
        self.failed_outputs: list[tuple[FileResult, int]] = []
        self._roots = {os.path.abspath(root) for root in roots}
        self._known: set[str] = set()  # folders whose own entry was fsynced
        self._entries: deque[_Entry] = deque()
        self._entries_bytes = 0  # output bytes of the queued entries
        self._first_queued = 0.0  # when the oldest queued entry came
        self._condition = threading.Condition()
        self._closing = False
        self._error: BaseException | None = None
        self._raised = False
        self._thread: threading.Thread | None = None
        # set when the thread has written everything: waiting on it can be interrupted
        # (Ctrl-C) and resumed, unlike Thread.join in Python 3.11, which may then take a
        # running thread for finished
        self._finished = threading.Event()

    def add(
        self,
        result: FileResult,
        *,
        output: str | os.PathLike[str] | None = None,
        copy: str | os.PathLike[str] | None = None,
    ) -> None:
        """Queue ``result``'s report line, after its ``output`` and quarantine ``copy``
        (files already under their final names) are synced.

        Raises:
            OSError: an earlier group could not be written (e.g. the report's disk is
                full); nothing more is written.
        """
        entry = _Entry(
            result,
            None if output is None else os.fspath(output),
            None if copy is None else os.fspath(copy),
        )
        if self.policy == "each":
            for folder in self._folders(_files([entry]), parents=False):
                fsync_folder(folder)
            self._sync_also()
            if self.report is not None:
                self.report.write(result)
            return
        with self._condition:
            self._raise_error()
            if self._closing:
                raise ValueError("the checkpointer is closed")
            if self._thread is None:
                # started with the first result: a process pool has forked its workers
                self._thread = threading.Thread(
                    target=self._run, name="idiscore-fsync", daemon=True
                )
                self._thread.start()
            # the thread is woken when a group starts (to time it) and when it is full,
            # not for every file
            wake = not self._entries
            if wake:
                self._first_queued = time.monotonic()
            self._entries.append(entry)
            self._entries_bytes += result.output_bytes or 0
            if wake or len(self._entries) >= GROUP_FILES or self._entries_bytes >= GROUP_BYTES:
                self._condition.notify_all()
            while len(self._entries) >= _BACKLOG and self._error is None:
                self._condition.wait()

    def close(self) -> None:
        """Sync and write everything queued; wait for it. Interrupted (Ctrl-C), it can be
        called again to go on waiting.

        Raises:
            OSError: a group could not be written (unless :meth:`add` raised it already).
        """
        with self._condition:
            self._closing = True
            self._condition.notify_all()
        if self._thread is not None:
            self._finished.wait()
            self._thread.join()
        with self._condition:
            self._raise_error()

    def _raise_error(self) -> None:
        if self._error is not None and not self._raised:
            self._raised = True
            raise self._error

    def _run(self) -> None:
        try:
            self._work()
        finally:
            self._finished.set()

    def _work(self) -> None:
        while True:
            with self._condition:
                while not self._closing:
                    if not self._entries:
                        self._condition.wait()
                        continue
                    if len(self._entries) >= GROUP_FILES or self._entries_bytes >= GROUP_BYTES:
                        break
                    remaining = self._first_queued + GROUP_SECONDS - time.monotonic()
                    if remaining <= 0:
                        break
                    self._condition.wait(remaining)
                closing = self._closing
                group = list(self._entries)
                self._entries.clear()
                self._entries_bytes = 0
                self._condition.notify_all()  # the main thread may wait for room
            if group and self._error is None:
                try:
                    self._sync(group)
                except BaseException as exc:  # handed to the main thread
                    with self._condition:
                        self._error = exc
                        self._condition.notify_all()
            if closing:
                return

    def _sync(self, group: list[_Entry]) -> None:
        synced: list[_Entry] = []
        for entry in group:
            if entry.output is not None:
                try:
                    fsync_path(entry.output)
                except OSError as exc:
                    self._output_failed(entry, exc)
            if entry.copy is not None:
                try:
                    fsync_path(entry.copy)
                except OSError as exc:
                    entry.result.reason += f"; copy to quarantine failed: {exc.strerror or exc}"
                    with contextlib.suppress(OSError):
                        os.unlink(entry.copy)
                    entry.copy = None
            synced.append(entry)
        for folder in self._folders(_files(synced), parents=True):
            fsync_folder(folder)
        self._sync_also()
        if self.report is not None:
            self.report.write_many(entry.result for entry in group)

    def _sync_also(self) -> None:
        """Sync the files that must reach the disk before report lines (the mapping
        journal); one that does not exist (yet, or any more) is skipped."""
        for path in self._also_sync:
            if os.path.exists(path):
                fsync_path(path)

    def _output_failed(self, entry: _Entry, exc: OSError) -> None:
        result = entry.result
        assert entry.output is not None
        with contextlib.suppress(OSError):
            os.unlink(entry.output)
        self.failed_outputs.append((result, result.output_bytes or 0))
        result.status = "failed"
        result.reason = f"cannot write output: {exc.strerror or exc}"
        result.output = result.output_bytes = result.key = None
        entry.output = None

    def _folders(self, files: Iterable[str], *, parents: bool) -> list[str]:
        """Folders to fsync for ``files``: their own (with ``parents``), and the parents of
        folders not seen before, up to the parent of a root."""
        folders: set[str] = set()
        for path in files:
            folder = os.path.dirname(path)
            if parents:
                folders.add(folder)
            while folder not in self._known:
                self._known.add(folder)
                parent = os.path.dirname(folder)
                if parent == folder:
                    break
                folders.add(parent)
                if folder in self._roots:
                    break
                folder = parent
        return sorted(folders)


def _files(entries: Iterable[_Entry]) -> list[str]:
    return [path for entry in entries for path in (entry.output, entry.copy) if path is not None]
