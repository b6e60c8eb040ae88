"""Rules and rule sets.

A :class:`Rule` pairs an identifier (which elements) with an operator (what to do).
A :class:`RuleSet` is a named, ordered collection of rules -- for example one
profile or option of DICOM PS3.15 Annex E.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from idiscore.errors import ConfigurationError
from idiscore.identifiers import TagIdentifier, as_identifier
from idiscore.operators.base import Operator


class Rule:
    """Apply ``operation`` to every element ``identifier`` designates.

    ``identifier`` may be any :class:`~idiscore.identifiers.TagIdentifier` or anything
    a :class:`~idiscore.identifiers.SingleTag` accepts (a keyword, ``"0010,0010"``, a
    pydicom Tag, an int ...).
    """

    __slots__ = ("identifier", "operation")

    def __init__(self, identifier: Any, operation: Operator) -> None:
        self.identifier: TagIdentifier = as_identifier(identifier)
        if not isinstance(operation, Operator):
            raise ConfigurationError(
                f"a rule needs an idiscore Operator, got {operation!r} for {self.identifier!r}"
            )
        self.operation = operation

    @property
    def action_code(self) -> str | None:
        return self.operation.action_code

    def __repr__(self) -> str:
        return f"Rule({self.identifier!r}, {self.operation!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Rule)
            and other.identifier == self.identifier
            and other.operation == self.operation
        )

    def __hash__(self) -> int:
        return hash((self.identifier, self.operation))

    def __getstate__(self) -> tuple[TagIdentifier, Operator]:
        return (self.identifier, self.operation)

    def __setstate__(self, state: tuple[TagIdentifier, Operator]) -> None:
        self.identifier, self.operation = state


class RuleSet:
    """A named collection of rules.

    ``code`` optionally carries the CID 7050 code of the PS3.15 profile or option
    the rule set implements, as ``(scheme, value, meaning)``; a Core records the
    codes of the rule sets it applies in *De-identification Method Code Sequence*.
    Within one rule set a later rule for an identical identifier replaces an earlier one.
    """

    def __init__(
        self,
        rules: Iterable[Rule],
        name: str = "RuleSet",
        code: tuple[str, str, str] | None = None,
    ) -> None:
        collected = list(rules)
        for rule in collected:
            if not isinstance(rule, Rule):
                raise ConfigurationError(f"RuleSet {name!r} holds a non-Rule: {rule!r}")
        self.rules: list[Rule] = collected
        self.name = name
        self.code = code

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def get_rule(self, identifier: Any) -> Rule | None:
        """The (last) rule for an identical identifier, or None."""
        wanted = as_identifier(identifier)
        found = None
        for rule in self.rules:
            if rule.identifier == wanted:
                found = rule
        return found

    def __repr__(self) -> str:
        return f"RuleSet(<{len(self.rules)} rules>, name={self.name!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, RuleSet)
            and other.name == self.name
            and other.code == self.code
            and other.rules == self.rules
        )

    __hash__ = None  # type: ignore[assignment]


__all__ = ["Rule", "RuleSet"]
