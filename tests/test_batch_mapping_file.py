"""The opt-in mapping file of a batch: every pseudonym the outputs use, with its original,
from one process or a pool; written once, atomically, also after Ctrl-C or a crash; added
to (never overwritten) by a resumed run; never beside the outputs or the inputs."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest

from idiscore.batch import BatchOptions, BatchSummary, FileProcessor, FileResult, Task, run_batch
from idiscore.batch import mapping as batch_mapping
from idiscore.batch.mapping import journal_path
from idiscore.batch.mapping_store import read_mapping, write_mapping
from idiscore.core import Core
from idiscore.defaults import profile_from_options
from idiscore.errors import ConfigurationError
from idiscore.identifiers import SingleTag
from idiscore.insertions import StandardInsertions
from idiscore.operators import Hash, Keep
from idiscore.pseudonyms import Crosswalk, MappingRecorder, Pseudonymizer
from idiscore.rules import Rule, RuleSet

from factories import LINKED_PATIENTS, write_linked_files

KEY = "mapping-file-test-key"
Entry = tuple[str, str, str]

LINK = RuleSet(
    [
        Rule(SingleTag("PatientID"), Hash()),
        Rule(SingleTag("PatientName"), Hash()),
        Rule(SingleTag("SourceImageSequence"), Keep()),
        Rule(SingleTag("ReferencedImageSequence"), Keep()),
    ],
    name="linkable patient pseudonyms",
)
#: the second patient gets externally assigned pseudonyms
CROSSWALK = {"patient_ids": {LINKED_PATIENTS[1][0]: "TRIAL-B-01"}}


def make_core(key: str = KEY, recorder: MappingRecorder | None = None) -> Core:
    crosswalk = Crosswalk(
        patient_ids=CROSSWALK["patient_ids"],
        patient_names={LINKED_PATIENTS[1][0]: "SUBJECT^BRAVO"},
    )
    return Core(
        profile_from_options(["retain_long_modified_dates"], extra=[LINK]),
        [StandardInsertions()],
        pseudonymizer=Pseudonymizer(key, crosswalk=crosswalk, recorder=recorder),
    )


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    write_linked_files(tmp_path / "in")
    return tmp_path / "in"


def read_entries(path: Path) -> set[Entry]:
    return set(read_mapping(path).entries())


def expected_entries(inputs: Path, out: Path) -> set[Entry]:
    """The pairs a mapping must hold, read from every input and its output."""
    entries: set[Entry] = set()
    for source in inputs.rglob("*.dcm"):
        before = pydicom.dcmread(source)
        after = pydicom.dcmread(out / source.relative_to(inputs))
        for keyword in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
            entries.add(("uid", before[keyword].value, after[keyword].value))
        entries.add(("patient_id", before.PatientID, after.PatientID))
        entries.add(("name", str(before.PatientName), str(after.PatientName)))
        if "SourceImageSequence" in before:
            old = before.SourceImageSequence[0].ReferencedImageSequence[0]
            new = after.SourceImageSequence[0].ReferencedImageSequence[0]
            entries.add(("uid", old.ReferencedSOPInstanceUID, new.ReferencedSOPInstanceUID))
        issuer = before.get("IssuerOfPatientID", "")
        shifted = pydicom.valuerep.DA(after.StudyDate) - pydicom.valuerep.DA(before.StudyDate)
        original = f"{before.PatientID}\\{issuer}" if issuer else before.PatientID
        entries.add(("date_shift", original, str(shifted.days)))
    return entries


def output_bytes(out: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file())


def interrupt_after(count: int) -> Callable[[FileResult, BatchSummary], None]:
    def on_result(result: FileResult, summary: BatchSummary) -> None:
        if summary.total >= count:
            raise KeyboardInterrupt

    return on_result


@pytest.mark.parametrize("workers", [1, 2])
def test_mapping_holds_every_pseudonym_the_outputs_use(
    tmp_path: Path, inputs: Path, workers: int
) -> None:
    out, mapping = tmp_path / "out", tmp_path / "private" / "map.csv"
    summary = run_batch(
        make_core(), [inputs], BatchOptions(output=out, mapping=mapping, workers=workers)
    )
    assert summary.ok and summary.counts["done"] == 24
    entries = read_entries(mapping)
    assert expected_entries(inputs, out) <= entries
    # crosswalk overrides and date shifts are recorded like derived pseudonyms
    bravo = LINKED_PATIENTS[1]
    assert ("patient_id", bravo[0], "TRIAL-B-01") in entries
    assert ("name", bravo[2], "SUBJECT^BRAVO") in entries
    assert len([e for e in entries if e[0] == "date_shift"]) == len(LINKED_PATIENTS)
    # and nothing the outputs do not use
    written = output_bytes(out)
    for kind, _original, pseudonym in entries:
        if kind != "date_shift":
            assert pseudonym.encode() in written, kind
    assert stat.S_IMODE(mapping.stat().st_mode) == 0o600
    assert os.listdir(mapping.parent) == ["map.csv"]  # no temporary file, no journal


def test_sqlite_mapping_holds_the_same_table(tmp_path: Path, inputs: Path) -> None:
    tables = []
    for name in ("map.csv", "map.sqlite", "map.db"):
        mapping = tmp_path / name
        run_batch(make_core(), [inputs], BatchOptions(output=tmp_path / name[4:], mapping=mapping))
        tables.append(read_entries(mapping))
    assert tables[0] == tables[1] == tables[2]
    with sqlite3.connect(tmp_path / "map.db") as db:
        rows = set(db.execute("SELECT kind, original, pseudonym FROM mapping"))
    db.close()
    assert rows == tables[0]


def test_no_mapping_records_nothing(
    tmp_path: Path, inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*args: object) -> None:
        raise AssertionError("recorded without a mapping")

    monkeypatch.setattr(MappingRecorder, "record", forbidden)
    summary = run_batch(make_core(), [inputs], BatchOptions(output=tmp_path / "out"))
    assert summary.ok and summary.counts["done"] == 24
    processor = FileProcessor(make_core(), tmp_path / "out2", "mirror")
    assert processor.core.pseudonymizer.recorder is None
    result = processor(Task(str(next(inputs.rglob("*.dcm"))), "x.dcm"))
    assert result.status == "done" and result.mapping is None


def test_the_callers_pseudonymizer_is_left_alone(tmp_path: Path, inputs: Path) -> None:
    own = MappingRecorder()
    core = make_core(recorder=own)
    pseudonymizer = core.pseudonymizer
    run_batch(core, [inputs], BatchOptions(output=tmp_path / "out", mapping=tmp_path / "m.csv"))
    assert core.pseudonymizer is pseudonymizer and pseudonymizer.recorder is own
    assert len(own) == 0 and len(read_entries(tmp_path / "m.csv")) > 0


def test_report_and_results_carry_no_mapping(tmp_path: Path, inputs: Path) -> None:
    report, mapping = tmp_path / "report.jsonl", tmp_path / "map.csv"
    seen: list[FileResult] = []
    run_batch(
        make_core(),
        [inputs],
        BatchOptions(output=tmp_path / "out", report=report, mapping=mapping),
        on_result=lambda result, summary: seen.append(result),
    )
    text = report.read_text()
    for _kind, original, pseudonym in read_entries(mapping):
        assert original not in text and pseudonym not in text
    assert all(result.mapping is None for result in seen)
    assert all("mapping" not in json.loads(line) for line in text.splitlines())
    result = FileResult(status="done", input="/x", mapping=[("uid", "1.2.3", "2.25.4")])
    assert "1.2.3" not in repr(result)


@pytest.mark.parametrize("name", ["map.json", "map", "map.csv.bak"])
def test_unknown_mapping_format_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigurationError, match=r"\.csv, \.sqlite or \.db"):
        BatchOptions(output=tmp_path / "out", mapping=tmp_path / name)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ("out/map.csv", "inside the output folder.*re-identifies"),
        ("out/deeper/map.sqlite", "inside the output folder.*re-identifies"),
        ("in/map.csv", "inside the input folder.*re-identifies"),
        ("in/pA/map.db", "inside the input folder.*re-identifies"),
        ("report.csv", "different files"),
        ("folder.csv", "is a folder"),
    ],
)
def test_mapping_beside_outputs_or_inputs_is_refused(
    tmp_path: Path, inputs: Path, mapping: str, message: str
) -> None:
    (tmp_path / "folder.csv").mkdir()
    before = sorted(p.name for p in tmp_path.rglob("*"))
    options = BatchOptions(
        output=tmp_path / "out", report=tmp_path / "report.csv", mapping=tmp_path / mapping
    )
    with pytest.raises(ConfigurationError, match=message):
        run_batch(make_core(), [inputs], options)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_symlink_into_the_output_is_refused(tmp_path: Path, inputs: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "safe").symlink_to(tmp_path / "out", target_is_directory=True)
    options = BatchOptions(output=tmp_path / "out", mapping=tmp_path / "safe" / "map.csv")
    with pytest.raises(ConfigurationError, match="re-identifies"):
        run_batch(make_core(), [inputs], options)


def test_existing_mapping_is_never_overwritten(tmp_path: Path, inputs: Path) -> None:
    mapping = tmp_path / "map.csv"
    mapping.write_text("kind,original,pseudonym\nuid,1.2.3,2.25.4\n")
    with pytest.raises(ConfigurationError, match=r"already exists.*resume"):
        run_batch(make_core(), [inputs], BatchOptions(output=tmp_path / "out", mapping=mapping))
    assert mapping.read_text() == "kind,original,pseudonym\nuid,1.2.3,2.25.4\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("workers", [1, 2])
def test_interrupted_then_resumed_mapping_equals_an_uninterrupted_one(
    tmp_path: Path, inputs: Path, workers: int
) -> None:
    reference = tmp_path / "reference.csv"
    run_batch(make_core(), [inputs], BatchOptions(output=tmp_path / "ref", mapping=reference))

    out, report, mapping = tmp_path / "out", tmp_path / "report.jsonl", tmp_path / "map.csv"
    options = BatchOptions(output=out, report=report, mapping=mapping, workers=workers)
    first = run_batch(make_core(), [inputs], options, on_result=interrupt_after(5))
    assert first.interrupted and first.counts["done"] == 5
    partial = read_entries(mapping)
    assert not journal_path(mapping).exists()
    # it covers every committed output, and holds only true pairs
    for path in out.rglob("*.dcm"):
        assert ("uid", pydicom.dcmread(path).SOPInstanceUID) in {(e[0], e[2]) for e in partial}
    assert partial < read_entries(reference)

    resumed = BatchOptions(
        output=out, report=report, mapping=mapping, workers=workers, resume=True
    )
    second = run_batch(make_core(), [inputs], resumed)
    assert second.already_done == 5 and second.counts["done"] == 19
    assert mapping.read_bytes() == reference.read_bytes()


def test_entries_of_another_batch_are_kept_on_resume(tmp_path: Path, inputs: Path) -> None:
    out, report, mapping = tmp_path / "out", tmp_path / "report.jsonl", tmp_path / "map.db"
    run_batch(make_core(), [inputs], BatchOptions(output=out, report=report, mapping=mapping))
    table = read_entries(mapping)
    write_mapping(MappingRecorder([*table, ("uid", "9.9.9", "2.25.99")]), mapping)
    resumed = BatchOptions(output=out, report=report, mapping=mapping, resume=True)
    run_batch(make_core(), [inputs], resumed)
    assert read_entries(mapping) == {*table, ("uid", "9.9.9", "2.25.99")}


def test_a_crashed_run_leaves_a_journal_that_resume_merges(
    tmp_path: Path, inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = tmp_path / "reference.csv"
    run_batch(make_core(), [inputs], BatchOptions(output=tmp_path / "ref", mapping=reference))

    out, report, mapping = tmp_path / "out", tmp_path / "report.jsonl", tmp_path / "map.csv"
    options = BatchOptions(output=out, report=report, mapping=mapping)
    original_write = batch_mapping.write_mapping

    def disk_full(table: object, path: object) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(batch_mapping, "write_mapping", disk_full)
    with pytest.raises(OSError, match=r"kept in .*journal"):
        run_batch(make_core(), [inputs], options, on_result=interrupt_after(7))
    journal = journal_path(mapping)
    assert not mapping.exists() and stat.S_IMODE(journal.stat().st_mode) == 0o600
    with open(journal, "ab") as handle:  # as if killed in the middle of a line
        handle.write(b'[["uid", "1.2.3", "2.2')

    monkeypatch.setattr(batch_mapping, "write_mapping", original_write)
    resumed = BatchOptions(output=out, report=report, mapping=mapping, resume=True)
    second = run_batch(make_core(), [inputs], resumed)
    assert second.already_done == 7
    assert mapping.read_bytes() == reference.read_bytes()
    assert not journal.exists()


def test_a_stale_journal_without_resume_is_refused(tmp_path: Path, inputs: Path) -> None:
    mapping = tmp_path / "map.csv"
    journal_path(mapping).write_text('[["uid", "1.2.3", "2.25.4"]]\n')
    with pytest.raises(ConfigurationError, match=r"journal.*already exists"):
        run_batch(make_core(), [inputs], BatchOptions(output=tmp_path / "out", mapping=mapping))


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("map.csv", "id,value\n1,2\n"),
        ("map.csv", "kind,original,pseudonym\nuid,1.2.3\n"),
        ("map.sqlite", "not a database"),
    ],
)
def test_a_damaged_mapping_is_refused_on_resume(
    tmp_path: Path, inputs: Path, name: str, content: str
) -> None:
    mapping = tmp_path / name
    mapping.write_text(content)
    options = BatchOptions(
        output=tmp_path / "out", report=tmp_path / "r.jsonl", mapping=mapping, resume=True
    )
    with pytest.raises(ConfigurationError, match="not an idiscore mapping file"):
        run_batch(make_core(), [inputs], options)
    assert mapping.read_text() == content


def test_resuming_without_the_earlier_mapping_is_refused(tmp_path: Path, inputs: Path) -> None:
    out, report, mapping = tmp_path / "out", tmp_path / "report.jsonl", tmp_path / "map.csv"
    first = run_batch(
        make_core(),
        [inputs],
        BatchOptions(output=out, report=report),
        on_result=interrupt_after(3),
    )
    assert first.interrupted
    resumed = BatchOptions(output=out, report=report, mapping=mapping, resume=True)
    with pytest.raises(ConfigurationError, match=r"does not exist.*would miss"):
        run_batch(make_core(), [inputs], resumed)
    assert not mapping.exists() and not journal_path(mapping).exists()


def test_a_batch_that_cannot_start_leaves_no_journal(tmp_path: Path, inputs: Path) -> None:
    (tmp_path / "a-file").write_text("")
    mapping = tmp_path / "map.csv"
    options = BatchOptions(
        output=tmp_path / "out", report=tmp_path / "a-file" / "report.jsonl", mapping=mapping
    )
    with pytest.raises(OSError):
        run_batch(make_core(), [inputs], options)
    assert not mapping.exists() and not journal_path(mapping).exists()
