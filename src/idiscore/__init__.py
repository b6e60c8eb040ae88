"""idiscore: rule-based DICOM de-identification following DICOM PS3.15 Annex E.

The everyday entry points::

    from idiscore import create_default_core
    core = create_default_core()
    clean = core.deidentify(dataset)

and for custom profiles :class:`Core`, :class:`Profile`, :class:`Rule`, :class:`RuleSet`,
the identifiers in :mod:`idiscore.identifiers` and the operators in :mod:`idiscore.operators`.
"""

from idiscore._version import __version__
from idiscore.core import Core, Profile
from idiscore.defaults import create_core, create_default_core, get_dicom_rule_sets
from idiscore.errors import (
    ConfigurationError,
    DatasetRejectedError,
    DeidentificationError,
    IDISCoreError,
    InputError,
    PixelDataProcessingError,
)
from idiscore.pseudonyms import Pseudonymizer
from idiscore.rules import Rule, RuleSet

__all__ = [
    "ConfigurationError",
    "Core",
    "DatasetRejectedError",
    "DeidentificationError",
    "IDISCoreError",
    "InputError",
    "PixelDataProcessingError",
    "Profile",
    "Pseudonymizer",
    "Rule",
    "RuleSet",
    "__version__",
    "create_core",
    "create_default_core",
    "get_dicom_rule_sets",
]
