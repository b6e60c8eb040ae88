"""docs/cluster.md's Python example runs: a dask.bag of paths and run_batch on a cluster."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

pytest.importorskip("distributed")

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def test_the_dask_bag_and_run_batch_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "cluster.md").read_text(), re.S)
    examples = [block for block in blocks if "dask.bag" in block]
    assert len(examples) == 1
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm"):
        shutil.copyfile(str(get_testdata_file(name)), incoming / name)
    (tmp_path / "secret.key").write_text("a key only this test knows\n")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "cluster_docs"}
    exec(compile(examples[0], "docs/cluster.md", "exec"), namespace)
    outcomes = dict(namespace["outcomes"])  # type: ignore[call-overload]
    assert set(outcomes) == {
        f"incoming/{n}" for n in ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm")
    }
    done = {Path(p).name for p, status in outcomes.items() if status == "done"}
    assert done and {p.name for p in (tmp_path / "clean-bag").iterdir()} == done
    records = [json.loads(line) for line in (tmp_path / "report.jsonl").read_text().splitlines()]
    assert len(records) == 3
    batch_done = {Path(r["input"]).name for r in records if r["status"] == "done"}
    assert batch_done == done
    for name in done:  # the same bytes from the bag and from the batch
        assert (tmp_path / "clean-bag" / name).read_bytes() == (
            tmp_path / "clean" / name
        ).read_bytes()
