"""A seeded generator of hostile input trees: mutated DICOM files and odd folder entries.

``build_tree(folder, files=2000, seed=...)`` writes, below ``folder / "in"``:

* ``files`` mutated DICOM files: pydicom's bundled files (only those in the wheel) and
  generated data sets (explicit and implicit VR, big endian, no preamble, nested and
  private sequences, undefined lengths), each carrying :data:`MARKER` in identifying
  values, then mutated: truncated, bytes flipped, a length field or a VR overwritten,
  an invalid transfer syntax or UID, values that are invalid for their VR (pydicom warns
  about them quoting the value), sequences nested up to 3,000 deep, two files spliced;
* FIFOs, a socket (where the system allows), a non-UTF-8 name, a newline in a name, a
  leading dash, a 240-byte name;
* symbolic links: to a file, to a folder outside the tree (followed), a broken one and a
  cycle.

It returns a :class:`Tree` with every entry a batch must report exactly once (keyed like
the report: resolved folder + name) and the regular files whose bytes must not change.
The same seed gives the same tree.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import re
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filereader import dcmread
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

#: planted in identifying values of every file: it must never appear in a message
MARKER = "ZQXMARK"

BUNDLED = [
    "CT_small.dcm",
    "MR_small.dcm",
    "rtplan.dcm",
    "rtdose.dcm",
    "rtstruct.dcm",
    "JPEG2000.dcm",
    "image_dfl.dcm",
    "no_meta.dcm",
    "MR_small_implicit.dcm",
    "MR_small_bigendian.dcm",
    "ExplVR_BigEnd.dcm",
    "SC_rgb_rle.dcm",
    "reportsi.dcm",
    "nested_priv_SQ.dcm",
    "priv_SQ.dcm",
]

_IDENTIFYING = {
    "PatientName": f"{MARKER}^PATIENT",
    "PatientID": f"{MARKER}-ID",
    "InstitutionName": f"{MARKER} HOSPITAL",
    "StudyDescription": f"{MARKER} STUDY",
    "ReferringPhysicianName": f"{MARKER}^DOCTOR",
    "AccessionNumber": f"{MARKER}01",
}


@dataclass
class Tree:
    """What :func:`build_tree` made."""

    root: Path
    #: every entry a batch reports, as its report key (resolved folder + name)
    entries: set[str] = field(default_factory=set)
    #: regular files (by their report key) and the hash of their bytes
    hashes: dict[str, str] = field(default_factory=dict)
    #: FIFOs, sockets: must be skipped, never opened
    special: list[str] = field(default_factory=list)

    def hash_inputs(self) -> dict[str, str]:
        return {path: _hash(Path(path)) for path in self.hashes}


def _hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _key(path: Path) -> str:
    return os.path.join(os.path.realpath(path.parent), path.name)


def _marked(ds: Dataset) -> Dataset:
    for keyword, value in _IDENTIFYING.items():
        setattr(ds, keyword, value)
    return ds


def _generated(rng: random.Random, index: int) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.{index + 1}"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.7"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.8"
    ds.Modality = "CT"
    ds.StudyDate = "20210314"
    _marked(ds)
    item = Dataset()
    item.ReferencedSOPInstanceUID = "1.2.3.4"
    item.CodeMeaning = f"{MARKER} MEANING"
    ds.ReferencedImageSequence = Sequence([item])
    ds.add_new(0x00090010, "LO", "ACME 1.0")
    ds.add_new(0x00091001, "LO", f"{MARKER} PRIVATE")
    private_item = Dataset()
    private_item.PatientName = f"{MARKER}^INNER"
    ds.add_new(0x00091002, "SQ", Sequence([private_item]))
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = rng.choice(
        [ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian]
    )
    return ds


def _encode(ds: Dataset, *, preamble: bool = True) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    return data if preamble else data[132:]


def _nested(depth: int, *, defined: bool) -> bytes:
    """A file whose last element is a sequence nested ``depth`` deep (built as bytes:
    pydicom itself cannot write 3,000 levels), of undefined or defined lengths."""
    ds = _generated(random.Random(depth), depth)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    name = f"{MARKER}^DEEP".encode()
    inner = struct.pack("<HH2sH", 0x0010, 0x0010, b"PN", len(name)) + name
    for _ in range(depth):
        if defined:
            item = struct.pack("<HHI", 0xFFFE, 0xE000, len(inner)) + inner
            inner = struct.pack("<HH2s2xI", 0x0040, 0x0275, b"SQ", len(item)) + item
        else:
            item = (
                struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
                + inner
                + struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
            )
            inner = (
                struct.pack("<HH2s2xI", 0x0040, 0x0275, b"SQ", 0xFFFFFFFF)
                + item
                + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
            )
    return _encode(ds) + inner


def _bases(rng: random.Random) -> list[bytes]:
    bases = []
    for name in BUNDLED:
        path = get_testdata_file(name)
        if path is None:
            continue
        raw = Path(path).read_bytes()
        bases.append(raw)
        try:
            ds = dcmread(path, force=True)
            _marked(ds)
            buffer = io.BytesIO()
            ds.save_as(buffer)
            bases.append(buffer.getvalue())
        except Exception:
            continue
    for index in range(12):
        ds = _generated(rng, index)
        bases.append(_encode(ds, preamble=index % 4 != 3))
    return bases


# -- mutations: bytes -> bytes --------------------------------------------------------


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(0, max(1, len(data)))]


def _flip(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 12)):
        if out:
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def _bad_length(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    if len(out) < 140:
        return bytes(out)
    at = rng.randrange(132, len(out) - 4)
    value = rng.choice([0xFFFFFFFF, 0x7FFFFFFF, 0xFFFF, 1, 3, len(out) * 2])
    struct.pack_into("<I", out, at, value)
    return bytes(out)


_VRS = re.compile(b"PN|LO|SQ|UI|DA|CS|OB|US")


def _bad_vr(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    spots = [match.start() for match in _VRS.finditer(data, 132)]
    for at in rng.sample(spots, min(len(spots), rng.randint(1, 3))):
        out[at : at + 2] = rng.choice([b"ZZ", b"??", b"\x00\x01", b"QQ", b"UN", b"SQ"])
    return bytes(out)


def _splice(data: bytes, rng: random.Random, other: bytes) -> bytes:
    return data[: rng.randrange(len(data) + 1)] + other[rng.randrange(len(other) + 1) :]


def _fit(text: str, length: int) -> bytes:
    """``text`` padded with 9s to ``length - 1`` bytes, and a NUL: a UI value's length."""
    return text.ljust(length - 1, "9").encode() + b"\x00"


def _invalid_values(rng: random.Random, index: int) -> bytes:
    """A valid file, then one value replaced in its bytes by one invalid for its VR."""
    ds = _generated(rng, index)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.InstanceNumber = "12345678"
    ds.PixelSpacing = ["1.234567", "1"]
    ds.PatientAge = "042Y"
    ds.StudyDate = "20210314"
    data = _encode(ds)
    target, value = rng.choice(
        [
            (ExplicitVRLittleEndian.encode() + b"\x00", _fit(f"1.2.{MARKER}.", 20)),
            (b"1.2.826.0.1.3680043.8.498.7\x00", _fit(f"1.2.{MARKER}.", 28)),
            (b"20210314", MARKER.encode() + b"X"),
            (b"12345678", MARKER.encode() + b" "),
            (b"1.234567", MARKER.encode() + b"1"),
            (b"042Y", MARKER[:4].encode()),
        ]
    )
    assert len(target) == len(value), (target, value)
    return data.replace(target, value, 1)


_MUTATIONS: list[Callable[[bytes, random.Random], bytes]] = [
    _truncate,
    _flip,
    _bad_length,
    _bad_vr,
    lambda data, rng: data,  # unchanged (marked) original
]


def build_tree(folder: Path, *, files: int = 2000, seed: int = 15) -> Tree:
    """Write the hostile tree below ``folder / "in"`` (see the module docs)."""
    rng = random.Random(seed)
    root = folder / "in"
    tree = Tree(root)
    bases = _bases(rng)
    depths = [60, 200, 1000, 3000]
    for index in range(files):
        sub = root / f"d{index % 7}" / f"s{index % 3}"
        sub.mkdir(parents=True, exist_ok=True)
        kind = index % 10
        if kind == 0:
            data = _invalid_values(rng, index)
        elif kind == 1 and index % 40 == 1:
            data = _nested(depths[(index // 40) % len(depths)], defined=index % 80 == 1)
        elif kind == 2:
            data = _splice(rng.choice(bases), rng, rng.choice(bases))
        else:
            data = rng.choice(_MUTATIONS)(rng.choice(bases), rng)
        path = sub / f"f{index:05d}.dcm"
        path.write_bytes(data)
        tree.entries.add(_key(path))
    _odd_entries(folder, root, tree)
    for key in list(tree.entries):
        path = Path(key)
        if path.is_file() and not path.is_symlink():
            tree.hashes[key] = _hash(path)
    return tree


def _odd_entries(folder: Path, root: Path, tree: Tree) -> None:
    odd = root / "odd"
    odd.mkdir()
    sample = bytes(_encode(_generated(random.Random(1), 1)))
    names = [
        os.fsdecode(b"caf\xe9-\xff.dcm"),  # Latin-1 bytes: not UTF-8
        "new\nline.dcm",
        "-leading-dash.dcm",
        "L" * 236 + ".dcm",
    ]
    for name in names:
        (odd / name).write_bytes(sample)
        tree.entries.add(_key(odd / name))
    for index in range(3):
        fifo = odd / f"pipe{index}.dcm"
        os.mkfifo(fifo)
        tree.entries.add(_key(fifo))
        tree.special.append(_key(fifo))
    sock_path = odd / "socket.dcm"
    try:
        server = socket.socket(socket.AF_UNIX)
        server.bind(os.fspath(sock_path))
        server.close()  # the socket file stays
        tree.entries.add(_key(sock_path))
        tree.special.append(_key(sock_path))
    except OSError:  # pragma: no cover - path too long or no AF_UNIX
        pass
    (odd / "link-to-file.dcm").symlink_to(odd / names[2])
    tree.entries.add(_key(odd / "link-to-file.dcm"))
    (odd / "broken-link.dcm").symlink_to(odd / "no-such-file")
    tree.entries.add(_key(odd / "broken-link.dcm"))
    (odd / "cycle").symlink_to(root)
    tree.entries.add(_key(odd / "cycle"))  # reported: a folder already walked
    outside = folder / "elsewhere"
    outside.mkdir()
    for name in ("e1.dcm", "e2.dcm"):
        (outside / name).write_bytes(sample)
        tree.entries.add(_key(outside / name))
    (odd / "linked-folder").symlink_to(outside)
