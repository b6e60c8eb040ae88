"""The operator contract and the context operators receive.

An :class:`Operator` turns one element into its de-identified form. The engine calls
``apply(element, context)`` and uses what it returns:

* a :class:`~pydicom.dataelem.DataElement` -- the element to write (it may be the
  element it was given, unchanged, or a new one with the same tag);
* ``None`` -- the element is removed.

An operator never mutates ``element``, ``context.dataset`` or ``context.root``: they
belong to the caller. Raising an exception means "I cannot handle this element"; the
engine turns it into a :class:`~idiscore.errors.DeidentificationError` that names the
tag, its position, the rule and the dataset.

For a sequence (VR SQ), the engine processes the items of the returned sequence
with the profile's rules, so each nested element gets the rule for its own tag --
unless the operator sets ``handles_items = True`` because it built the items
itself (as :class:`Replace` does).
"""

from __future__ import annotations

import functools
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from idiscore.exceptions import ElementShouldBeRemoved

if TYPE_CHECKING:
    from idiscore.pseudonyms import Pseudonymizer


class _Shared:
    """Values computed at most once per de-identified dataset, shared by all contexts."""

    __slots__ = (
        "_date_shift",
        "_identifying",
        "_sop_class",
        "memo",
        "pseudonymizer",
        "root",
        "sequence_processor",
    )

    def __init__(self, root: Dataset, pseudonymizer: Pseudonymizer | None) -> None:
        self.root = root
        self.pseudonymizer = pseudonymizer
        self.sequence_processor: Callable[[DataElement, Context], DataElement] | None = None
        self._identifying: frozenset[str] | None = None
        self._date_shift: int | None = None
        self._sop_class: str | None = None
        self.memo: dict[Any, Any] = {}


class Context:
    """What an operator may read about the element's surroundings. Read-only.

    Attributes:
        dataset: the dataset or sequence item that holds the element.
        root: the top-level dataset being de-identified.
        path: tags of the enclosing sequences, outermost first (``()`` at top level).
        options: free-form options given to the Core.
        encoding: the character set(s) that apply to ``dataset``.
    """

    __slots__ = ("_shared", "dataset", "encoding", "options", "path")

    def __init__(
        self,
        dataset: Dataset,
        shared: _Shared,
        *,
        path: tuple[int, ...] = (),
        options: Mapping[str, Any] | None = None,
        encoding: str | list[str] = "iso8859",
    ) -> None:
        self.dataset = dataset
        self._shared = shared
        self.path = path
        self.options: Mapping[str, Any] = options if options is not None else {}
        self.encoding = encoding

    @classmethod
    def for_dataset(
        cls,
        dataset: Dataset,
        pseudonymizer: Pseudonymizer | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Context:
        """A top-level context (useful to call operators directly)."""
        encoding = dataset._character_set
        return cls(dataset, _Shared(dataset, pseudonymizer), options=options, encoding=encoding)

    def child(self, item: Dataset, sequence_tag: int, encoding: str | list[str]) -> Context:
        """The context for an item of a sequence inside this context's dataset."""
        return Context(
            item,
            self._shared,
            path=(*self.path, sequence_tag),
            options=self.options,
            encoding=encoding,
        )

    def process_sequence(self, element: DataElement) -> DataElement:
        """A copy of sequence ``element`` whose items were processed with the profile's rules.

        For operators with ``handles_items = True`` that want the profile's rules applied
        to (some of) the items they return. Outside a Core the element is returned as is.
        """
        processor = self._shared.sequence_processor
        if processor is None:
            return element
        return processor(element, self)

    @property
    def root(self) -> Dataset:
        return self._shared.root

    @property
    def memo(self) -> dict[Any, Any]:
        """A dictionary for what operators work out once per de-identified dataset (it
        lives as long as the de-identification of ``root``; key it by operator)."""
        return self._shared.memo

    @property
    def pseudonymizer(self) -> Pseudonymizer:
        """The keyed pseudonymizer of the Core (see :mod:`idiscore.pseudonyms`)."""
        if self._shared.pseudonymizer is None:
            from idiscore.pseudonyms import Pseudonymizer

            self._shared.pseudonymizer = Pseudonymizer.from_env()
        return self._shared.pseudonymizer

    @property
    def identifying_values(self) -> frozenset[str]:
        """The root dataset's identifying values (names, IDs ...), for text cleaning."""
        if self._shared._identifying is None:
            from idiscore.operators.cleaning import identifying_values

            self._shared._identifying = identifying_values(self._shared.root)
        return self._shared._identifying

    @property
    def sop_class_uid(self) -> str:
        """The root dataset's SOP Class UID ('' when it has none)."""
        shared = self._shared
        if shared._sop_class is None:
            from idiscore.operators.values import read_element

            value = ""
            if 0x00080016 in shared.root._dict:
                try:
                    value = str(read_element(shared.root, 0x00080016, "iso8859").value or "")
                except Exception:  # an undecodable SOP Class: as if absent
                    value = ""
            shared._sop_class = value
        return shared._sop_class

    @property
    def date_shift_days(self) -> int:
        """The keyed per-patient date shift (from PatientID and IssuerOfPatientID)."""
        if self._shared._date_shift is None:
            root = self._shared.root
            patient_id = str(root.get("PatientID", "") or "")
            issuer = str(root.get("IssuerOfPatientID", "") or "")
            self._shared._date_shift = self.pseudonymizer.date_shift_days(patient_id, issuer)
        return self._shared._date_shift


def _is_legacy_apply(method: Callable[..., Any]) -> bool:
    """An idiscore 1.x ``apply(self, element, dataset=None)``."""
    try:
        parameters = list(inspect.signature(method).parameters)
    except (TypeError, ValueError):
        return False
    return len(parameters) >= 3 and parameters[2] == "dataset"


def _adapt_legacy_apply(
    method: Callable[[Any, DataElement, Dataset | None], DataElement],
) -> Callable[[Any, DataElement, Context], DataElement | None]:
    """Run a 1.x operator: it gets the dataset that holds the element, and signals removal
    by raising :class:`~idiscore.exceptions.ElementShouldBeRemoved`."""

    @functools.wraps(method)
    def apply(self: Any, element: DataElement, context: Context) -> DataElement | None:
        try:
            return method(self, element, context.dataset)
        except ElementShouldBeRemoved:
            return None

    return apply


class Operator(ABC):
    """Base class of every operator. Extend it to add your own.

    An operator written for idiscore 1.x (``apply(self, element, dataset=None)``, raising
    ``ElementShouldBeRemoved`` to remove) is adapted when its class is defined.

    Set ``action_code`` to the PS3.15 action code the operator implements
    (``"K"``, ``"X"``, ``"Z"``, ``"D"``, ``"U"``, ``"C"``), or leave it None for
    operators outside the standard. Operators must be picklable and should define
    ``__eq__`` through :meth:`_params` so equal configurations compare equal.
    """

    action_code: ClassVar[str | None] = None
    handles_items: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        method = cls.__dict__.get("apply")
        if callable(method) and _is_legacy_apply(method):
            cls.apply = _adapt_legacy_apply(method)  # type: ignore[method-assign, assignment]

    @abstractmethod
    def apply(self, element: DataElement, context: Context) -> DataElement | None:
        """Return the de-identified element, or None to remove it."""

    def resolve(self, tag: int, is_sequence: bool, context: Context) -> Operator:
        """The operator that handles element ``tag`` in ``context``: ``self``, except for
        operators that choose between others (such as compound action codes), which
        return their choice. The engine calls it before decoding the element's value."""
        return self

    def _params(self) -> tuple[Any, ...]:
        """Constructor arguments, used for repr and equality."""
        return ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(repr(p) for p in self._params())})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._params() == self._params()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._params()))


__all__ = ["Context", "Operator"]
