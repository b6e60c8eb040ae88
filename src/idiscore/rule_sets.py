"""The PS3.15 rule sets under their idiscore 1.x module name.

``DICOMRuleSets()`` holds the Basic Profile and every option of Table E.1-1, the same
rule sets :func:`idiscore.defaults.get_dicom_rule_sets` returns; see
:class:`idiscore.standard.rulesets.DICOMRuleSets` for ``action_mapping`` and the names.
"""

from idiscore.standard.rulesets import DICOMRuleSets

__all__ = ["DICOMRuleSets"]
