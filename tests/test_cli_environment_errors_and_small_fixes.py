"""Environment errors are one line and a documented exit code (3), checked before the first
output; and the smaller defects of issue 15: quarantine inside the output, final lines on
resume, symbolic links to folders, a glob matching nothing, the key warning after profile
errors, a "did you mean" for a profile typo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from idiscore.batch import BatchOptions, run_batch
from idiscore.batch.preflight import probe
from idiscore.defaults import create_default_core
from idiscore.errors import StorageError

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="mounting a small or read-only tmpfs needs root"
)


def run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    script = str(Path(sys.executable).parent / "idiscore")
    return subprocess.run(
        [script, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env if env is not None else dict(os.environ),
    )


def one_line_error(done: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    for name in ("a.dcm", "b.dcm"):
        (folder / "sub").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(str(get_testdata_file("CT_small.dcm")), folder / "sub" / name)
    (folder / "notes.txt").write_text("not DICOM")
    (folder / "broken.dcm").write_bytes(b"\x00" * 128 + b"DICM" + b"\x02\x00")
    return folder


@contextmanager
def tmpfs(folder: Path, options: str) -> Iterator[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr!r}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_an_output_folder_that_cannot_be_created_exits_3(tmp_path: Path, inputs: Path) -> None:
    (tmp_path / "file").write_text("x")
    done = run("deidentify", inputs, "-o", tmp_path / "file" / "out")
    one_line_error(done, 3, "cannot create the output folder", "file/out")


def test_a_report_on_a_full_device_exits_3_before_any_output(tmp_path: Path, inputs: Path) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    done = run("deidentify", inputs, "-o", tmp_path / "out", "--report", "/dev/full")
    # root gets as far as writing the report; others cannot create /dev/full.lock
    one_line_error(done, 3, "cannot ", "/dev/full")
    assert [p.name for p in (tmp_path / "out").rglob("*")] == [], "no output without its line"
    with open("/dev/full", "a") as handle, pytest.raises(StorageError, match="No space left"):
        probe(handle, "report", "/dev/full")


@needs_root
@pytest.mark.parametrize("where", ["output", "report", "mapping"])
def test_a_read_only_place_exits_3_before_any_output(
    tmp_path: Path, inputs: Path, where: str
) -> None:
    with tmpfs(tmp_path / "ro", "ro,size=1m") as read_only:
        places = {
            "output": ["-o", read_only / "out"],
            "report": ["-o", tmp_path / "out", "--report", read_only / "r.jsonl"],
            "mapping": ["-o", tmp_path / "out", "--mapping", read_only / "map.csv"],
        }
        done = run("deidentify", inputs, *places[where])
        one_line_error(done, 3, "cannot", "Read-only file system")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("*.dcm"))


@needs_root
def test_a_report_on_a_full_disk_exits_3_before_any_output(tmp_path: Path, inputs: Path) -> None:
    with tmpfs(tmp_path / "full", "size=64k") as full:
        filler = os.open(full / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(filler, b"\x00" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(filler)
        done = run("deidentify", inputs, "-o", tmp_path / "out", "--report", full / "r.jsonl")
        one_line_error(done, 3, "cannot write the ", "full/r.jsonl", "No space left")
    assert not list((tmp_path / "out").rglob("*.dcm"))


def test_storage_errors_are_oserrors_and_idiscore_errors(tmp_path: Path, inputs: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError) as raised:
        run_batch(create_default_core(), [inputs], BatchOptions(output=tmp_path / "file" / "o"))
    assert isinstance(raised.value, StorageError)


@pytest.mark.parametrize("quarantine", ["out", "out/q"])
def test_a_quarantine_inside_the_output_exits_2(
    tmp_path: Path, inputs: Path, quarantine: str
) -> None:
    done = run("deidentify", inputs, "-o", tmp_path / "out", "--quarantine", tmp_path / quarantine)
    one_line_error(done, 2, "overlap")
    assert not (tmp_path / "out").exists()


def test_resume_adds_no_line_for_final_outcomes_unless_retrying(
    tmp_path: Path, inputs: Path
) -> None:
    out, report = tmp_path / "out", tmp_path / "r.jsonl"
    assert run("deidentify", inputs, "-o", out, "--report", report).returncode == 1
    first = report.read_text().splitlines()
    statuses = sorted(json.loads(line)["status"] for line in first)
    assert statuses == ["done", "done", "failed", "skipped"]
    again = run("deidentify", inputs, "-o", out, "--report", report, "--resume")
    assert again.returncode == 0, again.stderr
    assert report.read_text().splitlines() == first
    retried = run(
        "deidentify", inputs, "-o", out, "--report", report, "--resume", "--retry-failed"
    )
    assert retried.returncode == 1
    lines = report.read_text().splitlines()
    assert len(lines) == 5 and json.loads(lines[-1])["status"] == "failed"


def test_symbolic_links_to_folders_are_followed_once_and_cycles_reported(
    tmp_path: Path, inputs: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copyfile(str(get_testdata_file("MR_small.dcm")), outside / "mr.dcm")
    (inputs / "linked").symlink_to(outside)
    (inputs / "sub" / "loop").symlink_to(inputs)
    out, report = tmp_path / "out", tmp_path / "r.jsonl"
    run("deidentify", inputs, "-o", out, "--report", report)
    records = {Path(r["input"]).name: r for r in map(json.loads, report.read_text().splitlines())}
    assert records["mr.dcm"]["status"] == "done"
    assert records["mr.dcm"]["input"] == str(outside.resolve() / "mr.dcm")
    assert (out / "linked" / "mr.dcm").is_file()
    assert records["loop"]["status"] == "skipped" and "already walked" in records["loop"]["reason"]


def test_a_glob_matching_nothing_exits_2(tmp_path: Path) -> None:
    done = run("deidentify", tmp_path / "*.dcm", "-o", tmp_path / "out")
    assert done.returncode == 2 and "matches no file" in done.stderr
    assert not (tmp_path / "out").exists()


def test_profile_errors_come_before_the_key_warning_and_suggest(
    tmp_path: Path, inputs: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "IDISCORE_KEY"}
    done = run(
        "deidentify",
        inputs,
        "-o",
        tmp_path / "out",
        "--profile",
        "basic,clean_descriptor",
        env=env,
    )
    one_line_error(done, 2, "did you mean 'clean_descriptors'?")
    assert "random key" not in done.stderr
    typo = run("profile", "--profile", "defualt")
    assert typo.returncode == 2 and "did you mean 'default'?" in typo.stderr


@needs_root
def test_a_report_disk_filling_up_mid_run_exits_3_with_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    for index in range(60):
        (folder / f"s{index % 3}").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(
            str(get_testdata_file("CT_small.dcm")), folder / f"s{index % 3}" / f"{index}.dcm"
        )
    with tmpfs(tmp_path / "small", "size=8k") as small:
        report = small / "r.jsonl"
        done = run(
            "deidentify", folder, "-o", tmp_path / "out", "--report", report, "--workers", "1"
        )
        one_line_error(done, 3, "cannot write the report", "No space left")
        written = report.read_bytes()
    assert written == b"" or written.endswith(b"\n"), "a refused group is taken back whole"
    lines = written.splitlines()
    assert len(lines) < 60
    for line in lines:  # the lines written name complete outputs
        record = json.loads(line)
        assert Path(record["output"]).stat().st_size == record["output_bytes"]
