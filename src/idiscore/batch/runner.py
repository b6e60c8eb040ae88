"""De-identify files and folders: per-file processing and the batch loop.

:func:`run_batch` discovers inputs, skips those an earlier run finished (``resume``), has an
engine process the rest (:class:`FileProcessor`: read, de-identify, write a temporary file)
and then, in the main process and in input order, commits each output (atomic rename),
copies rejected and failed inputs to the quarantine folder and queues one report line,
written once the files it names are on the disk (see :mod:`idiscore.batch.durability`).

Only the main process decides whether an output path is free, so two inputs that map to
the same output are detected deterministically: the later one (in discovery order) fails.

With ``mapping`` set, every result of a written file also carries the pseudonyms used for it
(``FileResult.mapping``); the main process collects them for the outputs it commits and
writes the mapping file at the end (see :mod:`idiscore.batch.mapping`). Without it nothing
is recorded.

Inputs are opened read-only and never written. Errors of one file never stop the batch;
``KeyboardInterrupt`` stops it cleanly (no partial output file, a valid report) and the
returned summary says it was interrupted.
"""

from __future__ import annotations

import contextlib
import copy
import os
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from pydicom.dataset import Dataset

from idiscore.batch.committer import Committer
from idiscore.batch.durability import Checkpointer
from idiscore.batch.engines import Engine, InProcessEngine, ProcessPoolEngine
from idiscore.batch.locking import RunLock
from idiscore.batch.mapping import MappingFile
from idiscore.batch.preflight import prepare_folder, probe, storage_error
from idiscore.batch.reasons import _describe
from idiscore.batch.report import (
    STATUSES,
    FileResult,
    ReportWriter,
    ResumeState,
    load_resume_state,
)
from idiscore.batch.safety import check_paths
from idiscore.batch.sources import (
    SNIFF_BYTES,
    check_inputs,
    discover,
    sniff_head,
)
from idiscore.batch.storage import (
    RemoteBatch,
    discard_remote,
    is_url,
    process_remote,
    remote_batch,
)
from idiscore.batch.tasks import DICOMDIR_SOP_CLASS, BatchOptions, Task, deidentify_input
from idiscore.batch.writer import (
    discard,
    inside,
    output_path,
    sweep_temp_files,
    write_temp,
)
from idiscore.core import PIXEL_FINDINGS
from idiscore.errors import (
    ConfigurationError,
    InputError,
    StorageError,
)
from idiscore.fileio import read_counting_warnings
from idiscore.filekinds import open_regular
from idiscore.pseudonyms import MappingRecorder

if TYPE_CHECKING:
    from idiscore.core import Core

__all__ = [
    "DICOMDIR_SOP_CLASS",
    "BatchOptions",
    "BatchSummary",
    "FileProcessor",
    "Task",
    "read_dicom",
    "run_batch",
]


#: Media Storage Directory Storage: a DICOMDIR index, not an image.
@dataclass
class BatchSummary:
    """Counters of a batch (no per-file list: a batch may have millions of files)."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    bytes_in: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    bytes_out: int = 0
    already_done: int = 0
    temp_files_removed: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    dry_run: bool = False
    #: notes for the user (a stale lock taken over); never an element value
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def ok(self) -> bool:
        """True when nothing was rejected or failed."""
        return not self.counts.get("rejected") and not self.counts.get("failed")

    def add(self, result: FileResult) -> None:
        self.counts[result.status] = self.counts.get(result.status, 0) + 1
        self.bytes_in[result.status] = self.bytes_in.get(result.status, 0) + (
            result.input_bytes or 0
        )
        self.bytes_out += result.output_bytes or 0


def read_dicom(path: str | os.PathLike[str], *, has_preamble: bool = True) -> Dataset:
    """Read a whole DICOM file (opened read-only) and check it is complete.

    Raises:
        InputError: the file cannot be read, is truncated or holds no data set. The
            message names the problem, never an element value.
    """
    return _read_dicom(path, has_preamble)[0]


def _read_dicom(path: str | os.PathLike[str], has_preamble: bool) -> tuple[Dataset, int]:
    """:func:`read_dicom`, and how many warnings pydicom issued while reading."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InputError(f"cannot read DICOM: {_describe(exc)}") from None
    with handle:
        return _read_open_dicom(handle, has_preamble)


def _read_open_dicom(handle: BinaryIO, has_preamble: bool) -> tuple[Dataset, int]:
    """:func:`_read_dicom` from a file opened in binary mode, at its start.

    Values above the defer size (pixel data) stay in the file: the output streams them
    from there (see :mod:`idiscore.fileio`); pydicom re-opens the file by name.
    """
    return read_counting_warnings(handle, force=not has_preamble, describe=_describe)


class FileProcessor:
    """Read, de-identify and write one input to a temporary file (picklable).

    Returns a :class:`FileResult`; a ``done`` result carries the temporary file in
    ``temp`` and its final path in ``output``, for the batch to commit. The temporary
    file is fsynced unless ``fsync`` is False.

    With ``record_mapping`` the processor works with its own copy of the core's
    pseudonymizer (the caller's is left alone), gives it a fresh recorder for every input,
    and a ``done`` result carries that input's (kind, original, pseudonym) entries in
    ``mapping``. Not for use by several threads at once.
    """

    def __init__(
        self,
        core: Core,
        output: Path,
        layout: str,
        *,
        record_mapping: bool = False,
        fsync: bool = True,
        url: str | None = None,
    ) -> None:
        if record_mapping:
            core = copy.copy(core)
            core.pseudonymizer = copy.copy(core.pseudonymizer)
            core.pseudonymizer.recorder = MappingRecorder()
        self.core = core
        self.output = Path(output).absolute()
        self.output_real = os.path.realpath(self.output)
        self._inside: dict[Path, bool] = {}  # destination folder -> inside the output
        self.layout = layout
        self.record_mapping = record_mapping
        self.fsync = fsync
        self.key = core.pseudonymizer.key_fingerprint
        #: the output root as a URL in object-store mode (see idiscore.batch.storage)
        self.url = url

    def __call__(self, task: Task) -> FileResult:
        start = time.perf_counter()
        result = FileResult(status="failed", input=task.path)
        recorder = None
        if self.record_mapping:
            recorder = self.core.pseudonymizer.recorder = MappingRecorder()
        try:
            # pydicom warns about invalid values as it decodes them, quoting the value:
            # counted in the report (``warnings``), never shown
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                self._process(task, result)
            result.warnings += len(caught)
            if recorder is not None and result.status == "done":
                result.mapping = recorder.entries()
        except (KeyboardInterrupt, SystemExit):
            raise
        except MemoryError:
            result.status, result.reason = "failed", "out of memory"
        except Exception as exc:  # never let one file stop the batch
            result.status, result.reason = "failed", f"unexpected error: {_describe(exc)}"
        result.seconds = time.perf_counter() - start
        return result

    def _process(self, task: Task, result: FileResult) -> None:
        if self.url is not None:
            process_remote(self, task, result)
            return
        if task.error is not None:
            result.reason = task.error
            return
        if task.skip is not None:
            result.status, result.reason = "skipped", task.skip
            return
        try:
            handle = open_regular(task.path)  # never blocks on a FIFO, never a device
        except InputError as exc:
            result.reason = str(exc)
            return
        with handle:  # one open for the size, the sniff and the read
            try:
                result.input_bytes = os.fstat(handle.fileno()).st_size
                sniffed = sniff_head(handle.read(SNIFF_BYTES), result.input_bytes)
                handle.seek(0)
            except OSError as exc:
                result.reason = f"cannot read file: {exc.strerror or _describe(exc)}"
                return
            if not sniffed.is_dicom:
                result.status, result.reason = "skipped", sniffed.reason
                return
            try:
                dataset, read_warnings = _read_open_dicom(handle, sniffed.has_preamble)
            except InputError as exc:
                result.reason = str(exc)
                return
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            deidentified = deidentify_input(self.core, dataset, result)
            if deidentified is None:
                return
            del dataset
            destination = output_path(deidentified, Path(task.relative), self.output, self.layout)
            if not self._is_inside(destination):
                result.reason = "the output path would lie outside the output folder (not written)"
                return
            try:
                temp, size = write_temp(deidentified, destination, fsync=self.fsync)
            except OSError as exc:
                result.reason = f"cannot write output: {exc.strerror or _describe(exc)}"
                return
            except Exception as exc:  # pydicom cannot encode a value: its message may quote it
                result.reason = f"cannot write output: {type(exc).__name__} while encoding"
                return
        result.warnings += read_warnings + len(caught)
        findings = deidentified.__dict__.get(PIXEL_FINDINGS)
        if findings is not None:
            result.pixels = findings.to_dict()
        result.status = "done"
        result.output = str(destination)
        result.output_bytes = size
        result.temp = str(temp)
        result.key = self.key

    def _is_inside(self, destination: Path) -> bool:
        """Whether ``destination`` resolves inside the output folder (its folder is created
        first, inside the output folder only)."""
        folder = destination.parent
        known = self._inside.get(folder)
        if known is not None:
            return known
        output = os.path.normpath(self.output)
        below = os.path.normpath(folder)
        inside_output = below == output or below.startswith(output.rstrip(os.sep) + os.sep)
        if inside_output and not self.output.is_dir():
            self.output.mkdir(parents=True, exist_ok=True)
            self.output_real = os.path.realpath(self.output)
        existing = folder  # the deepest folder that exists must resolve inside already
        while not os.path.lexists(existing) and existing != existing.parent:
            existing = existing.parent
        inside_output = inside_output and inside(existing / "x", self.output_real)
        if inside_output:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError:
                return True  # writing the temporary file will say why
            inside_output = inside(destination, self.output_real)
        if len(self._inside) > 4096:
            self._inside.clear()
        self._inside[folder] = inside_output
        return inside_output

    def crashed(self, task: Task) -> FileResult:
        """The result for a task whose worker process died."""
        size = _size(task.path)
        return FileResult(
            status="failed",
            input=task.path,
            reason=CRASHED,
            input_bytes=size,
        )


#: The reason of a file whose worker process died (see :meth:`FileProcessor.crashed`).
CRASHED = "the worker process died while processing this file"


def _size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def _discard_result(result: FileResult) -> None:
    if result.temp is not None and is_url(result.temp):
        discard_remote(result.temp)
    else:
        discard(result.temp)


def _check_key(state: ResumeState, key: str) -> None:
    others = state.keys - {key}
    if others:
        raise ConfigurationError(
            "the report was written with another pseudonymization key; resuming with this "
            "key would mix pseudonyms (use the same key, or a new output folder and report)"
        )


def run_batch(
    core: Core,
    inputs: Iterable[str | os.PathLike[str]],
    options: BatchOptions,
    *,
    on_result: Callable[[FileResult, BatchSummary], None] | None = None,
    engine: Engine[Task, FileResult] | None = None,
) -> BatchSummary:
    """De-identify every DICOM file below ``inputs`` into ``options.output``.

    ``on_result`` is called in the main process after each input is finished (its output
    committed, its report line queued). Returns the counters; ``summary.interrupted`` is
    True if the run was stopped with Ctrl-C (``KeyboardInterrupt``), which is not
    re-raised. When it returns, every output and the report are on the disk.

    Before the first input is processed the output (and quarantine) folder is created,
    the output folder, the report and the mapping file are locked against other runs (see
    :mod:`idiscore.batch.locking`), and the report and the mapping journal are checked
    writable (see :mod:`idiscore.batch.preflight`).

    With ``options.mapping`` the pseudonyms of every committed output are collected and the
    mapping file is written once at the end, also after an interruption (see
    :mod:`idiscore.batch.mapping`).

    Raises:
        ConfigurationError: unsafe or invalid paths or options, or an existing report or
            mapping file without ``resume`` (before anything is written).
        OutputInUseError: another run holds the output folder, the report or the mapping.
        InputError: an input does not exist, or a glob pattern matches nothing.
        StorageError: a folder, the report or the mapping cannot be created or written
            (also an ``OSError``); when the mapping cannot be written at the end its
            entries stay in its journal, and a resumed run writes them.
    """
    inputs = list(inputs)
    remote = remote_batch(inputs, options)  # URLs of an object store: idiscore.batch.storage
    if remote is None:
        check_inputs(inputs)
        check_paths(inputs, options.output, options.quarantine, options.report, options.mapping)
    else:
        remote.check()
    if not options.resume and options.report is not None and _non_empty(options.report):
        raise ConfigurationError(
            f"the report {os.fspath(options.report)!r} already exists; resume that run "
            "(resume=True, --resume) or choose another report file"
        )
    if not options.resume and options.mapping is not None:
        MappingFile.refuse_existing(options.mapping)
    created = remote is None and not os.path.lexists(options.output)
    output = None if remote is not None else prepare_folder(options.output, "output folder")
    try:
        if options.quarantine is not None:
            prepare_folder(options.quarantine, "quarantine folder")
        for path, what in ((options.report, "report"), (options.mapping, "mapping file")):
            if path is not None:
                prepare_folder(Path(path).absolute().parent, f"folder of the {what}")
        locked: list[tuple[str | os.PathLike[str], bool]] = (
            [(output, True)] if output is not None else []
        )
        locked += [(p, False) for p in (options.report, options.mapping) if p is not None]
        lock = RunLock(locked)
    except BaseException:
        if created and output is not None:  # the batch did not start: no empty folder left
            with contextlib.suppress(OSError):
                output.rmdir()
        raise
    with lock:
        summary = BatchSummary(notes=list(lock.stale))
        try:
            return _run_locked(core, inputs, options, summary, on_result, engine, remote)
        except OSError as exc:
            if isinstance(exc, StorageError):
                raise
            raise StorageError(
                exc.errno,
                f"cannot write the report or the mapping journal: {exc.strerror or exc}",
            ) from None


def _run_locked(
    core: Core,
    inputs: list[str | os.PathLike[str]],
    options: BatchOptions,
    summary: BatchSummary,
    on_result: Callable[[FileResult, BatchSummary], None] | None,
    engine: Engine[Task, FileResult] | None,
    remote: RemoteBatch | None = None,
) -> BatchSummary:
    processor = FileProcessor(
        core,
        Path(options.output),
        options.layout,
        record_mapping=options.mapping is not None,
        fsync=options.fsync == "each",
        url=remote.output_url() if remote is not None else None,
    )
    state: ResumeState | None = None
    started = time.perf_counter()
    if options.resume:
        assert options.report is not None
        state = load_resume_state(options.report, retry_failed=options.retry_failed)
        _check_key(state, processor.key)
        summary.temp_files_removed = (
            remote.sweep() if remote is not None else sweep_temp_files(processor.output)
        )
    if engine is None:
        engine = _engine(processor, options.workers)
    else:  # an engine built without a function (DaskEngine(client)) takes the batch's
        engine = engine.bind(processor, on_crash=processor.crashed, on_discard=_discard_result)
    mapping = (
        MappingFile.open(
            options.mapping,
            resume=options.resume,
            done_before=state is not None and bool(state.done_inputs),
        )
        if options.mapping is not None
        else None
    )
    report: ReportWriter | None = None
    try:
        if mapping is not None and mapping._handle is not None:
            probe(mapping._handle, "mapping journal", mapping.journal)
        if options.report is not None:
            try:
                report = ReportWriter(options.report, append=options.resume)
            except OSError as exc:
                raise storage_error(exc, "open the report", options.report) from None
            probe(report._handle, "report", options.report)  # type: ignore[arg-type]
    except BaseException:
        if report is not None:
            report.close()
        if mapping is not None:
            mapping.abandon()
        raise
    roots = [processor.output] + ([options.quarantine] if options.quarantine else [])
    if remote is not None:  # objects are durable once stored; local copies still synced
        roots = [options.quarantine] if options.quarantine else []
    # the mapping journal reaches the disk before the report lines of its outputs
    journal = [mapping.journal] if mapping is not None else []
    checkpointer = Checkpointer(report, policy=options.fsync, roots=roots, also_sync=journal)
    committer = (
        Committer(
            resume=options.resume,
            fsync=options.fsync == "each",
            quarantine=options.quarantine,
            state=state,
            mapping=mapping,
        )
        if remote is None
        else remote.make_committer(options, state, mapping)
    )
    excluded = [processor.output] + ([options.quarantine] if options.quarantine else [])

    def tasks() -> Iterator[Task]:
        if remote is not None:
            for path, relative, error in remote.discover():
                if state is not None and state.is_finished(path):
                    summary.already_done += 1
                    continue
                yield Task(path, relative, error)
            return
        for candidate in discover(inputs, exclude=excluded):
            if state is not None and state.is_finished(str(candidate.path)):
                summary.already_done += 1
                continue
            yield Task.from_candidate(candidate)

    results = engine.run(tasks())
    pending: FileResult | None = None
    crashed = False
    try:
        for task, result in results:
            pending = result
            crashed = crashed or result.reason == CRASHED
            copy = committer.finish(task, result)
            pending = None
            summary.add(result)
            output = result.output if remote is None else remote.synced_path(result.output)
            checkpointer.add(result, output=output, copy=copy)
            if on_result is not None:
                on_result(result, summary)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        if pending is not None:
            _discard_result(pending)
            if mapping is not None:
                mapping.add_if_committed(pending)
        close = getattr(results, "close", None)
        if close is not None:
            close()
        if crashed or getattr(engine, "orphans_temp_files", False):
            # a worker that died mid-write left its temporary file (the lock is held)
            with contextlib.suppress(OSError):
                if remote is not None:
                    remote.sweep()
                else:
                    sweep_temp_files(processor.output)
        try:
            try:
                checkpointer.close()
            except KeyboardInterrupt:  # Ctrl-C while the last group is synced: finish it
                summary.interrupted = True
                checkpointer.close()
        finally:
            if report is not None:
                report.close()
            if mapping is not None:
                mapping.close()
            for result, output_bytes in checkpointer.failed_outputs:
                _count_as_failed(summary, result, output_bytes)
            summary.seconds = time.perf_counter() - started
    return summary


def _count_as_failed(summary: BatchSummary, result: FileResult, output_bytes: int) -> None:
    """Move a result counted as done to failed (its output could not be synced)."""
    size = result.input_bytes or 0
    summary.counts["done"] -= 1
    summary.counts["failed"] += 1
    summary.bytes_in["done"] -= size
    summary.bytes_in["failed"] += size
    summary.bytes_out -= output_bytes


def _non_empty(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


def _engine(processor: FileProcessor, workers: int) -> Engine[Task, FileResult]:
    if workers <= 1:
        return InProcessEngine(processor)
    return ProcessPoolEngine(
        processor, workers, on_crash=processor.crashed, on_discard=_discard_result
    )
