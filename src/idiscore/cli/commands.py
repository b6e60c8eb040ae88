"""The ``idiscore`` command: deidentify, explain, profile.

Exit codes: 0 -- every input done or skipped; 1 -- some input rejected or failed (or,
for ``explain``, the file cannot be read); 2 -- usage or configuration error (bad option,
unknown profile option, unsafe paths, missing key file, an input or pattern that matches
nothing, another run using the same output, report or mapping); 3 -- a place the batch
writes to cannot be created or written (output folder, report, mapping: missing
permission, read-only or full file system); 130 -- interrupted (Ctrl-C).
"""

from __future__ import annotations

import contextlib
import os
import signal
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from idiscore._version import __version__
from idiscore.errors import (
    ConfigurationError,
    DatasetRejectedError,
    IDISCoreError,
    InputError,
    MissingDependencyError,
    StorageError,
)

__all__ = ["main"]

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_STORAGE = 3
EXIT_INTERRUPTED = 130


class _ConfigurationProblem(click.ClickException):
    exit_code = EXIT_USAGE


class _StorageProblem(click.ClickException):
    exit_code = EXIT_STORAGE


class _IdiscoreGroup(click.Group):
    """Maps configuration errors (and inputs that vanish before the batch starts) to exit 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except StorageError as exc:
            raise _StorageProblem(exc.strerror or str(exc)) from None
        except (ConfigurationError, MissingDependencyError, InputError) as exc:
            raise _ConfigurationProblem(str(exc)) from None


def _console() -> Console:
    return Console(highlight=False)


def _error_console() -> Console:
    return Console(stderr=True, highlight=False)


def _warn(message: str) -> None:
    _error_console().print(f"[bold yellow]warning:[/] {message}", markup=True)


_profile_option = click.option(
    "--profile",
    "profile_spec",
    default="default",
    show_default=True,
    metavar="PROFILE",
    help="'default', a comma-separated list of PS3.15 options after the Basic Profile "
    "(e.g. basic,clean_descriptors,retain_uid), or a profile file (.toml).",
)
_key_option = click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    help="File holding the secret pseudonymization key (default: $IDISCORE_KEY).",
)


def _ocr_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--ocr/--no-ocr, --ocr-mode and --ocr-engine (burned-in text detection)."""
    command = click.option(
        "--ocr-engine",
        type=click.Choice(["rapidocr", "tesseract"]),
        default="rapidocr",
        show_default=True,
        help="Text detector: rapidocr (idiscore[ocr]) or tesseract (pytesseract and the "
        "tesseract program).",
    )(command)
    command = click.option(
        "--ocr-mode",
        type=click.Choice(["all", "phi"]),
        default="all",
        show_default=True,
        help="all: blank every text box; phi: only text matching the patient's names, IDs, "
        "dates and institution, or shaped like an identifier (keeps '2.5MHz', 'TIS0.5').",
    )(command)
    return click.option(
        "--ocr/--no-ocr",
        default=True,
        show_default=True,
        help="Find and blank burned-in text in images whose Burned In Annotation is YES, or "
        "absent on ultrasound, secondary capture, photographs and documents; without it "
        "(or without the engine installed) such images are rejected.",
    )(command)


def _text_detection(ocr: bool, mode: str, engine: str) -> Any:
    from idiscore.cli.setup import text_detection

    detection = text_detection(ocr, mode, engine)
    if detection is not None and not detection.available:
        _warn(
            f"text detection engine {engine} is not installed ({detection.install_hint}): "
            "images that may show burned-in text are rejected"
        )
    return detection


@click.group(cls=_IdiscoreGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="idiscore")
def main() -> None:
    """De-identify DICOM files following DICOM PS3.15 Annex E."""


def _describe_key(key: Any) -> None:
    from idiscore.pseudonyms import KEY_ENV_VAR

    if key.is_random:
        _warn(
            f"no key given (--key-file or {KEY_ENV_VAR}): this run uses a random key, so its "
            "pseudonyms (UIDs, IDs, names, date shifts) will not match any other run."
        )


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C while a batch runs: stop cleanly."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous: Callable[..., Any] | int | None = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit(code: int) -> None:
    click.get_current_context().exit(code)


def _location(value: str) -> Path | str:
    """A folder as a Path; a URL (``scheme://``) as it is."""
    from idiscore.batch.storage import is_url

    return value if is_url(value) else Path(value)


def _verbosity(quiet: bool, verbose: int) -> int:
    return -1 if quiet else verbose


@main.command()
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option(
    "-o",
    "--output",
    required=True,
    callback=lambda _ctx, _param, value: _location(value),
    help="Folder for the de-identified files (must not be inside an input), or a URL "
    "(s3://bucket/prefix, memory://..., file://...; needs the 's3' extra).",
)
@_profile_option
@_key_option
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: all cores; 1 = in this process).",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="local: this machine (--workers processes); dask: a Dask cluster (--scheduler, or "
    "a local cluster of --workers processes). Needs the 'dask' extra.",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="Address of a running Dask scheduler (tcp://HOST:PORT, tls://…); with --engine dask.",
)
@click.option(
    "--worker-key-file",
    default=None,
    metavar="PATH",
    help="With --engine dask: the workers read the key from this file on their own "
    "machines (it must hold the same key), so the key is not sent over the network.",
)
@click.option(
    "--layout",
    type=click.Choice(["mirror", "patient"]),
    default="mirror",
    show_default=True,
    help="mirror: the input tree; patient: PatientID/Study/Series/SOPInstanceUID.dcm "
    "from the de-identified values.",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON-lines report, one line per input.",
)
@click.option(
    "--quarantine",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder receiving copies of rejected and failed inputs.",
)
@click.option(
    "--mapping",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Record every pseudonym used, with its original value, in this file (.csv, or "
    ".sqlite/.db). It re-identifies patients: it must be outside the input and output "
    "folders; keep it as safe as the key.",
)
@click.option(
    "--midi-b-mapping",
    "midi_b_mapping",
    is_flag=True,
    help="With --mapping: also write the MIDI-B uid_mapping.csv and patid_mapping.csv "
    "(id_old,id_new) beside the mapping file.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Skip inputs the report lists as done; append to it (and add to --mapping).",
)
@click.option(
    "--fsync",
    type=click.Choice(["grouped", "each"]),
    default="grouped",
    show_default=True,
    help="When outputs are flushed to disk. grouped: in groups (at least every 2 s), each "
    "group before its report lines; all of them before the command ends. each: every "
    "file before it gets its final name (slower; complete outputs even after a power "
    "failure mid-batch).",
)
@click.option(
    "--retry-failed",
    is_flag=True,
    help="With --resume: process again the inputs whose last report line says failed.",
)
@_ocr_options
@click.option("--dry-run", is_flag=True, help="Discover and classify inputs; write nothing.")
@click.option("-q", "--quiet", is_flag=True, help="Only the summary.")
@click.option("-v", "--verbose", count=True, help="A line per input.")
def deidentify(
    inputs: tuple[str, ...],
    output: Path | str,
    profile_spec: str,
    key_file: str | None,
    workers: int | None,
    engine: str,
    scheduler: str | None,
    worker_key_file: str | None,
    layout: str,
    report: Path | None,
    quarantine: Path | None,
    mapping: Path | None,
    midi_b_mapping: bool,
    resume: bool,
    fsync: str,
    retry_failed: bool,
    ocr: bool,
    ocr_mode: str,
    ocr_engine: str,
    dry_run: bool,
    quiet: bool,
    verbose: int,
) -> None:
    """De-identify DICOM files, folders (recursively) and glob patterns into OUTPUT.

    Files that are not DICOM, DICOMDIR files, and entries that are not regular files
    (FIFOs, sockets, devices) are skipped. Rejected and unreadable files are reported (and
    copied to --quarantine). Exit code 0: everything done or skipped; 1: some inputs
    rejected or failed; 2: usage or configuration error (or another run holds the output);
    3: the output folder, report or mapping cannot be written.
    """
    from idiscore.batch import BatchOptions, default_workers, plan_batch, run_batch
    from idiscore.batch.sources import check_inputs, count_candidates, is_glob
    from idiscore.batch.storage import is_url
    from idiscore.cli.display import BatchDisplay, summary_table
    from idiscore.cli.setup import build_core, load_key

    for item in inputs:
        if not is_url(item) and not is_glob(item) and not os.path.lexists(item):
            raise click.BadParameter(f"{item!r} does not exist", param_hint="INPUT")
    try:
        check_inputs([item for item in inputs if not is_url(item)])
    except InputError as exc:
        raise click.BadParameter(str(exc), param_hint="INPUT") from None
    if resume and report is None:
        raise click.UsageError("--resume needs --report (the report of the earlier run)")
    if midi_b_mapping and mapping is None:
        raise click.UsageError("--midi-b-mapping needs --mapping")
    if (scheduler is not None or worker_key_file is not None) and engine != "dask":
        raise click.UsageError("--scheduler and --worker-key-file need --engine dask")
    options = BatchOptions(
        output=output,
        layout=layout,
        report=report,
        quarantine=quarantine,
        resume=resume,
        workers=workers or default_workers(),
        mapping=mapping,
        fsync=fsync,
        retry_failed=retry_failed,
    )
    console = _console()
    verbosity = _verbosity(quiet, verbose)

    if dry_run:
        from idiscore.cli.setup import resolve_profile

        resolve_profile(profile_spec)  # a bad profile is an error even in a dry run
        total = count_candidates(inputs) if console.is_terminal and verbosity >= 0 else None
        with BatchDisplay(console, verbosity=verbosity, total=total, dry_run=True) as display:
            summary = plan_batch(inputs, options, on_result=display.update)
        console.print(summary_table(summary))
        _exit(EXIT_INTERRUPTED if summary.interrupted else EXIT_OK)

    key = load_key(key_file)
    if resume and key.is_random:
        raise ConfigurationError(
            "--resume needs the key of the earlier run (--key-file or IDISCORE_KEY); "
            "a random key would give different pseudonyms"
        )
    # a profile error first, then the key warning
    core = build_core(profile_spec, key, _text_detection(ocr, ocr_mode, ocr_engine))
    if verbosity >= 0:
        _describe_key(key)
    total = None
    if console.is_terminal and verbosity >= 0 and not any(map(is_url, inputs)):
        with console.status("finding input files…"):
            total = count_candidates(inputs)
    with contextlib.ExitStack() as stack:
        batch_engine = None
        if engine == "dask":
            from idiscore.batch.dask_engine import dask_engine

            if verbosity >= 0:
                where = scheduler or f"a local cluster of {options.workers} worker processes"
                console.print(f"engine: dask on {where}", markup=False)
            batch_engine = stack.enter_context(
                dask_engine(scheduler, options.workers, worker_key_file=worker_key_file)
            )
        stack.enter_context(_sigterm_interrupts())
        display = stack.enter_context(BatchDisplay(console, verbosity=verbosity, total=total))
        summary = run_batch(core, inputs, options, on_result=display.update, engine=batch_engine)
    for note in summary.notes:
        _warn(escape(note))
    console.print(summary_table(summary))
    if summary.temp_files_removed and verbosity >= 0:
        console.print(
            f"removed {summary.temp_files_removed} temporary file(s) left by the interrupted run"
        )
    if report is not None and verbosity >= 0:
        console.print(f"report: {report}", markup=False)
    if mapping is not None and midi_b_mapping:
        from idiscore.batch.mapping_store import read_mapping
        from idiscore.verify.midib import write_midi_b_mappings

        write_midi_b_mappings(read_mapping(mapping).entries(), mapping.parent)
    if mapping is not None and verbosity >= 0:
        console.print(
            f"mapping: {mapping} (it re-identifies patients: keep it as safe as the key)",
            markup=False,
            soft_wrap=True,
        )
    if summary.interrupted:
        _error_console().print(
            "[bold red]interrupted[/]: the report is complete up to here; "
            "run again with --resume to continue"
        )
        _exit(EXIT_INTERRUPTED)
    _exit(EXIT_OK if summary.ok else EXIT_SOME_FAILED)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_profile_option
@_key_option
@click.option(
    "--show-values",
    is_flag=True,
    help="Print element values (they may identify the patient) and their new values.",
)
@click.option(
    "--preview",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a PNG of the image before and after, the blanked boxes outlined in red "
    "(needs Pillow: idiscore[ocr]). The image may show PHI: keep the file as safe as FILE.",
)
@_ocr_options
def explain(
    file: Path,
    profile_spec: str,
    key_file: str | None,
    show_values: bool,
    preview: Path | None,
    ocr: bool,
    ocr_mode: str,
    ocr_engine: str,
) -> None:
    """Show, for every element of FILE, the rule that applies and what it does."""
    from idiscore.cli.setup import build_core, load_key

    key = load_key(key_file)
    core = build_core(profile_spec, key, _text_detection(ocr, ocr_mode, ocr_engine))
    # pydicom warns about invalid values as it decodes them, quoting the value: counted,
    # never shown
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            lines, dataset, deidentified = _explanation(file, core, show_values)
        except IDISCoreError as exc:
            lines = None
            message = str(exc)
    if lines is None:
        _error_console().print(f"[bold red]error:[/] {escape(_shown(file))}: {escape(message)}")
        _exit(EXIT_SOME_FAILED)
        return
    for line in lines:
        click.echo(line)
    if not show_values:
        click.echo("(values masked; --show-values prints them)")
    if caught:
        click.echo(f"({len(caught)} warning(s) from pydicom not shown: they may quote values)")
    if preview is not None:
        from idiscore.cli.preview import write_preview

        click.echo(write_preview(core, dataset, deidentified, preview))


def _shown(path: Path | str) -> str:
    from idiscore.cli.display import printable

    return printable(path)


def _explanation(file: Path, core: Any, show_values: bool) -> tuple[list[str], Any, Any]:
    """The lines ``explain`` prints (built completely first: an error prints none)."""
    from idiscore.batch import read_dicom, sniff
    from idiscore.cli.explain import explain_dataset, format_explanation

    sniffed = sniff(file)  # a FIFO or a device is refused before it is opened
    if not sniffed.is_dicom:
        raise InputError(sniffed.reason)
    dataset = read_dicom(file, has_preamble=sniffed.has_preamble)
    verdict = "would be de-identified"
    deidentified = None
    try:
        deidentified = core.deidentify(dataset)
    except DatasetRejectedError as exc:
        verdict = f"would be REJECTED by {exc.bouncer_name}: {exc.reason}"
    except IDISCoreError as exc:
        verdict = f"would FAIL: {exc}"
    lines = [f"{_shown(file)}: {verdict} with profile {core.profile.name!r}"]
    from idiscore.cli.preview import describe_findings

    lines.extend(describe_findings(deidentified))
    meta = getattr(dataset, "file_meta", None)
    if meta is not None and len(meta):
        lines.append("file meta information:")
        out_meta = getattr(deidentified, "file_meta", None) if deidentified is not None else None
        for line in explain_dataset(
            meta, core.profile, show_values=show_values, deidentified=out_meta, depth=1
        ):
            lines.append(format_explanation(line, show_values=show_values))
    lines.append("data set:")
    for line in explain_dataset(
        dataset, core.profile, show_values=show_values, deidentified=deidentified, depth=1
    ):
        lines.append(format_explanation(line, show_values=show_values))
    return lines, dataset, deidentified


@main.command("profile")
@_profile_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "md", "csv", "html", "toml"]),
    default="text",
    show_default=True,
    help="Table format, or 'toml' for a profile file that --profile can load.",
)
def profile_command(profile_spec: str, output_format: str) -> None:
    """Print the rules of a profile."""
    from idiscore.cli.setup import resolve_profile

    profile = resolve_profile(profile_spec)
    if output_format == "toml":
        from idiscore.profile_file import dump_profile

        click.echo(dump_profile(profile), nl=False)
        return
    from idiscore.describe import describe

    click.echo(describe(profile, output_format), nl=False)


def _register_commands() -> None:
    """The commands that live in modules of their own (node, verify)."""
    from idiscore.cli.node import pull_command, serve_command
    from idiscore.cli.verify import verify

    main.add_command(serve_command)
    main.add_command(pull_command)
    main.add_command(verify)


_register_commands()
