"""Pixel processing, under the names idiscore users know.

The implementation lives in :mod:`idiscore.pixels`; this module re-exports it::

    from idiscore.image_processing import (
        Criterion, PIILocation, PIILocationList, PixelProcessor, SquareArea, TextDetection,
    )

    location = PIILocation(
        areas=[SquareArea(origin_x=0, origin_y=0, width=640, height=40)],
        criterion=Criterion({"Modality": "US", "Rows": 480, "Columns": 640}),
    )
    processor = PixelProcessor([location], text_detection=TextDetection())
    if processor.matches(dataset):          # the location, or burned-in text to look for
        cleaned = processor.clean(dataset)   # a new Dataset; `dataset` is left as it was
"""

from idiscore.pixels.codec import DEFAULT_OUTPUT_SYNTAXES, ENCODABLE_LOSSLESS
from idiscore.pixels.criterion import Criterion
from idiscore.pixels.fill import fill_values
from idiscore.pixels.locations import (
    PIILocation,
    PIILocationList,
    SquareArea,
    default_location_list,
    load_locations,
    location_from_dict,
    locations_from_dict,
    save_locations,
)
from idiscore.pixels.ocr import TextDetection
from idiscore.pixels.processor import PixelProcessor

__all__ = [
    "DEFAULT_OUTPUT_SYNTAXES",
    "ENCODABLE_LOSSLESS",
    "Criterion",
    "PIILocation",
    "PIILocationList",
    "PixelProcessor",
    "SquareArea",
    "TextDetection",
    "default_location_list",
    "fill_values",
    "load_locations",
    "location_from_dict",
    "locations_from_dict",
    "save_locations",
]
