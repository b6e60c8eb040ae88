"""A sequence is a sequence whatever its encoding: names, IDs, dates and UIDs inside come
out exactly as from the plain SQ encoding.

The encodings a sequence can arrive in (written byte by byte here, since pydicom would
not write most of them):

* ``SQ`` -- explicit VR SQ (the reference), or no VR in an implicit VR file;
* ``SQ undefined`` -- the same, of undefined length (sequence and item delimiters);
* ``UN`` -- explicit VR UN whose value is the items in Implicit VR Little Endian
  (PS3.5 §6.2.2), of defined length (in an implicit VR file: as ``SQ``);
* ``UN undefined`` -- the same with undefined length, items of undefined length;

each for a standard sequence tag, a private tag whose creator pydicom's private
dictionary knows (Agfa ADC NX 0019,xx09 is SQ there) and a private tag of an unknown
creator -- in Explicit VR Little Endian, Implicit VR Little Endian and Explicit VR Big
Endian files. Each goes through ``deidentify()``, ``deidentify().save_as()`` (re-read)
and ``deidentify_file()`` (also with every value deferred).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pydicom
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_sequence
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from idiscore.cli.explain import explain_dataset
from idiscore.core import Core
from idiscore.defaults import DEFAULT_OPTIONS, create_core, default_profile, profile_from_options
from idiscore.elements import decode, is_sequence, vr_of
from idiscore.errors import DeidentificationError, InputError
from idiscore.identifiers import PrivateBlockTagIdentifier, SingleTag
from idiscore.operators import Empty, Hash, HashUID, Keep, Operator, Remove, Replace
from idiscore.pseudonyms import Pseudonymizer
from idiscore.rules import Rule, RuleSet

from factories import CT_IMAGE_STORAGE, assert_unchanged, snapshot

ENCODINGS = ("SQ", "SQ undefined", "UN", "UN undefined")
SYNTAXES = (ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian)

#: Standard sequences the default profile keeps (their items get their own rules).
PUBLIC_SEQUENCES = (0x00081115, 0x0008114A, 0x00081032)  # ReferencedSeries, -Instance, Procedure
KNOWN_CREATOR = "Agfa ADC NX"  # pydicom's private dictionary: (0019,xx09) is SQ
UNKNOWN_CREATOR = "ACME SEQ 1.0"
#: (tag, creator tag, creator): private sequences, creator in block 0x10
PRIVATE_SEQUENCES = (
    (0x00191009, 0x00190010, KNOWN_CREATOR),
    (0x00091001, 0x00090010, UNKNOWN_CREATOR),
)
KEEP_PRIVATE = RuleSet(
    [
        Rule(PrivateBlockTagIdentifier(f"0019,[{KNOWN_CREATOR}]09"), Keep()),
        Rule(PrivateBlockTagIdentifier(f"0009,[{UNKNOWN_CREATOR}]01"), Keep()),
    ],
    name="keep the test's private sequences",
)
_LONG = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
_UNDEFINED = 0xFFFFFFFF


@dataclass(frozen=True)
class Leaf:
    tag: int
    vr: str
    text: str


@dataclass(frozen=True)
class Seq:
    tag: int
    items: tuple[tuple[Leaf | Seq, ...], ...]
    encoding: str = "SQ"
    creator: tuple[int, str] | None = None  # (creator tag, creator) of a private sequence


Node = Leaf | Seq


def phi_leaves(n: int) -> tuple[Leaf, ...]:
    """Identifying values, unique to ``n``, that the default profile never keeps."""
    return (
        Leaf(0x00080020, "DA", f"19{n % 90 + 10:02d}0314"),  # StudyDate
        Leaf(0x00080050, "SH", f"ACC{n}LEAK"),  # AccessionNumber
        Leaf(0x00080080, "LO", f"Leak Hospital {n}"),  # InstitutionName
        Leaf(0x00081155, "UI", f"1.2.826.0.1.3680043.8.498.4242{n}"),  # ReferencedSOPInstance
        Leaf(0x00100010, "PN", f"Leak^Name{n}"),  # PatientName
        Leaf(0x00100020, "LO", f"LEAKID{n}"),  # PatientID
    )


def markers(nodes: tuple[Node, ...]) -> set[bytes]:
    """The identifying values of a tree, as bytes (none may appear in an output)."""
    found: set[bytes] = set()
    for node in nodes:
        if isinstance(node, Leaf):
            if node.tag != 0x00080016:
                found.add(node.text.encode())
        else:
            for item in node.items:
                found |= markers(item)
    return found


# -- writing the bytes ------------------------------------------------------------------


def _value(leaf: Leaf) -> bytes:
    data = leaf.text.encode("latin-1")
    if len(data) % 2:
        data += b"\0" if leaf.vr == "UI" else b" "
    return data


def _header(tag: int, vr: str | None, length: int, implicit: bool, little: bool) -> bytes:
    order = "<" if little else ">"
    group, number = tag >> 16, tag & 0xFFFF
    if implicit or vr is None:
        return struct.pack(order + "HHL", group, number, length)
    if vr in _LONG:
        return struct.pack(order + "HH2sHL", group, number, vr.encode(), 0, length)
    return struct.pack(order + "HH2sH", group, number, vr.encode(), length)


def _delimiter(tag: int, little: bool) -> bytes:
    return struct.pack("<HHL" if little else ">HHL", 0xFFFE, tag, 0)


def encode(nodes: tuple[Node, ...], implicit: bool, little: bool) -> bytes:
    """``nodes`` as a data set (or item) in the given encoding."""
    flat: list[Node] = []
    for node in nodes:
        flat.append(node)
        if isinstance(node, Seq) and node.creator is not None:
            flat.append(Leaf(node.creator[0], "LO", node.creator[1]))
    out = b""
    for node in sorted(flat, key=lambda n: n.tag):
        if isinstance(node, Leaf):
            value = _value(node)
            out += _header(node.tag, node.vr, len(value), implicit, little) + value
            continue
        as_un = node.encoding.startswith("UN") and not implicit
        undefined = node.encoding.endswith("undefined")
        # PS3.5 6.2.2: the value of a UN sequence is Implicit VR Little Endian
        item_implicit, item_little = (True, True) if as_un else (implicit, little)
        body = b""
        for item in node.items:
            content = encode(item, item_implicit, item_little)
            if undefined:
                body += _header(0xFFFEE000, None, _UNDEFINED, True, item_little) + content
                body += _delimiter(0xE00D, item_little)
            else:
                body += _header(0xFFFEE000, None, len(content), True, item_little) + content
        vr = "UN" if as_un else "SQ"
        length = _UNDEFINED if undefined else len(body)
        out += _header(node.tag, vr, length, implicit, little) + body
        if undefined:
            out += _delimiter(0xE0DD, item_little)
    return out


def file_bytes(nodes: tuple[Node, ...], syntax: UID, preamble: bytes = b"\x00" * 128) -> bytes:
    top = (
        Leaf(0x00080016, "UI", CT_IMAGE_STORAGE),
        Leaf(0x00080018, "UI", "1.2.826.0.1.3680043.8.498.10"),
        Leaf(0x00080060, "CS", "CT"),
        Leaf(0x0020000D, "UI", "1.2.826.0.1.3680043.8.498.11"),
        Leaf(0x0020000E, "UI", "1.2.826.0.1.3680043.8.498.12"),
        *nodes,
    )
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
    meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.8.498.10"
    meta.TransferSyntaxUID = syntax
    header = DicomBytesIO()
    header.is_little_endian, header.is_implicit_VR = True, False
    write_file_meta_info(header, meta, enforce_standard=True)
    body = encode(top, syntax.is_implicit_VR, syntax.is_little_endian)
    return preamble + b"DICM" + header.getvalue() + body


def with_encoding(nodes: tuple[Node, ...], encoding: str | None) -> tuple[Node, ...]:
    """Every sequence of ``nodes`` re-encoded (None: as drawn)."""
    result: list[Node] = []
    for node in nodes:
        if isinstance(node, Seq):
            items = tuple(with_encoding(item, encoding) for item in node.items)
            node = replace(node, items=items, encoding=encoding or node.encoding)
        result.append(node)
    return tuple(result)


# -- reading the outputs, independently of idiscore -------------------------------------

_ITEM_TAGS = (b"\xfe\xff\x00\xe0", b"\xff\xfe\xe0\x00")


def tree(ds: Dataset) -> tuple[Any, ...]:
    """Every element of ``ds`` as (tag, value), sequences as tuples of item trees (an
    empty one as ``""``); a UN value that holds items is read as a sequence (here, with
    pydicom only)."""
    result = []
    for tag in sorted(ds._dict):
        element = ds[tag]
        value = element.value
        if element.VR == "UN" and isinstance(value, bytes) and value[:4] in _ITEM_TAGS:
            little = value[:4] == _ITEM_TAGS[0]
            value = read_sequence(io.BytesIO(value), True, little, len(value), ["iso8859"])
        if isinstance(value, pydicom.sequence.Sequence) and len(value):
            result.append((int(tag), tuple(tree(item) for item in value)))
            continue
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        # empty is empty: a sequence without items, a zero-length UN
        text = "" if value is None or isinstance(value, pydicom.sequence.Sequence) else str(value)
        result.append((int(tag), text.strip(" \x00")))
    return tuple(result)


def read_back(data: bytes) -> Dataset:
    return pydicom.dcmread(io.BytesIO(data), force=True)


def default_core() -> Core:
    """The default profile, whose Retain Safe Private also keeps the test's private
    sequences (as a site's safe private definition), and the standard bouncers."""
    safe = [f"0019,[{KNOWN_CREATOR}]09", f"0009,[{UNKNOWN_CREATOR}]01"]
    return create_core(
        default_profile(safe_private_definition=safe),
        pseudonymizer=Pseudonymizer("sequence-encodings-key"),
    )


_CORE = default_core()


@dataclass
class Outputs:
    memory: tuple[Any, ...]
    saved: tuple[Any, ...]
    file: tuple[Any, ...]
    data: list[bytes]


def deidentify_everywhere(
    core: Core, data: bytes, folder: Path, defer_size: int | None = None
) -> Outputs:
    """The three ways through the Core; the input is checked unchanged."""
    ds = read_back(data)
    before = snapshot(ds)
    out = core.deidentify(ds)
    assert_unchanged(ds, before)
    buffer = io.BytesIO()
    out.save_as(buffer)
    source, target = folder / "in.dcm", folder / "out.dcm"
    source.write_bytes(data)
    core.deidentify_file(source, target, defer_size=defer_size)
    written = target.read_bytes()
    target.unlink()
    return Outputs(
        tree(out),
        tree(read_back(buffer.getvalue())),
        tree(read_back(written)),
        [buffer.getvalue(), written],
    )


def uses(nodes: tuple[Node, ...], encoding: str) -> bool:
    return any(
        isinstance(n, Seq) and (n.encoding == encoding or any(uses(i, encoding) for i in n.items))
        for n in nodes
    )


def check_against_sq(
    core: Core, nodes: tuple[Node, ...], syntax: UID, folder: Path, defer_size: int | None = None
) -> Outputs | None:
    """De-identify ``nodes`` as encoded and as plain SQ in Explicit VR Little Endian: the
    same trees come out, and no identifying value is left in any output.

    An undefined-length UN in a big endian file cannot be read by pydicom (it reads the
    little endian items as big endian): the file is refused, by ``dcmread`` or when the
    sequence around it is decoded -- never written (None returned).
    """
    if syntax == ExplicitVRBigEndian and uses(nodes, "UN undefined"):
        data = file_bytes(nodes, syntax)
        source = folder / "in.dcm"
        source.write_bytes(data)
        with pytest.raises((InputError, DeidentificationError)):
            core.deidentify_file(source, folder / "out.dcm", defer_size=defer_size)
        assert not (folder / "out.dcm").exists()
        try:
            ds = read_back(data)
        except Exception:
            return None
        with pytest.raises(DeidentificationError):
            core.deidentify(ds)
        return None
    reference = deidentify_everywhere(
        core, file_bytes(with_encoding(nodes, "SQ"), ExplicitVRLittleEndian), folder
    )
    got = deidentify_everywhere(core, file_bytes(nodes, syntax), folder, defer_size)
    assert reference.memory == reference.saved == reference.file
    assert got.memory == reference.memory
    assert got.saved == reference.memory
    assert got.file == reference.memory
    for data in [*reference.data, *got.data]:
        for marker in markers(nodes):
            assert marker not in data, "an identifying value survived"
    return got


def sequence_of(slot: int | tuple[int, int, str], items: tuple[tuple[Node, ...], ...]) -> Seq:
    if isinstance(slot, int):
        return Seq(slot, items)
    tag, creator_tag, creator = slot
    return Seq(tag, items, creator=(creator_tag, creator))


SLOTS: list[int | tuple[int, int, str]] = [PUBLIC_SEQUENCES[0], *PRIVATE_SEQUENCES]
SLOT_IDS = ["standard", "private known creator", "private unknown creator"]


def _two_levels(slot: int | tuple[int, int, str], encoding: str) -> tuple[Node, ...]:
    inner = Seq(PUBLIC_SEQUENCES[1], ((*phi_leaves(2),),), encoding)
    return (
        replace(sequence_of(slot, ((*phi_leaves(1), inner), phi_leaves(3))), encoding=encoding),
    )


@pytest.mark.parametrize("syntax", SYNTAXES, ids=["explicit", "implicit", "big endian"])
@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("slot", SLOTS, ids=SLOT_IDS)
def test_every_encoding_comes_out_as_the_plain_sequence(
    slot: int | tuple[int, int, str], encoding: str, syntax: UID, tmp_path: Path
) -> None:
    nodes = _two_levels(slot, encoding)
    got = check_against_sq(_CORE, nodes, syntax, tmp_path)
    if got is None:
        return
    tag = nodes[0].tag
    assert tag in dict(got.memory), "the kept sequence is in the output"
    assert len(dict(got.memory)[tag]) == 2, "with both its items"
    if not syntax.is_implicit_VR:
        # a sequence that was UN is written as SQ (what PS3.5 intends)
        assert pydicom.dcmread(io.BytesIO(got.data[1]))._dict[tag].VR == "SQ"


@pytest.mark.parametrize("defer_size", [16, 1024])
@pytest.mark.parametrize("encoding", ["UN", "UN undefined"])
@pytest.mark.parametrize("slot", SLOTS, ids=SLOT_IDS)
def test_deferred_values_are_sniffed_not_streamed(
    slot: int | tuple[int, int, str], encoding: str, defer_size: int, tmp_path: Path
) -> None:
    """A UN value left in the file (defer_size) is read and walked, not copied."""
    # a long private OB inside makes the sequence larger than defer_size=1024
    blob = Leaf(0x00291010, "OB", "x" * 2000)
    items = ((*phi_leaves(5), Leaf(0x00290010, "LO", "BLOB MAKER"), blob),)
    nodes = (replace(sequence_of(slot, items), encoding=encoding),)
    check_against_sq(_CORE, nodes, ExplicitVRLittleEndian, tmp_path, defer_size)


SEQUENCE_RULES: list[tuple[str, Operator | None]] = [
    ("no rule", None),
    ("K", Keep()),
    ("X", Remove()),
    ("Z", Empty()),
    ("D", Replace()),
    ("U", HashUID()),
]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("name,operator", SEQUENCE_RULES, ids=[n for n, _ in SEQUENCE_RULES])
@pytest.mark.parametrize("slot", SLOTS, ids=SLOT_IDS)
def test_rules_on_the_whole_sequence_act_alike_on_every_encoding(
    slot: int | tuple[int, int, str],
    name: str,
    operator: Operator | None,
    encoding: str,
    tmp_path: Path,
) -> None:
    nodes = _two_levels(slot, encoding)
    rules = [
        Rule(SingleTag("PatientName"), Hash()),
        Rule(SingleTag("PatientID"), Hash()),
        Rule(SingleTag("StudyDate"), Empty()),
        Rule(SingleTag("AccessionNumber"), Remove()),
        Rule(SingleTag("InstitutionName"), Remove()),
        Rule(SingleTag("ReferencedSOPInstanceUID"), HashUID()),
    ]
    tag = nodes[0].tag
    if operator is not None:
        if isinstance(slot, int):
            rules.append(Rule(SingleTag(tag), operator))
        else:
            group, creator = slot[0] >> 16, slot[2]
            identifier = PrivateBlockTagIdentifier(f"{group:04X},[{creator}]{tag & 0xFF:02X}")
            rules.append(Rule(identifier, operator))
    from idiscore.core import Profile

    core = Core(Profile([RuleSet(rules, name="test")]))
    got = check_against_sq(core, nodes, ExplicitVRLittleEndian, tmp_path)
    assert got is not None
    outcome = dict(got.memory).get(tag)
    if name == "X":
        assert outcome is None
    elif name == "Z":
        assert outcome == ""
    else:
        assert outcome is not None and len(outcome) == 2


@st.composite
def sequence_trees(draw: st.DrawFn, depth: int = 2) -> tuple[Node, ...]:
    """One or two sequences (standard, private known or unknown creator), each in a drawn
    encoding, with items of identifying values and nested sequences."""
    counter = draw(st.integers(10, 10**6))
    nodes: list[Node] = []
    used: set[int] = set()
    for _ in range(draw(st.integers(1, 2))):
        slot = draw(st.sampled_from([*PUBLIC_SEQUENCES, *PRIVATE_SEQUENCES]))
        tag = slot if isinstance(slot, int) else slot[0]
        if tag in used:
            continue
        used.add(tag)
        items = []
        for _ in range(draw(st.integers(0, 2))):
            counter += 1
            leaves = draw(st.lists(st.sampled_from(phi_leaves(counter)), min_size=1, unique=True))
            item: tuple[Node, ...] = tuple(leaves)
            if depth > 0 and draw(st.booleans()):
                item += draw(sequence_trees(depth - 1).filter(bool))
            items.append(item)
        encoding = draw(st.sampled_from(ENCODINGS))
        nodes.append(replace(sequence_of(slot, tuple(items)), encoding=encoding))
    return tuple(nodes)


@settings(max_examples=100)
@given(
    nodes=sequence_trees(),
    syntax=st.sampled_from(SYNTAXES),
    defer_size=st.sampled_from([None, 16]),
    everywhere=st.sampled_from(ENCODINGS),
)
def test_random_sequence_trees_in_every_encoding(
    nodes: tuple[Node, ...],
    syntax: UID,
    defer_size: int | None,
    everywhere: str,
    tmp_path_factory: Any,
) -> None:
    """Each sequence in its drawn encoding, then all of them in one drawn encoding."""
    folder = tmp_path_factory.mktemp("trees")
    check_against_sq(_CORE, nodes, syntax, folder, defer_size)
    check_against_sq(_CORE, with_encoding(nodes, everywhere), syntax, folder, defer_size)


# -- the authority itself ---------------------------------------------------------------


def _raw(tag: int, vr: str | None, value: bytes, length: int | None = None) -> RawDataElement:
    implicit = vr is None
    return RawDataElement(
        pydicom.tag.BaseTag(tag), vr, len(value) if length is None else length, value, 0,
        implicit, True,
    )  # fmt: skip


ITEMS = encode((Seq(0x00081115, ((Leaf(0x00100010, "PN", "A^B"),),)),), True, True)[8:]


@pytest.mark.parametrize(
    "element,creator,expected",
    [
        (_raw(0x00081115, "SQ", ITEMS), None, True),
        (_raw(0x00081115, "UN", ITEMS), None, True),  # public SQ tag as UN
        (_raw(0x00081115, None, ITEMS), None, True),  # implicit VR, dictionary says SQ
        (_raw(0x00091001, "UN", ITEMS), "UNKNOWN", True),  # sniffed
        (_raw(0x00091001, None, ITEMS), None, True),  # implicit private, no creator
        (_raw(0x00191009, None, b""), KNOWN_CREATOR, True),  # private dictionary: SQ
        (_raw(0x00091001, "UN", b"", _UNDEFINED), None, True),  # undefined length UN
        (_raw(0x00091001, "UN", b"\x01\x02\x03\x04"), None, False),
        (_raw(0x00091001, None, b"ABCD"), None, False),
        (_raw(0x00100010, "UN", b"Doe^John"), None, False),  # PN as UN: pydicom says PN
        (_raw(0x00191009, "OB", ITEMS), KNOWN_CREATOR, False),  # a stated VR is the VR
        (DataElement(0x00091001, "UN", ITEMS), None, True),  # decoded by the caller
        (DataElement(0x00091001, "UN", b"\x00\x00"), None, False),
    ],
)
def test_is_sequence(element: Any, creator: str | None, expected: bool) -> None:
    assert is_sequence(element, creator) is expected


def test_vr_follows_pydicom() -> None:
    assert vr_of(_raw(0x00100010, None, b"A^B "), None) == "PN"
    assert vr_of(_raw(0x00100010, "UN", b"A^B "), None) == "PN"
    assert vr_of(_raw(0x00191009, None, b""), KNOWN_CREATOR) == "SQ"
    assert vr_of(_raw(0x00191009, None, b""), None) == "UN"
    assert vr_of(_raw(0x00190010, None, b"X "), None) == "LO"  # a private creator
    assert vr_of(_raw(0x00100010, "LO", b"A^B "), None) == "LO"  # stated: kept
    assert vr_of(_raw(0x00100010, "UN", b"x" * 0x10000), None) == "UN"  # long: stays UN


def test_a_value_that_looks_like_items_but_is_not_is_refused(tmp_path: Path) -> None:
    """When the bytes say 'items' but cannot be read as items, nothing is copied."""
    ds = Dataset()
    ds.add_new(0x00090010, "LO", UNKNOWN_CREATOR)
    ds._dict[pydicom.tag.BaseTag(0x00091001)] = _raw(0x00091001, "UN", b"\xfe\xff\x00\xe0\xff")
    with pytest.raises(DeidentificationError) as info:
        decode(ds._dict[pydicom.tag.BaseTag(0x00091001)], ds, "iso8859")
    assert info.value.tag == 0x00091001
    core = Core(profile_from_options([], extra=[KEEP_PRIVATE]))
    with pytest.raises(DeidentificationError):
        core.deidentify(ds)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_explain_walks_sequences_of_every_encoding(encoding: str) -> None:
    nodes = _two_levels(PRIVATE_SEQUENCES[1], encoding)
    ds = read_back(file_bytes(nodes, ExplicitVRLittleEndian))
    before = snapshot(ds)
    lines = list(explain_dataset(ds, _CORE.profile))
    assert_unchanged(ds, before)
    nested = [line for line in lines if line.depth >= 1]
    assert any(line.keyword == "PatientName" and line.depth == 1 for line in nested)
    assert any(line.keyword == "PatientName" and line.depth == 2 for line in nested)
    top = next(line for line in lines if line.tag == 0x00091001)
    assert top.vr == "SQ"


# -- the preamble -----------------------------------------------------------------------

PREAMBLE = b"Leak^Preamble PID-778899 " + bytes(range(103))


@pytest.mark.parametrize("keep", [False, True], ids=["default", "keep_preamble"])
def test_preamble_is_zeroed_unless_kept(keep: bool, tmp_path: Path) -> None:
    data = file_bytes((Leaf(0x00100010, "PN", "Leak^Name"),), ExplicitVRLittleEndian, PREAMBLE)
    core = Core(profile_from_options(DEFAULT_OPTIONS), keep_preamble=keep)
    expected = PREAMBLE if keep else b"\x00" * 128
    ds = read_back(data)
    before = snapshot(ds)
    buffer = io.BytesIO()
    core.deidentify(ds).save_as(buffer)
    assert_unchanged(ds, before)
    assert buffer.getvalue()[:132] == expected + b"DICM"
    source, target = tmp_path / "in.dcm", tmp_path / "out.dcm"
    source.write_bytes(data)
    core.deidentify_file(source, target)
    assert target.read_bytes()[:132] == expected + b"DICM"


def test_keep_preamble_is_validated() -> None:
    from idiscore.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        Core(profile_from_options([]), keep_preamble="yes")  # type: ignore[arg-type]


# -- datasets the caller has touched, or left in the file -------------------------------


@pytest.mark.parametrize("touch", ["printed", "deferred"])
@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("slot", SLOTS, ids=SLOT_IDS)
def test_decoded_or_deferred_inputs_give_the_same_output(
    slot: int | tuple[int, int, str], encoding: str, touch: str, tmp_path: Path
) -> None:
    """A dataset the caller printed (pydicom decoded every element in place: a private
    sequence of an unknown creator is then a DataElement of VR UN holding the bytes) or
    read with every value left in the file gives the output of the untouched dataset."""
    data = file_bytes(_two_levels(slot, encoding), ExplicitVRLittleEndian)
    expected = tree(_CORE.deidentify(read_back(data)))
    if touch == "printed":
        ds = read_back(data)
        str(ds)
    else:
        path = tmp_path / "in.dcm"
        path.write_bytes(data)
        ds = pydicom.dcmread(path, defer_size=16)
    before = snapshot(ds)
    out = _CORE.deidentify(ds)
    assert_unchanged(ds, before)
    assert tree(out) == expected
    buffer = io.BytesIO()
    out.save_as(buffer)
    assert tree(read_back(buffer.getvalue())) == expected
    for marker in markers(_two_levels(slot, encoding)):
        assert marker not in buffer.getvalue()


def test_items_in_big_endian_order_are_read_in_that_order() -> None:
    """Not what PS3.5 says for UN, but found: the items are read in the order found."""
    items = encode((Seq(0x00081115, ((Leaf(0x00100010, "PN", "Big^Endian"),),)),), True, False)
    element = _raw(0x00091001, "UN", items[8:])
    assert is_sequence(element, None)
    decoded = decode(element, Dataset(), "iso8859")
    assert decoded.VR == "SQ"
    assert decoded.value[0].PatientName == "Big^Endian"


def test_undefined_length_un_built_in_memory_is_a_sequence() -> None:
    element = DataElement(0x00091001, "UN", b"")
    element.is_undefined_length = True
    assert is_sequence(element, None)


def test_a_deferred_value_that_cannot_be_read_any_more_is_an_input_error(
    tmp_path: Path,
) -> None:
    data = file_bytes(_two_levels(PRIVATE_SEQUENCES[1], "UN"), ExplicitVRLittleEndian)
    path = tmp_path / "in.dcm"
    path.write_bytes(data)
    ds = pydicom.dcmread(path, defer_size=16)
    path.unlink()
    with pytest.raises(InputError) as info:
        _CORE.deidentify(ds)
    assert "Leak" not in str(info.value)
