"""Dask engine throughput: a 2-worker LocalCluster against the local 2-worker engine.

    .venv/bin/python benchmarks/dask_engine.py [--files 400] [--repeat 3] [--workers 2]

Both engines de-identify the same CT slices of the benchmark corpus (``corpus.py``) with
``run_batch`` (report on, default fsync policy) into a fresh folder; every figure is the median
of ``--repeat`` runs, alternating the engines. The cluster is started once, before the timed
runs (its start-up time is reported apart: a real cluster outlives a batch), and warmed up
with a short batch. Also reported:

* the per-file overhead of Dask: (Dask wall time - local wall time) / files * workers, i.e.
  the extra worker-seconds a file costs on the cluster;
* the engine's own cost per task: a batch of no-op tasks through ``DaskEngine.run``.

Target (issue 19): Dask throughput >= 0.8x the local engine's. Results go to
``benchmarks/dask_results.md`` (``--results``).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402

TARGET = 0.8
KEY = "idiscore benchmark key"


def _noop(task: int) -> int:
    return task


def timed_batch(core: Any, folder: Path, out: Path, workers: int, engine: Any = None) -> float:
    from idiscore.batch import BatchOptions, run_batch

    if out.exists():
        shutil.rmtree(out)
    start = time.perf_counter()
    summary = run_batch(
        core,
        [folder],
        BatchOptions(output=out, report=out.with_suffix(".jsonl"), workers=workers),
        engine=engine,
    )
    seconds = time.perf_counter() - start
    if summary.counts["done"] != summary.total:
        raise SystemExit(f"benchmark batch did not finish every file: {summary.counts}")
    out.with_suffix(".jsonl").unlink()
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--results", type=Path, default=HERE / "dask_results.md")
    args = parser.parse_args(argv)

    from distributed import Client, LocalCluster

    from idiscore.batch.dask_engine import DaskEngine
    from idiscore.defaults import create_default_core
    from idiscore.pseudonyms import Pseudonymizer

    folder = corpus.ensure_ct_folder(args.files)
    core = create_default_core(pseudonymizer=Pseudonymizer(KEY))
    scratch = HERE / "_out" / "dask"
    scratch.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()

    started = time.perf_counter()
    with (
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster,
        Client(cluster) as client,
    ):
        cluster_start = time.perf_counter() - started
        engine = DaskEngine(client)
        timed_batch(core, folder, scratch / "warm", args.workers, engine)  # imports, plugin
        local_times: list[float] = []
        dask_times: list[float] = []
        for _ in range(args.repeat):
            local_times.append(timed_batch(core, folder, scratch / "local", args.workers))
            dask_times.append(
                timed_batch(core, folder, scratch / "dask", args.workers, DaskEngine(client))
            )
        tasks = 2000
        start = time.perf_counter()
        noop = DaskEngine(client, _noop)
        assert [r for _t, r in noop.run(range(tasks))] == list(range(tasks))
        noop_seconds = time.perf_counter() - start
    shutil.rmtree(scratch, ignore_errors=True)

    local = statistics.median(local_times)
    dask = statistics.median(dask_times)
    ratio = local / dask
    overhead_ms = (dask - local) / args.files * args.workers * 1000
    lines = [
        "# Dask engine benchmark",
        "",
        f"`{' '.join(['benchmarks/dask_engine.py', *(argv or sys.argv[1:])])}` on "
        f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        f"Python {platform.python_version()}, load average before "
        f"{load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        f"{args.files} CT slices (512 x 512, 16 bit) per batch, {args.workers} workers, "
        f"median of {args.repeat} runs.",
        "",
        "| engine | seconds | files/s |",
        "|---|---|---|",
        f"| local ({args.workers} processes) | {local:.2f} | {args.files / local:.1f} |",
        f"| dask (LocalCluster, {args.workers} processes) | {dask:.2f} | "
        f"{args.files / dask:.1f} |",
        "",
        f"- throughput ratio dask / local: **{ratio:.2f}x** (target >= {TARGET}x): "
        f"{'met' if ratio >= TARGET else 'NOT met'}",
        f"- per-file overhead of Dask: {overhead_ms:.2f} worker-ms a file "
        "((dask - local) / files x workers; negative: dask was faster)",
        f"- engine cost per no-op task: {noop_seconds / tasks * 1000:.3f} ms "
        f"({tasks} tasks, chunked)",
        f"- LocalCluster start-up (not in the figures above): {cluster_start:.1f} s",
        f"- all runs, seconds: local {[round(t, 2) for t in local_times]}, "
        f"dask {[round(t, 2) for t in dask_times]}",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    args.results.write_text(text)
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
