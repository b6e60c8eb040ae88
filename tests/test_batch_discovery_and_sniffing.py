"""Discovery walks folders lazily in sorted order; sniffing decides DICOM from first bytes."""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from idiscore.batch import discover, sniff
from idiscore.batch.sources import count_candidates
from idiscore.errors import InputError


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_folders_are_walked_in_sorted_order_relative_to_their_root(tmp_path: Path) -> None:
    for name in ("b/2", "b/1", "a/z/9", "c", "a/0"):
        touch(tmp_path / "in" / name)
    found = list(discover([tmp_path / "in"]))
    assert [str(c.relative) for c in found] == ["c", "a/0", "a/z/9", "b/1", "b/2"]
    assert all(c.root == (tmp_path / "in").absolute() and c.path.is_absolute() for c in found)
    assert count_candidates([tmp_path / "in"]) == 5


def test_discovery_is_lazy(tmp_path: Path) -> None:
    touch(tmp_path / "in" / "one")
    stream = discover([tmp_path / "in", tmp_path / "missing"])
    assert next(stream).relative == Path("one")
    with pytest.raises(InputError, match="does not exist"):
        next(stream)


def test_files_and_globs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    touch(tmp_path / "data" / "p1" / "x.dcm")
    touch(tmp_path / "data" / "p2" / "y.dcm")
    touch(tmp_path / "data" / "p2" / "y.txt")
    monkeypatch.chdir(tmp_path)
    found = list(discover(["data/*/*.dcm", "data/p2/y.txt"]))
    assert [(str(c.relative), c.root.name) for c in found] == [
        ("p1/x.dcm", "data"),
        ("p2/y.dcm", "data"),
        ("y.txt", "p2"),
    ]
    assert list(discover(["data/*.nothing"])) == []


def test_unlistable_folder_becomes_an_error_candidate(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root can list any folder")
    locked = tmp_path / "in" / "locked"
    touch(locked / "x")
    locked.chmod(0)
    try:
        found = list(discover([tmp_path / "in"]))
    finally:
        locked.chmod(0o755)
    assert [c.error is not None for c in found] == [True]


def test_sniff_preamble_file() -> None:
    sniffed = sniff(str(get_testdata_file("CT_small.dcm")))
    assert sniffed.is_dicom and sniffed.has_preamble


def test_sniff_little_endian_data_set_without_preamble() -> None:
    sniffed = sniff(str(get_testdata_file("ExplVR_LitEndNoMeta.dcm")))
    assert sniffed.is_dicom and not sniffed.has_preamble


def test_sniff_implicit_vr_without_preamble(tmp_path: Path) -> None:
    data = struct.pack("<HHI", 0x0008, 0x0016, 4) + b"1.2\x00" + b"\x00" * 8
    assert sniff(touch(tmp_path / "f", data)).is_dicom


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"hello world, this is text\n" * 10, "not DICOM"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "not DICOM"),
        (struct.pack(">HH", 0x0008, 0x0005) + b"CS\x00\x0aISO_IR 100", "not DICOM"),
        (b"\x00" * 128 + b"DIC", "not DICOM"),
    ],
)
def test_sniff_skips_with_a_reason(tmp_path: Path, data: bytes, reason: str) -> None:
    sniffed = sniff(touch(tmp_path / "f", data))
    assert not sniffed.is_dicom and reason in sniffed.reason


def test_sniff_unreadable_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        sniff(tmp_path / "missing")


def test_dicomdir_sniffs_as_dicom(tmp_path: Path) -> None:
    path = shutil.copyfile(str(get_testdata_file("DICOMDIR")), tmp_path / "DICOMDIR")
    assert sniff(path).is_dicom  # skipped later, when its SOP class is read
