"""Every file bundled in the pydicom wheel: de-identified by the default core, or refused
with a typed idiscore error that carries a reason -- nothing else escapes.

De-identified outputs re-read with pydicom, the input is never changed, and the reference
IOD validator (dciodvfy, Debian's dicom3tools) reports no error on the output that it did
not report on the input.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from functools import cache
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from idiscore.batch.runner import read_dicom
from idiscore.core import Core
from idiscore.defaults import create_default_core
from idiscore.errors import DatasetRejectedError, IDISCoreError, InputError

from factories import assert_unchanged, snapshot

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
FILES = sorted(
    p.relative_to(TEST_FILES).as_posix()
    for p in TEST_FILES.rglob("*")
    if p.is_file() and p.suffix not in {".txt", ".dump", ".json", ".icc", ".gz"}
    and p.name != "README"
)  # fmt: skip
DCIODVFY = shutil.which("dciodvfy")

#: Files whose dciodvfy report cannot be compared, and why.
NOT_COMPARABLE = {
    "image_dfl.dcm": "deflated transfer syntax: dciodvfy cannot inflate it and reads garbage",
}


@cache
def _core() -> Core:
    return create_default_core()


def _read(path: Path) -> Dataset:
    try:
        return read_dicom(path)
    except InputError:
        return read_dicom(path, has_preamble=False)


def _errors(path: Path) -> Counter[str]:
    assert DCIODVFY is not None
    run = subprocess.run(
        [DCIODVFY, "-new", str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    lines = [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]
    # values (<...>) and item numbers ([n]) differ after de-identification by design
    return Counter(re.sub(r"= <[^>]*>|\[\d+\]", "", line) for line in lines)


def test_the_wheel_ships_test_files() -> None:
    assert len(FILES) > 60


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", FILES)
def test_bundled_file(name: str, tmp_path: Path) -> None:
    path = TEST_FILES / name
    try:
        dataset = _read(path)
    except InputError as exc:
        assert str(exc), "a refusal carries a reason"
        return
    before = snapshot(dataset)
    try:
        output = _core().deidentify(dataset)
    except DatasetRejectedError as exc:
        assert exc.reason and exc.bouncer_name
        assert_unchanged(dataset, before)
        return
    except IDISCoreError as exc:
        assert str(exc)
        assert_unchanged(dataset, before)
        return
    assert_unchanged(dataset, before)
    assert output.PatientIdentityRemoved == "YES"
    out_path = tmp_path / "out.dcm"
    output.save_as(out_path)
    again = pydicom.dcmread(out_path, force=True)
    assert again.PatientIdentityRemoved == "YES"
    if "PatientName" in dataset and dataset.PatientName:
        assert again.PatientName != dataset.PatientName

    if DCIODVFY is None:
        pytest.skip("dciodvfy (Debian package dicom3tools) is not installed")
    if name in NOT_COMPARABLE:
        pytest.skip(NOT_COMPARABLE[name])
    new = _errors(out_path) - _errors(path)
    assert not new, f"dciodvfy reports new errors: {sorted(new)}"
