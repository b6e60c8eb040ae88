"""Engines: run a picklable per-file function over a stream of tasks.

Both engines yield ``(task, result)`` pairs **in task order** and keep a bounded number of
tasks in flight, so a stream of a million inputs needs memory for a window of them only.

* :class:`InProcessEngine` -- one task after the other in this process.
* :class:`ProcessPoolEngine` -- a :class:`concurrent.futures.ProcessPoolExecutor`.

  *Start method*: on Linux the workers are forked when this process runs a single Python
  thread (no interpreter start-up, no second import of the libraries: a batch of a few
  seconds gets its workers at once); otherwise they come from a fork server that imported
  idiscore once (``forkserver``), or are spawned where neither exists. ``start_method``
  overrides the choice.

  *Chunks*: tasks travel in chunks (a list of tasks per call, a list of results back), so
  pickling, pipe traffic and wake-ups of this process are paid per chunk, not per file.
  By default the chunk size adapts to the time a task takes (chunks of about
  0.05 s, 1 to 32 tasks): small files go in dozens, big files one by one. At most three
  chunks per worker are in flight (one running, the others queued), and at most
  ``max_in_flight`` tasks.

  The function (holding the Core) is pickled once and handed to each worker by the pool
  initializer; tasks and results are small. Workers ignore SIGINT and take the default
  action on SIGTERM: on Ctrl-C the main process stops submitting, lets running chunks
  finish and hands their results to ``on_discard``. A worker ends itself when the main
  process is gone (killed outright): nobody would collect its results.

  If a worker dies (a crash in a codec, the OOM killer), the chunks that had finished
  keep their results; every task of the other chunks in flight is run again, one at a
  time, in a fresh one-process pool to find the one responsible, which is reported
  through ``on_crash``; the others continue normally.

  *Kept workers*: :meth:`ProcessPoolEngine.open` starts the workers once and keeps them for
  every later :meth:`~ProcessPoolEngine.run` until :meth:`~ProcessPoolEngine.close` (a
  service that hands over small groups of tasks as they come pays the start-up once). A
  pool broken by a dead worker is replaced by a new kept pool.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_for_futures
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Generic, TypeVar

__all__ = [
    "ChunkSizer",
    "Engine",
    "InProcessEngine",
    "ProcessPoolEngine",
    "default_workers",
    "hand_out",
]

T = TypeVar("T")
R = TypeVar("R")

#: a chunk of tasks and the future of its results
_InFlight = tuple[list[T], "Future[tuple[list[R], float]]"]

#: the time a chunk of tasks should take when the chunk size adapts
CHUNK_SECONDS = 0.05
#: the largest adaptive chunk
MAX_CHUNK = 32


def hand_out(
    chunk: list[T], results: list[R], discard: Callable[[Iterable[R]], None]
) -> Iterator[tuple[T, R]]:
    """Yield a chunk's tasks with their results; the results never yielded (the consumer
    stopped) go to ``discard``. The engines share it."""
    remaining = deque(results)
    try:
        for task in chunk:
            yield task, remaining.popleft()
    finally:
        discard(remaining)


class ChunkSizer:
    """How many tasks go in the next chunk: ``fixed``, or as many as take about ``target``
    seconds by a moving average of the time a task took so far (1 before anything is
    measured), at most ``largest``. The engines share it."""

    __slots__ = ("fixed", "largest", "seconds_per_task", "target")

    def __init__(self, fixed: int | None, target: float, largest: int) -> None:
        self.fixed = fixed
        self.target = target
        self.largest = largest
        self.seconds_per_task: float | None = None

    def next(self) -> int:
        if self.fixed is not None:
            return self.fixed
        if self.seconds_per_task is None:
            return 1
        return max(1, min(self.largest, int(self.target / max(self.seconds_per_task, 1e-6))))

    def learn(self, tasks: int, seconds: float) -> None:
        per_task = seconds / max(tasks, 1)
        previous = self.seconds_per_task
        self.seconds_per_task = per_task if previous is None else 0.7 * previous + 0.3 * per_task


#: chunks in flight per worker: one running, two queued
CHUNKS_PER_WORKER = 3

_WORKER_FUNCTION: Callable[..., object] | None = None
#: modules a fork server imports once, before it forks workers
_FORKSERVER_PRELOAD = ["idiscore.batch.runner"]


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

    def bind(
        self,
        function: Callable[[T], R],
        *,
        on_crash: Callable[[T], R] | None = None,
        on_discard: Callable[[R], None] | None = None,
    ) -> Engine[T, R]:
        """The engine to use for a batch whose per-file function is ``function``.

        An engine built with its own function (the default) ignores the batch's and
        returns itself; one built without (:class:`~idiscore.batch.dask_engine.DaskEngine`
        given only a client) takes it.
        """
        return self


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
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked worker inherits the CLI's
    parent = multiprocessing.parent_process()
    if parent is not None and parent.sentinel is not None:
        watchdog = threading.Thread(
            target=_exit_with_parent, args=(parent.sentinel,), name="parent-watch", daemon=True
        )
        watchdog.start()
    _WORKER_FUNCTION = pickle.loads(pickled_function)


def _exit_with_parent(sentinel: int) -> None:
    """End this worker when the main process is gone (e.g. killed with SIGKILL): nobody
    would collect its results, and it would wait for tasks forever."""
    multiprocessing.connection.wait([sentinel])
    os._exit(1)


def _call_worker(task: Any) -> Any:
    if _WORKER_FUNCTION is None:  # pragma: no cover - initializer always ran
        raise RuntimeError("worker was not initialised")
    return _WORKER_FUNCTION(task)


def _call_chunk(tasks: list[Any]) -> tuple[list[Any], float]:
    """Run a chunk of tasks; their results and the time the chunk took."""
    start = time.perf_counter()
    results = [_call_worker(task) for task in tasks]
    return results, time.perf_counter() - start


def _start_method(requested: str | None) -> str:
    if requested is not None:
        return requested
    methods = multiprocessing.get_all_start_methods()
    if sys.platform == "linux" and "fork" in methods and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


class ProcessPoolEngine(Engine[T, R]):
    """Runs tasks in a pool of ``workers`` processes, in chunks (see the module docs).

    Args:
        function: picklable; sent once to every worker.
        workers: number of processes.
        chunk_size: tasks per chunk; None adapts it to the time a task takes.
        max_in_flight: tasks submitted but not yet yielded (default: three chunks of
            the largest size per worker).
        on_crash: turns a task whose worker process died into a result.
        on_discard: receives results computed but never yielded (after an interruption),
            e.g. to remove the files they wrote.
        start_method: ``"fork"``, ``"forkserver"`` or ``"spawn"``; None chooses (see the
            module docs).
    """

    def __init__(
        self,
        function: Callable[[T], R],
        workers: int,
        *,
        chunk_size: int | None = None,
        max_in_flight: int | None = None,
        on_crash: Callable[[T], R],
        on_discard: Callable[[R], None] | None = None,
        start_method: str | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if chunk_size is not None and chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        self.workers = workers
        self.chunk_size = chunk_size
        self.max_chunks = CHUNKS_PER_WORKER * workers
        self.max_in_flight = max(1, max_in_flight or self.max_chunks * (chunk_size or MAX_CHUNK))
        self.on_crash = on_crash
        self.on_discard = on_discard
        self.start_method = start_method
        self._pickled = pickle.dumps(function)
        self._sizer = ChunkSizer(chunk_size, CHUNK_SECONDS, MAX_CHUNK)
        self._kept: ProcessPoolExecutor | None = None

    def open(self) -> None:
        """Start the workers now and keep them for every run until :meth:`close`.

        Raises:
            BrokenProcessPool: a worker could not start.
        """
        if self._kept is None:
            self._kept = self._pool(self.workers)

    def close(self) -> None:
        """Stop the kept workers (after the tasks they run)."""
        pool, self._kept = self._kept, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def worker_pids(self) -> list[int]:
        """The process ids of the kept workers (empty when none are kept)."""
        processes = getattr(self._kept, "_processes", None) or {}
        return sorted(int(pid) for pid in processes)

    def _pool(self, workers: int) -> ProcessPoolExecutor:
        """A new pool with its workers started (all of them when forked).

        Raises:
            BrokenProcessPool: a worker could not start (e.g. the function cannot be
                unpickled there).
        """
        method = _start_method(self.start_method)
        context = multiprocessing.get_context(method)
        if method == "forkserver":
            context.set_forkserver_preload(_FORKSERVER_PRELOAD)
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_initialize_worker,
            initargs=(self._pickled,),
        )
        if method != "fork" or threading.active_count() > 1:
            pool.submit(int).result()  # (a forked pool forks every worker at its first call)
            return pool
        with warnings.catch_warnings():
            # Python >= 3.12 warns about fork() whenever the process has more than one OS
            # thread, native ones included (OpenBLAS, loaded with numpy, starts one and is
            # fork-safe); no other Python thread runs here.
            warnings.filterwarnings(
                "ignore", message=r"This process .* is multi-threaded", category=DeprecationWarning
            )
            pool.submit(int).result()  # forks every worker, before the pool starts its threads
        return pool

    def _next_chunk_size(self) -> int:
        return self._sizer.next()

    def run(self, tasks: Iterable[T]) -> Iterator[tuple[T, R]]:
        keep = self._kept is not None
        pool = self._kept if self._kept is not None else self._pool(self.workers)
        window: deque[_InFlight[T, R]] = deque()
        in_flight = 0
        iterator = iter(tasks)
        exhausted = False
        try:
            while True:
                while (
                    not exhausted
                    and len(window) < self.max_chunks
                    and in_flight < self.max_in_flight
                ):
                    size = min(self._next_chunk_size(), self.max_in_flight - in_flight)
                    chunk = [task for _, task in zip(range(size), iterator, strict=False)]
                    if len(chunk) < size:
                        exhausted = True
                    if not chunk:
                        break
                    in_flight += len(chunk)
                    try:
                        window.append((chunk, pool.submit(_call_chunk, chunk)))
                    except BrokenProcessPool as exc:  # a worker died since the last result
                        window.append((chunk, _failed(exc)))
                        break
                if not window:
                    return
                chunk, future = window[0]
                try:
                    results, seconds = future.result()
                except BrokenProcessPool:
                    pending = deque(window)
                    window.clear()
                    in_flight = 0
                    pool.shutdown(wait=True, cancel_futures=True)
                    if keep:
                        self._kept = None
                    yield from self._recover(pending)
                    pool = self._pool(self.workers)
                    if keep:
                        self._kept = pool
                    continue
                window.popleft()
                in_flight -= len(chunk)
                self._sizer.learn(len(chunk), seconds)
                yield from self._hand_out(chunk, results)
        finally:
            for _chunk, future in window:
                future.cancel()
            if pool is self._kept:  # the kept workers stay: let the running chunks end
                wait_for_futures([future for _chunk, future in window])
            else:
                pool.shutdown(wait=True, cancel_futures=True)
            self._discard_finished(window)

    def _hand_out(self, chunk: list[T], results: list[R]) -> Iterator[tuple[T, R]]:
        return hand_out(chunk, results, self._discard)

    def _discard(self, results: Iterable[R]) -> None:
        if self.on_discard is not None:
            for result in results:
                self.on_discard(result)

    def _discard_finished(self, chunks: Iterable[_InFlight[T, R]]) -> None:
        for _chunk, future in chunks:
            if _succeeded(future):
                self._discard(future.result()[0])

    def _recover(self, pending: deque[_InFlight[T, R]]) -> Iterator[tuple[T, R]]:
        """After a worker died: keep finished chunks, run the others' tasks one by one."""
        pool: ProcessPoolExecutor | None = None
        try:
            while pending:
                chunk, future = pending.popleft()
                if _succeeded(future):
                    yield from self._hand_out(chunk, future.result()[0])
                    continue
                for task in chunk:
                    if pool is None:
                        pool = self._pool(1)
                    outcome, broken = self._run_alone(pool, task)
                    if broken:
                        pool.shutdown(wait=True, cancel_futures=True)
                        pool = None
                    yield task, outcome
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            self._discard_finished(pending)

    def _run_alone(self, pool: ProcessPoolExecutor, task: T) -> tuple[R, bool]:
        """Run one task by itself; a dead worker means this task is the culprit."""
        try:
            future: Future[R] = pool.submit(_call_worker, task)
            return future.result(), False
        except BrokenProcessPool:
            return self.on_crash(task), True


def _failed(exc: BaseException) -> Future[Any]:
    future: Future[Any] = Future()
    future.set_exception(exc)
    return future


def _succeeded(future: Future[Any]) -> bool:
    return future.done() and not future.cancelled() and future.exception() is None
