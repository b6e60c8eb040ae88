"""Ctrl-C leaves a valid report and no partial file; --resume finishes the job and the
result equals an uninterrupted run, byte for byte."""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idiscore.batch import BatchOptions, BatchSummary, FileResult, load_resume_state, run_batch
from idiscore.batch.report import path_digest
from idiscore.batch.writer import new_temp_name
from idiscore.core import Core, Profile
from idiscore.errors import ConfigurationError
from idiscore.operators import Hash, HashUID
from idiscore.pseudonyms import Pseudonymizer
from idiscore.rules import Rule, RuleSet

from factories import MIXED_SERIES_FILES, write_mixed_series


def core(key: str = "resume-key") -> Core:
    rules = RuleSet(
        [Rule("PatientName", Hash()), Rule("SOPInstanceUID", HashUID())], name="resume rules"
    )
    return Core(Profile([rules]), pseudonymizer=Pseudonymizer(key))


def tree_hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    return write_mixed_series(tmp_path / "in")


def interrupt_after(count: int) -> Callable[[FileResult, BatchSummary], None]:
    def on_result(result: FileResult, summary: BatchSummary) -> None:
        if summary.total >= count:
            raise KeyboardInterrupt

    return on_result


def reference(tmp_path: Path, inputs: Path) -> dict[str, str]:
    out = tmp_path / "reference"
    run_batch(core(), [inputs], BatchOptions(output=out))
    return tree_hashes(out)


@pytest.mark.parametrize("workers", [1, 2])
def test_interrupt_then_resume_equals_uninterrupted_run(
    tmp_path: Path, inputs: Path, workers: int
) -> None:
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    options = BatchOptions(output=out, report=report, workers=workers)
    first = run_batch(core(), [inputs], options, on_result=interrupt_after(2))
    assert first.interrupted and first.total == 2
    lines = report.read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line) for line in lines)
    assert not [p for p in out.rglob("*.tmp")]
    done_first = first.counts["done"]
    assert len(tree_hashes(out)) == done_first

    resumed = run_batch(
        core(), [inputs], BatchOptions(output=out, report=report, workers=workers, resume=True)
    )
    assert not resumed.interrupted
    assert resumed.already_done == first.total  # every input with a final line
    assert resumed.counts["done"] + done_first == len(MIXED_SERIES_FILES)
    assert tree_hashes(out) == reference(tmp_path, inputs)
    records = [json.loads(line) for line in report.read_text().splitlines()]
    assert sum(r["status"] == "done" for r in records) == len(MIXED_SERIES_FILES)
    assert len({r["input"] for r in records if r["status"] == "done"}) == len(MIXED_SERIES_FILES)


def test_resume_cuts_a_partial_line_and_redoes_an_unrecorded_output(
    tmp_path: Path, inputs: Path
) -> None:
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    run_batch(core(), [inputs], BatchOptions(output=out, report=report))
    lines = report.read_text().splitlines(keepends=True)
    # as if killed after the last file was renamed but before its line was complete,
    # with another worker's temporary file left behind
    report.write_text("".join(lines[:-1]) + lines[-1][:25])
    stale = out / "series0" / new_temp_name()
    stale.write_bytes(b"half a file")

    resumed = run_batch(core(), [inputs], BatchOptions(output=out, report=report, resume=True))
    assert resumed.temp_files_removed == 1 and not stale.exists()
    assert resumed.counts["done"] == 1 and resumed.counts["failed"] == 0
    text = report.read_text()
    assert text.endswith("\n")
    assert [json.loads(line)["input"] for line in text.splitlines()][-1] == json.loads(lines[-1])[
        "input"
    ]
    assert tree_hashes(out) == reference(tmp_path, inputs)


def test_resume_with_another_key_is_refused(tmp_path: Path, inputs: Path) -> None:
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    run_batch(core(), [inputs], BatchOptions(output=out, report=report))
    with pytest.raises(ConfigurationError, match="another pseudonymization key"):
        run_batch(
            core("other-key"), [inputs], BatchOptions(output=out, report=report, resume=True)
        )


def test_resume_state_uses_the_latest_line_per_input(tmp_path: Path) -> None:
    report = tmp_path / "r.jsonl"
    report.write_text(
        '{"status": "failed", "input": "/a", "output": null}\n'
        '{"status": "done", "input": "/a", "output": "/o/a", "key": "k1"}\n'
        '{"status": "done", "input": "/b", "output": "/o/b", "key": "k1"}\n'
        '{"status": "failed", "input": "/b", "output": null}\n'
        '{"status": "do'
    )
    state = load_resume_state(report)
    assert state.is_done("/a") and not state.is_done("/b") and state.keys == {"k1"}
    assert path_digest("/o/a") in state.done_outputs
    assert path_digest("/o/b") not in state.done_outputs, "no longer done: output not claimed"
    assert not load_resume_state(tmp_path / "missing.jsonl").done_inputs


def test_resume_state_claims_only_the_latest_output_of_an_input(tmp_path: Path) -> None:
    report = tmp_path / "r.jsonl"
    report.write_text(
        '{"status": "done", "input": "/a", "output": "/o/old", "key": "k1"}\n'
        '{"status": "done", "input": "/a", "output": "/o/new", "key": "k1"}\n'
        '{"status": "done", "input": "/c", "output": null}\n'
        '{"status": "skipped", "input": "/d", "output": null}\n'
    )
    state = load_resume_state(report)
    assert state.is_done("/a") and state.is_done("/c") and not state.is_done("/d")
    assert path_digest("/o/new") in state.done_outputs
    assert path_digest("/o/old") not in state.done_outputs
    assert len(state.done_outputs) == 1


def test_not_a_report_is_a_configuration_error(tmp_path: Path) -> None:
    report = tmp_path / "r.jsonl"
    report.write_text("this is not json\n")
    with pytest.raises(ConfigurationError, match="not an idiscore report"):
        load_resume_state(report)


def test_an_existing_report_is_not_overwritten_without_resume(
    tmp_path: Path, inputs: Path
) -> None:
    report = tmp_path / "report.jsonl"
    run_batch(core(), [inputs], BatchOptions(output=tmp_path / "out", report=report))
    before = report.read_bytes()
    with pytest.raises(ConfigurationError, match="already exists"):
        run_batch(core(), [inputs], BatchOptions(output=tmp_path / "other", report=report))
    assert report.read_bytes() == before and not (tmp_path / "other").exists()


_LINES = st.lists(
    st.tuples(
        st.sampled_from(["/in/a", "/in/b", "/in/c", "/in/d"]),
        st.sampled_from(["done", "failed", "rejected", "skipped"]),
        st.sampled_from([None, "/out/1", "/out/2", "/out/3"]),
        st.sampled_from([None, "k1", "k2"]),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(lines=_LINES)
def test_resume_state_is_the_latest_line_of_each_input(lines: list[tuple[Any, ...]]) -> None:
    """Against the plain rule: the last line of an input decides; done outputs are claimed."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "r.jsonl"
        report.write_text(
            "".join(
                json.dumps(
                    {
                        "status": status,
                        "input": source,
                        "output": output if status == "done" else None,
                        "key": key if status == "done" else None,
                    }
                )
                + "\n"
                for source, status, output, key in lines
            )
        )
        state = load_resume_state(report)
    latest = {source: (status, output) for source, status, output, _ in lines}
    done = {s for s, (status, _) in latest.items() if status == "done"}
    claimed = {o for status, o in latest.values() if status == "done" and o is not None}
    for source in ["/in/a", "/in/b", "/in/c", "/in/d"]:
        assert state.is_done(source) == (source in done)
    assert len(state.done_inputs) == len(done)
    for output in ["/out/1", "/out/2", "/out/3"]:
        assert (path_digest(output) in state.done_outputs) == (output in claimed)
    assert len(state.done_outputs) == len(claimed)
    assert state.keys == {key for _, status, _, key in lines if status == "done" and key}
