"""Errors pydicom raises on hostile data (an unknown VR, an invalid transfer syntax UID, a
value of the wrong length, 3,000 nested sequences) reach the caller of ``deidentify``,
``deidentify_file`` and ``explain`` as IDISCoreErrors that name the error's type but quote
no element value."""

from __future__ import annotations

import io
import random
import warnings
from pathlib import Path

import pytest
from fuzz import MARKER, _fit, _generated, _nested
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import ExplicitVRLittleEndian

from idiscore.cli.explain import explain_dataset
from idiscore.core import Core, Profile
from idiscore.defaults import create_default_core, get_dicom_rule_sets
from idiscore.errors import (
    DeidentificationError,
    EncodingError,
    IDISCoreError,
    InputError,
    StorageError,
    idiscore_error,
)
from idiscore.identifiers import SingleTag
from idiscore.operators import SetFixedValue
from idiscore.rules import Rule, RuleSet


def base() -> Dataset:
    ds = _generated(random.Random(1), 1)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def raw(tag: int, vr: str, value: bytes) -> RawDataElement:
    return RawDataElement(Tag(tag), vr, len(value), value, 0, False, True)


def in_memory(case: str) -> Dataset:
    ds = base()
    if case == "unknown VR":
        ds._dict[Tag(0x00081030)] = raw(0x00081030, "ZZ", f"{MARKER}X".encode())
    elif case == "bytes length":
        ds._dict[Tag(0x00280010)] = raw(0x00280010, "US", MARKER[:3].encode())
        ds.PatientName = "x"  # a rule touches Rows? no: the walker decodes it for explain
    elif case == "3000 nested":
        inner = Dataset()
        inner.PatientName = f"{MARKER}^DEEP"
        for _ in range(3000):
            wrapper = Dataset()
            wrapper.ReferencedImageSequence = Sequence([inner])
            inner = wrapper
        ds.ReferencedImageSequence = inner.ReferencedImageSequence
    return ds


def encoded(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def on_disk(case: str, folder: Path) -> Path:
    if case == "invalid transfer syntax UID":
        data = encoded(base()).replace(
            ExplicitVRLittleEndian.encode() + b"\x00", _fit(f"1.2.{MARKER}.", 20), 1
        )
    elif case == "unknown VR":
        data = encoded(base()).replace(
            b"LO" + bytes([len(f"{MARKER} STUDY") + 1, 0]), b"ZZ\x0e\x00", 1
        )
    elif case == "3000 nested":
        data = _nested(3000, defined=False)
    else:
        raise AssertionError(case)
    path = folder / "case.dcm"
    path.write_bytes(data)
    return path


def assert_clean(exc: BaseException) -> None:
    assert isinstance(exc, IDISCoreError), type(exc)
    assert MARKER not in str(exc) and MARKER not in repr(exc.args)
    assert exc.__cause__ is None and exc.__suppress_context__


@pytest.mark.parametrize("case", ["unknown VR", "bytes length", "3000 nested"])
def test_deidentify_and_explain_raise_idiscore_errors(case: str) -> None:
    core = create_default_core()
    ds = in_memory(case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            core.deidentify(ds)
        except Exception as exc:
            assert_clean(exc)
        with pytest.raises(IDISCoreError) as explained:
            list(explain_dataset(ds, core.profile, show_values=True))
    assert_clean(explained.value)
    expected = {"unknown VR": "NotImplementedError", "bytes length": "BytesLengthException"}
    assert str(explained.value).endswith(expected.get(case, "nested too deeply"))


@pytest.mark.parametrize("case", ["invalid transfer syntax UID", "unknown VR", "3000 nested"])
def test_deidentify_file_raises_idiscore_errors(case: str, tmp_path: Path) -> None:
    source = on_disk(case, tmp_path)
    try:
        create_default_core().deidentify_file(source, tmp_path / "out.dcm")
    except Exception as exc:
        assert_clean(exc)
        assert not (tmp_path / "out.dcm").exists()
    else:  # pydicom reads an unknown transfer syntax as explicit VR little endian
        assert case == "invalid transfer syntax UID"


def test_foreign_errors_keep_their_type_but_not_their_message() -> None:
    converted = idiscore_error(ValueError(f"bad value '{MARKER}'"), "cannot de-identify")
    assert isinstance(converted, DeidentificationError)
    assert str(converted) == "cannot de-identify: ValueError"
    mine = InputError("truncated")
    assert idiscore_error(mine, "x") is mine
    try:
        raise DeidentificationError(f"ValueError: {MARKER}", tag=0x00100010) from KeyError(MARKER)
    except DeidentificationError as exc:
        cleaned = idiscore_error(exc, "cannot de-identify")
    assert str(cleaned) == "cannot de-identify: KeyError" and cleaned.tag == 0x00100010
    assert str(idiscore_error(RecursionError(), "x")) == "x: the data set is nested too deeply"


def _output_with(case: str) -> Dataset:
    """A de-identified output to which the caller added a value pydicom cannot encode."""
    output = create_default_core().deidentify(base())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if case == "number out of range":
            output.add_new(0x00280011, "US", 987654)  # Columns
        elif case == "text for a number":
            output.add_new(0x00280010, "US", MARKER)  # Rows
        else:
            raise AssertionError(case)
    return output


@pytest.mark.parametrize("options", [{}, {"implicit_vr": False, "little_endian": True}])
@pytest.mark.parametrize("case", ["number out of range", "text for a number"])
def test_save_as_of_an_output_raises_idiscore_errors(
    case: str, options: dict[str, bool], tmp_path: Path
) -> None:
    output = _output_with(case)
    for destination in (io.BytesIO(), tmp_path / "out.dcm"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(IDISCoreError) as raised:
                output.save_as(destination, **options)
        assert_clean(raised.value)
        assert "987654" not in str(raised.value)
        assert str(raised.value).startswith("cannot write the data set: ")
        assert isinstance(raised.value, EncodingError) and isinstance(raised.value, ValueError)


def test_save_as_passes_on_errors_of_the_file_system(tmp_path: Path) -> None:
    output = create_default_core().deidentify(base())
    with pytest.raises(FileNotFoundError):
        output.save_as(tmp_path / "no such folder" / "out.dcm")


def test_deidentify_file_names_an_encoding_error_not_a_storage_error(tmp_path: Path) -> None:
    source = tmp_path / "in.dcm"
    ds = base()
    ds.add_new(0x00280011, "US", 1)
    source.write_bytes(encoded(ds))
    sets = get_dicom_rule_sets()
    # a Columns value of 987654 written by a rule: pydicom cannot encode it as US
    big = RuleSet(rules=[Rule(SingleTag("Columns"), SetFixedValue(987654))], name="big")
    core = Core(Profile(rule_sets=[sets.basic_profile, big]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(IDISCoreError) as raised:
            core.deidentify_file(source, tmp_path / "out.dcm")
    assert not isinstance(raised.value, StorageError)
    assert isinstance(raised.value, EncodingError)
    assert_clean(raised.value)
    assert "987654" not in str(raised.value)
    assert not (tmp_path / "out.dcm").exists()
