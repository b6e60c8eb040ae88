"""Same files, same key: the same bytes, whatever the input order and the number of workers.

Three patients, two studies each, images that refer to one another, a crosswalk for one
patient: de-identified in any order, in this process or in a pool of two, every output file
and the mapping file are byte-identical to those of a run in sorted order in one process.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from idiscore.batch import BatchOptions, run_batch
from idiscore.core import Core
from idiscore.defaults import profile_from_options
from idiscore.identifiers import SingleTag
from idiscore.insertions import StandardInsertions
from idiscore.operators import Hash, Keep
from idiscore.pseudonyms import Crosswalk, Pseudonymizer
from idiscore.rules import Rule, RuleSet

from factories import LINKED_PATIENTS, linked_datasets

FILES = len(linked_datasets())
LINK = RuleSet(
    [
        Rule(SingleTag("PatientID"), Hash()),
        Rule(SingleTag("PatientName"), Hash(prefix="P")),
        Rule(SingleTag("AccessionNumber"), Hash()),
        Rule(SingleTag("SourceImageSequence"), Keep()),
        Rule(SingleTag("ReferencedImageSequence"), Keep()),
    ],
    name="linkable pseudonyms",
)


def make_core() -> Core:
    crosswalk = Crosswalk(patient_ids={LINKED_PATIENTS[2][0]: "TRIAL-C-03"})
    return Core(
        profile_from_options(["retain_long_modified_dates"], extra=[LINK]),
        [StandardInsertions()],
        pseudonymizer=Pseudonymizer("order-test-key", crosswalk=crosswalk),
    )


@pytest.fixture(scope="module")
def input_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The linked files in one folder (flat names, so each file can be an input by itself)."""
    folder = tmp_path_factory.mktemp("independence") / "in"
    folder.mkdir()
    paths = []
    for relative, ds in linked_datasets().items():
        path = folder / relative.replace("/", "-")
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return sorted(paths)


def deidentify(files: list[Path], root: Path, workers: int, layout: str) -> dict[str, bytes]:
    """Output files by relative path, and the mapping file as ``"<mapping>"``."""
    out, mapping = root / "out", root / "map.csv"
    options = BatchOptions(output=out, layout=layout, mapping=mapping, workers=workers)
    summary = run_batch(make_core(), files, options)
    assert summary.ok and summary.counts["done"] == FILES
    result = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert len(result) == FILES
    result["<mapping>"] = mapping.read_bytes()
    return result


_references: dict[str, dict[str, bytes]] = {}


def reference(files: list[Path], layout: str) -> dict[str, bytes]:
    if layout not in _references:
        with tempfile.TemporaryDirectory() as root:
            _references[layout] = deidentify(files, Path(root), 1, layout)
    return _references[layout]


@settings(max_examples=5)
@given(
    order=st.permutations(range(FILES)),
    workers=st.sampled_from([1, 2]),
    layout=st.sampled_from(["mirror", "patient"]),
)
@example(order=list(reversed(range(FILES))), workers=2, layout="mirror")
@example(order=list(range(1, FILES, 2)) + list(range(0, FILES, 2)), workers=1, layout="patient")
def test_same_bytes_in_any_order_with_any_number_of_workers(
    input_files: list[Path], order: list[int], workers: int, layout: str
) -> None:
    expected = reference(input_files, layout)
    with tempfile.TemporaryDirectory() as root:
        got = deidentify([input_files[i] for i in order], Path(root), workers, layout)
    assert got.keys() == expected.keys()
    for name, data in expected.items():
        assert got[name] == data, f"{name} differs"
