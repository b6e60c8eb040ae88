"""Instances per second through the DICOM node, against its floor, on loopback.

    .venv/bin/python benchmarks/node.py                  # 200 CT images (128 KiB), 3 rounds
    .venv/bin/python benchmarks/node.py --files 500 --size 512 --repeat 5

Floor: dcmtk ``storescu`` -> ``storescp`` of the same files (one association, written to
disk by storescp). Node: ``storescu`` -> ``idiscore serve`` -> ``storescp``; two times are
taken: until storescu has every Success (the node acknowledged: on its disk) and until the
destination has every de-identified instance. Rounds alternate floor and node; each
figure is the median. Needs dcmtk (storescu, storescp) and the dev extra.
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


def node_round(work: Path, files: list[Path], key: Path) -> tuple[float, float]:
    destination, report = work / "node-dest", work / "node.jsonl"
    with storescp(destination, free_port()) as dest:
        port = free_port()
        forward = ("--forward", f"DEST@127.0.0.1:{dest.port}", "--report", str(report))
        with node(work / "spool", port, key, *forward, "--status-interval", "0"):
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
    args = parser.parse_args()
    floors, acks, throughs = [], [], []
    with tempfile.TemporaryDirectory(prefix="idiscore-node-bench-") as folder:
        base = Path(folder)
        key = write_key(base)
        files = write_series(base / "in", "CT", args.files, size=args.size)
        megabytes = sum(path.stat().st_size for path in files) / 1e6
        for round_number in range(args.repeat):
            work = base / f"round{round_number}"
            work.mkdir()
            floors.append(floor_round(work, files))
            ack, through = node_round(work, files, key)
            acks.append(ack)
            throughs.append(through)
    n = args.files
    floor, ack, through = (statistics.median(v) for v in (floors, acks, throughs))
    print(
        f"{n} CT instances of {args.size}x{args.size} ({megabytes:.1f} MB), median of "
        f"{args.repeat} rounds, loopback"
    )
    print(f"floor storescu -> storescp:            {n / floor:8.1f} instances/s")
    print(f"node, acknowledged (on the node's disk):{n / ack:8.1f} instances/s")
    print(
        f"node, forwarded (at the destination):   {n / through:8.1f} instances/s "
        f"({through / floor:.2f}x the floor's time)"
    )


if __name__ == "__main__":
    main()
