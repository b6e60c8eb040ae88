"""storescu -> idiscore serve -> storescp: every instance arrives de-identified, once, and
holds exactly what ``idiscore deidentify`` makes of the same file."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from dicom_peers import (
    bundled_files,
    cli_outputs,
    comparable,
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


@pytest.fixture
def study(tmp_path: Path) -> list[Path]:
    """pydicom's files and a generated CT (explicit VR) and MR (implicit VR) series."""
    return (
        bundled_files(tmp_path / "in" / "bundled")
        + write_series(tmp_path / "in" / "ct", "CT", 6)
        + write_series(tmp_path / "in" / "mr", "MR", 4, implicit=True)
    )


def _count(report: Path, event: str) -> int:
    return sum(line["event"] == event for line in report_lines(report))


def _assert_matches_cli(received: dict[str, pydicom.Dataset], expected: dict[str, object]) -> None:
    assert set(received) == set(expected)
    for uid, ds in received.items():
        assert comparable(ds) == comparable(expected[uid]), uid  # type: ignore[arg-type]


def test_study_is_forwarded_deidentified_and_matches_the_cli(
    tmp_path: Path, study: list[Path]
) -> None:
    require("storescu", "storescp")
    key = write_key(tmp_path)
    destination = tmp_path / "dest"
    report = tmp_path / "node.jsonl"
    with storescp(destination, free_port()) as dest:
        port = free_port()
        forward = f"DEST@127.0.0.1:{dest.port}"
        spool = tmp_path / "spool"
        with node(spool, port, key, "--forward", forward, "--report", str(report)) as running:
            # implicit VR only for the first half, storescu's default (explicit first) after
            half = len(study) // 2
            first = storescu(port, study[:half], "-xi")
            second = storescu(port, study[half:])
            assert first.returncode == 0 and second.returncode == 0, first.output + second.output
            assert len(first.acknowledged) + len(second.acknowledged) == len(study)
            wait_for(
                lambda: _count(report, "forwarded") >= len(study),
                30,
                "not every instance was forwarded",
            )
            assert running.terminate() == 0
    expected = cli_outputs(study, key, tmp_path)
    received = read_instances(destination)
    _assert_matches_cli(received, expected)
    originals = {str(pydicom.dcmread(path).SOPInstanceUID) for path in study}
    assert not originals & set(received)  # every UID replaced
    for ds in received.values():
        assert ds.get("PatientName") != "Doe^Jane"
        assert "Node General Hospital" not in str(ds.get("InstitutionName", ""))
        assert ds.PatientIdentityRemoved == "YES"
    lines = report_lines(report)
    events = [line["event"] for line in lines]
    for event in ("received", "done", "forwarded"):
        assert events.count(event) == len(study), event
    assert {line["instance"] for line in lines if line["event"] == "forwarded"} == set(received)
    text = report.read_text()
    assert "Doe^Jane" not in text and not any(uid in text for uid in originals)
    # the spool is empty again: nothing waits, nothing was quarantined
    assert not files_in(spool / "incoming") and not files_in(spool / "outbound")
    assert not files_in(spool / "quarantine")


def test_output_folder_instead_of_forwarding_and_echo(tmp_path: Path) -> None:
    require("storescu", "echoscu")
    import subprocess

    key = write_key(tmp_path)
    files = bundled_files(tmp_path / "in") + write_series(tmp_path / "in" / "ct", "CT", 25)
    output = tmp_path / "out"
    port = free_port()
    spool = tmp_path / "spool"
    with node(spool, port, key, "--output", str(output)) as running:
        echo = subprocess.run(
            ["echoscu", "127.0.0.1", str(port)], capture_output=True, text=True, timeout=30
        )
        assert echo.returncode == 0, echo.stdout + echo.stderr
        sent = storescu(port, files)
        assert len(sent.acknowledged) == len(files), sent.output
        # SIGTERM at once: a graceful stop de-identifies what was received before it exits
        assert running.terminate() == 0
    assert not files_in(spool / "incoming")
    _assert_matches_cli(read_instances(output), cli_outputs(files, key, tmp_path))
    assert "stopping" in running.text()
    assert "idiscore node: received 30, done 30" in running.text()


#: (pydicom file, the storescu option that proposes its transfer syntax)
ENCODINGS = [
    ("MR_small_implicit.dcm", "-xi"),
    ("MR_small_bigendian.dcm", "-xb"),
    ("image_dfl.dcm", "-xd"),
    ("MR_small_RLE.dcm", "-xr"),
    ("MR_small_jp2klossless.dcm", "-xv"),
    ("JPEG2000.dcm", "-xw"),
    ("SC_rgb_jpeg_gdcm.dcm", "-xs"),
]


def test_every_transfer_syntax_is_received_as_sent_and_matches_the_cli(tmp_path: Path) -> None:
    require("storescu", "storescp")
    from pydicom.data import get_testdata_file

    key = write_key(tmp_path)
    files = []
    for name, _ in ENCODINGS:
        files.append(tmp_path / "in" / name)
        files[-1].parent.mkdir(exist_ok=True)
        ds = pydicom.dcmread(str(get_testdata_file(name)))
        ds.BurnedInAnnotation = "NO"  # secondary captures are rejected without it
        # the MR_small files are one instance in several encodings: make them several
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.save_as(files[-1])
    destination, report = tmp_path / "dest", tmp_path / "node.jsonl"
    with storescp(destination, free_port()) as dest:
        port = free_port()
        forward = ("--forward", f"DEST@127.0.0.1:{dest.port}", "--report", str(report))
        with node(tmp_path / "spool", port, key, *forward) as running:
            for path, (_, option) in zip(files, ENCODINGS, strict=True):
                sent = storescu(port, [path], option)
                assert sent.acknowledged == [path], sent.output
            wait_for(lambda: _count(report, "forwarded") >= len(files), 30, "not forwarded")
            assert running.terminate() == 0
    received_syntaxes = {
        line["transfer_syntax"] for line in report_lines(report) if line["event"] == "received"
    }
    sent_syntaxes = {str(pydicom.dcmread(path).file_meta.TransferSyntaxUID) for path in files}
    assert received_syntaxes == sent_syntaxes  # negotiated as proposed, not converted
    _assert_matches_cli(read_instances(destination), cli_outputs(files, key, tmp_path))


def test_a_destination_taking_only_implicit_vr_gets_the_files_re_encoded(
    tmp_path: Path,
) -> None:
    require("storescu", "storescp")
    key = write_key(tmp_path)
    files = write_series(tmp_path / "in", "CT", 3) + bundled_files(tmp_path / "bundled")[:2]
    destination, report = tmp_path / "dest", tmp_path / "node.jsonl"
    port = free_port()
    with storescp(destination, free_port(), "+xi") as dest:  # Implicit VR Little Endian only
        forward = ("--forward", f"DEST@127.0.0.1:{dest.port}", "--report", str(report))
        with node(tmp_path / "spool", port, key, *forward) as running:
            sent = storescu(port, files, "-xe")  # explicit VR little endian first
            assert len(sent.acknowledged) == len(files), sent.output
            wait_for(lambda: _count(report, "forwarded") >= len(files), 30, "not forwarded")
            assert running.terminate() == 0
    syntaxes = {str(pydicom.dcmread(p).file_meta.TransferSyntaxUID) for p in files_in(destination)}
    assert syntaxes == {"1.2.840.10008.1.2"}
    _assert_matches_cli(read_instances(destination), cli_outputs(files, key, tmp_path))
