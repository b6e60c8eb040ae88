"""What the node tells its operator: a JSON-lines report and a periodic status line.

One report line per event of an instance, each a JSON object::

    {"time": "2026-01-01T10:00:00.123Z", "event": "received", "key": "3f...", ...}

``event``     ``received`` | ``done`` | ``rejected`` | ``failed`` | ``forwarded``
``key``       the spool name of the instance (a digest of its original SOP Instance UID)
``sop_class`` the SOP Class UID (not identifying)
``calling_ae``, ``transfer_syntax``, ``bytes``       (received)
``instance``  the de-identified SOP Instance UID (done, forwarded)
``output``    where the de-identified file was written (done, with ``--output``)
``bouncer``, ``reason``, ``quarantine``   why, and where the file went (rejected, failed)
``destination`` the AE the instance was forwarded to (forwarded)

Reasons never hold element values. Lines are flushed at once (the spool, not the report,
is what a restart resumes from).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, TextIO

__all__ = ["EVENTS", "EventLog"]

EVENTS = ("received", "done", "rejected", "failed", "forwarded")


class EventLog:
    """Counts events, writes them to the report, and formats the status line.

    Thread-safe: the receiving, de-identifying and forwarding threads all log here.
    """

    def __init__(self, report: str | os.PathLike[str] | None = None) -> None:
        self.counts: dict[str, int] = dict.fromkeys(EVENTS, 0)
        self._lock = threading.Lock()
        self._handle: TextIO | None = None
        if report is not None:
            self._handle = open(report, "a", encoding="utf-8")  # noqa: SIM115
        self._started = time.monotonic()
        self._last_status = (self._started, 0)
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []

    def emit(self, event: str, key: str, **fields: Any) -> None:
        record: dict[str, Any] = {
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "event": event,
            "key": key,
        }
        record.update((name, value) for name, value in fields.items() if value is not None)
        with self._lock:
            self.counts[event] = self.counts.get(event, 0) + 1
            if self._handle is not None:
                self._handle.write(json.dumps(record) + "\n")
                self._handle.flush()
            listeners = list(self.listeners)
        for listener in listeners:
            listener(event, record)

    def status(self, queue_depth: int, incoming: int, finished_event: str = "forwarded") -> str:
        """One line: counts, how many wait, and the rate (of ``finished_event``) since the
        previous line."""
        now = time.monotonic()
        with self._lock:
            counts = dict(self.counts)
            last_time, last_finished = self._last_status
            finished = counts[finished_event]
            self._last_status = (now, finished)
        rate = (finished - last_finished) / (now - last_time) if now > last_time else 0.0
        parts = ", ".join(f"{name} {counts[name]}" for name in EVENTS)
        return (
            f"idiscore node: {parts}; waiting: {incoming} to de-identify, "
            f"{queue_depth} to forward; {rate:.1f} instances/s"
        )

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None
