"""idiscore.fileio: ``save`` writes the bytes of ``Dataset.save_as``; FileWindow; read.

``save`` is checked against pydicom's own writer (3.0 defaults) on every file bundled with
pydicom, on their de-identified versions, and on random datasets (several character sets,
transfer syntaxes, nested sequences, private blocks) read back so that their elements are
raw, some of them changed after reading.
"""

from __future__ import annotations

import copy
import io
import os
import pickle
import random
import struct
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import pydicom
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom import config
from pydicom.datadict import DicomDictionary
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

import idiscore.fileio as fileio
import idiscore.fileio.writing as writing
from idiscore.core import Core
from idiscore.defaults import create_default_core
from idiscore.errors import EncodingError, IDISCoreError, InputError
from idiscore.fileio import (
    FileWindow,
    OutputDataset,
    check_complete,
    deferred_window,
    read,
    save,
)

from factories import (
    MULTI_EXAMPLES,
    PYDICOM_FILES,
    PYDICOM_TEST_FILES,
    VR_EXAMPLES,
    assert_same_bytes,
    assert_unchanged,
    deep_copy,
    first_difference,
    pydicom_bytes,
    roundtrip,
    snapshot,
    sop_dataset,
)

TEST_FILES = PYDICOM_TEST_FILES
FILES = PYDICOM_FILES
#: defer_size values files are read with: whole, and most values left in the file
DEFER_SIZES = (None, 256)


def _quiet_read(path: str | os.PathLike[str] | io.BytesIO, defer_size: int | None) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path, force=True, defer_size=defer_size)


def _save_bytes(ds: Dataset, folder: Path | None = None) -> bytes:
    """``save`` to a path in ``folder`` (only that file is left there), else to a buffer."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if folder is None:
            buffer = io.BytesIO()
            save(ds, buffer)
            return buffer.getvalue()
        target = folder / "out.dcm"
        save(ds, target)
    assert sorted(os.listdir(folder)) == ["out.dcm"], "no temporary file left behind"
    data = target.read_bytes()
    target.unlink()
    return data


# -- 1. every bundled file: save == save_as ------------------------------------------------


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty folder (tests leave it empty)."""
    return tmp_path_factory.mktemp("out")


@pytest.mark.parametrize("name", FILES)
def test_save_writes_the_bytes_of_save_as(name: str, folder: Path) -> None:
    path = os.path.join(TEST_FILES, name)
    for defer_size in DEFER_SIZES:
        try:
            for_pydicom = _quiet_read(path, defer_size)
        except Exception as exc:
            pytest.skip(f"pydicom cannot read it: {type(exc).__name__}")
        for_idiscore = _quiet_read(path, defer_size)
        try:
            expected = pydicom_bytes(for_pydicom)
        except Exception as exc:
            # pydicom cannot write it: save refuses it too, and leaves nothing behind; or,
            # for implicit VR elements under an explicit transfer syntax (which pydicom
            # reads but cannot write), writes them with their VRs: the same values
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    save(for_idiscore, folder / "out.dcm")
            except type(exc):
                assert os.listdir(folder) == []
                continue
            written = _quiet_read(str(folder / "out.dcm"), None)
            os.unlink(folder / "out.dcm")
            assert written.file_meta.TransferSyntaxUID == for_pydicom.file_meta.TransferSyntaxUID
            assert [e.tag for e in written] == [e.tag for e in for_pydicom]
            assert all(written[e.tag].value == e.value for e in for_pydicom if e.VR != "SQ")
            continue
        got = _save_bytes(for_idiscore, folder)
        assert got == expected, f"defer_size={defer_size}: {first_difference(expected, got)}"


def test_the_bundled_files_are_found() -> None:
    assert len(FILES) > 100
    assert "CT_small.dcm" in FILES
    assert "dicomdirtests/DICOMDIR" in FILES


# -- 2. de-identified versions of the bundled files ---------------------------------------


@cache
def _core() -> Core:
    """The default core without its bouncers.

    Bouncers only refuse datasets, they never change an output: without them the default
    profile de-identifies every bundled file, also the ones the default core refuses.
    """
    core = create_default_core()
    core.bouncers = []
    return core


@pytest.mark.parametrize("name", FILES)
def test_save_writes_the_bytes_of_save_as_for_deidentified_files(name: str) -> None:
    """(Outputs of files read with a defer size: see test_deidentify_file.py, which compares
    ``deidentify_file`` -- de-identification and ``save`` -- with ``save_as``.)"""
    path = os.path.join(TEST_FILES, name)
    core = _core()
    try:
        first = _quiet_read(path, None)
    except Exception:
        pytest.skip("pydicom cannot read it")
    try:
        for_pydicom = core.deidentify(first)
    except IDISCoreError as exc:
        pytest.skip(f"refused: {type(exc).__name__}")
    for_idiscore = core.deidentify(_quiet_read(path, None))
    try:
        expected = pydicom_bytes(for_pydicom)
    except Exception:
        pytest.skip("pydicom cannot write the output")
    assert_same_bytes(expected, _save_bytes(for_idiscore))
    if isinstance(for_idiscore, FileDataset):
        # what the documented use calls: deidentify(dcmread(path)).save_as(out)
        assert isinstance(for_idiscore, OutputDataset)
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for_idiscore.save_as(buffer)
        assert_same_bytes(expected, buffer.getvalue())


# -- 2b. OutputDataset.save_as: pydicom's bytes and file handling -------------------------


def _output() -> OutputDataset:
    """The de-identified version of a file read as a whole (raw elements, a sequence)."""
    ds = _raw_file_dataset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        output = _core().deidentify(ds)
    assert isinstance(output, OutputDataset)
    return output


@pytest.mark.parametrize(
    "options",
    [
        {"implicit_vr": False},
        {"implicit_vr": False, "little_endian": True},
        {"enforce_file_format": True},
    ],
    ids=["explicit", "explicit little", "enforced"],
)
def test_output_save_as_with_an_option_is_pydicoms(options: dict[str, Any]) -> None:
    output = _output()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        output.save_as(buffer, **options)
    assert_same_bytes(pydicom_bytes(output, **options), buffer.getvalue())


def test_output_save_as_uses_idiscores_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    output = _output()
    calls: list[Dataset] = []
    writer = writing._write
    monkeypatch.setattr(
        writing, "_write", lambda h, d, m, e: calls.append(d) or writer(h, d, m, e)
    )
    output.save_as(io.BytesIO())
    assert calls == [output]


def test_output_save_as_hands_what_it_cannot_write_to_pydicom() -> None:
    """A transfer syntax other than the one read: pydicom re-encodes (no recursion)."""
    output = _output()
    output.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    output.set_original_encoding(False, True, output.original_character_set)
    buffer = io.BytesIO()
    output.save_as(buffer)
    assert_same_bytes(pydicom_bytes(output), buffer.getvalue())
    output.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    # pydicom refuses (a ValueError whose message may quote the file's values): an
    # idiscore error that is a ValueError too, naming the type only
    with pytest.raises(EncodingError, match=r"^cannot write the data set: ValueError$"):
        output.save_as(io.BytesIO())


def test_output_save_as_writes_a_path_in_place_as_pydicom_does(tmp_path: Path) -> None:
    output = _output()
    expected = pydicom_bytes(output)
    target = tmp_path / "target.dcm"
    target.write_bytes(b"old content, longer than nothing")
    target.chmod(0o640)
    link = tmp_path / "link.dcm"
    link.symlink_to(target)
    output.save_as(link)
    assert link.is_symlink(), "written through the link, as pydicom writes"
    assert_same_bytes(expected, target.read_bytes())
    assert target.stat().st_mode & 0o777 == 0o640, "an existing file keeps its mode"
    assert sorted(os.listdir(tmp_path)) == ["link.dcm", "target.dcm"]
    with pytest.raises(FileExistsError):
        output.save_as(target, overwrite=False)
    assert_same_bytes(expected, target.read_bytes())
    fresh = tmp_path / "fresh.dcm"
    output.save_as(str(fresh), overwrite=False)
    assert_same_bytes(expected, fresh.read_bytes())


@pytest.mark.parametrize("problem", ["big endian", "preamble", "meta element"])
def test_output_save_as_refuses_before_touching_the_file(problem: str, tmp_path: Path) -> None:
    """What pydicom refuses leaves an existing file as it was (no truncation)."""
    output = _output()
    if problem == "big endian":
        output.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    elif problem == "preamble":
        output.preamble = b"\x00" * 10
    else:
        output.file_meta._dict[BaseTag(0x00080016)] = DataElement(0x00080016, "UI", "1.2")
    target = tmp_path / "existing.dcm"
    target.write_bytes(b"keep me")
    with pytest.raises(ValueError):
        output.save_as(target)
    assert target.read_bytes() == b"keep me"
    with pytest.raises(ValueError):
        save(output, target)
    assert target.read_bytes() == b"keep me"
    assert sorted(os.listdir(tmp_path)) == ["existing.dcm"]


def test_output_dataset_survives_copy_and_pickle() -> None:
    output = _output()
    expected = pydicom_bytes(output)
    for other in (copy.deepcopy(output), pickle.loads(pickle.dumps(output))):
        assert type(other) is OutputDataset
        buffer = io.BytesIO()
        other.save_as(buffer)
        assert_same_bytes(expected, buffer.getvalue())


def test_a_dataset_without_file_meta_comes_back_as_a_plain_dataset() -> None:
    ds = Dataset()
    ds.PatientName = "Doe^John"
    ds.Modality = "CT"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        output = _core().deidentify(ds)
    assert type(output) is Dataset


# -- 3. random datasets ---------------------------------------------------------------------

SYNTAXES = [ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian]
#: Text that each character set can encode (None: the default repertoire).
TEXTS: dict[str | None, list[str]] = {
    None: ["Smith^Jane", "O'Neil clinic", "a b  "],
    "ISO_IR 100": ["Müller^Jörg", "Åsa Ødegård", "café"],
    "ISO_IR 192": ["Müller^Jörg", "李^华", "Ελένη"],
}
TEXT_VRS = ("LO", "LT", "PN", "SH", "ST", "UC", "UT")
_EXCLUDED_GROUPS = {0x0000, 0x0002, 0x0004, 0x0028, 0x7FE0, 0xFFFE}


def _public_tags(vr: str, count: int = 2) -> list[int]:
    """The first ``count`` current dictionary tags whose VR is exactly ``vr``."""
    found = []
    for tag in sorted(DicomDictionary):
        entry_vr, _vm, _name, retired, keyword = DicomDictionary[tag]
        if (
            entry_vr == vr
            and not retired
            and keyword
            and tag >> 16 not in _EXCLUDED_GROUPS
            and tag & 0xFFFF
            and tag not in (0x00080005, 0x00080016, 0x00080018)
        ):
            found.append(tag)
            if len(found) == count:
                break
    return found


TAGS_BY_VR = {vr: _public_tags(vr) for vr in VR_EXAMPLES if vr != "UN"}
SEQUENCE_TAGS = [0x00081115, 0x00081140, 0x00082112]  # ReferencedSeries, ReferencedImage, Source
PRIVATE_VRS = ("LO", "US", "UL", "DS", "OB", "SQ")


@st.composite
def _element(draw: st.DrawFn, charset: str | None, explicit: bool) -> tuple[int, str, Any]:
    vr = draw(st.sampled_from(sorted(TAGS_BY_VR) + (["UN"] if explicit else [])))
    if vr == "UN":
        # a public text tag written with VR UN (found in real files)
        return draw(st.sampled_from(TAGS_BY_VR["LO"])), "UN", draw(st.sampled_from([b"AB", b""]))
    tag = draw(st.sampled_from(TAGS_BY_VR[vr]))
    choices: list[Any] = [VR_EXAMPLES[vr]]
    if vr in MULTI_EXAMPLES:
        choices.append(list(MULTI_EXAMPLES[vr]))
    if vr in TEXT_VRS:
        texts = TEXTS[charset]
        choices += texts
        if vr not in ("LT", "ST", "UT"):
            choices.append(texts[:2])
    value = draw(st.sampled_from([*choices, None]))
    return tag, vr, value


@st.composite
def _item(draw: st.DrawFn, charset: str | None, explicit: bool, depth: int) -> Dataset:
    item = Dataset()
    for tag, vr, value in draw(st.lists(_element(charset, explicit), max_size=4)):
        item.add_new(tag, vr, value)
    if depth > 0 and draw(st.booleans()):
        _add_sequence(draw, item, charset, explicit, depth - 1)
    item.is_undefined_length_sequence_item = draw(st.booleans())
    return item


def _add_sequence(
    draw: st.DrawFn, ds: Dataset, charset: str | None, explicit: bool, depth: int
) -> None:
    tag = draw(st.sampled_from(SEQUENCE_TAGS))
    items = draw(st.lists(_item(charset, explicit, depth), max_size=3))
    ds.add_new(tag, "SQ", Sequence(items))
    ds[tag].is_undefined_length = draw(st.booleans())


@st.composite
def random_files(draw: st.DrawFn) -> Dataset:
    """A dataset with file meta, as written by pydicom: ready to be read back."""
    charset = draw(st.sampled_from([None, "ISO_IR 100", "ISO_IR 192"]))
    syntax = draw(st.sampled_from(SYNTAXES))
    explicit = not syntax.is_implicit_VR
    ds = sop_dataset()
    del ds.SpecificCharacterSet
    if charset is not None:
        ds.SpecificCharacterSet = charset
    ds.file_meta.TransferSyntaxUID = syntax
    for tag, vr, value in draw(st.lists(_element(charset, explicit), max_size=8)):
        ds.add_new(tag, vr, value)
    for _ in range(draw(st.integers(0, 2))):
        _add_sequence(draw, ds, charset, explicit, depth=2)
    if draw(st.booleans()):
        group = draw(st.sampled_from([0x0009, 0x0029]))
        ds.add_new((group << 16) | 0x0010, "LO", draw(st.sampled_from(["ACME 1.0", "X"])))
        for number, vr in enumerate(draw(st.lists(st.sampled_from(PRIVATE_VRS), max_size=4))):
            tag = (group << 16) | (0x1000 + number)
            if vr == "SQ":
                inner = Dataset()
                inner.add_new((group << 16) | 0x0010, "LO", "ACME 1.0")
                inner.add_new((group << 16) | 0x1000, "LO", "inside")
                ds.add_new(tag, "SQ", Sequence([inner]))
            else:
                value = VR_EXAMPLES[vr] if vr != "LO" else TEXTS[charset][0]
                ds.add_new(tag, vr, value)
    return ds


def _changes(data: st.DataObject, ds: Dataset) -> list[tuple[str, Any]]:
    """Changes to make to a dataset read from a file (the same on every copy)."""
    changes: list[tuple[str, Any]] = []
    tags = sorted(int(t) for t in ds._dict)
    if data.draw(st.booleans(), label="decode some"):
        changes.append(("decode", data.draw(st.lists(st.sampled_from(tags), max_size=6))))
    if data.draw(st.booleans(), label="rename"):
        changes.append(("PatientName", data.draw(st.sampled_from(["Doe^John", "", "Anon"]))))
    if data.draw(st.booleans(), label="add"):
        changes.append(("add", data.draw(st.sampled_from(["remark", "", "x" * 301]))))
    if data.draw(st.booleans(), label="delete"):
        changes.append(("delete", data.draw(st.sampled_from(tags))))
    sequences = [t for t in tags if t in SEQUENCE_TAGS and len(ds[t].value)]
    if sequences and data.draw(st.booleans(), label="change an item"):
        changes.append(("item", data.draw(st.sampled_from(sequences))))
    if data.draw(st.integers(0, 9), label="charset") == 0:
        changes.append(("charset", "ISO_IR 192"))  # a superset: pydicom re-encodes
    if ds.file_meta.TransferSyntaxUID.is_little_endian and data.draw(st.integers(0, 4)) == 0:
        # another little endian syntax: written by pydicom (save_as refuses to change the
        # endianness, see test_save_refuses_to_change_the_endianness_as_save_as_does)
        changes.append(("syntax", data.draw(st.sampled_from(SYNTAXES[:2]), label="syntax")))
    return changes


def _apply(ds: Dataset, changes: list[tuple[str, Any]]) -> None:
    for kind, value in changes:
        if kind == "decode":
            for tag in value:
                if tag in ds:
                    ds.__getitem__(tag)  # converts the raw element in place
        elif kind == "PatientName":
            ds.PatientName = value
        elif kind == "add":
            ds.add_new(0x00204000, "LT", value)  # ImageComments
        elif kind == "delete":
            if value in ds:
                del ds[value]
        elif kind == "item":
            item = ds[value].value[0]
            item.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.8.498.99"
            item.add_new(0x00081160, "IS", [1, 2])  # ReferencedFrameNumber
        elif kind == "charset":
            ds.SpecificCharacterSet = value
        elif kind == "syntax":
            ds.file_meta.TransferSyntaxUID = value


def _read_back(buffer: bytes) -> Dataset:
    return pydicom.dcmread(io.BytesIO(buffer), force=True)


@settings(max_examples=50)
@given(built=random_files(), data=st.data())
def test_save_writes_the_bytes_of_save_as_for_random_datasets(
    built: Dataset, data: st.DataObject
) -> None:
    written = io.BytesIO()
    built.save_as(written, enforce_file_format=True)
    for_pydicom = _read_back(written.getvalue())
    for_idiscore = _read_back(written.getvalue())
    changes = _changes(data, for_pydicom)
    _apply(for_pydicom, changes)
    _apply(for_idiscore, changes)
    before = snapshot(for_idiscore)
    try:
        expected = io.BytesIO()
        for_pydicom.save_as(expected)
    except Exception as exc:
        with pytest.raises(type(exc)):
            save(for_idiscore, io.BytesIO())
        return
    got = io.BytesIO()
    save(for_idiscore, got)
    assert_same_bytes(expected.getvalue(), got.getvalue())
    assert_unchanged(for_idiscore, before)


def test_random_datasets_cover_what_they_claim() -> None:
    """The strategy builds every transfer syntax, character set, sequences and private tags."""
    seen: set[str] = set()

    @settings(max_examples=30)
    @given(built=random_files())
    def collect(built: Dataset) -> None:
        seen.add(str(built.file_meta.TransferSyntaxUID.name))
        seen.add(f"charset {built.get('SpecificCharacterSet')}")
        if any(e.VR == "SQ" and len(e.value) for e in built.iterall()):
            seen.add("items")
        if any(int(t) >> 16 in (0x0009, 0x0029) for t in built._dict):
            seen.add("private")

    collect()
    assert {
        "Implicit VR Little Endian",
        "Explicit VR Little Endian",
        "Explicit VR Big Endian",
        "charset None",
        "charset ISO_IR 100",
        "charset ISO_IR 192",
        "items",
        "private",
    } <= seen


# -- 4. the caller's dataset is not changed ----------------------------------------------


def _raw_file_dataset() -> Dataset:
    ds = sop_dataset(PatientComments="Jörg said hello")
    item = Dataset()
    item.ReferencedSOPInstanceUID = "1.2.3.4"
    ds.ReferencedImageSequence = Sequence([item])
    ds.add_new(0x00091010, "OB", b"\x00\x01" * 300)
    ds.add_new(0x00090010, "LO", "ACME 1.0")
    return roundtrip(ds)


@pytest.mark.parametrize("destination", ["path", "buffer"])
@pytest.mark.parametrize(
    "change", ["none", "longer meta", "decoded element", "other syntax", "other charset"]
)
def test_save_does_not_change_the_dataset(change: str, destination: str, tmp_path: Path) -> None:
    ds = _raw_file_dataset()
    group_length = ds.file_meta.FileMetaInformationGroupLength
    if change == "longer meta":  # the group length pydicom writes changes
        ds.file_meta.ImplementationVersionName = "A_LONGER_NAME_16"
    elif change == "decoded element":
        ds.PatientName = "Doe^John"
    elif change == "other syntax":  # written by pydicom (fallback)
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    elif change == "other charset":
        ds.SpecificCharacterSet = "ISO_IR 192"
    before = snapshot(ds)
    raw_before = {tag: type(e) for tag, e in ds._dict.items()}
    expected = pydicom_bytes(deep_copy(ds))
    if destination == "path":
        save(ds, tmp_path / "out.dcm")
        got = (tmp_path / "out.dcm").read_bytes()
    else:
        buffer = io.BytesIO()
        save(ds, buffer)
        got = buffer.getvalue()
    assert_same_bytes(expected, got)
    if change in ("none", "longer meta", "decoded element"):
        # the fast path copies raw elements; it does not decode them in the caller's dataset
        assert {tag: type(e) for tag, e in ds._dict.items()} == raw_before
    assert_unchanged(ds, before)
    assert ds.file_meta.FileMetaInformationGroupLength == group_length
    assert ds.original_encoding == before.encoding[0]
    if change == "longer meta":
        assert _read_back(got).file_meta.FileMetaInformationGroupLength != group_length


def test_save_to_a_file_object_writes_at_its_position_and_leaves_it_open() -> None:
    ds = _raw_file_dataset()
    expected = io.BytesIO(b"PREFIX")
    expected.seek(0, io.SEEK_END)
    deep_copy(ds).save_as(expected)
    got = io.BytesIO(b"PREFIX")
    got.seek(0, io.SEEK_END)
    save(ds, got)
    assert not got.closed
    assert got.tell() == len(got.getvalue())
    assert_same_bytes(expected.getvalue(), got.getvalue())


def test_save_refuses_to_change_the_endianness_as_save_as_does() -> None:
    ds = sop_dataset(Rows=512)
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    for_pydicom, for_idiscore = roundtrip(ds), roundtrip(ds)
    for copy_ in (for_pydicom, for_idiscore):
        copy_.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    with pytest.raises(ValueError, match="endian"):
        for_pydicom.save_as(io.BytesIO())
    with pytest.raises(ValueError, match="endian"):
        save(for_idiscore, io.BytesIO())


# -- 5. atomic writes -----------------------------------------------------------------------


def _unwritable() -> Dataset:
    """A dataset pydicom fails to write halfway: Rows (US) holds text."""
    ds = _raw_file_dataset()
    ds[0x00280010] = DataElement(0x00280010, "US", "abc", validation_mode=config.IGNORE)
    return ds


@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_a_failed_save_leaves_no_file_and_the_old_one_intact(
    existing: bool, tmp_path: Path
) -> None:
    target = tmp_path / "out.dcm"
    if existing:
        target.write_bytes(b"old content")
    with pytest.raises(Exception) as pydicom_error:
        _unwritable().save_as(io.BytesIO())
    with pytest.raises(type(pydicom_error.value)):
        save(_unwritable(), target)
    assert os.listdir(tmp_path) == (["out.dcm"] if existing else [])
    if existing:
        assert target.read_bytes() == b"old content"


class _Interrupted(BaseException):
    pass


@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_an_interrupted_save_leaves_no_partial_file(
    existing: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.dcm"
    if existing:
        target.write_bytes(b"old content")
    original = writing.write_data_element
    calls = []

    def fail_on_the_third(fp: Any, element: Any, *args: Any) -> None:
        calls.append(element.tag)
        if len(calls) == 3:
            fp.write(b"partial")
            raise _Interrupted
        original(fp, element, *args)

    ds = roundtrip(sop_dataset())
    for keyword in ("PatientName", "PatientID", "StudyDate", "Modality"):
        setattr(ds, keyword, "")  # decoded elements: written by write_data_element
    monkeypatch.setattr(writing, "write_data_element", fail_on_the_third)
    monkeypatch.setattr(writing, "_ENCODED", {})  # encodings remembered by earlier tests
    with pytest.raises(_Interrupted):
        save(ds, target)
    assert len(calls) == 3
    assert os.listdir(tmp_path) == (["out.dcm"] if existing else [])
    if existing:
        assert target.read_bytes() == b"old content"


def test_a_failed_rename_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.dcm"
    target.write_bytes(b"old content")

    def refuse(source: Any, destination: Any) -> None:
        raise PermissionError("no")

    monkeypatch.setattr(writing.os, "replace", refuse)
    with pytest.raises(PermissionError):
        save(_raw_file_dataset(), target)
    assert os.listdir(tmp_path) == ["out.dcm"]
    assert target.read_bytes() == b"old content"


def test_a_failed_streamed_value_leaves_no_file(tmp_path: Path) -> None:
    """A FileWindow whose file got shorter fails the write: no output, no temp file."""
    source = tmp_path / "pixels.bin"
    source.write_bytes(bytes(range(256)) * 40)
    ds = _raw_file_dataset()
    ds.PixelData = FileWindow(source, 0, 256 * 40)
    ds["PixelData"].VR = "OB"
    with source.open("r+b") as handle:
        handle.truncate(1000)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(OSError, match="shorter"):
        save(ds, out / "out.dcm")
    assert os.listdir(out) == []


def test_save_into_a_missing_folder_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        save(_raw_file_dataset(), tmp_path / "missing" / "out.dcm")
    assert os.listdir(tmp_path) == []


def test_save_replaces_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "out.dcm"
    target.write_bytes(b"x" * 100_000)
    ds = _raw_file_dataset()
    save(ds, str(target))
    assert_same_bytes(pydicom_bytes(_raw_file_dataset()), target.read_bytes())
    assert os.listdir(tmp_path) == ["out.dcm"]


# -- 6. FileWindow ---------------------------------------------------------------------------

CONTENT = bytes(range(256)) * 4  # 1024 bytes


@pytest.fixture
def content_file(tmp_path: Path) -> Path:
    path = tmp_path / "content.bin"
    path.write_bytes(CONTENT)
    return path


def test_file_window_reads_its_range(content_file: Path) -> None:
    window = FileWindow(content_file, 100, 300)
    assert window.readable() and window.seekable() and not window.writable()
    assert window.tell() == 0
    assert window.read(10) == CONTENT[100:110]
    assert window.tell() == 10
    assert window.read1(5) == CONTENT[110:115]
    assert window.read() == CONTENT[115:400]
    assert window.tell() == 300
    assert window.read() == b""
    assert window.read(10) == b""
    assert window.seek(0) == 0
    assert window.read(None) == CONTENT[100:400]
    assert window.seek(0) == 0
    assert window.read(-1) == CONTENT[100:400]
    assert window.seek(290) == 290
    assert window.read(50) == CONTENT[390:400], "reads stop at the end of the window"
    window.close()


def test_file_window_seeks_like_a_file(content_file: Path) -> None:
    window = FileWindow(str(content_file), 1000, 24)
    assert window.seek(-4, io.SEEK_END) == 20
    assert window.read() == CONTENT[1020:1024]
    assert window.seek(-10, io.SEEK_CUR) == 14
    assert window.read(2) == CONTENT[1014:1016]
    assert window.seek(3, io.SEEK_CUR) == 19
    assert window.seek(100) == 100, "past the end is allowed, as for files"
    assert window.read() == b""
    with pytest.raises(ValueError, match="negative"):
        window.seek(-1)
    with pytest.raises(ValueError, match="negative"):
        window.seek(-25, io.SEEK_END)
    with pytest.raises(ValueError, match="whence"):
        window.seek(0, 7)
    window.close()


def test_file_window_readinto(content_file: Path) -> None:
    window = FileWindow(content_file, 10, 20)
    buffer = bytearray(8)
    assert window.readinto(buffer) == 8
    assert bytes(buffer) == CONTENT[10:18]
    view = memoryview(bytearray(100))
    assert window.readinto(view) == 12
    assert bytes(view[:12]) == CONTENT[18:30]
    assert window.readinto(bytearray(4)) == 0
    window.seek(0)
    assert window.readinto1(bytearray(3)) == 3  # BufferedIOBase's, through read1
    window.close()


def test_file_window_of_zero_length(content_file: Path) -> None:
    with FileWindow(content_file, 512, 0) as window:
        assert window.read() == b""
        assert window.seek(0, io.SEEK_END) == 0


def test_file_window_after_close(content_file: Path) -> None:
    window = FileWindow(content_file, 0, 10)
    assert window.read(2) == CONTENT[:2]
    window.close()
    assert window.closed
    window.close()  # twice is fine
    with pytest.raises(ValueError):
        window.read()
    with pytest.raises(ValueError):
        window.read(1)
    with pytest.raises(ValueError):
        window.readinto(bytearray(1))
    with pytest.raises(ValueError):
        window.seek(0)
    with pytest.raises(ValueError):
        window.tell()


def test_file_window_context_manager_closes(content_file: Path) -> None:
    with FileWindow(content_file, 0, 10) as window:
        assert window.read() == CONTENT[:10]
    assert window.closed


def test_file_window_over_a_truncated_file_raises(content_file: Path) -> None:
    window = FileWindow(content_file, 1000, 24)
    with content_file.open("r+b") as handle:
        handle.truncate(1010)
    assert window.read(4) == CONTENT[1000:1004], "the part still there reads"
    window.seek(8)
    with pytest.raises(OSError, match="shorter"):
        window.read(8)
    window.close()
    with FileWindow(content_file, 2000, 10) as beyond, pytest.raises(OSError, match="shorter"):
        beyond.read()
    with FileWindow(content_file, 0, 2000) as longer, pytest.raises(OSError, match="shorter"):
        longer.readinto(bytearray(2000))


def test_file_window_opens_the_file_lazily_and_never_writes(content_file: Path) -> None:
    mtime = content_file.stat().st_mtime_ns
    window = FileWindow(content_file, 0, 10)
    content_file.unlink()
    with pytest.raises(FileNotFoundError):
        window.read()
    window.close()
    content_file.write_bytes(CONTENT)
    with FileWindow(content_file, 0, 1024) as window:
        assert window.read() == CONTENT
        with pytest.raises(io.UnsupportedOperation):
            window.write(b"x")
    assert content_file.read_bytes() == CONTENT
    assert content_file.stat().st_mtime_ns >= mtime


def test_file_window_repr(content_file: Path) -> None:
    window = FileWindow(content_file, 3, 4)
    assert repr(window) == f"FileWindow({str(content_file)!r}, offset=3, length=4)"
    window.close()


@pytest.mark.parametrize("syntax", SYNTAXES, ids=lambda s: s.name)
@pytest.mark.parametrize(
    ("vr", "tag", "length"),
    [
        ("OB", 0x7FE00010, 1000),
        ("OW", 0x7FE00010, 1000),
        ("OB", 0x00091010, 64),
        ("OF", 0x00640009, 400),  # VectorGridData
        ("OD", 0x00720075, 800),  # SelectorODValue
        ("OL", 0x00720076, 400),  # SelectorOLValue
        ("OV", 0x00720077, 800),  # SelectorOVValue
    ],
)
def test_pydicom_writes_a_file_window_value_as_the_same_bytes(
    vr: str, tag: int, length: int, syntax: Any, content_file: Path
) -> None:
    def dataset(value: Any) -> Dataset:
        ds = sop_dataset()
        ds.file_meta.TransferSyntaxUID = syntax
        if tag >> 16 == 0x0009:
            ds.add_new(0x00090010, "LO", "ACME 1.0")
        ds.add_new(tag, vr, value)
        return ds

    in_memory = pydicom_bytes(dataset(CONTENT[7 : 7 + length]))
    window = FileWindow(content_file, 7, length)
    streamed = dataset(window)
    assert streamed[tag].is_buffered
    assert_same_bytes(in_memory, pydicom_bytes(streamed))
    assert_same_bytes(in_memory, pydicom_bytes(streamed)), "the window can be written twice"
    assert_same_bytes(in_memory, _save_bytes(streamed))
    window.close()


# -- 7. read, check_complete and deferred_window ---------------------------------------------


def _file_with_big_values(tmp_path: Path, syntax: Any = ExplicitVRLittleEndian) -> Path:
    ds = sop_dataset(ImageComments="x" * 300, BitsAllocated=8, Rows=50, Columns=200)
    ds.file_meta.TransferSyntaxUID = syntax
    ds.add_new(0x00091010, "OB", bytes(range(256)) * 3)
    ds.add_new(0x00090010, "LO", "ACME 1.0")
    item = Dataset()
    item.add_new(0x00420011, "OB", b"\x01\x02" * 50)  # EncapsulatedDocument
    ds.ReferencedImageSequence = Sequence([item])
    ds.PixelData = bytes(range(200)) * 50
    path = tmp_path / "big.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


#: Deferred values of _file_with_big_values (defer_size=256), by tag
_BIG_VALUES = {0x00091010: "private OB", 0x00204000: "ImageComments (LT)", 0x7FE00010: "PixelData"}


@pytest.mark.parametrize("syntax", SYNTAXES, ids=lambda s: s.name)
def test_read_leaves_large_values_in_the_file(syntax: Any, tmp_path: Path) -> None:
    path = _file_with_big_values(tmp_path, syntax)
    full = pydicom.dcmread(path)
    ds = read(path, defer_size=256)
    deferred = {
        int(tag)
        for tag, element in ds._dict.items()
        if isinstance(element, RawDataElement) and element.value is None
    }
    assert deferred == set(_BIG_VALUES)
    # streamed: the values pydicom writes buffered (OB, OW, ...); in an implicit VR file
    # the VR is the dictionary's ('OB or OW' for Pixel Data, none for a private tag)
    streamed = {0x7FE00010} if syntax.is_implicit_VR else {0x7FE00010, 0x00091010}
    for tag in deferred:
        window = deferred_window(ds, ds._dict[tag])
        if tag not in streamed:
            assert window is None, f"{_BIG_VALUES[tag]}: pydicom cannot write it buffered"
            continue
        assert window is not None, _BIG_VALUES[tag]
        value = full.get_item(tag).value
        assert (window.offset, window.length) == (ds._dict[tag].value_tell, len(value))
        assert window.read() == value
        window.close()
    assert all(
        isinstance(e, RawDataElement) and e.value is None
        for t, e in ds._dict.items()
        if int(t) in deferred
    ), "making windows reads nothing into the dataset"
    for tag in deferred:  # the values not streamed are read from the file when needed
        assert ds[tag].value == full[tag].value
    assert fileio.DEFAULT_DEFER_SIZE > 10_000
    assert read(path)._dict[0x7FE00010].value is not None, "below the default: read"
    assert read(path, defer_size=None).PixelData == full.PixelData


def test_deferred_window_is_none_when_the_value_cannot_be_streamed(tmp_path: Path) -> None:
    path = _file_with_big_values(tmp_path)
    ds = read(path, defer_size=256)
    pixels = ds._dict[0x7FE00010]
    assert pixels.value_tell + pixels.length == path.stat().st_size, "the last element"
    window = deferred_window(ds, pixels)
    assert window is not None, "the unchanged element is streamed"
    with window:
        assert window.read(4) == bytes(range(4))
    loaded = read(path, defer_size=None)
    assert deferred_window(loaded, loaded._dict[0x7FE00010]) is None, "already read"
    cases = {
        "zero length": pixels._replace(length=0),
        "undefined length": pixels._replace(length=0xFFFFFFFF),
        "odd length": pixels._replace(length=pixels.length - 1),
        "VR UN": pixels._replace(VR="UN"),
        "VR DS": pixels._replace(VR="DS"),
        "VR LT": ds._dict[0x00204000],
        "ends after the end of the file": pixels._replace(value_tell=pixels.value_tell + 2),
    }
    for case, element in cases.items():
        assert deferred_window(ds, element) is None, case
    from_buffer = pydicom.dcmread(io.BytesIO(path.read_bytes()), defer_size=256)
    element = from_buffer._dict[0x7FE00010]
    assert element.value is None
    assert deferred_window(from_buffer, element) is None, "not a named file"


def _deflated_file(tmp_path: Path) -> Path:
    ds = sop_dataset(BitsAllocated=8, Rows=40, Columns=100)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    # incompressible: the compressed file is as long as the inflated data set
    ds.PixelData = random.Random(7).randbytes(4000)
    ds.ImageComments = "x" * 300
    path = tmp_path / "deflated.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def test_read_of_a_deflated_file_gives_the_values(tmp_path: Path) -> None:
    path = _deflated_file(tmp_path)
    full = pydicom.dcmread(path)
    ds = read(path, defer_size=256)
    assert not any(isinstance(e, RawDataElement) and e.value is None for e in ds._dict.values()), (
        "a deflated data set is read whole"
    )
    for tag, element in ds._dict.items():
        assert not isinstance(element, RawDataElement) or deferred_window(ds, element) is None
        assert ds[tag].value == full[tag].value


def test_deferred_window_of_a_deflated_dataset_is_none(tmp_path: Path) -> None:
    """(value_tell is an offset in the inflated data set, not in the compressed file)"""
    path = _deflated_file(tmp_path)
    ds = pydicom.dcmread(path, defer_size=256)
    element = ds._dict[0x7FE00010]
    assert element.value is None
    assert deferred_window(ds, element) is None
    assert ds.PixelData == pydicom.dcmread(path).PixelData, "pydicom re-reads it inflated"


def _assert_quotes_no_value(error: InputError) -> None:
    message = str(error)
    assert "Smi" not in message and "PID-" not in message, message
    assert error.__cause__ is None, "pydicom's error (it may quote values) is not chained"
    assert error.__suppress_context__ or error.__context__ is None


def test_read_passes_force(tmp_path: Path) -> None:
    bare = sop_dataset()
    del bare.file_meta
    path = tmp_path / "bare.dcm"
    bare.save_as(path, implicit_vr=False, little_endian=True)  # no preamble, no meta
    with pytest.raises(InputError, match="cannot read DICOM") as info:
        read(path)
    _assert_quotes_no_value(info.value)
    assert read(path, force=True).PatientName == "Smith^Jane"


def _image() -> Dataset:
    """A 32 x 32 8-bit image (1024 bytes of Pixel Data, the last element)."""
    return sop_dataset(BitsAllocated=8, Rows=32, Columns=32, PixelData=bytes(range(256)) * 4)


def _cut(path: Path, keyword: str, into: int) -> Path:
    """The file ``path`` cut ``into`` bytes into the value of ``keyword``."""
    element = pydicom.dcmread(path)._dict[pydicom.datadict.tag_for_keyword(keyword)]
    cut = path.with_name("cut.dcm")
    cut.write_bytes(path.read_bytes()[: element.value_tell + into])
    return cut


def _unreadable(kind: str, folder: Path) -> Path:
    """A file ``read`` refuses, with or without force; "missing" is not created."""
    path = folder / "bad.dcm"
    if kind == "not DICOM":
        path.write_text("patient,name\n1,Smith^Jane,PID-778899\n" * 20)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind in ("preamble only", "file meta only"):
        meta = DicomBytesIO()
        meta.is_little_endian, meta.is_implicit_VR = True, False
        if kind == "file meta only":
            write_file_meta_info(meta, sop_dataset().file_meta, enforce_standard=True)
        path.write_bytes(b"\x00" * 128 + b"DICM" + meta.getvalue())
    elif kind.startswith("cut in "):
        whole = folder / "whole.dcm"
        _image().save_as(whole, enforce_file_format=True)
        return _cut(whole, kind.removeprefix("cut in "), 3)
    elif kind == "no delimiter":  # an undefined length value the file ends in: pydicom warns
        whole = io.BytesIO()
        _image().save_as(whole, enforce_file_format=True)
        path.write_bytes(
            whole.getvalue()
            + struct.pack("<HH2sHL", 0x7FE1, 0x1010, b"OB", 0, 0xFFFFFFFF)
            + b"Smith^Jane" * 10
        )
    elif kind == "folder":
        path.mkdir()
    return path


@pytest.mark.parametrize("defer_size", [None, 256])
@pytest.mark.parametrize("force", [False, True], ids=["strict", "force"])
@pytest.mark.parametrize(
    "kind",
    [
        "not DICOM",
        "empty",
        "preamble only",
        "file meta only",
        "cut in PatientName",
        "cut in PixelData",
        "no delimiter",
        "missing",
        "folder",
    ],
)
def test_read_refuses_what_is_not_a_whole_dicom_file(
    kind: str, force: bool, defer_size: int | None, tmp_path: Path
) -> None:
    path = _unreadable(kind, tmp_path)
    with pytest.raises(InputError) as info:
        read(path, defer_size=defer_size, force=force)
    _assert_quotes_no_value(info.value)
    if kind.startswith("cut in") and not force:
        assert "ends after the end of the file" in str(info.value)
    if not force and kind in ("cut in PixelData", "no delimiter"):  # pydicom reads them
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = pydicom.dcmread(path, defer_size=defer_size)
        if kind == "cut in PixelData":  # silently, a value shorter than its length
            assert "PatientName" in ds and caught == []
        else:  # with a warning, as a data set without its elements
            assert len(ds) == 0
            assert any("End of file" in str(w.message) for w in caught)


def test_read_refuses_a_truncated_buffer(tmp_path: Path) -> None:
    whole = tmp_path / "whole.dcm"
    _image().save_as(whole, enforce_file_format=True)
    data = _cut(whole, "PixelData", 1000).read_bytes()
    assert pydicom.dcmread(io.BytesIO(data), defer_size=256)._dict[0x7FE00010].value is None
    for defer_size in (None, 256):
        with pytest.raises(InputError, match=r"\(7FE0,0010\) ends after the end of the file"):
            read(io.BytesIO(data), defer_size=defer_size)
    assert read(io.BytesIO(whole.read_bytes()), defer_size=256).PatientName == "Smith^Jane"


def _explicit_meta_implicit_data_set(path: Path) -> Path:
    """A file whose meta says explicit VR while the data set is implicit VR."""
    ds = sop_dataset()
    meta = DicomBytesIO()
    meta.is_little_endian, meta.is_implicit_VR = True, False
    write_file_meta_info(meta, ds.file_meta, enforce_standard=True)
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, True
    write_dataset(body, ds)
    path.write_bytes(b"\x00" * 128 + b"DICM" + meta.getvalue() + body.getvalue())
    return path


def test_read_does_not_let_pydicom_warnings_escape(tmp_path: Path) -> None:
    path = _explicit_meta_implicit_data_set(tmp_path / "mixed.dcm")
    with pytest.warns(UserWarning, match="implicit VR"):
        expected = pydicom.dcmread(path)
    filters = list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = read(path)
    assert caught == []
    assert warnings.filters == filters
    assert ds.PatientName == expected.PatientName == "Smith^Jane"
    read(path, defer_size=None)  # (pytest turns any warning into an error)


def test_check_complete_refuses_a_deferred_element_that_ends_after_the_end_of_the_file(
    tmp_path: Path,
) -> None:
    path = _file_with_big_values(tmp_path)
    ds = read(path, defer_size=256)
    assert ds._dict[0x7FE00010].value is None
    check_complete(ds)  # it ends exactly at the end of the file
    with path.open("r+b") as handle:  # the file changes after it was read
        handle.truncate(path.stat().st_size - 1)
    pattern = r"^truncated: element \(7FE0,0010\) ends after the end of the file$"
    with pytest.raises(InputError, match=pattern):
        check_complete(ds)
    cut = pydicom.dcmread(path, defer_size=256)  # pydicom reads it without a word
    assert cut._dict[0x7FE00010].value is None
    with pytest.raises(InputError, match=pattern):
        check_complete(cut)
    from_buffer = pydicom.dcmread(io.BytesIO(path.read_bytes()), defer_size=256)
    with pytest.raises(InputError, match=pattern):
        check_complete(from_buffer)


def test_check_complete_refuses_an_empty_data_set_and_a_short_value() -> None:
    with pytest.raises(InputError, match="no data set"):
        check_complete(Dataset())
    name = RawDataElement(BaseTag(0x00100010), "PN", 10, b"Smi", 0, False, True)
    with pytest.raises(InputError, match=r"\(0010,0010\)") as info:
        check_complete(Dataset({name.tag: name}))
    _assert_quotes_no_value(info.value)
    whole = name._replace(length=4, value=b"Smi ")
    check_complete(Dataset({whole.tag: whole}))
    undefined = RawDataElement(BaseTag(0x00082112), "SQ", 0xFFFFFFFF, b"", 0, False, True)
    check_complete(Dataset({undefined.tag: undefined}))


# -- 8. raw Pixel Data that save_as re-encodes -------------------------------------------------


def _pixel_data_file(tmp_path: Path, change: str) -> Path:
    """An image whose Pixel Data has VR UN, or an odd length (1023 bytes, no padding)."""
    ds = _image()
    if change == "VR UN":
        ds["PixelData"].VR = "UN"
    path = tmp_path / "pixels.dcm"
    ds.save_as(path, enforce_file_format=True)
    if change == "odd length":
        data = path.read_bytes()
        header = struct.pack("<HH2sHL", 0x7FE0, 0x0010, b"OB", 0, 1024)
        at = data.index(header)
        odd = struct.pack("<HH2sHL", 0x7FE0, 0x0010, b"OB", 0, 1023)
        path.write_bytes(data[:at] + odd + data[at + 12 : -1])
    return path


@pytest.mark.parametrize("change", ["VR UN", "odd length"])
def test_save_writes_raw_pixel_data_as_save_as_does(change: str, tmp_path: Path) -> None:
    path = _pixel_data_file(tmp_path, change)
    expected = pydicom_bytes(pydicom.dcmread(path))
    assert_same_bytes(expected, _save_bytes(pydicom.dcmread(path)))


# -- the writer's cache of encoded values ---------------------------------------------

# payloads in the high mantissa bits, which survive the conversion to FL's 32 bits
_NAN_A = struct.unpack("<d", struct.pack("<Q", 0x7FF8000020000000))[0]
_NAN_B = struct.unpack("<d", struct.pack("<Q", 0x7FF8000040000000))[0]
#: pairs of values that compare equal (or are both NaN) but are encoded differently
LOOK_ALIKES = {
    "zero": (0.0, -0.0),
    "zeros": ([0.0, 1.5], [-0.0, 1.5]),
    "nan payloads": (_NAN_A, _NAN_B),
    "int and float": ([1, 2], [1.0, 2.0]),
}


def _with_value(vr: str, value: Any) -> Dataset:
    ds = roundtrip(sop_dataset())  # as read from a file: idiscore's writer writes it
    for tag in TAGS_BY_VR[vr]:
        ds.add(DataElement(tag, vr, copy.copy(value)))
    return ds


@pytest.mark.parametrize("pair", LOOK_ALIKES, ids=list(LOOK_ALIKES))
@pytest.mark.parametrize("vr", ["FD", "FL", "DS"])
def test_the_encoding_cache_keeps_look_alike_values_apart(
    vr: str, pair: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file's bytes never depend on the files written before it in the process."""
    first, second = LOOK_ALIKES[pair]
    if vr == "DS" and pair == "nan payloads":
        pytest.skip("DS is decimal text: NaN is no valid DS value")

    def written(value: Any) -> bytes:
        buffer = io.BytesIO()
        save(_with_value(vr, value), buffer)
        return buffer.getvalue()

    monkeypatch.setattr(writing, "_ENCODED", {})
    a_then_b = (written(first), written(second))
    monkeypatch.setattr(writing, "_ENCODED", {})
    b_then_a = (written(second), written(first))[::-1]
    assert a_then_b == b_then_a
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = (pydicom_bytes(_with_value(vr, first)), pydicom_bytes(_with_value(vr, second)))
    assert a_then_b == expected
    if vr != "DS" and pair != "int and float":
        assert expected[0] != expected[1], "the pair must be encoded differently"
