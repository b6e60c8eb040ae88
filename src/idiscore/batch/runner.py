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

import copy
import os
import re
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from pydicom.dataset import Dataset

from idiscore.batch.durability import FSYNC_POLICIES, Checkpointer
from idiscore.batch.engines import Engine, InProcessEngine, ProcessPoolEngine
from idiscore.batch.mapping import MappingFile
from idiscore.batch.mapping_store import mapping_format
from idiscore.batch.report import (
    STATUSES,
    DigestSet,
    FileResult,
    ReportWriter,
    ResumeState,
    load_resume_state,
    path_digest,
)
from idiscore.batch.safety import check_paths
from idiscore.batch.sources import SNIFF_BYTES, Candidate, discover, sniff, sniff_head
from idiscore.batch.writer import (
    LAYOUTS,
    commit,
    copy_to_quarantine,
    discard,
    output_path,
    sweep_temp_files,
    temp_token,
    write_temp,
)
from idiscore.errors import (
    ConfigurationError,
    DatasetRejectedError,
    DeidentificationError,
    InputError,
)
from idiscore.fileio import read_counting_warnings
from idiscore.pseudonyms import MappingRecorder

if TYPE_CHECKING:
    from idiscore.core import Core

__all__ = [
    "DICOMDIR_SOP_CLASS",
    "BatchOptions",
    "BatchSummary",
    "FileProcessor",
    "Task",
    "plan_batch",
    "read_dicom",
    "run_batch",
]

#: Media Storage Directory Storage: a DICOMDIR index, not an image.
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|b'[^']*'")
_MAX_REASON = 300


@dataclass(frozen=True)
class BatchOptions:
    """How a batch runs.

    Args:
        output: the folder that receives the de-identified files.
        layout: ``"mirror"`` or ``"patient"`` (see :mod:`idiscore.batch.writer`).
        report: JSON-lines report file (see :mod:`idiscore.batch.report`), or None.
        quarantine: folder that receives copies of rejected and failed inputs, or None.
        resume: skip inputs the report lists as done, and append to the report (and to
            the mapping file).
        workers: 1 runs in this process; more uses a process pool.
        mapping: file (``.csv``, ``.sqlite`` or ``.db``) that receives every pseudonym the
            outputs use, with its original value, or None (nothing is recorded). It
            re-identifies patients, so it must lie outside the output and input folders;
            an existing one is only added to when resuming, never overwritten.
        fsync: when outputs are flushed to the disk: ``"grouped"`` (in groups, before
            their report lines) or ``"each"`` (every file before its rename); see
            :mod:`idiscore.batch.durability`.
    """

    output: Path
    layout: str = "mirror"
    report: Path | None = None
    quarantine: Path | None = None
    resume: bool = False
    workers: int = 1
    mapping: Path | None = None
    fsync: str = "grouped"

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ConfigurationError(
                f"unknown layout {self.layout!r}; choose from {', '.join(LAYOUTS)}"
            )
        if self.workers < 1:
            raise ConfigurationError("workers must be at least 1")
        if self.fsync not in FSYNC_POLICIES:
            raise ConfigurationError(
                f"unknown fsync policy {self.fsync!r}; choose from {', '.join(FSYNC_POLICIES)}"
            )
        if self.resume and self.report is None:
            raise ConfigurationError("resume needs the report of the earlier run")
        if self.mapping is not None:
            mapping_format(self.mapping)


@dataclass(frozen=True)
class Task:
    """One input to process (small: it crosses process boundaries)."""

    path: str
    relative: str
    error: str | None = None

    @classmethod
    def from_candidate(cls, candidate: Candidate) -> Task:
        return cls(str(candidate.path), str(candidate.relative), candidate.error)


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


def _mask(message: str) -> str:
    """An error message without quoted text (which may be an element value), shortened."""
    text = _QUOTED.sub("'…'", " ".join(message.split()))
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def _describe(exc: BaseException) -> str:
    message = _mask(str(exc))
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _deidentification_reason(exc: DeidentificationError) -> str:
    """The error's message (quoted text masked), where it happened and the rule."""
    reason = f"cannot de-identify: {_mask(exc.message)}"
    if exc.path:
        reason += f" at {exc.path}"
    if exc.rule is not None:
        reason += f"; rule {exc.rule!r}"
    return reason


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


def _is_dicomdir(dataset: Dataset) -> bool:
    meta = getattr(dataset, "file_meta", None)
    uid = meta.get("MediaStorageSOPClassUID") if meta is not None else None
    return str(uid or "") == DICOMDIR_SOP_CLASS or "DirectoryRecordSequence" in dataset


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
    ) -> None:
        if record_mapping:
            core = copy.copy(core)
            core.pseudonymizer = copy.copy(core.pseudonymizer)
            core.pseudonymizer.recorder = MappingRecorder()
        self.core = core
        self.output = Path(output).absolute()
        self.layout = layout
        self.record_mapping = record_mapping
        self.fsync = fsync
        self.key = core.pseudonymizer.key_fingerprint

    def __call__(self, task: Task) -> FileResult:
        start = time.perf_counter()
        result = FileResult(status="failed", input=task.path)
        recorder = None
        if self.record_mapping:
            recorder = self.core.pseudonymizer.recorder = MappingRecorder()
        try:
            self._process(task, result)
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
        if task.error is not None:
            result.reason = task.error
            return
        try:
            handle = open(task.path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            result.reason = f"cannot read file: {exc.strerror or _describe(exc)}"
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
        if _is_dicomdir(dataset):
            result.status = "skipped"
            result.reason = "DICOMDIR (a media directory index, not an image)"
            return
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                deidentified = self.core.deidentify(dataset, stream=True)
            except DatasetRejectedError as exc:
                result.status, result.reason = "rejected", exc.reason
                result.bouncer = exc.bouncer_name
                return
            except DeidentificationError as exc:
                result.reason = _deidentification_reason(exc)
                return
            except Exception as exc:
                result.reason = f"cannot de-identify: {_describe(exc)}"
                return
            del dataset
            destination = output_path(deidentified, Path(task.relative), self.output, self.layout)
            token = temp_token(task.path, str(destination))
            try:
                temp, size = write_temp(deidentified, destination, token, fsync=self.fsync)
            except Exception as exc:
                result.reason = f"cannot write output: {_describe(exc)}"
                return
        result.warnings = read_warnings + len(caught)
        result.status = "done"
        result.output = str(destination)
        result.output_bytes = size
        result.temp = str(temp)
        result.key = self.key

    def crashed(self, task: Task) -> FileResult:
        """The result for a task whose worker process died."""
        size = _size(task.path)
        return FileResult(
            status="failed",
            input=task.path,
            reason="the worker process died while processing this file",
            input_bytes=size,
        )


def _size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def _discard_result(result: FileResult) -> None:
    discard(result.temp)


class _Committer:
    """Commits outputs and makes quarantine copies, in the main process."""

    def __init__(
        self,
        options: BatchOptions,
        state: ResumeState | None,
        mapping: MappingFile | None = None,
    ) -> None:
        self.options = options
        self.state = state
        self.mapping = mapping
        self.fsync = options.fsync == "each"
        self.quarantine = (
            Path(options.quarantine).absolute() if options.quarantine is not None else None
        )
        self.claimed = DigestSet()  # ~16 bytes an output: a batch may have millions

    def finish(self, task: Task, result: FileResult) -> Path | None:
        """Commit the output of a ``done`` result, or copy a rejected or failed input to
        the quarantine folder; the path of that copy."""
        if result.status == "done":
            self._commit(result)
        if self.mapping is not None and result.mapping is not None:
            if result.status == "done":  # committed: journaled before it is reported
                self.mapping.add(result.mapping)
            result.mapping = None
        if result.status in ("rejected", "failed") and self.quarantine is not None:
            return self._quarantine(task, result, self.quarantine)
        return None

    def _commit(self, result: FileResult) -> None:
        assert result.output is not None and result.temp is not None
        destination = Path(result.output)
        digest = path_digest(result.output)
        reason = None
        if digest in self.claimed:
            reason = "another input of this run was already written to the same output path"
        elif self.state is not None and digest in self.state.done_outputs:
            reason = "another input of an earlier run was already written to this output path"
        elif not self.options.resume and os.path.lexists(destination):
            reason = "a file already exists at the output path (not overwritten)"
        if reason is not None:
            discard(result.temp)
            result.status, result.reason = "failed", reason
            result.output = result.output_bytes = result.key = None
        else:
            try:
                commit(Path(result.temp), destination, fsync=self.fsync)
            except OSError as exc:
                discard(result.temp)
                result.status, result.reason = "failed", f"cannot write output: {_describe(exc)}"
                result.output = result.output_bytes = result.key = None
            else:
                self.claimed.add(digest)
        result.temp = None

    def _quarantine(self, task: Task, result: FileResult, quarantine: Path) -> Path | None:
        if task.error is not None or not os.path.isfile(task.path):
            return None
        try:
            return copy_to_quarantine(
                Path(task.path), Path(task.relative), quarantine, fsync=self.fsync
            )
        except OSError as exc:
            result.reason += f"; copy to quarantine failed: {_describe(exc)}"
            return None


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

    With ``options.mapping`` the pseudonyms of every committed output are collected and the
    mapping file is written once at the end, also after an interruption (see
    :mod:`idiscore.batch.mapping`).

    Raises:
        ConfigurationError: unsafe or invalid paths or options, or an existing report or
            mapping file without ``resume`` (before anything is written).
        InputError: an input does not exist.
        OSError: the mapping file could not be written at the end (its entries stay in
            its journal, and a resumed run writes them).
    """
    inputs = list(inputs)
    check_paths(inputs, options.output, options.quarantine, options.report, options.mapping)
    if not options.resume and options.report is not None and _non_empty(options.report):
        raise ConfigurationError(
            f"the report {os.fspath(options.report)!r} already exists; resume that run "
            "(resume=True, --resume) or choose another report file"
        )
    processor = FileProcessor(
        core,
        options.output,
        options.layout,
        record_mapping=options.mapping is not None,
        fsync=options.fsync == "each",
    )
    state: ResumeState | None = None
    summary = BatchSummary()
    started = time.perf_counter()
    if options.resume:
        assert options.report is not None
        state = load_resume_state(options.report)
        _check_key(state, processor.key)
        summary.temp_files_removed = sweep_temp_files(processor.output)
    if engine is None:
        engine = _engine(processor, options.workers)
    mapping = (
        MappingFile.open(
            options.mapping,
            resume=options.resume,
            done_before=state is not None and bool(state.done_inputs),
        )
        if options.mapping is not None
        else None
    )
    try:
        processor.output.mkdir(parents=True, exist_ok=True)
        report = (
            ReportWriter(options.report, append=options.resume)
            if options.report is not None
            else None
        )
    except BaseException:
        if mapping is not None:
            mapping.abandon()
        raise
    roots = [processor.output] + ([options.quarantine] if options.quarantine else [])
    # the mapping journal reaches the disk before the report lines of its outputs
    journal = [mapping.journal] if mapping is not None else []
    checkpointer = Checkpointer(report, policy=options.fsync, roots=roots, also_sync=journal)
    committer = _Committer(options, state, mapping)

    def tasks() -> Iterator[Task]:
        for candidate in discover(inputs):
            if state is not None and state.is_done(str(candidate.path)):
                summary.already_done += 1
                continue
            yield Task.from_candidate(candidate)

    results = engine.run(tasks())
    pending: FileResult | None = None
    try:
        for task, result in results:
            pending = result
            copy = committer.finish(task, result)
            pending = None
            summary.add(result)
            checkpointer.add(result, output=result.output, copy=copy)
            if on_result is not None:
                on_result(result, summary)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        if pending is not None:
            discard(pending.temp)
            if mapping is not None:
                mapping.add_if_committed(pending)
        close = getattr(results, "close", None)
        if close is not None:
            close()
        try:
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


def plan_batch(
    inputs: Iterable[str | os.PathLike[str]],
    options: BatchOptions,
    *,
    on_result: Callable[[FileResult, BatchSummary], None] | None = None,
) -> BatchSummary:
    """A dry run: discover and classify every input; read nothing but headers, write nothing.

    Each input gets a result with status ``done`` (would be processed; its mirror output path
    when the layout is ``mirror``), ``skipped`` or ``failed`` (cannot be opened or its file
    meta cannot be read). Bouncers are not run: a dry run cannot predict rejections.
    """
    inputs = list(inputs)
    check_paths(inputs, options.output, options.quarantine, options.report, options.mapping)
    output = Path(options.output).absolute()
    state = load_resume_state(options.report) if options.resume and options.report else None
    summary = BatchSummary(dry_run=True)
    started = time.perf_counter()
    try:
        for candidate in discover(inputs):
            if state is not None and state.is_done(str(candidate.path)):
                summary.already_done += 1
                continue
            result = _classify(candidate, output, options.layout)
            summary.add(result)
            if on_result is not None:
                on_result(result, summary)
    except KeyboardInterrupt:
        summary.interrupted = True
    summary.seconds = time.perf_counter() - started
    return summary


def _classify(candidate: Candidate, output: Path, layout: str) -> FileResult:
    start = time.perf_counter()
    result = FileResult(status="failed", input=str(candidate.path))
    if candidate.error is not None:
        result.reason = candidate.error
        return result
    result.input_bytes = _size(str(candidate.path))
    try:
        sniffed = sniff(candidate.path)
    except InputError as exc:
        result.reason = str(exc)
        return result
    if not sniffed.is_dicom:
        result.status, result.reason = "skipped", sniffed.reason
        return result
    if sniffed.has_preamble:
        meta = _read_meta(candidate.path)
        if isinstance(meta, str):
            result.reason = meta
            return result
        if str(meta.get("MediaStorageSOPClassUID", "")) == DICOMDIR_SOP_CLASS:
            result.status = "skipped"
            result.reason = "DICOMDIR (a media directory index, not an image)"
            return result
    result.status = "done"
    if layout == "mirror":
        result.output = str(output / candidate.relative)
    result.seconds = time.perf_counter() - start
    return result


def _read_meta(path: Path) -> Any:
    from pydicom.filereader import read_file_meta_info

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return read_file_meta_info(path)
        except Exception as exc:
            return f"cannot read DICOM file meta: {_describe(exc)}"
