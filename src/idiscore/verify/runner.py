"""The audit of a whole de-identification run: pair, verify in workers, check the set.

:func:`pair_tasks` pairs each output with its input, from the run's report (its ``done``
lines name both; rejected and failed inputs are listed as ``not_verified``) or else by
relative path (``INPUT/a/b.dcm`` with ``OUTPUT/a/b.dcm``; files that are not DICOM are
passed over, a missing output is a problem). :func:`run_verify` runs a
:class:`~idiscore.verify.audit.PairVerifier` over the pairs with the batch engines (a
process pool when ``workers`` > 1), writes one JSON line per pair as results arrive, in
input order, and then checks the whole output set:

* every reference (Referenced SOP Instance UID) that resolved to a file of the input set
  resolves to a file of the output set;
* no original UID of any input remains in any output (unless a Retain UIDs option was
  recorded).

Those findings end the report, on a last line with ``"status": "summary"``. The UIDs
are kept as 16-byte digests (:class:`~idiscore.batch.report.DigestSet`).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from idiscore.batch.engines import InProcessEngine, ProcessPoolEngine
from idiscore.batch.report import DigestSet, path_digest, read_report
from idiscore.batch.sources import discover, sniff
from idiscore.errors import ConfigurationError, InputError
from idiscore.profile import Profile
from idiscore.standard.rulesets import OPTION_CODES
from idiscore.verify.audit import STATUSES, PairResult, PairTask, PairVerifier

__all__ = ["VerifyOptions", "VerifySummary", "pair_tasks", "run_verify"]

_RETAIN_UIDS = OPTION_CODES["retain_uids"]


@dataclass(frozen=True)
class VerifyOptions:
    """How an audit runs.

    Args:
        run_report: the de-identification run's JSON-lines report (pairs inputs and
            outputs); None: pair by relative path.
        report: where the verify JSON lines go, or None.
        workers: 1 verifies in this process; more uses a process pool.
        profile: the profile in force; None: what each output records.
        dciodvfy: compare dciodvfy's errors (None: when installed).
        previews: keep thumbnails for the HTML report.
        ocr: read the outputs' pixels for identifying text (None: when a text engine is
            installed; True without one: MissingDependencyError).
        ocr_engine: the text engine (``rapidocr`` or ``tesseract``).
    """

    run_report: Path | None = None
    report: Path | None = None
    workers: int = 1
    profile: Profile | None = None
    dciodvfy: bool | None = None
    previews: bool = False
    ocr: bool | None = None
    ocr_engine: str = "rapidocr"


@dataclass
class VerifySummary:
    """The counters of an audit and the findings on the whole output set."""

    counts: Counter[str] = field(default_factory=Counter)
    leak_classes: Counter[str] = field(default_factory=Counter)
    kept_classes: Counter[str] = field(default_factory=Counter)
    set_problems: list[str] = field(default_factory=list)
    references: tuple[int, int, int] = (0, 0, 0)  # total, resolved in input, in output
    seconds: float = 0.0
    results: list[PairResult] | None = None  # kept only when asked (HTML report)
    midi_b: dict[str, Any] | None = None  # the MIDI-B score, when an answer key was given

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def clean(self) -> bool:
        """No leak and no problem (kept-by-option values and unverified inputs allowed)."""
        return not self.counts["leak"] and not self.counts["problem"] and not self.set_problems

    def record(self) -> dict[str, Any]:
        return {
            "status": "summary",
            "input": None,
            "output": None,
            "counts": {status: self.counts[status] for status in STATUSES},
            "leak_classes": dict(sorted(self.leak_classes.items())),
            "kept_classes": dict(sorted(self.kept_classes.items())),
            "references": dict(
                zip(("total", "resolved_in", "resolved_out"), self.references, strict=True)
            ),
            "set_problems": self.set_problems,
            "seconds": round(self.seconds, 3),
        }


def pair_tasks(
    input_path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    run_report: str | os.PathLike[str] | None = None,
) -> Iterator[PairTask]:
    """The pairs to verify (see the module docs)."""
    if run_report is not None:
        for record in read_report(run_report):
            status = str(record["status"])
            if status == "skipped":
                continue
            out = record.get("output")
            yield PairTask(
                str(record["input"]),
                str(out) if out else None,
                status,
                str(record.get("reason") or ""),
            )
        return
    root = Path(output).absolute()
    for candidate in discover([input_path]):
        if candidate.error is not None:
            yield PairTask(str(candidate.path), None, "failed", candidate.error)
            continue
        try:
            if not sniff(candidate.path).is_dicom:
                continue
        except InputError as exc:
            yield PairTask(str(candidate.path), None, "failed", str(exc))
            continue
        target = root / candidate.relative
        if target.is_file():
            yield PairTask(str(candidate.path), str(target))
        else:
            yield PairTask(str(candidate.path), None, "missing", "no output at the same path")


class _SetCheck:
    """The UID facts of every pair, as digests, for the set-wide checks."""

    def __init__(self) -> None:
        self.sops_in = DigestSet()
        self.sops_out = DigestSet()
        self.refs_in = bytearray()
        self.refs_out = bytearray()
        self.uids_in = DigestSet()
        self.uids_out = bytearray()
        self.retain_uids = False

    def add(self, result: PairResult) -> None:
        facts = result.uids
        if not facts:
            return
        for name, target in (("sop_in", self.sops_in), ("sop_out", self.sops_out)):
            for uid in facts.get(name, ()):
                if uid:
                    target.add(path_digest(uid))
        for uid in facts.get("refs_in", ()):
            self.refs_in += path_digest(uid)
        for uid in facts.get("refs_out", ()):
            self.refs_out += path_digest(uid)
        for uid in facts.get("uids_in", ()):
            self.uids_in.add(path_digest(uid))
        for uid in facts.get("uids_out", ()):
            self.uids_out += path_digest(uid)
        if facts.get("retain_uids"):
            self.retain_uids = True

    def finish(self, summary: VerifySummary) -> None:
        def resolved(refs: bytearray, sops: DigestSet) -> int:
            return sum(bytes(refs[i : i + 16]) in sops for i in range(0, len(refs), 16))

        total = len(self.refs_in) // 16
        before, after = (
            resolved(self.refs_in, self.sops_in),
            resolved(self.refs_out, self.sops_out),
        )
        summary.references = (total, before, after)
        if after < before:
            summary.set_problems.append(
                f"{before - after} of {before} references that resolved in the input set "
                "do not resolve in the output set"
            )
        remaining = sum(
            bytes(self.uids_out[i : i + 16]) in self.uids_in
            for i in range(0, len(self.uids_out), 16)
        )
        if remaining and not self.retain_uids:
            summary.set_problems.append(f"{remaining} original UID(s) remain in the output set")


def run_verify(
    input_path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    options: VerifyOptions,
    *,
    on_result: Callable[[PairResult, VerifySummary], None] | None = None,
    keep_results: bool = False,
) -> VerifySummary:
    """Verify every pair (see the module docs); the summary, with the results themselves
    when ``keep_results`` (for the HTML report; a million pairs need a lot of memory).

    Raises:
        ConfigurationError: the run report cannot be read, or the folders do not exist.
    """
    for path in (input_path, output):
        if not os.path.exists(path):
            raise ConfigurationError(f"{os.fspath(path)!r} does not exist")
    from idiscore.verify.pixel_text import ocr_engine

    verifier = PairVerifier(
        options.profile,
        dciodvfy=options.dciodvfy,
        previews=options.previews,
        ocr=ocr_engine(options.ocr, options.ocr_engine),
    )
    engine: Any
    if options.workers <= 1:
        engine = InProcessEngine(verifier)
    else:
        engine = ProcessPoolEngine(verifier, options.workers, on_crash=_crashed)
    summary = VerifySummary(results=[] if keep_results else None)
    check = _SetCheck()
    started = time.perf_counter()
    handle: IO[str] | None = None
    if options.report is not None:
        Path(options.report).parent.mkdir(parents=True, exist_ok=True)
        handle = open(options.report, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
    try:
        for _task, result in engine.run(pair_tasks(input_path, output, options.run_report)):
            summary.counts[result.status] += 1
            summary.leak_classes.update(entry["class"] for entry in result.leaks)
            summary.kept_classes.update(entry["class"] for entry in result.kept)
            check.add(result)
            result.uids = {}
            if handle is not None:
                handle.write(result.to_json() + "\n")
            if summary.results is not None:
                summary.results.append(result)
            if on_result is not None:
                on_result(result, summary)
        check.finish(summary)
        summary.seconds = time.perf_counter() - started
        if handle is not None:
            handle.write(json.dumps(summary.record(), ensure_ascii=False) + "\n")
    finally:
        if handle is not None:
            handle.close()
    return summary


def _crashed(task: PairTask) -> PairResult:
    result = PairResult(task.input, task.output, status="problem")
    result.problems.append("the worker process died while verifying this file")
    return result
