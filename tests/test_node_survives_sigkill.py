"""The node is killed (SIGKILL) in the middle of a transfer and started again: every
instance storescu saw acknowledged reaches the destination."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from dicom_peers import (
    acknowledged,
    cli_by_input,
    free_port,
    node,
    read_instances,
    require,
    storescp,
    wait_for,
    write_key,
    write_series,
)

pytestmark = pytest.mark.slow


def _received(report: Path) -> int:
    try:
        return report.read_text().count('"event": "received"')
    except FileNotFoundError:
        return 0


def test_every_acknowledged_instance_arrives_after_sigkill_and_restart(tmp_path: Path) -> None:
    require("storescu", "storescp")
    key = write_key(tmp_path)
    files = write_series(tmp_path / "in", "CT", 150, size=96)
    spool = tmp_path / "spool"
    report = tmp_path / "node.jsonl"
    destination = tmp_path / "dest"
    port = free_port()
    with storescp(destination, free_port()) as dest:
        extra = ("--forward", f"DEST@127.0.0.1:{dest.port}", "--report", str(report))
        with node(spool, port, key, *extra) as first:
            sender = subprocess.Popen(
                ["storescu", "-v", "-nh", "127.0.0.1", str(port), *map(str, files)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            try:
                deadline = time.monotonic() + 30
                while _received(report) < 20 and time.monotonic() < deadline:
                    time.sleep(0.005)
                first.process.kill()  # SIGKILL, in the middle of the transfer
                first.process.wait(10)
                log, _ = sender.communicate(timeout=60)
            finally:
                sender.kill()
                sender.wait(10)
        seen = acknowledged(log)
        # (storescu may not have read the last Success the node sent before it died)
        assert 15 <= len(seen) < len(files), "the kill did not land during the transfer"
        with node(spool, port, key, *extra, log=tmp_path / "restarted.log") as second:
            expected = cli_by_input(files, key, tmp_path)
            wanted = {str(expected[path].SOPInstanceUID) for path in seen}
            wait_for(
                lambda: wanted <= set(read_instances(destination)),
                60,
                "an acknowledged instance did not arrive after the restart",
            )
            assert second.terminate() == 0
    assert "resuming" in second.text()
    arrived = read_instances(destination)
    for path in seen:
        ds = expected[path]
        assert arrived[str(ds.SOPInstanceUID)].PatientID == ds.PatientID
    # nothing is left behind, nothing was quarantined
    assert not list((spool / "incoming").iterdir())
    assert not [p for p in (spool / "outbound").iterdir()]
    assert not [p for p in (spool / "quarantine").rglob("*") if p.is_file()]
