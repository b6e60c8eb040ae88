"""The destination is down for a while: the queue waits (nothing is quarantined for an
outage) and drains once it is up, each instance delivered once. A destination that keeps
refusing an instance gets it quarantined with the reason after --max-failures tries."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from dicom_peers import (
    bundled_files,
    files_in,
    free_port,
    node,
    read_instances,
    report_lines,
    require,
    storescp,
    storescu,
    wait_for,
    write_key,
    write_series,
)

pytestmark = pytest.mark.slow

RETRY = ("--retry-delay", "0.1", "--max-retry-delay", "0.5", "--max-failures", "2")


def _events(report: Path, event: str) -> list[dict[str, object]]:
    return [line for line in report_lines(report) if line["event"] == event]


def test_queue_drains_without_duplicates_when_the_destination_comes_up(tmp_path: Path) -> None:
    require("storescu", "storescp")
    key = write_key(tmp_path)
    files = write_series(tmp_path / "in", "MR", 8) + bundled_files(tmp_path / "bundled")
    spool, report, destination = tmp_path / "spool", tmp_path / "node.jsonl", tmp_path / "dest"
    port, dest_port = free_port(), free_port()
    extra = ("--forward", f"DEST@127.0.0.1:{dest_port}", "--report", str(report), *RETRY)
    with node(spool, port, key, *extra) as running:
        sent = storescu(port, files)
        assert len(sent.acknowledged) == len(files), sent.output
        wait_for(lambda: len(_events(report, "done")) == len(files), 30, "not de-identified")
        time.sleep(2.5)  # several back-off rounds while nothing listens
        assert len(files_in(spool / "outbound")) == len(files)
        assert not files_in(spool / "quarantine")
        assert "destination unavailable" in running.text()
        with storescp(destination, dest_port, "+uf") as dest:  # unique names: duplicates show
            wait_for(
                lambda: len(_events(report, "forwarded")) == len(files), 30, "queue not drained"
            )
            time.sleep(1.0)  # a duplicate would come now
            assert running.terminate() == 0
            # the whole queue (6 SOP classes) went through one association
            assert dest.associations() == 1
    assert len(read_instances(destination)) == len(files)  # fails on a duplicate
    assert len(files_in(destination)) == len(files)
    assert not _events(report, "failed")
    assert not [p for p in (spool / "outbound").iterdir()]
    assert "destination available again" in running.text()


def test_instance_refused_too_often_is_quarantined_with_the_reason(tmp_path: Path) -> None:
    require("storescu", "storescp")
    key = write_key(tmp_path)
    files = write_series(tmp_path / "in", "CT", 2)
    spool, report = tmp_path / "spool", tmp_path / "node.jsonl"
    port = free_port()
    # the destination aborts the association after every C-STORE request
    with storescp(tmp_path / "dest", free_port(), "--abort-after") as dest:
        extra = ("--forward", f"DEST@127.0.0.1:{dest.port}", "--report", str(report), *RETRY)
        with node(spool, port, key, *extra) as running:
            sent = storescu(port, files)
            assert len(sent.acknowledged) == len(files), sent.output
            wait_for(lambda: len(_events(report, "failed")) == len(files), 30, "not quarantined")
            assert running.terminate() == 0
    failed = _events(report, "failed")
    assert {line["stage"] for line in failed} == {"forward"}
    assert all(line["failures"] == 2 for line in failed)
    unsent = spool / "quarantine" / "unsent"
    assert len(list(unsent.glob("*.dcm"))) == len(files)
    for reason in unsent.glob("*.json"):
        record = json.loads(reason.read_text())
        assert record["failures"] == 2 and "association lost" in record["reason"]
    assert not _events(report, "forwarded")
    assert not list((spool / "outbound").iterdir())


def test_a_second_reception_of_an_instance_replaces_the_first(tmp_path: Path) -> None:
    require("storescu", "storescp")
    import pydicom

    key = write_key(tmp_path)
    first = write_series(tmp_path / "v1", "CT", 1)[0]
    second = tmp_path / "v2.dcm"
    corrected = pydicom.dcmread(first)
    corrected.SeriesDescription = "CORRECTED"  # same SOP Instance UID, new content
    corrected.save_as(second)
    spool, report, destination = tmp_path / "spool", tmp_path / "node.jsonl", tmp_path / "dest"
    port, dest_port = free_port(), free_port()
    extra = ("--forward", f"DEST@127.0.0.1:{dest_port}", "--report", str(report), *RETRY)
    with node(spool, port, key, *extra) as running:
        for path in (first, second):
            assert storescu(port, [path]).acknowledged == [path]
        wait_for(lambda: len(_events(report, "done")) == 2, 30, "not de-identified")
        assert len(files_in(spool / "outbound")) == 1
        with storescp(destination, dest_port, "+uf"):
            wait_for(lambda: len(_events(report, "forwarded")) >= 1, 30, "not forwarded")
            time.sleep(1.0)
            assert running.terminate() == 0
    (delivered,) = read_instances(destination).values()
    assert delivered.SeriesDescription == "CORRECTED"
    assert len(_events(report, "forwarded")) == 1
