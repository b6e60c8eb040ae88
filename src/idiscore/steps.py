"""What the steps of :class:`~idiscore.core.Core` share: the interfaces of bouncers, pixel
processors and insertions, and the :class:`DeidentificationInfo` handed to insertions.

A small module of its own so that :mod:`idiscore.insertions`, :mod:`idiscore.bouncers`
and the pixel processor can name these without importing the core (the core re-exports
them: ``from idiscore.core import DeidentificationInfo`` keeps working).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from idiscore.profile import Profile

__all__ = ["Bouncer", "DeidentificationInfo", "Insertion", "PixelProcessorLike"]


@dataclass
class DeidentificationInfo:
    """What happened to one dataset, for the insertions step."""

    profile: Profile
    pixels_cleaned: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Insertion(Protocol):
    """Something that adds elements to a de-identified dataset (step 4)."""

    def elements(self, dataset: Dataset, info: DeidentificationInfo) -> Iterable[DataElement]:
        """The elements to add to (or replace in) the de-identified ``dataset``."""
        ...


@runtime_checkable
class Bouncer(Protocol):
    """What the Core needs from a bouncer (see :mod:`idiscore.bouncers`)."""

    def inspect(self, dataset: Dataset, *, pixels_will_be_cleaned: bool = False) -> None:
        """Raise :class:`~idiscore.errors.DatasetRejectedError` to reject ``dataset``."""
        ...


@runtime_checkable
class PixelProcessorLike(Protocol):
    """What the Core needs from a pixel processor (see :mod:`idiscore.image_processing`)."""

    def matches(self, dataset: Dataset) -> bool: ...

    def clean(self, dataset: Dataset) -> Dataset: ...
