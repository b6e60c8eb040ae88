"""Exit codes of the installed script: 2 for usage and configuration errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file


def run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "idiscore"
    return subprocess.run(
        [str(script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env if env is not None else dict(os.environ),
    )


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    (tmp_path / "in").mkdir()
    shutil.copyfile(str(get_testdata_file("CT_small.dcm")), tmp_path / "in" / "ct.dcm")
    return tmp_path / "in"


def test_version() -> None:
    from idiscore import __version__

    result = run("--version")
    assert result.returncode == 0 and __version__ in result.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--profile", "basic,no_such_option"], "no_such_option"),
        (["--key-file", "/nonexistent/key"], "key file"),
        (["--resume"], "--report"),
        (["--workers", "0"], "workers"),
        (["--layout", "flat"], "layout"),
        (["--profile", "missing-profile.toml"], "does not exist"),
    ],
)
def test_bad_options_exit_2(tmp_path: Path, inputs: Path, extra: list[str], message: str) -> None:
    result = run("deidentify", inputs, "-o", tmp_path / "out", *extra)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


def test_output_inside_input_exits_2(inputs: Path) -> None:
    result = run("deidentify", inputs, "-o", inputs / "out")
    assert result.returncode == 2
    assert "inside the input folder" in result.stderr
    assert sorted(p.name for p in inputs.iterdir()) == ["ct.dcm"]


def test_input_inside_output_exits_2(tmp_path: Path, inputs: Path) -> None:
    result = run("deidentify", inputs, "-o", tmp_path)
    assert result.returncode == 2 and "inside the output folder" in result.stderr


def test_missing_input_exits_2(tmp_path: Path) -> None:
    result = run("deidentify", tmp_path / "nope", "-o", tmp_path / "out")
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_resume_without_a_key_exits_2(tmp_path: Path, inputs: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "IDISCORE_KEY"}
    result = run(
        "deidentify", inputs, "-o", tmp_path / "o", "--report", tmp_path / "r", "--resume", env=env
    )
    assert result.returncode == 2 and "key" in result.stderr


def test_random_key_warns_and_still_works(tmp_path: Path, inputs: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "IDISCORE_KEY"}
    result = run("deidentify", inputs, "-o", tmp_path / "out", "--workers", "1", env=env)
    assert result.returncode == 0, result.stderr
    assert "random key" in result.stderr
    assert (tmp_path / "out" / "ct.dcm").is_file()
