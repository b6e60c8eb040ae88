"""The process pool sends tasks in chunks: results keep the task order, the window of tasks
in flight stays bounded, a worker that dies inside a chunk is pinned on the one task that
killed it, and results never handed out are given back for clean-up."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from idiscore.batch.engines import CHUNKS_PER_WORKER, ProcessPoolEngine, _start_method

CRASHING = (13, 27)


def square(number: int) -> int:
    return number * number


def square_or_die(number: int) -> int:
    """Kills its worker process on the CRASHING numbers (like a crashing codec would)."""
    if number in CRASHING and multiprocessing.parent_process() is not None:
        os._exit(3)
    return number * number


def crashed(number: int) -> int:
    return -number


class Touch:
    """Writes a file per task, like FileProcessor writes a temporary file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __call__(self, number: int) -> str:
        path = self.folder / str(number)
        path.write_text("x")
        return str(path)


@pytest.mark.parametrize("chunk_size", [None, 1, 4, 7])
def test_results_come_in_task_order(chunk_size: int | None) -> None:
    engine = ProcessPoolEngine(square, 2, chunk_size=chunk_size, on_crash=crashed)
    assert list(engine.run(range(150))) == [(n, n * n) for n in range(150)]


def test_the_window_of_tasks_in_flight_is_bounded() -> None:
    pulled = 0

    def tasks() -> Iterator[int]:
        nonlocal pulled
        for number in range(600):
            pulled += 1
            yield number

    engine = ProcessPoolEngine(square, 2, chunk_size=4, on_crash=crashed)
    assert engine.max_in_flight == CHUNKS_PER_WORKER * 2 * 4
    for number, _ in engine.run(tasks()):
        assert pulled - number <= engine.max_in_flight
    assert pulled == 600


def test_quick_tasks_travel_in_bigger_chunks() -> None:
    engine = ProcessPoolEngine(square, 2, on_crash=crashed)
    assert engine._next_chunk_size() == 1  # nothing measured yet
    list(engine.run(range(300)))
    assert engine._next_chunk_size() > 1


@pytest.mark.parametrize("chunk_size", [None, 5])
def test_a_crash_inside_a_chunk_fails_only_the_task_responsible(chunk_size: int | None) -> None:
    engine = ProcessPoolEngine(square_or_die, 2, chunk_size=chunk_size, on_crash=crashed)
    expected = [(n, -n if n in CRASHING else n * n) for n in range(60)]
    assert list(engine.run(range(60))) == expected


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_every_start_method_isolates_crashes(method: str) -> None:
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} on this platform")
    engine = ProcessPoolEngine(
        square_or_die, 2, chunk_size=3, on_crash=crashed, start_method=method
    )
    assert list(engine.run(range(20))) == [(n, -n if n == 13 else n * n) for n in range(20)]


def test_fork_is_chosen_only_while_a_single_thread_runs() -> None:
    if sys.platform == "linux" and threading.active_count() == 1:
        assert _start_method(None) == "fork"
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert _start_method(None) in ("forkserver", "spawn")
        assert _start_method("fork") == "fork"  # asked for explicitly
    finally:
        release.set()
        thread.join()


def test_results_never_handed_out_are_discarded(tmp_path: Path) -> None:
    discarded: list[str] = []

    def discard(path: str) -> None:
        discarded.append(path)
        os.unlink(path)

    engine = ProcessPoolEngine(Touch(tmp_path), 2, chunk_size=5, on_crash=str, on_discard=discard)
    results = engine.run(range(200))
    received = [next(results) for _ in range(7)]  # stops inside the second chunk
    results.close()  # type: ignore[attr-defined]
    assert [number for number, _ in received] == list(range(7))
    assert discarded, "the rest of the second chunk at least was computed"
    assert sorted(int(p.name) for p in tmp_path.iterdir()) == list(range(7))


ORPHAN_SCRIPT = """
import os, sys, time
from idiscore.batch.engines import ProcessPoolEngine
from {module} import pid_after

if __name__ == "__main__":
    engine = ProcessPoolEngine(
        pid_after, 2, chunk_size=1, on_crash=pid_after, start_method=sys.argv[1]
    )
    for _, pid in engine.run([0.0] * 4 + [60.0] * 8):
        print(pid, flush=True)
"""


def pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def alive(pid: int) -> bool:
    """Running (a zombie nobody reaped yet counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return not Path("/proc/self").exists() and _signalable(pid)
    except OSError:
        return _signalable(pid)
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _signalable(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_workers_end_when_the_main_process_is_killed(tmp_path: Path, method: str) -> None:
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} on this platform")
    script = tmp_path / "orphans.py"
    script.write_text(ORPHAN_SCRIPT.format(module=__name__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    with subprocess.Popen(
        [sys.executable, str(script), method],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # its resource tracker reports the semaphores it left
        text=True,
        env=env,
    ) as main:
        assert main.stdout is not None
        workers = {int(main.stdout.readline()) for _ in range(4)}
        main.kill()
        main.wait()
    deadline = time.monotonic() + 20
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if alive(pid)]


def test_kept_workers_serve_every_run_and_a_broken_pool_is_replaced() -> None:
    engine: ProcessPoolEngine[int, int] = ProcessPoolEngine(
        square_or_die, 2, on_crash=crashed, start_method="fork"
    )
    assert engine.worker_pids() == []
    engine.open()
    try:
        workers = engine.worker_pids()
        assert len(workers) == 2
        assert list(engine.run(range(5))) == [(n, n * n) for n in range(5)]
        assert list(engine.run(range(5, 9))) == [(n, n * n) for n in range(5, 9)]
        assert engine.worker_pids() == workers  # the same processes, both runs
        assert dict(engine.run([12, 13, 14])) == {12: 144, 13: -13, 14: 196}
        replaced = engine.worker_pids()  # the crash broke the pool; a new one is kept
        assert replaced and not set(replaced) & set(workers)
        assert dict(engine.run([2, 3])) == {2: 4, 3: 9}
        assert engine.worker_pids() == replaced
    finally:
        engine.close()
    assert engine.worker_pids() == []
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists()  # ended and reaped
