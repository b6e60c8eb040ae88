"""What the steps of :class:`~idiscore.core.Core` share: the interfaces of bouncers, pixel
processors and insertions, and the :class:`DeidentificationInfo` handed to insertions.

:class:`Bouncer` is the one bouncer type: the base class of every bouncer in
:mod:`idiscore.bouncers` (which re-exports it) and what the Core's ``bouncers`` are. A
subclass written for idiscore 1.x, whose ``inspect(self, dataset)`` has no
``pixels_will_be_cleaned``, is adapted when the class is defined.

A small module of its own so that :mod:`idiscore.insertions`, :mod:`idiscore.bouncers`
and the pixel processor can name these without importing the core (the core re-exports
them: ``from idiscore.core import DeidentificationInfo`` keeps working).
"""

from __future__ import annotations

import functools
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from idiscore.errors import DatasetRejectedError
from idiscore.profile import Profile

__all__ = [
    "PIXEL_FINDINGS",
    "Bouncer",
    "DeidentificationInfo",
    "Insertion",
    "PixelProcessorLike",
    "as_if_pixels_cleaned",
]


#: The attribute (not a DICOM element) in which a pixel processor leaves what it found on the
#: dataset it returns, and the Core on its output: text boxes and frames, never text.
PIXEL_FINDINGS = "idiscore_pixel_findings"


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


def _takes_pixel_flag(method: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(
        p.name == "pixels_will_be_cleaned" or p.kind is inspect.Parameter.VAR_KEYWORD
        for p in parameters
    )


def _adapt_legacy_inspect(method: Callable[[Any, Dataset], Any]) -> Callable[..., None]:
    """Wrap a 1.x ``inspect(self, dataset)`` into the current signature.

    When the pixels will be cleaned it sees a copy of the dataset that says Burned In
    Annotation NO, as 1.x bouncers saw the dataset after pixel cleaning; its rejections
    name the bouncer.
    """

    @functools.wraps(method)
    def adapted(self: Bouncer, dataset: Dataset, *, pixels_will_be_cleaned: bool = False) -> None:
        view = as_if_pixels_cleaned(dataset) if pixels_will_be_cleaned else dataset
        try:
            method(self, view)
        except DatasetRejectedError as error:
            if error.bouncer is not None:
                raise
            raise type(error)(error.reason, bouncer=self) from None

    return adapted


def as_if_pixels_cleaned(dataset: Dataset) -> Dataset:
    """A shallow copy of ``dataset`` that says Burned In Annotation NO (the input is
    unchanged)."""
    from idiscore.pixels._dataset import put, shallow_copy  # pixels import the steps

    view = shallow_copy(dataset)
    put(view, "BurnedInAnnotation", "CS", "NO")
    return view


class Bouncer(ABC):
    """A read-only check that may refuse a dataset (step 1 of ``Core.deidentify``).

    A subclass written for idiscore 1.x, whose ``inspect(self, dataset)`` takes no
    ``pixels_will_be_cleaned``, keeps working (see :func:`_adapt_legacy_inspect`).
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        method = cls.__dict__.get("inspect")
        if callable(method) and not _takes_pixel_flag(method):
            cls.inspect = _adapt_legacy_inspect(method)  # type: ignore[method-assign]

    @abstractmethod
    def inspect(self, dataset: Dataset, *, pixels_will_be_cleaned: bool = False) -> None:
        """Raise :class:`~idiscore.errors.DatasetRejectedError` to refuse ``dataset``.

        ``pixels_will_be_cleaned`` is True when the core's pixel processor has a location
        matching this dataset; only bouncers about pixel content take it into account.
        """

    def reject(self, reason: str) -> DatasetRejectedError:
        return DatasetRejectedError(reason, bouncer=self)

    def _parameters(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        arguments = ", ".join(f"{k}={v!r}" for k, v in self._parameters().items())
        return f"{type(self).__name__}({arguments})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Bouncer)
        return self._parameters() == other._parameters()

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(self)))


@runtime_checkable
class PixelProcessorLike(Protocol):
    """What the Core needs from a pixel processor (see :mod:`idiscore.image_processing`)."""

    def matches(self, dataset: Dataset) -> bool: ...

    def clean(self, dataset: Dataset) -> Dataset: ...
