"""What de-identification did to each element of a dataset (idiscore 1.x's ``validation``).

::

    from idiscore.validation import extract_signature

    for delta in extract_signature(core, dataset):
        print(delta)                 # "(0010,0010) - EMPTIED", "(0008,0018) - CHANGED" ...

:func:`extract_signature` de-identifies ``dataset`` with any object that has a
``deidentify(dataset)`` method and compares the top-level elements before and after. A
:class:`Delta` holds both values: they are PHI, so never log :meth:`Delta.full_description`.
"""

from __future__ import annotations

import copy
from collections.abc import Sized
from typing import Any, Protocol

from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from idiscore.identifiers import tag_string


class Deidentifier(Protocol):
    """Anything with a ``deidentify(dataset)`` method, such as :class:`idiscore.core.Core`."""

    def deidentify(self, dataset: Dataset) -> Dataset: ...


class DeltaStatusCodes:
    """How an element changed."""

    UNCHANGED = "UNCHANGED"
    CHANGED = "CHANGED"
    REMOVED = "REMOVED"
    EMPTIED = "EMPTIED"
    CREATED = "CREATED"

    ALL = frozenset({UNCHANGED, CHANGED, REMOVED, EMPTIED, CREATED})


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, Sized) and len(value) == 0:
        return True
    return str(value) == ""


class Delta:
    """The value of one element before and after de-identification.

    ``before`` is None for an element the de-identification added; ``removed`` says the
    element is gone (by default: when ``after`` is None).
    """

    def __init__(self, tag: Any, before: Any, after: Any, *, removed: bool | None = None):
        self.tag = BaseTag(int(tag))
        self.before = before
        self.after = after
        self.removed = after is None if removed is None else removed

    @property
    def status(self) -> str:
        """One of :class:`DeltaStatusCodes`."""
        if self.removed:
            return DeltaStatusCodes.REMOVED
        if not self.has_changed():
            return DeltaStatusCodes.UNCHANGED
        if self.before is None:
            return DeltaStatusCodes.CREATED
        if _is_empty(self.after):
            return DeltaStatusCodes.EMPTIED
        return DeltaStatusCodes.CHANGED

    def has_changed(self) -> bool:
        """True when the element was changed, emptied, removed or added."""
        return bool(self.removed) or self.before != self.after

    def full_description(self) -> str:
        """The change with both values (PHI: for your eyes, not for logs)."""
        return f"{tag_string(self.tag)} - {self.status}: {self.before} -> {self.after}"

    def __str__(self) -> str:
        return f"{tag_string(self.tag)} - {self.status}"

    def __repr__(self) -> str:
        return f"Delta({tag_string(self.tag)}, {self.status})"


def extract_signature(deidentifier: Deidentifier, dataset: Dataset) -> list[Delta]:
    """One :class:`Delta` per top-level element of ``dataset`` and per element added.

    ``dataset`` is compared with a copy taken before ``deidentifier`` ran, so the result is
    right also for a deidentifier that changes its input (idiscore's Core never does).
    """
    before = copy.deepcopy(dataset)
    after = deidentifier.deidentify(dataset=dataset)
    deltas: list[Delta] = []
    for element in before:
        kept = after.get(element.tag)
        deltas.append(
            Delta(
                element.tag,
                element.value,
                None if kept is None else kept.value,
                removed=kept is None,
            )
        )
    for tag in sorted(set(after.keys()) - set(before.keys())):
        deltas.append(Delta(tag, None, after[tag].value, removed=False))
    return deltas


__all__ = ["Deidentifier", "Delta", "DeltaStatusCodes", "extract_signature"]
