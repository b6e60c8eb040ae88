"""Inputs and outputs as fsspec URLs: S3 through moto's server on 127.0.0.1 and real s3fs over
HTTP (local engine, process pool, Dask, the command line), ``memory://`` and ``file://``.
Outputs are the bytes the local run writes; no temporary object is left; a resumed run does
every input exactly once."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom.data import get_testdata_file

from idiscore import walker
from idiscore.batch import BatchOptions, FileResult, run_batch
from idiscore.batch.writer import new_temp_name
from idiscore.core import Core
from idiscore.defaults import create_default_core
from idiscore.errors import ConfigurationError
from idiscore.pseudonyms import Pseudonymizer

s3fs = pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

pytestmark = pytest.mark.slow

FILES = ["CT_small.dcm", "MR_small.dcm", "rtdose.dcm", "MR_small_implicit.dcm", "no_meta.dcm"]
KEY = "object storage test key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    """moto's S3 server on loopback; the environment points s3fs (and workers) at it."""
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
        s3fs.S3FileSystem.clear_instance_cache()
        fs = s3fs.S3FileSystem()
        try:
            fs.mkdir("incoming")
            fs.mkdir("clean")
            for name in FILES:
                fs.put_file(str(get_testdata_file(name)), f"incoming/study/{name}")
            fs.pipe_file("incoming/study/notes/readme.txt", b"not DICOM\n")
            yield fs
        finally:
            s3fs.S3FileSystem.clear_instance_cache()
            server.stop()


def core() -> Core:
    return create_default_core(pseudonymizer=Pseudonymizer(KEY))


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Digests of the outputs of a local run over the same files, by relative path."""
    tmp = tmp_path_factory.mktemp("reference")
    (tmp / "study" / "notes").mkdir(parents=True)
    for name in FILES:
        shutil.copyfile(str(get_testdata_file(name)), tmp / "study" / name)
    (tmp / "study" / "notes" / "readme.txt").write_bytes(b"not DICOM\n")
    run_batch(core(), [tmp / "study"], BatchOptions(output=tmp / "out"))
    return {
        str(p.relative_to(tmp / "out")): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (tmp / "out").rglob("*")
        if p.is_file()
    }


def bucket_digests(fs: Any, prefix: str) -> dict[str, str]:
    return {
        name[len(prefix) + 1 :]: hashlib.sha256(fs.cat_file(name)).hexdigest()
        for name in sorted(fs.find(prefix))
    }


def records(report: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in report.read_text().splitlines()]


def test_from_one_bucket_to_another(s3: Any, reference: dict[str, str], tmp_path: Path) -> None:
    # in this process: a process pool's fork server may predate the endpoint's variables
    # (the command-line test below runs a pool of two)
    workers = 1
    prefix = f"clean/run-{workers}"
    summary = run_batch(
        core(),
        ["s3://incoming/study"],
        BatchOptions(output=f"s3://{prefix}", report=tmp_path / "r.jsonl", workers=workers),
    )
    assert summary.counts["done"] == len(reference) >= 4
    assert summary.counts["skipped"] == 2  # the text file, and no_meta.dcm (as locally)
    assert bucket_digests(s3, prefix) == reference  # no temporary object left
    lines = records(tmp_path / "r.jsonl")
    assert {r["input"] for r in lines} == {f"s3://incoming/study/{n}" for n in FILES} | {
        "s3://incoming/study/notes/readme.txt"
    }
    assert {r["output"] for r in lines if r["status"] == "done"} == {
        f"s3://{prefix}/{name}" for name in reference
    }


def test_resume_after_an_interruption(s3: Any, reference: dict[str, str], tmp_path: Path) -> None:
    report = tmp_path / "r.jsonl"
    options = BatchOptions(output="s3://clean/resumed", report=report, workers=1)

    def stop_after_two(result: FileResult, summary: Any) -> None:
        if summary.total == 2:
            raise KeyboardInterrupt

    first = run_batch(core(), ["s3://incoming/study"], options, on_result=stop_after_two)
    assert first.interrupted and first.total == 2
    # a killed run's temporary object (idiscore's marked name) and a user's look-alike
    s3.pipe_file(f"clean/resumed/{new_temp_name()}", b"partial")
    s3.pipe_file("clean/resumed/.idiscore-user-file.tmp", b"not ours")
    again = run_batch(
        core(),
        ["s3://incoming/study"],
        BatchOptions(output="s3://clean/resumed", report=report, workers=1, resume=True),
    )
    assert again.temp_files_removed == 1
    assert again.already_done == first.total >= 1
    assert s3.cat_file("clean/resumed/.idiscore-user-file.tmp") == b"not ours"
    s3.rm_file("clean/resumed/.idiscore-user-file.tmp")
    assert bucket_digests(s3, "clean/resumed") == reference
    done = [r["input"] for r in records(report) if r["status"] == "done"]
    assert len(done) == len(set(done)) == len(reference)


def test_an_existing_object_is_not_overwritten(s3: Any, tmp_path: Path) -> None:
    s3.pipe_file("clean/taken/CT_small.dcm", b"someone else's")
    summary = run_batch(
        core(), ["s3://incoming/study/CT_small.dcm"], BatchOptions(output="s3://clean/taken")
    )
    assert summary.counts["failed"] == 1
    assert s3.cat_file("clean/taken/CT_small.dcm") == b"someone else's"
    assert s3.find("clean/taken") == ["clean/taken/CT_small.dcm"]


def test_the_output_inside_the_input_is_refused(s3: Any) -> None:
    with pytest.raises(ConfigurationError):
        run_batch(core(), ["s3://incoming"], BatchOptions(output="s3://incoming/study/out"))


def test_local_inputs_to_a_bucket_and_back(
    s3: Any, reference: dict[str, str], tmp_path: Path
) -> None:
    inputs = tmp_path / "study"
    inputs.mkdir()
    for name in FILES:
        shutil.copyfile(str(get_testdata_file(name)), inputs / name)
    run_batch(core(), [inputs], BatchOptions(output="s3://clean/uploaded", workers=1))
    assert bucket_digests(s3, "clean/uploaded") == reference
    run_batch(core(), ["s3://incoming/study"], BatchOptions(output=tmp_path / "down"))
    local = {
        str(p.relative_to(tmp_path / "down")): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (tmp_path / "down").rglob("*")
        if p.is_file()
    }
    assert local == reference


def test_memory_and_file_urls(reference: dict[str, str], tmp_path: Path) -> None:
    import fsspec

    memory = fsspec.filesystem("memory")
    for name in FILES:
        memory.pipe_file(f"/in/{name}", Path(str(get_testdata_file(name))).read_bytes())
    run_batch(core(), ["memory://in"], BatchOptions(output="memory://out", workers=1))
    assert bucket_digests(memory, "/out") == reference
    run_batch(core(), ["memory://in"], BatchOptions(output=f"file://{tmp_path}/out", workers=1))
    assert {p.name for p in (tmp_path / "out").iterdir()} == set(reference)
    memory.rm("/in", recursive=True)
    memory.rm("/out", recursive=True)


def test_pydicom_warnings_are_counted_as_in_a_local_run(tmp_path: Path) -> None:
    """A value pydicom warns about while it is de-identified (a description longer than
    LO allows) counts in the report line of an object-store run as in a local one."""
    import warnings

    import pydicom

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    (tmp_path / "in").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.SeriesDescription = "CT CHEST " * 9  # 81 characters
        ds.save_as(tmp_path / "in" / "long.dcm")
    counts = {}
    for name, output in (("local", str(tmp_path / "out")), ("memory", "memory://warned")):
        walker._CLEAN_CACHE.clear()  # (a remembered Clean result decodes nothing: no warning)
        report = tmp_path / f"{name}.jsonl"
        run_batch(core(), [tmp_path / "in"], BatchOptions(output=output, report=report))
        (line,) = records(report)
        assert line["status"] == "done", line
        counts[name] = line.get("warnings", 0)
    assert counts["local"] >= 1
    assert counts["memory"] == counts["local"]


def test_dask_engine_from_one_bucket_to_another(
    s3: Any, reference: dict[str, str], tmp_path: Path
) -> None:
    distributed = pytest.importorskip("distributed")
    from idiscore.batch.dask_engine import DaskEngine

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, dashboard_address=None, host="127.0.0.1"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        summary = run_batch(
            core(),
            ["s3://incoming/study"],
            BatchOptions(output="s3://clean/dask", report=tmp_path / "r.jsonl"),
            engine=DaskEngine(client),
        )
    assert summary.counts["done"] == len(reference)
    assert bucket_digests(s3, "clean/dask") == reference


def test_the_command_line_reads_and_writes_buckets(
    s3: Any, reference: dict[str, str], tmp_path: Path
) -> None:
    key = tmp_path / "key.txt"
    key.write_text(KEY)
    done = subprocess.run(
        [Path(sys.executable).parent / "idiscore", "deidentify", "s3://incoming/study",
         "-o", "s3://clean/cli", "--report", tmp_path / "r.jsonl", "--key-file", key,
         "--workers", "2", "-q"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert bucket_digests(s3, "clean/cli") == reference
