"""The exception names of idiscore 1.x, on top of :mod:`idiscore.errors`.

Everything here is part of the one error tree of :mod:`idiscore.errors`::

    IDISCoreError (also IDISCoreException, the 1.0 name)
    ├── DatasetRejectedError (DatasetRejected)
    │   └── BouncerError                   a bouncer could not decide: refused all the same
    ├── DeidentificationError
    │   ├── CriterionException             a criterion could not be evaluated for a dataset
    │   └── SafePrivateError               a safe private definition could not be applied
    └── ElementShouldBeRemoved             signal of a 1.x operator: remove this element

New code should use :mod:`idiscore.errors`; this module keeps 1.x imports working.
"""

from __future__ import annotations

from idiscore.errors import (
    ConfigurationError,
    DatasetRejectedError,
    DeidentificationError,
    IDISCoreError,
    IDISCoreWarning,
    InputError,
    MissingDependencyError,
    PixelDataProcessingError,
)

#: idiscore 1.0 called the base class this.
IDISCoreException = IDISCoreError

#: The 1.x name of :class:`~idiscore.errors.DatasetRejectedError`.
DatasetRejected = DatasetRejectedError


class BouncerError(DatasetRejectedError):
    """A bouncer could not tell whether a dataset is safe (a value it needs is missing).

    idiscore refuses such a dataset, so this is a kind of rejection: ``except
    DatasetRejected`` catches it, and a batch counts it as rejected.
    """


class CriterionException(DeidentificationError):
    """A criterion (a Python function given as ``criterion=``) failed for a dataset.

    Typically the function read an attribute the dataset does not have. The message names
    the criterion, never a value of the dataset.
    """


class SafePrivateError(DeidentificationError):
    """It could not be decided whether a private element is safe to keep."""


class ElementShouldBeRemoved(IDISCoreError):
    """Raised by an operator written for idiscore 1.x to remove its element.

    Current operators return None instead; 1.x operators that raise this are adapted.
    """


__all__ = [
    "BouncerError",
    "ConfigurationError",
    "CriterionException",
    "DatasetRejected",
    "DatasetRejectedError",
    "DeidentificationError",
    "ElementShouldBeRemoved",
    "IDISCoreError",
    "IDISCoreException",
    "IDISCoreWarning",
    "InputError",
    "MissingDependencyError",
    "PixelDataProcessingError",
    "SafePrivateError",
]
