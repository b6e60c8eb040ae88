"""Committing outputs and quarantine copies, in the main process, in input order.

A worker leaves a complete temporary file beside each output; the committer renames it into
place unless the output path is already claimed -- by another input of this run, by an
earlier run's report, or by a file the report does not claim (a run never overwrites one;
when resuming, a file holding exactly the bytes it would write is kept as this input's
output: an interrupted run wrote it before its report line). Rejected and failed inputs are
copied to the quarantine folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from idiscore.batch.mapping import MappingFile
from idiscore.batch.reasons import _describe
from idiscore.batch.report import DigestSet, FileResult, ResumeState, path_digest
from idiscore.batch.writer import commit, copy_to_quarantine, discard, same_content

if TYPE_CHECKING:
    from idiscore.batch.tasks import Task

__all__ = ["Committer"]


class Committer:
    """Commits outputs and makes quarantine copies, in the main process."""

    def __init__(
        self,
        *,
        resume: bool,
        fsync: bool,
        quarantine: Path | None,
        state: ResumeState | None,
        mapping: MappingFile | None = None,
    ) -> None:
        self.resume = resume
        self.state = state
        self.mapping = mapping
        self.fsync = fsync
        self.quarantine = Path(quarantine).absolute() if quarantine is not None else None
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
        elif os.path.lexists(destination):
            if not self.resume:
                reason = "a file already exists at the output path (not overwritten)"
            elif same_content(destination, Path(result.temp)):
                # written by the interrupted run before it could report it: the same bytes
                discard(result.temp)
                self.claimed.add(digest)
                result.temp = None
                return
            else:
                reason = (
                    "a file the report does not claim already exists at the output path "
                    "(not overwritten; remove it if an interrupted run left it, and resume)"
                )
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
