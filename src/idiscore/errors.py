"""Every exception and warning idiscore raises, in one tree.

::

    IDISCoreError
    ├── ConfigurationError (also ValueError)     bad rule, tag, option, key
    ├── DatasetRejectedError                     a bouncer refused: .bouncer, .reason
    ├── DeidentificationError                    could not process: .tag, .rule, .context
    │   ├── EncodingError (also ValueError)      the data set cannot be written as asked
    │   └── PixelDataProcessingError             pixel data could not be cleaned
    ├── InputError                               unreadable / not DICOM / not a regular file
    ├── MissingDependencyError (also ImportError) names the extra to install
    ├── NetworkError                             a DICOM peer cannot be reached or refuses
    ├── OutputInUseError (also ConfigurationError) another run holds the output or report
    └── StorageError (also OSError)              an output, report or mapping location cannot
                                                 be created or written (read-only, full disk)

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


class EncodingError(DeidentificationError, ValueError):
    """A data set cannot be written: a value pydicom cannot encode, an encoding or file
    meta pydicom refuses. A ValueError, as pydicom's refusals are; the message names
    the underlying error's type, never a value."""


class PixelDataProcessingError(DeidentificationError):
    """Pixel data could not be decoded, cleaned or re-encoded."""


class InputError(IDISCoreError):
    """Input that is not readable DICOM (truncated, not DICOM, corrupt)."""


class NetworkError(IDISCoreError):
    """A DICOM peer cannot be reached, refuses the association, or answers a failure."""


class MissingDependencyError(IDISCoreError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""


class OutputInUseError(ConfigurationError):
    """Another running batch holds the output folder, the report or the mapping file.

    The message names the holder (process id and host) and the lock file.
    """


class StorageError(IDISCoreError, OSError):
    """A place a batch writes to cannot be created or written: the output folder, the
    report, the mapping file (missing permission, read-only or full file system).

    The message says what and where; it holds no element value.
    """


def idiscore_error(exc: Exception, doing: str) -> IDISCoreError:
    """``exc`` as an idiscore error whose message quotes nothing from a foreign one.

    An idiscore error is returned as it is, except a :class:`DeidentificationError`
    caused by a foreign exception, whose text gets that exception's type instead of its
    message. Any other exception (pydicom's ``ValueError`` for an invalid value,
    ``NotImplementedError`` for an unknown VR, a ``RecursionError`` ...) becomes a
    :class:`DeidentificationError` saying ``doing`` and the exception's type: foreign
    messages may quote element values, which are PHI.
    """
    if isinstance(exc, DeidentificationError):
        cause = exc.__cause__
        if cause is None or isinstance(cause, IDISCoreError):
            return exc
        try:
            return type(exc)(
                f"{doing}: {type(cause).__name__}",
                tag=exc.tag,
                rule=exc.rule,
                path=exc.path,
                context=exc.context,
            )
        except TypeError:  # a subclass with another signature
            return DeidentificationError(
                f"{doing}: {type(cause).__name__}", tag=exc.tag, path=exc.path
            )
    if isinstance(exc, IDISCoreError):
        return exc
    if isinstance(exc, RecursionError):
        return DeidentificationError(f"{doing}: the data set is nested too deeply")
    if isinstance(exc, MemoryError):
        return DeidentificationError(f"{doing}: out of memory")
    return DeidentificationError(f"{doing}: {type(exc).__name__}")


def encoding_error(exc: Exception, doing: str) -> IDISCoreError:
    """:func:`idiscore_error` for an error met while writing: a foreign error becomes an
    :class:`EncodingError`."""
    converted = idiscore_error(exc, doing)
    if type(converted) is DeidentificationError and not isinstance(exc, IDISCoreError):
        return EncodingError(converted.message)
    return converted


class IDISCoreWarning(UserWarning):
    """Base class of every warning issued by idiscore."""


class UnlinkableOutputWarning(IDISCoreWarning):
    """No secret key was given: pseudonyms will not link across runs."""


__all__ = [
    "ConfigurationError",
    "DatasetRejectedError",
    "DeidentificationError",
    "EncodingError",
    "IDISCoreError",
    "IDISCoreWarning",
    "InputError",
    "MissingDependencyError",
    "NetworkError",
    "OutputInUseError",
    "PixelDataProcessingError",
    "StorageError",
    "UnlinkableOutputWarning",
    "encoding_error",
    "idiscore_error",
]
