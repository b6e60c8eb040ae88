"""The benchmark's own arithmetic and clocks (benchmarks/run.py), which its verdicts rest on."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

RUN_PY = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("idiscore_bench_run", RUN_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("count", [1, 7, 10, 50, 99, 100, 1000, 1001])
def test_blocks_cover_every_file_once_in_order(bench: ModuleType, count: int) -> None:
    blocks = bench._blocks(count)
    assert len(blocks) <= bench.BLOCKS
    covered = [i for first, end in blocks for i in range(first, end)]
    assert covered == list(range(count))
    assert all(end > first for first, end in blocks)


def test_steady_rate_leaves_out_start_up_and_tail(bench: ModuleType) -> None:
    # 1 s of start-up, then 100 outputs per second, then a slow last file
    times = [1.0 + i / 100 for i in range(99)] + [5.0]
    assert bench._steady_rate(times, 100) == pytest.approx(100.0)
    assert bench._steady_rate(times, 101) is None  # an output is missing: no figure
    assert bench._steady_rate(times[:10], 10) is None  # too few outputs to tell


def test_rotation_gives_every_variant_every_place(bench: ModuleType) -> None:
    items = ["floor", "core", "core-file"]
    firsts = {bench._rotated(items, rep)[0] for rep in range(len(items))}
    assert firsts == set(items)
    assert bench._rotated([], 3) == []  # e.g. no CLI variants (--no-cli)


def test_trend_sees_steady_growth_and_ignores_one_slow_window(bench: ModuleType) -> None:
    flat = [1.0] * 1000
    growing = [1.0 + i / 1000 for i in range(1000)]  # +100 % from first to last file
    one_slow_window = [3.0 if 300 <= i < 400 else 1.0 for i in range(1000)]
    assert bench._trend(flat) == pytest.approx(0.0)
    # windows of 200 files: medians 1.1, 1.3, ... 1.9, a rise of 0.8 around a median of 1.5
    assert bench._trend(growing) == pytest.approx(0.8 / 1.5, rel=1e-3)
    assert bench._trend(one_slow_window) == pytest.approx(0.0)
    # the same slow window in the floor cancels out in the relative trend
    assert bench._relative_trend(growing, growing) == pytest.approx(0.0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux only")
def test_output_watcher_times_renames_into_place_only(bench: ModuleType, tmp_path: Path) -> None:
    start = time.perf_counter()
    watcher = bench._OutputWatcher(tmp_path, start)
    if not watcher.available:
        pytest.skip("inotify is not available here")
    for i in range(5):
        temporary = tmp_path / f".out{i}.tmp"
        temporary.write_bytes(b"x")
        os.replace(temporary, tmp_path / f"out{i}.dcm")
    (tmp_path / "written-in-place.dcm").write_bytes(b"x")  # not a rename: not an output
    (tmp_path / ".hidden").write_bytes(b"x")
    os.replace(tmp_path / ".hidden", tmp_path / ".still-hidden")  # a temporary name
    deadline = time.monotonic() + 5
    while len(watcher.times) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    times = watcher.stop()
    assert len(times) == 5
    assert times == sorted(times)
    assert all(0 <= t <= time.perf_counter() - start for t in times)


def test_trend_windows_hold_whole_patients(bench: ModuleType) -> None:
    """The first series of a patient is slower than the second (cold caches): a saw-tooth
    of period PATIENT_FILES is no trend, wherever the batch ends in it."""
    half = bench.PATIENT_FILES // 2
    for files in (1000, 1100, 2000, 10_000):
        saw_tooth = [2.0 if (i // half) % 2 == 0 else 1.0 for i in range(files)]
        assert bench._trend(saw_tooth) == pytest.approx(0.0), files
    assert bench._window_size(1000) == bench.PATIENT_FILES
    assert bench._window_size(10_000) == 1000
    assert bench._window_size(50) == 5  # too few patients: a tenth of the batch


def test_a_child_processes_the_blocks_it_is_given(bench: ModuleType, tmp_path: Path) -> None:
    from pydicom.data import get_testdata_file

    source = get_testdata_file("CT_small.dcm")
    assert source is not None
    paths = tmp_path / "paths.txt"
    paths.write_text("\n".join([str(source)] * 3))
    spec = {
        "kind": "inprocess",
        "variant": "floor",
        "paths_file": str(paths),
        "out_dir": str(tmp_path / "out"),
    }
    child = bench._BlockChild("floor", spec, tmp_path)
    child.ready()
    child.run(0, 2)
    child.run(2, 3)
    result = child.finish()
    assert result["files"] == 3
    assert len(result["per_file"]) == len(result["rss"]) == 3
    assert result["seconds"] == pytest.approx(sum(result["per_file"]), rel=0.5)
    assert result["peak_bytes"] > 0


def test_a_child_that_dies_is_a_failed_run_not_a_hang(bench: ModuleType, tmp_path: Path) -> None:
    spec = {
        "kind": "inprocess",
        "variant": "floor",
        "paths_file": str(tmp_path / "missing.txt"),
        "out_dir": str(tmp_path / "out"),
    }
    child = bench._BlockChild("floor", spec, tmp_path)
    child.ready()
    child.run(0, 1)
    result = child.finish()
    assert "error" in result
    assert "missing.txt" in result["error"]
