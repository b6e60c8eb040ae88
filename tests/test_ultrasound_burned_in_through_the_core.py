"""A multi-frame ultrasound with burned-in text, through create_default_core.

Text detection is off here (``text_detection=None``): these tests are about the policy and
the location rules; tests/test_burned_in_text_detection.py covers the detector."""

from __future__ import annotations

import numpy as np
import pytest
from pixel_files import ultrasound_burned_in
from pydicom.uid import RLELossless

from idiscore.defaults import create_default_core
from idiscore.errors import DatasetRejectedError
from idiscore.image_processing import Criterion, PIILocation, SquareArea

from factories import assert_unchanged, roundtrip, snapshot


@pytest.mark.parametrize("syntax", [None, RLELossless], ids=["native", "rle"])
def test_rejected_without_location_cleaned_and_marked_with_one(syntax: object) -> None:
    ds = ultrasound_burned_in() if syntax is None else ultrasound_burned_in(syntax)  # type: ignore[arg-type]
    assert ds.BurnedInAnnotation == "YES" and int(ds.NumberOfFrames) > 1
    before = snapshot(ds)
    with pytest.raises(DatasetRejectedError) as info:
        create_default_core(text_detection=None).deidentify(ds)
    assert "Burned" in info.value.reason or "burned" in info.value.reason
    assert_unchanged(ds, before)

    location = PIILocation([SquareArea(0, 0, 20, 10)], criterion=Criterion({"Modality": "US"}))
    core = create_default_core(location_list=[location], text_detection=None)
    out = core.deidentify(ds)
    assert_unchanged(ds, before)
    back = roundtrip(out)
    assert back.BurnedInAnnotation == "NO"
    codes = [item.CodeValue for item in back.DeidentificationMethodCodeSequence]
    assert "113101" in codes and "113100" in codes
    frames = back.pixel_array
    original = ds.pixel_array
    assert frames.shape == original.shape
    blank = frames[:, :10, :20]
    assert np.all(blank == blank.flat[0])
    assert np.array_equal(frames[:, 10:, :], original[:, 10:, :])
