"""Verify a de-identification run: prove that nothing identifying leaked.

::

    from idiscore.verify import VerifyOptions, run_verify

    summary = run_verify("incoming/", "clean/", VerifyOptions(report=Path("verify.jsonl")))

Modules: :mod:`~idiscore.verify.values` (what identified the patient in an input),
:mod:`~idiscore.verify.search` (finding those values in an output's bytes),
:mod:`~idiscore.verify.audit` (the verdict on one input/output pair),
:mod:`~idiscore.verify.runner` (pairing, workers, the set-wide UID checks).
"""

from idiscore.verify.audit import STATUSES, PairResult, PairTask, PairVerifier, applied_profile
from idiscore.verify.runner import VerifyOptions, VerifySummary, pair_tasks, run_verify
from idiscore.verify.values import IdentifyingValue, collect_values

__all__ = [
    "STATUSES",
    "IdentifyingValue",
    "PairResult",
    "PairTask",
    "PairVerifier",
    "VerifyOptions",
    "VerifySummary",
    "applied_profile",
    "collect_values",
    "pair_tasks",
    "run_verify",
]
