"""A dry run: what a batch would do, reading nothing but the first bytes and file meta."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from idiscore.batch.reasons import _describe
from idiscore.batch.report import FileResult, load_resume_state
from idiscore.batch.runner import BatchSummary, _size
from idiscore.batch.safety import check_paths
from idiscore.batch.sources import Candidate, check_inputs, discover, sniff
from idiscore.batch.tasks import DICOMDIR_SOP_CLASS, BatchOptions
from idiscore.errors import InputError

__all__ = ["plan_batch"]


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
    check_inputs(inputs)
    check_paths(inputs, options.output, options.quarantine, options.report, options.mapping)
    output = Path(options.output).absolute()
    state = (
        load_resume_state(options.report, retry_failed=options.retry_failed)
        if options.resume and options.report
        else None
    )
    excluded = [output] + ([options.quarantine] if options.quarantine else [])
    summary = BatchSummary(dry_run=True)
    started = time.perf_counter()
    try:
        for candidate in discover(inputs, exclude=excluded):
            if state is not None and state.is_finished(str(candidate.path)):
                summary.already_done += 1
                continue
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")  # they may quote values: counted only
                result = _classify(candidate, output, options.layout)
            result.warnings += len(caught)
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
    if candidate.skip is not None:
        result.status, result.reason = "skipped", candidate.skip
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
