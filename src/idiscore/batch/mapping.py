"""The mapping file of a batch: which pseudonym replaced which original value.

Opt-in (``BatchOptions(mapping=...)``, ``idiscore deidentify --mapping FILE``). Workers
record the pseudonyms of each file (see :class:`~idiscore.batch.runner.FileProcessor`) and
send them back with the file's result; the main process keeps the table of a batch in a
:class:`~idiscore.pseudonyms.MappingRecorder` and, for every output it commits, appends
the entries it had not seen yet to a *journal* before writing the report line. At the end
of the batch (also after Ctrl-C) the whole table is written atomically to the mapping file
and the journal is removed. A run killed outright (SIGKILL, power loss) leaves the journal
behind; the resumed run merges it, so the mapping always covers every input the report
lists as done.

The journal sits beside the mapping file and is named after it (``map.csv.journal``); each
line is the JSON list of one output's new entries, and a line cut short by a crash is
ignored. Both files are created readable and writable by their owner only: the table
re-identifies patients.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from idiscore.batch.mapping_store import mapping_format, read_mapping, write_mapping
from idiscore.batch.report import FileResult
from idiscore.errors import ConfigurationError, StorageError
from idiscore.pseudonyms import MappingRecorder

__all__ = ["MappingFile", "journal_path"]

_Entry = tuple[str, str, str]


def journal_path(mapping: str | os.PathLike[str]) -> Path:
    """Where the journal of ``mapping`` lives."""
    path = Path(mapping)
    return path.with_name(path.name + ".journal")


def _exists(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


def _read_journal(path: Path) -> list[_Entry]:
    """The entries of every complete journal line; a trailing partial line is ignored."""
    entries: list[_Entry] = []
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return entries
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read mapping journal {os.fspath(path)!r}: {exc.strerror or exc}"
        ) from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                break  # cut short by a crash: its output was not reported as done
            try:
                line = json.loads(raw)
                entries.extend((str(k), str(o), str(p)) for k, o, p in line)
            except (ValueError, TypeError):
                raise ConfigurationError(
                    f"{os.fspath(path)!r} line {number} is not an idiscore mapping journal line"
                ) from None
    return entries


class MappingFile:
    """The mapping table of one batch, journaled as outputs are committed.

    Create it with :meth:`open` before the batch writes anything; call :meth:`add` with the
    entries of each committed output, and :meth:`close` once at the end.

    Raises (from :meth:`open`):
        ConfigurationError: the suffix is not ``.csv``, ``.sqlite`` or ``.db``; the file
            (or the journal of a killed run) exists and the batch does not resume; the batch
            resumes a run that wrote outputs but there is no mapping to add to; an existing
            file cannot be read.
    """

    def __init__(self, path: Path, recorder: MappingRecorder) -> None:
        self.path = path
        self.journal = journal_path(path)
        self.recorder = recorder
        self._handle: IO[bytes] | None = None

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, resume: bool, done_before: bool = False
    ) -> MappingFile:
        """Load what an earlier run left (only when resuming) and start the journal.

        ``done_before``: the batch resumes a run that already wrote some outputs.
        """
        target = Path(path)
        mapping_format(target)
        journal = journal_path(target)
        if resume and done_before and not (_exists(target) or _exists(journal)):
            raise ConfigurationError(
                f"the mapping file {os.fspath(target)!r} does not exist, but the run being "
                "resumed already wrote outputs: a mapping started now would miss their "
                "pseudonyms; resume with that run's mapping file, or start a new run (new "
                "output folder and report) with the mapping"
            )
        if not resume:
            cls.refuse_existing(target)
        recorder = MappingRecorder()
        earlier: list[_Entry] = []
        if resume:
            if _exists(target):
                recorder.merge(read_mapping(target))
            earlier = _read_journal(journal)
        target.parent.mkdir(parents=True, exist_ok=True)
        mapping = cls(target, recorder)
        if earlier:
            # the run before was killed: fold its journal into the mapping file first
            recorder.merge(earlier)
            write_mapping(recorder, target)
        fd = os.open(journal, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with contextlib.suppress(OSError, AttributeError):  # no fchmod on Windows
            os.fchmod(fd, 0o600)
        mapping._handle = os.fdopen(fd, "wb")
        return mapping

    @staticmethod
    def refuse_existing(path: str | os.PathLike[str]) -> None:
        """Raise :class:`ConfigurationError` if the mapping file or its journal exists (a
        batch that does not resume never adds to, nor overwrites, a mapping)."""
        target = Path(path)
        for existing in (target, journal_path(target)):
            if _exists(existing):
                raise ConfigurationError(
                    f"the mapping file {os.fspath(existing)!r} already exists; resume "
                    "that run (resume=True, --resume), which adds to it, or choose "
                    "another mapping file (it is never overwritten)"
                )

    def add(self, entries: Iterable[_Entry]) -> None:
        """Take the entries of one committed output; journal those not seen before."""
        new = self.recorder.merge(entries)
        if new and self._handle is not None:
            line = json.dumps([list(entry) for entry in new], ensure_ascii=True)
            try:
                self._handle.write(line.encode("ascii") + b"\n")
                self._handle.flush()
            except OSError as exc:
                raise StorageError(
                    exc.errno,
                    f"cannot write the mapping journal {os.fspath(self.journal)!r}: "
                    f"{exc.strerror or type(exc).__name__}",
                ) from None

    def add_if_committed(self, result: FileResult) -> None:
        """For a result whose finishing was interrupted (Ctrl-C): keep its entries if its
        output may have been committed (an entry too many does no harm, one too few does)."""
        committed = result.status == "done" and result.output and os.path.lexists(result.output)
        if result.mapping and committed:
            self.add(result.mapping)

    def __len__(self) -> int:
        return len(self.recorder)

    def close(self) -> Path:
        """Write the whole table atomically, then remove the journal.

        If writing fails the journal stays, and a resumed run recovers its entries.
        """
        if self._handle is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None
        try:
            write_mapping(self.recorder, self.path)
        except OSError as exc:
            raise StorageError(
                exc.errno,
                f"cannot write the mapping file {os.fspath(self.path)!r} "
                f"({exc.strerror or exc}); its entries are kept in {os.fspath(self.journal)!r} "
                "and a resumed run writes them",
            ) from None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.journal)
        return self.path

    def abandon(self) -> None:
        """The batch could not start: close the journal, and remove it if it is empty."""
        if self._handle is not None:
            empty = self._handle.tell() == 0
            self._handle.close()
            self._handle = None
            if empty:
                with contextlib.suppress(OSError):
                    os.unlink(self.journal)

    def __repr__(self) -> str:
        return f"MappingFile({os.fspath(self.path)!r}, {len(self)} entries)"
