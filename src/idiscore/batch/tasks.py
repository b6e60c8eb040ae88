"""What a batch is asked to do: its options, one task per input, and what every way of
reading shares once a dataset is read: a DICOMDIR is no image, and the de-identification
step with its outcome (:func:`deidentify_input`).

Kept apart from :mod:`idiscore.batch.runner` so that the committer, the object-store
mode and the engines can name these types without importing the runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydicom.dataset import Dataset

from idiscore.batch.durability import FSYNC_POLICIES
from idiscore.batch.mapping_store import mapping_format
from idiscore.batch.reasons import _deidentification_reason, _describe
from idiscore.batch.report import FileResult
from idiscore.batch.sources import Candidate
from idiscore.batch.writer import LAYOUTS
from idiscore.errors import ConfigurationError, DatasetRejectedError, DeidentificationError

if TYPE_CHECKING:
    from idiscore.core import Core

__all__ = ["DICOMDIR_SOP_CLASS", "BatchOptions", "Task", "deidentify_input", "is_dicomdir"]

DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"


@dataclass(frozen=True)
class BatchOptions:
    """How a batch runs.

    Args:
        output: the folder that receives the de-identified files, or an fsspec URL
            (``s3://bucket/prefix``; see :mod:`idiscore.batch.storage`).
        layout: ``"mirror"`` or ``"patient"`` (see :mod:`idiscore.batch.writer`).
        report: JSON-lines report file (see :mod:`idiscore.batch.report`), or None.
        quarantine: folder that receives copies of rejected and failed inputs, or None.
        resume: skip inputs the report has a final line for (done, rejected, skipped,
            failed), and append to the report (and to the mapping file).
        workers: 1 runs in this process; more uses a process pool.
        mapping: file (``.csv``, ``.sqlite`` or ``.db``) that receives every pseudonym the
            outputs use, with its original value, or None (nothing is recorded). It
            re-identifies patients, so it must lie outside the output and input folders;
            an existing one is only added to when resuming, never overwritten.
        fsync: when outputs are flushed to the disk: ``"grouped"`` (in groups, before
            their report lines) or ``"each"`` (every file before its rename); see
            :mod:`idiscore.batch.durability`.
        retry_failed: when resuming, process again the inputs whose latest line says
            ``failed`` (they get a new line).
    """

    output: Path | str
    layout: str = "mirror"
    report: Path | None = None
    quarantine: Path | None = None
    resume: bool = False
    workers: int = 1
    mapping: Path | None = None
    fsync: str = "grouped"
    retry_failed: bool = False

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
    skip: str | None = None

    @classmethod
    def from_candidate(cls, candidate: Candidate) -> Task:
        return cls(str(candidate.path), str(candidate.relative), candidate.error, candidate.skip)


def is_dicomdir(dataset: Dataset) -> bool:
    """True for a media directory index (DICOMDIR), which is not de-identified."""
    meta = getattr(dataset, "file_meta", None)
    uid = meta.get("MediaStorageSOPClassUID") if meta is not None else None
    return str(uid or "") == DICOMDIR_SOP_CLASS or "DirectoryRecordSequence" in dataset


def deidentify_input(core: Core, dataset: Dataset, result: FileResult) -> Dataset | None:
    """The de-identified copy of a task's ``dataset`` (deferred values streamed), with
    pydicom's warnings counted in ``result``; None when it is not done, with ``result``
    saying why: a DICOMDIR is skipped, a bouncer's refusal is a rejection, any other error
    a failure whose reason quotes no value."""
    if is_dicomdir(dataset):
        result.status = "skipped"
        result.reason = "DICOMDIR (a media directory index, not an image)"
        return None
    try:
        deidentified, decoding = core.deidentify_counting_warnings(dataset, stream=True)
    except DatasetRejectedError as exc:
        result.status, result.reason = "rejected", exc.reason
        result.bouncer = exc.bouncer_name
        return None
    except DeidentificationError as exc:
        result.reason = _deidentification_reason(exc)
        return None
    except Exception as exc:
        result.reason = f"cannot de-identify: {_describe(exc)}"
        return None
    result.warnings += decoding
    return deidentified
