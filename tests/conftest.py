"""Shared fixtures. Every test runs with a fixed secret key unless it changes it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "idiscore",
    derandomize=True,
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("idiscore")

TEST_KEY = "idiscore-test-key-0123456789"


@pytest.fixture(autouse=True)
def _fixed_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("IDISCORE_KEY", os.environ.get("IDISCORE_TEST_KEY", TEST_KEY))
    yield
