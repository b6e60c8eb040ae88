"""The node is killed (SIGKILL) in the middle of a transfer and started again: every
instance storescu saw acknowledged reaches the destination."""

from __future__ import annotations

from pathlib import Path

import pytest

from dicom_peers import (
    free_port,
    kill_during_transfer,
    node,
    require,
    restart_and_deliver,
    storescp,
    write_key,
    write_series,
)

pytestmark = pytest.mark.slow


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
            seen = kill_during_transfer(first, port, files, report)
        # (storescu may not have read the last Success the node sent before it died)
        assert 15 <= len(seen) < len(files), "the kill did not land during the transfer"
        arrived, expected = restart_and_deliver(
            spool,
            port,
            key,
            *extra,
            files=files,
            seen=seen,
            destination=destination,
            log=tmp_path / "restarted.log",
        )
    for path in seen:
        ds = expected[path]
        assert arrived[str(ds.SOPInstanceUID)].PatientID == ds.PatientID
    # nothing is left behind, nothing was quarantined
    assert not list((spool / "incoming").iterdir())
    assert not [p for p in (spool / "outbound").iterdir()]
    assert not [p for p in (spool / "quarantine").rglob("*") if p.is_file()]
