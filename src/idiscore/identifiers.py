"""Identifiers: which DICOM elements a rule applies to.

Every identifier answers ``matches(tag, private_creator)`` and has a ``specificity``.
When several rules match one element the most specific identifier wins; among rules
whose identifiers are equally specific, the one defined later wins (a later rule
in the same rule set, or a rule in a later rule set of the Profile).

Specificity, from most to least specific:

==============================  ===========  ===========================================
identifier                      specificity  matches
==============================  ===========  ===========================================
``PrivateBlockTagIdentifier``   100          group + private creator + element offset
``SingleTag``                   90           exactly one tag
``RepeatingGroup``              10 + n       a tag pattern with ``x`` wildcards; n = the
                                             number of fixed hex digits (0..7); a
                                             wildcard in the group's last digit
                                             matches even groups only
``PrivateTags``                 1            every private data element
==============================  ===========  ===========================================

Private creator elements (gggg,0010-00FF) are never matched by identifiers: the
engine keeps a creator exactly when at least one element of its block survives.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Any

from pydicom.datadict import keyword_for_tag, tag_for_keyword
from pydicom.tag import BaseTag, Tag

from idiscore.errors import ConfigurationError

TagLike = "int | str | tuple[int, int] | BaseTag"

_TAG_STRING = re.compile(r"^\(?\s*([0-9A-Fa-f]{4})\s*,\s*([0-9A-Fa-f]{4})\s*\)?$")
_TAG_HEX8 = re.compile(r"^([0-9A-Fa-f]{4})([0-9A-Fa-f]{4})$")
_PATTERN = re.compile(r"^\(?\s*([0-9A-Fa-fxX]{4})\s*,\s*([0-9A-Fa-fxX]{4})\s*\)?$")
_PRIVATE_BLOCK = re.compile(
    r"^\(?\s*([0-9A-Fa-f]{4})\s*,?\s*\[(?P<creator>[^\]]*)\]\s*([0-9A-Fa-f]{2})\s*\)?$"
)


def parse_tag(value: Any) -> BaseTag:
    """Turn a keyword, ``"0010,0010"``, ``"(0010,0010)"``, int, tuple or Tag into a Tag.

    Raises :class:`ConfigurationError` for anything else.
    """
    if isinstance(value, BaseTag):
        return value
    if isinstance(value, bool):
        raise ConfigurationError(f"not a DICOM tag: {value!r}")
    if isinstance(value, int):
        if not 0 <= value <= 0xFFFFFFFF:
            raise ConfigurationError(f"tag out of range: {value:#x}")
        return BaseTag(value)
    if isinstance(value, tuple):
        if len(value) != 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 0xFFFF for v in value
        ):
            raise ConfigurationError(f"not a DICOM tag: {value!r}")
        return BaseTag((value[0] << 16) | value[1])
    if isinstance(value, str):
        text = value.strip()
        match = _TAG_STRING.match(text) or _TAG_HEX8.match(text)
        if match:
            return BaseTag((int(match.group(1), 16) << 16) | int(match.group(2), 16))
        found = tag_for_keyword(text) if text.isidentifier() else None
        if found is not None:
            return Tag(found)
        raise ConfigurationError(f"unknown DICOM keyword or malformed tag: {value!r}")
    raise ConfigurationError(f"not a DICOM tag: {value!r}")


def tag_string(tag: int) -> str:
    """``(gggg,eeee)`` for a tag."""
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def is_private_creator(tag: int) -> bool:
    """True for a private creator element (odd group, element 0x0010-0x00FF)."""
    return bool(tag >> 16 & 1) and 0x0010 <= (tag & 0xFFFF) <= 0x00FF


class TagIdentifier(ABC):
    """Designates the elements a rule applies to.

    Subclasses implement :meth:`matches` and set :attr:`specificity`. Identifiers
    are immutable, hashable and compare equal when they match the same elements
    the same way; two equal identifiers in a Profile are "identical identifiers".
    """

    specificity: int = 0

    @abstractmethod
    def matches(self, tag: int, private_creator: str | None = None) -> bool:
        """Does this identifier designate the element ``tag``?

        ``private_creator`` is the creator string of the element's private block
        (None for standard elements or when the block has no creator).
        """

    @property
    @abstractmethod
    def key(self) -> str:
        """A canonical text form, e.g. ``"(0010,0010)"`` or ``"(50xx,xxxx)"``."""

    @property
    def name(self) -> str:
        """A human-readable name for tables and reports."""
        return self.key

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.key == self.key  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.key))

    def __lt__(self, other: TagIdentifier) -> bool:
        return self.key < other.key


class SingleTag(TagIdentifier):
    """Exactly one tag: ``SingleTag("PatientName")``, ``SingleTag("0010,0010")``,
    ``SingleTag("(0010,0010)")``, ``SingleTag(0x00100010)``, ``SingleTag((0x10, 0x10))``
    or ``SingleTag(Tag(...))``."""

    specificity = 90

    def __init__(self, tag: Any) -> None:
        self.tag: BaseTag = parse_tag(tag)

    def matches(self, tag: int, private_creator: str | None = None) -> bool:
        return tag == int(self.tag)

    @property
    def key(self) -> str:
        return tag_string(self.tag)

    @property
    def name(self) -> str:
        return keyword_for_tag(self.tag) or "Unknown"

    def __repr__(self) -> str:
        keyword = keyword_for_tag(self.tag)
        return f"SingleTag({keyword!r})" if keyword else f"SingleTag({self.key[1:-1]!r})"


class RepeatingGroup(TagIdentifier):
    """A tag pattern with ``x`` wildcards: ``"50xx,xxxx"``, ``"60xx,3000"``, ``"(0020,xx10)"``.

    Each ``x`` stands for any hex digit. At least one ``x`` is required (use
    :class:`SingleTag` for a single tag). When the last hex digit of the group is a
    wildcard the pattern matches even groups only: the standard's repeating groups
    (50xx curves, 60xx overlays) are even groups, and the odd groups among them
    (5001, 6001 ...) are private, so private rules apply to them. A pattern with a
    fixed odd last group digit (``"6001,xxxx"``, ``"xxx1,0010"``) matches those odd
    groups as written.
    """

    def __init__(self, pattern: str) -> None:
        if not isinstance(pattern, str):
            raise ConfigurationError(f"a RepeatingGroup pattern is a string, got {pattern!r}")
        match = _PATTERN.match(pattern.strip())
        if not match:
            raise ConfigurationError(f"malformed repeating group pattern: {pattern!r}")
        digits = (match.group(1) + match.group(2)).lower()
        if "x" not in digits:
            raise ConfigurationError(
                f"pattern {pattern!r} has no wildcard; use SingleTag for one tag"
            )
        self.pattern = f"{digits[:4]},{digits[4:]}".upper().replace("X", "x")
        mask = value = 0
        for char in digits:
            mask <<= 4
            value <<= 4
            if char != "x":
                mask |= 0xF
                value |= int(char, 16)
        if digits[3] == "x":
            mask |= 0x10000  # the group's lowest bit must be 0: even groups only
        self.mask = mask
        self.value = value
        self.specificity = 10 + sum(1 for c in digits if c != "x")

    def matches(self, tag: int, private_creator: str | None = None) -> bool:
        return tag & self.mask == self.value

    @property
    def key(self) -> str:
        return f"({self.pattern})"

    def __repr__(self) -> str:
        return f"RepeatingGroup({self.pattern!r})"


class PrivateTags(TagIdentifier):
    """Every private data element (odd group), whatever its creator."""

    specificity = 1

    def matches(self, tag: int, private_creator: str | None = None) -> bool:
        return bool(tag >> 16 & 1)

    @property
    def key(self) -> str:
        return "(oddd,xxxx)"

    @property
    def name(self) -> str:
        return "PrivateTags"

    def __repr__(self) -> str:
        return "PrivateTags()"


def normalise_creator(creator: str | bytes | None) -> str | None:
    """A private creator string as compared by idiscore: padding and outer spaces removed."""
    if creator is None:
        return None
    if isinstance(creator, bytes):
        creator = creator.decode("latin-1")
    return creator.strip(" \x00")


class PrivateBlockTagIdentifier(TagIdentifier):
    """A private element identified by group, private creator and element offset.

    ``PrivateBlockTagIdentifier("0013,[MyCreator]01")`` (the comma is optional:
    ``"0013[MyCreator]01"``, as idiscore 1.x examples write it) matches element offset 0x01 of
    the block that *MyCreator* reserved in group 0x0013, whichever block number
    (0x10..0xFF) that creator was given in a particular dataset. Creators are compared
    exactly, after removing padding and surrounding spaces.
    """

    specificity = 100

    def __init__(self, tag: str) -> None:
        match = _PRIVATE_BLOCK.match(tag.strip()) if isinstance(tag, str) else None
        if not match:
            raise ConfigurationError(
                f"malformed private block tag {tag!r}; expected e.g. '0013,[MyCreator]01'"
            )
        group = int(match.group(1), 16)
        if not group & 1:
            raise ConfigurationError(f"private block tag {tag!r} needs an odd group")
        creator = normalise_creator(match.group("creator"))
        if not creator:
            raise ConfigurationError(f"private block tag {tag!r} names no private creator")
        self.group = group
        self.private_creator: str = creator
        self.offset = int(match.group(3), 16)

    @classmethod
    def from_parts(
        cls, group: int, private_creator: str, offset: int
    ) -> PrivateBlockTagIdentifier:
        """Build from a group number, creator string and element offset (0x00-0xFF)."""
        if not 0 <= offset <= 0xFF or not 0 <= group <= 0xFFFF:
            raise ConfigurationError(f"bad private block parts {group:#x}/{offset:#x}")
        return cls(f"{group:04X},[{private_creator}]{offset:02X}")

    def matches(self, tag: int, private_creator: str | None = None) -> bool:
        element = tag & 0xFFFF
        return (
            tag >> 16 == self.group
            and element > 0xFF
            and element & 0xFF == self.offset
            and private_creator == self.private_creator
        )

    @property
    def key(self) -> str:
        return f"({self.group:04X},[{self.private_creator}]{self.offset:02X})"

    def __repr__(self) -> str:
        return f"PrivateBlockTagIdentifier({self.key[1:-1]!r})"


def as_identifier(value: Any) -> TagIdentifier:
    """Accept an identifier, or anything :func:`parse_tag` accepts (made a SingleTag)."""
    if isinstance(value, TagIdentifier):
        return value
    return SingleTag(value)


class RepeatingTag(str):
    """A tag pattern with ``x`` wildcards, as idiscore 1.x modelled it: ``"(50xx,xxxx)"``.

    Accepts the forms ``"50xx,xxxx"``, ``"(50xx, xxxx)"`` and ``"50xxxxxx"``; :attr:`tag` is
    the 8-character lower-case form (``"50xxxxxx"``). It is a string, so
    ``RepeatingGroup(RepeatingTag("50xx,xxxx"))`` works like
    ``RepeatingGroup("50xx,xxxx")``. Malformed patterns raise
    :class:`~idiscore.errors.ConfigurationError` (a ValueError).
    """

    tag: str

    def __new__(cls, tag: str) -> RepeatingTag:
        digits = cls.parse_tag_string(tag)
        self = super().__new__(cls, f"({digits[:4]}, {digits[4:]})")
        self.tag = digits
        return self

    @staticmethod
    def parse_tag_string(tag: str) -> str:
        """The 8-character lower-case form of a pattern (``"0010,xx10"`` -> ``"0010xx10"``)."""
        if not isinstance(tag, str):
            raise ConfigurationError(f"a repeating tag is a string, got {tag!r}")
        digits = re.sub(r"[\s(),]", "", tag).lower()
        if not re.fullmatch(r"[0-9a-fx]{8}", digits):
            raise ConfigurationError(
                f"malformed repeating tag {tag!r}; expected e.g. '50xx,xxxx' or '0010xx10'"
            )
        return digits

    def as_mask(self) -> int:
        """1-bits where the pattern is fixed: ``"0010,xx10"`` -> ``0xFFFF00FF``."""
        return int("".join("0" if c == "x" else "f" for c in self.tag), 16)

    def static_component(self) -> int:
        """The fixed digits, wildcards read as 0: ``"0010,xx10"`` -> ``0x00100010``."""
        return int(self.tag.replace("x", "0"), 16)

    def number_of_wildcard_positions(self) -> int:
        return self.tag.count("x")

    def number_of_matchable_tags(self) -> int:
        """How many tags the pattern covers (16 per wildcard digit)."""
        return int(16 ** self.number_of_wildcard_positions())

    def matches(self, tag: int) -> bool:
        return int(tag) & self.as_mask() == self.static_component()

    def name(self) -> str:
        """The keyword of the pydicom repeater entry the pattern falls in, if any."""
        from pydicom.datadict import get_entry

        try:
            return get_entry(self.static_component())[4] or f"Unknown Repeater tag {self}"
        except KeyError:
            return f"Unknown Repeater tag {self}"

    def __repr__(self) -> str:
        return f"RepeatingTag({self.tag[:4] + ',' + self.tag[4:]!r})"


__all__ = [
    "PrivateBlockTagIdentifier",
    "PrivateTags",
    "RepeatingGroup",
    "RepeatingTag",
    "SingleTag",
    "TagIdentifier",
    "as_identifier",
    "is_private_creator",
    "normalise_creator",
    "parse_tag",
    "tag_string",
]
