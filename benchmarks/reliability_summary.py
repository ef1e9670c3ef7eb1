"""Run the reliability and load tests and write their figures into the README's "Reliability" section.

    python benchmarks/reliability_summary.py                 # run the tests, then rewrite the README block
    python benchmarks/reliability_summary.py --from-json F   # only rewrite it from a report the tests wrote

The tests record their figures through tests/support/reliability_report.py; the block between
<!-- reliability:start --> and <!-- reliability:end --> in README.md is replaced by them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START, END = "<!-- reliability:start -->", "<!-- reliability:end -->"
TESTS = ["tests/reliability"]  # the load test and the test_reliability_*.py files


def run_tests(report: Path) -> int:
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        *TESTS,
    ]
    # the README's load figures: 30 s of typing (the suite types for 15 s, to stay within its five minutes)
    env = {"LOAD_SECONDS": "30", **os.environ, "RELIABILITY_REPORT": str(report)}
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def markdown(f: dict) -> str:
    """The figures as the README's bullet list."""
    lines = []
    load = f.get("load")
    if load:
        lines.append(
            f"- **Load:** {load['sessions']} browser sessions typing into one server at once served "
            f"{load['requests_served']} sentences, {load.get('sentences_per_s', '?')} a second sustained "
            f"(submit → heatmaps updated: p50 {load['latency_p50_s']} s, p95 {load['latency_p95_s']} s; "
            f"server CPU {load.get('server_cpu_per_sentence_s', '?')} s a sentence; on {load.get('cpus', '?')} "
            f"CPU cores shared with the 16 browsers, load average {load.get('load_average_1min', '?')} at the end); "
            f"cross-talk {load['crosstalk']}, errors {load['errors']}, timeouts {load['timeouts']} "
            "(`tests/reliability/test_load.py`)."
        )
    if "bad_inputs_through_the_library" in f or "hypothesis_examples" in f:
        lines.append(
            f"- **Hostile text:** {f.get('bad_inputs_through_the_library', 0)} bad inputs (empty, 10,000 "
            "characters, emoji, RTL, NUL, unpaired surrogates, HTML, Markdown, …) translated, traced and "
            f"drawn, and {f.get('hypothesis_examples', 0)} Hypothesis examples of arbitrary Unicode through "
            "the whole pipeline (`tests/reliability/test_reliability_inputs.py`)."
        )
    if "rss_growth_over_400_traces_mib" in f:
        lines.append(
            f"- **No leaks:** resident memory grew {f['rss_growth_over_400_traces_mib']} MiB over 400 traces "
            f"(bound: 20 MiB); hooks left afterwards: {f.get('hooks_left_after_500_traces')}."
        )
    if f.get("faults_survived"):
        lines.append(
            f"- **Faults survived, nothing lost:** {len(f['faults_survived'])} "
            f"({', '.join(f['faults_survived'])}) (`tests/reliability/test_reliability_training.py`)."
        )
    if f.get("broken_checkpoints_refused"):
        lines.append(
            f"- **Broken checkpoints refused** with one clear error each: {len(f['broken_checkpoints_refused'])} "
            "cases, no pickle ever unpickled (`tests/reliability/test_reliability_checkpoints.py`)."
        )
    return "\n".join(lines)


def write_readme(figures: dict) -> None:
    text = README.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{markdown(figures)}\n{END}{tail}", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-json", type=Path, help="a reliability-report.json to use instead of running")
    args = parser.parse_args()
    rc = 0
    report = args.from_json
    if report is None:
        report = Path(tempfile.mkdtemp(prefix="reliability-")) / "reliability-report.json"
        rc = run_tests(report)
    figures = json.loads(report.read_text(encoding="utf-8"))
    write_readme(figures)
    print(markdown(figures))
    return rc


if __name__ == "__main__":
    sys.exit(main())
