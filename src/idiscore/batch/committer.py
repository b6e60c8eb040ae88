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

    #: what an output that is not the report's is called in a reason
    _unclaimed = "a file"

    def _commit(self, result: FileResult) -> None:
        """Move the temporary output into place, unless the output path is claimed."""
        assert result.output is not None and result.temp is not None
        digest = path_digest(result.output)
        reason = None
        try:
            if digest in self.claimed:
                reason = "another input of this run was already written to the same output path"
            elif self.state is not None and digest in self.state.done_outputs:
                reason = "another input of an earlier run was already written to this output path"
            elif self._exists(result.output):
                if not self.resume:
                    reason = "a file already exists at the output path (not overwritten)"
                elif self._same(result.output, result.temp):
                    # written by the interrupted run before it could report it: the same bytes
                    self._discard(result.temp)
                    self.claimed.add(digest)
                    result.temp = None
                    return
                else:
                    reason = (
                        f"{self._unclaimed} the report does not claim already exists at the "
                        "output path (not overwritten; remove it if an interrupted run left "
                        "it, and resume)"
                    )
            if reason is None:
                self._move(result.temp, result.output)
        except OSError as exc:
            reason = f"cannot write output: {_describe(exc)}"
        if reason is not None:
            self._discard(result.temp)
            result.status, result.reason = "failed", reason
            result.output = result.output_bytes = result.key = None
        else:
            self.claimed.add(digest)
        result.temp = None

    # the output store: a local folder here (see idiscore.batch.storage for object stores)

    def _exists(self, output: str) -> bool:
        return os.path.lexists(output)

    def _same(self, output: str, temp: str) -> bool:
        return same_content(Path(output), Path(temp))

    def _discard(self, temp: str | None) -> None:
        discard(temp)

    def _move(self, temp: str, output: str) -> None:
        commit(Path(temp), Path(output), fsync=self.fsync)

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
