"""The parts of text detection that need no OCR engine: which text is identifying, where a
loop varies, how much small frames are enlarged, the configuration, the policy hook, and the
rejection message when no engine is installed."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pixel_files import US_IMAGE, make_dataset

from idiscore.bouncers import RejectBurnedInAnnotation
from idiscore.defaults import create_default_core
from idiscore.errors import ConfigurationError, DatasetRejectedError
from idiscore.image_processing import PixelProcessor
from idiscore.pixels import text as text_module
from idiscore.pixels.ocr import TextDetection, lossy, upscale_factor, varying_areas
from idiscore.pixels.phi_text import PhiText

from factories import roundtrip

VALUES = ["Doe", "John", "Doe^John", "19610412", "PID-7731", "St Elsewhere", "Smithfield"]


@pytest.mark.parametrize(
    "text",
    [
        "DOE~JOHN1961-04-12",  # OCR's reading of Doe^John and the birth date
        "doe john",
        "Name: Doe, John",
        "PID7731",  # the ID without its hyphen
        "ST ELSEWHERE",
        "12/04/1961",  # the birth date, day first
        "04/12/1961",  # the birth date, month first
        "12-APR-1961",
        "ID 20240517",  # eight digits: an identifier whoever it belongs to
        "AB1234567",
        "2:56:22 PM",  # a time
        "5/25/2011",  # a date
        "john.doe@example.org",
    ],
)
def test_identifying_text(text: str) -> None:
    assert PhiText(VALUES).is_identifying(text)


@pytest.mark.parametrize(
    "text",
    ["2.5MHz", "TIS0.5", "MI 1.2", "16cm", "FR 32Hz", "Gn 60", "C5-1", "PWR", "LYMPH NODE", "2D"],
)
def test_machine_text_is_not_identifying(text: str) -> None:
    assert not PhiText(VALUES).is_identifying(text)


def test_two_character_values_match_whole_words_only() -> None:
    phi = PhiText(["Li", "Wu Xi"])
    assert phi.is_identifying("LI")
    assert phi.is_identifying("Mr Li")
    assert not phi.is_identifying("LIVER")  # LI inside a word
    assert phi.is_identifying("WUXI HOSPITAL")


@settings(max_examples=60, deadline=None)
@given(
    value=st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ", min_size=3, max_size=12),
    before=st.text(alphabet="abc 1.:-~^", max_size=8),
    after=st.text(alphabet="xyz 2.:-~^", max_size=8),
    case=st.booleans(),
)
def test_an_identifying_value_is_found_in_any_surrounding(
    value: str, before: str, after: str, case: bool
) -> None:
    shown = value.lower() if case else value
    assert PhiText([value]).is_identifying(before + shown + after)


def test_varying_areas_cut_a_loop_into_separate_rectangles() -> None:
    mask = np.zeros((200, 300), dtype=bool)
    mask[50:120, 40:150] = True  # a moving picture
    mask[5:12, 270:290] = True  # a clock in a corner
    areas = varying_areas(mask, margin=4)
    assert len(areas) == 2
    for top, bottom, left, right in areas:
        assert 0 <= top < bottom <= 200 and 0 <= left < right <= 300
    ys, xs = np.nonzero(mask)
    inside = np.zeros_like(mask)
    for top, bottom, left, right in areas:
        inside[top:bottom, left:right] = True
    assert inside[ys, xs].all()
    assert inside.mean() < 0.5
    assert varying_areas(np.zeros((10, 10), dtype=bool)) == []


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 63), st.integers(0, 79)), min_size=1, max_size=30, unique=True
    )
)
def test_every_varying_pixel_lies_in_an_area(points: list[tuple[int, int]]) -> None:
    mask = np.zeros((64, 80), dtype=bool)
    for row, column in points:
        mask[row, column] = True
    areas = varying_areas(mask, margin=0)
    for row, column in points:
        assert any(t <= row < b and left <= column < r for t, b, left, r in areas)
    # areas are disjoint groups of tiles: never more areas than points
    assert 1 <= len(areas) <= len(points)


def test_small_frames_are_enlarged_by_a_whole_factor() -> None:
    assert upscale_factor(1024, 1024, 720) == 1
    assert upscale_factor(512, 512, 720) == 2
    assert upscale_factor(240, 320, 720) == 3
    assert upscale_factor(100, 100, 720) == 4  # at most four times
    assert upscale_factor(100, 100, 0) == 1


def test_lossy_input_is_recognised() -> None:
    ds = make_dataset(
        np.zeros((1, 4, 4), dtype=np.int64),
        photometric="MONOCHROME2",
        bits_allocated=8,
        bits_stored=8,
    )
    from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit, JPEGLSLossless

    assert lossy(ds, JPEGBaseline8Bit)
    assert not lossy(ds, JPEGLSLossless)
    assert not lossy(ds, ExplicitVRLittleEndian)
    ds.LossyImageCompression = "01"
    assert lossy(ds, ExplicitVRLittleEndian)


@pytest.mark.parametrize(
    "options",
    [{"engine": "easyocr"}, {"mode": "some"}, {"margin": -1}, {"min_confidence": 2.0}],
)
def test_bad_text_detection_settings_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        TextDetection(**options)  # type: ignore[arg-type]


def test_the_processor_reads_what_the_policy_flags_and_pickles() -> None:
    strict = RejectBurnedInAnnotation(strict=True)
    processor = PixelProcessor(text_detection=TextDetection(), burned_in_policy=strict)
    clone = pickle.loads(pickle.dumps(processor))
    assert clone.text_detection == processor.text_detection
    ds = make_dataset(
        np.zeros((1, 8, 8, 3), dtype=np.int64),
        photometric="RGB",
        bits_allocated=8,
        bits_stored=8,
        sop_class=US_IMAGE,
        modality="US",
        BurnedInAnnotation="NO",
    )
    assert strict.flags(ds) and not RejectBurnedInAnnotation().flags(ds)
    if text_module.engine_available("rapidocr"):
        assert processor.detects_text(ds)
        assert not PixelProcessor(text_detection=TextDetection()).detects_text(ds)
    assert not PixelProcessor().detects_text(ds)


def test_without_the_extra_the_rejection_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # this process behaves as if rapidocr were not installed
    monkeypatch.setitem(text_module._AVAILABLE, "rapidocr", False)
    ds = roundtrip(
        make_dataset(
            np.zeros((1, 8, 8, 3), dtype=np.int64),
            photometric="RGB",
            bits_allocated=8,
            bits_stored=8,
            sop_class=US_IMAGE,
            modality="US",
        )
    )
    with pytest.raises(DatasetRejectedError) as info:
        create_default_core().deidentify(ds)
    assert "idiscore[ocr]" in info.value.reason
    assert info.value.bouncer_name == "RejectBurnedInAnnotation"
