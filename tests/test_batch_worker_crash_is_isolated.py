"""A file that kills its worker process fails alone; the batch goes on with a new pool."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from pathlib import Path

from pydicom.data import get_testdata_file
from pydicom.dataelem import DataElement

from idiscore.batch import BatchOptions, run_batch
from idiscore.core import Core, Profile
from idiscore.operators import Operator
from idiscore.operators.base import Context
from idiscore.pseudonyms import Pseudonymizer
from idiscore.rules import Rule, RuleSet


class DieOnModality(Operator):
    """Kills the worker process when it sees an RT plan (simulates a crashing codec)."""

    def apply(self, element: DataElement, context: Context) -> DataElement | None:
        if element.value == "RTPLAN" and multiprocessing.parent_process() is not None:
            os._exit(3)
        return element


def test_crashing_file_fails_and_the_others_are_done(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "rtdose.dcm"):
        shutil.copyfile(str(get_testdata_file(name)), inputs / name)
    core = Core(
        Profile([RuleSet([Rule("Modality", DieOnModality())], name="crash")]),
        pseudonymizer=Pseudonymizer("k"),
    )
    report = tmp_path / "r.jsonl"
    summary = run_batch(
        core, [inputs], BatchOptions(output=tmp_path / "out", report=report, workers=2)
    )
    records = {Path(r["input"]).name: r for r in map(json.loads, report.read_text().splitlines())}
    assert records["rtplan.dcm"]["status"] == "failed"
    assert "worker process died" in records["rtplan.dcm"]["reason"]
    assert {n for n, r in records.items() if r["status"] == "done"} == {
        "CT_small.dcm",
        "MR_small.dcm",
        "rtdose.dcm",
    }
    assert summary.counts["done"] == 3 and summary.counts["failed"] == 1
    assert not list((tmp_path / "out").rglob("*.tmp"))
