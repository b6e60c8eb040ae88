"""``idiscore explain`` and ``idiscore profile`` through the installed script."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from idiscore.defaults import default_profile, profile_from_options
from idiscore.demo import encapsulated_pdf
from idiscore.profile_file import load_profile_text
from idiscore.safety_net import SAFETY_NET_NAME


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "idiscore"
    return subprocess.run(
        [str(script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )


CT = str(get_testdata_file("CT_small.dcm"))
RTPLAN = str(get_testdata_file("rtplan.dcm"))


def line_for(output: str, tag: str) -> str:
    return next(line for line in output.splitlines() if tag in line)


def test_explain_masks_values_and_names_rules() -> None:
    result = run("explain", CT)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "CompressedSamples" not in out and "1CT1" not in out
    name = line_for(out, "(0010,0010)")
    assert "PatientName" in name and "emptied" in name and "Basic" in name
    assert "new UID" in line_for(out, "(0008,0018)")
    assert "no rule: kept" in line_for(out, "(0008,0016)")
    assert "file meta information:" in out and "data set:" in out


def test_explain_indents_nested_elements_and_shows_values_on_request() -> None:
    result = run("explain", "--show-values", "--profile", "basic,retain_uid", RTPLAN)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    sequence = line_for(out, "(300A,0010)")
    nested = line_for(out, "(300A,0012)")
    indent = len(nested) - len(nested.lstrip())
    assert indent == len(sequence) - len(sequence.lstrip()) + 2
    uid = line_for(out, "(0008,0018)")
    assert "kept" in uid and "Retain UIDs" in uid  # retain_uid wins over the basic profile
    assert "Last^First" in line_for(out, "(0010,0010)")  # with --show-values


def test_explain_says_when_a_file_would_be_rejected(tmp_path: Path) -> None:
    pdf = tmp_path / "doc.dcm"
    encapsulated_pdf().save_as(pdf, enforce_file_format=True)
    result = run("explain", pdf)
    assert result.returncode == 0 and "REJECTED" in result.stdout


def test_explain_of_a_non_dicom_file_exits_1(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("hello")
    result = run("explain", tmp_path / "x.txt")
    assert result.returncode == 1 and "not DICOM" in result.stderr


@pytest.mark.parametrize("spec", ["default", "basic,clean_descriptors,retain_uid"])
def test_profile_csv_lists_every_rule(spec: str) -> None:
    result = run("profile", "--profile", spec, "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    profile = (
        default_profile()
        if spec == "default"
        else profile_from_options(["clean_descriptors", "retain_uid"])
    )
    net = profile.safety_net_rules
    assert net is not None and len(net) == 6
    assert len(rows) == len(profile.rules) + len(net) + 1
    assert [r[5] for r in rows[-6:]] == [SAFETY_NET_NAME] * 6


def test_profile_toml_export_loads_back(tmp_path: Path) -> None:
    result = run("profile", "--format", "toml")
    assert result.returncode == 0, result.stderr
    loaded = load_profile_text(result.stdout)
    assert loaded.rule_sets == default_profile().rule_sets
    path = tmp_path / "mine.toml"
    path.write_text(result.stdout)
    again = run("profile", "--profile", path, "--format", "md")
    assert again.returncode == 0 and "# idiscore default profile" in again.stdout


def test_unknown_profile_format_exits_2() -> None:
    assert run("profile", "--format", "pdf").returncode == 2
