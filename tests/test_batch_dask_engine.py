"""The Dask engine on a LocalCluster of worker processes gives what the local engine gives:
the same output bytes, the same report lines (up to timing), the same mapping; a resumed run
and a worker killed mid-run leave every input done exactly once; the key can stay on the
workers."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom.data import get_testdata_file
from pydicom.dataelem import DataElement

from idiscore.batch import BatchOptions, FileResult, Task, run_batch
from idiscore.core import Core, Profile
from idiscore.defaults import create_default_core
from idiscore.operators import Operator
from idiscore.operators.base import Context
from idiscore.pseudonyms import Pseudonymizer
from idiscore.rules import Rule, RuleSet

distributed = pytest.importorskip("distributed")
dask_engine_module = pytest.importorskip("idiscore.batch.dask_engine")
DaskEngine = dask_engine_module.DaskEngine

pytestmark = pytest.mark.slow

#: pydicom's bundled files: explicit and implicit VR, big endian, no preamble, compressed,
#: sequences (SQ, explicit UN, private with a creator, nested, undefined length)
FILES = [
    "CT_small.dcm",
    "MR_small.dcm",
    "rtplan.dcm",
    "rtdose.dcm",
    "rtstruct.dcm",
    "JPEG2000.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_implicit.dcm",
    "UN_sequence.dcm",
    "nested_priv_SQ.dcm",
    "no_meta.dcm",
    "reportsi.dcm",
]


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """Two single-threaded worker processes (a worker that dies is restarted by its nanny;
    a task is given up after its second worker death)."""
    import dask

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster,
        distributed.Client(cluster) as dask_client,
    ):
        yield dask_client


def make_inputs(folder: Path, copies: int = 1) -> Path:
    """The bundled files (``copies`` times, in sub-folders), a text file and a truncated one."""
    folder.mkdir(parents=True)
    for copy in range(copies):
        sub = folder / f"set{copy}"
        sub.mkdir()
        for name in FILES:
            shutil.copyfile(str(get_testdata_file(name)), sub / name)
    (folder / "notes.txt").write_text("not DICOM\n")
    data = Path(str(get_testdata_file("CT_small.dcm"))).read_bytes()
    (folder / "truncated.dcm").write_bytes(data[: len(data) // 2])
    return folder


def core() -> Core:
    return create_default_core(pseudonymizer=Pseudonymizer("dask engine test key"))


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def report_lines(report: Path, inputs: Path, output: Path) -> list[dict[str, Any]]:
    """Report records without timing, paths relative to their folders."""
    lines = []
    for record in map(json.loads, report.read_text().splitlines()):
        record.pop("seconds")
        record["input"] = str(Path(record["input"]).relative_to(inputs))
        if record["output"] is not None:
            record["output"] = str(Path(record["output"]).relative_to(output))
        lines.append(record)
    return lines


def statuses(report: Path) -> dict[str, int]:
    counts = dict.fromkeys(("done", "rejected", "skipped", "failed"), 0)
    for record in map(json.loads, report.read_text().splitlines()):
        counts[record["status"]] += 1
    return counts


def run(tmp: Path, name: str, inputs: Path, engine: Any = None, **options: Any) -> Any:
    out = tmp / name
    options.setdefault("workers", 2)
    summary = run_batch(
        core(),
        [inputs],
        BatchOptions(output=out, report=tmp / f"{name}.jsonl", **options),
        engine=engine,
    )
    return summary


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The reference: the local 2-process engine, with a mapping file."""
    tmp = tmp_path_factory.mktemp("local")
    inputs = make_inputs(tmp / "in", copies=2)
    run(tmp, "out", inputs, mapping=tmp / "mapping.csv")
    return tmp, inputs


def test_same_output_bytes_report_and_mapping_as_the_local_engine(
    client: Any, local_run: tuple[Path, Path], tmp_path: Path
) -> None:
    local, inputs = local_run
    summary = run(
        tmp_path, "out", inputs, engine=DaskEngine(client), mapping=tmp_path / "mapping.csv"
    )
    expected = statuses(local / "out.jsonl")
    assert summary.counts == expected
    # all four statuses occur (burned-in captures are done, not rejected, with the ocr extra)
    assert expected["done"] + expected["rejected"] == 22 and expected["rejected"] >= 4
    assert expected["skipped"] == 3 and expected["failed"] == 1
    assert digests(tmp_path / "out") == digests(local / "out")
    assert len(digests(tmp_path / "out")) == expected["done"]
    assert report_lines(tmp_path / "out.jsonl", inputs, tmp_path / "out") == report_lines(
        local / "out.jsonl", inputs, local / "out"
    )
    assert sorted((tmp_path / "mapping.csv").read_text().splitlines()) == sorted(
        (local / "mapping.csv").read_text().splitlines()
    )


def test_resume_after_an_interruption_does_every_file_once(
    client: Any, local_run: tuple[Path, Path], tmp_path: Path
) -> None:
    local, inputs = local_run

    def stop_after_five(result: FileResult, summary: Any) -> None:
        if summary.total == 5:
            raise KeyboardInterrupt

    first = run_batch(
        core(),
        [inputs],
        BatchOptions(output=tmp_path / "out", report=tmp_path / "out.jsonl", workers=2),
        engine=DaskEngine(client),
        on_result=stop_after_five,
    )
    assert first.interrupted and first.total == 5
    second = run(tmp_path, "out", inputs, engine=DaskEngine(client), resume=True)
    # every input with a final line (done, rejected, skipped, failed) is not tried again
    assert second.already_done == first.total
    assert digests(tmp_path / "out") == digests(local / "out")
    records = report_lines(tmp_path / "out.jsonl", inputs, tmp_path / "out")
    done = [r["input"] for r in records if r["status"] == "done"]
    assert len(done) == len(set(done)) == len(digests(local / "out"))
    assert {r["input"] for r in records} == {
        r["input"] for r in report_lines(local / "out.jsonl", inputs, local / "out")
    }


class Slow(Operator):
    """Keeps the element and takes its time (so that a worker is busy when it is killed)."""

    def apply(self, element: DataElement, context: Context) -> DataElement | None:
        time.sleep(0.02)
        return element


def slow_core() -> Core:
    return Core(
        Profile([RuleSet([Rule("PatientName", Slow())], name="slow")]),
        pseudonymizer=Pseudonymizer("k"),
    )


def test_a_worker_killed_mid_run_leaves_every_file_done_exactly_once(
    client: Any, tmp_path: Path
) -> None:
    inputs = make_inputs(tmp_path / "in", copies=4)
    reference = run_batch(
        slow_core(), [inputs], BatchOptions(output=tmp_path / "ref", report=tmp_path / "ref.jsonl")
    )
    pids = list(client.run(os.getpid).values())
    killed: list[int] = []

    def kill_a_worker(result: FileResult, summary: Any) -> None:
        if summary.total == 6:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    summary = run_batch(
        slow_core(),
        [inputs],
        BatchOptions(output=tmp_path / "out", report=tmp_path / "out.jsonl", workers=2),
        engine=DaskEngine(client),
        on_result=kill_a_worker,
    )
    assert killed
    assert summary.counts == reference.counts
    records = report_lines(tmp_path / "out.jsonl", inputs, tmp_path / "out")
    assert sorted(r["input"] for r in records) == sorted(
        r["input"] for r in report_lines(tmp_path / "ref.jsonl", inputs, tmp_path / "ref")
    )
    assert len({r["input"] for r in records}) == len(records) == 4 * len(FILES) + 2
    assert digests(tmp_path / "out") == digests(tmp_path / "ref")
    assert not list((tmp_path / "out").rglob("*.tmp"))


class DieOnModality(Operator):
    """Kills the worker process when it sees an RT plan (simulates a crashing codec)."""

    def apply(self, element: DataElement, context: Context) -> DataElement | None:
        if element.value == "RTPLAN" and multiprocessing.parent_process() is not None:
            os._exit(3)
        return element


def test_a_file_that_kills_every_worker_fails_alone(client: Any, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "rtdose.dcm"):
        shutil.copyfile(str(get_testdata_file(name)), inputs / name)
    crashing = Core(
        Profile([RuleSet([Rule("Modality", DieOnModality())], name="crash")]),
        pseudonymizer=Pseudonymizer("k"),
    )
    report = tmp_path / "r.jsonl"
    summary = run_batch(
        crashing,
        [inputs],
        BatchOptions(output=tmp_path / "out", report=report, workers=2),
        engine=DaskEngine(client, chunk_size=4),
    )
    records = {Path(r["input"]).name: r for r in map(json.loads, report.read_text().splitlines())}
    assert records["rtplan.dcm"]["status"] == "failed"
    assert "worker process died" in records["rtplan.dcm"]["reason"]
    assert {n for n, r in records.items() if r["status"] == "done"} == {
        "CT_small.dcm",
        "MR_small.dcm",
        "rtdose.dcm",
    }
    assert summary.counts["done"] == 3 and summary.counts["failed"] == 1
    assert not list((tmp_path / "out").rglob("*.tmp"))


def test_results_come_in_task_order_with_a_bounded_window(client: Any) -> None:
    seen: list[int] = []

    def tasks() -> Iterator[int]:
        for number in range(40):
            seen.append(number)
            yield number

    engine = DaskEngine(client, abs, max_in_flight=5)
    pairs = []
    for task, result in engine.run(tasks()):
        assert len(seen) - len(pairs) <= 5  # never more than 5 submitted and not yielded
        pairs.append((task, result))
    assert pairs == [(n, n) for n in range(40)]


def test_without_a_function_the_engine_refuses_to_run(client: Any) -> None:
    from idiscore.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        list(DaskEngine(client).run([Task("a", "a")]))


def test_with_a_key_file_on_the_workers_the_key_does_not_travel(
    client: Any, local_run: tuple[Path, Path], tmp_path: Path
) -> None:
    import pickle

    from idiscore.batch import FileProcessor

    local, inputs = local_run
    key_file = tmp_path / "worker.key"
    key_file.write_text("dask engine test key\n")
    shipped = dask_engine_module._KeyFromWorkerFile(
        FileProcessor(core(), tmp_path / "x", "mirror"), str(key_file)
    )
    assert b"dask engine test key" not in pickle.dumps(shipped)
    summary = run(
        tmp_path, "out", inputs, engine=DaskEngine(client, worker_key_file=str(key_file))
    )
    assert summary.counts == statuses(local / "out.jsonl")
    assert digests(tmp_path / "out") == digests(local / "out")


def test_a_worker_key_file_with_another_key_stops_the_batch_before_it_starts(
    client: Any, local_run: tuple[Path, Path], tmp_path: Path
) -> None:
    from idiscore.errors import ConfigurationError

    _local, inputs = local_run
    key_file = tmp_path / "worker.key"
    key_file.write_text("another key\n")
    with pytest.raises(ConfigurationError, match="another key"):
        run(tmp_path, "out", inputs, engine=DaskEngine(client, worker_key_file=str(key_file)))
    assert not list((tmp_path / "out").rglob("*.dcm"))
    with pytest.raises(ConfigurationError):
        run(tmp_path, "out2", inputs, engine=DaskEngine(client, worker_key_file="/nonexistent"))
