"""Operators: what a rule does to the elements it applies to.

Extend :class:`Operator` to write your own; see :mod:`idiscore.operators.base` for the
contract.
"""

from idiscore.exceptions import ElementShouldBeRemoved
from idiscore.operators.base import Context, Operator
from idiscore.operators.basic import (
    Clean,
    Empty,
    Hash,
    HashUID,
    Keep,
    Remove,
    Replace,
    SetFixedValue,
)
from idiscore.operators.codes import StandardCodesOnly
from idiscore.operators.safe_private import KeepAsDeclared
from idiscore.operators.time_delta import TimeDeltaProvider

__all__ = [
    "Clean",
    "Context",
    "ElementShouldBeRemoved",
    "Empty",
    "Hash",
    "HashUID",
    "Keep",
    "KeepAsDeclared",
    "Operator",
    "Remove",
    "Replace",
    "SetFixedValue",
    "StandardCodesOnly",
    "TimeDeltaProvider",
]
