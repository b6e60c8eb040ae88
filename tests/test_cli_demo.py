"""``python -m idiscore.demo`` (``make demo``) works without a key and can run twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from idiscore.pixels.text import engine_available


def run_demo(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "IDISCORE_KEY"}
    return subprocess.run(
        [sys.executable, "-m", "idiscore.demo"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_demo_runs_twice_without_a_key(tmp_path: Path) -> None:
    for _ in range(2):
        result = run_demo(tmp_path)
        assert result.returncode == 0, result.stderr
        assert "random key" in result.stderr
        assert "rejected" in result.stdout and "done" in result.stdout
    output = tmp_path / "demo-output"
    statuses = sorted(
        json.loads(line)["status"] for line in (output / "report.jsonl").read_text().splitlines()
    )
    # the secondary capture is cleaned when a text detector is installed, else rejected
    screenshot = 1 if engine_available("rapidocr") else 0
    done = 4 + screenshot
    rejected = ["rejected"] * (2 - screenshot)
    assert statuses == ["done"] * done + ["failed", *rejected, "skipped"]
    assert len([p for p in (output / "deidentified").rglob("*") if p.is_file()]) == done
    quarantined = [p for p in (output / "quarantine").rglob("*") if p.is_file()]
    assert len(quarantined) == 1 + len(rejected)


def test_demo_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "demo-output").mkdir()
    (tmp_path / "demo-output" / "mine.txt").write_text("keep me")
    result = run_demo(tmp_path)
    assert result.returncode == 2
    assert (tmp_path / "demo-output" / "mine.txt").read_text() == "keep me"
