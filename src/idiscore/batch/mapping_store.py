"""The mapping file on disk: the (kind, original, pseudonym) table of a
:class:`~idiscore.pseudonyms.MappingRecorder`, as CSV (``.csv``) or SQLite (``.sqlite``,
``.db``; table ``mapping(kind, original, pseudonym)``).

:func:`write_mapping` replaces the file atomically (temporary file, fsync, rename, fsync of
the folder) and creates it readable and writable by its owner only: the table
re-identifies patients. :func:`read_mapping` loads it back, to merge with before writing
again. :mod:`idiscore.batch.mapping` keeps the file of a batch (and its journal) current.
"""

from __future__ import annotations

import contextlib
import csv
import os
import sqlite3
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from idiscore.batch.writer import fsync_folder
from idiscore.errors import ConfigurationError
from idiscore.pseudonyms import MappingRecorder

__all__ = ["MAPPING_COLUMNS", "mapping_format", "read_mapping", "write_mapping"]

#: The columns of a mapping file, in order.
MAPPING_COLUMNS = ("kind", "original", "pseudonym")
_RECORDER_COLUMNS = MAPPING_COLUMNS


def write_mapping(
    table: MappingRecorder | Iterable[tuple[str, str, str]], path: str | os.PathLike[str]
) -> Path:
    """Replace ``path`` atomically with all entries of ``table`` (a recorder or triples),
    as CSV (``.csv``) or SQLite (``.sqlite``/``.db``, table ``mapping(kind, original,
    pseudonym)``)."""
    target = Path(path)
    writer = _write_csv if _is_csv(target) else _write_sqlite
    entries = table.entries() if isinstance(table, MappingRecorder) else sorted(set(table))
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)  # mkstemp created it readable and writable by the owner only
    try:
        writer(temp, entries)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    fsync_folder(target.parent)
    return target


def read_mapping(path: str | os.PathLike[str]) -> MappingRecorder:
    """Load a file written by :func:`write_mapping`.

    Raises:
        ConfigurationError: the file cannot be read or is not a mapping file. The
            message never quotes its content.
    """
    target = Path(path)
    csv_format = _is_csv(target)
    try:
        rows = _read_csv(target) if csv_format else _read_sqlite(target)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read mapping file {os.fspath(path)!r}: {exc.strerror or exc}"
        ) from None
    except (UnicodeDecodeError, csv.Error, sqlite3.Error):
        rows = None
    if rows is None or any(len(row) != len(_RECORDER_COLUMNS) for row in rows):
        raise ConfigurationError(
            f"{os.fspath(path)!r} is not an idiscore mapping file "
            f"({'a CSV file with columns' if csv_format else 'a table mapping with'} "
            f"{', '.join(_RECORDER_COLUMNS)})"
        )
    return MappingRecorder((str(kind), str(original), str(new)) for kind, original, new in rows)


def mapping_format(path: str | os.PathLike[str]) -> str:
    """``"csv"`` or ``"sqlite"``, from the suffix of ``path``.

    Raises:
        ConfigurationError: the suffix is not ``.csv``, ``.sqlite`` or ``.db``.
    """
    return "csv" if _is_csv(Path(path)) else "sqlite"


def _is_csv(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".sqlite", ".db"):
        raise ConfigurationError(
            f"mapping file must end in .csv, .sqlite or .db: {os.fspath(path)!r}"
        )
    return suffix == ".csv"


def _read_csv(path: Path) -> list[list[str]] | None:
    with open(path, newline="", encoding="utf-8", errors="surrogatepass") as handle:
        rows = list(csv.reader(handle))
    if not rows or [cell.strip().lower() for cell in rows[0]] != list(_RECORDER_COLUMNS):
        return None
    return rows[1:]


def _read_sqlite(path: Path) -> list[Any]:
    if not path.is_file():
        raise FileNotFoundError(2, "No such file", os.fspath(path))
    uri = path.absolute().as_uri() + "?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
        return db.execute("SELECT kind, original, pseudonym FROM mapping").fetchall()


def _write_csv(path: str, entries: list[tuple[str, str, str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8", errors="surrogatepass") as handle:
        writer = csv.writer(handle)
        writer.writerow(_RECORDER_COLUMNS)
        writer.writerows(entries)
        handle.flush()
        os.fsync(handle.fileno())


def _write_sqlite(path: str, entries: list[tuple[str, str, str]]) -> None:
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute(
            "CREATE TABLE mapping (kind TEXT NOT NULL, original TEXT NOT NULL, "
            "pseudonym TEXT NOT NULL, PRIMARY KEY (kind, original, pseudonym))"
        )
        db.executemany("INSERT INTO mapping VALUES (?, ?, ?)", entries)
        db.commit()
