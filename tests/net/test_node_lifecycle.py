"""A node in this process: what a stop finishes, what a start resumes, what it reports."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from idiscore.defaults import create_default_core
from idiscore.net import Node, NodeOptions, Spool, instance_key
from idiscore.pseudonyms import Pseudonymizer

NAMES = ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "rtdose.dcm", "waveform_ecg.dcm")


def _received(spool: Path, copies: int = 1) -> list[str]:
    """pydicom's files in the spool as if received and acknowledged before a crash
    (``copies`` instances of each, with their own SOP Instance UIDs)."""
    keys = []
    incoming = Spool(spool).incoming
    for name in NAMES:
        ds = pydicom.dcmread(str(get_testdata_file(name)))
        for copy in range(copies):
            if copy:
                ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
            key = instance_key(str(ds.SOPInstanceUID))
            ds.save_as(incoming / f"{key}.dcm")
            keys.append(key)
    return keys


def _node(tmp_path: Path, lines: list[str]) -> Node:
    core = create_default_core(pseudonymizer=Pseudonymizer(b"k" * 32))
    options = NodeOptions(
        spool=tmp_path / "spool",
        output=tmp_path / "out",
        bind="127.0.0.1",
        port=0,
        report=tmp_path / "node.jsonl",
        status_interval=0,
    )
    return Node(core, options, log=lines.append)


def test_start_resumes_received_files_and_stop_finishes_them(tmp_path: Path) -> None:
    keys = _received(tmp_path / "spool", copies=20)  # more than a stop takes to begin
    (tmp_path / "spool" / "tmp" / "half.1.1.part").write_bytes(b"half written")
    lines: list[str] = []
    node = _node(tmp_path, lines)
    node.start()
    node.stop()  # at once: the graceful stop de-identifies what was received
    assert node.resumed == (len(keys), 0)
    assert any("resuming: 100 received instance(s)" in line for line in lines)
    assert not list((tmp_path / "spool" / "incoming").iterdir())
    assert not list((tmp_path / "spool" / "tmp").iterdir())
    outputs = [p for p in (tmp_path / "out").rglob("*.dcm")]
    assert len(outputs) == len(keys)
    report = [json.loads(line) for line in (tmp_path / "node.jsonl").read_text().splitlines()]
    assert sorted(line["key"] for line in report if line["event"] == "done") == sorted(keys)
    assert {line["output"] for line in report} == {str(p) for p in outputs}
    assert "received 0, done 100, rejected 0, failed 0, forwarded 0" in node.status_line()


def test_an_unreadable_reception_is_quarantined_as_failed(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.receive("broken", b"DICM but not a data set" * 4)
    lines: list[str] = []
    node = _node(tmp_path, lines)
    node.start()
    assert node.wait_idle(20)
    node.stop()
    record = json.loads((spool.quarantine / "failed" / "broken.json").read_text())
    assert record["stage"] == "deidentify" and record["reason"]
    assert (spool.quarantine / "failed" / "broken.dcm").exists()
    assert node.events.counts["failed"] == 1
