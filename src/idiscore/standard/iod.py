"""Attribute Types (1, 1C, 2, 2C, 3) in each IOD, to resolve compound action codes.

PS3.15 codes such as ``X/Z/D`` mean "X where the attribute is Type 3, Z where Type 2, D where
Type 1" in the IOD of the dataset. The table behind this module is PS3.3 (IOD -> modules ->
attributes) as packaged by highdicom, generated into ``_iod_types.py`` by
``tools/generate_iod_types.py``.

Lookup rules of :func:`attribute_type`:

1. The SOP Class selects the IOD; an unknown SOP Class gives None.
2. Across all modules of the IOD (mandatory, conditional and user-optional alike), the entries
   for ``tag`` whose enclosing sequences equal ``parent`` are collected.
3. If there are none, the nesting is relaxed step by step: entries whose enclosing sequences end
   with the last ``k`` tags of ``parent``, for ``k = len(parent)`` down to 1, then entries at any
   position in the IOD. The first non-empty step wins.
4. Of the collected entries the strictest Type is returned (``1`` > ``1C`` > ``2`` > ``2C`` >
   ``3``); None when the attribute does not occur in the IOD at all.

Tags in the repeating groups (even groups 5000-501E, 6000-601E) are looked up as group 5000 or
6000. Attributes of the few modules highdicom has no table for (``MISSING_MODULES``) are
unknown.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from idiscore.standard import _iod_types as _data

__all__ = ["attribute_type", "iod_name", "known_sop_classes"]

_Entry = tuple[tuple[int, ...], int]  # (enclosing sequence tags, Type index)


def known_sop_classes() -> frozenset[str]:
    """The SOP Class UIDs whose IOD is known."""
    return _known()


def iod_name(sop_class_uid: str) -> str | None:
    """The IOD key of a SOP Class (e.g. ``"ct-image"``), or None when unknown."""
    return _data.SOP_CLASS_IODS.get(str(sop_class_uid))


def attribute_type(sop_class_uid: str, tag: int, parent: tuple[int, ...] = ()) -> str | None:
    """The strictest Type of ``tag`` in the IOD of ``sop_class_uid``, at nesting ``parent``.

    ``parent`` lists the tags of the enclosing sequences from the top level (``()`` for a
    top-level attribute). Returns ``"1"``, ``"1C"``, ``"2"``, ``"2C"`` or ``"3"``, or None when
    the SOP Class or the attribute is unknown. See the module docstring for the fallbacks
    when the exact nesting is not listed.
    """
    iod = _data.SOP_CLASS_IODS.get(str(sop_class_uid))
    if iod is None:
        return None
    rank = _lookup(iod, _normalise(int(tag)), tuple(_normalise(int(t)) for t in parent))
    return None if rank is None else _data.TYPES[rank]


@functools.cache
def _known() -> frozenset[str]:
    return frozenset(_data.SOP_CLASS_IODS)


def _normalise(tag: int) -> int:
    group = tag >> 16
    if group % 2 == 0 and (0x5000 <= group <= 0x501E or 0x6000 <= group <= 0x601E):
        return (group & 0xFF00) << 16 | (tag & 0xFFFF)
    return tag


@functools.lru_cache(maxsize=65536)
def _lookup(iod: str, tag: int, parent: tuple[int, ...]) -> int | None:
    entries = _iod_index(iod).get(tag)
    if not entries:
        return None
    exact = [rank for path, rank in entries if path == parent]
    if exact:
        return min(exact)
    for k in range(len(parent), 0, -1):
        suffix = parent[-k:]
        ranks = [rank for path, rank in entries if path[-k:] == suffix]
        if ranks:
            return min(ranks)
    return min(rank for _, rank in entries)


@functools.lru_cache(maxsize=64)
def _iod_index(iod: str) -> dict[int, tuple[_Entry, ...]]:
    index: dict[int, list[_Entry]] = {}
    for module in _data.IODS[iod]:
        for tag, rank, path in _module_entries(module):
            index.setdefault(tag, []).append((path, rank))
    return {tag: tuple(entries) for tag, entries in index.items()}


@functools.lru_cache(maxsize=512)
def _module_entries(module: str) -> tuple[tuple[int, int, tuple[int, ...]], ...]:
    paths = _paths()
    return tuple(
        (int(entry[:8], 16), int(entry[8]), paths[int(entry[9:], 16)])
        for entry in _data.MODULES[module].split()
    )


@functools.cache
def _paths() -> tuple[tuple[int, ...], ...]:
    built: list[tuple[int, ...]] = [()]
    entries: Iterable[tuple[int, int]] = _data.PATHS[1:]
    for parent, tag in entries:
        built.append((*built[parent], tag))
    return tuple(built)
