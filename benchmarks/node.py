"""Instances per second through the DICOM node, against its floor, on loopback.

    .venv/bin/python benchmarks/node.py                  # 200 CT images (128 KiB), 3 rounds
    .venv/bin/python benchmarks/node.py --files 500 --size 512 --repeat 5
    .venv/bin/python benchmarks/node.py --workers 2          # only the 2-worker node

Floor: dcmtk ``storescu`` -> ``storescp`` of the same files (one association, written to
disk by storescp). Node: ``storescu`` -> ``idiscore serve`` -> ``storescp``; two times are
taken: until storescu has every Success (the node acknowledged: on its disk) and until the
destination has every de-identified instance. The node runs once per ``--workers`` value
(default: 1 and 2; ``serve --workers``). Rounds alternate floor and nodes; each figure is
the median. Needs dcmtk (storescu, storescp) and the dev extra.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
# dcmtk sends small PDUs at once only when asked (else ~40 ms per instance on loopback):
# the floor is storescu -> storescp at their best, and the node sets TCP_NODELAY itself
os.environ["TCP_NODELAY"] = "1"

from dicom_peers import (
    free_port,
    node,
    storescp,
    write_key,
    write_series,
)


def _count_files(folder: Path) -> int:
    return sum(1 for path in folder.rglob("*") if path.is_file())


def _forwarded(report: Path) -> int:
    try:
        return report.read_text().count('"event": "forwarded"')
    except FileNotFoundError:
        return 0


def _send(port: int, files: list[Path]) -> None:
    done = subprocess.run(
        ["storescu", "-nh", "127.0.0.1", str(port), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise SystemExit(f"storescu failed: {done.stderr[-500:]}")


def _wait(condition, timeout: float = 600.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.02)


def floor_round(work: Path, files: list[Path]) -> float:
    destination = work / "floor-dest"
    with storescp(destination, free_port()) as dest:
        start = time.perf_counter()
        _send(dest.port, files)
        _wait(lambda: _count_files(destination) >= len(files))
        return time.perf_counter() - start


def node_round(work: Path, files: list[Path], key: Path, workers: int) -> tuple[float, float]:
    work = work / f"workers-{workers}"
    work.mkdir()
    destination, report = work / "node-dest", work / "node.jsonl"
    with storescp(destination, free_port()) as dest:
        port = free_port()
        forward = ("--forward", f"DEST@127.0.0.1:{dest.port}", "--report", str(report))
        options = ("--status-interval", "0", "--workers", str(workers))
        with node(work / "spool", port, key, *forward, *options):
            start = time.perf_counter()
            _send(port, files)
            acknowledged = time.perf_counter() - start
            _wait(lambda: _forwarded(report) >= len(files))
            return acknowledged, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--size", type=int, default=256, help="rows = columns (16 bit)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--workers", type=int, action="append", help="node worker processes (repeatable)"
    )
    args = parser.parse_args()
    worker_counts = args.workers or [1, 2]
    floors: list[float] = []
    acks: dict[int, list[float]] = {workers: [] for workers in worker_counts}
    throughs: dict[int, list[float]] = {workers: [] for workers in worker_counts}
    with tempfile.TemporaryDirectory(prefix="idiscore-node-bench-") as folder:
        base = Path(folder)
        key = write_key(base)
        files = write_series(base / "in", "CT", args.files, size=args.size)
        megabytes = sum(path.stat().st_size for path in files) / 1e6
        for round_number in range(args.repeat):
            work = base / f"round{round_number}"
            work.mkdir()
            floors.append(floor_round(work, files))
            for workers in worker_counts:
                ack, through = node_round(work, files, key, workers)
                acks[workers].append(ack)
                throughs[workers].append(through)
    n = args.files
    floor = statistics.median(floors)
    print(
        f"{n} CT instances of {args.size}x{args.size} ({megabytes:.1f} MB), median of "
        f"{args.repeat} rounds, loopback"
    )
    print(f"floor storescu -> storescp:                   {n / floor:8.1f} instances/s")
    for workers in worker_counts:
        ack, through = statistics.median(acks[workers]), statistics.median(throughs[workers])
        print(f"node --workers {workers}, acknowledged (on its disk): {n / ack:8.1f} instances/s")
        print(
            f"node --workers {workers}, forwarded (at destination): {n / through:8.1f} "
            f"instances/s ({through / floor:.2f}x the floor's time)"
        )


if __name__ == "__main__":
    main()
