"""``idiscore verify`` finds every identifier a weakened profile lets through, in every
encoding, and nothing but values kept by option in the default profile's output."""

from __future__ import annotations

from pathlib import Path

import pytest
from verify_corpus import ENCODINGS, NAME, WEAKENED_LEAKS, write_planted

from idiscore.batch import BatchOptions, run_batch
from idiscore.core import Core, Profile
from idiscore.defaults import create_default_core, get_dicom_rule_sets
from idiscore.identifiers import PrivateTags
from idiscore.insertions import StandardInsertions
from idiscore.operators import Keep
from idiscore.pseudonyms import Pseudonymizer
from idiscore.rules import Rule, RuleSet
from idiscore.verify import VerifyOptions, run_verify
from idiscore.verify.audit import PairResult

KEY = b"verify-tests-key"


def weakened_core() -> Core:
    """The Basic Profile with Keep rules on a few identifying attributes and on private
    elements: a de-identifier with holes."""
    holes = RuleSet(
        [
            Rule("PatientID", Keep()),
            Rule("InstitutionName", Keep()),
            Rule("OtherPatientIDsSequence", Keep()),
            Rule("RequestAttributesSequence", Keep()),
            Rule("RequestedProcedureID", Keep()),
            Rule("ImageComments", Keep()),
            Rule(PrivateTags(), Keep()),
        ],
        name="holes",
    )
    profile = Profile([get_dicom_rule_sets().basic_profile, holes], name="weakened")
    return Core(profile, insertions=[StandardInsertions()], pseudonymizer=Pseudonymizer(KEY))


def deidentify(core: Core, source: Path, target: Path, report: Path) -> None:
    summary = run_batch(core, [source], BatchOptions(output=target, report=report))
    assert summary.counts["done"] == 2, summary


def leaks_of(results: list[PairResult]) -> set[tuple[str, str]]:
    return {(leak["class"], leak["where"]) for result in results for leak in result.leaks}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_planted_leak_is_found(tmp_path: Path, encoding: str) -> None:
    write_planted(tmp_path / "in", encoding)
    deidentify(weakened_core(), tmp_path / "in", tmp_path / "out", tmp_path / "run.jsonl")
    summary = run_verify(
        tmp_path / "in", tmp_path / "out", VerifyOptions(dciodvfy=False), keep_results=True
    )
    assert summary.results is not None
    for result in summary.results:
        assert result.status == "leak"
        assert leaks_of([result]) >= WEAKENED_LEAKS, WEAKENED_LEAKS - leaks_of([result])
    assert summary.counts["leak"] == 2
    assert not summary.clean


def test_a_preamble_copied_from_the_input_is_a_leak(tmp_path: Path) -> None:
    inputs = write_planted(tmp_path / "in", "explicit-undefined")
    deidentify(weakened_core(), tmp_path / "in", tmp_path / "out", tmp_path / "run.jsonl")
    output = tmp_path / "out" / inputs[0].name
    data = bytearray(output.read_bytes())
    data[:128] = inputs[0].read_bytes()[:128]  # a writer that copies the preamble
    output.write_bytes(bytes(data))
    summary = run_verify(
        tmp_path / "in", tmp_path / "out", VerifyOptions(dciodvfy=False), keep_results=True
    )
    assert summary.results is not None
    assert ("name", "preamble") in leaks_of(summary.results[:1])
    assert ("name", "preamble") not in leaks_of(summary.results[1:])


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_default_profile_output_has_no_leak(tmp_path: Path, encoding: str) -> None:
    write_planted(tmp_path / "in", encoding)
    core = create_default_core(pseudonymizer=Pseudonymizer(KEY))
    deidentify(core, tmp_path / "in", tmp_path / "out", tmp_path / "run.jsonl")
    summary = run_verify(
        tmp_path / "in",
        tmp_path / "out",
        VerifyOptions(run_report=tmp_path / "run.jsonl", dciodvfy=False),
        keep_results=True,
    )
    assert summary.results is not None
    assert [r.leaks for r in summary.results] == [[], []]
    assert [r.problems for r in summary.results] == [[], []]
    assert summary.set_problems == []
    assert summary.references == (1, 1, 1)
    assert summary.clean


def test_values_kept_by_an_option_are_not_leaks(tmp_path: Path) -> None:
    """Retain Device Identity keeps the station name: listed as kept, with the option."""
    paths = write_planted(tmp_path / "in", "explicit-undefined")
    for path in paths:
        import pydicom

        ds = pydicom.dcmread(path)
        ds.StationName = "ZORBLAX-CT7"
        ds.save_as(path)
    core = create_default_core(pseudonymizer=Pseudonymizer(KEY))
    deidentify(core, tmp_path / "in", tmp_path / "out", tmp_path / "run.jsonl")
    summary = run_verify(
        tmp_path / "in", tmp_path / "out", VerifyOptions(dciodvfy=False), keep_results=True
    )
    assert summary.results is not None
    for result in summary.results:
        assert result.status == "kept"
        kept = {(entry["where"], entry["option"]) for entry in result.kept}
        assert ("(0008,1010)", "Retain Device Identity Option") in kept
    # the same station name kept by a profile without that option is a leak
    holes = RuleSet([Rule("StationName", Keep())], name="keeps the station")
    profile = Profile([get_dicom_rule_sets().basic_profile, holes])
    weak = Core(profile, insertions=[StandardInsertions()], pseudonymizer=Pseudonymizer(KEY))
    deidentify(weak, tmp_path / "in", tmp_path / "out2", tmp_path / "run2.jsonl")
    summary = run_verify(
        tmp_path / "in", tmp_path / "out2", VerifyOptions(dciodvfy=False), keep_results=True
    )
    assert summary.results is not None
    assert all(("institution", "(0008,1010)") in leaks_of([r]) for r in summary.results)


def test_the_default_core_blanks_an_input_preamble(tmp_path: Path) -> None:
    inputs = write_planted(tmp_path / "in", "explicit-defined")
    assert NAME.encode() in inputs[0].read_bytes()[:128]
    core = create_default_core(pseudonymizer=Pseudonymizer(KEY))
    deidentify(core, tmp_path / "in", tmp_path / "out", tmp_path / "run.jsonl")
    assert (tmp_path / "out" / inputs[0].name).read_bytes()[:128] == bytes(128)
