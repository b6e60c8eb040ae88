"""K for a safe private attribute: kept only when it holds what the safe list declares.

Table E.3.10-1 (and the TCIA knowledge base) call a private attribute safe for what its
creator puts there: a table speed (DS), a flag (CS), a sequence of such values. The
element found in a file may hold something else -- a name written into the block of a
known creator, a value of another VR. :class:`KeepAsDeclared` keeps the element when its
VR is the declared one and its value fits that VR, and removes it otherwise:

* an element read with a VR (explicit VR, or the private dictionary's) other than the
  declared one is removed (``OB``/``OW`` declared as ``OW/OB`` accept either);
* an element whose VR is unknown (``UN``: implicit VR, a creator pydicom does not know)
  is judged by its bytes: numbers and code strings must use only their characters,
  binary values must be a whole number of values;
* decimal and integer strings, code strings and UIDs must use only the characters of
  their VR, whatever VR they were read with;
* a sequence is kept (and its items walked with the rules) only where a sequence is
  declared.

An element of a declared VR that is free text (LO, SH, ST, LT) is kept as the table
says, unless it holds one of the dataset's own identifying values (a name part, the
patient ID ...): the vendor's words are safe, a name typed into them is not.
"""

from __future__ import annotations

import re
from typing import Any

from pydicom.dataelem import DataElement

from idiscore.operators.base import Context, Operator
from idiscore.operators.cleaning import mentions_identity
from idiscore.operators.values import values_of

__all__ = ["KeepAsDeclared"]

#: Characters each string VR allows (PS3.5 Table 6.2-1), backslash for multiple values.
_REPERTOIRE = {
    "DS": re.compile(rb"[0-9+\-.eE \\\x00]*"),
    "IS": re.compile(rb"[0-9+\- \\\x00]*"),
    "CS": re.compile(rb"[A-Z0-9 _\\\x00]*"),
    "UI": re.compile(rb"[0-9.\\\x00 ]*"),
}
#: Size in bytes of one value of the binary VRs.
_SIZES = {"US": 2, "SS": 2, "UL": 4, "SL": 4, "FL": 4, "FD": 8, "AT": 4, "OW": 2, "OB": 1}


class KeepAsDeclared(Operator):
    """K, for a safe private attribute: keep it when it has the declared VR ``vr`` and a
    value that fits it; else remove it. An empty ``vr`` (not declared) keeps anything."""

    action_code = "K"

    def __init__(self, vr: str) -> None:
        self.vr = vr

    def _params(self) -> tuple[Any, ...]:
        return (self.vr,)

    def apply(self, element: DataElement, context: Context) -> DataElement | None:
        declared = self.vr
        if not declared:  # any VR; but free text that names the patient goes
            if element.VR in _FREE_TEXT and _names_the_patient(element, context):
                return None
            return element
        accepted = set(declared.split("/"))
        vr = element.VR
        if vr == "SQ" or "SQ" in accepted:
            return element if vr == "SQ" and "SQ" in accepted else None
        if vr == "UN":
            data = element.value if isinstance(element.value, bytes) else b""
            if not any(_fits(data, one) for one in accepted):
                return None
            if accepted & _FREE_TEXT:  # its words, in any single-byte reading
                text = data.decode("latin-1", "replace")
                if mentions_identity(text, context.identifying_values):
                    return None
            return element
        if vr not in accepted:
            return None
        pattern = _REPERTOIRE.get(vr)
        if pattern is None:
            if vr in _FREE_TEXT and _names_the_patient(element, context):
                return None
            return element
        text = "\\".join(str(value) for value in values_of(element))
        return element if pattern.fullmatch(text.encode("latin-1", "replace")) else None

    def keeps_encoded(self, vr: str, data: bytes) -> bool | None:
        """What :meth:`apply` decides for an element read with the explicit VR ``vr``
        (not ``UN``, not ``SQ``) and the value bytes ``data``, judged on the bytes; None
        for free text, which is judged on its words (:meth:`apply`).

        The walker's raw fast path: no value is decoded. The bytes hold the characters
        of the decoded values, plus padding and separators the repertoires allow.
        """
        declared = self.vr
        if not declared:
            return None if vr in _FREE_TEXT else True
        accepted = declared.split("/")
        if "SQ" in accepted or vr not in accepted:
            return False
        if vr in _FREE_TEXT:
            return None  # judged on its decoded words (apply)
        pattern = _REPERTOIRE.get(vr)
        return pattern is None or pattern.fullmatch(data) is not None


_FREE_TEXT = frozenset({"LO", "SH", "ST", "LT", "UT", "UC"})


def _names_the_patient(element: DataElement, context: Context) -> bool:
    """Whether a free-text value holds one of the dataset's own identifying values (a
    name part, an ID): a safe attribute's words are the vendor's, not the patient's."""
    identifying = context.identifying_values
    return any(mentions_identity(str(value), identifying) for value in values_of(element))


def _fits(data: bytes, vr: str) -> bool:
    """Whether the bytes of a value of unknown VR can be a value of ``vr``."""
    pattern = _REPERTOIRE.get(vr)
    if pattern is not None:
        return pattern.fullmatch(data) is not None
    size = _SIZES.get(vr)
    if size is not None:
        return len(data) % size == 0
    return True  # free text, as the table declares
