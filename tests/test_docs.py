"""The README's Python examples run, and the generated docs match the live profile."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from idiscore.defaults import default_profile
from idiscore.describe import describe

ROOT = Path(__file__).resolve().parents[1]


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_readme_starts_with_the_two_setup_commands() -> None:
    text = (ROOT / "README.md").read_text()
    first_block = re.search(r"```\n(.*?)```", text, flags=re.DOTALL)
    assert first_block is not None
    assert first_block.group(1).split() == ["make", "demo", "make", "test"]


@pytest.mark.parametrize("index", range(len(_python_blocks((ROOT / "README.md").read_text()))))
def test_readme_python_block_runs(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    block = _python_blocks((ROOT / "README.md").read_text())[index]
    source = get_testdata_file("CT_small.dcm")
    assert source is not None
    shutil.copy(source, tmp_path / "my_file.dcm")
    monkeypatch.chdir(tmp_path)
    exec(compile(block, f"README.md block {index}", "exec"), {"__name__": "readme"})
    if "deidentified.dcm" in block:
        assert (tmp_path / "deidentified.dcm").stat().st_size > 0


def test_default_profile_table_is_current() -> None:
    assert (ROOT / "docs" / "default_profile.md").read_text() == describe(default_profile(), "md")
