"""``idiscore pull`` with dcmqrscp as the PACS: C-FIND counts, C-MOVE retrieves into the
node, which de-identifies; a retrieval that misses instances exits 1 and says so."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pydicom
import pytest

from dicom_peers import (
    IDISCORE,
    cli_outputs,
    comparable,
    free_port,
    read_instances,
    report_lines,
    require,
    running,
    write_key,
    write_series,
)

pytestmark = pytest.mark.slow


def _pacs(tmp_path: Path, files: list[Path], node_port: int) -> tuple[Path, int]:
    """A dcmqrscp configuration whose archive holds ``files``; it knows the node as
    IDISCORE at ``node_port``."""
    database = tmp_path / "pacs-db"
    database.mkdir()
    stored = []
    for index, path in enumerate(files):
        target = database / f"i{index:03d}.dcm"
        shutil.copyfile(path, target)
        stored.append(str(target))
    subprocess.run(["dcmqridx", str(database), *stored], check=True, timeout=60)
    port = free_port()
    config = tmp_path / "dcmqrscp.cfg"
    config.write_text(
        f"NetworkTCPPort = {port}\nMaxPDUSize = 16384\nMaxAssociations = 16\n\n"
        "HostTable BEGIN\n"
        f"idiscore = (IDISCORE, 127.0.0.1, {node_port})\n"
        f"alias = (RESEARCHNODE, 127.0.0.1, {node_port})\n"
        "HostTable END\n\n"
        "VendorTable BEGIN\nVendorTable END\n\n"
        f"AETable BEGIN\nPACS {database} RW (200, 1024mb) ANY\nAETable END\n"
    )
    return config, port


def _pull(tmp_path: Path, pacs_port: int, node_port: int, *query: str):  # type: ignore[no-untyped-def]
    key = tmp_path / "site.key"
    output = tmp_path / "out"
    report = tmp_path / "pull.jsonl"
    command = [
        IDISCORE, "pull", "--from", f"PACS@127.0.0.1:{pacs_port}", *query,
        "--bind", "127.0.0.1", "--port", str(node_port), "--spool", str(tmp_path / "spool"),
        "--output", str(output), "--key-file", str(key), "--report", str(report),
        "--wait", "60", "--timeout", "5", "-q",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    return done, output, report


@pytest.fixture
def archive(tmp_path: Path) -> list[Path]:
    return write_series(tmp_path / "in" / "ct", "CT", 5) + write_series(
        tmp_path / "in" / "mr", "MR", 3
    )


def test_pull_a_study_and_a_patient(tmp_path: Path, archive: list[Path]) -> None:
    require("dcmqrscp", "dcmqridx")
    key = write_key(tmp_path)
    node_port = free_port()
    config, pacs_port = _pacs(tmp_path, archive, node_port)
    study = str(pydicom.dcmread(archive[0]).StudyInstanceUID)
    with running(["dcmqrscp", "-v", "-c", str(config)], pacs_port, tmp_path / "pacs.log"):
        done, output, report = _pull(tmp_path, pacs_port, node_port, "--study", study)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "instances found (C-FIND): 5; received: 5; missing: 0" in done.stdout
        expected = cli_outputs(archive[:5], key, tmp_path)
        received = read_instances(output)
        assert set(received) == set(expected)
        for uid, ds in received.items():
            assert comparable(ds) == comparable(expected[uid])
        events = [line["event"] for line in report_lines(report)]
        assert events.count("received") == 5 and events.count("done") == 5

        # the PACS knows the node under another AE title: --move-destination names it
        again, output, _ = _pull(
            tmp_path, pacs_port, node_port, "--patient", "PID-NODE-42",
            "--move-destination", "RESEARCHNODE",
        )  # fmt: skip
        assert again.returncode == 0, again.stdout + again.stderr
        assert "studies: 2; instances found (C-FIND): 8; received: 8" in again.stdout
        assert len(read_instances(output)) == 8


def test_partial_retrieval_is_a_failure(tmp_path: Path, archive: list[Path]) -> None:
    require("dcmqrscp", "dcmqridx")
    write_key(tmp_path)
    node_port = free_port()
    config, pacs_port = _pacs(tmp_path, archive, node_port)
    (tmp_path / "pacs-db" / "i001.dcm").unlink()  # indexed, but gone from the archive
    study = str(pydicom.dcmread(archive[0]).StudyInstanceUID)
    with running(["dcmqrscp", "-v", "-c", str(config)], pacs_port, tmp_path / "pacs.log"):
        done, output, _ = _pull(tmp_path, pacs_port, node_port, "--study", study)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "instances found (C-FIND): 5; received: 4; missing: 1" in done.stdout
    assert "INCOMPLETE" in done.stdout
    assert len(read_instances(output)) == 4


def test_unreachable_pacs_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    write_key(tmp_path)
    done, _, _ = _pull(tmp_path, free_port(), free_port(), "--study", "1.2.3")
    assert done.returncode == 1
    assert "cannot open an association with PACS@127.0.0.1" in done.stderr
    assert "Traceback" not in done.stderr
