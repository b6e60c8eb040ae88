"""The Dask engine: the same batch on a Dask cluster (``--engine dask``).

:class:`DaskEngine` fits the contract of :mod:`idiscore.batch.engines`: it yields
``(task, result)`` pairs in task order and keeps a bounded number of tasks in flight.

* *The function travels once per worker.* The per-file function (it holds the Core, and
  with it the key) is pickled once and registered as a worker plugin: the scheduler hands it
  to every worker, also to workers that join or are restarted later. A task carries a
  chunk of small :class:`~idiscore.batch.runner.Task` objects; its result is a list of
  small results (with the mapping entries of each file, when the batch records them: they
  are gathered from the workers with the results). Each worker thread unpickles its own
  copy of the function, so a worker may run several threads.
* *Chunks* adapt to the time a task takes (about 0.25 s of work a chunk, 1 to 64 tasks), as
  in the process-pool engine: scheduler round trips are paid per chunk, not per file.
* *Failures.* A task whose worker dies is rescheduled by Dask on another worker (up to the
  scheduler's ``allowed-failures``); an exception is retried ``retries`` times. A chunk
  that still fails is split and its tasks run one at a time, so that only the file
  responsible is reported (through ``on_crash``); the others are done normally.
* *Interruption.* When the consumer stops (Ctrl-C), queued chunks are cancelled, running
  ones are waited for (at most ``drain_seconds``) and their results handed to
  ``on_discard`` (e.g. to remove the temporary files they wrote).

The outputs are written by the workers where the batch says (a folder every worker and the
main process see, or an object store) and committed by the main process, as with the
other engines, so a resumed run, the report and the mapping file work the same.

Use it from Python with a client you already hold::

    from distributed import Client
    from idiscore.batch import BatchOptions, run_batch
    from idiscore.batch.dask_engine import DaskEngine

    with Client("tcp://scheduler:8786") as client:
        run_batch(core, ["in/"], BatchOptions(output=Path("out")), engine=DaskEngine(client))

or let :func:`dask_engine` start a ``LocalCluster`` of worker processes.
"""

from __future__ import annotations

import contextlib
import pickle
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from idiscore.batch.engines import CHUNKS_PER_WORKER, ChunkSizer, Engine, hand_out
from idiscore.errors import ConfigurationError, MissingDependencyError

try:
    from distributed import WorkerPlugin
except ImportError:  # pragma: no cover - without the extra; require_dask() says so
    WorkerPlugin = object  # type: ignore[misc,assignment]

if TYPE_CHECKING:
    from distributed import Client, Future

__all__ = ["DaskEngine", "dask_engine", "require_dask"]

#: the time a chunk of tasks should take when the chunk size adapts: a task costs the
#: scheduler a round trip of a few milliseconds, so chunks are longer than a process pool's
CHUNK_SECONDS = 0.25
#: the largest adaptive chunk
MAX_CHUNK = 64

T = TypeVar("T")
R = TypeVar("R")

#: pickled functions registered on this worker process, by token
_REGISTERED: dict[str, bytes] = {}
#: every worker thread's own copy of a function, by token
_LOCAL = threading.local()


def require_dask() -> None:
    """Raise :class:`MissingDependencyError` unless ``dask.distributed`` can be imported."""
    try:
        import distributed  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            "the Dask engine needs dask.distributed: pip install 'idiscore[dask]'"
        ) from exc


class _FunctionPlugin(WorkerPlugin):
    """A worker plugin that leaves the pickled per-file function on every worker."""

    def __init__(self, token: str, pickled: bytes) -> None:
        self.token = token
        self.pickled = pickled
        self.name = f"idiscore-{token}"

    def setup(self, worker: Any) -> None:
        _REGISTERED[self.token] = self.pickled

    def teardown(self, worker: Any) -> None:
        _REGISTERED.pop(self.token, None)


def _function(token: str) -> Callable[[Any], Any]:
    functions: dict[str, Callable[[Any], Any]] | None = getattr(_LOCAL, "functions", None)
    if functions is None:
        functions = _LOCAL.functions = {}
    function = functions.get(token)
    if function is None:
        pickled = _REGISTERED.get(token)
        if pickled is None:
            raise RuntimeError("the idiscore worker plugin is not registered on this worker")
        function = functions[token] = pickle.loads(pickled)
    return function


def _run_chunk(token: str, tasks: list[Any]) -> tuple[list[Any], float]:
    """Run a chunk of tasks on a worker; their results and the time the chunk took."""
    function = _function(token)
    start = time.perf_counter()
    results = [function(task) for task in tasks]
    return results, time.perf_counter() - start


class DaskEngine(Engine[T, R]):
    """Runs tasks on the workers of a Dask ``client`` (see the module docs).

    Args:
        client: a ``distributed.Client``; the engine neither starts nor closes it.
        function: picklable per-file function. :func:`~idiscore.batch.runner.run_batch`
            supplies its own (see :meth:`bind`); give one to use the engine elsewhere.
        chunk_size: tasks per chunk; None adapts it to the time a task takes.
        max_in_flight: tasks submitted but not yet yielded (default: three chunks of the
            largest size per worker thread).
        retries: how often a chunk that raised is run again before it is split.
        on_crash: turns a task that failed on its own (its worker died every time, or it
            raised) into a result; None re-raises.
        on_discard: receives results computed but never yielded (after an interruption).
        drain_seconds: how long an interrupted run waits for running chunks.
        worker_key_file: path of the key file *on the workers*. The function is then sent
            without its pseudonymization key (the workers read it from this file, and
            must hold the same key: checked on every worker before the run starts), so
            the key never crosses the network. The function must be a
            :class:`~idiscore.batch.runner.FileProcessor` (what ``run_batch`` gives).
    """

    #: A worker that dies while writing leaves its temporary file (Dask then runs the
    #: chunk again elsewhere): the batch sweeps marked temporary files when it ends.
    orphans_temp_files = True

    def __init__(
        self,
        client: Client,
        function: Callable[[T], R] | None = None,
        *,
        chunk_size: int | None = None,
        max_in_flight: int | None = None,
        retries: int = 1,
        on_crash: Callable[[T], R] | None = None,
        on_discard: Callable[[R], None] | None = None,
        drain_seconds: float = 60.0,
        worker_key_file: str | None = None,
    ) -> None:
        if chunk_size is not None and chunk_size < 1:
            raise ConfigurationError("chunk_size must be at least 1")
        if retries < 0:
            raise ConfigurationError("retries must not be negative")
        self.client = client
        self.function = function
        self.chunk_size = chunk_size
        self.max_in_flight = max_in_flight
        self.retries = retries
        self.on_crash = on_crash
        self.on_discard = on_discard
        self.drain_seconds = drain_seconds
        self.worker_key_file = worker_key_file
        self._sizer = ChunkSizer(chunk_size, CHUNK_SECONDS, MAX_CHUNK)

    def bind(
        self,
        function: Callable[[T], R],
        *,
        on_crash: Callable[[T], R] | None = None,
        on_discard: Callable[[R], None] | None = None,
    ) -> DaskEngine[T, R]:
        """This engine, running the batch's function and handlers from now on."""
        self.function = function
        self.on_crash = on_crash
        self.on_discard = on_discard
        return self

    def _threads(self) -> int:
        workers = self.client.scheduler_info().get("workers", {})
        return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))

    def run(self, tasks: Iterable[T]) -> Iterator[tuple[T, R]]:
        require_dask()
        if self.function is None:
            raise ConfigurationError("DaskEngine has no function: pass one, or use run_batch")
        token = uuid.uuid4().hex
        function: Callable[[Any], Any] = self.function
        if self.worker_key_file is not None:
            function = _KeyFromWorkerFile(function, self.worker_key_file)
            self.client.run(_check_worker_key, self.worker_key_file, function.fingerprint)
        plugin = _FunctionPlugin(token, pickle.dumps(function))
        self.client.register_plugin(plugin, name=plugin.name)
        try:
            yield from self._run(token, tasks)
        finally:
            with contextlib.suppress(Exception):
                self.client.unregister_worker_plugin(plugin.name)

    def _submit(self, token: str, chunk: list[T]) -> Future[Any]:
        return self.client.submit(_run_chunk, token, chunk, pure=False, retries=self.retries)

    def _run(self, token: str, tasks: Iterable[T]) -> Iterator[tuple[T, R]]:
        threads = self._threads()
        max_chunks = CHUNKS_PER_WORKER * threads
        max_in_flight = max(1, self.max_in_flight or max_chunks * (self.chunk_size or MAX_CHUNK))
        window: deque[tuple[list[T], Future[Any]]] = deque()
        in_flight = 0
        iterator = iter(tasks)
        exhausted = False
        try:
            while True:
                while not exhausted and len(window) < max_chunks and in_flight < max_in_flight:
                    size = min(self._sizer.next(), max_in_flight - in_flight)
                    chunk = [task for _, task in zip(range(size), iterator, strict=False)]
                    if len(chunk) < size:
                        exhausted = True
                    if not chunk:
                        break
                    in_flight += len(chunk)
                    window.append((chunk, self._submit(token, chunk)))
                if not window:
                    return
                chunk, future = window[0]
                try:
                    results, seconds = future.result()
                except Exception as exc:
                    if _cluster_gone(exc):
                        raise
                    window.popleft()
                    in_flight -= len(chunk)
                    yield from self._alone(token, chunk, exc)
                    continue
                window.popleft()
                in_flight -= len(chunk)
                self._sizer.learn(len(chunk), seconds)
                yield from self._hand_out(chunk, results)
        finally:
            self._drain(window)

    def _alone(self, token: str, chunk: list[T], error: BaseException) -> Iterator[tuple[T, R]]:
        """Run the tasks of a failed chunk one by one: only the culprit fails."""
        if len(chunk) == 1:
            yield chunk[0], self._crashed(chunk[0], error)
            return
        for task in chunk:
            try:
                results, _seconds = self._submit(token, [task]).result()
            except Exception as exc:
                if _cluster_gone(exc):
                    raise
                yield task, self._crashed(task, exc)
            else:
                yield from self._hand_out([task], results)

    def _crashed(self, task: T, error: BaseException) -> R:
        if self.on_crash is None:
            raise error
        return self.on_crash(task)

    def _hand_out(self, chunk: list[T], results: list[R]) -> Iterator[tuple[T, R]]:
        return hand_out(chunk, results, self._discard)

    def _discard(self, results: Iterable[R]) -> None:
        if self.on_discard is not None:
            for result in results:
                self.on_discard(result)

    def _drain(self, window: deque[tuple[list[T], Future[Any]]]) -> None:
        """After the consumer stopped: let the chunks in flight finish (at most
        ``drain_seconds``; there are a few per worker thread), discard their results and
        cancel the others."""
        if not window:
            return
        from distributed import wait

        futures = [future for _chunk, future in window]
        with contextlib.suppress(Exception):
            wait(futures, timeout=self.drain_seconds)
        for future in futures:
            if future.status == "finished":
                with contextlib.suppress(Exception):
                    self._discard(future.result()[0])
        with contextlib.suppress(Exception):
            self.client.cancel(futures)


def _worker_key(path: str) -> bytes:
    from idiscore.pseudonyms import Pseudonymizer

    return bytes(Pseudonymizer.from_key_file(path)._key)


def _check_worker_key(path: str, fingerprint: str) -> None:
    """On a worker: the key file exists and holds the key the batch was started with.

    Raises:
        ConfigurationError: it does not (the message names neither key).
    """
    from idiscore.pseudonyms import Pseudonymizer

    if Pseudonymizer(_worker_key(path)).key_fingerprint != fingerprint:
        raise ConfigurationError(
            f"the key file {path!r} on a worker holds another key than this batch's"
        )


class _KeyFromWorkerFile:
    """A per-file function (a FileProcessor) pickled without its key; on the worker, the
    key comes from a file there."""

    def __init__(self, processor: Any, key_file: str) -> None:
        import copy

        core = copy.copy(processor.core)
        pseudonymizer = copy.copy(core.pseudonymizer)
        self.fingerprint: str = pseudonymizer.key_fingerprint
        pseudonymizer._key = b""  # not pickled with the function
        core.pseudonymizer = pseudonymizer
        self.processor = copy.copy(processor)
        self.processor.core = core
        self.key_file = key_file
        self._ready = False

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_ready"] = False
        return state

    def __call__(self, task: Any) -> Any:
        if not self._ready:
            _check_worker_key(self.key_file, self.fingerprint)
            pseudonymizer = self.processor.core.pseudonymizer
            state = pseudonymizer.__getstate__()
            state["_key"] = _worker_key(self.key_file)
            pseudonymizer.__setstate__(state)
            self._ready = True
        return self.processor(task)


def _cluster_gone(exc: BaseException) -> bool:
    """Errors that mean the cluster is unusable, not that a chunk failed."""
    from distributed.client import FutureCancelledError

    return isinstance(exc, (FutureCancelledError, OSError, TimeoutError))


@contextlib.contextmanager
def dask_engine(
    scheduler: str | None = None, workers: int = 2, **options: Any
) -> Iterator[DaskEngine[Any, Any]]:
    """A :class:`DaskEngine` on ``scheduler`` (an address such as ``tcp://host:8786``),
    or on a new ``LocalCluster`` of ``workers`` single-threaded processes; the client (and
    the local cluster) are closed on exit.

    Raises:
        MissingDependencyError: dask.distributed is not installed.
    """
    require_dask()
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
            yield DaskEngine(client, **options)
        return
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster,
        Client(cluster) as client,
    ):
        yield DaskEngine(client, **options)
