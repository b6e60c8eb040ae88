"""The mapping file on disk (idiscore.batch.mapping_store): written atomically as CSV or
SQLite, read back, refused with a ConfigurationError that never quotes its content."""

from __future__ import annotations

import csv
import os
import sqlite3
from pathlib import Path

import pytest

from idiscore.batch import mapping_store
from idiscore.batch.mapping_store import mapping_format, read_mapping, write_mapping
from idiscore.errors import ConfigurationError
from idiscore.pseudonyms import MappingRecorder, Pseudonymizer

KEY = "correct horse battery staple 0123456789"


@pytest.fixture
def pz() -> Pseudonymizer:
    return Pseudonymizer(KEY)


def recorded(pz: Pseudonymizer) -> MappingRecorder:
    """A recorder holding one entry of every kind, filled by a real pseudonymizer."""
    recorder = MappingRecorder()
    p = Pseudonymizer(KEY, recorder=recorder)
    p.uid("1.2.3")
    p.text("ACC1", "SH")
    p.person_name("Doe^Jöhn")
    p.patient_id("PAT1", "HOSP")
    p.date_shift_days("PAT1", "HOSP")
    return recorder


@pytest.mark.parametrize("name", ["map.csv", "map.sqlite", "map.db"])
def test_recorder_writes_atomically_and_reads_back(
    tmp_path: Path, pz: Pseudonymizer, name: str
) -> None:
    recorder = recorded(pz)
    target = tmp_path / name
    target.write_text("old content")
    assert write_mapping(recorder, target) == target
    assert os.listdir(tmp_path) == [name]  # no temporary or journal file left behind
    assert read_mapping(target).entries() == recorder.entries()
    if name.endswith(".csv"):
        with open(target, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        assert rows[0] == ["kind", "original", "pseudonym"]
    else:
        with sqlite3.connect(target) as db:
            count = db.execute("SELECT count(*) FROM mapping").fetchone()[0]
        db.close()
        assert count == len(recorder)


def test_failed_write_keeps_old_file_and_leaves_no_temp(
    tmp_path: Path, pz: Pseudonymizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "map.csv"
    target.write_text("old content")

    def broken(path: str, entries: object) -> None:
        Path(path).write_text("half")
        raise OSError("disk full")

    monkeypatch.setattr(mapping_store, "_write_csv", broken)
    with pytest.raises(OSError, match="disk full"):
        write_mapping(recorded(pz), target)
    assert target.read_text() == "old content"
    assert os.listdir(tmp_path) == ["map.csv"]


def test_recorder_rejects_unknown_file_type(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        write_mapping(MappingRecorder(), tmp_path / "map.json")
    assert os.listdir(tmp_path) == []


def test_mapping_file_format_from_the_suffix() -> None:
    assert mapping_format("a/b.CSV") == "csv"
    assert mapping_format(Path("b.sqlite")) == mapping_format("b.db")
    with pytest.raises(ConfigurationError, match="must end in"):
        mapping_format("b.txt")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("map.csv", b"Secret^Name,PID-123\n"),
        ("map.csv", b"kind,original,pseudonym\nname,Secret^Name\n"),
        ("map.csv", b"kind,original,pseudonym\nname,\xff\xfe,x\n"),
        ("map.csv", b""),
        ("map.db", b"Secret^Name is not a database"),
        ("missing.sqlite", None),
        ("missing.csv", None),
    ],
)
def test_reading_a_damaged_mapping_is_a_configuration_error(
    tmp_path: Path, name: str, content: bytes | None
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigurationError) as caught:
        read_mapping(path)
    assert "Secret" not in str(caught.value) and "PID" not in str(caught.value)
    assert sorted(os.listdir(tmp_path)) == ([name] if content is not None else [])
