"""Repeating groups are even (issue 13 §3): 50xx / 60xx never reach private groups.

The standard's repeating groups (curves 50xx, overlays 60xx) are even groups; the odd
groups among them (5001, 6001 ...) are private. Their elements meet the private rules:
removed with an unknown creator, kept by a safe private definition -- with the default
core and with Clean Graphics, which keeps (60xx,xxxx) and cleans curve and overlay data.
"""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset

from idiscore.core import Core
from idiscore.defaults import DEFAULT_OPTIONS, create_core, profile_from_options
from idiscore.identifiers import RepeatingGroup

from factories import assert_unchanged, file_dataset, roundtrip, snapshot, sop_dataset

SAFE = "IDIS SAFE VENDOR"
UNKNOWN = "SOME VENDOR 4711"
SAFE_DEFINITION = [f"6001,[{SAFE}]01", f"5001,[{SAFE}]01"]


def _core(options: tuple[str, ...]) -> Core:
    profile = profile_from_options(options, safe_private_definition=SAFE_DEFINITION)
    return create_core(profile)


CORES = {
    "default": DEFAULT_OPTIONS,
    "default+clean_graphics": (*DEFAULT_OPTIONS, "clean_graphics"),
    "basic+clean_graphics+safe_private": ("clean_graphics", "retain_safe_private"),
}


def _dataset() -> Dataset:
    ds = sop_dataset()
    ds.add_new(0x60000010, "US", 512)  # Overlay Rows: a standard (even) overlay group
    for group in (0x5001, 0x6001, 0x601F):
        unknown = ds.private_block(group, UNKNOWN, create=True)
        unknown.add_new(0x01, "LO", "JANE SMITH 4711")
        unknown.add_new(0x02, "US", 4711)
        safe = ds.private_block(group, SAFE, create=True)
        safe.add_new(0x01, "LO", "AXIAL")
    return ds


def _creators(ds: Dataset, group: int) -> set[str]:
    return {
        str(element.value)
        for element in ds
        if element.tag.group == group and 0x10 <= element.tag.element <= 0xFF
    }


@pytest.mark.parametrize("from_file", [False, True], ids=["memory", "file"])
@pytest.mark.parametrize("options", sorted(CORES), ids=str)
def test_private_elements_in_odd_repeating_groups_follow_the_private_rules(
    options: str, from_file: bool
) -> None:
    ds = file_dataset(_dataset()) if from_file else _dataset()
    before = snapshot(ds)
    out = _core(CORES[options]).deidentify(ds)
    assert_unchanged(ds, before)
    for group in (0x5001, 0x6001):
        assert _creators(out, group) == {SAFE}, hex(group)
        assert out.private_block(group, SAFE)[0x01].value == "AXIAL"
    # 601F: no safe definition for it, so nothing survives, not even its creators
    assert not [e for e in out if e.tag.group == 0x601F]
    reread = roundtrip(out)
    assert b"JANE" not in repr(reread).encode()
    assert all(e.value != 4711 for e in reread if e.tag.group & 1)
    # the standard overlay group still follows (60xx,xxxx): X, or K with Clean Graphics
    kept = "clean_graphics" in CORES[options]
    assert (0x60000010 in out) == kept


def test_repeating_group_rule_never_outranks_private_tags_on_an_odd_group() -> None:
    profile = profile_from_options(("clean_graphics",))
    for tag in (0x60011001, 0x50011001, 0x60FF3000):
        rule = profile.get_rule(tag, UNKNOWN)
        assert rule is not None
        assert not isinstance(rule.identifier, RepeatingGroup), hex(tag)
        assert rule.action_code == "X"
    assert isinstance(profile.get_rule(0x60003000).identifier, RepeatingGroup)
