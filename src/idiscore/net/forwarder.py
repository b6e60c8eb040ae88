"""Forwarding: the outbound queue, sent to the destination as a C-STORE SCU.

- One association carries many instances: it is opened with a presentation context for
  every (SOP class, transfer syntax) pair the waiting files need, kept while files keep
  coming, re-opened when a file needs a pair it lacks, and released when idle.
- A destination that cannot be reached (association refused, connection lost) is retried
  with exponential back-off; no file is blamed for it, so an outage never quarantines the
  queue.
- A file the destination refuses (a failure status, no acceptable context, an association
  that dies while it is sent) counts one failure; it is retried later, and after
  ``max_failures`` it moves to ``quarantine/unsent`` with the reason.
- A file the destination acknowledged is first written to the journal (one fsync for a
  group of files), then removed from the queue. After a crash, a queued file the journal
  names is removed without being sent again (see :mod:`idiscore.net.spool`).
"""

from __future__ import annotations

import threading
import time
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from idiscore.net.events import EventLog
from idiscore.net.peers import Peer, no_delay
from idiscore.net.spool import ForwardJournal, Spool

__all__ = ["ForwardOptions", "Forwarder"]

#: at most this many files per group (one journal fsync)
_GROUP = 64
#: success and warning statuses of C-STORE (PS3.4 B.2.3)
_OK_STATUSES = frozenset({0x0000, 0xB000, 0xB006, 0xB007})


#: presentation contexts one association may propose (PS3.8 9.3.2.2)
_MAX_CONTEXTS = 128
_IMPLICIT = "1.2.840.10008.1.2"
#: uncompressed syntaxes pynetdicom can re-encode as Implicit VR Little Endian
_CONVERTIBLE = frozenset({"1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"})


def _read_dataset(path: Path) -> Any:
    import pydicom

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path)


@dataclass(frozen=True)
class ForwardOptions:
    """How the node forwards.

    Args:
        destination: the C-STORE SCP that receives the de-identified instances.
        calling_ae: the node's AE title.
        max_failures: refusals of one file before it is quarantined.
        retry_delay: the first back-off (seconds); it doubles up to ``max_retry_delay``.
        idle_release: release the association after this many idle seconds.
        timeout: network timeouts (connection, ACSE, DIMSE), seconds.
        ssl_context: TLS towards the destination, or None.
    """

    destination: Peer
    calling_ae: str = "IDISCORE"
    max_failures: int = 5
    retry_delay: float = 1.0
    max_retry_delay: float = 60.0
    idle_release: float = 2.0
    timeout: float = 30.0
    ssl_context: Any = None


@dataclass
class _Item:
    key: str
    path: Path
    stamp: str
    sop_class: str
    syntax: str
    instance: str


class _DestinationDown(Exception):
    """The destination cannot be reached, or the association broke."""


class Forwarder:
    """A thread sending the outbound queue; :meth:`submit` adds a key."""

    def __init__(
        self,
        spool: Spool,
        options: ForwardOptions,
        events: EventLog,
        log: Callable[[str], None] = lambda line: None,
    ) -> None:
        from pynetdicom import AE, _config

        _config.STORE_SEND_CHUNKED_DATASET = True  # files are sent from the disk, as they are
        self.spool = spool
        self.options = options
        self.events = events
        self.log = log
        self._ae = AE(ae_title=options.calling_ae)
        self._ae.connection_timeout = options.timeout
        self._ae.acse_timeout = options.timeout
        self._ae.dimse_timeout = options.timeout
        self._ae.network_timeout = options.timeout
        self._queue: deque[str] = deque()
        self._queued: set[str] = set()
        self._not_before: dict[str, float] = {}
        self._condition = threading.Condition()
        self._stop = False
        self._sending = False
        self._assoc: Any = None
        self._pairs: frozenset[tuple[str, str]] = frozenset()
        self._down_since: float | None = None
        self._delay = options.retry_delay
        self._journal = ForwardJournal(spool)
        self._thread = threading.Thread(target=self._run, name="idiscore-forward", daemon=True)

    # -- control -------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def submit(self, key: str) -> None:
        with self._condition:
            if key not in self._queued:
                self._queued.add(key)
                self._queue.append(key)
            self._not_before.pop(key, None)
            self._condition.notify_all()

    @property
    def depth(self) -> int:
        with self._condition:
            return len(self._queued)

    def idle(self) -> bool:
        """Nothing queued and nothing being sent."""
        with self._condition:
            return not self._queued and not self._sending

    def stop(self, timeout: float | None = None) -> None:
        """Finish the group being sent, release the association; the queue stays on disk."""
        with self._condition:
            self._stop = True
            self._condition.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._journal.close()

    # -- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                group = self._next_group()
                if group is None:
                    return
                if not group:  # idle for a while: let the destination go
                    self._release()
                    continue
                try:
                    self._send_group(group)
                except Exception as exc:  # never let the thread die: the files stay queued
                    self.log(f"forwarding stopped by {type(exc).__name__}; retrying")
                    self._requeue(group)
                    self._destination_down(type(exc).__name__)
        finally:
            self._release()

    def _next_group(self) -> list[str] | None:
        """Keys ready to send; empty after an idle wait; None when stopping."""
        with self._condition:
            while not self._stop:
                now = time.monotonic()
                ready = [key for key in self._queue if self._not_before.get(key, 0) <= now]
                if ready:
                    group = ready[:_GROUP]
                    for key in group:
                        self._queue.remove(key)
                    self._sending = True
                    return group
                waits = [t - now for t in self._not_before.values() if t > now]
                if not self._condition.wait(min([self.options.idle_release, *waits])):
                    return []
            return None

    def _send_group(self, keys: list[str]) -> None:
        items: list[_Item] = []
        for key in keys:
            item = self._item(key)
            if item is not None:
                items.append(item)
        if not items:
            self._requeue([])
            return
        sent: list[_Item] = []
        retry: list[_Item] = []
        try:
            self._ensure_association({(item.sop_class, item.syntax) for item in items})
            for index, item in enumerate(items):
                if self._stop_now():
                    retry.extend(items[index:])
                    break
                try:
                    if self._store(item):
                        sent.append(item)
                except _DestinationDown:
                    retry.extend(items[index + 1 :])
                    raise
        except _DestinationDown as exc:
            retry.extend(item for item in items if item not in sent and item not in retry)
            self._destination_down(str(exc))
        else:
            self._destination_up()
        self._finish_sent(sent)
        self._requeue([item.key for item in retry])

    def _requeue(self, keys: list[str]) -> None:
        """Put ``keys`` (still queued, not sent) back at the front; the group is over."""
        with self._condition:
            for key in reversed(keys):
                if key in self._queued and key not in self._queue:
                    self._queue.appendleft(key)
            self._sending = False
            self._condition.notify_all()

    def _stop_now(self) -> bool:
        with self._condition:
            return self._stop

    def _item(self, key: str) -> _Item | None:
        from pydicom.filereader import read_file_meta_info

        path = self.spool.outbound_path(key)
        stamp = self.spool.stamp(path)
        if stamp is None:  # gone (forwarded by an earlier run, or replaced and re-queued)
            self._forget(key)
            return None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                meta = read_file_meta_info(path)
            item = _Item(
                key,
                path,
                stamp,
                str(meta.MediaStorageSOPClassUID),
                str(meta.TransferSyntaxUID),
                str(meta.MediaStorageSOPInstanceUID),
            )
        except Exception as exc:
            self._failed(key, path, f"cannot read the de-identified file: {type(exc).__name__}")
            return None
        return item

    def _ensure_association(self, pairs: set[tuple[str, str]]) -> None:
        assoc = self._assoc
        if assoc is not None and assoc.is_established and pairs <= self._pairs:
            return
        # the pairs of the association being replaced are proposed again (up to the limit
        # of 128 contexts), so that files alternating between them do not re-associate
        previous = sorted(self._pairs - pairs)
        self._release()
        from pynetdicom import build_context

        wanted = (sorted(pairs) + previous)[:_MAX_CONTEXTS]
        contexts = [build_context(sop_class, [syntax]) for sop_class, syntax in wanted]
        # every acceptor supports Implicit VR Little Endian: a fallback for files in another
        # uncompressed syntax, while contexts are left
        implicit = {sop_class for sop_class, syntax in wanted if syntax == _IMPLICIT}
        fallbacks = sorted(
            {sop_class for sop_class, syntax in wanted if syntax in _CONVERTIBLE} - implicit
        )
        room = _MAX_CONTEXTS - len(contexts)
        contexts += [build_context(sop_class, [_IMPLICIT]) for sop_class in fallbacks[:room]]
        destination = self.options.destination
        tls = None
        if self.options.ssl_context is not None:
            tls = (self.options.ssl_context, destination.host)
        try:
            assoc = self._ae.associate(
                destination.host,
                destination.port,
                contexts=contexts,
                ae_title=destination.ae_title,
                tls_args=tls,
            )
        except (OSError, RuntimeError, ValueError) as exc:
            raise _DestinationDown(f"cannot connect: {type(exc).__name__}") from None
        if not assoc.is_established:
            why = "association rejected" if assoc.is_rejected else "cannot connect"
            raise _DestinationDown(f"{why} by {destination}")
        no_delay(assoc)
        self._assoc = assoc
        self._pairs = frozenset(wanted)

    def _store(self, item: _Item) -> bool:
        """Send one file; True when the destination acknowledged it."""
        assoc = self._assoc
        if (item.sop_class, item.syntax) not in self._pairs:
            self._ensure_association({(item.sop_class, item.syntax)})
            assoc = self._assoc
        accepted = {
            str(cx.transfer_syntax[0])
            for cx in assoc.accepted_contexts
            if str(cx.abstract_syntax) == item.sop_class
        }
        source: Any = item.path  # sent from the disk as it is
        if item.syntax not in accepted and item.syntax in _CONVERTIBLE and _IMPLICIT in accepted:
            source = _read_dataset(item.path)  # pynetdicom re-encodes it as Implicit VR LE
        elif item.syntax not in accepted:
            self._refused(
                item,
                "the destination accepted no presentation context for this "
                f"SOP class ({item.sop_class}) and transfer syntax ({item.syntax})",
            )
            return False
        try:
            status = assoc.send_c_store(source)
        except (OSError, RuntimeError, ValueError, AttributeError) as exc:
            if not assoc.is_established:
                self._refused(item, f"association lost while sending: {type(exc).__name__}")
                raise _DestinationDown("association lost") from None
            self._refused(item, f"cannot send: {type(exc).__name__}")
            return False
        code = getattr(status, "Status", None)
        if code is None:  # no response: the association was aborted or timed out
            self._refused(item, "no response from the destination (association lost)")
            self._assoc = None
            raise _DestinationDown("association lost while sending")
        if int(code) in _OK_STATUSES:
            return True
        self._refused(item, f"the destination answered status 0x{int(code):04X}")
        return False

    def _finish_sent(self, sent: list[_Item]) -> None:
        if not sent:
            return
        self._journal.record((item.key, item.stamp) for item in sent)
        destination = self.options.destination.ae_title
        for item in sent:
            if self.spool.stamp(item.path) == item.stamp:
                item.path.unlink(missing_ok=True)
                self.spool.clear_failures(item.key)
                self._forget(item.key)
            else:  # a newer reception replaced the file while it was sent: send that too
                with self._condition:
                    if item.key not in self._queue:
                        self._queue.append(item.key)
                    self._condition.notify_all()
            self.events.emit(
                "forwarded",
                item.key,
                sop_class=item.sop_class,
                instance=item.instance,
                destination=destination,
            )

    def _forget(self, key: str) -> None:
        with self._condition:
            if key not in self._queue:
                self._queued.discard(key)
            self._not_before.pop(key, None)

    def _refused(self, item: _Item, reason: str) -> None:
        failures, _ = self.spool.failures(item.key)
        failures += 1
        if failures >= self.options.max_failures:
            self._failed(item.key, item.path, reason, failures, item.sop_class)
            return
        self.spool.record_failure(item.key, failures, reason)
        delay = min(self.options.retry_delay * 2 ** (failures - 1), self.options.max_retry_delay)
        with self._condition:
            self._not_before[item.key] = time.monotonic() + delay
            if item.key not in self._queue:
                self._queue.append(item.key)

    def _failed(
        self,
        key: str,
        path: Path,
        reason: str,
        failures: int = 1,
        sop_class: str | None = None,
    ) -> None:
        record = {"reason": reason, "failures": failures, "stage": "forward"}
        quarantined = self.spool.quarantine_file(path, key, "unsent", record)
        self.spool.clear_failures(key)
        with self._condition:
            self._queued.discard(key)
            if key in self._queue:
                self._queue.remove(key)
            self._not_before.pop(key, None)
        self.events.emit(
            "failed",
            key,
            stage="forward",
            sop_class=sop_class,
            reason=reason,
            failures=failures,
            quarantine=str(quarantined),
        )

    def _destination_down(self, reason: str) -> None:
        self._release()
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
            self._delay = self.options.retry_delay
            self.log(f"destination unavailable ({reason}); retrying with back-off")
        else:
            self._delay = min(self._delay * 2, self.options.max_retry_delay)
        with self._condition:
            if not self._stop:
                self._condition.wait(self._delay)

    def _destination_up(self) -> None:
        if self._down_since is not None:
            self.log(
                f"destination available again after {time.monotonic() - self._down_since:.0f} s"
            )
        self._down_since = None
        self._delay = self.options.retry_delay

    def _release(self) -> None:
        assoc, self._assoc = self._assoc, None
        self._pairs = frozenset()
        if assoc is not None and assoc.is_established:
            try:
                assoc.release()
            except Exception:  # the peer went away: nothing to release
                assoc.abort()
