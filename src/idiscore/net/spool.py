"""The node's on-disk state: what was acknowledged, what waits to be forwarded, what failed.

The spool folder is the only memory of the node; a restart after ``kill -9`` (or a power
failure) reads everything it needs from it::

    SPOOL/
      tmp/                 received bytes being written (removed on start)
      incoming/KEY.dcm     acknowledged instances, as received, not yet de-identified
      outbound/KEY.dcm     de-identified instances waiting to be forwarded
      outbound/KEY.fail    how often forwarding KEY failed, and why (JSON)
      forwarded.log        "KEY INODE MTIME_NS" of files the destination acknowledged
      quarantine/rejected/KEY.dcm (+ .json)  refused by a bouncer (the original)
      quarantine/failed/KEY.dcm (+ .json)    could not be de-identified (the original)
      quarantine/unsent/KEY.dcm (+ .json)    forwarding failed too often (de-identified)

``KEY`` is derived from the received SOP Instance UID (a digest, so file names hold no
identifier): a second reception of an instance replaces the first one, and the
destination receives the latest version once.

Every move between these states is one :func:`os.replace` on one file system, with the
file fsynced before and its folder after: an instance is always in exactly one state.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from idiscore.batch.writer import discard, fsync_folder, fsync_path

__all__ = ["QUARANTINE_KINDS", "Spool", "instance_key"]

#: the quarantine sub-folders: refused by a bouncer, not de-identified, not forwarded
QUARANTINE_KINDS = ("rejected", "failed", "unsent")


def instance_key(sop_instance_uid: str) -> str:
    """The spool name of an instance: a digest of its (original) SOP Instance UID."""
    text = sop_instance_uid.strip(" \x00")
    return hashlib.blake2b(text.encode("ascii", "replace"), digest_size=16).hexdigest()


def _stamp(path: Path) -> str | None:
    """Identifies one version of a file: a rewrite (temp file + rename) gets a new inode."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return f"{stat.st_ino} {stat.st_mtime_ns}"


class Spool:
    """The folders of one node; creates them, and sweeps what a killed run left half done."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()
        self.tmp = self.root / "tmp"
        self.incoming = self.root / "incoming"
        self.outbound = self.root / "outbound"
        self.quarantine = self.root / "quarantine"
        self.journal = self.root / "forwarded.log"
        for folder in (self.tmp, self.incoming, self.outbound, self.quarantine):
            folder.mkdir(parents=True, exist_ok=True)
        for kind in QUARANTINE_KINDS:
            (self.quarantine / kind).mkdir(exist_ok=True)
        fsync_folder(self.root)
        self._counter = itertools.count(1)  # next() is atomic: receptions run in threads

    # -- receiving ---------------------------------------------------------------------

    def receive(self, key: str, data: bytes | Iterable[bytes]) -> Path:
        """Store received bytes durably as ``incoming/KEY.dcm``; return its path.

        When this returns, the file and its name are on the disk: Success may be answered.
        """
        temp = self.tmp / f"{key}.{os.getpid()}.{next(self._counter)}.part"
        try:
            with open(temp, "wb") as handle:
                if isinstance(data, bytes | bytearray | memoryview):
                    handle.write(data)
                else:
                    for chunk in data:
                        handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            destination = self.incoming / f"{key}.dcm"
            os.replace(temp, destination)
        except BaseException:
            discard(temp)
            raise
        fsync_folder(self.incoming)
        return destination

    def sweep(self) -> int:
        """Remove partial receptions and temporary files of a killed run; count them."""
        removed = 0
        for folder in (self.tmp, self.incoming, self.outbound):
            for path in folder.iterdir():
                if path.name.endswith((".part", ".tmp")):
                    discard(path)
                    removed += 1
        return removed

    def pending_incoming(self) -> list[str]:
        """Keys received but not yet de-identified, oldest first."""
        return _keys_by_age(self.incoming)

    def pending_outbound(self) -> list[str]:
        """Keys de-identified but not yet forwarded, oldest first."""
        return _keys_by_age(self.outbound)

    def incoming_path(self, key: str) -> Path:
        return self.incoming / f"{key}.dcm"

    def outbound_path(self, key: str) -> Path:
        return self.outbound / f"{key}.dcm"

    def finish_incoming(self, key: str, stamp: str | None = None, *, sync: bool = True) -> None:
        """Forget a received file once its de-identified result is durable.

        With ``stamp`` (see :func:`_stamp`) the file is removed only if it is still that
        version: a newer reception of the same instance waits for its own turn.
        """
        path = self.incoming_path(key)
        if stamp is not None and _stamp(path) != stamp:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        if sync:  # else the caller syncs the folder once for a group
            fsync_folder(self.incoming)

    def stamp(self, path: Path) -> str | None:
        return _stamp(path)

    # -- quarantine ----------------------------------------------------------------------

    def quarantine_file(self, source: Path, key: str, kind: str, record: dict[str, Any]) -> Path:
        """Move ``source`` to ``quarantine/KIND/KEY.dcm`` with ``record`` beside it (JSON).

        The reason file is written first: a quarantined file always has one.
        """
        if kind not in QUARANTINE_KINDS:
            raise ValueError(f"unknown quarantine kind {kind!r}")
        folder = self.quarantine / kind
        _write_json(folder / f"{key}.json", record)
        destination = folder / f"{key}.dcm"
        fsync_path(source)
        os.replace(source, destination)
        fsync_folder(folder)
        fsync_folder(source.parent)
        return destination

    # -- forwarding ----------------------------------------------------------------------

    def failures(self, key: str) -> tuple[int, str]:
        """How often forwarding ``key`` failed, and the last reason."""
        try:
            record = json.loads((self.outbound / f"{key}.fail").read_text("utf-8"))
            return int(record["failures"]), str(record["reason"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0, ""

    def record_failure(self, key: str, failures: int, reason: str) -> None:
        _write_json(self.outbound / f"{key}.fail", {"failures": failures, "reason": reason})

    def clear_failures(self, key: str) -> None:
        discard(self.outbound / f"{key}.fail")

    def load_forwarded(self) -> set[str]:
        """The journal's "KEY STAMP" entries (a line cut short by a crash is ignored)."""
        try:
            text = self.journal.read_text("ascii", errors="replace")
        except FileNotFoundError:
            return set()
        lines = text.split("\n")
        if not text.endswith("\n"):
            lines = lines[:-1]
        return {line for line in lines if line.count(" ") == 2}

    def resolve_forwarded(self) -> int:
        """After a restart: remove the outbound files the journal says were forwarded;
        then empty the journal. Returns how many were removed."""
        entries = self.load_forwarded()
        removed = 0
        for key in self.pending_outbound():
            path = self.outbound_path(key)
            if f"{key} {_stamp(path)}" in entries:
                discard(path)
                self.clear_failures(key)
                removed += 1
        fsync_folder(self.outbound)
        with open(self.journal, "w", encoding="ascii") as handle:
            handle.flush()
            os.fsync(handle.fileno())
        return removed


def _keys_by_age(folder: Path) -> list[str]:
    entries = []
    for path in folder.iterdir():
        if path.suffix == ".dcm":
            with contextlib.suppress(OSError):
                entries.append((path.stat().st_mtime_ns, path.stem))
    return [key for _, key in sorted(entries)]


def _write_json(path: Path, record: dict[str, Any]) -> None:
    temp = path.with_name(path.name + ".tmp")
    try:
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(record, handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        discard(temp)
        raise
    fsync_folder(path.parent)


class ForwardJournal:
    """Appends "KEY STAMP" lines for files the destination acknowledged (then fsyncs)."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self._handle = open(spool.journal, "a", encoding="ascii")  # noqa: SIM115

    def record(self, entries: Iterable[tuple[str, str]]) -> None:
        lines = "".join(f"{key} {stamp}\n" for key, stamp in entries)
        if lines:
            self._handle.write(lines)
            self._handle.flush()
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()
