"""The reliability tests' figures, collected while they run: `record(key, value)` and `count(key)`.

Written as JSON after every call to REPORT (the path in $RELIABILITY_REPORT, else
reliability-report.json in the system's temporary directory), printed as a "Reliability" block at the
end of the run (tests/conftest.py), and turned into the README's section by
benchmarks/reliability_summary.py. Under pytest-xdist each worker writes its own part beside REPORT
(reliability-report.gw0.json, ...) and the main process merges them into REPORT at the end (`collect`).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

ENV = "RELIABILITY_REPORT"
REPORT = Path(os.environ.get(ENV) or Path(tempfile.gettempdir()) / "reliability-report.json")
FIGURES: dict[str, object] = {}
_OUT = [REPORT]  # where this process writes: REPORT, or its worker's part under xdist


def _part(worker: str) -> Path:
    return REPORT.with_name(f"{REPORT.stem}.{worker}{REPORT.suffix}")


def _parts() -> list[Path]:
    return sorted(REPORT.parent.glob(f"{REPORT.stem}.*{REPORT.suffix}"))


def _write() -> None:
    _OUT[0].parent.mkdir(parents=True, exist_ok=True)
    _OUT[0].write_text(json.dumps(FIGURES, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def start(worker: str | None = None) -> None:
    """A new run: forget the figures; the main process (worker None) removes the last run's report and
    parts, an xdist worker ("gw0", ...) writes its own part from now on."""
    FIGURES.clear()
    _OUT[0] = _part(worker) if worker else REPORT
    for stale in [_OUT[0]] if worker else [REPORT, *_parts()]:
        stale.unlink(missing_ok=True)


def merge(parts: list[dict[str, object]]) -> dict[str, object]:
    """One report from the workers' parts: counts add up, lists of cases join, other figures are kept."""
    merged: dict[str, object] = {}
    for part in parts:
        for key, value in part.items():
            old = merged.get(key)
            if isinstance(old, list) and isinstance(value, list):
                merged[key] = old + [v for v in value if v not in old]
            elif isinstance(old, int) and isinstance(value, int):
                merged[key] = old + value
            else:
                merged[key] = value
    return merged


def collect() -> dict[str, object]:
    """This run's figures (the main process, after the run): REPORT, with the workers' parts merged into
    it and removed. Empty when no test recorded anything."""
    paths = [p for p in [REPORT, *_parts()] if p.exists()]
    figures = merge([json.loads(p.read_text(encoding="utf-8")) for p in paths])
    if figures and paths != [REPORT]:
        REPORT.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        for part in _parts():
            part.unlink()
    return figures


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
