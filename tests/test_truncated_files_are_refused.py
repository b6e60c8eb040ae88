"""A file that ends inside an element header or value is an InputError, through every
entry point -- checked against dcmtk: no truncation that ``dcmdump`` reports as an error
(premature end) is ever read as complete by idiscore.

Truncations of real files of every encoding (explicit and implicit VR, big endian,
deflated, encapsulated pixel data, undefined-length sequences and items) are made at every
offset of their last 200 bytes, every offset around the headers of the file meta, the
first three and the last eight elements, and every 397th byte of the rest.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import warnings
from functools import cache
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from idiscore.batch import BatchOptions, run_batch
from idiscore.batch.runner import read_dicom
from idiscore.defaults import create_default_core
from idiscore.errors import InputError
from idiscore.fileio import read, read_counting_warnings
from idiscore.pseudonyms import Pseudonymizer

from factories import sop_dataset

DCMDUMP = shutil.which("dcmdump")
BUNDLED = ("CT_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm", "rtplan.dcm",
           "JPEG2000.dcm", "image_dfl.dcm", "SC_rgb_rle.dcm")  # fmt: skip
GENERATED = {
    "sequence last, undefined lengths": (ExplicitVRLittleEndian, True),
    "sequence last, implicit VR": (ImplicitVRLittleEndian, True),
    "sequence last, big endian, defined lengths": (ExplicitVRBigEndian, False),
}
#: read whole, and with (nearly) every value left in the file
DEFER_SIZES = (None, 64)


def _sequence_last(syntax: str, undefined: bool) -> bytes:
    """A file whose last element is a sequence (of undefined length, with undefined-length
    items, when ``undefined``)."""
    ds = sop_dataset()
    ds.file_meta.TransferSyntaxUID = syntax
    item = Dataset()
    item.ReferencedSOPClassUID = ds.SOPClassUID
    item.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.8.498.55"
    item.ReferencedFrameNumber = "1"
    item.is_undefined_length_sequence_item = undefined
    ds.add_new(0x7FE00010, "OB" if syntax != ImplicitVRLittleEndian else "OW", b"\0" * 16)
    ds.add_new(0xFFFAFFFA, "SQ", Sequence([item]))  # Digital Signatures Sequence: last
    ds[0xFFFAFFFA].is_undefined_length = undefined
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@cache
def _source(name: str) -> bytes:
    if name in GENERATED:
        return _sequence_last(*GENERATED[name])
    path = get_testdata_file(name)
    assert path is not None
    return Path(path).read_bytes()


def _offsets(data: bytes) -> list[int]:
    size = len(data)
    offsets = set(range(max(0, size - 200), size)) | set(range(0, size, 397))
    ds = pydicom.dcmread(io.BytesIO(data), defer_size=None)
    elements = [*ds.file_meta._dict.values(), *ds._dict.values()]
    # around the headers of the file meta, the first data set elements and the last ones
    for element in elements[: len(ds.file_meta) + 3] + elements[-8:]:
        start = getattr(element, "value_tell", None) or getattr(element, "file_tell", None)
        if start:
            offsets |= set(range(max(0, start - 12), min(size, start + 3)))
    return sorted(offsets)


def _dcmdump_errors(files: list[Path]) -> set[str]:
    """The files ``dcmdump`` cannot read to their end (premature end, invalid stream)."""
    assert DCMDUMP is not None
    run = subprocess.run(
        [DCMDUMP, *map(str, files)], capture_output=True, timeout=600, check=False
    )
    stderr = run.stderr.decode("utf-8", "replace")
    return set(re.findall(r"^E: dcmdump: .*: reading file: (.*)$", stderr, re.MULTILINE))


def _done(path: Path, defer_size: int | None) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            read(path, defer_size=defer_size)
        except InputError:
            return False
    return True


@pytest.mark.skipif(DCMDUMP is None, reason="dcmdump (Debian package dcmtk) is not installed")
@pytest.mark.parametrize("name", [*BUNDLED, *GENERATED])
def test_no_truncation_dcmdump_refuses_is_read_as_complete(name: str, tmp_path: Path) -> None:
    data = _source(name)
    files = []
    for offset in _offsets(data):
        path = tmp_path / f"{offset:07d}.dcm"
        path.write_bytes(data[:offset])
        files.append(path)
    for count in range(1, 8):  # the start of one more element header
        path = tmp_path / f"plus{count}.dcm"
        path.write_bytes(data + data[-16:][:count])
        files.append(path)
    whole = tmp_path / "whole.dcm"
    whole.write_bytes(data)
    refused_by_dcmtk = _dcmdump_errors([*files, whole])
    assert str(whole) not in refused_by_dcmtk
    assert all(_done(whole, defer) for defer in (*DEFER_SIZES, 1 << 16))
    assert len(refused_by_dcmtk) > len(files) // 2, "the truncations are mostly refused"
    done = [
        (Path(path).name, defer)
        for path in sorted(refused_by_dcmtk)
        for defer in DEFER_SIZES
        if _done(Path(path), defer)
    ]
    assert not done, f"{len(done)} truncations dcmdump refuses were read: {done[:8]}"


# -- every entry point ------------------------------------------------------------------


def _with_partial_header(tmp_path: Path, count: int = 6) -> Path:
    """CT_small.dcm followed by the first ``count`` bytes of another element header."""
    path = tmp_path / "partial.dcm"
    path.write_bytes(_source("CT_small.dcm") + b"\x08\x00\x30\x10LO"[:count])
    return path


@pytest.mark.parametrize("count", range(1, 8))
def test_a_partial_header_at_the_end_is_refused_by_read(count: int, tmp_path: Path) -> None:
    path = _with_partial_header(tmp_path, count)
    for defer in DEFER_SIZES:
        with pytest.raises(InputError, match="truncated"):
            read(path, defer_size=defer)
        with pytest.raises(InputError, match="truncated"), path.open("rb") as handle:
            read_counting_warnings(handle, defer_size=defer)
        with pytest.raises(InputError, match="truncated"):
            read(io.BytesIO(path.read_bytes()), defer_size=defer)


def test_a_partial_header_is_refused_by_deidentify_file(tmp_path: Path) -> None:
    core = create_default_core(pseudonymizer=Pseudonymizer("truncated-key"))
    with pytest.raises(InputError, match="truncated"):
        core.deidentify_file(_with_partial_header(tmp_path), tmp_path / "out.dcm")
    assert not (tmp_path / "out.dcm").exists()
    with pytest.raises(InputError, match="truncated"):
        read_dicom(_with_partial_header(tmp_path))


def test_a_partial_header_fails_in_the_batch(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    _with_partial_header(inputs)
    (inputs / "whole.dcm").write_bytes(_source("CT_small.dcm"))
    core = create_default_core(pseudonymizer=Pseudonymizer("truncated-key"))
    summary = run_batch(core, [inputs], BatchOptions(output=tmp_path / "out"))
    assert summary.counts["failed"] == 1 and summary.counts["done"] == 1
    assert [p.name for p in (tmp_path / "out").rglob("*.dcm")] == ["whole.dcm"]


def test_a_partial_header_fails_in_explain(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "idiscore"
    run = subprocess.run(
        [str(script), "explain", str(_with_partial_header(tmp_path))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 1
    assert "truncated" in run.stderr
