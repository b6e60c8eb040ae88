"""File names that are not UTF-8, or hold a newline, or start with a dash: reported
losslessly (``input_fs`` + ``path_encoding``), printed escaped, and resumed exactly."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from pydicom.data import get_testdata_file

from idiscore.batch import FileResult, load_resume_state
from idiscore.batch.report import PATH_ENCODING, report_path

LATIN1 = os.fsdecode(b"caf\xe9-\xff.dcm")  # bytes that are not UTF-8
NAMES = [LATIN1, "new\nline.dcm", "-dash.dcm", "plain.dcm"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    script = str(Path(sys.executable).parent / "idiscore")
    return subprocess.run([script, *args], capture_output=True, text=True, timeout=60)


def test_odd_names_are_reported_losslessly_and_resumed(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in NAMES:
        shutil.copyfile(str(get_testdata_file("CT_small.dcm")), folder / name)
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    done = run("deidentify", str(folder), "-o", str(out), "--report", str(report), "-v")
    assert done.returncode == 0, done.stderr
    assert "idiscore de-identification" in done.stdout, "the summary is printed"
    assert "caf\\xe9-\\xff.dcm" in done.stdout and "new\\nline.dcm" in done.stdout
    records = [json.loads(line) for line in report.read_bytes().splitlines()]
    assert len(records) == len(NAMES)
    by_path = {report_path(record): record for record in records}
    real = os.path.realpath(folder)
    assert set(by_path) == {os.path.join(real, name) for name in NAMES}
    odd = by_path[os.path.join(real, LATIN1)]
    assert odd["path_encoding"] == PATH_ENCODING and "input_fs" in odd and "output_fs" in odd
    assert odd["input"].endswith("caf\\xe9-\\xff.dcm")
    assert report_path(odd, "output") == os.path.join(out, LATIN1)
    assert all(record["status"] == "done" for record in records)
    assert sorted(os.listdir(out)) == sorted(NAMES)
    assert "path_encoding" not in by_path[os.path.join(real, "plain.dcm")]

    state = load_resume_state(report)
    assert all(state.is_done(os.path.join(real, name)) for name in NAMES)
    again = run("deidentify", str(folder), "-o", str(out), "--report", str(report), "--resume")
    assert again.returncode == 0, again.stderr
    assert len(report.read_bytes().splitlines()) == len(NAMES), "nothing done twice"
    assert "finished earlier (resumed)" in again.stdout


_NAME = st.binary(min_size=1, max_size=40).filter(
    lambda raw: b"/" not in raw and b"\x00" not in raw and raw not in (b".", b"..")
)


@given(name=_NAME, output=_NAME)
def test_any_path_survives_a_report_line(name: bytes, output: bytes) -> None:
    source, target = os.fsdecode(b"/in/" + name), os.fsdecode(b"/out/" + output)
    line = FileResult(status="done", input=source, output=target, reason=source).to_json()
    record = json.loads(line.encode("utf-8"))  # valid UTF-8 JSON whatever the name
    assert report_path(record) == source and report_path(record, "output") == target
    assert os.fsencode(report_path(record) or "") == b"/in/" + name
