"""Why an input was not done, in words that quote no element value.

pydicom's error messages may quote the value they could not handle (and some embed a whole
traceback): a reason keeps the error's type and its message with every quoted text
masked, on one line, shortened.
"""

from __future__ import annotations

import re

from idiscore.errors import DeidentificationError

__all__ = ["_deidentification_reason", "_describe", "_mask"]

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|b'[^']*'")
_MAX_REASON = 300


def _mask(message: str) -> str:
    """An error message without quoted text (which may be an element value) and without a
    traceback some pydicom messages embed, on one line, shortened."""
    message = message.split("Traceback (most recent call last)")[0]
    text = _QUOTED.sub("'…'", " ".join(message.split()))
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def _describe(exc: BaseException) -> str:
    message = _mask(str(exc))
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _deidentification_reason(exc: DeidentificationError) -> str:
    """The error's message (quoted text masked), where it happened and the rule."""
    reason = f"cannot de-identify: {_mask(exc.message)}"
    if exc.path:
        reason += f" at {exc.path}"
    if exc.rule is not None:
        reason += f"; rule {exc.rule!r}"
    return reason
