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
    is_temp_name,
    new_temp_name,
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


def test_sweep_removes_only_temporary_files_it_can_verify(tmp_path: Path) -> None:
    """Only names with idiscore's mark are removed: a user's look-alike names survive."""
    (tmp_path / "d").mkdir()
    ours = new_temp_name()
    (tmp_path / "d" / ours).write_bytes(b"")
    forged = ours[:-8] + ("0" if ours[-8] != "0" else "1") + ours[-7:]  # mark broken
    look_alikes = [".idiscore-abc.tmp", ".idiscore-0123456789abcdef.tmp", forged]
    for name in look_alikes:
        (tmp_path / "d" / name).write_bytes(b"user data")
    (tmp_path / "d" / "keep.dcm").write_bytes(b"")
    (tmp_path / ".idiscore-notes").write_bytes(b"")
    (tmp_path / new_temp_name()).symlink_to(tmp_path / "d" / "keep.dcm")  # links: never
    assert is_temp_name(ours) and not any(is_temp_name(name) for name in look_alikes)
    assert sweep_temp_files(tmp_path) == 1
    assert not (tmp_path / "d" / ours).exists()
    for name in look_alikes:
        assert (tmp_path / "d" / name).read_bytes() == b"user data"
    assert (tmp_path / "d" / "keep.dcm").exists()


def test_temporary_names_are_unique_per_process_and_call() -> None:
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        others = pool.starmap(_names, [(50,), (50,)])
    names = [*_names(50), *others[0], *others[1]]
    assert len(set(names)) == 150 and all(is_temp_name(name) for name in names)
    assert len({name.split("-")[1] for name in names}) == 3  # one pid part per process


def _names(count: int) -> list[str]:
    return [new_temp_name() for _ in range(count)]


def test_quarantine_copies_keep_distinct_files(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.write_bytes(b"first")
    two.write_bytes(b"second")
    quarantine = tmp_path / "q"
    assert copy_to_quarantine(one, Path("sub/x"), quarantine) == quarantine / "sub" / "x"
    assert copy_to_quarantine(one, Path("sub/x"), quarantine) == quarantine / "sub" / "x"
    assert copy_to_quarantine(two, Path("sub/x"), quarantine) == quarantine / "sub" / "x.1"
    assert (quarantine / "sub" / "x.1").read_bytes() == b"second"
