"""Every built-in operator on every VR: empty, single and multi-valued values."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from pydicom import config
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.valuerep import validate_value

from idiscore.operators import (
    Clean,
    Context,
    Empty,
    Hash,
    HashUID,
    Keep,
    Operator,
    Remove,
    Replace,
    SetFixedValue,
)
from idiscore.operators.values import values_of

from factories import MULTI_EXAMPLES, VR_EXAMPLES, roundtrip, sop_dataset

ALL_VRS = sorted(VR_EXAMPLES)
OPERATORS: list[Operator] = [Keep(), Remove(), Empty(), Replace(), Hash(), HashUID(), Clean()]
# a private tag lets us use any VR with the element explicitly typed
TAG = 0x00411010


def _context() -> Context:
    ds = sop_dataset()
    return Context.for_dataset(ds)


def _cases() -> list[tuple[str, Any]]:
    cases: list[tuple[str, Any]] = []
    for vr in ALL_VRS:
        cases.append((vr, VR_EXAMPLES[vr]))
        cases.append((vr, None))
        if vr in MULTI_EXAMPLES:
            cases.append((vr, MULTI_EXAMPLES[vr]))
    return cases


def _valid(element: DataElement) -> None:
    """The element's value is valid for its VR and survives a write/read round trip."""
    for value in values_of(element):
        if element.VR in {"AT", "OB", "OD", "OF", "OL", "OV", "OW", "UN"}:
            continue
        if element.VR in {"IS", "DS"}:
            value = str(value)
        validate_value(element.VR, value, config.RAISE)
    ds = Dataset()
    ds.add_new(0x00410010, "LO", "TEST CREATOR")
    ds[element.tag] = element
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = "1.2.3"
    back = roundtrip(ds)
    assert element.tag in back


@pytest.mark.parametrize("operator", OPERATORS, ids=repr)
@pytest.mark.parametrize(("vr", "value"), _cases(), ids=lambda x: str(x)[:12])
def test_operator_on_vr(operator: Operator, vr: str, value: Any) -> None:
    element = DataElement(TAG, vr, value)
    original = DataElement(TAG, vr, value)
    result = operator.apply(element, _context())
    assert element == original  # the input element is never mutated
    if isinstance(operator, Remove):
        assert result is None
        return
    assert result is not None
    assert result.tag == TAG and vr == result.VR
    _valid(result)
    values = values_of(result)
    if isinstance(operator, Keep):
        assert result.value == value or (value is None and not values)
    elif isinstance(operator, Empty):
        assert values == []
    elif isinstance(operator, Hash | HashUID) and value is None:
        assert values == []  # nothing to pseudonymise
    elif isinstance(operator, Replace | Hash | HashUID):
        assert values, "D/U give a non-empty value"
        if value is not None:
            assert len(values) == len(values_of(original)) or vr in {"LT", "ST", "UT", "UR"}
        if value is not None and vr not in {"OD", "AT"}:
            # a dummy or pseudonym never equals a meaningful original
            assert values != values_of(original) or vr in {"OD"}
    elif isinstance(operator, Clean):
        if vr == "TM" or value is None:
            return
        if vr in {"LO", "LT", "SH", "ST", "UC", "UT"}:
            for v in values:
                assert "Jane" not in str(v) and "Smith" not in str(v)
        elif vr not in {"OD"}:
            assert values != values_of(original)


@pytest.mark.parametrize("vr", ["LO", "SH", "CS", "PN", "UI", "IS", "DS", "AE", "US", "SL"])
def test_hash_is_stable_and_keyed(vr: str) -> None:
    value = VR_EXAMPLES[vr]
    first = Hash().apply(DataElement(TAG, vr, value), _context())
    second = Hash().apply(DataElement(TAG, vr, value), _context())
    assert first is not None and second is not None
    assert first.value == second.value
    assert str(first.value) != str(value)


def test_hash_prefix_and_repr() -> None:
    result = Hash(prefix="P").apply(DataElement(TAG, "LO", "Jane"), _context())
    assert result is not None and str(result.value).startswith("P")
    assert repr(Hash()) == "Hash()"
    assert repr(Hash(prefix="P")) == "Hash('P')"
    assert repr(SetFixedValue("X")) == "SetFixedValue('X')"
    assert eval(repr(SetFixedValue(["A", "B"]))) == SetFixedValue(["A", "B"])


def test_set_fixed_value() -> None:
    result = SetFixedValue("ANON").apply(DataElement(TAG, "LO", "Jane"), _context())
    assert result is not None and result.value == "ANON"


def test_hash_uid_is_valid_and_consistent() -> None:
    a = HashUID().apply(DataElement(TAG, "UI", "1.2.3.4"), _context())
    b = HashUID().apply(DataElement(TAG, "UI", ["1.2.3.4", "1.2.3.5"]), _context())
    assert a is not None and b is not None
    assert b.value[0] == a.value and b.value[1] != a.value
    assert len(a.value) <= 64


def test_action_codes_declared() -> None:
    assert [op.action_code for op in OPERATORS] == ["K", "X", "Z", "D", "D", "U", "C"]
    assert SetFixedValue(1).action_code is None


def test_operators_pickle_and_compare() -> None:
    for op in [*OPERATORS, SetFixedValue("A"), Hash(prefix="Q")]:
        clone = pickle.loads(pickle.dumps(op))
        assert clone == op and hash(clone) == hash(op)
    assert Hash() != Hash(prefix="Q")
    assert Keep() != Remove()


def test_user_operator_contract() -> None:
    class Upper(Operator):
        def apply(self, element: DataElement, context: Context) -> DataElement | None:
            return DataElement(element.tag, element.VR, str(element.value).upper())

    result = Upper().apply(DataElement(TAG, "LO", "abc"), _context())
    assert result is not None and result.value == "ABC"
    assert repr(Upper()) == "Upper()"
