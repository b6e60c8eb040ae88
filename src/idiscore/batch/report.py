"""The JSON-lines report of a batch, and what a resumed run learns from it.

One line per input, in input order, written once the input is finished and its output is
on disk (with the default durability policy the lines come in groups, each after its
outputs were fsynced; see :mod:`idiscore.batch.durability`), so the report of an
interrupted run is valid up to its last complete line and every ``done`` line names a
complete output. Fields:

``status``        ``done`` | ``rejected`` | ``skipped`` | ``failed``
``reason``        why it was not done (empty when done); never an element value
``input``         absolute path of the input file
``output``        absolute path of the written file (``null`` unless done)
``input_bytes``   size of the input file
``output_bytes``  size of the written file (``null`` unless done)
``seconds``       processing time of this input
``bouncer``       (rejected only) the bouncer that refused the dataset
``warnings``      (only when > 0) how many reading/writing warnings were silenced
``key``           fingerprint of the pseudonymization key (not the key) for done lines
``input_fs``      (only for a path that is not valid UTF-8) the path's bytes, in base64;
``output_fs``     ``input``/``output`` then hold a readable form (``\\xff`` for a byte that
                  is not UTF-8) and ``path_encoding`` says ``"base64 of the file system
                  bytes"``; :func:`report_path` returns the exact path either way

``input`` is the entry's folder with symbolic links resolved, joined with its name (see
:class:`~idiscore.batch.sources.Candidate`), so a resumed run recognises an input however
it is spelled.

A resumed run skips every input whose most recent line is final: ``done``, ``rejected`` or
``skipped`` -- and ``failed``, unless it retries failed inputs (``retry_failed``); a line
cut short by a crash is removed before new lines are appended.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from idiscore.errors import ConfigurationError, StorageError

__all__ = [
    "STATUSES",
    "DigestSet",
    "FileResult",
    "ReportWriter",
    "ResumeState",
    "load_resume_state",
    "path_digest",
    "read_report",
    "report_path",
]

#: Every status a report line can have, in display order.
STATUSES = ("done", "rejected", "skipped", "failed")


@dataclass
class FileResult:
    """The outcome of one input."""

    status: str
    input: str
    reason: str = ""
    output: str | None = None
    input_bytes: int | None = None
    output_bytes: int | None = None
    seconds: float = 0.0
    bouncer: str | None = None
    warnings: int = 0
    key: str | None = None
    #: what text detection found (frames, boxes and their coordinates; never the text)
    pixels: dict[str, Any] | None = None
    #: where a worker wrote the new file before the batch commits it (never reported)
    temp: str | None = field(default=None, repr=False)
    #: the (kind, original, pseudonym) entries used for this file, when the batch records
    #: a mapping; consumed by the batch, never reported (the originals are PHI)
    mapping: list[tuple[str, str, str]] | None = field(default=None, repr=False)

    def to_json(self) -> str:
        record: dict[str, Any] = {
            "status": self.status,
            "reason": _text(self.reason),
            "input": _text(self.input),
            "output": None if self.output is None else _text(self.output),
            "input_bytes": self.input_bytes,
            "output_bytes": self.output_bytes,
            "seconds": round(self.seconds, 6),
        }
        for name in ("input", "output"):
            value = getattr(self, name)
            if value is not None and record[name] != value:  # not valid UTF-8: lossless too
                record[f"{name}_fs"] = base64.b64encode(os.fsencode(value)).decode("ascii")
                record["path_encoding"] = PATH_ENCODING
        if self.bouncer is not None:
            record["bouncer"] = self.bouncer
        if self.warnings:
            record["warnings"] = self.warnings
        if self.key is not None:
            record["key"] = self.key
        if self.pixels is not None:
            record["pixels"] = self.pixels
        return json.dumps(record, ensure_ascii=False)


#: what ``path_encoding`` says in a line with ``input_fs`` or ``output_fs``
PATH_ENCODING = "base64 of the file system bytes"


def _text(value: str) -> str:
    """``value`` writable as UTF-8: a byte that is not UTF-8 (kept by the file system
    encoding as a lone surrogate) becomes ``\\xNN``."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return value


def report_path(record: dict[str, Any], name: str = "input") -> str | None:
    """The exact path a report line holds in field ``name`` (``input`` or ``output``),
    also when it is not valid UTF-8 (see the module docs)."""
    raw = record.get(f"{name}_fs")
    if isinstance(raw, str):
        return os.fsdecode(base64.b64decode(raw))
    value = record.get(name)
    return None if value is None else str(value)


def path_digest(path: str) -> bytes:
    """A compact, fixed-size stand-in for a path in the sets a resumed run keeps."""
    return hashlib.blake2b(path.encode("utf-8", "surrogateescape"), digest_size=16).digest()


class DigestSet:
    """A set of :func:`path_digest` values that takes about 16 bytes a digest.

    A batch remembers a digest for every output it writes (and a resumed one for every
    input and output done before): in a Python set a 16-byte digest costs about 90 bytes,
    90 MB a million files. Here up to :attr:`RECENT` digests are in a set and the others
    in two ``uint64`` arrays (the digest's halves) sorted by the first half, into which
    the recent ones are merged (one copy of the arrays) when there are that many: adding
    and looking up take a few microseconds, and ten million digests about 165 MB.
    """

    #: digests kept in a set before they are merged into the arrays
    RECENT = 1 << 16

    def __init__(self, digests: Iterable[bytes] = ()) -> None:
        self._recent: set[bytes] = set()
        self._high = np.empty(0, dtype=np.uint64)
        self._low = np.empty(0, dtype=np.uint64)
        for digest in digests:
            self.add(digest)

    def add(self, digest: bytes) -> None:
        if len(digest) != 16:
            raise ValueError("a path digest has 16 bytes")
        if digest in self:
            return
        self._recent.add(digest)
        if len(self._recent) >= self.RECENT:
            self._merge()

    def __contains__(self, digest: object) -> bool:
        if not isinstance(digest, bytes) or len(digest) != 16:
            return False
        if digest in self._recent:
            return True
        if not len(self._high):
            return False
        high = int.from_bytes(digest[:8], "big")
        index = int(self._high.searchsorted(np.uint64(high)))
        if index == len(self._high) or int(self._high[index]) != high:
            return False
        # every digest with this first half (one, but for a very rare coincidence)
        low = int.from_bytes(digest[8:], "big")
        while index < len(self._high) and int(self._high[index]) == high:
            if int(self._low[index]) == low:
                return True
            index += 1
        return False

    def __len__(self) -> int:
        return len(self._recent) + len(self._high)

    @property
    def nbytes(self) -> int:
        """About the memory the digests take (the arrays, and the recent ones in their set)."""
        return self._high.nbytes + self._low.nbytes + 90 * len(self._recent)

    @classmethod
    def from_halves(
        cls, high: np.ndarray[Any, Any], low: np.ndarray[Any, Any], *, unique: bool = False
    ) -> DigestSet:
        """The set of the digests whose first and second halves (as big-endian integers)
        are ``high[i]`` and ``low[i]``, built without a Python object per digest.

        With ``unique`` the caller promises the pairs are distinct and sorted already.
        """
        if unique:
            high, low = high.astype(np.uint64), low.astype(np.uint64)
        else:
            high, low = _unique_pairs(high, low)
        digests = cls()
        digests._high, digests._low = high, low
        return digests

    def _merge(self) -> None:
        halves = np.frombuffer(b"".join(self._recent), dtype=">u8").reshape(-1, 2)
        high = halves[:, 0].astype(np.uint64)
        order = np.argsort(high, kind="stable")
        high, low = high[order], halves[order, 1].astype(np.uint64)
        at = np.searchsorted(self._high, high)
        self._high = np.insert(self._high, at, high)
        self._low = np.insert(self._low, at, low)
        self._recent = set()


def _unique_pairs(
    high: np.ndarray[Any, Any], low: np.ndarray[Any, Any]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The distinct (high, low) pairs, sorted by high then low, as two ``uint64`` arrays."""
    high = np.asarray(high, dtype=np.uint64)
    low = np.asarray(low, dtype=np.uint64)
    order = np.lexsort((low, high))
    high, low = high[order], low[order]
    first = np.ones(len(high), dtype=bool)
    first[1:] = _differs_from_previous(high, low)
    return high[first], low[first]


def _differs_from_previous(high: np.ndarray[Any, Any], low: np.ndarray[Any, Any]) -> Any:
    """For pairs sorted by (high, low): whether each pair but the first differs from the
    one before it."""
    return (high[1:] != high[:-1]) | (low[1:] != low[:-1])


def read_report(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The complete lines of a report, parsed (a trailing partial line is ignored).

    Raises:
        ConfigurationError: the file is not an idiscore report.
    """
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, generator
    except OSError as exc:
        raise ConfigurationError(f"cannot read report {os.fspath(path)!r}: {exc}") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                return  # cut short by a crash
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                raise ConfigurationError(
                    f"{os.fspath(path)!r} line {number} is not JSON: not an idiscore report"
                ) from None
            if not isinstance(record, dict) or "status" not in record or "input" not in record:
                raise ConfigurationError(
                    f"{os.fspath(path)!r} line {number} is not an idiscore report line"
                )
            yield record


@dataclass
class ResumeState:
    """What a resumed run needs from an earlier report: which inputs are done already,
    which outputs they claimed, and which keys wrote them. Paths are kept as digests."""

    done_inputs: DigestSet = field(default_factory=DigestSet)
    done_outputs: DigestSet = field(default_factory=DigestSet)
    keys: set[str] = field(default_factory=set)
    #: inputs whose latest line is final (done, rejected, skipped; failed unless retried)
    finished: DigestSet = field(default_factory=DigestSet)

    def is_done(self, input_path: str) -> bool:
        return path_digest(input_path) in self.done_inputs

    def is_finished(self, input_path: str) -> bool:
        """True if a resumed run leaves this input alone (it has a final line)."""
        return path_digest(input_path) in self.finished


_VERDICTS = {"done": 1, "rejected": 3, "skipped": 4, "failed": 5}


def load_resume_state(path: str | os.PathLike[str], *, retry_failed: bool = False) -> ResumeState:
    """Read a report (missing: nothing done yet) into a :class:`ResumeState`.

    The latest line of each input decides. A report may have millions of lines: while it
    is read, each line is kept as two digests in flat buffers (33 bytes), and the latest
    line of every input is then found by sorting them, not in a dictionary. With
    ``retry_failed`` an input whose latest line says ``failed`` is not finished.
    """
    state = ResumeState()
    if not os.path.exists(path):
        return state
    # per line: the input's digest, its output's digest (zeros when none) and what it says
    # (0: unknown status, 1: done without an output, 2: done with an output, 3: rejected,
    # 4: skipped, 5: failed)
    inputs, outputs, verdicts = bytearray(), bytearray(), bytearray()
    no_output = bytes(16)
    for record in read_report(path):
        done = record["status"] == "done"
        output = report_path(record, "output")
        inputs += path_digest(report_path(record, "input") or "")
        outputs += path_digest(output) if done and output else no_output
        code = _VERDICTS.get(str(record["status"]), 0)
        verdicts.append(2 if done and output else code)
        if done and record.get("key"):
            state.keys.add(str(record["key"]))
    if not verdicts:
        return state
    # digests as (first half, second half) rows of big-endian uint64
    in_high, in_low = np.frombuffer(inputs, dtype=">u8").reshape(-1, 2).T
    verdict = np.frombuffer(verdicts, dtype=np.uint8)
    # the last line of every input: sorted by input digest (a stable sort: the lines of an
    # input stay in report order); the last lines come out sorted by digest, each once
    order = np.lexsort((in_low, in_high))
    last = np.ones(len(order), dtype=bool)
    last[:-1] = _differs_from_previous(in_high[order], in_low[order])
    latest = order[last]
    del order, last
    latest_verdict = verdict[latest]
    done = latest[(latest_verdict == 1) | (latest_verdict == 2)]
    state.done_inputs = DigestSet.from_halves(in_high[done], in_low[done], unique=True)
    final = (latest_verdict > 0) & ((latest_verdict != 5) | (not retry_failed))
    finished = latest[final]
    state.finished = DigestSet.from_halves(in_high[finished], in_low[finished], unique=True)
    del done, finished, in_high, in_low, inputs
    written = latest[verdict[latest] == 2]
    out_high, out_low = np.frombuffer(outputs, dtype=">u8").reshape(-1, 2).T
    state.done_outputs = DigestSet.from_halves(out_high[written], out_low[written])
    return state


class ReportWriter:
    """Appends report lines, each batch of lines with one unbuffered write; truncates a
    partial last line first. A write the file system refuses (a full disk) is taken
    back whole, so the report never ends in half a line."""

    def __init__(self, path: str | os.PathLike[str], *, append: bool) -> None:
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        if append and self.path.exists():
            _drop_partial_line(self.path)
        self._handle: IO[bytes] | None = open(  # noqa: SIM115 - closed in close()
            self.path, "ab" if append else "wb", buffering=0
        )

    def write(self, result: FileResult) -> None:
        self._append((result.to_json() + "\n").encode("utf-8"), sync=False)

    def write_many(self, results: Iterable[FileResult]) -> None:
        """Append several lines with one write, then fsync the report."""
        data = "".join(result.to_json() + "\n" for result in results).encode("utf-8")
        self._append(data, sync=True)

    def _append(self, data: bytes, *, sync: bool) -> None:
        if self._handle is None:
            raise ValueError("the report is closed")
        fd = self._handle.fileno()
        start = os.lseek(fd, 0, os.SEEK_END)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if sync:
                os.fsync(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise StorageError(
                exc.errno,
                f"cannot write the report {os.fspath(self.path)!r}: "
                f"{exc.strerror or type(exc).__name__}",
            ) from None

    def close(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None

    def __enter__(self) -> ReportWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _drop_partial_line(path: Path) -> None:
    """Cut the file after its last newline (a crash may have left half a line)."""
    with open(path, "rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return
        position = size
        chunk = 4096
        while position > 0:
            start = max(0, position - chunk)
            handle.seek(start)
            data = handle.read(position - start)
            if position == size and data.endswith(b"\n"):
                return
            index = data.rfind(b"\n")
            if index >= 0:
                handle.truncate(start + index + 1)
                return
            position = start
        handle.truncate(0)
