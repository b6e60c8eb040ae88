"""The node's building blocks without a network: addresses, options, the spool states,
the forward journal, the TOML configuration."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from idiscore.cli import main
from idiscore.errors import ConfigurationError
from idiscore.net import NodeOptions, Peer, Spool, instance_key
from idiscore.net.spool import ForwardJournal


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PACS@pacs.example.org:104", Peer("PACS", "pacs.example.org", 104)),
        ("DEST@127.0.0.1:11112", Peer("DEST", "127.0.0.1", 11112)),
        ("A B@[::1]:4242", Peer("A B", "::1", 4242)),
    ],
)
def test_peer_parses_ae_host_port(text: str, expected: Peer) -> None:
    assert Peer.parse(text) == expected


@pytest.mark.parametrize(
    "text", ["pacs:104", "PACS@pacs", "PACS@pacs:0", "PACS@pacs:70000", "@h:1", "X" * 17 + "@h:1"]
)
def test_peer_refuses_malformed_addresses(text: str) -> None:
    with pytest.raises(ConfigurationError):
        Peer.parse(text)


def test_node_options_need_exactly_one_destination(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        NodeOptions(spool=tmp_path / "s")
    with pytest.raises(ConfigurationError):
        NodeOptions(spool=tmp_path / "s", output=tmp_path / "o", forward=Peer("A", "h", 1))
    with pytest.raises(ConfigurationError):
        NodeOptions(spool=tmp_path / "s", output=tmp_path / "s" / "out")
    with pytest.raises(ConfigurationError):
        NodeOptions(spool=tmp_path / "s", output=tmp_path / "o", tls_cert=tmp_path / "c")
    assert NodeOptions(spool=tmp_path / "s", output=tmp_path / "o").port == 11112


@given(st.text(alphabet="0123456789.", min_size=1, max_size=64))
def test_instance_key_is_a_stable_digest_that_hides_the_uid(uid: str) -> None:
    key = instance_key(uid)
    assert key == instance_key(uid + "\x00") == instance_key(uid + " ")
    assert len(key) == 32 and set(key) <= set("0123456789abcdef")
    assert uid.strip(" \x00") not in key or len(uid.strip(" \x00")) < 4


def test_received_file_is_on_disk_under_its_final_name(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    path = spool.receive("k1", b"DICM" * 10)
    assert path == spool.incoming_path("k1") and path.read_bytes() == b"DICM" * 10
    assert not list(spool.tmp.iterdir())
    assert spool.pending_incoming() == ["k1"]


def test_restart_drops_what_the_journal_says_was_forwarded(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    for key in ("sent", "unsent", "replaced"):
        spool.outbound_path(key).write_bytes(key.encode())
    journal = ForwardJournal(spool)
    journal.record(
        [(key, str(spool.stamp(spool.outbound_path(key)))) for key in ("sent", "replaced")]
    )
    journal.close()
    # a newer version of "replaced" arrived after it was sent: a new file, a new stamp
    newer = spool.outbound_path("replaced").with_suffix(".new")
    newer.write_bytes(b"newer")
    os.replace(newer, spool.outbound_path("replaced"))
    with open(spool.journal, "a") as handle:
        handle.write("cut-short 12")  # a line a crash interrupted
    assert Spool(tmp_path / "spool").resolve_forwarded() == 1
    assert sorted(spool.pending_outbound()) == ["replaced", "unsent"]
    assert spool.journal.read_text() == ""


def test_quarantine_keeps_the_reason_beside_the_file(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    source = spool.receive("k2", b"data")
    moved = spool.quarantine_file(source, "k2", "rejected", {"reason": "burned in"})
    assert moved == spool.quarantine / "rejected" / "k2.dcm" and not source.exists()
    assert '"reason": "burned in"' in moved.with_suffix(".json").read_text()
    with pytest.raises(ValueError):
        spool.quarantine_file(moved, "k2", "elsewhere", {})


def test_sweep_removes_partial_receptions(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    (spool.tmp / "k.1.1.part").write_bytes(b"half")
    (spool.outbound / ".idiscore-x.tmp").write_bytes(b"half")
    assert spool.sweep() == 2
    assert not list(spool.tmp.iterdir()) and not list(spool.outbound.iterdir())


def test_every_flag_can_come_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text(
        'spool = "spool"\nforward = "not-an-address"\nport = 104\nallow-ae = ["CT1", "MR2"]\n'
    )
    result = CliRunner().invoke(main, ["serve", "--config", str(config)])
    assert result.exit_code == 2
    assert "'not-an-address' is not AE@HOST:PORT" in result.output  # read from the file
    # the command line wins over the file
    result = CliRunner().invoke(
        main, ["serve", "--config", str(config), "--forward", "X@h:1", "--output", "o"]
    )
    assert result.exit_code == 2 and "exactly one of --forward and --output" in result.output


def test_unknown_config_key_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text('spool = "s"\nforwrd = "A@h:1"\n')
    result = CliRunner().invoke(main, ["serve", "--config", str(config)])
    assert result.exit_code == 2 and "unknown option 'forwrd'" in result.output


def test_the_node_refuses_to_run_without_a_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IDISCORE_KEY", raising=False)
    result = CliRunner().invoke(
        main, ["serve", "--spool", str(tmp_path / "s"), "--output", str(tmp_path / "o")]
    )
    assert result.exit_code == 2 and "the node needs a key" in result.output


def test_workers_and_forward_tls_options_are_checked(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text('spool = "spool"\noutput = "out"\nworkers = 0\n')
    result = CliRunner().invoke(main, ["serve", "--config", str(config)])
    assert result.exit_code == 2 and "--workers" in result.output  # read from the file
    with pytest.raises(ConfigurationError, match="--workers"):
        NodeOptions(spool=tmp_path / "s", output=tmp_path / "o", workers=0)
    cert = tmp_path / "client.pem"
    cert.write_text("not a certificate")
    common = ["serve", "--spool", str(tmp_path / "s"), "--forward", "DEST@127.0.0.1:1"]
    result = CliRunner().invoke(main, [*common, "--forward-tls-cert", str(cert)])
    assert result.exit_code == 2
    assert "--forward-tls-cert and --forward-tls-key go together" in result.output
    result = CliRunner().invoke(
        main,
        ["serve", "--spool", str(tmp_path / "s"), "--output", "o", "--forward-tls-ca", str(cert)],
    )
    assert result.exit_code == 2 and "need --forward" in result.output
