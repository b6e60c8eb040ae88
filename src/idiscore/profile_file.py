"""Profiles as TOML files: :func:`load_profile` and :func:`dump_profile`.

A profile file names standard rule sets (the attributes of
:func:`idiscore.defaults.get_dicom_rule_sets`, e.g. ``basic_profile``, ``retain_uid``) and may
add rules of its own::

    name = "Site profile"
    rule_sets = ["basic_profile", "clean_descriptors", "site"]

    [[rules]]
    rule_set = "site"          # optional; the default custom rule set is "custom"
    tag = "PatientName"        # or "0010,0010", "50xx,xxxx", "0013,[Creator]01", "PrivateTags"
    operator = "Hash"          # a class name from idiscore.operators
    args = { prefix = "P" }    # keyword arguments of the operator (optional)

    [codes]                    # optional CID 7050 code of a custom rule set
    site = ["99SITE", "S1", "Site de-identification"]

A top-level ``safety_net = false`` switches off the fallback for standard attributes that
no rule names (see :mod:`idiscore.safety_net`); it is on by default.

Rule sets are applied in the order of ``rule_sets``. A name that also appears as the
``rule_set`` of a ``[[rules]]`` entry is a custom rule set made of those rules (in file
order); any other name must be a standard rule set. Custom rule sets that ``rule_sets``
does not list are appended at the end, in the order they first appear. ``basic`` is
accepted as a short name for ``basic_profile``.

:func:`dump_profile` writes any profile in this format (standard rule sets by name, others
rule by rule); loading the text gives back a profile with equal rule sets and name.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from idiscore.errors import ConfigurationError, MissingDependencyError
from idiscore.identifiers import (
    PrivateBlockTagIdentifier,
    PrivateTags,
    RepeatingGroup,
    SingleTag,
    TagIdentifier,
)
from idiscore.operators.base import Operator
from idiscore.profile import Profile
from idiscore.rules import Rule, RuleSet

__all__ = [
    "DEFAULT_CUSTOM_RULE_SET",
    "dump_profile",
    "load_profile",
    "load_profile_text",
    "standard_rule_sets",
]

#: The rule set that ``[[rules]]`` entries without ``rule_set`` belong to.
DEFAULT_CUSTOM_RULE_SET = "custom"

_ALIASES = {"basic": "basic_profile"}
_TOP_KEYS = {"name", "rule_sets", "rules", "codes", "safety_net"}
_RULE_KEYS = {"tag", "operator", "args", "rule_set"}
_PRIVATE_TAGS = "PrivateTags"


def _toml_loads(text: str, source: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10 only
        try:
            import tomli as tomllib
        except ImportError:
            raise MissingDependencyError(
                "reading profile files on Python 3.10 needs the 'tomli' package "
                "(pip install tomli)"
            ) from None
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{source}: not valid TOML: {exc}") from None
    return data


def standard_rule_sets() -> dict[str, RuleSet]:
    """The standard rule sets by name (the RuleSet attributes of ``get_dicom_rule_sets()``)."""
    from idiscore.standard.rulesets import get_dicom_rule_sets

    sets = get_dicom_rule_sets()
    found: dict[str, RuleSet] = {}
    for name in dir(sets):
        if name.startswith("_"):
            continue
        value = getattr(sets, name, None)
        if isinstance(value, RuleSet):
            found[name] = value
    return found


# -- loading ----------------------------------------------------------------------------


def load_profile(path: str | os.PathLike[str]) -> Profile:
    """Read a profile file (see the module documentation).

    Raises:
        ConfigurationError: the file cannot be read or describes an invalid profile.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read profile file {os.fspath(path)!r}: {exc}") from None
    return load_profile_text(text, source=os.fspath(path), default_name=file.stem)


def load_profile_text(text: str, *, source: str = "<profile>", default_name: str = "") -> Profile:
    """Build a profile from the text of a profile file."""
    data = _toml_loads(text, source)
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ConfigurationError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}")
    name = data.get("name", default_name or "Profile")
    if not isinstance(name, str):
        raise ConfigurationError(f"{source}: 'name' must be a string")
    listed = data.get("rule_sets", [])
    if not isinstance(listed, list) or not all(isinstance(n, str) for n in listed):
        raise ConfigurationError(f"{source}: 'rule_sets' must be a list of names")
    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list) or not all(isinstance(r, dict) for r in raw_rules):
        raise ConfigurationError(f"{source}: 'rules' must be an array of tables ([[rules]])")
    codes = data.get("codes", {})
    if not isinstance(codes, dict):
        raise ConfigurationError(f"{source}: 'codes' must be a table")
    safety_net = data.get("safety_net", True)
    if not isinstance(safety_net, bool):
        raise ConfigurationError(f"{source}: 'safety_net' must be true or false")

    custom: dict[str, list[Rule]] = {}
    for number, entry in enumerate(raw_rules, start=1):
        set_name, rule = _rule_from_table(entry, f"{source}: rule {number}")
        custom.setdefault(set_name, []).append(rule)
    for set_name in codes:
        if set_name not in custom:
            raise ConfigurationError(f"{source}: code given for {set_name!r}, which has no rules")

    order: list[str] = [str(n) if n in custom else _ALIASES.get(str(n), str(n)) for n in listed]
    if len(set(order)) != len(order):
        raise ConfigurationError(f"{source}: a rule set is listed twice in 'rule_sets'")
    order += [n for n in custom if n not in order]
    standard: dict[str, RuleSet] | None = None
    rule_sets: list[RuleSet] = []
    for set_name in order:
        if set_name in custom:
            code = _code(codes.get(set_name), f"{source}: codes.{set_name}")
            rule_sets.append(RuleSet(custom[set_name], name=set_name, code=code))
            continue
        if standard is None:
            standard = standard_rule_sets()
        if set_name not in standard:
            known = ", ".join(sorted(standard))
            raise ConfigurationError(
                f"{source}: unknown rule set {set_name!r}; standard rule sets are: {known}"
            )
        rule_sets.append(standard[set_name])
    return Profile(rule_sets, name=name, safety_net=safety_net)


def _code(value: Any, where: str) -> tuple[str, str, str] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 3
        or not all(isinstance(v, str) for v in value)
    ):
        raise ConfigurationError(f"{where}: a code is [scheme, value, meaning]")
    return (value[0], value[1], value[2])


def _rule_from_table(entry: Mapping[str, Any], where: str) -> tuple[str, Rule]:
    unknown = set(entry) - _RULE_KEYS
    if unknown:
        raise ConfigurationError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    tag = entry.get("tag")
    if not isinstance(tag, str):
        raise ConfigurationError(f"{where}: 'tag' (a string) is required")
    operator_name = entry.get("operator")
    if not isinstance(operator_name, str):
        raise ConfigurationError(f"{where}: 'operator' (a class name) is required")
    args = entry.get("args", {})
    if not isinstance(args, dict):
        raise ConfigurationError(f"{where}: 'args' must be a table")
    set_name = entry.get("rule_set", DEFAULT_CUSTOM_RULE_SET)
    if not isinstance(set_name, str) or not set_name:
        raise ConfigurationError(f"{where}: 'rule_set' must be a non-empty string")
    try:
        identifier = parse_identifier(tag)
        operator = _operator(operator_name, args)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None
    return set_name, Rule(identifier, operator)


def parse_identifier(text: str) -> TagIdentifier:
    """The identifier a profile file's ``tag`` string designates."""
    stripped = text.strip()
    if stripped == _PRIVATE_TAGS:
        return PrivateTags()
    if "[" in stripped:
        return PrivateBlockTagIdentifier(stripped)
    if "x" in stripped.lower() and "," in stripped:
        return RepeatingGroup(stripped)
    return SingleTag(stripped)


def _operator(name: str, args: dict[str, Any]) -> Operator:
    import idiscore.operators as operators

    cls = getattr(operators, name, None) if not name.startswith("_") else None
    if not (isinstance(cls, type) and issubclass(cls, Operator)) or inspect.isabstract(cls):
        known = ", ".join(
            sorted(
                n
                for n in getattr(operators, "__all__", dir(operators))
                if isinstance(getattr(operators, n, None), type)
                and issubclass(getattr(operators, n), Operator)
                and not inspect.isabstract(getattr(operators, n))
            )
        )
        raise ConfigurationError(f"unknown operator {name!r}; known operators: {known}")
    try:
        return cls(**args)
    except ConfigurationError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"bad arguments for {name}: {exc}") from None


# -- dumping ----------------------------------------------------------------------------


def dump_profile(profile: Profile) -> str:
    """The profile as the text of a profile file.

    Rule sets equal to a standard rule set are written by name, every other rule set rule
    by rule.

    Raises:
        ConfigurationError: a rule uses an identifier or an operator argument that a
            profile file cannot express.
    """
    standard: dict[str, RuleSet] | None = None
    names: list[str] = []
    custom: list[RuleSet] = []
    for rule_set in profile.rule_sets:
        if standard is None:
            try:
                standard = standard_rule_sets()
            except ImportError:
                standard = {}
        match = next((n for n, s in standard.items() if s is rule_set or s == rule_set), None)
        if match is not None:
            names.append(match)
            continue
        if rule_set.name in names or any(s.name == rule_set.name for s in custom):
            raise ConfigurationError(f"two rule sets are named {rule_set.name!r}")
        if not len(rule_set):
            raise ConfigurationError(f"rule set {rule_set.name!r} is empty and not standard")
        names.append(rule_set.name)
        custom.append(rule_set)

    lines = [
        "# idiscore profile file (load with idiscore.profile_file.load_profile)",
        f"name = {_toml_value(profile.name)}",
        f"rule_sets = {_toml_value(names)}",
    ]
    if not profile.safety_net:
        lines.append("safety_net = false")
    coded = [s for s in custom if s.code is not None]
    for rule_set in custom:
        for rule in rule_set:
            lines.append("")
            lines.append("[[rules]]")
            lines.append(f"rule_set = {_toml_value(rule_set.name)}")
            lines.append(f"tag = {_toml_value(identifier_text(rule.identifier))}")
            lines.append(f"operator = {_toml_value(type(rule.operation).__name__)}")
            args = operator_args(rule.operation)
            if args:
                inline = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in args.items())
                lines.append(f"args = {{ {inline} }}")
    if coded:
        lines.append("")
        lines.append("[codes]")
        for rule_set in coded:
            assert rule_set.code is not None
            lines.append(f"{_toml_key(rule_set.name)} = {_toml_value(list(rule_set.code))}")
    return "\n".join(lines) + "\n"


def identifier_text(identifier: TagIdentifier) -> str:
    """The ``tag`` string of a profile file for ``identifier``."""
    if type(identifier) is SingleTag:
        keyword = identifier.name
        if keyword != "Unknown" and SingleTag(keyword) == identifier:
            return keyword
        return identifier.key[1:-1]
    if type(identifier) is RepeatingGroup:
        return identifier.pattern
    if type(identifier) is PrivateTags:
        return _PRIVATE_TAGS
    if type(identifier) is PrivateBlockTagIdentifier:
        if "]" in identifier.private_creator:
            raise ConfigurationError(
                f"private creator {identifier.private_creator!r} cannot be written to a file"
            )
        return identifier.key[1:-1]
    raise ConfigurationError(
        f"{type(identifier).__name__} identifiers cannot be written to a profile file"
    )


def operator_args(operator: Operator) -> dict[str, Any]:
    """Keyword arguments that rebuild ``operator`` (from its ``_params``)."""
    params = operator._params()
    if not params:
        return {}
    import idiscore.operators as operators

    cls = type(operator)
    if getattr(operators, cls.__name__, None) is not cls:
        raise ConfigurationError(
            f"operator {cls.__name__} is not in idiscore.operators; a profile file cannot name it"
        )
    signature = inspect.signature(cls.__init__)
    positional = [
        p.name
        for p in signature.parameters.values()
        if p.name != "self"
        and p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    if len(params) > len(positional):
        raise ConfigurationError(f"cannot name the arguments of {operator!r}")
    args = dict(zip(positional, params, strict=False))
    for key, value in args.items():
        args[key] = _plain(value, f"{operator!r}, argument {key!r}")
    rebuilt = cls(**args)
    if rebuilt != operator:
        raise ConfigurationError(f"{operator!r} cannot be rebuilt from its arguments")
    return args


def _plain(value: Any, where: str) -> Any:
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v, where) for v in value]
    raise ConfigurationError(f"{where}: a {type(value).__name__} cannot be written to TOML")


def _toml_key(key: str) -> str:
    if key and all(c.isascii() and (c.isalnum() or c in "-_") for c in key):
        return key
    return _toml_value(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        # a JSON string without \/ is a TOML basic string, except that TOML wants DEL escaped
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigurationError(f"a {type(value).__name__} cannot be written to TOML")
