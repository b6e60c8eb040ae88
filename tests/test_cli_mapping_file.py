"""``idiscore deidentify --mapping FILE``: written on success, refused (exit 2, nothing
written) where it would re-identify the outputs, added to by ``--resume``."""

from __future__ import annotations

import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from idiscore.batch.mapping_store import read_mapping
from idiscore.cli import main

from factories import sop_dataset, write_linked_files


def invoke(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    write_linked_files(tmp_path / "in")
    return tmp_path / "in"


@pytest.mark.parametrize("name", ["map.csv", "map.sqlite", "map.db"])
def test_mapping_is_written(tmp_path: Path, inputs: Path, name: str) -> None:
    mapping = tmp_path / "secure" / name
    code, output = invoke(
        "deidentify", inputs, "-o", tmp_path / "out", "--workers", "1", "--mapping", mapping
    )
    assert code == 0, output
    assert f"mapping: {mapping} (it re-identifies patients" in output
    entries = read_mapping(mapping).entries()
    # the default profile empties IDs, names and dates: only UIDs get pseudonyms
    assert {kind for kind, _, _ in entries} == {"uid"}
    assert len(entries) == 24 + 12 + 6  # instances, series, studies
    assert stat.S_IMODE(mapping.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("mapping", "extra", "message"),
    [
        ("map.json", [], ".csv, .sqlite or .db"),
        ("out/map.csv", [], "re-identifies"),
        ("in/map.csv", [], "re-identifies"),
        ("out/map.csv", ["--dry-run"], "re-identifies"),
        ("same.csv", ["--report", "same.csv"], "different files"),
    ],
)
def test_bad_mapping_exits_2_before_writing(
    tmp_path: Path,
    inputs: Path,
    monkeypatch: pytest.MonkeyPatch,
    mapping: str,
    extra: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code, output = invoke("deidentify", "in", "-o", "out", "--mapping", mapping, *extra)
    assert code == 2, output
    assert message in " ".join(output.split())
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_existing_mapping_needs_resume(tmp_path: Path, inputs: Path) -> None:
    mapping, report = tmp_path / "map.csv", tmp_path / "report.jsonl"
    args = ["deidentify", inputs, "-o", tmp_path / "out", "--workers", "1", "--mapping", mapping]
    assert invoke(*args, "--report", report)[0] == 0
    table = mapping.read_bytes()
    code, output = invoke(*args, "--report", tmp_path / "other.jsonl")
    assert code == 2 and "already exists" in output
    assert mapping.read_bytes() == table
    code, output = invoke(*args, "--report", report, "--resume")
    assert code == 0, output
    assert mapping.read_bytes() == table  # nothing left to do, nothing lost


def test_mapping_survives_sigkill_and_resume(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for index in range(150):
        ds = sop_dataset(PatientID=f"PID-{index % 7:03d}", PatientName=f"Person^Number{index % 7}")
        ds.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.77.{index}"
        ds.SeriesInstanceUID = f"1.2.826.0.1.3680043.8.498.78.{index % 11}"
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.save_as(inputs / f"image{index:03d}.dcm", enforce_file_format=True)
    profile = tmp_path / "profile.toml"
    profile.write_text(
        'rule_sets = ["basic", "retain_long_modified_dates", "site"]\n'
        '[[rules]]\nrule_set = "site"\ntag = "PatientID"\noperator = "Hash"\n'
    )
    script = str(Path(sys.executable).parent / "idiscore")

    def command(name: str, *extra: str) -> list[str]:
        return [
            script,
            "deidentify",
            str(inputs),
            "-o",
            str(tmp_path / f"{name}-out"),
            "--report",
            str(tmp_path / f"{name}.jsonl"),
            "--mapping",
            str(tmp_path / "secure" / f"{name}.csv"),
            "--profile",
            str(profile),
            "--workers",
            "1",
            *extra,
        ]

    done = subprocess.run(command("reference"), capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = tmp_path / "killed.jsonl"
    with subprocess.Popen(command("killed"), stdout=subprocess.DEVNULL) as process:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if report.exists() and report.read_bytes().count(b"\n") >= 10:
                break
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL
    mapping = tmp_path / "secure" / "killed.csv"
    assert not mapping.exists() and (tmp_path / "secure" / "killed.csv.journal").exists()
    assert 10 <= report.read_bytes().count(b"\n") < 150, "the run was not killed midway"

    resumed = subprocess.run(command("killed", "--resume"), capture_output=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert mapping.read_bytes() == (tmp_path / "secure" / "reference.csv").read_bytes()
    assert sorted(p.name for p in mapping.parent.iterdir()) == ["killed.csv", "reference.csv"]
