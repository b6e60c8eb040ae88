"""What the command line shows while a batch runs, and the summary table at the end.

On a terminal: a rich progress bar with files/s and ETA. Otherwise (a pipe, a log file):
plain lines -- one per rejected or failed input, a progress line every few seconds, and
one per input with ``-v``. Never an element value: reasons come from the report.
"""

from __future__ import annotations

import os
import time
from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from idiscore.batch.report import STATUSES, FileResult
from idiscore.batch.runner import BatchSummary

__all__ = ["BatchDisplay", "format_bytes", "printable", "summary_table"]

_STYLES = {"done": "green", "rejected": "yellow", "skipped": "dim", "failed": "red"}
_PLAIN_EVERY = 10.0  # seconds between progress lines when not on a terminal


def format_bytes(count: int) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"  # pragma: no cover


def printable(path: str | os.PathLike[str] | None) -> str:
    """A path (or text) as one printable line: a byte that is not UTF-8 becomes ``\\xNN``,
    a control character (a newline in a file name) its escape."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace") if path is not None else ""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class _RateColumn(TextColumn):
    def __init__(self) -> None:
        super().__init__("")

    def render(self, task):  # type: ignore[no-untyped-def]
        from rich.text import Text

        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:.1f} files/s", style="cyan")


class BatchDisplay:
    """Progress for one batch; use as a context manager, call :meth:`update` per input.

    The progress bar (and its refresh thread) starts with the first update: by then a
    process pool has started its workers, which it can fork only while this process runs
    a single thread (see :mod:`idiscore.batch.engines`).
    """

    def __init__(
        self,
        console: Console,
        *,
        verbosity: int = 0,
        total: int | None = None,
        dry_run: bool = False,
    ) -> None:
        self.console = console
        self.verbosity = verbosity
        self.dry_run = dry_run
        self.live = console.is_terminal and verbosity >= 0
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._total = total
        self._last_line = time.monotonic()
        self._started = time.monotonic()

    def __enter__(self) -> BatchDisplay:
        if self.live:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                _RateColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
            )
            label = "classifying" if self.dry_run else "de-identifying"
            self._task = self._progress.add_task(label, total=self._total)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, result: FileResult, summary: BatchSummary) -> None:
        if self._progress is not None and self._task is not None:
            if not self._progress.live.is_started:
                self._progress.start()
            self._progress.advance(self._task)
        if self.verbosity < 0:
            return
        if self.verbosity > 0 or result.status in ("rejected", "failed"):
            self._line(result)
        if not self.live:
            now = time.monotonic()
            if now - self._last_line >= _PLAIN_EVERY:
                self._last_line = now
                rate = summary.total / max(now - self._started, 1e-9)
                self.console.print(
                    f"progress: {summary.total} files ({rate:.1f} files/s)",
                    markup=False,
                    highlight=False,
                )

    def _line(self, result: FileResult) -> None:
        status = "would process" if self.dry_run and result.status == "done" else result.status
        text = f"{status}: {printable(result.input)}"
        if result.status == "done" and result.output:
            text += f" -> {printable(result.output)}"
        if result.reason:
            text += (
                f" ({result.bouncer}: {printable(result.reason)})"
                if result.bouncer
                else (f" ({printable(result.reason)})")
            )
        style = _STYLES.get(result.status, "")
        if self.live:
            self.console.print(f"[{style}]{escape(text)}[/]" if style else escape(text))
        else:
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)


def summary_table(summary: BatchSummary) -> Table:
    """Counts per status, bytes and time."""
    title = "idiscore dry run" if summary.dry_run else "idiscore de-identification"
    if summary.interrupted:
        title += " (interrupted)"
    table = Table(title=title, title_justify="left")
    table.add_column("status")
    table.add_column("files", justify="right")
    table.add_column("input", justify="right")
    table.add_column("output", justify="right")
    for status in STATUSES:
        label = "would process" if summary.dry_run and status == "done" else status
        output = (
            format_bytes(summary.bytes_out) if status == "done" and not summary.dry_run else ""
        )
        table.add_row(
            f"[{_STYLES[status]}]{label}[/]",
            str(summary.counts.get(status, 0)),
            format_bytes(summary.bytes_in.get(status, 0)),
            output,
        )
    if summary.already_done:
        table.add_row("finished earlier (resumed)", str(summary.already_done), "", "")
    total_in = sum(summary.bytes_in.values())
    table.add_section()
    table.add_row("total", str(summary.total), format_bytes(total_in), "")
    rate = summary.total / summary.seconds if summary.seconds > 0 else 0.0
    table.caption = f"{summary.seconds:.1f} s, {rate:.1f} files/s"
    table.caption_justify = "left"
    return table
