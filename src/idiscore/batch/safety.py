"""Refuse path combinations that could write into an input or read an output back.

Checked before anything is written (paths are compared after resolving symbolic links):

* the output folder must not be an input folder, nor lie inside one (a second run would
  de-identify its own output, and the input tree would change);
* no input may lie inside the output folder;
* the quarantine folder and the report file must not lie inside an input folder either,
  and the report must not be an input file;
* the output and quarantine folders must not be existing files, and neither may be, or lie
  inside, the other (raw originals must never sit among de-identified files);
* the mapping file (original value -> pseudonym) must lie neither inside the output folder
  nor inside an input folder, and must not be an input, the report or a folder: it
  re-identifies patients, so it must never travel with the de-identified files, nor be
  left among the originals where the next run or a copy of the inputs would pick it up.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from idiscore.batch.sources import is_glob
from idiscore.errors import ConfigurationError

__all__ = ["check_paths"]


def _real(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.realpath(os.fspath(path)))


def _inside(path: Path, folder: Path) -> bool:
    """True if ``path`` is ``folder`` or below it."""
    return path == folder or folder in path.parents


def _expanded(inputs: Iterable[str | os.PathLike[str]]) -> Iterator[tuple[str, Path]]:
    for item in inputs:
        text = os.fspath(item)
        if is_glob(text):
            for match in glob.glob(text, recursive=True):
                yield match, _real(match)
        elif os.path.lexists(text):
            yield text, _real(text)


def check_paths(
    inputs: Iterable[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    quarantine: str | os.PathLike[str] | None = None,
    report: str | os.PathLike[str] | None = None,
    mapping: str | os.PathLike[str] | None = None,
) -> None:
    """Raise :class:`ConfigurationError` for an unsafe combination of paths (module docs)."""
    out = _real(output)
    if out.exists() and not out.is_dir():
        raise ConfigurationError(f"output {os.fspath(output)!r} exists and is not a folder")
    quarantined = _real(quarantine) if quarantine is not None else None
    if quarantined is not None and quarantined.exists() and not quarantined.is_dir():
        raise ConfigurationError(
            f"quarantine {os.fspath(quarantine)!r} exists and is not a folder"  # type: ignore[arg-type]
        )
    if quarantined is not None and (_inside(quarantined, out) or _inside(out, quarantined)):
        raise ConfigurationError(
            f"the quarantine folder {os.fspath(quarantine)!r} and the output folder "  # type: ignore[arg-type]
            f"{os.fspath(output)!r} overlap: raw originals would lie among (or around) the "
            "de-identified files; choose a quarantine folder outside the output folder"
        )
    reported = _real(report) if report is not None else None
    if reported is not None and reported.is_dir():
        raise ConfigurationError(f"report {os.fspath(report)!r} is a folder")  # type: ignore[arg-type]
    mapped = _check_mapping(mapping, out, output, reported)
    for text, path in _expanded(inputs):
        if path.is_dir():
            if _inside(out, path):
                raise ConfigurationError(
                    f"the output folder {os.fspath(output)!r} is inside the input folder "
                    f"{text!r}; choose an output folder outside every input"
                )
            if quarantined is not None and _inside(quarantined, path):
                raise ConfigurationError(
                    f"the quarantine folder is inside the input folder {text!r}"
                )
            if reported is not None and _inside(reported, path):
                raise ConfigurationError(f"the report file is inside the input folder {text!r}")
            if mapped is not None and _inside(mapped, path):
                raise ConfigurationError(
                    f"the mapping file is inside the input folder {text!r}: it links "
                    f"pseudonyms to real identities (it re-identifies patients), so {_KEEP_APART}"
                )
        elif reported is not None and path == reported:
            raise ConfigurationError(f"the report file is the input file {text!r}")
        elif mapped is not None and path == mapped:
            raise ConfigurationError(f"the mapping file is the input file {text!r}")
        if _inside(path, out):
            raise ConfigurationError(
                f"the input {text!r} is inside the output folder {os.fspath(output)!r}"
            )
        if quarantined is not None and _inside(path, quarantined):
            raise ConfigurationError(f"the input {text!r} is inside the quarantine folder")


_KEEP_APART = "keep it outside every input and output folder, as safe as the key"


def _check_mapping(
    mapping: str | os.PathLike[str] | None,
    out: Path,
    output: str | os.PathLike[str],
    reported: Path | None,
) -> Path | None:
    if mapping is None:
        return None
    mapped = _real(mapping)
    if mapped.is_dir():
        raise ConfigurationError(f"mapping {os.fspath(mapping)!r} is a folder")
    if _inside(mapped, out):
        raise ConfigurationError(
            f"the mapping file {os.fspath(mapping)!r} is inside the output folder "
            f"{os.fspath(output)!r}: it links pseudonyms to real identities (it re-identifies "
            f"patients) and would travel with the de-identified files; {_KEEP_APART}"
        )
    if reported is not None and mapped == reported:
        raise ConfigurationError("the mapping file and the report must be different files")
    return mapped
