"""The DICOM node: receive (C-STORE SCP), de-identify, forward (or store locally).

::

    scanner ──C-STORE──► receive ──fsync──► spool/incoming ──► de-identify (FileProcessor,
    the batch worker of ``idiscore deidentify``) ──fsync──► spool/outbound ──► Forwarder
    ──C-STORE──► destination          (or, with ``output``, into that folder)

With ``workers`` of 2 or more, the batch layer's :class:`ProcessPoolEngine` runs the
FileProcessor in that many kept worker processes: a worker writes (and fsyncs) a temporary
output, this process renames it into place, syncs the folders and only then lets the
received file go. A worker that dies fails only the instance it was processing (the engine
runs it again alone to find the culprit), which is quarantined; the node keeps running.

**The durability guarantee.** Success is answered to a C-STORE only after the received
bytes, and their name in ``spool/incoming``, are on the disk. From then on the instance is
always in exactly one place of the spool (see :mod:`idiscore.net.spool`), and a node
restarted after a crash (``kill -9``, power failure) picks up where it was: every
acknowledged instance is forwarded, or quarantined with a reason, exactly once. The one
exception is a crash in the instant between the destination's Success and the journal's
fsync: that instance is sent again, with the same SOP Instance UID and the same bytes,
which a PACS stores once.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from idiscore.batch.engines import Engine, InProcessEngine, ProcessPoolEngine
from idiscore.batch.report import FileResult
from idiscore.batch.runner import FileProcessor, Task
from idiscore.batch.writer import commit, discard, fsync_folder, sweep_temp_files
from idiscore.errors import ConfigurationError
from idiscore.net.events import EventLog
from idiscore.net.forwarder import Forwarder, ForwardOptions
from idiscore.net.peers import (
    Peer,
    no_delay,
    require_pynetdicom,
    server_tls_context,
    storage_contexts,
)
from idiscore.net.spool import Spool, instance_key

if TYPE_CHECKING:
    from idiscore.core import Core

__all__ = ["Node", "NodeOptions"]

#: C-STORE statuses (PS3.4 B.2.3)
_SUCCESS = 0x0000
_OUT_OF_RESOURCES = 0xA700
_CANNOT_UNDERSTAND = 0xC000
#: received instances de-identified together (their outputs' folder synced once)
_BATCH = 32


@dataclass(frozen=True)
class NodeOptions:
    """Everything ``idiscore serve`` takes (except the profile and the key: the Core).

    Exactly one of ``forward`` and ``output`` is set.
    """

    spool: Path
    forward: Peer | None = None
    output: Path | None = None
    ae_title: str = "IDISCORE"
    bind: str = "0.0.0.0"
    port: int = 11112
    report: Path | None = None
    allow_ae: tuple[str, ...] = ()
    max_associations: int = 10
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None
    max_failures: int = 5
    retry_delay: float = 1.0
    max_retry_delay: float = 60.0
    status_interval: float = 60.0
    timeout: float = 30.0
    workers: int = 1
    forward_tls: Any = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if (self.forward is None) == (self.output is None):
            raise ConfigurationError("give exactly one of --forward and --output")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigurationError("--tls-cert and --tls-key go together")
        if self.tls_ca is not None and self.tls_cert is None:
            raise ConfigurationError("--tls-ca needs --tls-cert and --tls-key")
        if not 0 <= self.port < 65536:
            raise ConfigurationError(f"port {self.port} is out of range")
        if not 1 <= len(self.ae_title.strip()) <= 16:
            raise ConfigurationError("the AE title must have 1 to 16 characters")
        if self.max_associations < 1 or self.max_failures < 1:
            raise ConfigurationError("--max-associations and --max-failures must be >= 1")
        if self.workers < 1:
            raise ConfigurationError("--workers must be at least 1")
        spool = self.spool.absolute()
        if self.output is not None:
            output = self.output.absolute()
            if output == spool or spool in output.parents or output in spool.parents:
                raise ConfigurationError("the --output folder and the spool must be apart")


class Node:
    """Receives, de-identifies and forwards; :meth:`start`, then :meth:`stop`.

    ``log`` receives the operator's lines (status, destination up/down); never values.
    ``on_received`` is called with the original SOP Instance UID of every instance the node
    acknowledged (used by ``pull`` to check the retrieval; not logged).
    """

    def __init__(
        self,
        core: Core,
        options: NodeOptions,
        *,
        log: Callable[[str], None] = lambda line: None,
        on_received: Callable[[str], None] | None = None,
    ) -> None:
        require_pynetdicom()
        self.core = core
        self.options = options
        self.log = log
        self.on_received = on_received
        self.spool = Spool(options.spool)
        self.events = EventLog(options.report)
        self._tls = None
        if options.tls_cert is not None and options.tls_key is not None:
            self._tls = server_tls_context(options.tls_cert, options.tls_key, options.tls_ca)
        if options.output is not None:
            self._processor = FileProcessor(core, options.output, "patient", fsync=True)
        else:
            self._processor = FileProcessor(core, self.spool.outbound, "mirror", fsync=True)
        self._engine: Engine[Task, FileResult] = InProcessEngine(self._processor)
        self._pool: ProcessPoolEngine[Task, FileResult] | None = None
        if options.workers > 1:
            self._pool = ProcessPoolEngine(
                self._processor,
                options.workers,
                on_crash=self._processor.crashed,
                on_discard=_discard_output,
            )
            self._engine = self._pool
        self.forwarder: Forwarder | None = None
        if options.forward is not None:
            self.forwarder = Forwarder(
                self.spool,
                ForwardOptions(
                    options.forward,
                    calling_ae=options.ae_title,
                    max_failures=options.max_failures,
                    retry_delay=options.retry_delay,
                    max_retry_delay=options.max_retry_delay,
                    timeout=options.timeout,
                    ssl_context=options.forward_tls,
                ),
                self.events,
                log,
            )
        self._work: deque[str] = deque()
        self._working = 0
        self._work_ready = threading.Condition()
        self._stopping = threading.Event()
        self._ae: Any = None
        self._server: Any = None
        self._threads: list[threading.Thread] = []
        self.resumed = (0, 0)

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Resume what the spool holds, then listen. Returns at once.

        Raises:
            OSError: the port cannot be bound.
        """
        self.spool.sweep()
        if self.options.output is not None:
            sweep_temp_files(self.options.output)
        if self._pool is not None:
            # before any thread of ours runs: the workers can then be forked
            self._pool.open()
            self.log(f"de-identifying in {self.options.workers} worker processes")
        incoming = self.spool.pending_incoming()
        for key in set(incoming) & set(self.spool.pending_outbound()):
            # de-identified, but killed before the received file was let go: do it again
            discard(self.spool.outbound_path(key))
            self.spool.clear_failures(key)
        self.spool.resolve_forwarded()
        outbound = self.spool.pending_outbound()
        self.resumed = (len(incoming), len(outbound))
        if incoming or outbound:
            self.log(
                f"resuming: {len(incoming)} received instance(s) to de-identify, "
                f"{len(outbound)} to forward"
            )
        if self.forwarder is not None:
            for key in outbound:
                self.forwarder.submit(key)
            self.forwarder.start()
        for key in incoming:
            self._enqueue(key)
        self._start_thread(self._deidentify_loop, "idiscore-deidentify")
        if self.options.status_interval > 0:
            self._start_thread(self._status_loop, "idiscore-status")
        self._listen()

    def _start_thread(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _listen(self) -> None:
        from pynetdicom import AE, evt

        ae = AE(ae_title=self.options.ae_title)
        ae.maximum_associations = self.options.max_associations
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = self.options.timeout
        if self.options.allow_ae:
            ae.require_calling_aet = list(self.options.allow_ae)
        ae.supported_contexts = storage_contexts()
        handlers: list[Any] = [
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_C_ECHO, self._on_echo),
            (evt.EVT_CONN_OPEN, self._on_connection),
        ]
        self._ae = ae
        self._server = ae.start_server(
            (self.options.bind, self.options.port),
            block=False,
            evt_handlers=handlers,
            ssl_context=self._tls,
        )

    @property
    def port(self) -> int:
        """The port listened on (useful with port 0)."""
        return int(self._server.server_address[1])

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful shutdown: refuse new associations, let the open ones finish, de-identify
        what was received, finish the forward in progress. The queue stays on disk."""
        deadline = time.monotonic() + timeout
        if self._server is not None:
            self._server.shutdown()
        if self._ae is not None:
            # associations that transfer get to finish; a connection that never
            # negotiated (a port probe, a stalled client) does not hold the stop up
            while time.monotonic() < deadline and any(
                assoc.is_established for assoc in self._ae.active_associations
            ):
                time.sleep(0.05)
            for assoc in self._ae.active_associations:
                assoc.abort()
        self._stopping.set()
        with self._work_ready:
            self._work_ready.notify_all()
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        if self._pool is not None and not any(thread.is_alive() for thread in self._threads):
            self._pool.close()
        if self.forwarder is not None:
            self.forwarder.stop(max(0.1, deadline - time.monotonic()))
        self.events.close()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is being received, de-identified or forwarded (False if
        ``timeout`` came first). Instances waiting for a retry count as busy."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle():
                return True
            time.sleep(0.05)
        return self.idle()

    def idle(self) -> bool:
        with self._work_ready:
            working = bool(self._working or self._work)
        forwarding = self.forwarder is not None and not self.forwarder.idle()
        receiving = self._ae is not None and bool(self._ae.active_associations)
        return not (working or forwarding or receiving)

    def worker_pids(self) -> list[int]:
        """The process ids of the de-identifying workers (empty with one worker)."""
        return self._pool.worker_pids() if self._pool is not None else []

    def status_line(self) -> str:
        depth = self.forwarder.depth if self.forwarder is not None else 0
        finished = "forwarded" if self.forwarder is not None else "done"
        with self._work_ready:
            waiting = len(self._work) + self._working
        return self.events.status(depth, waiting, finished)

    # -- receiving -----------------------------------------------------------------------

    def _on_connection(self, event: Any) -> None:
        no_delay(event.assoc)

    def _on_echo(self, event: Any) -> int:
        return _SUCCESS

    def _on_store(self, event: Any) -> int:
        if self._stopping.is_set():
            return _OUT_OF_RESOURCES
        request = event.request
        uid = str(request.AffectedSOPInstanceUID or "")
        if not uid:
            return _CANNOT_UNDERSTAND
        key = instance_key(uid)
        try:
            data = event.encoded_dataset(include_meta=True)
            path = self.spool.receive(key, data)
        except OSError as exc:
            self.log(f"cannot store a received instance: {exc.strerror or type(exc).__name__}")
            return _OUT_OF_RESOURCES
        except Exception as exc:
            self.log(f"cannot store a received instance: {type(exc).__name__}")
            return _CANNOT_UNDERSTAND
        self.events.emit(
            "received",
            key,
            sop_class=str(request.AffectedSOPClassUID),
            calling_ae=str(event.assoc.requestor.ae_title).strip(),
            transfer_syntax=str(event.context.transfer_syntax),
            bytes=path.stat().st_size,
        )
        if self.on_received is not None:
            self.on_received(uid)
        self._enqueue(key)
        return _SUCCESS

    # -- de-identifying ------------------------------------------------------------------

    def _enqueue(self, key: str) -> None:
        with self._work_ready:
            self._work.append(key)
            self._work_ready.notify()

    def _take_batch(self) -> list[str] | None:
        """The received keys waiting (at most :data:`_BATCH`); None once stopping and
        nothing is left."""
        with self._work_ready:
            while not self._work and not self._stopping.is_set():
                self._work_ready.wait()
            if not self._work:
                return None
            batch = [self._work.popleft() for _ in range(min(_BATCH, len(self._work)))]
            self._working = len(batch)
            return batch

    def _deidentify_loop(self) -> None:
        while (keys := self._take_batch()) is not None:
            try:
                self._deidentify_batch(keys)
            except Exception as exc:  # e.g. no worker could start; the next start retries
                self.log(f"cannot de-identify {len(keys)} instance(s): {type(exc).__name__}")
            finally:
                with self._work_ready:
                    self._working = 0

    def _deidentify_batch(self, keys: list[str]) -> None:
        """De-identify a group of received instances (in the engine's workers); their
        outputs' names reach the disk together (one fsync per folder), then the received
        files are let go."""
        stamps: dict[str, str] = {}
        tasks: list[Task] = []
        for key in keys:
            source = self.spool.incoming_path(key)
            stamp = self.spool.stamp(source)
            if stamp is None:
                continue  # a second reception of this instance, already handled
            stamps[key] = stamp
            tasks.append(Task(str(source), f"{key}.dcm"))
        if self._pool is not None:
            self._pool.open()  # again, after a dead worker broke the kept pool
        done: list[tuple[str, str, Path]] = []
        for task, result in self._engine.run(tasks):
            key = task.relative.removesuffix(".dcm")
            try:
                output = self._settle(key, Path(task.path), result)
            except Exception as exc:  # the spool keeps the file; the next start retries
                discard(result.temp)
                self.log(f"cannot process instance {key}: {type(exc).__name__}")
                continue
            if output is not None:
                done.append((key, stamps[key], output))
        if not done:
            return
        for folder in self._folders_to_sync(output for _, _, output in done):
            fsync_folder(folder)
        for key, stamp, _ in done:
            self.spool.finish_incoming(key, stamp, sync=False)
        fsync_folder(self.spool.incoming)
        in_output = self.options.output is not None
        for key, _, output in done:
            self.events.emit("done", key, output=str(output) if in_output else None)
            if self.forwarder is not None:
                self.forwarder.submit(key)

    def _folders_to_sync(self, outputs: Iterable[Path]) -> list[Path]:
        """The folders of ``outputs`` and their parents up to the output root (new
        folders' names must reach the disk too)."""
        root = self.options.output.absolute() if self.options.output else self.spool.outbound
        folders: set[Path] = set()
        for output in outputs:
            folder = output.parent
            while folder not in folders:
                folders.add(folder)
                if folder == root or folder == folder.parent:
                    break
                folder = folder.parent
        return sorted(folders, key=lambda path: len(path.parts), reverse=True)

    def _settle(self, key: str, source: Path, result: FileResult) -> Path | None:
        """Act on the result of one received instance: its output when done (in place,
        its name not yet synced); None when it was quarantined."""
        if result.status == "done" and result.temp is not None and result.output is not None:
            output = Path(result.output)
            commit(Path(result.temp), output, fsync=False)
            return output
        discard(result.temp)
        if result.status == "rejected":
            record = {"reason": result.reason, "bouncer": result.bouncer, "stage": "bouncer"}
            quarantined = self.spool.quarantine_file(source, key, "rejected", record)
            self.events.emit(
                "rejected",
                key,
                bouncer=result.bouncer,
                reason=result.reason,
                quarantine=str(quarantined),
            )
            return None
        reason = result.reason or "not a DICOM data set"
        record = {"reason": reason, "stage": "deidentify"}
        quarantined = self.spool.quarantine_file(source, key, "failed", record)
        self.events.emit(
            "failed", key, stage="deidentify", reason=reason, quarantine=str(quarantined)
        )
        return None

    # -- operations ----------------------------------------------------------------------

    def _status_loop(self) -> None:
        while not self._stopping.wait(self.options.status_interval):
            with contextlib.suppress(Exception):
                self.log(self.status_line())


def _discard_output(result: FileResult) -> None:
    """Remove the temporary output of a result computed but never handed over."""
    discard(result.temp)
