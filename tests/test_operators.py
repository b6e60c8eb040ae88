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


#: What Clean leaves of the text examples of the factories (a lone "X" is one letter, no
#: identifier; "JS-1234" is an ID shape; nothing left gives the dummy).
CLEANED_EXAMPLES: dict[str, tuple[list[str], list[str]]] = {
    # (the example of VR_EXAMPLES, the one of MULTI_EXAMPLES)
    "LO": (["ANONYMIZED"], ["ANONYMIZED", "ANONYMIZED"]),  # the patient's name: Jane, Smith
    "LT": (["ANONYMIZED"], []),
    "SH": (["ANONYMIZED"], ["ANONYMIZED", "X"]),
    "ST": (["Short"], []),  # "Short text about Jane": one vocabulary word
    "UC": (["ANONYMIZED"], ["a", "b"]),
    "UT": (["ANONYMIZED"], []),
}


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
        if vr in CLEANED_EXAMPLES:
            single, multiple = CLEANED_EXAMPLES[vr]
            assert values == (multiple if isinstance(value, list) else single)
        elif vr not in {"OD"}:
            assert values != values_of(original)


@pytest.mark.parametrize(
    ("vr", "text", "expected"),
    [
        ("LO", "CT HEAD Jane Smith MRN 1234 5678", "CT HEAD"),
        ("SH", "AX T2 FLAIR 3/14", "AX T2 FLAIR"),
        ("LT", "Dr. White: stable 5 mm nodule, call 555-1234", "stable 5 mm nodule"),
        ("ST", "Smith 01/01/1970 T1 POST GAD", "T1 POST GAD"),
        ("UT", "CT CHEST PID-778899 jane.smith@example.org 0.5 mSv", "CT CHEST 0.5 mSv"),
        ("UC", "Phase 2/4 SSN 123-45-6789", "Phase 2/4"),
        ("LO", ["CT HEAD Jane", "Smith"], ["CT HEAD", "ANONYMIZED"]),
        ("LO", "AX T1 POST GAD", "AX T1 POST GAD"),
    ],
)
def test_clean_keeps_medical_words_and_removes_identifiers(
    vr: str, text: str | list[str], expected: str | list[str]
) -> None:
    """The dataset of the context is the patient Smith^Jane, PID-778899, born 19700101."""
    element = DataElement(TAG, vr, text)
    result = Clean().apply(element, _context())
    assert result is not None and vr == result.VR
    assert result.value == expected
    if text == expected:
        assert result is element  # nothing to clean: the element as it was


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
