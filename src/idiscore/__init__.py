"""idiscore: rule-based DICOM de-identification following DICOM PS3.15 Annex E."""

from idiscore._version import __version__

__all__ = ["__version__"]
