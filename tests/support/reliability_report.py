"""The reliability tests' figures, collected while they run: `record(key, value)` and `count(key)`.

Written as JSON after every call to REPORT (the path in $RELIABILITY_REPORT, else
reliability-report.json in pytest's base temporary directory, set by tests/conftest.py), printed as a
"Reliability" block at the end of the run, and turned into the README's section by
benchmarks/reliability_summary.py.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

ENV = "RELIABILITY_REPORT"
REPORT = Path(os.environ.get(ENV) or Path(tempfile.gettempdir()) / "reliability-report.json")
FIGURES: dict[str, object] = {}


def _write() -> None:
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(FIGURES, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def record(key: str, value: object) -> None:
    """Set one figure (a number, a string, a dict of numbers)."""
    FIGURES[key] = value
    _write()


def count(key: str, n: int = 1) -> None:
    """Add n to a running count."""
    FIGURES[key] = int(FIGURES.get(key, 0)) + n
    _write()


def survived(key: str, case: str) -> None:
    """Add a named case (a fault survived, a broken checkpoint refused) to a list, once."""
    cases = list(FIGURES.get(key, []))
    if case not in cases:
        cases.append(case)
    FIGURES[key] = cases
    _write()


def summary_lines(figures: dict[str, object]) -> list[str]:
    """The figures as `- key: value` lines, lists as their length and names."""
    lines = []
    for key, value in sorted(figures.items()):
        if isinstance(value, list):
            value = f"{len(value)} ({', '.join(map(str, value))})"
        elif isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        lines.append(f"- {key}: {value}")
    return lines
