"""Every exception and warning idiscore raises, in one tree.

::

    IDISCoreError
    ├── ConfigurationError (also ValueError)     bad rule, tag, option, key
    ├── DatasetRejectedError                     a bouncer refused: .bouncer, .reason
    ├── DeidentificationError                    could not process: .tag, .rule, .context
    │   └── PixelDataProcessingError             pixel data could not be cleaned
    ├── InputError                               unreadable / not DICOM
    ├── NetworkError                             a DICOM peer cannot be reached or refuses
    └── MissingDependencyError (also ImportError) names the extra to install

    IDISCoreWarning (UserWarning)
    └── UnlinkableOutputWarning                  no secret key: pseudonyms won't link across runs

A rejection is never wrapped as a failure: a batch counts the two separately.
The library never calls ``sys.exit``; only the command line maps errors to exit codes.
"""

from __future__ import annotations

from typing import Any


class IDISCoreError(Exception):
    """Base class of every error raised by idiscore."""


class ConfigurationError(IDISCoreError, ValueError):
    """A rule, identifier, operator, profile or option is invalid.

    Raised when the object is built, never in the middle of a batch.
    """


class DatasetRejectedError(IDISCoreError):
    """A bouncer decided that a dataset cannot be de-identified safely."""

    def __init__(self, reason: str, bouncer: Any = None) -> None:
        self.reason = reason
        self.bouncer = bouncer
        name = bouncer if isinstance(bouncer, str) or bouncer is None else type(bouncer).__name__
        self.bouncer_name = name or "unknown"
        super().__init__(f"rejected by {self.bouncer_name}: {reason}")


class DeidentificationError(IDISCoreError):
    """An element or a dataset could not be processed.

    ``tag`` is the element's tag (where known), ``rule`` the rule that was
    applied, ``path`` the position of the element inside nested sequences and
    ``context`` a file-level description (SOP Instance UID or file name).
    No element value is ever part of the message: values are PHI.
    """

    def __init__(
        self,
        message: str,
        *,
        tag: Any = None,
        rule: Any = None,
        path: str | None = None,
        context: str | None = None,
    ) -> None:
        self.message = message
        self.tag = tag
        self.rule = rule
        self.path = path
        self.context = context
        parts = [message]
        if path:
            parts.append(f"at {path}")
        if rule is not None:
            parts.append(f"rule {rule!r}")
        if context:
            parts.append(f"in {context}")
        super().__init__("; ".join(parts))


class PixelDataProcessingError(DeidentificationError):
    """Pixel data could not be decoded, cleaned or re-encoded."""


class InputError(IDISCoreError):
    """Input that is not readable DICOM (truncated, not DICOM, corrupt)."""


class NetworkError(IDISCoreError):
    """A DICOM peer cannot be reached, refuses the association, or answers a failure."""


class MissingDependencyError(IDISCoreError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""


class IDISCoreWarning(UserWarning):
    """Base class of every warning issued by idiscore."""


class UnlinkableOutputWarning(IDISCoreWarning):
    """No secret key was given: pseudonyms will not link across runs."""


__all__ = [
    "ConfigurationError",
    "DatasetRejectedError",
    "DeidentificationError",
    "IDISCoreError",
    "IDISCoreWarning",
    "InputError",
    "MissingDependencyError",
    "NetworkError",
    "PixelDataProcessingError",
    "UnlinkableOutputWarning",
]
