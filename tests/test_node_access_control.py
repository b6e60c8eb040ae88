"""Who may send: TLS (mutual with --tls-ca), the calling-AE allow-list; and a dataset the
bouncers refuse is quarantined and reported although its sender got Success."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pydicom
import pytest

from dicom_peers import (
    certificates,
    files_in,
    free_port,
    node,
    report_lines,
    require,
    storescu,
    wait_for,
    write_key,
    write_series,
)

pytestmark = pytest.mark.slow


def test_tls_client_with_certificate_gets_through_others_are_refused(tmp_path: Path) -> None:
    require("storescu")
    key = write_key(tmp_path)
    certs = certificates(tmp_path / "certs")
    files = write_series(tmp_path / "in", "CT", 2)
    output, report = tmp_path / "out", tmp_path / "node.jsonl"
    port = free_port()
    tls = (
        "--tls-cert", str(certs["server_cert"]), "--tls-key", str(certs["server_key"]),
        "--tls-ca", str(certs["ca"]), "--allow-ae", "SCANNER1", "--allow-ae", "SCANNER2",
    )  # fmt: skip
    client = ("+tls", str(certs["client_key"]), str(certs["client_cert"]), "+cf", str(certs["ca"]))
    with node(tmp_path / "spool", port, key, "--output", str(output), "--report", str(report),
              *tls):  # fmt: skip
        allowed = storescu(port, files[:1], *client, "-aet", "SCANNER1")
        assert allowed.acknowledged == files[:1], allowed.output
        plain = storescu(port, files[1:], "-aet", "SCANNER1")
        assert plain.acknowledged == [] and plain.returncode != 0
        no_certificate = storescu(port, files[1:], "+tla", "+cf", str(certs["ca"]))
        assert no_certificate.acknowledged == [] and no_certificate.returncode != 0
        # a client certificate that another CA signed: the node trusts only --tls-ca
        rogue = certificates(tmp_path / "rogue")
        untrusted = storescu(
            port, files[1:], "+tls", str(rogue["client_key"]), str(rogue["client_cert"]),
            "+cf", str(certs["ca"]), "-aet", "SCANNER1",
        )  # fmt: skip
        assert untrusted.acknowledged == [] and untrusted.returncode != 0
        not_listed = storescu(port, files[1:], *client, "-aet", "INTRUDER")
        assert not_listed.acknowledged == [] and not_listed.returncode != 0
        assert "Association Rejected" in not_listed.output
        wait_for(lambda: len(files_in(output)) == 1, 20, "the allowed instance was not stored")
    lines = report_lines(report)
    assert [line["event"] for line in lines] == ["received", "done"]
    assert lines[0]["calling_ae"] == "SCANNER1"


def test_plain_node_refuses_an_ae_not_on_the_list(tmp_path: Path) -> None:
    require("storescu")
    key = write_key(tmp_path)
    files = write_series(tmp_path / "in", "MR", 1)
    port = free_port()
    output = tmp_path / "out"
    with node(tmp_path / "spool", port, key, "--output", str(output), "--allow-ae", "MR7"):
        refused = storescu(port, files)  # calling AE STORESCU
        assert refused.acknowledged == [] and "Association Rejected" in refused.output
        accepted = storescu(port, files, "-aet", "MR7")
        assert accepted.acknowledged == files
        wait_for(lambda: len(files_in(output)) == 1, 20, "not stored")


GRAYSCALE_SOFTCOPY_PRESENTATION_STATE = "1.2.840.10008.5.1.4.1.1.11.1"


def test_rejected_dataset_is_quarantined_and_reported(tmp_path: Path) -> None:
    require("storescu")
    key = write_key(tmp_path)
    files = write_series(tmp_path / "in", "CT", 3)
    # a presentation state: the key object / presentation state bouncer refuses it (burned-in
    # text would not do: the default core finds and blanks it when the ocr extra is there)
    refused = pydicom.dcmread(files[1])
    refused.SOPClassUID = GRAYSCALE_SOFTCOPY_PRESENTATION_STATE
    refused.file_meta.MediaStorageSOPClassUID = GRAYSCALE_SOFTCOPY_PRESENTATION_STATE
    refused.save_as(files[1])
    output, report, spool = tmp_path / "out", tmp_path / "node.jsonl", tmp_path / "spool"
    port = free_port()
    with node(spool, port, key, "--output", str(output), "--report", str(report)):
        sent = storescu(port, files)
        assert sent.acknowledged == files  # the sender got Success for every transfer
        wait_for(
            lambda: (
                sum(line["event"] in ("done", "rejected") for line in report_lines(report)) == 3
            ),
            20,
            "not every instance was processed",
        )
    rejected = [line for line in report_lines(report) if line["event"] == "rejected"]
    assert len(rejected) == 1 and rejected[0]["bouncer"]
    quarantined = Path(str(rejected[0]["quarantine"]))
    assert quarantined.parent == spool / "quarantine" / "rejected"
    assert pydicom.dcmread(quarantined).SOPInstanceUID == refused.SOPInstanceUID  # as received
    record = json.loads(quarantined.with_suffix(".json").read_text())
    assert record["reason"] == rejected[0]["reason"]
    assert len(files_in(output)) == 2


def test_associations_beyond_the_maximum_are_refused(tmp_path: Path) -> None:
    require("storescu")
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification

    key = write_key(tmp_path)
    files = write_series(tmp_path / "in", "CT", 1)
    port = free_port()
    output = tmp_path / "out"
    with node(tmp_path / "spool", port, key, "--output", str(output), "--max-associations", "1"):
        holder = AE(ae_title="HOLDER")
        holder.add_requested_context(Verification)
        held = holder.associate("127.0.0.1", port)
        for _ in range(50):  # until the port probe's connection is closed on the node's side
            if held.is_established:
                break
            time.sleep(0.1)
            held = holder.associate("127.0.0.1", port)
        assert held.is_established
        try:
            refused = storescu(port, files)
            assert refused.acknowledged == [] and refused.returncode != 0
        finally:
            held.release()
        wait_for(lambda: not held.is_alive(), 10, "the held association did not end")
        accepted = storescu(port, files)
        assert accepted.acknowledged == files, accepted.output
