"""The secret key never leaves the process, and no pseudonym is an unkeyed hash.

A full command-line run (key file or ``IDISCORE_KEY``, report, mapping, ``-v``) over files
full of PHI must not write the key, in any usual encoding, to any output file, the report,
the mapping, stdout, stderr or a log record. And no value of the outputs may be a plain
(unkeyed) digest of an original value, which anyone could recompute from a guessed name.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from click.testing import CliRunner
from pydicom.uid import generate_uid

from idiscore.batch.mapping_store import read_mapping
from idiscore.cli import main

from factories import linked_datasets, write_linked_files

PROFILE = """
name = "leak test profile"
rule_sets = ["basic_profile", "retain_long_modified_dates", "link"]

[[rules]]
rule_set = "link"
tag = "PatientID"
operator = "Hash"

[[rules]]
rule_set = "link"
tag = "PatientName"
operator = "Hash"

[[rules]]
rule_set = "link"
tag = "AccessionNumber"
operator = "Hash"

[[rules]]
rule_set = "link"
tag = "SourceImageSequence"
operator = "Keep"

[[rules]]
rule_set = "link"
tag = "ReferencedImageSequence"
operator = "Keep"
"""

#: a binary key, and the kind of text key ``openssl rand -hex 32`` writes
BINARY_KEY = bytes(range(0xC0, 0xE0))
HEX_KEY = b"7f3a9c0e5b2d4186a9e0c3f1d2b4a6987f3a9c0e5b2d4186a9e0c3f1d2b4a698"
ENV_KEY = "env-key-Zq8Vr3Lw6Tn1Xy4Kp7Hd2Fg5"


def key_forms(key: bytes) -> list[bytes]:
    """The key as bytes and as the text encodings a careless log line would use."""
    forms = [
        key,
        key.hex().encode(),
        key.hex().upper().encode(),
        base64.b64encode(key),
        base64.b64encode(key).rstrip(b"="),
        base64.urlsafe_b64encode(key).rstrip(b"="),
        base64.b32encode(key).rstrip(b"="),
        repr(key).encode(),
    ]
    if key.isascii():
        forms.append(key.decode().encode("utf-16-le"))
    return forms


def artefacts(*folders_and_files: Path) -> Iterator[tuple[str, bytes]]:
    for item in folders_and_files:
        paths = sorted(p for p in item.rglob("*") if p.is_file()) if item.is_dir() else [item]
        for path in paths:
            yield str(path), path.read_bytes()


def assert_key_absent(key: bytes, sources: dict[str, bytes]) -> None:
    assert sources, "nothing to search"
    for form in key_forms(key):
        for name, data in sources.items():
            assert form not in data, f"the key appears in {name}"


def command(inputs: Path, tmp: Path, *extra: str) -> list[str]:
    profile = tmp / "profile.toml"
    profile.write_text(PROFILE)
    return [
        "deidentify",
        str(inputs),
        "-o",
        str(tmp / "out"),
        "--profile",
        str(profile),
        "--report",
        str(tmp / "report.jsonl"),
        "--mapping",
        str(tmp / "private" / "map.csv"),
        "-v",
        *extra,
    ]


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    write_linked_files(tmp_path / "in")
    return tmp_path / "in"


def run_in_process(
    arguments: list[str], caplog: pytest.LogCaptureFixture
) -> tuple[int, str, str, str]:
    with caplog.at_level(logging.DEBUG):
        result = CliRunner().invoke(main, arguments)
    logs = "\n".join(
        f"{record.name} {record.levelname} {record.getMessage()} {record.args!r}"
        for record in caplog.records
    )
    return result.exit_code, result.stdout, result.stderr, logs


@pytest.mark.parametrize("key", [BINARY_KEY, HEX_KEY], ids=["binary", "hex-text"])
def test_key_file_never_leaks(
    tmp_path: Path, inputs: Path, key: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    key_file = tmp_path / "site.key"
    key_file.write_bytes(key + b"\n")
    arguments = command(inputs, tmp_path, "--key-file", str(key_file), "--workers", "1")
    code, stdout, stderr, logs = run_in_process(arguments, caplog)
    assert code == 0, stdout + stderr
    assert "done" in stdout and "map.csv" in stdout  # -v printed a line per input
    sources = dict(artefacts(tmp_path / "out", tmp_path / "report.jsonl", tmp_path / "private"))
    assert len(sources) == 24 + 2
    sources |= {"stdout": stdout.encode(), "stderr": stderr.encode(), "logs": logs.encode()}
    assert_key_absent(key, sources)


def test_environment_key_never_leaks_from_a_process_pool(tmp_path: Path, inputs: Path) -> None:
    env = dict(os.environ, IDISCORE_KEY=ENV_KEY)
    script = Path(sys.executable).parent / "idiscore"
    done = subprocess.run(
        [str(script), *command(inputs, tmp_path, "--workers", "2")],
        capture_output=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    sources = dict(artefacts(tmp_path / "out", tmp_path / "report.jsonl", tmp_path / "private"))
    sources |= {"stdout": done.stdout, "stderr": done.stderr}
    assert_key_absent(ENV_KEY.encode(), sources)


def test_environment_key_never_leaks_in_process(
    tmp_path: Path,
    inputs: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IDISCORE_KEY", ENV_KEY)
    code, stdout, stderr, logs = run_in_process(
        command(inputs, tmp_path, "--workers", "1"), caplog
    )
    assert code == 0, stdout + stderr
    sources = dict(artefacts(tmp_path / "out", tmp_path / "report.jsonl", tmp_path / "private"))
    sources |= {"stdout": stdout.encode(), "stderr": stderr.encode(), "logs": logs.encode()}
    assert_key_absent(ENV_KEY.encode(), sources)


# -- no unkeyed hash of an original value ----------------------------------------------------


def phi_values() -> set[str]:
    """Every identifying value of the inputs: IDs, names, UIDs, dates, free text."""
    keywords = (
        "PatientID",
        "IssuerOfPatientID",
        "PatientName",
        "PatientBirthDate",
        "StudyDate",
        "AccessionNumber",
        "InstitutionName",
        "ReferringPhysicianName",
        "StudyID",
        "SOPInstanceUID",
        "StudyInstanceUID",
        "SeriesInstanceUID",
    )
    values = set()
    for ds in linked_datasets().values():
        for keyword in keywords:
            if keyword in ds:
                values.add(str(ds[keyword].value))
        for source in ds.get("SourceImageSequence", []):
            for ref in source.ReferencedImageSequence:
                values.add(str(ref.ReferencedSOPInstanceUID))
    return values


def unkeyed_forms(value: str) -> set[bytes]:
    """What a plain digest of ``value`` looks like as text, and as a UID."""
    forms: set[bytes] = set()
    for text in {value, value.upper(), value.lower(), value.strip()}:
        data = text.encode()
        for name in ("md5", "sha1", "sha256", "sha512"):
            digest = hashlib.new(name, data).digest()
            forms |= {digest.hex().encode(), digest.hex().upper().encode()}
            forms.add(base64.b64encode(digest).rstrip(b"="))
            forms.add(f"2.25.{int.from_bytes(digest[:16], 'big')}".encode())
            forms.add(str(int.from_bytes(digest[:16], "big")).encode())
        forms.add(f"2.25.{int(hashlib.md5(data).hexdigest(), 16)}".encode())
        forms.add(str(generate_uid(prefix=None, entropy_srcs=[text])).encode())
        forms.add(str(generate_uid(entropy_srcs=[text])).encode())
    return forms


def deidentify_with(key: bytes, tmp: Path, inputs: Path) -> Path:
    tmp.mkdir(exist_ok=True)
    (tmp / "site.key").write_bytes(key)
    result = CliRunner().invoke(
        main, command(inputs, tmp, "--key-file", str(tmp / "site.key"), "--workers", "1")
    )
    assert result.exit_code == 0, result.output
    return tmp / "out"


def test_no_output_value_is_an_unkeyed_hash_of_an_original(tmp_path: Path, inputs: Path) -> None:
    out = deidentify_with(BINARY_KEY, tmp_path, inputs)
    written = b"".join(data for _, data in artefacts(out))
    values = phi_values()
    assert len(values) > 50
    for value in values:
        for form in unkeyed_forms(value):
            assert form not in written, "an output value is an unkeyed digest of PHI"
    # the originals themselves are gone too (dates are shifted, UIDs replaced)
    for value in values:
        assert value.encode() not in written


def test_pseudonyms_change_with_the_key(tmp_path: Path, inputs: Path) -> None:
    first = deidentify_with(BINARY_KEY, tmp_path / "a", inputs)
    second = deidentify_with(HEX_KEY, tmp_path / "b", inputs)
    for path in sorted(first.rglob("*.dcm")):
        one = pydicom.dcmread(path)
        two = pydicom.dcmread(second / path.relative_to(first))
        for keyword in ("SOPInstanceUID", "StudyInstanceUID", "PatientID", "PatientName"):
            assert one[keyword].value != two[keyword].value, keyword
    mappings = [
        {(k, o): p for k, o, p in read_mapping(t / "private" / "map.csv").entries()}
        for t in (tmp_path / "a", tmp_path / "b")
    ]
    assert mappings[0].keys() == mappings[1].keys()
    for (kind, original), pseudonym in mappings[0].items():
        if kind != "date_shift":  # 1 in 3286 that two keys give one shift
            assert mappings[1][(kind, original)] != pseudonym, kind
    shifts = [{o: p for (k, o), p in m.items() if k == "date_shift"} for m in mappings]
    assert shifts[0] != shifts[1]
