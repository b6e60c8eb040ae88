"""Pixel processing: locations, criteria, and blanking across transfer syntaxes."""

from __future__ import annotations

import io
import json
import pickle
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pixel_files import (
    CASES,
    PixelCase,
    bundled,
    dciodvfy_errors,
    make_dataset,
    snapshot,
    to_bytes,
    ultrasound_burned_in,
)
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate, generate_frames
from pydicom.pixels.utils import pixel_array
from pydicom.uid import UID, ExplicitVRLittleEndian, JPEGLSLossless, RLELossless

from idiscore.bouncers import RejectBurnedInAnnotation
from idiscore.errors import ConfigurationError, DatasetRejectedError, PixelDataProcessingError
from idiscore.image_processing import (
    Criterion,
    PIILocation,
    PIILocationList,
    PixelProcessor,
    SquareArea,
    default_location_list,
    load_locations,
    save_locations,
)
from idiscore.pixels.blanking import blank_native
from idiscore.pixels.layout import PixelLayout

AREA = SquareArea(origin_x=1, origin_y=2, width=5, height=4)


def frames_of(ds: Dataset) -> np.ndarray:
    """All frames, shaped (frames, rows, columns[, samples]), as pydicom shows them."""
    array = pixel_array(ds)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    return array if frames > 1 else array[np.newaxis]


def region_mask(rows: int, columns: int, area: SquareArea, widen_pairs: bool) -> np.ndarray:
    mask = np.zeros((rows, columns), dtype=bool)
    left, right = area.origin_x, area.origin_x + area.width
    if widen_pairs:
        left, right = left - left % 2, right + right % 2
    mask[area.origin_y : area.origin_y + area.height, left:right] = True
    return mask


def written_and_read(ds: Dataset, path: Path) -> Dataset:
    ds.save_as(path, enforce_file_format=True)
    return pydicom.dcmread(path)


# --------------------------------------------------------------------------- the matrix


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_clean_blanks_every_frame_and_keeps_the_rest(case: PixelCase, tmp_path: Path) -> None:
    original = frames_of(case.load())  # decoding converts elements: use a separate copy
    rows, columns = original.shape[1:3]
    ds = case.load()
    before = snapshot(ds)

    cleaned = PixelProcessor([PIILocation([AREA])]).clean(ds)

    assert cleaned is not ds
    assert snapshot(ds) == before, "the input dataset was modified"
    output = written_and_read(cleaned, tmp_path / "out.dcm")
    assert output.file_meta.TransferSyntaxUID == case.output_syntax
    result = frames_of(output)
    assert result.shape == original.shape
    assert result.dtype == original.dtype
    mask = region_mask(rows, columns, AREA, case.subsampled_native)
    blanked = result[:, mask]
    assert (blanked == np.asarray(case.fill, dtype=result.dtype)).all()
    assert np.array_equal(result[:, ~mask], original[:, ~mask])
    if case.output_syntax.is_encapsulated or case.output_syntax != ds.file_meta.TransferSyntaxUID:
        assert "ExtendedOffsetTable" not in output
    else:  # native in, native out: every byte outside the rectangle is the same
        assert len(output.PixelData) == len(ds.PixelData)


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.id in {"CT_small", "MR_bigendian", "JPEG_422", "RGB32_RLE_2f"}],
    ids=lambda c: c.id,
)
def test_rectangles_are_clipped_to_the_image(case: PixelCase) -> None:
    ds = case.load()
    original = frames_of(ds)
    rows, columns = original.shape[1:3]
    area = SquareArea(columns - 3, rows - 2, 1000, 1000)
    result = frames_of(PixelProcessor([PIILocation([area])]).clean(ds))
    assert (result[:, rows - 2 :, columns - 3 :] == np.asarray(case.fill, result.dtype)).all()
    assert np.array_equal(result[:, : rows - 2], original[:, : rows - 2])
    assert np.array_equal(result[:, :, : columns - 3], original[:, :, : columns - 3])


def test_untouched_native_bytes_stay_identical() -> None:
    ds = pydicom.dcmread(io.BytesIO(bundled("MR_small.dcm")()))
    cleaned = PixelProcessor([PIILocation([SquareArea(0, 0, 64, 1)])]).clean(ds)
    row_bytes = 64 * 2
    assert cleaned.PixelData[row_bytes:] == ds.PixelData[row_bytes:]
    assert cleaned.PixelData[:row_bytes] == b"\x00" * row_bytes


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_dciodvfy_reports_no_new_errors(case: PixelCase, tmp_path: Path) -> None:
    source = tmp_path / "in.dcm"
    source.write_bytes(case.data())
    before = dciodvfy_errors(source)
    if before is None:
        pytest.skip("dciodvfy (Debian package dicom3tools) is not installed")
    cleaned = PixelProcessor([PIILocation([AREA])]).clean(pydicom.dcmread(source))
    target = tmp_path / "out.dcm"
    cleaned.save_as(target, enforce_file_format=True)
    after = dciodvfy_errors(target)
    assert after is not None
    assert after - before == set()


_DCMTK_DECOMPRESSORS = {JPEGLSLossless: "dcmdjpls", RLELossless: "dcmdrle"}


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.output_syntax in _DCMTK_DECOMPRESSORS],
    ids=lambda c: c.id,
)
def test_dcmtk_decodes_the_reencoded_pixels_identically(case: PixelCase, tmp_path: Path) -> None:
    tool = shutil.which(_DCMTK_DECOMPRESSORS[case.output_syntax])
    if tool is None:
        pytest.skip("dcmtk (Debian package dcmtk) is not installed")
    cleaned = tmp_path / "cleaned.dcm"
    PixelProcessor([PIILocation([AREA])]).clean(case.load()).save_as(
        cleaned, enforce_file_format=True
    )
    native = tmp_path / "native.dcm"
    subprocess.run([tool, str(cleaned), str(native)], check=True, capture_output=True)
    by_dcmtk = pydicom.dcmread(native)
    assert not by_dcmtk.file_meta.TransferSyntaxUID.is_compressed
    assert np.array_equal(frames_of(by_dcmtk), frames_of(pydicom.dcmread(cleaned)))


def test_lossy_history_is_kept_and_recorded() -> None:
    lossy = CASES[[c.id for c in CASES].index("CT_J2K_lossy")].load()
    assert lossy.LossyImageCompression == "01"
    assert PixelProcessor([PIILocation([AREA])]).clean(lossy).LossyImageCompression == "01"

    jpeg = bundled("SC_rgb_dcmtk_+eb+cy+np.dcm")
    ds = pydicom.dcmread(io.BytesIO(jpeg()))
    del ds.LossyImageCompression
    cleaned = PixelProcessor([PIILocation([AREA])]).clean(ds)
    assert cleaned.LossyImageCompression == "01"
    assert cleaned.LossyImageCompressionMethod == "ISO_10918_1"
    assert "LossyImageCompression" not in ds


def test_ybr_input_is_written_as_rgb_with_consistent_attributes() -> None:
    ds = pydicom.dcmread(io.BytesIO(bundled("SC_rgb_dcmtk_+eb+cy+np.dcm")()))
    assert ds.PhotometricInterpretation == "YBR_FULL_422"
    cleaned = PixelProcessor([PIILocation([AREA])]).clean(ds)
    assert cleaned.PhotometricInterpretation == "RGB"
    assert cleaned.PlanarConfiguration == 0
    assert cleaned.file_meta.TransferSyntaxUID == JPEGLSLossless
    assert ds.PhotometricInterpretation == "YBR_FULL_422"
    assert ds.file_meta.TransferSyntaxUID != cleaned.file_meta.TransferSyntaxUID


def test_output_syntax_preference_is_configurable() -> None:
    ds = pydicom.dcmread(io.BytesIO(bundled("JPGExtended.dcm")()))
    for syntaxes, expected in [
        ((RLELossless,), RLELossless),
        ((ExplicitVRLittleEndian,), ExplicitVRLittleEndian),
    ]:
        processor = PixelProcessor([PIILocation([AREA])], output_transfer_syntaxes=syntaxes)
        assert processor.clean(ds).file_meta.TransferSyntaxUID == expected
    with pytest.raises(ConfigurationError, match="cannot write cleaned pixels"):
        PixelProcessor([], output_transfer_syntaxes=["1.2.840.10008.1.2.4.50"])


# --------------------------------------------------------------------------- fill values


def test_native_ybr_422_fill_is_black_in_ycbcr() -> None:
    layout = PixelLayout(2, 4, 3, 8, 8, False, 0, 1, "YBR_FULL_422")
    pixels = bytes(range(1, 17))  # 2 rows x 2 pixel pairs x (Y1 Y2 Cb Cr)
    out = blank_native(pixels, layout, [(0, 1, 1, 2)], (0, 128, 128))
    assert out[:4] == bytes([0, 0, 128, 128])  # the pair holding column 1
    assert out[4:] == pixels[4:]


def test_big_endian_ow_8bit_words_are_swapped_back() -> None:
    layout = PixelLayout(1, 4, 1, 8, 8, False, 0, 1, "MONOCHROME2")
    stored = bytes([2, 1, 4, 3])  # pixels 1 2 3 4, byte-swapped per 16-bit word
    out = blank_native(
        stored, layout, [(0, 1, 0, 1)], (0,), little_endian=False, swapped_words=True
    )
    assert out == bytes([2, 0, 4, 3])


def test_negative_rescale_slope_inverts_the_darkest_value() -> None:
    ds = pydicom.dcmread(io.BytesIO(bundled("CT_small.dcm")()))
    ds.RescaleSlope = -1
    result = frames_of(PixelProcessor([PIILocation([AREA])]).clean(ds))
    assert (result[:, 2:6, 1:6] == 32767).all()


def test_darkest_palette_entry_is_used() -> None:
    ds = pydicom.dcmread(io.BytesIO(bundled("examples_palette.dcm")()))
    lut = bytearray(ds.RedPaletteColorLookupTableData)
    # make entry 0 bright and entry 7 the only black one, in every channel
    for keyword in ("Red", "Green", "Blue"):
        data = np.frombuffer(bytes(lut), dtype="<u2").copy()
        data[:] = np.maximum(data, 512)
        data[7] = 0
        setattr(ds, f"{keyword}PaletteColorLookupTableData", data.tobytes())
    result = frames_of(PixelProcessor([PIILocation([AREA])]).clean(ds))
    assert (result[:, 2:6, 1:6] == 7).all()


# --------------------------------------------------------------------------- failures


def _assert_fails_untouched(ds: Dataset, match: str) -> None:
    before = snapshot(ds)
    with pytest.raises(PixelDataProcessingError, match=match):
        PixelProcessor([PIILocation([AREA])]).clean(ds)
    assert snapshot(ds) == before


def test_missing_pixel_data_fails() -> None:
    ds = pydicom.dcmread(io.BytesIO(bundled("CT_small.dcm")()))
    del ds.PixelData
    assert not PixelProcessor([PIILocation([AREA])]).matches(ds)  # the core won't clean it
    _assert_fails_untouched(ds, "no Pixel Data")


def test_truncated_native_pixel_data_fails() -> None:
    ds = pydicom.dcmread(io.BytesIO(bundled("CT_small.dcm")()))
    ds.PixelData = ds.PixelData[:1000]
    _assert_fails_untouched(ds, "truncated")


@pytest.mark.parametrize(
    "name",
    [
        "MR_small_jpeg_ls_lossless.dcm",
        "MR_small_jp2klossless.dcm",
        "JPGExtended.dcm",
        "SC_rgb_jpeg_gdcm.dcm",
        "SC_rgb_dcmtk_+eb+cy+np.dcm",
    ],
)
def test_truncated_fragments_fail(name: str) -> None:
    ds = pydicom.dcmread(io.BytesIO(bundled(name)()))
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    ds.PixelData = encapsulate([frame[: len(frame) // 3]])
    _assert_fails_untouched(ds, "could not be decoded")


def test_missing_frames_fail() -> None:
    ds = pydicom.dcmread(io.BytesIO(bundled("SC_rgb_rle_2frame.dcm")()))
    frames = list(generate_frames(ds.PixelData, number_of_frames=2))
    ds.PixelData = encapsulate(frames[:1])
    _assert_fails_untouched(ds, "frame")


def test_corrupt_rle_fails() -> None:
    ds = pydicom.dcmread(io.BytesIO(bundled("MR_small_RLE.dcm")()))
    ds.PixelData = encapsulate([b"\x01\x00\x00\x00" + b"\x00" * 60 + b"\xff" * 10])
    _assert_fails_untouched(ds, "could not be decoded")


def test_undecodable_transfer_syntax_fails() -> None:
    ds = pydicom.dcmread(io.BytesIO(bundled("JPEG-lossy.dcm")()))
    _assert_fails_untouched(ds, "could not be decoded")


def test_unsupported_layouts_fail() -> None:
    ds = pydicom.dcmread(io.BytesIO(bundled("liver_1frame.dcm")()))
    _assert_fails_untouched(ds, "Bits Allocated 1")
    ds = pydicom.dcmread(io.BytesIO(bundled("CT_small.dcm")()))
    ds.PhotometricInterpretation = "CMYK"
    _assert_fails_untouched(ds, "CMYK")
    ds = pydicom.dcmread(io.BytesIO(bundled("CT_small.dcm")()))
    ds.file_meta.TransferSyntaxUID = UID("1.2.3.4")
    _assert_fails_untouched(ds, "unknown transfer syntax")


def test_no_match_returns_the_input_and_outside_areas_touch_nothing() -> None:
    ds = pydicom.dcmread(io.BytesIO(bundled("MR_small_RLE.dcm")()))
    processor = PixelProcessor([PIILocation([AREA], Criterion({"Modality": "US"}))])
    assert not processor.matches(ds)
    assert processor.clean(ds) is ds
    outside = PixelProcessor([PIILocation([SquareArea(500, 500, 10, 10)])]).clean(ds)
    assert outside is not ds
    assert outside.PixelData == ds.PixelData
    assert outside.file_meta.TransferSyntaxUID == RLELossless


# --------------------------------------------------------------------------- ultrasound


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, RLELossless], ids=["native", "RLE"])
def test_multiframe_ultrasound_with_burned_in_annotation(syntax: UID) -> None:
    ds = pydicom.dcmread(io.BytesIO(to_bytes(ultrasound_burned_in(syntax))))
    bouncer = RejectBurnedInAnnotation()
    without = PixelProcessor([])
    assert not without.matches(ds)
    with pytest.raises(DatasetRejectedError, match="Burned In Annotation is YES") as info:
        bouncer.inspect(ds, pixels_will_be_cleaned=without.matches(ds))
    assert info.value.bouncer is bouncer

    banner = PIILocation(
        [SquareArea(0, 0, 64, 8)],
        Criterion({"Modality": "US", "Manufacturer": {"contains": "acme"}, "Rows": 48}),
        description="ACME banner (test data)",
    )
    processor = PixelProcessor([banner])
    assert processor.matches(ds)
    bouncer.inspect(ds, pixels_will_be_cleaned=processor.matches(ds))
    original = frames_of(ds)
    assert (original[:, :8] == 255).all()
    cleaned = processor.clean(ds)
    result = frames_of(cleaned)
    assert result.shape == (4, 48, 64, 3)
    assert (result[:, :8] == 0).all()
    assert np.array_equal(result[:, 8:], original[:, 8:])
    assert cleaned.file_meta.TransferSyntaxUID == syntax
    assert cleaned.BurnedInAnnotation == "YES"  # the insertions step decides, not this one


# --------------------------------------------------------------------------- locations


def test_square_area_validation() -> None:
    for bad in [(-1, 0, 1, 1), (0, -1, 1, 1), (0, 0, 0, 1), (0, 0, 1, 0), (0.5, 0, 1, 1)]:
        with pytest.raises(ConfigurationError):
            SquareArea(*bad)  # type: ignore[arg-type]
    assert SquareArea(5, 5, 10, 10).clipped(8, 8) == (5, 8, 5, 8)
    assert SquareArea(8, 0, 1, 1).clipped(8, 8) is None


def test_location_list_matching_and_round_trip(tmp_path: Path) -> None:
    us = PIILocation([SquareArea(0, 0, 10, 10)], Criterion({"Modality": "US"}), "us")
    everything = PIILocation([SquareArea(1, 1, 2, 2)])
    locations = PIILocationList([us, everything])
    ct = pydicom.dcmread(io.BytesIO(bundled("CT_small.dcm")()))
    assert locations.get_matching(ct) == [everything]
    path = tmp_path / "locations.json"
    save_locations(locations, path)
    assert load_locations(path) == locations
    assert json.loads(path.read_text())["format"] == "idiscore-pii-locations"


@pytest.mark.parametrize(
    "content, message",
    [
        ("{", "not valid JSON"),
        ('{"format": "other", "version": 1, "locations": []}', "format"),
        ('{"format": "idiscore-pii-locations", "version": 2, "locations": []}', "version"),
        (
            '{"format": "idiscore-pii-locations", "version": 1, "locations": '
            '[{"areas": [{"x": 0, "y": 0, "width": 1, "height": 1}], "conditon": {}}]}',
            "unknown keys",
        ),
        (
            '{"format": "idiscore-pii-locations", "version": 1, "locations": '
            '[{"areas": [{"x": 0, "y": 0, "w": 1, "height": 1}]}]}',
            "location 0, area 0",
        ),
        (
            '{"format": "idiscore-pii-locations", "version": 1, "locations": '
            '[{"areas": [{"x": 0, "y": 0, "width": 1, "height": 1}], '
            '"conditions": {"Modallity": "US"}}]}',
            "unknown DICOM keyword",
        ),
    ],
)
def test_bad_location_files_are_configuration_errors(
    content: str, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ConfigurationError, match=message):
        load_locations(path)


def test_default_location_list_is_documented_and_loads() -> None:
    locations = default_location_list()
    assert isinstance(locations, PIILocationList)
    assert len(locations) == 0  # nothing unverified is shipped; see the file's note


def test_processor_pickles_and_keeps_working() -> None:
    location = PIILocation(
        [AREA], Criterion({"Modality": ["CT", "MR"], "Rows": {"equals": [128, 64]}})
    )
    processor = PixelProcessor(PIILocationList([location]), verify_encoding=False)
    copy = pickle.loads(pickle.dumps(processor))
    assert copy.locations == processor.locations
    assert copy.output_transfer_syntaxes == processor.output_transfer_syntaxes
    ds = pydicom.dcmread(io.BytesIO(bundled("CT_small.dcm")()))
    assert copy.matches(ds)
    assert np.array_equal(frames_of(copy.clean(ds)), frames_of(processor.clean(ds)))
    assert "1 location" in repr(copy)


# --------------------------------------------------------------------------- criteria


def _header(**attributes: object) -> Dataset:
    ds = Dataset()
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


@pytest.mark.parametrize(
    "conditions, expected",
    [
        ({"Modality": "US"}, True),
        ({"Modality": " us "}, True),
        ({"Modality": "CT"}, False),
        ({"Modality": ["CT", "US"]}, True),
        ({"Rows": 480}, True),
        ({"Rows": "480"}, True),
        ({"Rows": [100, 200]}, False),
        ({"Manufacturer": {"contains": "acme"}}, True),
        ({"Manufacturer": {"startswith": ["Other", "ACME"]}}, True),
        ({"Manufacturer": {"startswith": "Ultrasound"}}, False),
        ({"ImageType": "SECONDARY"}, True),
        ({"ImageType": {"contains": "PRIM"}}, False),
        ({"BurnedInAnnotation": {"present": False}}, True),
        ({"Manufacturer": {"present": True}}, True),
        ({"StationName": "X"}, False),
        ({"Modality": "US", "Columns": 641}, False),
        ({"SliceThickness": 2.5}, True),
    ],
)
def test_criterion_conditions(conditions: dict[str, object], expected: bool) -> None:
    ds = _header(
        Modality="US",
        Rows=480,
        Columns=640,
        Manufacturer="ACME Ultrasound ",
        ImageType=["DERIVED", "SECONDARY"],
        SliceThickness="2.50",
    )
    criterion = Criterion(conditions)
    assert criterion.matches(ds) is expected
    assert Criterion(criterion.to_dict()) == criterion
    assert pickle.loads(pickle.dumps(criterion)) == criterion


@pytest.mark.parametrize(
    "conditions",
    [
        {},
        {"NoSuchKeyword": "x"},
        {"ReferencedImageSequence": "x"},
        {"PixelData": "x"},
        {"Modality": {"like": "US"}},
        {"Modality": {"contains": "U", "startswith": "U"}},
        {"Modality": []},
        {"Modality": True},
        {"Modality": ""},
        {"Rows": {"contains": 4}},
        {"Modality": {"present": "yes"}},
    ],
)
def test_bad_criteria_are_configuration_errors(conditions: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        Criterion(conditions)


def test_criterion_reads_without_converting_raw_elements() -> None:
    ds = pydicom.dcmread(io.BytesIO(bundled("CT_small.dcm")()))
    before = snapshot(ds)
    assert Criterion({"Modality": "CT", "Rows": 128}).matches(ds)
    assert snapshot(ds) == before


def test_generated_dataset_helper_is_sane() -> None:
    ds = make_dataset(
        np.zeros((1, 2, 2), dtype=np.uint8),
        photometric="MONOCHROME2",
        bits_allocated=8,
        bits_stored=8,
    )
    assert pixel_array(pydicom.dcmread(io.BytesIO(to_bytes(ds)))).shape == (2, 2)


# --------------------------------------------------------------------------- properties


@pytest.mark.parametrize("case_id", ["signed12", "signed12_RLE", "rgb_planar1"])
@given(
    x=st.integers(0, 30),
    y=st.integers(0, 30),
    width=st.integers(1, 40),
    height=st.integers(1, 40),
)
def test_any_rectangle_blanks_exactly_itself(
    case_id: str, x: int, y: int, width: int, height: int
) -> None:
    case = next(c for c in CASES if c.id == case_id)
    original = frames_of(case.load())
    rows, columns = original.shape[1:3]
    ds = case.load()
    before = snapshot(ds)
    area = SquareArea(x, y, width, height)
    result = frames_of(PixelProcessor([PIILocation([area])]).clean(ds))
    assert snapshot(ds) == before
    mask = np.zeros((rows, columns), dtype=bool)
    mask[y : y + height, x : x + width] = True
    assert (result[:, mask] == np.asarray(case.fill, dtype=result.dtype)).all()
    assert np.array_equal(result[:, ~mask], original[:, ~mask])
