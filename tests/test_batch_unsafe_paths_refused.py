"""Path combinations that could write into the input are refused before anything is written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from idiscore.batch import BatchOptions, check_paths, run_batch
from idiscore.core import Core, Profile
from idiscore.errors import ConfigurationError, InputError
from idiscore.pseudonyms import Pseudonymizer


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "in" / "sub").mkdir(parents=True)
    shutil.copyfile(str(get_testdata_file("CT_small.dcm")), tmp_path / "in" / "sub" / "ct.dcm")
    return tmp_path


@pytest.mark.parametrize(
    ("inputs", "output", "quarantine", "report", "message"),
    [
        (["in"], "in/out", None, None, "inside the input folder"),
        (["in"], "in", None, None, "inside the input folder"),
        (["in/sub"], "in", None, None, "inside the output folder"),
        (["in/sub/ct.dcm"], "in", None, None, "inside the output folder"),
        (["in"], "out", "in/q", None, "quarantine folder is inside"),
        (["in"], "out", None, "in/report.jsonl", "report file is inside"),
        (["in/sub/ct.dcm"], "out", None, "in/sub/ct.dcm", "report file is the input"),
        (["in/s*"], "in/sub/x", None, None, "inside the input folder"),
        (["in"], "in/sub/ct.dcm", None, None, "not a folder"),
    ],
)
def test_unsafe_paths_are_refused(
    tree: Path,
    monkeypatch: pytest.MonkeyPatch,
    inputs: list[str],
    output: str,
    quarantine: str | None,
    report: str | None,
    message: str,
) -> None:
    monkeypatch.chdir(tree)
    with pytest.raises(ConfigurationError, match=message):
        check_paths(inputs, output, quarantine, report)


def test_symlinked_output_inside_input_is_refused(tree: Path) -> None:
    (tree / "link").symlink_to(tree / "in" / "sub", target_is_directory=True)
    with pytest.raises(ConfigurationError):
        check_paths([tree / "in"], tree / "link" / "out")


def test_refusal_happens_before_anything_is_written(tree: Path) -> None:
    core = Core(Profile([]), pseudonymizer=Pseudonymizer("k"))
    before = sorted(p.name for p in tree.rglob("*"))
    with pytest.raises(ConfigurationError):
        run_batch(core, [tree / "in"], BatchOptions(output=tree / "in" / "out"))
    assert sorted(p.name for p in tree.rglob("*")) == before


def test_missing_input_is_an_input_error(tree: Path) -> None:
    core = Core(Profile([]), pseudonymizer=Pseudonymizer("k"))
    with pytest.raises(InputError, match="does not exist"):
        run_batch(core, [tree / "nope"], BatchOptions(output=tree / "out"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"layout": "flat"}, "unknown layout"),
        ({"workers": 0}, "at least 1"),
        ({"resume": True}, "needs the report"),
    ],
)
def test_bad_batch_options(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        BatchOptions(output=tmp_path, **kwargs)  # type: ignore[arg-type]
