"""Safe private definitions as idiscore 1.x wrote them: blocks of private tags, with a condition.

::

    from idiscore.defaults import create_default_core
    from idiscore.private_processing import SafePrivateBlock, SafePrivateDefinition

    safe_private = SafePrivateDefinition(
        blocks=[
            SafePrivateBlock(
                tags=["0023[SIEMENS MED SP DXMG WH AWS 1]10", "00b1[TestCreator]01"],
                criterion=lambda ds: ds.Modality == "CT",
                comment="only safe in CT",
            ),
            SafePrivateBlock(tags=["00b1[othercreator]11"], comment="always safe"),
        ]
    )
    core = create_default_core(safe_private_definition=safe_private)

A block's tags are private block tags (group, private creator, element offset; see
:class:`~idiscore.identifiers.PrivateBlockTagIdentifier`). The definition becomes rules added
to *Retain Safe Private* (so it only has an effect in profiles with that option, as in
idiscore 1.x): a block without criterion keeps its elements; a block with a criterion keeps
them in the datasets for which ``criterion(dataset)`` is true and removes them elsewhere. The
criterion sees the top-level dataset being de-identified, also for private elements inside
sequences. A criterion that reads an attribute the dataset lacks (AttributeError, KeyError)
raises :class:`~idiscore.exceptions.SafePrivateError` from the Core, a
:class:`~idiscore.errors.DeidentificationError`.

A Core whose configuration holds a ``lambda`` cannot be pickled, so it cannot be sent to
worker processes: give module-level functions as criteria for multi-process batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from idiscore.errors import ConfigurationError
from idiscore.exceptions import CriterionException, SafePrivateError
from idiscore.identifiers import PrivateBlockTagIdentifier, normalise_creator
from idiscore.operators.base import Context, Operator
from idiscore.operators.basic import Keep
from idiscore.rules import Rule

DatasetCriterion = Callable[[Dataset], Any]


class SafePrivateBlock:
    """Private tags that are safe to keep, everywhere or where ``criterion`` holds.

    Args:
        tags: private block tags (``"0013,[Creator]01"``, the comma optional) or
            :class:`~idiscore.identifiers.PrivateBlockTagIdentifier` objects.
        criterion: a function of a dataset; the tags are safe in the datasets for which
            it returns true. None: safe in every dataset.
        comment: why these tags are safe (free text, for people).

    Raises:
        ConfigurationError: (a ValueError) for a malformed tag or a criterion that is
            not callable.
    """

    def __init__(
        self,
        tags: Iterable[PrivateBlockTagIdentifier | str],
        criterion: DatasetCriterion | None = None,
        comment: str = "",
    ) -> None:
        if isinstance(tags, str):
            raise ConfigurationError("SafePrivateBlock tags is a list of tags, not one string")
        self.tags: list[PrivateBlockTagIdentifier] = [self.to_tag_identifier(t) for t in tags]
        if criterion is not None and not callable(criterion):
            raise ConfigurationError(f"a SafePrivateBlock criterion must be callable: {comment!r}")
        self.criterion = criterion
        self.comment = str(comment)

    @staticmethod
    def to_tag_identifier(tag: PrivateBlockTagIdentifier | str) -> PrivateBlockTagIdentifier:
        """``tag`` as a private block identifier (strings are parsed)."""
        if isinstance(tag, PrivateBlockTagIdentifier):
            return tag
        return PrivateBlockTagIdentifier(tag)

    def tags_are_safe(self, dataset: Dataset) -> bool:
        """True when this block's tags may be kept in ``dataset``.

        Raises:
            CriterionException: the criterion could not be evaluated for ``dataset``.
        """
        if self.criterion is None:
            return True
        try:
            return bool(self.criterion(dataset))
        except (AttributeError, KeyError) as error:
            raise CriterionException(
                f"the criterion of safe private block {self.comment or self.tags[:1]!r} "
                f"could not be evaluated ({type(error).__name__}: an attribute it reads "
                "is missing)"
            ) from None

    def get_safe_private_tags(self, dataset: Dataset) -> set[PrivateBlockTagIdentifier]:
        """The tags of this block that are safe in ``dataset`` (all of them, or none)."""
        return set(self.tags) if self.tags_are_safe(dataset) else set()

    def rules(self) -> list[Rule]:
        """This block as rules: keep its tags, or keep them where the criterion holds."""
        operator: Operator = Keep() if self.criterion is None else KeepIfSafe(self)
        return [Rule(tag, operator) for tag in self.tags]

    def __repr__(self) -> str:
        return f"SafePrivateBlock(<{len(self.tags)} tags>, comment={self.comment!r})"


class SafePrivateDefinition:
    """Every private tag known to be safe: a list of :class:`SafePrivateBlock`."""

    def __init__(self, blocks: Iterable[SafePrivateBlock]) -> None:
        self.blocks = list(blocks)
        for block in self.blocks:
            if not isinstance(block, SafePrivateBlock):
                raise ConfigurationError(f"not a SafePrivateBlock: {type(block).__name__}")

    def safe_identifiers(self, dataset: Dataset) -> list[PrivateBlockTagIdentifier]:
        """The private tags that are safe in ``dataset``.

        Raises:
            SafePrivateError: a criterion could not be evaluated for ``dataset``.
        """
        try:
            return [tag for block in self.blocks for tag in block.get_safe_private_tags(dataset)]
        except CriterionException as error:
            raise SafePrivateError(str(error)) from error

    def is_safe(self, element: DataElement, dataset: Dataset) -> bool:
        """True when private ``element`` of ``dataset`` may be kept.

        Raises:
            SafePrivateError: a criterion could not be evaluated for ``dataset``.
        """
        tag = int(element.tag)
        creator = _creator(element, dataset)
        return any(ident.matches(tag, creator) for ident in self.safe_identifiers(dataset))

    def rules(self) -> list[Rule]:
        """The rules of every block, in order."""
        return [rule for block in self.blocks for rule in block.rules()]

    def __repr__(self) -> str:
        return f"SafePrivateDefinition(<{len(self.blocks)} blocks>)"


def _creator(element: DataElement, dataset: Dataset) -> str | None:
    creator = getattr(element, "private_creator", None)
    if creator is None and element.tag.is_private and (element.tag.element >> 8):
        reserving = dataset.get((element.tag.group, element.tag.element >> 8))
        creator = None if reserving is None else reserving.value
    return normalise_creator(creator)


class KeepIfSafe(Operator):
    """Keep an element when its block's criterion holds for the dataset, else remove it.

    The criterion is evaluated on the top-level dataset (``context.root``).
    """

    action_code = "K"

    def __init__(self, block: SafePrivateBlock) -> None:
        self.block = block

    def _params(self) -> tuple[Any, ...]:
        return (self.block,)

    def apply(self, element: DataElement, context: Context) -> DataElement | None:
        try:
            safe = self.block.tags_are_safe(context.root)
        except CriterionException as error:
            raise SafePrivateError(str(error), tag=element.tag) from error
        return element if safe else None


__all__ = ["KeepIfSafe", "SafePrivateBlock", "SafePrivateDefinition"]
