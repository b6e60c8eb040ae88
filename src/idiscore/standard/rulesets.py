"""PS3.15 Table E.1-1 as rule sets: one for the Basic Profile and one per option.

Built from the generated tables in :mod:`idiscore.standard._tables`; nothing here
restates the standard.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from idiscore.errors import ConfigurationError
from idiscore.identifiers import (
    PrivateBlockTagIdentifier,
    PrivateTags,
    RepeatingGroup,
    SingleTag,
    TagIdentifier,
)
from idiscore.operators.base import Operator
from idiscore.operators.basic import Keep
from idiscore.private_processing import SafePrivateBlock, SafePrivateDefinition
from idiscore.rules import Rule, RuleSet
from idiscore.standard import _tables
from idiscore.standard.actions import ActionCode

#: CID 7050 code value of the Basic Profile and of each option's Table E.1-1 column.
OPTION_CODES: dict[str, str] = {
    "basic": "113100",
    "retain_safe_private": "113111",
    "retain_uids": "113110",
    "retain_device_identity": "113109",
    "retain_institution_identity": "113112",
    "retain_patient_characteristics": "113108",
    "retain_long_full_dates": "113106",
    "retain_long_modified_dates": "113107",
    "clean_descriptors": "113105",
    "clean_structured_content": "113104",
    "clean_graphics": "113103",
}

#: Attribute names of :func:`get_dicom_rule_sets` for each column.
SET_NAMES: dict[str, str] = {
    "basic": "basic_profile",
    "retain_safe_private": "retain_safe_private",
    "retain_uids": "retain_uid",
    "retain_device_identity": "retain_device_id",
    "retain_institution_identity": "retain_institution_id",
    "retain_patient_characteristics": "retain_patient_characteristics",
    "retain_long_full_dates": "retain_long_full_dates",
    "retain_long_modified_dates": "retain_long_modified_dates",
    "clean_descriptors": "clean_descriptors",
    "clean_structured_content": "clean_structured_content",
    "clean_graphics": "clean_graphics",
}

CLEAN_PIXEL_DATA_CODE = "113101"
CLEAN_RECOGNIZABLE_VISUAL_FEATURES_CODE = "113102"


def cid7050(code_value: str) -> tuple[str, str, str]:
    """(scheme, value, meaning) of a CID 7050 code."""
    for scheme, value, meaning in _tables.CID7050:
        if value == code_value:
            return (scheme, value, meaning)
    raise KeyError(code_value)


def identifier_for(pattern: str) -> TagIdentifier:
    """The identifier for a Table E.1-1 tag pattern (``00100010``, ``50xxxxxx``, ``ggggeeee``)."""
    if pattern == "ggggeeee":
        return PrivateTags()
    if "x" in pattern:
        return RepeatingGroup(f"{pattern[:4]},{pattern[4:]}")
    return SingleTag(int(pattern, 16))


def safe_private_identifiers() -> list[PrivateBlockTagIdentifier]:
    """Table E.3.10-1: the private attributes that are safe, creator-aware."""
    return [
        PrivateBlockTagIdentifier.from_parts(group, creator, offset)
        for group, creator, offset, _vr, _vm, _meaning in _tables.SAFE_PRIVATE
    ]


@cache
def _column_rules(column: str) -> tuple[Rule, ...]:
    index = _tables.E1_1_OPTION_COLUMNS.index(column)
    rules: list[Rule] = []
    for pattern, _name, _retired, _in_iod, actions in _tables.E1_1_ROWS:
        code = actions[index]
        if not code:
            continue
        if pattern == "ggggeeee" and column == "retain_safe_private":
            # "C" on all private attributes: keep exactly those of Table E.3.10-1
            continue
        operator = _operator(code)
        if column == "clean_structured_content" and code == "C":
            from idiscore.operators.structured import CleanStructuredContent

            operator = CleanStructuredContent()
        rules.append(Rule(identifier_for(pattern), operator))
    if column == "retain_safe_private":
        from idiscore.operators.safe_private import KeepAsDeclared

        # kept only with the declared VR and a value that fits it
        rules.extend(
            Rule(PrivateBlockTagIdentifier.from_parts(group, creator, offset), KeepAsDeclared(vr))
            for group, creator, offset, vr, _vm, _meaning in _tables.SAFE_PRIVATE
        )
    if column == "basic":
        rules.extend(file_meta_rules())
        rules.extend(code_rules())
        rules.append(Rule(RepeatingGroup("60xx,xxxx"), _operator("X")))
    if column == "clean_graphics":
        rules.append(Rule(RepeatingGroup("60xx,xxxx"), _operator("K")))
    return tuple(rules)


def _operator(code: str) -> Operator:
    return ActionCode.parse(code).operator()


def file_meta_rules() -> list[Rule]:
    """Rules for File Meta Information elements that name the sending site.

    Table E.1-1 covers the data set only; the file meta of a DICOM file (PS3.10) also
    holds AE titles and presentation addresses of the systems that handled it. The
    Basic Profile removes them (as it removes other device and station identifiers);
    the media storage UIDs always follow the de-identified SOP UIDs.

    Two more supplements keep the output valid: an overlay plane whose Overlay Data
    (60xx,3000) is removed would be invalid, so the Basic Profile removes the whole
    overlay group (60xx,xxxx); Clean Graphics, which cleans overlay data, keeps it.
    """
    from idiscore.operators import Remove

    keywords = (
        "SourceApplicationEntityTitle",
        "SendingApplicationEntityTitle",
        "ReceivingApplicationEntityTitle",
        "SourcePresentationAddress",
        "SendingPresentationAddress",
        "ReceivingPresentationAddress",
        "PrivateInformationCreatorUID",
        "PrivateInformation",
    )
    return [Rule(SingleTag(keyword), Remove()) for keyword in keywords]


def code_rules() -> list[Rule]:
    """Rules for the attributes of coded concepts, which Table E.1-1 does not list.

    A code item anywhere in the dataset keeps its code only when it is a standard code
    with its standard meaning; local and site codes become a dummy code, and inside the
    sequences that identify a person or an organisation no original code survives (see
    :mod:`idiscore.operators.codes`). The SOP Common Module's Coding Scheme
    Identification, Context Group Identification and Mapping Resource Identification
    Sequences (Type 3 in every IOD) describe a site's own schemes, with their names and
    responsible organisations: they are removed.
    """
    from idiscore.operators import Remove
    from idiscore.operators.codes import CODE_ATTRIBUTES, StandardCodesOnly

    rules = [Rule(SingleTag(tag), StandardCodesOnly()) for tag in sorted(CODE_ATTRIBUTES)]
    for keyword in (
        "CodingSchemeIdentificationSequence",
        "ContextGroupIdentificationSequence",
        "MappingResourceIdentificationSequence",
    ):
        rules.append(Rule(SingleTag(keyword), Remove()))
    return rules


def column_rule_set(column: str, extra: Iterable[Rule] = ()) -> RuleSet:
    """The rule set of one Table E.1-1 column, named and coded after its CID 7050 code."""
    code = cid7050(OPTION_CODES[column])
    return RuleSet([*_column_rules(column), *extra], name=code[2], code=code)


#: idiscore 1.x attribute names that differ from ours (and the short name
#: ``retain_patient_chars`` some of its users' code has).
LEGACY_SET_NAMES: dict[str, str] = {
    "retain_full_dates": "retain_long_full_dates",
    "retain_modified_dates": "retain_long_modified_dates",
    "retain_patient_chars": "retain_patient_characteristics",
}


def _action_key(key: Any) -> str:
    """The code text of an action-mapping key: ``"C"``, an ActionCode enum or 1.x pair."""
    text = getattr(key, "key", None)  # idiscore.dicom.ActionCode (1.x)
    if text is None:
        text = getattr(key, "value", key)  # idiscore.standard.actions.ActionCode
    if not isinstance(text, str):
        raise ConfigurationError(f"not an action code: {key!r}")
    return ActionCode.parse(text).value


def _remapped(rule_set: RuleSet, mapping: dict[str, Operator]) -> RuleSet:
    rules = [
        Rule(rule.identifier, mapping[rule.action_code]) if rule.action_code in mapping else rule
        for rule in rule_set.rules
    ]
    return RuleSet(rules, name=rule_set.name, code=rule_set.code)


@dataclass(frozen=True, init=False)
class DICOMRuleSets:
    """The Basic Profile and every option of PS3.15 Annex E (edition :data:`EDITION`).

    ``DICOMRuleSets()`` builds them all from the standard's tables; keyword arguments
    (``retain_safe_private=...``) replace single rule sets. ``action_mapping`` (as in
    idiscore 1.x) replaces the operator of every rule whose action code is a key, e.g.
    ``{ActionCodes.CLEAN: MyCleaner()}``; keys may be code texts (``"C"``),
    :class:`~idiscore.standard.actions.ActionCode` members or ``idiscore.dicom.ActionCodes``
    pairs. The 1.x names ``retain_full_dates`` and ``retain_modified_dates`` are aliases
    of ``retain_long_full_dates`` and ``retain_long_modified_dates``, and
    ``retain_patient_chars`` of ``retain_patient_characteristics``.
    """

    basic_profile: RuleSet
    retain_safe_private: RuleSet
    retain_uid: RuleSet
    retain_device_id: RuleSet
    retain_institution_id: RuleSet
    retain_patient_characteristics: RuleSet
    retain_long_full_dates: RuleSet
    retain_long_modified_dates: RuleSet
    clean_descriptors: RuleSet
    clean_structured_content: RuleSet
    clean_graphics: RuleSet

    def __init__(
        self, action_mapping: Mapping[Any, Operator] | None = None, **rule_sets: RuleSet
    ) -> None:
        for legacy, name in LEGACY_SET_NAMES.items():
            if legacy in rule_sets:
                rule_sets[name] = rule_sets.pop(legacy)
        unknown = set(rule_sets) - set(SET_NAMES.values())
        if unknown:
            raise ConfigurationError(f"unknown rule set names: {sorted(unknown)}")
        mapping: dict[str, Operator] = {}
        for key, operator in (action_mapping or {}).items():
            if not isinstance(operator, Operator):
                raise ConfigurationError(f"action_mapping values must be Operators: {key!r}")
            mapping[_action_key(key)] = operator
        for column, name in SET_NAMES.items():
            rule_set = rule_sets.get(name)
            if rule_set is None:
                rule_set = column_rule_set(column)
            elif not isinstance(rule_set, RuleSet):
                raise ConfigurationError(f"{name} must be a RuleSet")
            if mapping:
                rule_set = _remapped(rule_set, mapping)
            object.__setattr__(self, name, rule_set)

    @property
    def retain_full_dates(self) -> RuleSet:
        """idiscore 1.x name of :attr:`retain_long_full_dates`."""
        return self.retain_long_full_dates

    @property
    def retain_modified_dates(self) -> RuleSet:
        """idiscore 1.x name of :attr:`retain_long_modified_dates`."""
        return self.retain_long_modified_dates

    @property
    def retain_patient_chars(self) -> RuleSet:
        """Short name of :attr:`retain_patient_characteristics`."""
        return self.retain_patient_characteristics

    def all(self) -> list[RuleSet]:
        return [getattr(self, name) for name in SET_NAMES.values()]

    def by_name(self, name: str) -> RuleSet:
        """A rule set by attribute name (``clean_descriptors``, or a 1.x name such as
        ``retain_modified_dates``), column name or CID meaning."""
        key = name.strip()
        key = LEGACY_SET_NAMES.get(key, key)
        if key in SET_NAMES:
            key = SET_NAMES[key]
        if key == "basic":
            key = "basic_profile"
        for rule_set in self.all():
            if key == rule_set.name:
                return rule_set
        if key in SET_NAMES.values():
            return getattr(self, key)  # type: ignore[no-any-return]
        known = ", ".join(SET_NAMES.values())
        raise ConfigurationError(f"unknown PS3.15 option {name!r}; known: {known}")


@cache
def _standard_rule_sets() -> DICOMRuleSets:
    return DICOMRuleSets()


def get_dicom_rule_sets(safe_private_definition: Any = None) -> DICOMRuleSets:
    """The rule sets of DICOM PS3.15 Annex E (Table E.1-1), one per profile and option.

    With ``safe_private_definition`` (as :func:`create_default_core` takes it), its
    rules are added to ``retain_safe_private``.
    """
    sets = _standard_rule_sets()
    if safe_private_definition is None:
        return sets
    return replace(sets, retain_safe_private=safe_private_rule_set(safe_private_definition))


def safe_private_rule_set(definition: Any) -> RuleSet:
    """Retain Safe Private, extended with the user's own safe private definitions.

    ``definition`` is a :class:`~idiscore.private_processing.SafePrivateDefinition`, or
    an iterable of rules, private block identifiers or their strings and
    :class:`~idiscore.private_processing.SafePrivateBlock` objects.
    """
    if definition is None:
        return get_dicom_rule_sets().retain_safe_private
    if isinstance(definition, SafePrivateDefinition):
        definition = definition.blocks
    if isinstance(definition, SafePrivateBlock | str) or not isinstance(definition, Iterable):
        definition = [definition]
    extra: list[Rule] = []
    for item in definition:
        if isinstance(item, SafePrivateBlock):
            extra.extend(item.rules())
        elif isinstance(item, Rule):
            extra.append(item)
        elif isinstance(item, PrivateBlockTagIdentifier):
            extra.append(Rule(item, Keep()))
        elif isinstance(item, str):
            extra.append(Rule(PrivateBlockTagIdentifier(item), Keep()))
        else:
            raise ConfigurationError(
                f"not a safe private definition: {type(item).__name__} (expected a "
                "SafePrivateBlock, Rule, PrivateBlockTagIdentifier or tag string)"
            )
    return column_rule_set("retain_safe_private", extra)


EDITION = _tables.EDITION

__all__ = [
    "CLEAN_PIXEL_DATA_CODE",
    "EDITION",
    "LEGACY_SET_NAMES",
    "OPTION_CODES",
    "SET_NAMES",
    "DICOMRuleSets",
    "cid7050",
    "code_rules",
    "column_rule_set",
    "get_dicom_rule_sets",
    "identifier_for",
    "safe_private_identifiers",
    "safe_private_rule_set",
]
