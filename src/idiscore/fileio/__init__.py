"""Reading and writing DICOM files without touching what does not change.

Most of a de-identified file is copied from its input: the elements no rule changes
are still the undecoded bytes pydicom read, and in an image the pixel data is by far
the largest of them. :mod:`~idiscore.fileio.reading` reads files so (large values stay
in the file, truncated files are refused); :mod:`~idiscore.fileio.writing` writes such
elements as they are and streams large values straight from the input file.
"""

from idiscore.elements import dictionary_vr
from idiscore.fileio.reading import (
    DEFAULT_DEFER_SIZE,
    FileWindow,
    check_complete,
    deferred_window,
    read,
    read_counting_warnings,
)
from idiscore.fileio.writing import OutputDataset, save

__all__ = [
    "DEFAULT_DEFER_SIZE",
    "FileWindow",
    "OutputDataset",
    "check_complete",
    "deferred_window",
    "dictionary_vr",
    "read",
    "read_counting_warnings",
    "save",
]
