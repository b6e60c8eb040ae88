"""Batches: de-identify files and folders, with a report, quarantine and resume.

::

    from idiscore.batch import BatchOptions, run_batch

    summary = run_batch(core, ["incoming/"], BatchOptions(output=Path("out"), report=...))

Modules: :mod:`~idiscore.batch.sources` (discovery and DICOM sniffing),
:mod:`~idiscore.batch.runner` (per-file processing, the batch loop),
:mod:`~idiscore.batch.planning` (the dry run),
:mod:`~idiscore.batch.committer` (outputs renamed into place, quarantine copies),
:mod:`~idiscore.batch.locking` (one run at a time per output, report, mapping),
:mod:`~idiscore.batch.preflight` (can the batch write where it must),
:mod:`~idiscore.batch.engines` (in-process and process-pool engines),
:mod:`~idiscore.batch.dask_engine` (the Dask engine, ``DaskEngine(client)``; the ``dask`` extra),
:mod:`~idiscore.batch.storage` (fsspec URLs for inputs and outputs; the ``s3`` extra),
:mod:`~idiscore.batch.writer` (layouts, atomic writes, quarantine),
:mod:`~idiscore.batch.durability` (when outputs are fsynced and report lines written),
:mod:`~idiscore.batch.report` (the JSON-lines report and resume),
:mod:`~idiscore.batch.mapping` (the opt-in mapping file: original -> pseudonym),
:mod:`~idiscore.batch.mapping_store` (reading and writing that file),
:mod:`~idiscore.batch.safety` (refusing unsafe path combinations).
"""

from idiscore.batch.engines import InProcessEngine, ProcessPoolEngine, default_workers
from idiscore.batch.planning import plan_batch
from idiscore.batch.report import STATUSES, FileResult, load_resume_state, read_report
from idiscore.batch.runner import (
    BatchOptions,
    BatchSummary,
    FileProcessor,
    Task,
    read_dicom,
    run_batch,
)
from idiscore.batch.safety import check_paths
from idiscore.batch.sources import Candidate, discover, sniff
from idiscore.batch.writer import LAYOUTS

__all__ = [
    "LAYOUTS",
    "STATUSES",
    "BatchOptions",
    "BatchSummary",
    "Candidate",
    "FileProcessor",
    "FileResult",
    "InProcessEngine",
    "ProcessPoolEngine",
    "Task",
    "check_paths",
    "default_workers",
    "discover",
    "load_resume_state",
    "plan_batch",
    "read_dicom",
    "read_report",
    "run_batch",
    "sniff",
]
