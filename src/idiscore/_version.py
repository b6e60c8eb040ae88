"""The single source of idiscore's version number."""

__version__ = "0.1.0"
