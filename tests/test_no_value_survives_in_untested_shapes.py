"""An attacker's corpus: values that survived the default core in shapes nobody tested.

Each finding is planted in every encoding a file can give it (explicit VR little and big
endian, implicit VR, the element written as explicit ``UN``), at the top level and inside
an item of a sequence the profile keeps and walks, and the output bytes of
``deidentify_file`` and of ``deidentify().save_as`` are searched for it.
"""

from __future__ import annotations

import io
import struct
import warnings
from functools import cache
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.datadict import DicomDictionary, keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from idiscore.core import Core, Profile
from idiscore.defaults import create_default_core, default_profile
from idiscore.errors import DeidentificationError
from idiscore.pseudonyms import Pseudonymizer
from idiscore.safety_net import SAFETY_NET_NAME

from factories import assert_unchanged, snapshot, sop_dataset

SYNTAXES = {
    "explicit-le": ExplicitVRLittleEndian,
    "implicit-le": ImplicitVRLittleEndian,
    "explicit-be": ExplicitVRBigEndian,
    "explicit-un": ExplicitVRLittleEndian,  # the planted elements written with VR UN
}


@cache
def _core() -> Core:
    return create_default_core(pseudonymizer=Pseudonymizer("attack-test-key"))


@cache
def _without_net() -> Profile:
    return Profile(default_profile().rule_sets, name="no net", safety_net=False)


def _planted(tag: int, vr: str, value: bytes, encoding: str) -> DataElement:
    if encoding == "explicit-un":
        return DataElement(tag, "UN", value)
    if vr in ("OB", "OW", "UN"):
        return DataElement(tag, vr, value)
    return DataElement(tag, vr, value.decode("ascii"))


def _file(
    tmp_path: Path, planted: list[tuple[int, str, bytes]], encoding: str, *, nested: bool
) -> Path:
    """A file with the ``planted`` (tag, VR, value) elements, in ``encoding``."""
    ds = sop_dataset()
    holder = ds
    if nested:  # inside a sequence that no rule names: kept, and its items walked
        item = Dataset()
        item.CodeValue = "T-D1100"
        item.CodingSchemeDesignator = "SRT"
        item.CodeMeaning = "Head"
        ds.AnatomicRegionSequence = Sequence([item])
        holder = item
    for tag, vr, value in planted:
        holder.add(_planted(tag, vr, value, encoding))
    syntax = SYNTAXES[encoding]
    ds.file_meta.TransferSyntaxUID = syntax
    path = tmp_path / f"{encoding}.dcm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(
            path,
            enforce_file_format=True,
            implicit_vr=syntax == ImplicitVRLittleEndian,
            little_endian=syntax != ExplicitVRBigEndian,
        )
    return path


def _outputs(tmp_path: Path, source: Path) -> list[bytes]:
    """The bytes of ``deidentify_file`` and of ``deidentify().save_as`` for ``source``."""
    core = _core()
    out = tmp_path / "out.dcm"
    core.deidentify_file(source, out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(source)
    before = snapshot(ds)
    buffer = io.BytesIO()
    core.deidentify(ds).save_as(buffer)
    assert_unchanged(ds, before)
    written = out.read_bytes()
    assert written == buffer.getvalue(), "both entry points give the same bytes"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pydicom.dcmread(out).walk(lambda _ds, _el: None)  # re-reads, every item
    return [written, buffer.getvalue()]


def _assert_absent(outputs: list[bytes], planted: list[tuple[int, str, bytes]]) -> None:
    for output in outputs:
        for tag, _vr, value in planted:
            assert value.rstrip(b" \0") not in output, f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


# -- finding 1: URLs and AE titles that no rule names -----------------------------------


def _unnamed(vrs: tuple[str, ...]) -> list[int]:
    lookup = _without_net().compiled.lookup
    return sorted(
        tag
        for tag, (vr, _vm, _name, _retired, keyword) in DicomDictionary.items()
        if vr in vrs and not tag >> 16 & 1 and tag >> 16 not in (0x0000, 0x0002)
        if lookup(tag) is None and keyword != "CodingSchemeURL"
    )


UNNAMED_LOCATORS = _unnamed(("AE", "UR"))


def test_the_dictionary_has_unnamed_urls() -> None:
    """Retrieve URL, Storage URL, Pixel Data Provider URL ... are in no table row."""
    keywords = {keyword_for_tag(tag) for tag in UNNAMED_LOCATORS}
    assert {"RetrieveURL", "StorageURL", "PixelDataProviderURL", "ContactURI"} <= keywords


@pytest.mark.parametrize("nested", [False, True], ids=["top", "in-item"])
@pytest.mark.parametrize("encoding", SYNTAXES)
def test_unnamed_urls_and_ae_titles_are_removed(
    tmp_path: Path, encoding: str, nested: bool
) -> None:
    planted = [
        (tag, DicomDictionary[tag][0], f"http://pacs.example.org/wado?p=LEAK{i:03d}X".encode())
        for i, tag in enumerate(UNNAMED_LOCATORS)
    ]
    outputs = _outputs(tmp_path, _file(tmp_path, planted, encoding, nested=nested))
    _assert_absent(outputs, planted)
    assert b"pacs.example.org" not in outputs[0]


def test_the_net_removes_every_unnamed_url_and_names_itself() -> None:
    profile = _core().profile
    for tag in UNNAMED_LOCATORS:
        rule = profile.get_rule(tag)
        assert rule is not None, keyword_for_tag(tag)
        owner = profile.rule_set_of(rule)
        assert owner is not None and owner.name == SAFETY_NET_NAME
    assert profile.get_rule("CodingSchemeURL") is None, "a code's scheme is structure"


def test_an_ae_title_in_a_command_group_element_is_removed() -> None:
    """A dataset received over the network may still hold command elements (group 0):
    Move Originator AE Title names the node that asked for the data."""
    ds = sop_dataset()
    ds.add(DataElement(0x00001030, "AE", "LEAKMOVEAE"))
    ds.add(DataElement(0x00000902, "LO", "Smith PID-778899"))
    out = _core().deidentify(ds)
    assert 0x00001030 not in out
    assert "778899" not in str(out.get((0x0000, 0x0902), DataElement(0x902, "LO", "")).value)


# -- finding 2: elements of even groups that the dictionary does not know ---------------

UNKNOWN = [
    (0x00089999, "LO", b"Jane Smith LEAKUNKNOWN1"),
    (0x00100099, "SH", b"LEAKUNKNOWN2"),
    (0x0040F00D, "UN", b"LEAKUNKNOWN3"),
    (0x00280020, "OB", b"LEAKRETIREDBLANK"),  # a nameless retired entry ("Retired-blank")
]


@pytest.mark.parametrize("nested", [False, True], ids=["top", "in-item"])
@pytest.mark.parametrize("encoding", SYNTAXES)
def test_unknown_even_group_elements_are_removed(
    tmp_path: Path, encoding: str, nested: bool
) -> None:
    outputs = _outputs(tmp_path, _file(tmp_path, UNKNOWN, encoding, nested=nested))
    _assert_absent(outputs, UNKNOWN)


def test_known_standard_elements_are_not_unknown() -> None:
    profile = _core().profile
    for keyword in ("Rows", "ImageType", "PixelData", "WindowCenter", "60003000"):
        rule = profile.get_rule(keyword)
        assert rule is None or profile.rule_set_of(rule).name != SAFETY_NET_NAME  # type: ignore[union-attr]


# -- finding 3: implicit VR data in a file whose transfer syntax says explicit ----------


def test_implicit_data_under_an_explicit_transfer_syntax_is_written(tmp_path: Path) -> None:
    """SC_rgb_jpeg.dcm says JPEG Baseline (explicit VR) but holds implicit VR elements
    (pydicom reads it with a warning). Kept elements had no VR (or 'OB or OW') and the
    writer crashed with a TypeError instead of writing them; the default bouncers hid it
    by refusing the file for its burned-in annotation first."""
    source = Path(get_testdata_file("SC_rgb_jpeg.dcm"))  # type: ignore[arg-type]
    core = Core(default_profile(), pseudonymizer=Pseudonymizer("attack-test-key"))
    out = tmp_path / "out.dcm"
    core.deidentify_file(source, out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        original = pydicom.dcmread(source)
        written = pydicom.dcmread(out)
        buffer = io.BytesIO()
        core.deidentify(original).save_as(buffer)
    assert out.read_bytes() == buffer.getvalue()
    assert written.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
    assert written.PixelData == original.PixelData
    assert written.ImageType == original.ImageType
    assert written.Rows == original.Rows and written.BitsAllocated == 8
    assert written.SOPInstanceUID != original.SOPInstanceUID
    assert original.SOPInstanceUID.encode() not in out.read_bytes()
    assert original.ContentDate.encode() not in out.read_bytes()


# -- finding 4: a standard sequence written with a wrong explicit VR --------------------


def _items(*names: str) -> bytes:
    """Items (implicit VR little endian, defined length) each holding a Patient's Name."""
    out = b""
    for name in names:
        value = name.encode("ascii")
        value += b" " * (len(value) % 2)
        element = struct.pack("<HHI", 0x0010, 0x0010, len(value)) + value
        out += struct.pack("<HHI", 0xFFFE, 0xE000, len(element)) + element
    return out


def _wrong_vr_file(tmp_path: Path, vr: str, value: bytes) -> Path:
    ds = sop_dataset()
    for tag in (0x00082218, 0x00081250):  # no rule; the profile's rule
        ds.add(DataElement(tag, vr, value if vr in ("OB", "OW") else value.decode("latin-1")))
    path = tmp_path / f"wrong-{vr}.dcm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize("defer_size", [None, 16], ids=["read", "deferred"])
@pytest.mark.parametrize("vr", ["OB", "OW", "UT", "UC", "LT"])
def test_a_sequence_behind_a_wrong_explicit_vr_is_walked(
    tmp_path: Path, vr: str, defer_size: int | None
) -> None:
    """The dictionary says SQ, the file says OB (or text): the items are still walked."""
    value = _items("Leakitem^Jo", "Other^Leakname")
    source = _wrong_vr_file(tmp_path, vr, value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert vr == pydicom.dcmread(source)[0x00082218].VR, "written with the wrong VR"
    outputs = _outputs(tmp_path, source)
    out = tmp_path / "deferred.dcm"
    options = {} if defer_size is None else {"defer_size": defer_size}
    _core().deidentify_file(source, out, **options)  # type: ignore[arg-type]
    for output in (*outputs, out.read_bytes()):
        assert b"Leakitem" not in output and b"Leakname" not in output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        written = pydicom.dcmread(out)
    assert written[0x00082218].VR == "SQ" and len(written.AnatomicRegionSequence) == 2
    assert 0x00081250 not in written or written[0x00081250].VR == "SQ"


@pytest.mark.parametrize("vr", ["OB", "LO"])
def test_bytes_in_a_sequences_place_are_refused(tmp_path: Path, vr: str) -> None:
    """A value that stands where the dictionary puts a sequence but holds no items could
    be anything: the dataset is refused rather than the bytes copied."""
    source = _wrong_vr_file(tmp_path, vr, b"Jane Smith 778899")
    with pytest.raises(DeidentificationError):
        _core().deidentify_file(source, tmp_path / "out.dcm")
    assert not (tmp_path / "out.dcm").exists()


# -- finding 5: a safe private attribute holding something else than declared -----------


def _safe_private_file(
    tmp_path: Path, vr: str, value: bytes, syntax: str, tag: int = 0x00191023
) -> Path:
    """A file with a safe private attribute of GEMS_ACQU_01: by default (0019,xx23) Table
    Speed, DS in Table E.3.10-1."""
    ds = sop_dataset(PatientName="Smith^Jane", PatientID="PID-778899")
    ds.add(DataElement(0x00190010, "LO", "GEMS_ACQU_01"))
    ds.add(DataElement(tag, vr, value if vr in ("OB", "UN") else value.decode()))
    ds.file_meta.TransferSyntaxUID = SYNTAXES[syntax]
    path = tmp_path / f"safe-{tag:08X}-{vr}-{syntax}.dcm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(
            path,
            enforce_file_format=True,
            implicit_vr=syntax == "implicit-le",
            little_endian=syntax != "explicit-be",
        )
    return path


@pytest.mark.parametrize("syntax", SYNTAXES)
@pytest.mark.parametrize(
    ("vr", "value"),
    [("LO", b"Jane Smith"), ("UT", b"Jane Smith"), ("OB", b"Jane Smith"), ("UN", b"Smith^J")],
)
def test_a_safe_private_attribute_of_another_vr_or_value_is_removed(
    tmp_path: Path, vr: str, value: bytes, syntax: str
) -> None:
    """Safe means what its creator puts there (a table speed, DS): a name written into the
    block of a known creator, or a value of another VR, is not kept."""
    if syntax == "explicit-un":
        vr = "UN"
    outputs = _outputs(tmp_path, _safe_private_file(tmp_path, vr, value, syntax))
    for output in outputs:
        assert b"Smith" not in output


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_a_safe_private_attribute_as_declared_is_kept(tmp_path: Path, syntax: str) -> None:
    vr = "UN" if syntax == "explicit-un" else "DS"
    outputs = _outputs(tmp_path, _safe_private_file(tmp_path, vr, b"12.5", syntax))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        written = pydicom.dcmread(io.BytesIO(outputs[0]))
    assert written[0x00191023].value in ("12.5", b"12.5", 12.5)
    assert written[0x00190010].value == "GEMS_ACQU_01"


def _safe_text_file(tmp_path: Path, value: str, syntax: str) -> Path:
    # (0019,xx9E) GEMS_ACQU_01: Internal Pulse Sequence Name, LO in Table E.3.10-1
    return _safe_private_file(tmp_path, "LO", value.encode(), syntax, 0x0019109E)


@pytest.mark.parametrize("syntax", SYNTAXES)
@pytest.mark.parametrize("value", ["FSE SMITH", "jane", "PID-778899", "Smith^Jane"])
def test_safe_private_text_naming_the_patient_is_removed(
    tmp_path: Path, value: str, syntax: str
) -> None:
    """A safe free-text attribute holds the vendor's words; a name or ID of this very
    patient typed into it is not kept."""
    outputs = _outputs(tmp_path, _safe_text_file(tmp_path, value, syntax))
    for output in outputs:
        assert b"Smith" not in output and b"SMITH" not in output and b"778899" not in output
        assert b"jane" not in output.lower()


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_safe_private_text_of_the_vendor_is_kept(tmp_path: Path, syntax: str) -> None:
    outputs = _outputs(tmp_path, _safe_text_file(tmp_path, "FSE-XL 3D", syntax))
    for output in outputs:
        assert b"FSE-XL 3D" in output


def test_undeclared_safe_private_text_naming_the_patient_is_removed() -> None:
    from idiscore.operators.base import Context, _Shared
    from idiscore.operators.safe_private import KeepAsDeclared
    from idiscore.pseudonyms import Pseudonymizer

    ds = sop_dataset(PatientName="Smith^Jane")
    context = Context(ds, _Shared(ds, Pseudonymizer("key")))
    anything = KeepAsDeclared("")  # the table declares no VR: any value is kept ...
    assert anything.apply(DataElement(0x00191001, "LO", "FSE-XL"), context) is not None
    assert anything.apply(DataElement(0x00191001, "US", 7), context) is not None
    # ... but free text naming this patient, on either path
    assert anything.apply(DataElement(0x00191001, "LO", "FSE SMITH"), context) is None
    assert anything.keeps_encoded("LO", b"FSE SMITH") is None  # (decided by apply)
    assert anything.keeps_encoded("US", b"\x07\x00") is True
