"""The ``idiscore`` command: deidentify, explain, profile.

Exit codes: 0 -- every input done or skipped; 1 -- some input rejected or failed (or,
for ``explain``, the file cannot be read); 2 -- usage or configuration error (bad option,
unknown profile option, unsafe paths, missing key file); 130 -- interrupted (Ctrl-C).
"""

from __future__ import annotations

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

from idiscore._version import __version__
from idiscore.errors import (
    ConfigurationError,
    DatasetRejectedError,
    IDISCoreError,
    InputError,
    MissingDependencyError,
)

__all__ = ["main"]

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _ConfigurationProblem(click.ClickException):
    exit_code = EXIT_USAGE


class _IdiscoreGroup(click.Group):
    """Maps configuration errors (and inputs that vanish before the batch starts) to exit 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
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


def _verbosity(quiet: bool, verbose: int) -> int:
    return -1 if quiet else verbose


@main.command()
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the de-identified files (must not be inside an input).",
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
@click.option("--dry-run", is_flag=True, help="Discover and classify inputs; write nothing.")
@click.option("-q", "--quiet", is_flag=True, help="Only the summary.")
@click.option("-v", "--verbose", count=True, help="A line per input.")
def deidentify(
    inputs: tuple[str, ...],
    output: Path,
    profile_spec: str,
    key_file: str | None,
    workers: int | None,
    layout: str,
    report: Path | None,
    quarantine: Path | None,
    mapping: Path | None,
    midi_b_mapping: bool,
    resume: bool,
    fsync: str,
    dry_run: bool,
    quiet: bool,
    verbose: int,
) -> None:
    """De-identify DICOM files, folders (recursively) and glob patterns into OUTPUT.

    Files that are not DICOM, and DICOMDIR files, are skipped. Rejected and unreadable
    files are reported (and copied to --quarantine). Exit code 0: everything done or
    skipped; 1: some inputs rejected or failed; 2: usage or configuration error.
    """
    from idiscore.batch import BatchOptions, default_workers, plan_batch, run_batch
    from idiscore.batch.sources import count_candidates, is_glob
    from idiscore.cli.display import BatchDisplay, summary_table
    from idiscore.cli.setup import build_core, load_key

    for item in inputs:
        if not is_glob(item) and not os.path.lexists(item):
            raise click.BadParameter(f"{item!r} does not exist", param_hint="INPUT")
    if resume and report is None:
        raise click.UsageError("--resume needs --report (the report of the earlier run)")
    if midi_b_mapping and mapping is None:
        raise click.UsageError("--midi-b-mapping needs --mapping")
    options = BatchOptions(
        output=output,
        layout=layout,
        report=report,
        quarantine=quarantine,
        resume=resume,
        workers=workers or default_workers(),
        mapping=mapping,
        fsync=fsync,
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
    if verbosity >= 0:
        _describe_key(key)
    core = build_core(profile_spec, key)
    total = None
    if console.is_terminal and verbosity >= 0:
        with console.status("finding input files…"):
            total = count_candidates(inputs)
    with (
        _sigterm_interrupts(),
        BatchDisplay(console, verbosity=verbosity, total=total) as display,
    ):
        summary = run_batch(core, inputs, options, on_result=display.update)
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
def explain(file: Path, profile_spec: str, key_file: str | None, show_values: bool) -> None:
    """Show, for every element of FILE, the rule that applies and what it does."""
    from idiscore.batch import read_dicom, sniff
    from idiscore.cli.explain import explain_dataset, format_explanation
    from idiscore.cli.setup import build_core, load_key

    key = load_key(key_file)
    core = build_core(profile_spec, key)
    console = _console()
    try:
        sniffed = sniff(file)
        if not sniffed.is_dicom:
            raise InputError(sniffed.reason)
        dataset = read_dicom(file, has_preamble=sniffed.has_preamble)
    except InputError as exc:
        _error_console().print(f"[bold red]error:[/] {file}: {exc}", markup=True)
        _exit(EXIT_SOME_FAILED)
    verdict = "would be de-identified"
    deidentified = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            deidentified = core.deidentify(dataset)
        except DatasetRejectedError as exc:
            verdict = f"would be REJECTED by {exc.bouncer_name}: {exc.reason}"
        except IDISCoreError as exc:
            verdict = f"would FAIL: {exc}"
    echo = click.echo
    echo(f"{file}: {verdict} with profile {core.profile.name!r}")
    meta = getattr(dataset, "file_meta", None)
    if meta is not None and len(meta):
        echo("file meta information:")
        out_meta = getattr(deidentified, "file_meta", None) if deidentified is not None else None
        for line in explain_dataset(
            meta, core.profile, show_values=show_values, deidentified=out_meta, depth=1
        ):
            echo(format_explanation(line, show_values=show_values))
    echo("data set:")
    for line in explain_dataset(
        dataset, core.profile, show_values=show_values, deidentified=deidentified, depth=1
    ):
        echo(format_explanation(line, show_values=show_values))
    if not show_values:
        echo("(values masked; --show-values prints them)")
    del console


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
