"""Text inside compressed frames (JPEG comments and Exif, JPEG-LS comments, JPEG 2000
comments, JP2 XML boxes, data after the end of an image) never survives, the decoded image
stays the same, and ``idiscore verify`` finds such text when it is left in.

Every shape is written into real frames made by real encoders (Pillow's libjpeg and
OpenJPEG, CharLS through pyjpegls) and decoded by pydicom's decoders before and after.
"""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Callable
from pathlib import Path

import jpeg_ls
import numpy as np
import pydicom
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pydicom.encaps import encapsulate
from pydicom.uid import (
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
)

from idiscore.defaults import create_default_core
from idiscore.errors import PixelDataProcessingError
from idiscore.fileio import FileWindow
from idiscore.pixels.codestream import CodestreamError, blank_text, text_spans
from idiscore.verify.audit import PairTask, PairVerifier

from factories import PYDICOM_FILES, PYDICOM_TEST_FILES, assert_unchanged, snapshot, sop_dataset

NAME = b"Smith^Jane"
MRN = b"MRN 778899"
SECRET = NAME + b" " + MRN
SIZE = 32


def _image(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.add.outer(np.arange(SIZE), np.arange(SIZE)).astype(np.uint8) * 3
    return (base + rng.integers(0, 8, (SIZE, SIZE), dtype=np.uint8)).astype(np.uint8)


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _after_soi(frame: bytes, *segments: bytes) -> bytes:
    return frame[:2] + b"".join(segments) + frame[2:]


def _before_second_scan(frame: bytes, segment: bytes) -> bytes:
    first = frame.index(b"\xff\xda")
    second = frame.index(b"\xff\xda", first + 2)
    # the second SOS follows the entropy-coded data of the first scan: a marker position
    return frame[:second] + segment + frame[second:]


def _jpeg(seed: int = 0, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(_image(seed)).save(buffer, format="JPEG", quality=90, **options)
    return buffer.getvalue()


def _jpeg_ls(seed: int = 0) -> bytes:
    return bytes(jpeg_ls.encode(_image(seed)))


def _j2k(seed: int = 0, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(_image(seed)).save(
        buffer, format="JPEG2000", irreversible=False, no_jp2=True, **options
    )
    return buffer.getvalue()


def _jp2_with_xml(seed: int = 0) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(_image(seed)).save(buffer, format="JPEG2000", irreversible=False)
    data = buffer.getvalue()
    xml = b"<patient>" + SECRET + b"</patient>"
    box = struct.pack(">L4s", 8 + len(xml), b"xml ") + xml
    # after the signature and file type boxes
    signature = 12
    file_type = struct.unpack(">L", data[signature : signature + 4])[0]
    return data[: signature + file_type] + box + data[signature + file_type :]


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x013B] = NAME.decode()  # Artist
    exif[0x0132] = "2021:03:14 10:11:12"  # DateTime
    exif[0x010E] = MRN.decode()  # ImageDescription
    return exif.tobytes()


#: name -> (transfer syntax, function of a seed giving a frame with SECRET in it)
SHAPES: dict[str, tuple[str, Callable[[int], bytes]]] = {
    "jpeg COM": (JPEGBaseline8Bit, lambda s: _jpeg(s, comment=SECRET)),
    "jpeg APP1 Exif": (JPEGBaseline8Bit, lambda s: _jpeg(s, exif=_exif())),
    "jpeg APP1 XMP": (
        JPEGBaseline8Bit,
        lambda s: _after_soi(
            _jpeg(s), _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x>" + SECRET + b"</x>")
        ),
    ),
    "jpeg APP13 IPTC": (
        JPEGBaseline8Bit,
        lambda s: _after_soi(_jpeg(s), _segment(0xED, b"Photoshop 3.0\x00" + SECRET)),
    ),
    "jpeg APP15": (JPEGBaseline8Bit, lambda s: _after_soi(_jpeg(s), _segment(0xEF, SECRET))),
    "jpeg COM between progressive scans": (
        JPEGBaseline8Bit,
        lambda s: _before_second_scan(_jpeg(s, progressive=True), _segment(0xFE, SECRET)),
    ),
    "jpeg data after the end of image": (JPEGBaseline8Bit, lambda s: _jpeg(s) + SECRET),
    "jpeg JFIF thumbnail": (
        JPEGBaseline8Bit,
        lambda s: (
            _jpeg(s)[:2]
            + _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x02\x01" + SECRET[:6])
            + _jpeg(s)[2 + 2 + 16 :]
        ),
    ),
    "jpeg-ls COM": (JPEGLSLossless, lambda s: _after_soi(_jpeg_ls(s), _segment(0xFE, SECRET))),
    "jpeg 2000 COM": (JPEG2000Lossless, lambda s: _j2k(s, comment=SECRET.decode())),
    "jp2 xml box": (JPEG2000Lossless, _jp2_with_xml),
}


def _dataset(syntax: str, frames: list[bytes], *, split: bool = False) -> pydicom.FileDataset:
    ds = sop_dataset(
        Rows=SIZE,
        Columns=SIZE,
        BitsAllocated=8,
        BitsStored=8,
        HighBit=7,
        PixelRepresentation=0,
        SamplesPerPixel=1,
        PhotometricInterpretation="MONOCHROME2",
    )
    if len(frames) > 1:
        ds.NumberOfFrames = len(frames)
    ds.file_meta.TransferSyntaxUID = syntax
    if split:  # every frame in two fragments (cut anywhere: in a segment, say)
        ds.PixelData = encapsulate(frames, fragments_per_frame=2, has_bot=True)
    else:
        ds.PixelData = encapsulate(frames, has_bot=len(frames) > 1)
    ds["PixelData"].VR = "OB"
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    buffer.seek(0)
    return pydicom.dcmread(buffer)


def _pixels(ds: pydicom.Dataset) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ds.pixel_array.copy()


def _write(ds: pydicom.Dataset, path: Path) -> Path:
    ds.save_as(path)
    return path


@pytest.mark.parametrize("layout", ["one frame", "three frames", "frames in two fragments"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_text_in_compressed_frames_never_survives(shape: str, layout: str, tmp_path: Path) -> None:
    syntax, make = SHAPES[shape]
    frames = [make(seed) for seed in range(1 if layout == "one frame" else 3)]
    assert all(SECRET[:6] in frame for frame in frames), "the shape holds the text"
    ds = _dataset(syntax, frames, split=layout.endswith("fragments"))
    source = _write(ds, tmp_path / "in.dcm")
    original = pydicom.dcmread(source)
    before = snapshot(original)
    expected = _pixels(pydicom.dcmread(source))
    core = create_default_core()
    outputs = {
        # streamed from the input file (a window that reads the text as zeros) ...
        "deidentify_file": tmp_path / "file.dcm",
        # ... and in memory
        "deidentify().save_as()": tmp_path / "memory.dcm",
    }
    core.deidentify_file(source, outputs["deidentify_file"], defer_size=64)
    core.deidentify(original).save_as(outputs["deidentify().save_as()"])
    assert_unchanged(original, before, "the caller's dataset")
    for way, path in outputs.items():
        data = path.read_bytes()
        assert SECRET[:6] not in data and MRN not in data, way
        written = pydicom.dcmread(path)
        assert len(written.PixelData) == len(original.PixelData), way
        assert np.array_equal(_pixels(written), expected), way
    streamed, in_memory = (path.read_bytes() for path in outputs.values())
    assert streamed == in_memory


@pytest.mark.parametrize("shape", list(SHAPES))
def test_verify_finds_the_text_left_in_and_accepts_it_blanked(shape: str, tmp_path: Path) -> None:
    syntax, make = SHAPES[shape]
    source = _write(_dataset(syntax, [make(0)]), tmp_path / "in.dcm")
    # the header names the patient as the frame does
    header = pydicom.dcmread(source)
    header.PatientName = NAME.decode()
    header.PatientID = MRN.decode()
    header.save_as(source)
    kept = create_default_core()
    kept.keep_codestream_text = True
    kept.deidentify_file(source, tmp_path / "kept.dcm")
    create_default_core().deidentify_file(source, tmp_path / "blanked.dcm")
    verifier = PairVerifier(dciodvfy=False)
    leaky = verifier(PairTask(str(source), str(tmp_path / "kept.dcm")))
    assert leaky.status == "leak", leaky.to_json()
    assert all("text segment of a compressed frame" in leak["where"] for leak in leaky.leaks)
    clean = verifier(PairTask(str(source), str(tmp_path / "blanked.dcm")))
    assert clean.status == "clean", clean.to_json()


def test_frames_without_text_are_written_unchanged(tmp_path: Path) -> None:
    source = _write(_dataset(JPEGLSLossless, [_jpeg_ls(1), _jpeg_ls(2)]), tmp_path / "in.dcm")
    original = pydicom.dcmread(source)
    output = create_default_core().deidentify(original)
    assert output.PixelData == original.PixelData
    assert text_spans(original.PixelData, JPEGLSLossless) == []


def test_pydicom_bundled_compressed_files_walk_and_decode_the_same() -> None:
    """Every bundled file of a JPEG family syntax walks; blanked, it decodes the same."""
    walked = blanked = 0
    for name in PYDICOM_FILES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ds = pydicom.dcmread(f"{PYDICOM_TEST_FILES}/{name}")
            except Exception:
                continue
        syntax = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", ""))
        if "PixelData" not in ds or syntax not in SYNTAXES:
            continue
        value = ds.PixelData
        spans = text_spans(value, syntax)  # raises on a file it cannot walk
        walked += 1
        new = blank_text(value, syntax)
        if new is None:
            continue
        assert len(new) == len(value)
        try:
            expected = _pixels(ds)
        except Exception:
            continue  # (pydicom cannot decode it either)
        ds.PixelData = new
        assert np.array_equal(_pixels(ds), expected), name
        assert all(set(new[a:b]) == {0} for a, b in spans), name
        blanked += 1
    assert walked >= 25 and blanked >= 6, (walked, blanked)


SYNTAXES = {s for s, _ in SHAPES.values()} | {
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.91",
}


@pytest.mark.parametrize(
    ("what", "frames"),
    [
        ("not a JPEG frame", [b"\x00\x01" * 40]),
        ("a segment longer than its frame", [b"\xff\xd8\xff\xfe\x7f\xff" + SECRET]),
        ("no end of image", [_jpeg(0)[:-2] + b"\x00\x00"]),
    ],
)
def test_frames_that_cannot_be_walked_fail_with_a_reason(
    what: str, frames: list[bytes], tmp_path: Path
) -> None:
    source = _write(_dataset(JPEGBaseline8Bit, frames), tmp_path / "in.dcm")
    with pytest.raises(PixelDataProcessingError) as raised:
        create_default_core().deidentify_file(source, tmp_path / "out.dcm")
    assert isinstance(raised.value.__cause__, CodestreamError | None)
    assert "Smith" not in str(raised.value)
    assert not (tmp_path / "out.dcm").exists()


def test_a_window_reads_its_zeroed_ranges_as_zeros(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(bytes(range(200)))
    window = FileWindow(path, 50, 100).zeroing([(10, 20), (95, 100)])
    assert window.read() == bytes(range(50, 60)) + bytes(10) + bytes(range(70, 145)) + bytes(5)
    for chunk in (1, 3, 7, 64):  # read in pieces that cut the ranges anywhere
        window.seek(0)
        pieces = b"".join(iter(lambda: window.read(chunk), b""))  # noqa: B023
        assert pieces == bytes(range(50, 60)) + bytes(10) + bytes(range(70, 145)) + bytes(5)
    assert FileWindow(path, 50, 100).read() == bytes(range(50, 150))


_MARKERS = st.sampled_from([0xFE, *range(0xE1, 0xF0)])


@settings(max_examples=40, deadline=None)
@given(
    segments=st.lists(st.tuples(_MARKERS, st.binary(max_size=40)), min_size=1, max_size=4),
    seed=st.integers(0, 5),
)
def test_any_comment_or_application_segment_is_blanked(
    segments: list[tuple[int, bytes]], seed: int
) -> None:
    parts = [_segment(marker, payload + SECRET) for marker, payload in segments]
    frame = _after_soi(_jpeg(seed), *parts)
    value = encapsulate([frame])
    new = blank_text(value, JPEGBaseline8Bit)
    assert new is not None and SECRET not in new and len(new) == len(value)
    ds = _dataset(JPEGBaseline8Bit, [frame])
    expected = _pixels(ds)
    ds.PixelData = new
    assert np.array_equal(_pixels(ds), expected)


@pytest.mark.parametrize("marker", [0xF0, 0xF6, 0xF9, 0xFD])
def test_reserved_jpeg_segments_are_blanked(marker: int) -> None:
    frame = _after_soi(_jpeg(0), _segment(marker, SECRET))
    value = encapsulate([frame])
    new = blank_text(value, JPEGBaseline8Bit)
    assert new is not None and SECRET not in new and len(new) == len(value)
    # and only the segment's content: the rest of the frame is as it was
    assert new.replace(bytes(len(SECRET)), SECRET, 1) == value


@pytest.mark.parametrize("box", [b"xml ", b"uuid", b"jp2i", b"lbl "])
def test_jp2_metadata_boxes_are_blanked_and_the_rest_is_kept(box: bytes) -> None:
    frame = _jp2_with_xml(0).replace(b"xml ", box, 1)
    value = encapsulate([frame])
    new = blank_text(value, JPEG2000Lossless)
    assert new is not None and SECRET not in new
    ds = _dataset(JPEG2000Lossless, [frame])
    expected = _pixels(ds)
    ds.PixelData = new
    assert np.array_equal(_pixels(ds), expected)


def test_explain_says_the_text_segments_are_zeroed(tmp_path: Path) -> None:
    from idiscore.cli.explain import explain_dataset

    frame = _jpeg(0, comment=SECRET)
    ds = pydicom.dcmread(_write(_dataset(JPEGBaseline8Bit, [frame]), tmp_path / "in.dcm"))
    outcomes = {}
    for keep in (False, True):
        core = create_default_core()
        core.keep_codestream_text = keep
        rows = explain_dataset(ds, core.profile, deidentified=core.deidentify(ds))
        outcomes[keep] = next(row for row in rows if row.tag == 0x7FE00010)
    assert outcomes[False].outcome == "cleaned" and "compressed frames" in outcomes[False].rule
    assert outcomes[True].outcome == "kept"


def test_an_offset_table_that_holds_no_offsets_is_blanked(tmp_path: Path) -> None:
    frames = [_jpeg(0), _jpeg(1)]
    valid = encapsulate(frames, has_bot=True)
    assert text_spans(valid, JPEGBaseline8Bit) == []  # a real table stays
    table = SECRET + b"\x00" * (-len(SECRET) % 4)
    items = encapsulate(frames, has_bot=False)[8:]  # the fragment items
    forged = struct.pack("<LL", 0xE000FFFE, len(table)) + table + items
    new = blank_text(forged, JPEGBaseline8Bit)
    assert new is not None and SECRET not in new and len(new) == len(forged)
    ds = _dataset(JPEGBaseline8Bit, frames)
    ds.PixelData = forged
    path = _write(ds, tmp_path / "in.dcm")
    create_default_core().deidentify_file(path, tmp_path / "out.dcm")
    assert SECRET not in (tmp_path / "out.dcm").read_bytes()
