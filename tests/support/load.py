"""What the load tests share (tests/reliability/test_load.py, test_load_train.py, test_load_class.py): the toy
`reverse` model's sentences and the heatmap row labels it shows for them, the JavaScript that waits for them,
a percentile, and a look at the server process from /proc (its memory, its child processes).

No psutil: /proc is read directly (Linux only, as the load tests are)."""

from __future__ import annotations

import asyncio
import contextlib
import html
import os
import random
import time
from pathlib import Path

from tests.support.browser import HTML_ROW_LABELS_JS

LETTERS = "abcdefghij"
ERROR_SELECTOR = '[data-testid="stException"], [data-testid="stAlertContentError"]'
# the row labels written on every heatmap: the Attention view's are HTML (viz.attention_html; a thinned
# label is hidden), read escaped as a Plotly heatmap's ticktext would be
LABELS_JS = HTML_ROW_LABELS_JS
# true once every heatmap (at least two) shows exactly the row labels `want`
MATCH_JS = """(want) => { const all = (LABELS)();
    return all.length >= 2 && all.every(l => JSON.stringify(l) === JSON.stringify(want)); }""".replace(
    "LABELS", LABELS_JS
)


def sentences(sessions: int, rounds: int) -> list[list[str]]:
    """sentences[i][k]: session i's k-th sentence; all different, 2..11 letters, next one never the same."""
    seen: set[str] = set()
    rng = random.Random(0)
    out = []
    for i in range(sessions):
        own = []
        for k in range(rounds):
            while True:
                s = " ".join(rng.choice(LETTERS) for _ in range(2 + (i + k) % 10))
                if s not in seen:
                    break
            seen.add(s)
            own.append(s)
        out.append(own)
    return out


def labels(sentence: str) -> list[str]:
    """The heatmap row labels the reverse model gives a sentence: ▁letter per word, then </s> (escaped)."""
    return [f"▁{w}" for w in sentence.split()] + [html.escape("</s>")]


async def poll(check, timeout: float, every: float = 0.2):
    """check() until it returns something true (returned), or None after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        await asyncio.sleep(every)
    return None


def percentile(values: list[float], q: float) -> float | None:
    """The q-th quantile (0..1) as the load tests report it: the sorted value at int(q * (n - 1))."""
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))] if ordered else None


# --- the server process, from /proc ----------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    """A process's resident memory (VmRSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no VmRSS for process {pid}")


def cmdline(pid: int) -> list[str]:
    """A process's arguments ([] once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def children(parent: int) -> list[int]:
    """The processes whose parent is `parent`, zombies (ended, not yet waited for) included."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(stat.parent.name))
    return sorted(found)


def running(parent: int, module: str) -> list[int]:
    """The children of `parent` running `python -m module`."""
    return [pid for pid in children(parent) if module in cmdline(pid)]


def cpu_seconds(pid: int | None) -> float:
    """utime + stime of a process, in seconds (0 when unknown)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
