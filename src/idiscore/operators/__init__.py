"""Operators: what a rule does to the elements it applies to.

Extend :class:`Operator` to write your own; see :mod:`idiscore.operators.base` for the
contract.
"""

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

__all__ = [
    "Clean",
    "Context",
    "Empty",
    "Hash",
    "HashUID",
    "Keep",
    "Operator",
    "Remove",
    "Replace",
    "SetFixedValue",
    "StandardCodesOnly",
]
