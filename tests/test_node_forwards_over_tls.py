"""``--forward-tls-*``: the node forwards to a destination that speaks only TLS (dcmtk's
``storescp +tls``, which requires a client certificate its CA signed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dicom_peers import (
    certificates,
    cli_outputs,
    comparable,
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


def _forwarded(report: Path) -> int:
    return sum(line["event"] == "forwarded" for line in report_lines(report))


def test_forwarding_over_mutual_tls_and_without_a_client_certificate(tmp_path: Path) -> None:
    require("storescu", "storescp")
    certs = certificates(tmp_path / "certs")
    key = write_key(tmp_path)
    files = write_series(tmp_path / "in", "CT", 4)
    destination = tmp_path / "dest"
    server = ("+tls", str(certs["server_key"]), str(certs["server_cert"]), "+cf", str(certs["ca"]))
    with storescp(destination, free_port(), *server) as dest:
        forward = f"DEST@127.0.0.1:{dest.port}"
        # only the CA: the destination wants a client certificate and refuses
        report, port = tmp_path / "refused.jsonl", free_port()
        anonymous = ("--forward", forward, "--report", str(report))
        with node(tmp_path / "spool1", port, key, *anonymous, "--forward-tls-ca", str(certs["ca"]),
                  "--retry-delay", "0.2") as refused:  # fmt: skip
            assert len(storescu(port, files[:1]).acknowledged) == 1
            wait_for(lambda: "destination unavailable" in refused.text(), 20, "no refusal")
            assert _forwarded(report) == 0
            assert refused.terminate() == 0
        # mutual TLS: the client certificate gets the files through
        report, port = tmp_path / "node.jsonl", free_port()
        tls = (
            "--forward-tls-ca", str(certs["ca"]),
            "--forward-tls-cert", str(certs["client_cert"]),
            "--forward-tls-key", str(certs["client_key"]),
        )  # fmt: skip
        with node(tmp_path / "spool", port, key, "--forward", forward, "--report", str(report),
                  *tls) as running:  # fmt: skip
            sent = storescu(port, files)
            assert len(sent.acknowledged) == len(files), sent.output
            wait_for(lambda: _forwarded(report) >= len(files), 30, "not forwarded over TLS")
            assert running.terminate() == 0
        assert "Association Acknowledged" in dest.text()
    received = read_instances(destination)
    expected = cli_outputs(files, key, tmp_path)
    assert set(received) == set(expected)
    for uid, ds in received.items():
        assert comparable(ds) == comparable(expected[uid])
