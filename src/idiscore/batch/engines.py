"""Engines: run a picklable per-file function over a stream of tasks.

Both engines yield ``(task, result)`` pairs **in task order** and keep a bounded number of
tasks in flight, so a stream of a million inputs needs memory for a window of them only.

* :class:`InProcessEngine` -- one task after the other in this process.
* :class:`ProcessPoolEngine` -- a :class:`concurrent.futures.ProcessPoolExecutor` (spawned
  processes). The function (holding the Core) is pickled once and handed to each worker by
  the pool initializer; tasks and results are small. Workers ignore SIGINT: on Ctrl-C the
  main process stops submitting, lets running tasks finish and discards their results.
  If a worker dies (a crash in a codec, the OOM killer), the tasks that were in flight are
  re-run one at a time in a fresh pool to find the one responsible, which is reported
  through ``on_crash``; the others continue normally.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Generic, TypeVar

__all__ = ["Engine", "InProcessEngine", "ProcessPoolEngine", "default_workers"]

T = TypeVar("T")
R = TypeVar("R")

_WORKER_FUNCTION: Callable[..., object] | None = None


def default_workers() -> int:
    """The number of CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


class Engine(Generic[T, R]):
    """Runs ``function(task)`` for every task; yields ``(task, result)`` in task order."""

    def run(self, tasks: Iterable[T]) -> Iterator[tuple[T, R]]:
        raise NotImplementedError


class InProcessEngine(Engine[T, R]):
    """Runs every task in the calling process, one after the other."""

    def __init__(self, function: Callable[[T], R]) -> None:
        self.function = function

    def run(self, tasks: Iterable[T]) -> Iterator[tuple[T, R]]:
        for task in tasks:
            yield task, self.function(task)


def _initialize_worker(pickled_function: bytes) -> None:
    global _WORKER_FUNCTION
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process handles Ctrl-C
    _WORKER_FUNCTION = pickle.loads(pickled_function)


def _call_worker(task: object) -> object:
    if _WORKER_FUNCTION is None:  # pragma: no cover - initializer always ran
        raise RuntimeError("worker was not initialised")
    return _WORKER_FUNCTION(task)


class ProcessPoolEngine(Engine[T, R]):
    """Runs tasks in a pool of ``workers`` spawned processes.

    Args:
        function: picklable; sent once to every worker.
        workers: number of processes.
        max_in_flight: tasks submitted but not yet yielded (default: 4 per worker).
        on_crash: turns a task whose worker process died into a result.
        on_discard: receives results computed but never yielded (after an interruption),
            e.g. to remove the files they wrote.
    """

    def __init__(
        self,
        function: Callable[[T], R],
        workers: int,
        *,
        max_in_flight: int | None = None,
        on_crash: Callable[[T], R],
        on_discard: Callable[[R], None] | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self.max_in_flight = max_in_flight or 4 * workers
        self.on_crash = on_crash
        self.on_discard = on_discard
        self._pickled = pickle.dumps(function)
        self._context = multiprocessing.get_context("spawn")

    def _pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self._context,
            initializer=_initialize_worker,
            initargs=(self._pickled,),
        )

    def run(self, tasks: Iterable[T]) -> Iterator[tuple[T, R]]:
        pool = self._pool()
        window: deque[tuple[T, Future[R]]] = deque()
        iterator = iter(tasks)
        exhausted = False
        try:
            while True:
                while not exhausted and len(window) < self.max_in_flight:
                    try:
                        task = next(iterator)
                    except StopIteration:
                        exhausted = True
                        break
                    window.append((task, pool.submit(_call_worker, task)))  # type: ignore[arg-type]
                if not window:
                    return
                task, future = window[0]
                try:
                    result = future.result()
                except BrokenProcessPool:
                    pending = [t for t, _ in window]
                    window.clear()
                    pool.shutdown(wait=True, cancel_futures=True)
                    pool = self._pool()
                    for isolated in pending:
                        outcome, broken = self._run_alone(pool, isolated)
                        if broken:
                            pool.shutdown(wait=True, cancel_futures=True)
                            pool = self._pool()
                        yield isolated, outcome
                    continue
                window.popleft()
                yield task, result
        finally:
            for _task, future in window:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            for _task, future in window:
                if (
                    self.on_discard is not None
                    and future.done()
                    and not future.cancelled()
                    and future.exception() is None
                ):
                    self.on_discard(future.result())

    def _run_alone(self, pool: ProcessPoolExecutor, task: T) -> tuple[R, bool]:
        """Run one task by itself; a dead worker means this task is the culprit."""
        future: Future[R] = pool.submit(_call_worker, task)  # type: ignore[arg-type]
        try:
            return future.result(), False
        except BrokenProcessPool:
            return self.on_crash(task), True
