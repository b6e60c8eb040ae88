"""``idiscore verify``: audit a de-identification run (see :mod:`idiscore.verify`).

Exit codes: 0 -- no leak and no problem (values kept by an option are allowed);
1 -- some leak or problem; 2 -- usage or configuration error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from idiscore.errors import MissingDependencyError

__all__ = ["verify"]

EXIT_CLEAN = 0
EXIT_LEAK = 1


def summary_table(summary: Any) -> Table:
    """The counts of an audit, per status, and the leaks per class."""
    from idiscore.verify import STATUSES

    table = Table(title="idiscore verify", title_justify="left")
    table.add_column("status")
    table.add_column("files", justify="right")
    for status in STATUSES:
        table.add_row(status, str(summary.counts[status]))
    table.add_section()
    table.add_row("total", str(summary.total))
    for kind, count in sorted(summary.leak_classes.items()):
        table.add_row(f"leaks: {kind}", str(count))
    for kind, count in sorted(summary.kept_classes.items()):
        table.add_row(f"kept by option: {kind}", str(count))
    return table


def midi_b_table(score: Any) -> Table:
    """Passed / total per MIDI-B category, and overall."""
    table = Table(title="MIDI-B score", title_justify="left")
    for name in ("category", "subcategory", "passed", "total", "score"):
        table.add_column(name, justify="right" if name in ("passed", "total", "score") else "left")
    for category, subcategory, passed, total in score.categories():
        table.add_row(category, subcategory, str(passed), str(total), f"{passed / total:.2%}")
    table.add_section()
    passed, total = score.overall
    table.add_row("all", "", str(passed), str(total), f"{passed / max(total, 1):.2%}")
    return table


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, path_type=Path))
@click.argument("output", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--run-report",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The report of the de-identification run (pairs inputs with outputs); without "
    "it, outputs are paired with inputs by relative path.",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON-lines verify report: one line per file, then a summary line.",
)
@click.option(
    "--html",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A self-contained HTML report (thumbnails included).",
)
@click.option(
    "--profile",
    "profile_spec",
    default=None,
    metavar="PROFILE",
    help="The profile of the run (as for deidentify); default: the options each output "
    "records in its De-identification Method Code Sequence.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: all cores; 1 = in this process).",
)
@click.option(
    "--dciodvfy/--no-dciodvfy",
    "dciodvfy",
    default=None,
    help="Compare dciodvfy's errors for input and output (default: when it is installed).",
)
@click.option(
    "--answer-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Also score the outputs with a MIDI-B answer key (SQLite table answer_data); "
    "needs --mapping.",
)
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The run's mapping file (idiscore's, or MIDI-B uid_mapping.csv with "
    "patid_mapping.csv beside it), for --answer-key.",
)
@click.option(
    "--ocr/--no-ocr",
    "ocr",
    default=None,
    help="Read the outputs' pixels for identifying text, and judge MIDI-B pixels_hidden by "
    "OCR (default: when a text engine is installed, idiscore[ocr]).",
)
@click.option(
    "--ocr-engine",
    type=click.Choice(["rapidocr", "tesseract"]),
    default="rapidocr",
    show_default=True,
    help="The text engine for --ocr.",
)
@click.option("-q", "--quiet", is_flag=True, help="Only the exit code and errors.")
def verify(
    input_path: Path,
    output: Path,
    run_report: Path | None,
    report: Path | None,
    html: Path | None,
    profile_spec: str | None,
    workers: int | None,
    dciodvfy: bool | None,
    answer_key: Path | None,
    mapping: Path | None,
    ocr: bool | None,
    ocr_engine: str,
    quiet: bool,
) -> None:
    """Prove that nothing identifying leaked from INPUT into the de-identified OUTPUT.

    Every value that identified the patient in an input (names, IDs, dates, UIDs,
    institution and device strings, free text, private values) is looked for in the bytes of
    its output; UID references, the inserted attributes, the pixel data and (when installed)
    dciodvfy's verdict are checked too. Exit code 0: clean (values kept by a profile option
    are listed, not counted as leaks); 1: a leak or a problem; 2: usage error. With a text
    engine installed, the pixels are read by OCR too (class pixel_text).
    """
    from idiscore.batch import default_workers
    from idiscore.verify import VerifyOptions, run_verify
    from idiscore.verify.pixel_text import ocr_engine as engine_for

    try:
        engine = engine_for(ocr, ocr_engine)
    except MissingDependencyError as error:
        raise click.UsageError(str(error)) from None

    if answer_key is not None and mapping is None:
        raise click.UsageError("--answer-key needs --mapping (what each UID and ID became)")

    profile = None
    if profile_spec is not None:
        from idiscore.cli.setup import resolve_profile

        profile = resolve_profile(profile_spec)
    options = VerifyOptions(
        run_report=run_report,
        report=report,
        workers=workers or default_workers(),
        profile=profile,
        dciodvfy=dciodvfy,
        previews=html is not None,
        ocr=engine is not None,
        ocr_engine=ocr_engine,
    )
    summary = run_verify(input_path, output, options, keep_results=html is not None)
    score = None
    if answer_key is not None and mapping is not None:
        from idiscore.verify.midib import (
            load_mappings,
            originals_by_instance,
            read_answer_key,
            score_outputs,
        )

        uids, patids = load_mappings(mapping)
        score = score_outputs(
            read_answer_key(answer_key),
            output,
            uids,
            patids,
            originals_by_instance(input_path),
            ocr=engine,
        )
        summary.midi_b = score.record()
    if html is not None:
        from idiscore.verify.html import write_html

        write_html(summary, html)
    console = Console(highlight=False)
    if not quiet:
        console.print(summary_table(summary))
        for problem in summary.set_problems:
            console.print(f"[bold red]output set:[/] {problem}")
        if report is not None:
            console.print(f"report: {report}", markup=False)
        if html is not None:
            console.print(f"html: {html}", markup=False)
    if score is not None:
        console.print(midi_b_table(score))
    click.get_current_context().exit(EXIT_CLEAN if summary.clean else EXIT_LEAK)
