"""Inputs and outputs as fsspec URLs: object stores (``s3://``, ``gs://``, ``memory://``...).

A batch whose inputs or output include a URL with a scheme other than ``file://`` runs in
*object-store mode* (:class:`RemoteBatch`); ``file://`` URLs are plain local paths and take
the local route (atomic renames, fsync). In object-store mode:

* *Discovery*: a URL naming a "folder" (a prefix) is listed recursively, sorted; a URL with
  glob wildcards is expanded; the mirror layout places each object relative to the given
  prefix. Local inputs are discovered as usual.
* *Reading*: a worker reads the whole object into memory (no deferred reads), then sniffs,
  reads and de-identifies it like a local file.
* *Writing, atomically where the store allows*: the worker writes the complete output to a
  temporary object next to its final name (``.idiscore-<token>.tmp``); the main process
  commits it with the store's move. On a file system the move is a rename; on S3 and GCS it
  is a server-side copy (an object becomes visible only complete) and a delete, so a reader
  never sees a partial output under its final name. Temporary objects an interrupted run
  left are removed when it is resumed.
* *Resume* uses the local report as always: the input and output URLs are its keys.
* Not supported (refused before anything is written): ``quarantine`` with URL inputs.
  ``memory://`` exists once per process: it only works with one worker (``workers=1``).

Credentials and endpoints come from the store's usual configuration (for S3: the
``AWS_*`` environment variables or ``~/.aws``, ``AWS_ENDPOINT_URL``; or fsspec's
``FSSPEC_S3_*`` variables), on the machine that runs the batch and on every worker.
"""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from idiscore.batch.report import FileResult
from idiscore.batch.sources import SNIFF_BYTES, discover, sniff_head
from idiscore.batch.writer import is_temp_name, new_temp_name, output_path, write_dataset
from idiscore.errors import (
    ConfigurationError,
    InputError,
    MissingDependencyError,
)
from idiscore.fileio import read_counting_warnings

if TYPE_CHECKING:
    from idiscore.batch.tasks import BatchOptions, Task

__all__ = [
    "RemoteBatch",
    "discard_remote",
    "is_url",
    "local_path",
    "process_remote",
    "read_input",
    "remote_batch",
]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_GLOB_CHARS = frozenset("*?[")


def is_url(text: str | os.PathLike[str]) -> bool:
    """True for ``scheme://...`` (any scheme, ``file://`` included)."""
    return isinstance(text, str) and _URL.match(text) is not None


def local_path(text: str | os.PathLike[str]) -> str | os.PathLike[str]:
    """A ``file://`` URL as a local path; anything else unchanged."""
    if isinstance(text, str) and text.lower().startswith("file://"):
        return text[len("file://") :] or "/"
    return text


def _is_remote(text: str | os.PathLike[str]) -> bool:
    return is_url(text) and not str(text).lower().startswith("file://")


def _fsspec() -> Any:
    try:
        import fsspec
    except ImportError as exc:
        raise MissingDependencyError(
            "object-store URLs need fsspec (and s3fs for s3://): pip install 'idiscore[s3]'"
        ) from exc
    return fsspec


def _filesystem(url: str) -> tuple[Any, str]:
    """The fsspec file system of ``url`` and the path within it.

    Raises:
        MissingDependencyError: fsspec or the store's package (e.g. s3fs) is missing.
    """
    fsspec = _fsspec()
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except ImportError as exc:
        raise MissingDependencyError(
            f"no fsspec implementation for {url.split('://')[0]}:// is installed "
            "(for s3://: pip install 'idiscore[s3]')"
        ) from exc
    return fs, str(path)


def remote_batch(
    inputs: list[str | os.PathLike[str]], options: BatchOptions
) -> RemoteBatch | None:
    """The object-store side of a batch, or None when every input and the output are local
    paths (``file://`` URLs included)."""
    if not _is_remote(options.output) and not any(_is_remote(item) for item in inputs):
        return None
    return RemoteBatch(inputs, options)


class RemoteBatch:
    """What a batch in object-store mode does differently (see the module docs)."""

    def __init__(self, inputs: list[str | os.PathLike[str]], options: BatchOptions) -> None:
        self.inputs = [local_path(item) for item in inputs]
        self.output = str(local_path(os.fspath(options.output)))
        if options.quarantine is not None and any(_is_remote(i) for i in self.inputs):
            raise ConfigurationError("a quarantine folder is not supported with URL inputs")
        if not is_url(self.output):
            self.output = "file://" + os.path.abspath(self.output)
        self.fs, self.root = _filesystem(self.output)
        self.local_output = not _is_remote(self.output)

    def check(self) -> None:
        """Refuse an output inside (or equal to) an input, and inputs that do not exist.

        Raises:
            ConfigurationError: the output lies below an input.
            InputError: an input (not a glob pattern) does not exist.
        """
        output = self.fs.unstrip_protocol(self.root).rstrip("/") + "/"
        for item in self.inputs:
            if not is_url(item):
                if not any(c in _GLOB_CHARS for c in os.fspath(item)) and not os.path.lexists(
                    item
                ):
                    raise InputError(f"input {os.fspath(item)!r} does not exist")
                continue
            fs, path = _filesystem(str(item))
            base = fs.unstrip_protocol(path).rstrip("/") + "/"
            if output.startswith(base) or base.startswith(output):
                raise ConfigurationError(
                    "the output must not be inside an input, nor an input inside the output"
                )

    def output_url(self) -> str:
        """The output root as a URL (``file://`` for a local folder)."""
        return str(self.fs.unstrip_protocol(self.root))

    def synced_path(self, output: str | None) -> str | None:
        """The local path of an output on this machine's disk (for the fsync before its
        report line), or None for an object in a store."""
        if output is None or not self.local_output:
            return None
        return str(local_path(output))

    def make_committer(self, options: BatchOptions, state: Any, mapping: Any) -> Any:
        """The batch's committer for object-store outputs."""
        from idiscore.batch.committer import Committer

        class _RemoteCommitter(Committer):
            """Commits with fsspec: the move is a rename, or a server-side copy and a
            delete: the final object appears complete or not at all."""

            _unclaimed = "an object"

            def _exists(self, output: str) -> bool:
                fs, path = _filesystem(output)
                return bool(fs.exists(path))

            def _same(self, output: str, temp: str) -> bool:
                fs, path = _filesystem(output)
                temp_fs, temp_path = _filesystem(temp)
                return bool(fs.cat_file(path) == temp_fs.cat_file(temp_path))

            def _discard(self, temp: str | None) -> None:
                discard_remote(temp)

            def _move(self, temp: str, output: str) -> None:
                fs, path = _filesystem(output)
                fs.mv(_filesystem(temp)[1], path)

        return _RemoteCommitter(
            resume=options.resume,
            fsync=options.fsync == "each",
            quarantine=options.quarantine,
            state=state,
            mapping=mapping,
        )

    def sweep(self) -> int:
        """Remove the temporary objects an interrupted run left below the output."""
        removed = 0
        try:
            names = self.fs.find(self.root)
        except FileNotFoundError:
            return 0
        for name in names:
            # only names this tool made (their mark checks out), never a user's object
            if is_temp_name(posixpath.basename(name)):
                with contextlib.suppress(FileNotFoundError):
                    self.fs.rm_file(name)
                removed += 1
        return removed

    def discover(self) -> Iterator[tuple[str, str, str | None]]:
        """``(path or URL, relative path, error)`` of every input, in a stable order."""
        for item in self.inputs:
            if not is_url(item):
                for candidate in discover([item]):
                    yield str(candidate.path), str(candidate.relative), candidate.error
                continue
            fs, path = _filesystem(str(item))
            if any(c in _GLOB_CHARS for c in path):
                fixed = path.split("*")[0].split("?")[0].split("[")[0]
                root = fixed.rsplit("/", 1)[0] if "/" in fixed else ""
                names = sorted(fs.glob(path))
            elif fs.isdir(path):
                root = path.rstrip("/")
                names = sorted(fs.find(root))
            elif fs.exists(path):
                root = posixpath.dirname(path.rstrip("/"))
                names = [path]
            else:
                raise InputError(f"input {item!r} does not exist")
            for name in names:
                if fs.isdir(name):
                    continue
                relative = posixpath.relpath(name, root) if root else name
                yield fs.unstrip_protocol(name), relative, None


def read_input(url: str) -> bytes:
    """The whole content of an input (a local path or a URL).

    Raises:
        OSError: it cannot be read.
    """
    if not is_url(url):
        with open(url, "rb") as handle:
            return handle.read()
    fs, path = _filesystem(url)
    data: bytes = fs.cat_file(path)
    return data


def process_remote(processor: Any, task: Task, result: FileResult) -> None:
    """:meth:`FileProcessor._process` in object-store mode: the input is read whole and
    the output written to a temporary object next to its final name, with fsspec."""
    from idiscore.batch.reasons import _describe
    from idiscore.batch.tasks import deidentify_input

    if task.error is not None:
        result.reason = task.error
        return
    try:
        data = read_input(task.path)
    except (OSError, ValueError) as exc:
        result.reason = f"cannot read file: {_describe(exc)}"
        return
    result.input_bytes = len(data)
    sniffed = sniff_head(data[:SNIFF_BYTES], len(data))
    if not sniffed.is_dicom:
        result.status, result.reason = "skipped", sniffed.reason
        return
    try:
        dataset, read_warnings = read_counting_warnings(
            io.BytesIO(data), defer_size=None, force=not sniffed.has_preamble, describe=_describe
        )
    except InputError as exc:
        result.reason = str(exc)
        return
    del data
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        deidentified = deidentify_input(processor.core, dataset, result)
        if deidentified is None:
            return
        del dataset
        fs, root = _filesystem(processor.url)
        destination = output_path(
            deidentified, Path(task.relative), Path(root), processor.layout
        ).as_posix()
        temp = posixpath.join(posixpath.dirname(destination), new_temp_name())
        try:
            buffer = io.BytesIO()
            write_dataset(deidentified, buffer)
            fs.makedirs(posixpath.dirname(destination), exist_ok=True)
            fs.pipe_file(temp, buffer.getvalue())
        except Exception as exc:
            result.reason = f"cannot write output: {_describe(exc)}"
            return
    result.warnings += read_warnings + len(caught)
    result.status = "done"
    result.output = fs.unstrip_protocol(destination)
    result.output_bytes = buffer.tell()
    result.temp = fs.unstrip_protocol(temp)
    result.key = processor.key


def discard_remote(temp: str | None) -> None:
    """Remove a temporary object if it exists (errors ignored: a resumed run sweeps it)."""
    if temp is None:
        return
    with contextlib.suppress(OSError):
        fs, path = _filesystem(temp)
        fs.rm_file(path)
