"""A :class:`~idiscore.pixels.criterion.Criterion` given as a Python function.

idiscore 1.x took criteria as functions of a dataset (``lambda ds: ds.Rows == 480``);
:class:`FunctionCriterion` lets them stand wherever a Criterion is accepted (pixel
locations, :class:`~idiscore.bouncers.CriterionBouncer`)::

    FunctionCriterion(lambda ds: ds.Modality == "US")

The function sees a shallow copy of the dataset, so reading attributes never converts
the caller's elements in place. A function that reads a missing attribute (AttributeError,
KeyError) raises :class:`~idiscore.exceptions.CriterionException`. Unlike a Criterion
given as data it cannot be saved to a location file, and it pickles only when the
function does (a module-level function does, a ``lambda`` does not).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydicom.dataset import Dataset

from idiscore.errors import ConfigurationError, MissingDependencyError
from idiscore.exceptions import CriterionException
from idiscore.pixels._dataset import shallow_copy
from idiscore.pixels.criterion import Criterion


def _label(function: Callable[..., Any]) -> str:
    name = getattr(function, "__qualname__", None) or type(function).__name__
    module = getattr(function, "__module__", None)
    return f"{module}.{name}" if module else name


class FunctionCriterion(Criterion):
    """A criterion that is true for the datasets for which ``function`` returns true."""

    __slots__ = ("function",)

    def __init__(self, function: Callable[[Dataset], Any]) -> None:
        if not callable(function):
            raise ConfigurationError(f"a criterion function must be callable, got {function!r}")
        self._conditions = ()
        self.function = function

    @property
    def keywords(self) -> tuple[str, ...]:
        return ()

    def matches(self, dataset: Dataset) -> bool:
        try:
            return bool(self.function(shallow_copy(dataset)))
        except (AttributeError, KeyError) as error:
            raise CriterionException(
                f"criterion {_label(self.function)} could not be evaluated "
                f"({type(error).__name__}: an attribute it reads is missing)"
            ) from None

    def to_dict(self) -> dict[str, Any]:
        raise ConfigurationError(
            f"criterion {_label(self.function)} is a Python function: it cannot be written "
            "as conditions"
        )

    def __getstate__(self) -> dict[str, Any]:
        return {"function": self.function}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._conditions = ()
        self.function = state["function"]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Criterion):
            return NotImplemented
        return isinstance(other, FunctionCriterion) and other.function == self.function

    def __hash__(self) -> int:
        return hash(self.function)

    def __repr__(self) -> str:
        return f"FunctionCriterion({_label(self.function)})"


class ExpressionCriterion(FunctionCriterion):
    """A criterion written as a ``dicomcriterion`` expression, as idiscore 1.x bouncers took
    it: ``ExpressionCriterion("Modality.equals('US') and not BurnedInAnnotation.equals('NO')")``.

    Needs the optional ``compat`` extra (``pip install idiscore[compat]``). The expression is
    parsed when the criterion is built (a syntax error raises ConfigurationError) and it
    pickles as its text.
    """

    __slots__ = ("expression",)

    def __init__(self, expression: str) -> None:
        if not isinstance(expression, str) or not expression.strip():
            raise ConfigurationError("a criterion expression is a non-empty string")
        try:
            import dicomcriterion
        except ImportError:
            raise MissingDependencyError(
                "criteria written as expressions need dicomcriterion: "
                "pip install 'idiscore[compat]'"
            ) from None
        try:
            parsed = dicomcriterion.Criterion(expression)
        except dicomcriterion.CriterionError as error:
            raise ConfigurationError(f"cannot parse criterion {expression!r}: {error}") from None
        super().__init__(parsed.evaluate)
        self.expression = expression

    def __getstate__(self) -> dict[str, Any]:
        return {"expression": self.expression}

    def __setstate__(self, state: dict[str, Any]) -> None:
        ExpressionCriterion.__init__(self, state["expression"])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Criterion):
            return NotImplemented
        return isinstance(other, ExpressionCriterion) and other.expression == self.expression

    def __hash__(self) -> int:
        return hash(self.expression)

    def __repr__(self) -> str:
        return f"ExpressionCriterion({self.expression!r})"


def as_criterion(value: Any, *, mappings: bool = True) -> Criterion | None:
    """``value`` as a Criterion: a Criterion or None as is, a mapping of conditions (unless
    ``mappings`` is false), a ``dicomcriterion`` expression or a function of a dataset."""
    if value is None or isinstance(value, Criterion):
        return value
    if mappings and isinstance(value, dict):
        return Criterion(value)
    if isinstance(value, str):
        return ExpressionCriterion(value)
    expression = getattr(value, "_expression", None)
    if isinstance(expression, str) and callable(getattr(value, "evaluate", None)):
        return ExpressionCriterion(expression)  # a dicomcriterion.Criterion
    if callable(value) and not isinstance(value, dict):
        return FunctionCriterion(value)
    raise ConfigurationError(
        f"not a criterion: {type(value).__name__} (expected a Criterion, a mapping of "
        "conditions, an expression or a function of a dataset)"
    )


__all__ = ["ExpressionCriterion", "FunctionCriterion", "as_criterion"]
