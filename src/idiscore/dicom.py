"""PS3.15 action codes under the names idiscore 1.x used (``idiscore.dicom.ActionCodes``).

Each code is an :class:`ActionCode` pair ``(key, var_name)``: ``ActionCodes.CLEAN.key`` is
``"C"``. :meth:`ActionCodes.get_code` finds the code for its published text, and
:meth:`ActionCode.standard` gives the :class:`idiscore.standard.actions.ActionCode` (and
from there the operator) idiscore uses for it. Keys of ``DICOMRuleSets(action_mapping=...)``
may be either kind.
"""

from __future__ import annotations

from typing import NamedTuple

from idiscore.errors import ConfigurationError
from idiscore.standard.actions import ActionCode as StandardActionCode


class ActionCode(NamedTuple):
    """One action code of PS3.15 Table E.1-1a: its text (``key``) and a name."""

    key: str
    var_name: str

    def standard(self) -> StandardActionCode:
        """The action code as idiscore's rule engine knows it."""
        return StandardActionCode.parse(self.key)


class ActionCodes:
    """The action codes of PS3.15 Table E.1-1a, as class attributes."""

    DUMMY = ActionCode("D", "DUMMY")
    EMPTY = ActionCode("Z", "EMPTY")
    REMOVE = ActionCode("X", "REMOVE")
    KEEP = ActionCode("K", "KEEP")
    CLEAN = ActionCode("C", "CLEAN")
    UID = ActionCode("U", "UID")
    EMPTY_OR_DUMMY = ActionCode("Z/D", "EMPTY_OR_DUMMY")
    REMOVE_OR_EMPTY = ActionCode("X/Z", "REMOVE_OR_EMPTY")
    #: Kept for 1.x code; it is the same action as REMOVE_OR_EMPTY (X/Z).
    REPLACE_OR_DUMMY = ActionCode("X/Z", "REPLACE_OR_DUMMY")
    REMOVE_OR_DUMMY = ActionCode("X/D", "REMOVE_OR_DUMMY")
    REMOVE_OR_EMPTY_OR_DUMMY = ActionCode("X/Z/D", "REMOVE_OR_EMPTY_OR_DUMMY")
    REMOVE_OR_EMPTY_OR_UID = ActionCode("X/Z/U*", "REMOVE_OR_EMPTY_OR_UID")
    #: No action known; not one of :attr:`ALL`.
    UNDEFINED = ActionCode("?", "Undefined")

    ALL = frozenset(
        {
            DUMMY,
            EMPTY,
            REMOVE,
            KEEP,
            CLEAN,
            UID,
            EMPTY_OR_DUMMY,
            REMOVE_OR_EMPTY,
            REMOVE_OR_DUMMY,
            REMOVE_OR_EMPTY_OR_DUMMY,
            REMOVE_OR_EMPTY_OR_UID,
        }
    )
    PER_STRING = {code.key: code for code in ALL}

    @classmethod
    def get_code(cls, key: str) -> ActionCode:
        """The action code whose text is ``key`` (``"X/Z/D"``).

        Raises:
            ConfigurationError: (a ValueError) for an unknown code.
        """
        code = cls.PER_STRING.get(key.strip()) if isinstance(key, str) else None
        if code is None:
            known = ", ".join(sorted(cls.PER_STRING))
            raise ConfigurationError(f"unknown action code {key!r}; known: {known}")
        return code


__all__ = ["ActionCode", "ActionCodes"]
