"""Real DICOM peers for the node tests: dcmtk processes, the node itself, certificates.

Every process runs on 127.0.0.1 on a free port, with bounded waits, and is killed when
its ``with`` block ends (also when the test fails).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

IDISCORE = str(Path(sys.executable).parent / "idiscore")
KEY_TEXT = "node-test-key-0123456789abcdef0123456789abcdef"
CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4"

#: pydicom's bundled files the node tests send (different SOP classes and encodings)
BUNDLED = ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "rtdose.dcm", "waveform_ecg.dcm")


def require(*tools: str) -> None:
    """Skip the test (with the reason) when a dcmtk tool is missing."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip(
            f"needs dcmtk ({', '.join(missing)} not found): apt-get install dcmtk "
            "(.ci/run installs it)"
        )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, process: subprocess.Popen[bytes] | None = None, timeout=20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process exited ({process.returncode}) before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port} after {timeout} s")


def wait_for(condition, timeout: float, message: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    assert condition(), message


@dataclass
class Running:
    """A running peer: its process, port and log file."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def associations(self) -> int:
        """How many associations a dcmtk peer (run with -v) accepted."""
        return self.text().count("Association Acknowledged")

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL the process and the children it forked (its own process group)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def terminate(self, timeout: float = 30.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


def wait_log(log: Path, text: str, process: subprocess.Popen[bytes], timeout=20.0) -> None:
    """Wait until ``text`` appears in ``log`` (the node says when it listens: a bare TCP
    probe would hold one of its association slots until the network timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"process exited ({process.returncode}) before listening")
        if log.exists() and text in log.read_text(errors="replace"):
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in {log.name} after {timeout} s")


@contextlib.contextmanager
def running(
    command: Sequence[str], port: int, log: Path, *, ready: str | None = None
) -> Iterator[Running]:
    handle = open(log, "ab")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        list(command), stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    peer = Running(process, port, log)
    try:
        if ready is not None:
            wait_log(log, ready, process)
        else:
            wait_port(port, process)
        yield peer
    finally:
        peer.kill()
        handle.close()


def storescp(folder: Path, port: int, *extra: str) -> contextlib.AbstractContextManager[Running]:
    """dcmtk's storescp writing every received instance (bit-preserving) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    command = [
        "storescp",
        "-v",
        "-aet",
        "DEST",
        "+B",
        "+xa",
        "-od",
        str(folder),
        *extra,
        str(port),
    ]
    return running(command, port, folder.parent / f"storescp-{port}.log")


def node_command(spool: Path, port: int, key_file: Path, *extra: str) -> list[str]:
    return [
        IDISCORE,
        "serve",
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--spool",
        str(spool),
        "--key-file",
        str(key_file),
        "--status-interval",
        "1",
        "--timeout",
        "10",
        *extra,
    ]


def node(
    spool: Path, port: int, key_file: Path, *extra: str, log: Path | None = None
) -> contextlib.AbstractContextManager[Running]:
    """``idiscore serve`` in its own process."""
    command = node_command(spool, port, key_file, *extra)
    log = log or spool.parent / f"node-{port}.log"
    return running(command, port, log, ready=f"listening on port {port}")


_SENDING = re.compile(r"Sending file: (.+)$")
_RESPONSE = re.compile(r"Received Store Response \((.+)\)")


@dataclass
class StoreRun:
    returncode: int
    output: str
    acknowledged: list[Path]


def storescu(port: int, files: Sequence[Path], *extra: str, timeout: float = 60) -> StoreRun:
    """Send ``files`` with storescu; which files got a Success response."""
    command = ["storescu", "-v", "-nh", *extra, "127.0.0.1", str(port), *map(str, files)]
    done = subprocess.run(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout
    )
    return StoreRun(done.returncode, done.stdout, acknowledged(done.stdout))


def acknowledged(log: str) -> list[Path]:
    """The files of a storescu ``-v`` log that got a Success response."""
    current: Path | None = None
    files = []
    for line in log.splitlines():
        sending = _SENDING.search(line)
        if sending:
            current = Path(sending.group(1).strip())
            continue
        response = _RESPONSE.search(line)
        if response and current is not None:
            if response.group(1).startswith("Success"):
                files.append(current)
            current = None
    return files


def received(report: Path) -> int:
    """How many instances the node's report says it received so far."""
    try:
        return report.read_text().count('"event": "received"')
    except FileNotFoundError:
        return 0


def kill_during_transfer(
    target: Running, port: int, files: Sequence[Path], report: Path, *, after: int = 20
) -> list[Path]:
    """Send ``files`` to the node ``target`` with storescu and SIGKILL the node (alone)
    once its report counts ``after`` received instances; the files the sender saw
    acknowledged."""
    sender = subprocess.Popen(
        ["storescu", "-v", "-nh", "127.0.0.1", str(port), *map(str, files)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while received(report) < after and time.monotonic() < deadline:
            time.sleep(0.005)
        target.process.kill()  # SIGKILL, in the middle of the transfer
        target.process.wait(10)
        log, _ = sender.communicate(timeout=60)
    finally:
        sender.kill()
        sender.wait(10)
    return acknowledged(log)


def restart_and_deliver(
    spool: Path,
    port: int,
    key: Path,
    *extra: str,
    files: Sequence[Path],
    seen: Sequence[Path],
    destination: Path,
    log: Path,
) -> tuple[dict[str, Dataset], dict[Path, Dataset]]:
    """Restart the killed node on its ``spool``; once every instance of ``seen`` (the
    files acknowledged before the kill) arrived at ``destination``, stop it. Returns
    what arrived (by SOP Instance UID) and the CLI's output for every input file."""
    with node(spool, port, key, *extra, log=log) as restarted:
        expected = cli_by_input(files, key, log.parent)
        wanted = {str(expected[path].SOPInstanceUID) for path in seen}
        wait_for(
            lambda: wanted <= set(read_instances(destination)),
            60,
            "an acknowledged instance did not arrive after the restart",
        )
        assert restarted.terminate() == 0
    assert "resuming" in restarted.text()
    return read_instances(destination), expected


def write_key(folder: Path) -> Path:
    path = folder / "site.key"
    path.write_text(KEY_TEXT)
    return path


def bundled_files(folder: Path) -> list[Path]:
    from pydicom.data import get_testdata_file

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in BUNDLED:
        target = folder / name
        shutil.copyfile(str(get_testdata_file(name)), target)
        paths.append(target)
    return paths


def write_series(
    folder: Path, modality: str, count: int, *, implicit: bool = False, size: int = 32
) -> list[Path]:
    """A generated series (CT or MR) of ``count`` images with identifying values."""
    folder.mkdir(parents=True, exist_ok=True)
    study, series = generate_uid(), generate_uid()
    rng = np.random.default_rng(count + len(modality))
    paths = []
    for number in range(count):
        ds = Dataset()
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.SOPClassUID = CT_STORAGE if modality == "CT" else MR_STORAGE
        ds.SOPInstanceUID = generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.PatientName, ds.PatientID = "Doe^Jane", "PID-NODE-42"
        ds.PatientBirthDate, ds.StudyDate, ds.StudyTime = "19691231", "20240229", "101010"
        ds.InstitutionName, ds.AccessionNumber = "Node General Hospital", "ACC-NODE-1"
        ds.Modality, ds.InstanceNumber, ds.SeriesNumber = modality, number + 1, 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.PixelData = rng.integers(0, 4095, (size, size), dtype=np.uint16).tobytes()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.file_meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian if implicit else (ExplicitVRLittleEndian)
        )
        path = folder / f"{modality.lower()}{number:03d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def cli_outputs(files: Sequence[Path], key_file: Path, work: Path) -> dict[str, Dataset]:
    """What ``idiscore deidentify`` makes of ``files``: de-identified SOP Instance UID ->
    dataset (without file meta)."""
    return {str(ds.SOPInstanceUID): ds for ds in cli_by_input(files, key_file, work).values()}


def cli_by_input(files: Sequence[Path], key_file: Path, work: Path) -> dict[Path, Dataset]:
    """What ``idiscore deidentify`` makes of each of ``files`` (file meta dropped)."""
    inputs = work / "cli-in"
    inputs.mkdir(parents=True, exist_ok=True)
    for index, path in enumerate(files):
        shutil.copyfile(path, inputs / f"{index:04d}.dcm")
    output = work / "cli-out"
    done = subprocess.run(
        [
            IDISCORE,
            "deidentify",
            str(inputs),
            "-o",
            str(output),
            "--key-file",
            str(key_file),
            "--workers",
            "1",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    made = {}
    for index, path in enumerate(files):
        ds = pydicom.dcmread(output / f"{index:04d}.dcm")
        del ds.file_meta
        made[path] = ds
    return made


def read_instances(folder: Path) -> dict[str, Dataset]:
    """Every DICOM file below ``folder``: SOP Instance UID -> dataset (file meta dropped).

    Fails on a second file with the same SOP Instance UID (a duplicate delivery).
    """
    found: dict[str, Dataset] = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix in (".log", ".json"):
            continue
        ds = pydicom.dcmread(path)
        uid = str(ds.SOPInstanceUID)
        assert uid not in found, f"instance delivered twice ({path.name})"
        del ds.file_meta
        found[uid] = ds
    return found


def comparable(ds: Dataset) -> list[tuple[object, ...]]:
    """A dataset as (tag, VR, value) rows, sequences recursed; private elements that one
    encoding names UN and another knows are compared by their bytes."""
    rows: list[tuple[object, ...]] = []
    for element in ds:
        if element.VR == "SQ":
            rows.append((element.tag, "SQ", len(element.value)))
            for item in element.value:
                rows.extend(comparable(item))
            continue
        value = element.value
        if isinstance(value, bytes | bytearray):
            value = bytes(value).rstrip(b"\x00 ")
        rows.append((element.tag, value if not isinstance(value, float) else round(value, 9)))
    return rows


def certificates(folder: Path) -> dict[str, Path]:
    """A CA, a server certificate (for 127.0.0.1 / localhost) and a client certificate,
    made with ``cryptography``; PEM files."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def save_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
        return path

    def save_cert(cert: x509.Certificate, path: Path) -> Path:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return path

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("idiscore test CA"))
        .issuer_name(name("idiscore test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = {"ca": save_cert(ca, folder / "ca.pem")}
    import ipaddress

    for role, usage in (
        ("server", ExtendedKeyUsageOID.SERVER_AUTH),
        ("client", ExtendedKeyUsageOID.CLIENT_AUTH),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(f"idiscore test {role}"))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        paths[f"{role}_cert"] = save_cert(cert, folder / f"{role}.pem")
        paths[f"{role}_key"] = save_key(key, folder / f"{role}.key")
    return paths


def report_lines(path: Path) -> list[dict[str, object]]:
    import json

    if not path.exists():
        return []
    text = path.read_text()
    complete = text[: text.rfind("\n") + 1]  # a line being written is not read yet
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


def files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def env_without_key() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name != "IDISCORE_KEY"}
