"""Output paths are safe file names; writes are atomic and leave nothing behind on failure."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from idiscore.batch.writer import (
    commit,
    copy_to_quarantine,
    output_path,
    safe_name,
    sweep_temp_files,
    write_temp,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.2.3.4", "1.2.3.4"),
        ("../../etc/passwd", "___.._etc_passwd"),
        (".hidden", "_hidden"),
        ("Doe^Jane Q", "Doe_Jane_Q"),
        ("..", "X"),
        ("", "X"),
        (None, "X"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("é", "X"),
        ("a" * 300, "a" * 100),
    ],
)
def test_safe_name(value: str | None, expected: str) -> None:
    assert safe_name(value, "X") == expected


def test_patient_layout_path() -> None:
    ds = Dataset()
    ds.PatientID = "ID/../1"
    ds.StudyInstanceUID = "1.2"
    ds.SOPInstanceUID = "1.2.3"
    path = output_path(ds, Path("ignored"), Path("/out"), "patient")
    assert path == Path("/out/ID_.._1/1.2/NO_SERIES_UID/1.2.3.dcm")
    assert output_path(ds, Path("a/b.dcm"), Path("/out"), "mirror") == Path("/out/a/b.dcm")
    with pytest.raises(ValueError):
        output_path(ds, Path("x"), Path("/out"), "flat")


def test_write_then_commit(tmp_path: Path) -> None:
    ds = pydicom.dcmread(str(get_testdata_file("CT_small.dcm")))
    destination = tmp_path / "a" / "b" / "ct.dcm"
    temp, size = write_temp(ds, destination, "token")
    assert temp.parent == destination.parent and temp.name.startswith(".idiscore-")
    assert not destination.exists() and temp.stat().st_size == size
    commit(temp, destination)
    assert not temp.exists()
    assert pydicom.dcmread(destination).SOPInstanceUID == ds.SOPInstanceUID


def test_dataset_without_file_meta_gets_a_part10_file(tmp_path: Path) -> None:
    ds = pydicom.dcmread(str(get_testdata_file("ExplVR_LitEndNoMeta.dcm")), force=True)
    temp, _ = write_temp(ds, tmp_path / "x.dcm", "t")
    assert temp.read_bytes()[128:132] == b"DICM"
    assert pydicom.dcmread(temp).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"


def test_failed_write_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = pydicom.dcmread(str(get_testdata_file("CT_small.dcm")))

    def broken_save(self: Dataset, *args: object, **kwargs: object) -> None:
        args[0].write(b"partial")  # type: ignore[attr-defined]
        raise OSError("disk full")

    monkeypatch.setattr(Dataset, "save_as", broken_save)
    # complete file meta is written by idiscore.fileio.save, the rest by save_as
    monkeypatch.setattr("idiscore.batch.writer.save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        write_temp(ds, tmp_path / "x.dcm", "t")
    assert list(tmp_path.iterdir()) == []


def test_sweep_removes_only_temporary_files(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / ".idiscore-abc.tmp").write_bytes(b"")
    (tmp_path / "d" / "keep.dcm").write_bytes(b"")
    (tmp_path / ".idiscore-notes").write_bytes(b"")
    assert sweep_temp_files(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == [".idiscore-notes", "d", "keep.dcm"]


def test_quarantine_copies_keep_distinct_files(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.write_bytes(b"first")
    two.write_bytes(b"second")
    quarantine = tmp_path / "q"
    assert copy_to_quarantine(one, Path("sub/x"), quarantine) == quarantine / "sub" / "x"
    assert copy_to_quarantine(one, Path("sub/x"), quarantine) == quarantine / "sub" / "x"
    assert copy_to_quarantine(two, Path("sub/x"), quarantine) == quarantine / "sub" / "x.1"
    assert (quarantine / "sub" / "x.1").read_bytes() == b"second"
