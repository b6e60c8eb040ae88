"""The crosswalk: externally assigned pseudonyms that take precedence over the keyed
derivation of :class:`~idiscore.pseudonyms.Pseudonymizer`.

A data custodian who already assigned study IDs, names or UIDs lists them here; the
pseudonymizer asks the crosswalk first and derives only what it does not list. The table
is read (and checked) once, when it is loaded; a bad entry is a ConfigurationError that
never quotes the entry's values (they are PHI).

:func:`is_valid_uid` is defined here, where values from outside are checked, and
re-exported by :mod:`idiscore.pseudonyms` (whose derivation imports this module).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Mapping

from idiscore.errors import ConfigurationError

__all__ = ["Crosswalk", "is_valid_uid"]

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_UID_RE = re.compile(r"(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*\Z")
_UID_MAX = 64  # characters of a UI value (PS3.5 Table 6.2-1)


def is_valid_uid(value: str) -> bool:
    """Whether ``value`` is a valid DICOM UID (digits and dots, no leading zeros, <= 64)."""
    return len(value) <= _UID_MAX and _UID_RE.match(value) is not None


def _strip(value: str) -> str:
    return value.strip(" \x00")


def _lo_problem(value: str) -> str | None:
    if len(value) > 64:
        return "longer than 64 characters"
    if "\\" in value or _CONTROL_RE.search(value):
        return "contains a backslash or control character"
    return None


def _pn_problem(value: str) -> str | None:
    if "\\" in value or _CONTROL_RE.search(value):
        return "contains a backslash or control character"
    if any(len(group) > 64 for group in value.split("=")) or value.count("=") > 2:
        return "is not a valid person name (at most 3 groups of 64 characters)"
    return None


def _uid_problem(value: str) -> str | None:
    return None if is_valid_uid(value) else "is not a valid UID"


_CROSSWALK_CHECKS: dict[str, Callable[[str], str | None]] = {
    "uid": _uid_problem,
    "patient_id": _lo_problem,
    "patient_name": _pn_problem,
}


class Crosswalk:
    """An external table of pseudonyms that overrides the keyed derivation.

    :meth:`from_csv` reads a UTF-8 CSV file (a byte-order mark is fine) whose header is either

    * ``kind,original,pseudonym`` (any column order, extra columns ignored), with ``kind`` one
      of ``patient_id`` (original ID -> new ID), ``patient_name`` (original **patient ID** ->
      new patient name) and ``uid`` (original UID -> new UID); or
    * ``original_patient_id,new_patient_id[,new_patient_name]`` (an empty name maps no name).

    Cells are stripped of surrounding spaces; blank lines are skipped. New UIDs must be valid
    UIDs and unique, new IDs valid LO and names valid PN. An original listed twice with
    different pseudonyms is a ConfigurationError naming both lines. Messages never quote cell
    values (they are PHI).
    """

    def __init__(
        self,
        *,
        uids: Mapping[str, str] | None = None,
        patient_ids: Mapping[str, str] | None = None,
        patient_names: Mapping[str, str] | None = None,
    ) -> None:
        self._tables: dict[str, dict[str, str]] = {kind: {} for kind in _CROSSWALK_CHECKS}
        self._new_uids: set[str] = set()
        for kind, table in (("uid", uids), ("patient_id", patient_ids)):
            for original, new in (table or {}).items():
                self._add(kind, original, new, "")
        for original, new in (patient_names or {}).items():
            self._add("patient_name", original, new, "")

    def _add(self, kind: str, original: str, new: str, where: str) -> None:
        original, new = _strip(original), _strip(new)
        table = self._tables[kind]
        if not original or not new:
            problem: str | None = "has an empty original or pseudonym"
        elif table.get(original, new) != new:
            problem = "maps an original that already has a different pseudonym"
        elif kind == "uid" and original not in table and new in self._new_uids:
            problem = "reuses a new UID already given to another original"
        else:
            problem = _CROSSWALK_CHECKS[kind](new)
        if problem is not None:
            raise ConfigurationError(f"crosswalk{where}: {kind} entry {problem}")
        table[original] = new
        if kind == "uid":
            self._new_uids.add(new)

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str]) -> Crosswalk:
        """Read a crosswalk CSV file (format in the class docstring)."""
        name = os.fspath(path)
        crosswalk = cls()
        seen: dict[tuple[str, str], int] = {}
        try:
            with open(name, newline="", encoding="utf-8-sig") as handle:
                reader = csv.reader(handle)
                header = [h.strip().lower() for h in next(reader, [])]
                columns = _crosswalk_columns(header, name)
                for row in reader:
                    if not any(cell.strip() for cell in row):
                        continue
                    line = reader.line_num
                    row += [""] * (len(header) - len(row))  # a missing cell is an empty one
                    for kind, original, new in _crosswalk_entries(row, columns, name, line):
                        first = seen.setdefault((kind, _strip(original)), line)
                        where = f" {name!r}, line {line}"
                        if first != line:
                            where += f" (first listed on line {first})"
                        crosswalk._add(kind, original, new, where)
        except OSError as exc:
            raise ConfigurationError(f"cannot read crosswalk {name!r}: {exc}") from None
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ConfigurationError(
                f"crosswalk {name!r} is not a UTF-8 CSV file: {exc}"
            ) from None
        return crosswalk

    def uid(self, original: str) -> str | None:
        """The new UID for ``original``, or None."""
        return self._tables["uid"].get(_strip(original))

    def patient_id(self, original: str) -> str | None:
        """The new patient ID for ``original``, or None."""
        return self._tables["patient_id"].get(_strip(original))

    def patient_name(self, original_patient_id: str) -> str | None:
        """The new patient name for the patient with ``original_patient_id``, or None."""
        return self._tables["patient_name"].get(_strip(original_patient_id))

    def __len__(self) -> int:
        return sum(len(table) for table in self._tables.values())

    def __repr__(self) -> str:
        counts = ", ".join(f"{kind}s={len(table)}" for kind, table in self._tables.items())
        return f"Crosswalk({counts})"


def _crosswalk_columns(header: list[str], name: str) -> dict[str, int]:
    if {"kind", "original", "pseudonym"} <= set(header):
        return {c: header.index(c) for c in ("kind", "original", "pseudonym")}
    if header[:2] == ["original_patient_id", "new_patient_id"]:
        return {c: i for i, c in enumerate(header[:3])}
    raise ConfigurationError(
        f"crosswalk {name!r}: header must be 'kind,original,pseudonym' or "
        "'original_patient_id,new_patient_id[,new_patient_name]'"
    )


def _crosswalk_entries(
    row: list[str], columns: dict[str, int], name: str, line: int
) -> list[tuple[str, str, str]]:
    if "kind" in columns:
        kind = row[columns["kind"]].strip().lower()
        if kind not in _CROSSWALK_CHECKS:
            raise ConfigurationError(
                f"crosswalk {name!r}, line {line}: kind must be patient_id, patient_name or uid"
            )
        return [(kind, row[columns["original"]], row[columns["pseudonym"]])]
    original = row[columns["original_patient_id"]]
    entries = [("patient_id", original, row[columns["new_patient_id"]])]
    if "new_patient_name" in columns and row[columns["new_patient_name"]].strip():
        entries.append(("patient_name", original, row[columns["new_patient_name"]]))
    return entries
