"""``idiscore verify`` against the de-identification run it audits, on the same files.

    .venv/bin/python benchmarks/verify.py                   # 200 CT slices, 3 repetitions
    .venv/bin/python benchmarks/verify.py --files 50 --repeat 1 --workers 2

Each repetition de-identifies the corpus (``run_batch`` with the default core) into a fresh
folder and then verifies it (``run_verify``, pairing by the run's report; dciodvfy off, since
it costs a process per file and per side -- its own row gives its price), in that order and
then in the other (A B B A), all in this process with the same number of workers. The
figure is the ratio of the median times; the target is verify <= 2x the run
(issue 17). Results go to ``benchmarks/verify_results.md``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corpus import ensure_ct_folder  # noqa: E402

from idiscore.batch import BatchOptions, run_batch  # noqa: E402
from idiscore.defaults import create_default_core  # noqa: E402
from idiscore.pseudonyms import Pseudonymizer  # noqa: E402
from idiscore.verify import VerifyOptions, run_verify  # noqa: E402
from idiscore.verify.pixel_text import ocr_engine  # noqa: E402

RESULTS_PATH = HERE / "verify_results.md"
TARGET = 2.0


def _deidentify(source: Path, scratch: Path, workers: int) -> tuple[float, Path, Path]:
    output, report = scratch / "out", scratch / "run.jsonl"
    shutil.rmtree(output, ignore_errors=True)
    report.unlink(missing_ok=True)
    core = create_default_core(pseudonymizer=Pseudonymizer(b"bench"))
    options = BatchOptions(output=output, report=report, workers=workers)
    start = time.perf_counter()
    summary = run_batch(core, [source], options)
    seconds = time.perf_counter() - start
    assert summary.ok, summary
    return seconds, output, report


def _verify(
    source: Path, output: Path, report: Path, workers: int, dciodvfy: bool, ocr: bool = False
) -> float:
    options = VerifyOptions(run_report=report, workers=workers, dciodvfy=dciodvfy, ocr=ocr)
    start = time.perf_counter()
    summary = run_verify(source, output, options)
    seconds = time.perf_counter() - start
    assert summary.clean, summary.record()
    return seconds


def _row(name: str, times: list[float], files: int) -> str:
    median = statistics.median(times)
    return (
        f"| {name} | {median:.2f} | {min(times):.2f} - {max(times):.2f} | {files / median:.0f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--dciodvfy-files", type=int, default=20)
    parser.add_argument("--ocr-files", type=int, default=20)
    args = parser.parse_args(argv)
    source = ensure_ct_folder(args.files, quiet=True)
    run_times: list[float] = []
    verify_times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="idiscore-verify-bench-") as folder:
        scratch = Path(folder)
        _deidentify(source, scratch, args.workers)  # warm-up: imports, page cache
        for repetition in range(args.repeat):
            for order in ("AB", "BA") if repetition % 2 == 0 else ("BA", "AB"):
                for step in order:
                    if step == "A":
                        seconds, output, report = _deidentify(source, scratch, args.workers)
                        run_times.append(seconds)
                    else:
                        verify_times.append(
                            _verify(source, output, report, args.workers, dciodvfy=False)
                        )
        dciodvfy_line = "dciodvfy not installed"
        if shutil.which("dciodvfy") and args.dciodvfy_files:
            few = ensure_ct_folder(args.dciodvfy_files, quiet=True)
            seconds, output, report = _deidentify(few, scratch, args.workers)
            with_tool = _verify(few, output, report, args.workers, dciodvfy=True)
            without = _verify(few, output, report, args.workers, dciodvfy=False)
            dciodvfy_line = (
                f"{args.dciodvfy_files} files: run {seconds:.2f} s, verify {without:.2f} s, "
                f"verify with dciodvfy {with_tool:.2f} s ({with_tool / seconds:.1f}x the run)"
            )
        ocr_line = "no text engine installed"
        if ocr_engine(None) is not None and args.ocr_files:
            few = ensure_ct_folder(args.ocr_files, quiet=True)
            seconds, output, report = _deidentify(few, scratch, args.workers)
            with_ocr = _verify(few, output, report, args.workers, dciodvfy=False, ocr=True)
            without = _verify(few, output, report, args.workers, dciodvfy=False)
            ocr_line = (
                f"{args.ocr_files} files: run {seconds:.2f} s, verify {without:.2f} s, "
                f"verify reading the pixels by OCR {with_ocr:.2f} s ({with_ocr / seconds:.1f}x "
                "the run)"
            )
    run_median, verify_median = statistics.median(run_times), statistics.median(verify_times)
    ratio = verify_median / run_median
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    run_row = _row("de-identify (run_batch, default core)", run_times, args.files)
    verify_row = _row("verify (run_verify, no dciodvfy, no OCR)", verify_times, args.files)
    target_row = (
        f"| verify time vs de-identification time, same files | {ratio:.2f}x "
        f"| <= {TARGET:.2f}x | **{verdict}** |"
    )
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = f"""# idiscore verify benchmark

- **date**: {stamp}
- **command**: {" ".join([Path(sys.executable).name, *sys.argv])}
- **machine**: {os.cpu_count()} CPUs, {platform.system()} {platform.release()}
- **corpus**: {args.files} CT slices (benchmarks/corpus.py), {args.workers} worker(s)
- **repetitions**: {args.repeat} x (A B B A); figures are medians

| variant | median (s) | min - max (s) | files/s |
|---|---:|---:|---:|
{run_row}
{verify_row}

| target | measured | threshold | result |
|---|---:|---:|:---:|
{target_row}

dciodvfy (for information): {dciodvfy_line}

OCR of the pixels (for information; the target row is measured with --no-ocr): {ocr_line}
"""
    RESULTS_PATH.write_text(text)
    print(text)
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
