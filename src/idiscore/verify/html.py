"""The self-contained HTML report of an audit (filled in by the next change)."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["write_html"]


def write_html(summary: Any, path: str | os.PathLike[str]) -> None:
    raise NotImplementedError
