"""Profile: an ordered list of rule sets, compiled once into a fast lookup."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from idiscore.errors import ConfigurationError
from idiscore.identifiers import (
    PrivateBlockTagIdentifier,
    SingleTag,
    TagIdentifier,
)
from idiscore.rules import Rule, RuleSet
from idiscore.safety_net import dates_shift, safety_net_rule_set

_Entry = tuple[int, int, Rule]  # (specificity, order, rule)


class CompiledRules:
    """The rules of a profile as a lookup: which rule applies to an element?

    Built once per Profile. Single tags are a dict, private block identifiers a
    dict keyed by (group, creator, offset), other identifiers a list sorted by
    specificity; every answer is cached, so each distinct (tag, creator) is resolved
    once per process. Resolution: the most specific identifier wins; for equally
    specific identifiers the later rule (later in its rule set, or in a later rule set)
    wins. With ``safety_net``, a standard element that no rule matches gets the rule of
    the safety net (:mod:`idiscore.safety_net`) for its VR, if any: the lowest priority
    of all, resolved once per tag like every other answer.
    """

    def __init__(self, rule_sets: Sequence[RuleSet], *, safety_net: bool = False) -> None:
        single: dict[int, _Entry] = {}
        block: dict[tuple[int, str, int], _Entry] = {}
        general: dict[TagIdentifier, _Entry] = {}
        order = 0
        for rule_set in rule_sets:
            for rule in rule_set:
                order += 1
                ident = rule.identifier
                entry = (ident.specificity, order, rule)
                if type(ident) is SingleTag:
                    single[int(ident.tag)] = entry
                elif type(ident) is PrivateBlockTagIdentifier:
                    block[(ident.group, ident.private_creator, ident.offset)] = entry
                else:
                    general[ident] = entry
        self._single = single
        self._block = block
        self._general = sorted(general.values(), key=lambda e: (-e[0], -e[1]))
        self._cache: dict[Any, Rule | None] = {}
        self.rules: list[Rule] = [
            e[2] for e in sorted([*single.values(), *block.values(), *general.values()],
                                 key=lambda e: e[1])
        ]  # fmt: skip
        #: The safety net's rule set, or None when it is off.
        self.fallback: RuleSet | None = None
        if safety_net:
            self.fallback = safety_net_rule_set(dates_shift(self._lookup))
        self._fallback_rules: tuple[Rule, ...] = tuple(self.fallback or ())

    def lookup(self, tag: int, private_creator: str | None = None) -> Rule | None:
        """The rule for element ``tag`` (in a private block reserved by ``private_creator``)."""
        key: Any = tag if private_creator is None else (tag, private_creator)
        try:
            return self._cache[key]
        except KeyError:
            pass
        rule = self._lookup(tag, private_creator)
        if rule is None and private_creator is None:
            for fallback in self._fallback_rules:
                if fallback.identifier.matches(tag):
                    rule = fallback
                    break
        self._cache[key] = rule
        return rule

    def _lookup(self, tag: int, private_creator: str | None = None) -> Rule | None:
        """The rule of the profile's rule sets for the element (the net left out)."""
        best: _Entry | None = self._single.get(tag)
        if private_creator is not None and tag & 0xFF00:
            found = self._block.get((tag >> 16, private_creator, tag & 0xFF))
            if found is not None and (best is None or found[:2] > best[:2]):
                best = found
        for entry in self._general:
            if best is not None and entry[:2] < best[:2]:
                break
            if entry[2].identifier.matches(tag, private_creator):
                if best is None or entry[:2] > best[:2]:
                    best = entry
                break
        return best[2] if best is not None else None


class Profile:
    """A named, ordered collection of rule sets: everything a Core does to elements.

    Later rule sets override earlier ones for identical identifiers; otherwise the
    most specific identifier wins (see :mod:`idiscore.identifiers`).

    ``safety_net`` (on by default) gives standard attributes that no rule names a
    fallback by VR: names emptied, dates shifted or removed, UIDs replaced, free text
    cleaned (see :mod:`idiscore.safety_net`). Any rule of the rule sets wins over it.
    """

    def __init__(
        self, rule_sets: Iterable[RuleSet], name: str = "Profile", *, safety_net: bool = True
    ) -> None:
        sets = list(rule_sets)
        for rule_set in sets:
            if not isinstance(rule_set, RuleSet):
                raise ConfigurationError(f"Profile {name!r} holds a non-RuleSet: {rule_set!r}")
        self.rule_sets: list[RuleSet] = sets
        self.name = name
        if not isinstance(safety_net, bool):
            raise ConfigurationError(f"Profile {name!r}: safety_net must be True or False")
        self.safety_net = safety_net
        self._compiled: CompiledRules | None = None
        self._owners: dict[int, RuleSet] | None = None

    @property
    def compiled(self) -> CompiledRules:
        """The compiled lookup (built on first use, then reused)."""
        if self._compiled is None:
            self._compiled = CompiledRules(self.rule_sets, safety_net=self.safety_net)
        return self._compiled

    @property
    def safety_net_rules(self) -> RuleSet | None:
        """The safety net's rule set as this profile compiles it (None when off)."""
        return self.compiled.fallback

    @property
    def rules(self) -> list[Rule]:
        """The effective rules: for identical identifiers only the winning rule."""
        return list(self.compiled.rules)

    def get_rule(self, tag: Any, private_creator: str | None = None) -> Rule | None:
        """The rule that applies to ``tag`` (keyword, string, int or Tag), or None."""
        from idiscore.identifiers import parse_tag

        return self.compiled.lookup(int(parse_tag(tag)), private_creator)

    def rule_set_of(self, rule: Rule) -> RuleSet | None:
        """The rule set that contributed ``rule`` (the last one holding it); the safety
        net's rule set for its rules."""
        if self._owners is None:
            owners: dict[int, RuleSet] = {}
            net = self.compiled.fallback
            for rule_set in [net] if net is not None else []:
                for r in rule_set:
                    owners[id(r)] = rule_set
            for rule_set in self.rule_sets:
                for r in rule_set:
                    owners[id(r)] = rule_set
            self._owners = owners
        return self._owners.get(id(rule))

    def __iter__(self) -> Iterator[RuleSet]:
        return iter(self.rule_sets)

    def __repr__(self) -> str:
        names = ", ".join(repr(r.name) for r in self.rule_sets)
        net = "" if self.safety_net else ", safety_net=False"
        return f"Profile(rule_sets=[{names}], name={self.name!r}{net})"

    def __getstate__(self) -> dict[str, Any]:
        return {"rule_sets": self.rule_sets, "name": self.name, "safety_net": self.safety_net}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.rule_sets = state["rule_sets"]
        self.name = state["name"]
        self.safety_net = state.get("safety_net", True)
        self._compiled = None
        self._owners = None


__all__ = ["CompiledRules", "Profile"]
