"""Pixel processing, under the names idiscore users know.

The implementation lives in :mod:`idiscore.pixels`; this module re-exports it, with the
idiscore 1.x spellings on top::

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

As in idiscore 1.x, a criterion may also be a function of a dataset
(``criterion=lambda ds: ds.Rows == 480``, see
:class:`~idiscore.pixels.function_criterion.FunctionCriterion`), and
``PixelProcessor(location_list=...)``, :meth:`PixelProcessor.get_locations`,
:meth:`PixelProcessor.needs_cleaning`, :meth:`PixelProcessor.clean_pixel_data` and
:meth:`PIILocation.exists_in` work as before, except that the input dataset is never
modified: ``clean_pixel_data`` returns a new dataset.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydicom.dataset import Dataset

from idiscore.bouncers import RejectBurnedInAnnotation
from idiscore.errors import DatasetRejectedError, PixelDataProcessingError
from idiscore.exceptions import CriterionException
from idiscore.pixels import locations as _locations
from idiscore.pixels import processor as _processor
from idiscore.pixels._dataset import put
from idiscore.pixels.codec import DEFAULT_OUTPUT_SYNTAXES, ENCODABLE_LOSSLESS
from idiscore.pixels.criterion import Criterion
from idiscore.pixels.fill import fill_values
from idiscore.pixels.function_criterion import FunctionCriterion, as_criterion
from idiscore.pixels.locations import (
    PIILocationList,
    SquareArea,
    default_location_list,
    load_locations,
    location_from_dict,
    locations_from_dict,
    save_locations,
)
from idiscore.pixels.ocr import TextDetection

#: The idiscore 1.x name of :class:`~idiscore.errors.PixelDataProcessingError`.
PixelDataProcessorException = PixelDataProcessingError


class PIILocation(_locations.PIILocation):
    """A :class:`idiscore.pixels.PIILocation` whose criterion may also be a function.

    ``criterion`` is a :class:`Criterion`, a mapping of conditions, a function of a
    dataset (idiscore 1.x) or None (every dataset).
    """

    def __init__(
        self,
        areas: Sequence[SquareArea],
        criterion: Any = None,
        description: str = "",
        source: str = "",
    ) -> None:
        super().__init__(areas, as_criterion(criterion), description=description, source=source)

    def exists_in(self, dataset: Dataset) -> bool:
        """idiscore 1.x name of :meth:`matches`."""
        return self.matches(dataset)

    def __eq__(self, other: object) -> bool:
        # equal to the plain location with the same areas, criterion and description
        if not isinstance(other, _locations.PIILocation):
            return NotImplemented
        return (self.areas, self.criterion, self.description) == (
            other.areas,
            other.criterion,
            other.description,
        )

    __hash__ = _locations.PIILocation.__hash__


class PixelProcessor(_processor.PixelProcessor):
    """:class:`idiscore.pixels.PixelProcessor`, also taking ``location_list=`` (1.x name)."""

    def __init__(
        self,
        location_list: PIILocationList | Sequence[_locations.PIILocation] | None = None,
        *,
        locations: PIILocationList | Sequence[_locations.PIILocation] | None = None,
        **options: Any,
    ) -> None:
        chosen = location_list if location_list is not None else locations
        super().__init__(chosen if chosen is not None else (), **options)

    def get_locations(self, dataset: Dataset) -> list[_locations.PIILocation]:
        """The locations that apply to ``dataset`` (header only)."""
        return self.locations.get_matching(dataset)

    def needs_cleaning(self, dataset: Dataset) -> bool:
        """True when ``dataset``'s pixels probably show text: the verdict of
        :class:`~idiscore.bouncers.RejectBurnedInAnnotation` when no pixels get cleaned."""
        try:
            RejectBurnedInAnnotation().inspect(dataset)
        except DatasetRejectedError:
            return True
        return False

    def clean_pixel_data(self, dataset: Dataset) -> Dataset:
        """A copy of ``dataset`` with every matching location blanked and Burned In
        Annotation set to NO; ``dataset`` itself when nothing matches and nothing needs
        cleaning.

        Raises:
            PixelDataProcessingError: (``PixelDataProcessorException``) the dataset needs
                cleaning but no location matches it, or cleaning failed.
        """
        if self.matches(dataset):
            cleaned = self.clean(dataset)
            put(cleaned, "BurnedInAnnotation", "CS", "NO")
            return cleaned
        if self.needs_cleaning(dataset):
            raise PixelDataProcessingError(
                "the pixel data probably shows burned-in text but no pixel location "
                "matches this dataset"
            )
        return dataset


__all__ = [
    "DEFAULT_OUTPUT_SYNTAXES",
    "ENCODABLE_LOSSLESS",
    "Criterion",
    "CriterionException",
    "FunctionCriterion",
    "PIILocation",
    "PIILocationList",
    "PixelDataProcessorException",
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
