"""Pull from a PACS: C-FIND counts the instances, C-MOVE sends them to the node.

The node (already listening) receives the moved instances like any other C-STORE and
de-identifies and forwards them. A retrieval is complete only when every instance C-FIND
listed was received (checked by SOP Instance UID) and processed without rejection or
failure; anything less is reported, never silently accepted.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from idiscore.errors import NetworkError
from idiscore.net.peers import Peer

if TYPE_CHECKING:
    from idiscore.net.node import Node

__all__ = ["Pull", "PullOutcome"]

_PENDING = frozenset({0xFF00, 0xFF01})


@dataclass
class PullOutcome:
    """What a retrieval achieved."""

    studies: int = 0
    expected: int = 0
    received: int = 0
    move_completed: int = 0
    move_failed: int = 0
    move_warning: int = 0
    rejected: int = 0
    failed: int = 0
    finished: bool = True
    problems: list[str] = field(default_factory=list)

    @property
    def missing(self) -> int:
        return self.expected - self.received

    @property
    def ok(self) -> bool:
        return (
            not self.problems
            and self.missing == 0
            and not self.move_failed
            and not self.rejected
            and not self.failed
            and self.finished
        )

    def lines(self) -> list[str]:
        lines = [
            f"studies: {self.studies}; instances found (C-FIND): {self.expected}; "
            f"received: {self.received}; missing: {self.missing}",
            f"C-MOVE sub-operations: {self.move_completed} completed, "
            f"{self.move_failed} failed, {self.move_warning} with warnings",
            f"rejected: {self.rejected}; failed: {self.failed}",
        ]
        lines.extend(f"problem: {problem}" for problem in self.problems)
        if not self.finished:
            lines.append("problem: the node did not finish processing in time")
        lines.append("complete" if self.ok else "INCOMPLETE retrieval (see above)")
        return lines


class Pull:
    """One retrieval from ``source``; :meth:`received` is the node's ``on_received``."""

    def __init__(self, source: Peer, *, timeout: float = 30.0, ssl_context: Any = None) -> None:
        self.source = source
        self.timeout = timeout
        self.ssl_context = ssl_context  # a client context: TLS towards the PACS
        self._received: set[str] = set()
        self._lock = threading.Lock()

    def received(self, sop_instance_uid: str) -> None:
        with self._lock:
            self._received.add(sop_instance_uid)

    def run(
        self,
        node: Node,
        *,
        studies: list[str],
        patient: str | None = None,
        move_destination: str,
        wait: float = 600.0,
    ) -> PullOutcome:
        """Find, move, then wait (at most ``wait`` seconds) for the node to finish.

        Raises:
            NetworkError: the PACS cannot be reached or a C-FIND fails.
        """
        from pynetdicom import AE
        from pynetdicom.sop_class import (  # type: ignore[attr-defined]
            StudyRootQueryRetrieveInformationModelFind as FIND,
        )
        from pynetdicom.sop_class import (  # type: ignore[attr-defined]
            StudyRootQueryRetrieveInformationModelMove as MOVE,
        )

        outcome = PullOutcome()
        before = dict(node.events.counts)
        ae = AE(ae_title=node.options.ae_title)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = self.timeout
        ae.connection_timeout = self.timeout
        ae.add_requested_context(FIND)
        ae.add_requested_context(MOVE)
        tls = None if self.ssl_context is None else (self.ssl_context, self.source.host)
        assoc = ae.associate(
            self.source.host, self.source.port, ae_title=self.source.ae_title, tls_args=tls
        )
        if not assoc.is_established:
            raise NetworkError(f"cannot open an association with {self.source}")
        try:
            if patient is not None:
                studies = [
                    str(found.StudyInstanceUID)
                    for found in _find(assoc, FIND, "STUDY", PatientID=patient)
                    if found.get("StudyInstanceUID")
                ]
            outcome.studies = len(studies)
            expected: set[str] = set()
            for study in studies:
                for series in _find(assoc, FIND, "SERIES", StudyInstanceUID=study):
                    for image in _find(
                        assoc,
                        FIND,
                        "IMAGE",
                        StudyInstanceUID=study,
                        SeriesInstanceUID=str(series.SeriesInstanceUID),
                    ):
                        expected.add(str(image.SOPInstanceUID))
            outcome.expected = len(expected)
            for study in studies:
                self._move(assoc, MOVE, study, move_destination, outcome)
        finally:
            if assoc.is_established:
                assoc.release()
        outcome.finished = node.wait_idle(wait)
        with self._lock:
            outcome.received = len(expected & self._received)
        after = node.events.counts
        outcome.rejected = after["rejected"] - before["rejected"]
        outcome.failed = after["failed"] - before["failed"]
        return outcome

    def _move(
        self, assoc: Any, model: Any, study: str, destination: str, outcome: PullOutcome
    ) -> None:
        from pydicom.dataset import Dataset

        query = Dataset()
        query.QueryRetrieveLevel = "STUDY"
        query.StudyInstanceUID = study
        last = None
        for status, _identifier in assoc.send_c_move(query, destination, model):
            if not status:
                outcome.problems.append("C-MOVE: no response from the PACS")
                return
            last = status
        if last is None:
            outcome.problems.append("C-MOVE: no response from the PACS")
            return
        code = int(last.Status)
        outcome.move_completed += int(last.get("NumberOfCompletedSuboperations", 0) or 0)
        outcome.move_failed += int(last.get("NumberOfFailedSuboperations", 0) or 0)
        outcome.move_warning += int(last.get("NumberOfWarningSuboperations", 0) or 0)
        if code not in (0x0000, 0xB000):
            outcome.problems.append(f"C-MOVE ended with status 0x{code:04X}")


def _find(assoc: Any, model: Any, level: str, **keys: str) -> Iterator[Any]:
    from pydicom.dataset import Dataset

    query = Dataset()
    query.QueryRetrieveLevel = level
    for name, value in keys.items():
        setattr(query, name, value)
    for name in {"STUDY": ("StudyInstanceUID",), "SERIES": ("SeriesInstanceUID",)}.get(
        level, ("SOPInstanceUID",)
    ):
        if name not in query:
            setattr(query, name, "")
    found = []
    for status, identifier in assoc.send_c_find(query, model):
        if not status:
            raise NetworkError("C-FIND: no response from the PACS")
        code = int(status.Status)
        if code in _PENDING:
            if identifier is not None:
                found.append(identifier)
        elif code == 0x0000:
            break
        else:
            raise NetworkError(f"C-FIND failed with status 0x{code:04X}")
    yield from found
