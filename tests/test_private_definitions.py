"""Safe private definitions: Table E.3.10-1, the user's own, and the TCIA knowledge base."""

from __future__ import annotations

from pydicom.dataset import Dataset

from idiscore.core import Core
from idiscore.defaults import create_default_core, profile_from_options
from idiscore.private import tcia_private_rule_set
from idiscore.standard.tcia import load_tcia_kb

from factories import assert_unchanged, roundtrip, snapshot, sop_dataset


def _with_private(creator: str, offset: int, vr: str, value: object, block: int = 0x41) -> Dataset:
    ds = sop_dataset()
    group = 0x0019
    ds.add_new((group << 16) | block, "LO", creator)
    ds.add_new((group << 16) | (block << 8) | offset, vr, value)
    ds.add_new((group << 16) | (block << 8) | 0xEE, "LO", "Jane Smith")
    return ds


def test_user_safe_private_definition_is_kept_with_its_creator() -> None:
    ds = _with_private("MY SCANNER", 0x05, "DS", "1.5")
    core = create_default_core(safe_private_definition=["0019,[MY SCANNER]05"])
    before = snapshot(ds)
    out = core.deidentify(ds)
    assert_unchanged(ds, before)
    assert out[0x00194105].value == "1.5"
    assert out[0x00190041].value == "MY SCANNER"
    assert 0x001941EE not in out
    roundtrip(out)


def test_tcia_dispositions() -> None:
    entries = [e for e in load_tcia_kb() if e.group == 0x0019 and e.private_creator]
    keep = next(e for e in entries if e.disposition == "k")
    rule_set = tcia_private_rule_set()
    assert len(rule_set) > 1000
    core = Core(profile_from_options(["tcia_private"]))
    ds = Dataset()
    ds.update(sop_dataset())
    block = 0x10
    ds.add_new(0x00190000 | block, "LO", keep.private_creator)
    ds.add_new(0x00190000 | (block << 8) | keep.element_offset, "LO", "7")
    out = core.deidentify(ds)
    assert out[0x00190000 | (block << 8) | keep.element_offset].value == "7"
    # a creator the knowledge base does not know: its elements go (Basic Profile X)
    other = _with_private("UNKNOWN VENDOR", keep.element_offset, "LO", "7")
    assert not [e for e in core.deidentify(other) if e.tag.is_private]
