"""Pixel data cleaning: where identifying text sits, and how it is blanked.

* :mod:`~idiscore.pixels.criterion` - :class:`Criterion`, conditions on header values as data
* :mod:`~idiscore.pixels.locations` - :class:`SquareArea`, :class:`PIILocation`,
  :class:`PIILocationList` and the JSON location file format
* :mod:`~idiscore.pixels.processor` - :class:`PixelProcessor`
* :mod:`~idiscore.pixels.ocr` - :class:`TextDetection`: burned-in text found on every frame
  (engines in :mod:`~idiscore.pixels.text`, the ``phi`` mode in
  :mod:`~idiscore.pixels.phi_text`)
* :mod:`~idiscore.pixels.layout`, :mod:`~idiscore.pixels.fill`,
  :mod:`~idiscore.pixels.blanking`, :mod:`~idiscore.pixels.codec` - the machinery

Compressed pixel data needs the optional codecs (``pip install idiscore[codecs]``), text
detection the ``ocr`` extra (``pip install idiscore[ocr]``).
"""

from idiscore.pixels.criterion import Criterion
from idiscore.pixels.locations import (
    PIILocation,
    PIILocationList,
    SquareArea,
    default_location_list,
    load_locations,
    save_locations,
)
from idiscore.pixels.ocr import TextDetection, TextFindings
from idiscore.pixels.processor import PixelProcessor
from idiscore.pixels.text import TextBox, TextDetector

__all__ = [
    "Criterion",
    "PIILocation",
    "PIILocationList",
    "PixelProcessor",
    "SquareArea",
    "TextBox",
    "TextDetection",
    "TextDetector",
    "TextFindings",
    "default_location_list",
    "load_locations",
    "save_locations",
]
