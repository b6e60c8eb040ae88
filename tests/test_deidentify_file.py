"""Core.deidentify_file: the bytes of ``deidentify(dcmread(source)).save_as``, streamed.

Large values no rule changes are copied from the source file in chunks (FileWindow), the
source is never written, bad inputs (also the ones ``deidentify(dcmread(source))`` accepts:
truncated files, files without a data set) raise InputError and leave no output, and the raw
fast paths of Empty and HashUID give the bytes the operators give.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import struct
import tracemalloc
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from idiscore.core import Core
from idiscore.defaults import create_default_core
from idiscore.errors import DeidentificationError, IDISCoreError, InputError
from idiscore.fileio import DEFAULT_DEFER_SIZE, FileWindow
from idiscore.fileio import read as read_file

from factories import (
    CT_IMAGE_STORAGE,
    PYDICOM_FILES,
    PYDICOM_TEST_FILES,
    assert_same_bytes,
    assert_unchanged,
    first_difference,
    pydicom_bytes,
    snapshot,
    sop_dataset,
)

TEST_FILES = PYDICOM_TEST_FILES
FILES = PYDICOM_FILES


@cache
def _core(kind: str) -> Core:
    """``default``: the default core; ``open``: the same without bouncers (they only refuse,
    never change an output), so that every file is de-identified; ``slow``: ``open`` without
    the raw fast paths."""
    core = create_default_core()
    if kind in ("open", "slow"):
        core.bouncers = []
    if kind == "slow":
        core.raw_fast_paths = False
    return core


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("deidentify_file")


def _quiet_read(path: str | os.PathLike[str] | io.BytesIO, **kwargs: Any) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path, **kwargs)


def _reference(core: Core, path: str | os.PathLike[str], *, force: bool = False) -> bytes:
    """``core.deidentify(dcmread(path)).save_as(...)``: what deidentify_file must write."""
    dataset = _quiet_read(path, force=force)
    before = snapshot(dataset)
    output = core.deidentify(dataset)
    assert_unchanged(dataset, before)
    return pydicom_bytes(output)


def _is_truncated(ds: Dataset) -> bool:
    """An element of the (whole) data set ends after the end of the file."""
    return any(
        isinstance(e, pydicom.dataelem.RawDataElement)
        and isinstance(e.value, bytes)
        and e.length != 0xFFFFFFFF
        and len(e.value) < e.length
        for e in ds._dict.values()
    )


@cache
def _expected(name: str, kind: str) -> tuple[str, Any, bool]:
    """What deidentify_file must do with a bundled file: (outcome, detail, truncated).

    outcome is "bytes" (detail: the reference bytes), "refused" (the core refuses the whole
    file: detail is the error type), "unwritable" (pydicom cannot write the reference:
    detail is the error type) or "skip" (pydicom cannot read the file). ``truncated``: an
    element of the file ends after its end; such input must be refused with InputError.
    """
    path = os.path.join(TEST_FILES, name)
    try:
        whole = _quiet_read(path, force=True)
    except Exception as exc:
        return "skip", f"pydicom cannot read it: {type(exc).__name__}", False
    truncated = _is_truncated(whole)
    core = _core(kind)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            before = snapshot(whole)
            output = core.deidentify(whole)
    except IDISCoreError as exc:
        assert_unchanged(whole, before)
        return "refused", type(exc), truncated
    assert_unchanged(whole, before)
    try:
        written = pydicom_bytes(output)
    except Exception as exc:
        return "unwritable", type(exc), truncated
    return "bytes", written, truncated


def _idiscore_bytes(name: str, kind: str) -> bytes:
    """``deidentify(dcmread(name)).save_as()``: idiscore's writer, where pydicom's fails."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _core(kind).deidentify(_quiet_read(os.path.join(TEST_FILES, name), force=True)).save_as(
            buffer
        )
    return buffer.getvalue()


def _stat(path: str | os.PathLike[str]) -> tuple[bytes, int, int]:
    info = os.stat(path)
    return Path(path).read_bytes(), info.st_mtime_ns, info.st_size


# -- 1, 2. every bundled file -----------------------------------------------------------------

#: defer sizes each core is run with: deidentify_file's default (None here), and small
DEFER_SIZES: dict[str, tuple[int | None, ...]] = {"default": (None, 256), "open": (256,)}


def _deidentify_file(core: Core, source: Any, destination: Any, defer_size: int | None) -> None:
    """``core.deidentify_file(..., force=True)``, with its default defer size for None."""
    options: dict[str, Any] = {"force": True}
    if defer_size is not None:
        options["defer_size"] = defer_size
    core.deidentify_file(source, destination, **options)


@cache
def _read_refuses(name: str, defer_size: int | None) -> bool:
    """``fileio.read`` (what deidentify_file reads with) refuses the bundled file ``name``."""
    try:
        read_file(
            os.path.join(TEST_FILES, name),
            defer_size=DEFAULT_DEFER_SIZE if defer_size is None else defer_size,
            force=True,
        )
    except InputError:
        return True
    return False


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom's, on reading odd files
@pytest.mark.parametrize(
    ("name", "kind"),
    [pytest.param(name, kind, id=f"{name}-{kind}") for name in FILES for kind in DEFER_SIZES],
)
def test_deidentify_file_writes_the_bytes_of_deidentify_and_save_as(
    name: str, kind: str, folder: Path
) -> None:
    """The bytes of the reference, or its error; or InputError for what fileio.read refuses.

    deidentify_file is stricter than ``deidentify(dcmread(source))``: a file that
    ``fileio.read`` refuses (truncated, or not DICOM read with force=True) raises InputError
    and writes nothing, even where the reference gives an output.
    """
    if kind == "open" and _expected(name, "default")[0] == "bytes":
        pytest.skip("the default core de-identifies it: the same output, tested there")
    outcome, expected, _truncated = _expected(name, kind)
    source = os.path.join(TEST_FILES, name)
    before = _stat(source)
    destination = folder / "out.dcm"
    core = _core(kind)
    for defer_size in DEFER_SIZES[kind]:
        refused = _read_refuses(name, defer_size)
        assert refused or outcome != "skip", "what pydicom cannot read, fileio.read refuses"
        try:
            if refused:
                with pytest.raises(InputError) as info:
                    _deidentify_file(core, source, destination, defer_size)
                assert str(info.value).startswith(f"{source}: ")
            elif outcome == "bytes":
                _deidentify_file(core, source, destination, defer_size)
                got = destination.read_bytes()
                destination.unlink()
                assert got == expected, (
                    f"defer_size={defer_size}: {first_difference(expected, got)}"
                )
            elif outcome == "unwritable":  # pydicom cannot write the output; idiscore may
                try:
                    _deidentify_file(core, source, destination, defer_size)
                except (expected, DeidentificationError):
                    pass  # pydicom's own errors come as idiscore's, naming their type only
                else:
                    got = destination.read_bytes()
                    destination.unlink()
                    assert got == _idiscore_bytes(name, kind), f"defer_size={defer_size}"
                    _quiet_read(io.BytesIO(got)).walk(lambda _ds, _el: None)
                    continue
                assert os.listdir(folder) == [], "no output, no temporary file"
                continue
            else:  # refused by the core
                # pydicom's own errors come as idiscore's, naming their type only
                wanted = expected if issubclass(expected, IDISCoreError) else DeidentificationError
                with pytest.raises(wanted) as raised:
                    _deidentify_file(core, source, destination, defer_size)
                assert wanted is expected or str(raised.value).endswith(expected.__name__)
            assert os.listdir(folder) == [], "no output, no temporary file"
        finally:
            for leftover in os.listdir(folder):
                os.unlink(folder / leftover)
        assert _stat(source) == before, "the source file is never changed"


def test_read_refuses_exactly_the_truncated_bundled_files() -> None:
    """The bundled files deidentify_file refuses as unreadable (above) are the ones cut
    short (an element ends after the end of the file, as pydicom reads them with force=True):
    the two truncated DICOM files and some files that are not DICOM."""
    truncated = {
        name
        for name in FILES
        if _expected(name, "default")[0] == "skip" or _expected(name, "default")[2]
    }
    for defer_size in DEFER_SIZES["default"]:
        assert {name for name in FILES if _read_refuses(name, defer_size)} == truncated
    assert {"MR_truncated.dcm", "rtplan_truncated.dcm", "zipMR.gz", "README.txt"} <= truncated
    assert len(truncated) < 20


def test_bundled_files_are_mostly_deidentified() -> None:
    """The comparison above is not vacuous: most files give bytes to compare."""
    outcomes = [_expected(name, "default")[0] for name in FILES]
    assert outcomes.count("bytes") > 100
    assert outcomes.count("refused") > 20
    assert (
        sum(
            _expected(name, "default")[0] == "bytes" or _expected(name, "open")[0] == "bytes"
            for name in FILES
        )
        > 150
    ), "without bouncers, nearly every file is de-identified"


# -- 3. streaming a large multi-frame image ---------------------------------------------------

FRAMES, ROWS, COLUMNS = 40, 1024, 512
PIXEL_BYTES = FRAMES * ROWS * COLUMNS * 2  # 40 MiB


def _write_multiframe(path: Path) -> None:
    """A 40-frame 16-bit image, written without holding the pixel data in memory."""
    ds = sop_dataset(
        NumberOfFrames=FRAMES,
        Rows=ROWS,
        Columns=COLUMNS,
        BitsAllocated=16,
        BitsStored=12,
        HighBit=11,
        PixelRepresentation=0,
        SamplesPerPixel=1,
        PhotometricInterpretation="MONOCHROME2",
        BurnedInAnnotation="NO",
    )
    ds.save_as(path, enforce_file_format=True)
    frame = np.arange(ROWS * COLUMNS, dtype="<u2").reshape(ROWS, COLUMNS)
    with path.open("ab") as handle:
        handle.write(struct.pack("<HH2sHL", 0x7FE0, 0x0010, b"OW", 0, PIXEL_BYTES))
        for index in range(FRAMES):
            handle.write((frame + index).tobytes())


def _pixel_digest(path: Path) -> str:
    ds = pydicom.dcmread(path, defer_size=1024)
    element = ds._dict[0x7FE00010]
    assert element.value is None and element.length == PIXEL_BYTES
    digest = hashlib.sha256()
    with FileWindow(path, element.value_tell, element.length) as window:
        while chunk := window.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def test_large_pixel_data_is_streamed_not_loaded(tmp_path: Path) -> None:
    source = tmp_path / "multiframe.dcm"
    _write_multiframe(source)
    destination = tmp_path / "out.dcm"
    core = _core("default")
    tracemalloc.start()
    try:
        returned = core.deidentify_file(source, destination)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20, f"peak {peak / 2**20:.1f} MiB for {PIXEL_BYTES / 2**20:.0f} MiB"
    assert returned[0x7FE00010].is_buffered, "the returned dataset streams from the source"
    assert isinstance(returned[0x7FE00010].value, FileWindow)
    assert _pixel_digest(destination) == _pixel_digest(source)
    tracemalloc.start()  # the measure sees the pixel data when it is loaded
    try:
        pydicom.dcmread(source)
        assert tracemalloc.get_traced_memory()[1] > PIXEL_BYTES
    finally:
        tracemalloc.stop()
    out = pydicom.dcmread(destination, defer_size=1024)
    assert out.PatientName != "Smith^Jane"
    assert out.NumberOfFrames == FRAMES
    assert sorted(os.listdir(tmp_path)) == ["multiframe.dcm", "out.dcm"]


# -- 4. bad inputs ----------------------------------------------------------------------------


@pytest.fixture
def ct_file(tmp_path: Path) -> Path:
    source = tmp_path / "in" / "ct.dcm"
    source.parent.mkdir()
    shutil.copyfile(os.path.join(TEST_FILES, "CT_small.dcm"), source)
    return source


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize(
    "spelling", ["same", "str", "dotted", "symlink", "hardlink", "symlink-to-folder"]
)
def test_refuses_to_write_over_its_source(spelling: str, ct_file: Path, tmp_path: Path) -> None:
    destination: str | Path = ct_file
    if spelling == "str":
        destination = str(ct_file)
    elif spelling == "dotted":
        destination = tmp_path / "in" / ".." / "in" / "." / "ct.dcm"
    elif spelling == "symlink":
        destination = tmp_path / "link.dcm"
        destination.symlink_to(ct_file)
    elif spelling == "hardlink":
        destination = tmp_path / "hard.dcm"
        os.link(ct_file, destination)
    elif spelling == "symlink-to-folder":
        (tmp_path / "alias").symlink_to(ct_file.parent, target_is_directory=True)
        destination = tmp_path / "alias" / "ct.dcm"
    before = _stat(ct_file)
    files = _files(tmp_path)
    with pytest.raises(InputError):
        _core("default").deidentify_file(ct_file, destination)
    assert _stat(ct_file) == before
    assert _files(tmp_path) == files


def test_refuses_when_the_source_is_a_symlink_to_the_destination(
    ct_file: Path, tmp_path: Path
) -> None:
    link = tmp_path / "link.dcm"
    link.symlink_to(ct_file)
    before = _stat(ct_file)
    with pytest.raises(InputError):
        _core("default").deidentify_file(link, ct_file)
    assert _stat(ct_file) == before


def _bad_input(kind: str, folder: Path) -> Path:
    path = folder / f"{kind}.dcm"
    if kind == "not DICOM":
        path.write_text("patient,name\n1,Smith^Jane\n" * 20)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind in ("preamble only", "file meta only"):
        meta = DicomBytesIO()
        meta.is_little_endian, meta.is_implicit_VR = True, False
        if kind == "file meta only":
            write_file_meta_info(meta, sop_dataset().file_meta, enforce_standard=True)
        path.write_bytes(b"\x00" * 128 + b"DICM" + meta.getvalue())
    elif kind == "folder":
        path.mkdir()
    return path  # "missing": not created


@pytest.mark.parametrize(
    "kind",
    [
        "not DICOM",
        "empty",
        "preamble only",
        "file meta only",
        "missing",
        "folder",
    ],
)
def test_unreadable_input_raises_input_error_and_writes_nothing(kind: str, tmp_path: Path) -> None:
    source = _bad_input(kind, tmp_path)
    destination = tmp_path / "out" / "out.dcm"
    destination.parent.mkdir()
    with pytest.raises(InputError) as info:
        _core("default").deidentify_file(source, destination)
    assert str(info.value).startswith(f"{source}: ")
    if kind in ("preamble only", "file meta only"):
        assert "no data set after the file meta" in str(info.value)
    assert os.listdir(destination.parent) == []


def _small_image(**values: Any) -> Dataset:
    """A 32 x 32 8-bit CT image the default core accepts; ``values`` added or replaced."""
    image: dict[str, Any] = {
        "Rows": 32,
        "Columns": 32,
        "BitsAllocated": 8,
        "BitsStored": 8,
        "HighBit": 7,
        "PixelRepresentation": 0,
        "SamplesPerPixel": 1,
        "PhotometricInterpretation": "MONOCHROME2",
        "BurnedInAnnotation": "NO",
        "PixelData": bytes(range(256)) * 4,
    }
    return sop_dataset(**{**image, **values})


def _cut(ds: Dataset, folder: Path, keyword: str, into: int) -> Path:
    """``ds`` as a file cut ``into`` bytes into the value of ``keyword``."""
    whole = folder / "whole.dcm"
    ds.save_as(whole, enforce_file_format=True)
    element = pydicom.dcmread(whole)._dict[pydicom.datadict.tag_for_keyword(keyword)]
    cut = folder / "cut.dcm"
    cut.write_bytes(whole.read_bytes()[: element.value_tell + into])
    return cut


@pytest.mark.parametrize(
    ("keyword", "into", "defer_size"),
    [
        ("PatientName", 3, 1 << 20),
        ("PixelData", 100, 1 << 20),
        ("PixelData", 100, 256),
        ("PixelData", 1023, 256),
    ],
    ids=["in-PatientName", "in-PixelData", "in-streamed-PixelData", "last-byte-streamed"],
)
def test_truncated_input_raises_input_error_and_writes_nothing(
    keyword: str, into: int, defer_size: int, tmp_path: Path
) -> None:
    source = _cut(_small_image(), tmp_path, keyword, into)
    destination = tmp_path / "out" / "out.dcm"
    destination.parent.mkdir()
    before = _stat(source)
    with pytest.raises(InputError) as info:
        _core("default").deidentify_file(source, destination, defer_size=defer_size)
    message = str(info.value)
    assert message.startswith(f"{source}: ")
    assert "ends after the end of the file" in message
    assert "Smi" not in message.removeprefix(f"{source}: "), "no value quoted"
    assert os.listdir(destination.parent) == []
    assert _stat(source) == before


def test_a_truncated_input_never_leaves_a_partial_output(tmp_path: Path) -> None:
    """Refused before anything is written: the previous output is intact."""
    source = _cut(_small_image(), tmp_path, "PixelData", 100)
    destination = tmp_path / "out" / "out.dcm"
    destination.parent.mkdir()
    destination.write_bytes(b"previous output")
    with pytest.raises(InputError):
        _core("default").deidentify_file(source, destination, defer_size=256)
    assert os.listdir(destination.parent) == ["out.dcm"]
    assert destination.read_bytes() == b"previous output"


# -- streaming edge cases (default core) -------------------------------------------------------


def _write(ds: Dataset, path: Path) -> Path:
    ds.save_as(path, enforce_file_format=True)
    return path


def _assert_like_reference(source: Path, defer_size: int, folder: Path) -> None:
    core = _core("default")
    expected = _reference(core, source)
    destination = folder / "out.dcm"
    core.deidentify_file(source, destination, defer_size=defer_size)
    assert_same_bytes(expected, destination.read_bytes())


def test_streamed_pixel_data_in_implicit_and_big_endian_files(tmp_path: Path) -> None:
    for syntax in (ImplicitVRLittleEndian, pydicom.uid.ExplicitVRBigEndian):
        ds = _small_image()
        ds.file_meta.TransferSyntaxUID = syntax
        _assert_like_reference(_write(ds, tmp_path / "in.dcm"), 256, tmp_path)


@pytest.mark.parametrize("keyword", ["FrameTimeVector", "ImageType"])
def test_long_kept_text_and_number_values(keyword: str, tmp_path: Path) -> None:
    values = {
        "FrameTimeVector": [f"{i}.5" for i in range(100)],  # DS, 500 bytes
        "ImageType": ["ORIGINAL", "PRIMARY", *["AXIAL"] * 60],  # CS, 378 bytes
    }
    ds = _small_image(**{keyword: values[keyword]})
    _assert_like_reference(_write(ds, tmp_path / "in.dcm"), 256, tmp_path)


def _pixel_data_file(folder: Path, change: str) -> Path:
    """A small image whose Pixel Data has VR UN, or an odd length (1023 bytes, no padding)."""
    ds = _small_image()
    if change == "VR UN":
        ds["PixelData"].VR = "UN"
        return _write(ds, folder / "in.dcm")
    data = _write(ds, folder / "whole.dcm").read_bytes()
    header = struct.pack("<HH2sHL", 0x7FE0, 0x0010, b"OB", 0, 1024)
    at = data.index(header)
    odd = struct.pack("<HH2sHL", 0x7FE0, 0x0010, b"OB", 0, 1023)
    source = folder / "in.dcm"
    source.write_bytes(data[:at] + odd + data[at + 12 : -1])
    assert len(pydicom.dcmread(source).PixelData) == 1023
    return source


@pytest.mark.parametrize("change", ["VR UN", "odd length"])
def test_pixel_data_pydicom_cannot_stream_is_read(change: str, tmp_path: Path) -> None:
    """(pydicom writes no buffered UN value; a buffered odd length overruns its header)"""
    source = _pixel_data_file(tmp_path, change)
    destination = tmp_path / "out.dcm"
    returned = _core("default").deidentify_file(source, destination, defer_size=256)
    assert not isinstance(returned.get_item(0x7FE00010).value, FileWindow)
    pixels = pydicom.dcmread(source).PixelData
    written = pydicom.dcmread(destination)
    # as save_as writes it: an odd length is padded to even
    assert written.PixelData == pixels + b"\x00" * (len(pixels) % 2)
    assert written.PatientName != "Smith^Jane"


@pytest.mark.parametrize("change", ["VR UN", "odd length"])
def test_pixel_data_with_vr_un_or_an_odd_length(change: str, tmp_path: Path) -> None:
    _assert_like_reference(_pixel_data_file(tmp_path, change), 256, tmp_path)


@pytest.mark.parametrize("defer_size", [256, 1 << 20])
def test_deflated_files(defer_size: int, tmp_path: Path) -> None:
    ds = _small_image()
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.PixelData = np.random.default_rng(3).integers(0, 256, 1024, dtype=np.uint8).tobytes()
    _assert_like_reference(_write(ds, tmp_path / "in.dcm"), defer_size, tmp_path)


def test_deferred_values_inside_sequences_and_private_blocks(tmp_path: Path) -> None:
    ds = _small_image()
    item = Dataset()
    item.ReferencedSOPClassUID = CT_IMAGE_STORAGE
    item.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.8.498.77"
    item.add_new(0x00091010, "OB", b"\x07" * 600)
    item.add_new(0x00090010, "LO", "ACME 1.0")
    ds.SourceImageSequence = pydicom.sequence.Sequence([item])
    ds.add_new(0x00291010, "OB", b"\x08" * 600)
    ds.add_new(0x00290010, "LO", "ACME 1.0")
    source = _write(ds, tmp_path / "in.dcm")
    _assert_like_reference(source, 64, tmp_path)
    _assert_like_reference(source, 300, tmp_path)


def test_writes_to_a_file_object(ct_file: Path) -> None:
    core = _core("default")
    buffer = io.BytesIO()
    core.deidentify_file(ct_file, buffer, defer_size=256)
    assert_same_bytes(_reference(core, ct_file), buffer.getvalue())
    assert not buffer.closed


def test_the_returned_dataset_is_the_output(ct_file: Path, tmp_path: Path) -> None:
    core = _core("default")
    destination = tmp_path / "out.dcm"
    returned = core.deidentify_file(ct_file, destination, defer_size=256)
    assert_same_bytes(destination.read_bytes(), pydicom_bytes(returned))


# -- 5. raw fast paths --------------------------------------------------------------------------


def test_raw_fast_paths_give_the_bytes_of_the_operators() -> None:
    """Every bundled file the default profile de-identifies, with and without fast paths."""
    compared, different = 0, []
    for name in FILES:
        # the default core's output where it accepts the file (bouncers change no output)
        outcome, expected, _truncated = _expected(name, "default")
        if outcome != "bytes":
            outcome, expected, _truncated = _expected(name, "open")
        if outcome != "bytes":
            continue
        slow = _reference(_core("slow"), os.path.join(TEST_FILES, name), force=True)
        compared += 1
        if slow != expected:
            different.append(f"{name}: {first_difference(expected, slow)}")
    assert different == []
    assert compared > 150


def test_the_fast_paths_are_on_by_default() -> None:
    assert create_default_core().raw_fast_paths is True
    assert _core("slow").raw_fast_paths is False


_UIDS = [b"1.2.840.10008.5.1.4.1.1.2", b"1.2.826.0.1.3680043.8.498.10", b"2.25.1234567", b"1"]
_UI_PART = st.one_of(
    st.sampled_from(_UIDS),
    st.lists(st.integers(0, 99999), min_size=1, max_size=6).map(
        lambda parts: ".".join(map(str, parts)).encode()
    ),
    st.sampled_from([b"", b" 1.2.3 ", b"1.2.\xe9", b"\xc3\xa9", b"1.2 .3", b"abc"]),
)
UI_VALUES = st.one_of(
    st.sampled_from([b"", b"\x00", b" ", b"\\"]),
    st.tuples(
        st.lists(_UI_PART, min_size=1, max_size=3).map(b"\\".join),
        st.sampled_from([b"", b"\x00", b" ", b"\x00\x00", b" \x00", b"\\", b"\\\x00"]),
    ).map(b"".join),
)
Z_VALUES = st.sampled_from(
    [b"", b"Smith^Jane", b"M\xfcller", "李^华".encode(), b"  ", b"\x00", b"20210314", b"x"]
)

#: Data set elements of the generated files: (tag, VR, values).
UI_TAGS = [
    (0x00080014, "UI"),  # InstanceCreatorUID
    (0x00080018, "UI"),  # SOPInstanceUID
    (0x0020000D, "UI"),  # StudyInstanceUID
    (0x0020000E, "UI"),  # SeriesInstanceUID
    (0x00200052, "UI"),  # FrameOfReferenceUID
    (0x00181002, "UI"),  # DeviceUID (kept)
]
Z_TAGS = [
    (0x00080020, "DA"),  # StudyDate
    (0x00080030, "TM"),  # StudyTime
    (0x00080050, "SH"),  # AccessionNumber
    (0x00080090, "PN"),  # ReferringPhysicianName
    (0x00100010, "PN"),  # PatientName
    (0x00100020, "LO"),  # PatientID (Z/D)
    (0x00100030, "DA"),  # PatientBirthDate
    (0x00200010, "SH"),  # StudyID
    (0x00181008, "LO"),  # GantryID (kept)
]
#: Safe private elements of the default profile: (creator tag, creator, tag, declared VR).
SAFE_PRIVATE = [
    (0x00190010, b"GEMS_ACQU_01", 0x00191023, "DS"),
    (0x00190010, b"GEMS_ACQU_01", 0x00191024, "DS"),
    (0x00190010, b"GEMS_ACQU_01", 0x0019109E, "LO"),  # free text: judged on its words
    (0x20010010, b"Philips Imaging DD 001", 0x20011002, "IS"),
    (0x20010010, b"Philips Imaging DD 001", 0x20011005, "SS"),
    (0x01E10010, b"ELSCINT1", 0x01E11026, "CS"),
]
PRIVATE_VALUES = st.sampled_from(
    [
        *(b"", b"1.5", b"1.5\\2 ", b" 3", b"-12", b"1e5", b"abc", b"M\xfcller", b"\x00\x00"),
        *(b"ORIGINAL", b"A_B ", b"1,5", b"\x01\x02\x03\x04", b"Smith^Jane"),
    ]
)
_LONG = {"OB", "OW", "SQ", "UN", "UC", "UR", "UT"}


def _encode(tag: int, vr: str, value: bytes, implicit: bool) -> bytes:
    if vr == "encoded":  # header and value written by the caller
        return value
    group, number = tag >> 16, tag & 0xFFFF
    if implicit:
        return struct.pack("<HHL", group, number, len(value)) + value
    if vr in _LONG:
        return struct.pack("<HH2sHL", group, number, vr.encode(), 0, len(value)) + value
    return struct.pack("<HH2sH", group, number, vr.encode(), len(value)) + value


def _body(elements: list[tuple[int, str, bytes]], implicit: bool) -> bytes:
    return b"".join(_encode(t, vr, v, implicit) for t, vr, v in sorted(elements))


@st.composite
def raw_files(draw: st.DrawFn) -> bytes:
    """A DICOM file written byte by byte, with raw UI and to-be-emptied values."""
    implicit = draw(st.booleans())

    def vr_of(vr: str) -> str:
        return "UN" if not implicit and draw(st.integers(0, 9)) == 0 else vr

    elements: list[tuple[int, str, bytes]] = [
        (0x00080016, "UI", CT_IMAGE_STORAGE.encode() + b"\x00"),
        (0x00080060, "CS", b"CT"),
    ]
    charset = draw(st.sampled_from([None, b"ISO_IR 100", b"ISO_IR 192"]))
    if charset:
        elements.append((0x00080005, "CS", charset))

    def ui_value() -> bytes:
        return draw(UI_VALUES)

    for tag, vr in UI_TAGS:
        if draw(st.booleans()):
            elements.append((tag, vr_of(vr), ui_value()))
    for tag, vr in Z_TAGS:
        if draw(st.booleans()):
            elements.append((tag, vr_of(vr), draw(Z_VALUES)))
    # safe private elements (kept when the value fits the declared VR), read with the
    # declared VR, another one, or UN
    for creator_tag, creator, tag, vr in SAFE_PRIVATE:
        if draw(st.booleans()):
            if (creator_tag, "LO", creator) not in elements:
                elements.append((creator_tag, "LO", creator))
            read_as = vr_of(draw(st.sampled_from([vr, vr, "LO", "CS"])))
            elements.append((tag, read_as, draw(PRIVATE_VALUES)))
    # the sequence as SQ, or (PS3.5 6.2.2) as explicit UN holding Implicit VR Little
    # Endian items; of defined or undefined length
    as_un = not implicit and draw(st.booleans())
    undefined = draw(st.booleans())
    items = []
    for _ in range(draw(st.integers(0, 2))):
        item = [
            (0x00081150, "UI", CT_IMAGE_STORAGE.encode() + b"\x00"),
            (0x00081155, "UI" if as_un else vr_of("UI"), ui_value()),
            (0x00100010, "PN", draw(Z_VALUES)),  # PatientName, inside
        ]
        content = _body(item, implicit or as_un)
        if undefined:
            items.append(struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFFF) + content)
            items.append(struct.pack("<HHL", 0xFFFE, 0xE00D, 0))
        else:
            items.append(struct.pack("<HHL", 0xFFFE, 0xE000, len(content)) + content)
    if items:
        vr = "UN" if as_un else "SQ"
        if undefined:  # written here, with its header and delimiter
            header = (
                struct.pack("<HHL", 0x0008, 0x2112, 0xFFFFFFFF)
                if implicit
                else struct.pack("<HH2sHL", 0x0008, 0x2112, vr.encode(), 0, 0xFFFFFFFF)
            )
            delimiter = struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)
            elements.append((0x00082112, "encoded", header + b"".join(items) + delimiter))
        else:
            elements.append((0x00082112, vr, b"".join(items)))  # SourceImageSequence
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
    meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.8.498.10"
    meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    header = DicomBytesIO()
    header.is_little_endian, header.is_implicit_VR = True, False
    write_file_meta_info(header, meta, enforce_standard=True)
    return b"\x00" * 128 + b"DICM" + header.getvalue() + _body(elements, implicit)


def _outcome(core: Core, source: Path, destination: Path) -> tuple[str, Any]:
    try:
        core.deidentify_file(source, destination)
    except IDISCoreError as exc:
        return "error", type(exc)
    data = destination.read_bytes()
    destination.unlink()
    return "bytes", data


@settings(max_examples=50)
@given(data=raw_files())
def test_raw_fast_paths_give_the_bytes_of_the_operators_on_raw_values(
    data: bytes, folder: Path
) -> None:
    source = folder / "raw.dcm"
    source.write_bytes(data)
    fast = _outcome(_core("open"), source, folder / "fast.dcm")
    slow = _outcome(_core("slow"), source, folder / "slow.dcm")
    assert fast[0] == slow[0], (fast, slow)
    if fast[0] == "bytes":
        assert_same_bytes(slow[1], fast[1])
        assert_same_bytes(_reference(_core("open"), source), fast[1])
    else:
        assert fast[1] is slow[1]


@pytest.mark.parametrize("where", ["data set", "sequence item"])
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "slow"])
def test_empty_uids_in_implicit_vr_files(where: str, fast: bool, folder: Path) -> None:
    """(pydicom reads a zero-length implicit VR value as None, b'' in explicit VR)"""
    ds = sop_dataset()
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    if where == "data set":
        ds.FrameOfReferenceUID = ""
    else:
        item = Dataset()
        item.ReferencedSOPClassUID = CT_IMAGE_STORAGE
        item.ReferencedSOPInstanceUID = ""
        ds.SourceImageSequence = pydicom.sequence.Sequence([item])
    source = _write(ds, folder / "implicit.dcm")
    core = _core("open" if fast else "slow")
    destination = folder / "out.dcm"
    core.deidentify_file(source, destination)
    data = destination.read_bytes()
    destination.unlink()
    assert_same_bytes(_reference(_core("slow"), source), data)
    out = pydicom.dcmread(io.BytesIO(data))
    if where == "data set":
        assert out.FrameOfReferenceUID == ""
    else:
        assert out.SourceImageSequence[0].ReferencedSOPInstanceUID == ""
