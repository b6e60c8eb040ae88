"""Turn command-line choices into library objects: profile, key, core."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from idiscore.errors import ConfigurationError, UnlinkableOutputWarning

if TYPE_CHECKING:
    from idiscore.core import Core
    from idiscore.profile import Profile
    from idiscore.pseudonyms import Pseudonymizer

__all__ = [
    "PROFILE_HELP",
    "KeyInfo",
    "build_core",
    "load_key",
    "resolve_profile",
    "text_detection",
]

_DEFAULT: Any = object()

PROFILE_HELP = (
    "'default' (the idiscore default profile), a comma-separated list of PS3.15 options "
    "after the Basic Profile (e.g. 'basic,clean_descriptors,retain_uid'), or a profile "
    "file (.toml)."
)


def _is_profile_file(spec: str) -> bool:
    return spec.endswith(".toml") or os.sep in spec or "/" in spec or Path(spec).is_file()


def resolve_profile(spec: str) -> Profile:
    """The profile a ``--profile`` value names (see :data:`PROFILE_HELP`).

    Raises:
        ConfigurationError: unknown option name, bad profile file.
    """
    spec = spec.strip()
    if not spec:
        raise ConfigurationError("--profile is empty")
    if spec == "default":
        from idiscore.defaults import default_profile

        return default_profile()
    if _is_profile_file(spec):
        if not Path(spec).is_file():
            raise ConfigurationError(f"profile file {spec!r} does not exist")
        from idiscore.profile_file import load_profile

        return load_profile(spec)
    names = [name.strip() for name in spec.split(",")]
    if any(not name for name in names):
        raise ConfigurationError(f"--profile {spec!r} has an empty option name")
    from idiscore.defaults import profile_from_options

    try:
        return profile_from_options(names)
    except ConfigurationError as exc:
        hint = _did_you_mean(names)
        if hint:
            raise ConfigurationError(f"{exc}; {hint}") from None
        raise


def _did_you_mean(names: list[str]) -> str:
    """``did you mean 'clean_descriptors'?`` for the first unknown option name, or ''."""
    import difflib

    from idiscore.defaults import get_dicom_rule_sets
    from idiscore.standard.rulesets import SET_NAMES

    sets = get_dicom_rule_sets()
    known = ["default", "basic", "tcia_private", *SET_NAMES.values()]
    for name in names:
        if name in known:
            continue
        try:
            sets.by_name(name)
        except ConfigurationError:
            close = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.6)
            if close:
                return f"did you mean {close[0]!r}?"
            return ""
    return ""


@dataclass(frozen=True)
class KeyInfo:
    """The pseudonymizer and where its key came from."""

    pseudonymizer: Pseudonymizer
    source: str  # "key file", "IDISCORE_KEY" or "random"

    @property
    def is_random(self) -> bool:
        return self.source == "random"


def load_key(key_file: str | None) -> KeyInfo:
    """The pseudonymizer from ``--key-file``, else ``IDISCORE_KEY``, else a random key.

    The random-key warning is not issued here; callers check :attr:`KeyInfo.is_random`.
    """
    from idiscore.pseudonyms import KEY_ENV_VAR, Pseudonymizer

    if key_file is not None:
        if not os.path.isfile(key_file):
            raise ConfigurationError(f"key file {key_file!r} does not exist")
        return KeyInfo(Pseudonymizer.from_key_file(key_file), "key file")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnlinkableOutputWarning)
        pseudonymizer = Pseudonymizer.from_env()
    source = "random" if pseudonymizer.is_ephemeral else KEY_ENV_VAR
    return KeyInfo(pseudonymizer, source)


def build_core(spec: str, key: KeyInfo, text_detection: Any = _DEFAULT) -> Core:
    """A Core with the standard bouncers and insertions for the ``--profile`` value.

    ``text_detection``: a :class:`~idiscore.pixels.ocr.TextDetection`, None (off), or left
    out for the default (RapidOCR, every text box).
    """
    from idiscore.defaults import DEFAULT_TEXT_DETECTION

    detection = DEFAULT_TEXT_DETECTION if text_detection is _DEFAULT else text_detection
    if spec.strip() == "default":
        from idiscore.defaults import create_default_core

        return create_default_core(pseudonymizer=key.pseudonymizer, text_detection=detection)
    from idiscore.defaults import create_core

    return create_core(
        resolve_profile(spec), pseudonymizer=key.pseudonymizer, text_detection=detection
    )


def text_detection(ocr: bool, mode: str, engine: str) -> Any:
    """The :class:`~idiscore.pixels.ocr.TextDetection` for ``--ocr/--no-ocr``, ``--ocr-mode``
    and ``--ocr-engine`` (None with ``--no-ocr``)."""
    if not ocr:
        return None
    from idiscore.pixels.ocr import TextDetection

    return TextDetection(engine=engine, mode=mode)
