"""Which text read from the pixels identifies someone (the ``phi`` text detection mode).

Text is identifying when

* it contains one of the dataset's identifying values
  (:func:`idiscore.cleaning.identifying_values`: name parts, IDs, accession number, birth date,
  institution, ...), compared on letters and digits only, ignoring case, so that OCR's
  ``DOE~JOHN`` or ``1961-04-12`` match ``Doe^John`` and ``19610412``; a value of two characters
  must be a whole word;
* or it has the shape of an identifier: a date, a time, an e-mail address, a URL or a phone
  number (the patterns of :mod:`idiscore.cleaning`), or a word with five digits or more
  (record numbers, accession numbers, ``AB1234567``).

Machine text such as ``2.5MHz``, ``TIS0.5``, ``MI 1.2``, ``16cm`` or ``FR 32Hz`` is none of these,
and stays in the image.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from idiscore.identifier_shapes import pattern_spans

_NOT_ALNUM = re.compile(r"[\W_]+")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MIN_DIGITS = 5


def _normalised(text: str) -> str:
    return _NOT_ALNUM.sub("", text).casefold()


def _date_forms(value: str) -> list[str]:
    """Other ways a DICOM date (YYYYMMDD) is shown on screen, normalised."""
    if len(value) != 8 or not value.isdigit():
        return []
    year, month, day = value[:4], value[4:6], value[6:]
    if not (1 <= int(month) <= 12 and 1 <= int(day) <= 31):
        return []
    name = _MONTHS[int(month) - 1].casefold()
    forms = [day + month + year, month + day + year, day + name + year, name + day + year]
    forms += [day + month + year[2:], month + day + year[2:], day + name + year[2:]]
    return forms


class PhiText:
    """Decides whether a line of text read from an image is identifying (module docstring)."""

    def __init__(self, identifying_values: Iterable[str] = ()) -> None:
        long: set[str] = set()
        short: set[str] = set()
        for value in identifying_values:
            key = _normalised(value)
            if len(key) >= 3:
                long.add(key)
                long.update(_date_forms(key))
            elif len(key) == 2:
                short.add(key)
        self._long = tuple(sorted(long))
        self._short = frozenset(short)

    def holds_value(self, text: str) -> bool:
        """True when ``text`` contains one of the identifying values (not a mere shape)."""
        key = _normalised(text)
        if any(value in key for value in self._long):
            return True
        words = [_normalised(word) for word in text.split()]
        return bool(self._short) and any(word in self._short for word in words)

    def is_identifying(self, text: str) -> bool:
        if self.holds_value(text):
            return True
        words = [_normalised(word) for word in text.split()]
        if any(sum(c.isdigit() for c in word) >= _MIN_DIGITS for word in words):
            return True
        return bool(pattern_spans(text))


__all__ = ["PhiText"]
