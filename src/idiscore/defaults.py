"""Ready-made rule sets and cores.

* :func:`get_dicom_rule_sets` -- the Basic Profile and every option of DICOM PS3.15
  Annex E, one :class:`~idiscore.rules.RuleSet` each (built in
  :mod:`idiscore.standard.rulesets`, re-exported here).
* :func:`create_core` -- a Core for any profile, with the standard bouncers and insertions.
* :func:`create_default_core` -- the idiscore default profile: Basic Profile + Clean
  Descriptors + Retain Patient Characteristics + Retain Device Identity + Retain Safe
  Private.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from idiscore.core import Core
from idiscore.errors import ConfigurationError
from idiscore.insertions import StandardInsertions
from idiscore.pixels.ocr import TextDetection
from idiscore.profile import Profile
from idiscore.rules import RuleSet
from idiscore.standard.rulesets import get_dicom_rule_sets
from idiscore.standard.rulesets import safe_private_rule_set as _safe_private_rule_set

if TYPE_CHECKING:
    from idiscore.pseudonyms import Pseudonymizer

#: The options of the idiscore default profile, after the Basic Profile.
DEFAULT_OPTIONS = (
    "clean_descriptors",
    "retain_patient_characteristics",
    "retain_device_id",
    "retain_safe_private",
)

#: Text detection of the default cores: RapidOCR, every text box blanked.
DEFAULT_TEXT_DETECTION = TextDetection()

_EXCLUSIVE = ("retain_long_full_dates", "retain_long_modified_dates")


def profile_from_options(
    options: Iterable[str] = (),
    *,
    name: str | None = None,
    safe_private_definition: Any = None,
    extra: Sequence[RuleSet] = (),
) -> Profile:
    """The Basic Profile followed by the named options (and any extra rule sets).

    Option names are the attribute names of :func:`get_dicom_rule_sets` (for example
    ``"clean_descriptors"``), Table E.1-1 column names or CID 7050 meanings, and
    ``"tcia_private"`` for the TCIA private tag knowledge base (opt-in, see
    :mod:`idiscore.private`).
    """
    sets = get_dicom_rule_sets()
    chosen = [sets.basic_profile]
    for option in options:
        if option.strip() in ("basic", "basic_profile", sets.basic_profile.name):
            continue
        if option.strip() == "tcia_private":
            from idiscore.private import tcia_private_rule_set

            chosen.append(tcia_private_rule_set())
            continue
        rule_set = sets.by_name(option)
        if rule_set is sets.retain_safe_private:
            rule_set = _safe_private_rule_set(safe_private_definition)
        if rule_set not in chosen:
            chosen.append(rule_set)
    chosen.extend(extra)
    profile = Profile(chosen, name=name or "PS3.15 " + "+".join(["basic", *options]))
    check_profile(profile)
    return profile


def check_profile(profile: Profile) -> None:
    """Refuse contradictory options (both Retain Longitudinal options, PS3.15 E.3.6)."""
    sets = get_dicom_rule_sets()
    codes = {rs.code for rs in profile.rule_sets if rs.code is not None}
    exclusive = [getattr(sets, name).code for name in _EXCLUSIVE]
    if all(code in codes for code in exclusive):
        raise ConfigurationError(
            "the Retain Longitudinal Temporal Information options (Full Dates, Modified "
            "Dates) exclude each other"
        )


def create_core(
    profile: Profile,
    location_list: Any = None,
    *,
    pseudonymizer: Pseudonymizer | None = None,
    bouncers: Sequence[Any] | None = None,
    text_detection: TextDetection | None = DEFAULT_TEXT_DETECTION,
) -> Core:
    """A Core for ``profile`` with the standard bouncers and PS3.15 insertions.

    ``location_list`` (a :class:`~idiscore.image_processing.PIILocationList` or a list of
    locations) enables pixel cleaning for matching datasets. ``text_detection`` (default:
    :data:`DEFAULT_TEXT_DETECTION`, ``None`` to switch it off) finds and blanks burned-in
    text in the datasets :class:`~idiscore.bouncers.RejectBurnedInAnnotation` flags, when
    its engine is installed (``idiscore[ocr]``); without it they stay rejected.
    """
    check_profile(profile)
    from idiscore.bouncers import RejectBurnedInAnnotation, default_bouncers

    chosen = list(bouncers) if bouncers is not None else default_bouncers()
    processor = None
    if location_list is not None or text_detection is not None:
        from idiscore.image_processing import PixelProcessor

        policy = next((b for b in chosen if isinstance(b, RejectBurnedInAnnotation)), None)
        processor = PixelProcessor(
            location_list if location_list is not None else (),
            text_detection=text_detection,
            burned_in_policy=policy,
        )
    return Core(
        profile,
        insertions=[StandardInsertions()],
        bouncers=chosen,
        pixel_processor=processor,
        pseudonymizer=pseudonymizer,
    )


def default_profile(safe_private_definition: Any = None) -> Profile:
    """The idiscore default profile (see :data:`DEFAULT_OPTIONS`)."""
    return profile_from_options(
        DEFAULT_OPTIONS,
        name="idiscore default profile",
        safe_private_definition=safe_private_definition,
    )


def create_default_core(
    safe_private_definition: Any = None,
    location_list: Any = None,
    *,
    pseudonymizer: Pseudonymizer | None = None,
    text_detection: TextDetection | None = DEFAULT_TEXT_DETECTION,
) -> Core:
    """A Core with the idiscore default profile, standard bouncers and insertions.

    Burned-in text is detected and blanked where the policy asks, when ``idiscore[ocr]`` is
    installed (see :func:`create_core`).
    """
    return create_core(
        default_profile(safe_private_definition),
        location_list,
        pseudonymizer=pseudonymizer,
        text_detection=text_detection,
    )


__all__ = [
    "DEFAULT_OPTIONS",
    "DEFAULT_TEXT_DETECTION",
    "check_profile",
    "create_core",
    "create_default_core",
    "default_profile",
    "get_dicom_rule_sets",
    "profile_from_options",
]
