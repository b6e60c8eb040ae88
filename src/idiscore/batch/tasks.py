"""What a batch is asked to do: its options, one task per input, and the one check on a
read dataset that every way of reading shares (a DICOMDIR is no image).

Kept apart from :mod:`idiscore.batch.runner` so that the committer, the object-store
mode and the engines can name these types without importing the runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset

from idiscore.batch.durability import FSYNC_POLICIES
from idiscore.batch.mapping_store import mapping_format
from idiscore.batch.sources import Candidate
from idiscore.batch.writer import LAYOUTS
from idiscore.errors import ConfigurationError

__all__ = ["DICOMDIR_SOP_CLASS", "BatchOptions", "Task", "is_dicomdir"]

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
