"""Descriptor cleaning on the labelled corpus: recall, precision and time per call.

    .venv/bin/python benchmarks/clean_text.py                   # this checkout
    .venv/bin/python benchmarks/clean_text.py --baseline aae89fb   # and a revision beside it

The corpus is ``tests/data/clean_corpus.txt`` (see ``tests/clean_corpus.py``). Recall is the
share of labelled identifier tokens that do not survive; precision the share of the words a
reader needs (the unmarked tokens of the corpus) that do. The time is the median, over
``--repeat`` rounds, of one round of ``clean_text`` on every case divided by the number of
cases; the dataset's identifying values are computed before the clock starts (the core does
that once per dataset). ``clean_text`` itself remembers nothing between calls except the
matcher of a set of identifying values; the core remembers whole results per value.

``--baseline REV`` loads ``src/idiscore/cleaning.py`` and its vocabulary from the git
revision ``REV`` and measures it on the same corpus, in the same process, interleaved. It
suits revisions from before ``cleaning`` was split (``aae89fb``): a later ``cleaning.py``
imports the other modules of this checkout.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from clean_corpus import Case, load, score  # noqa: E402

from idiscore import cleaning  # noqa: E402

Cleaner = Callable[[str, frozenset[str]], str]


def _module_at(revision: str) -> tuple[ModuleType, object]:
    """``cleaning.py`` and its vocabulary as they were at ``revision``."""

    def show(path: str) -> str:
        return subprocess.run(
            ["git", "show", f"{revision}:{path}"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    folder = Path(tempfile.mkdtemp(prefix="idiscore-clean-"))
    source = folder / "baseline_cleaning.py"
    source.write_text(show("src/idiscore/cleaning.py"), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("baseline_cleaning", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["baseline_cleaning"] = module
    spec.loader.exec_module(module)
    vocabulary = module.Vocabulary.from_text(show("src/idiscore/data/vocabulary.txt"))
    return module, vocabulary


def _cleaner(module: ModuleType, vocabulary: object | None) -> Cleaner:
    def clean(text: str, values: frozenset[str]) -> str:
        if vocabulary is None:
            return str(module.clean_text(text, values))
        return str(module.clean_text(text, values, vocabulary=vocabulary))

    return clean


def _values(
    module: ModuleType, vocabulary: object | None, cases: list[Case]
) -> list[frozenset[str]]:
    found = []
    for case in cases:
        if not case.attributes:
            found.append(frozenset())
        elif vocabulary is None:
            found.append(module.identifying_values(case.dataset()))
        else:
            found.append(module.find_identifying_values(case.dataset(), vocabulary=vocabulary))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="a git revision to measure beside this checkout")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)

    cases = load()
    variants: dict[str, tuple[Cleaner, list[frozenset[str]]]] = {
        "this checkout": (_cleaner(cleaning, None), _values(cleaning, None, cases))
    }
    if args.baseline:
        module, vocabulary = _module_at(args.baseline)
        variants[f"baseline {args.baseline}"] = (
            _cleaner(module, vocabulary),
            _values(module, vocabulary, cases),
        )

    times: dict[str, list[float]] = {name: [] for name in variants}
    outputs: dict[str, list[str]] = {}
    for _ in range(args.repeat):
        for name, (clean, values) in variants.items():
            start = time.perf_counter()
            results = [clean(case.text, found) for case, found in zip(cases, values, strict=True)]
            times[name].append(time.perf_counter() - start)
            outputs[name] = results

    print(f"corpus: {len(cases)} cases ({sum(len(c.text) for c in cases)} characters)")
    print(f"{'variant':<24} {'recall':>7} {'precision':>10} {'leaked':>7} {'us/call':>8}")
    for name in variants:
        result = score(zip(cases, outputs[name], strict=True))
        per_call = statistics.median(times[name]) / len(cases) * 1e6
        leaked = sum(len(keys) for _, _, keys in result.leaked)
        print(
            f"{name:<24} {result.recall:>7.3f} {result.precision:>10.3f} {leaked:>7}"
            f" {per_call:>8.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
