"""Exit codes: 2 for usage and configuration errors, checked before anything is written."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydicom.data import get_testdata_file

from idiscore.cli import main


def run_script(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "idiscore"
    return subprocess.run(
        [str(script), *map(str, args)], capture_output=True, text=True, timeout=120, env=env
    )


def invoke(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    (tmp_path / "in").mkdir()
    shutil.copyfile(str(get_testdata_file("CT_small.dcm")), tmp_path / "in" / "ct.dcm")
    return tmp_path / "in"


def test_version_from_the_installed_script() -> None:
    from idiscore import __version__

    result = run_script("--version", env=dict(os.environ))
    assert result.returncode == 0 and __version__ in result.stdout


def test_the_installed_script_passes_the_exit_code_on(tmp_path: Path, inputs: Path) -> None:
    result = run_script("deidentify", inputs, "-o", tmp_path / "out", "--workers", "0", env={})
    assert result.returncode == 2, result.stderr
    assert "workers" in result.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--profile", "basic,no_such_option"], "no_such_option"),
        (["--profile", "basic,,retain_uid"], "empty option name"),
        (["--profile", "retain_long_full_dates,retain_long_modified_dates"], "exclude each"),
        (["--profile", "missing-profile.toml"], "does not exist"),
        (["--key-file", "/nonexistent/key"], "key file"),
        (["--resume"], "--report"),
        (["--workers", "0"], "workers"),
        (["--layout", "flat"], "layout"),
    ],
)
def test_bad_options_exit_2(tmp_path: Path, inputs: Path, extra: list[str], message: str) -> None:
    code, output = invoke("deidentify", inputs, "-o", tmp_path / "out", *extra)
    assert code == 2, output
    assert message in output
    assert not (tmp_path / "out").exists()


def test_bad_profile_file_exits_2(tmp_path: Path, inputs: Path) -> None:
    profile = tmp_path / "bad.toml"
    profile.write_text('[[rules]]\ntag = "PatientName"\noperator = "Explode"\n')
    code, output = invoke("deidentify", inputs, "-o", tmp_path / "out", "--profile", profile)
    assert code == 2 and "unknown operator" in output


def test_output_inside_input_exits_2(inputs: Path) -> None:
    code, output = invoke("deidentify", inputs, "-o", inputs / "out")
    assert code == 2 and "inside the input folder" in output
    assert sorted(p.name for p in inputs.iterdir()) == ["ct.dcm"]


def test_input_inside_output_exits_2(tmp_path: Path, inputs: Path) -> None:
    code, output = invoke("deidentify", inputs, "-o", tmp_path)
    assert code == 2 and "inside the output folder" in output


def test_missing_input_exits_2(tmp_path: Path) -> None:
    code, output = invoke("deidentify", tmp_path / "nope", "-o", tmp_path / "out")
    assert code == 2 and "does not exist" in output


def test_resume_without_a_key_exits_2(
    tmp_path: Path, inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IDISCORE_KEY")
    code, output = invoke(
        "deidentify", inputs, "-o", tmp_path / "o", "--report", tmp_path / "r", "--resume"
    )
    assert code == 2 and "key" in output


def test_key_file_and_environment_give_identical_files(tmp_path: Path, inputs: Path) -> None:
    key = tmp_path / "key.txt"
    key.write_text(os.environ["IDISCORE_KEY"] + "\n")
    code, output = invoke("deidentify", inputs, "-o", tmp_path / "a", "--workers", "1", "-q")
    assert code == 0, output
    code, output = invoke(
        "deidentify", inputs, "-o", tmp_path / "b", "--workers", "1", "--key-file", key, "-q"
    )
    assert code == 0, output
    first, second = ((tmp_path / d / "ct.dcm").read_bytes() for d in ("a", "b"))
    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()


def test_random_key_warns_and_still_works(tmp_path: Path, inputs: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "IDISCORE_KEY"}
    result = run_script("deidentify", inputs, "-o", tmp_path / "out", "--workers", "1", env=env)
    assert result.returncode == 0, result.stderr
    assert "random key" in result.stderr
    assert (tmp_path / "out" / "ct.dcm").is_file()
