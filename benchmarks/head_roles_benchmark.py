"""How long head roles take (transformer.head_roles), beside the trace they are computed from.

    python benchmarks/head_roles_benchmark.py [--model en-de] [--repeats 20]

Rows: `model.trace` of a 15-word sentence (greedy decode + one captured pass: what the app computes
anyway, the reference of the ratio column); `trace_roles` on that trace (every head of every kind, one
sentence: target ≤ 0.5 s of CPU); `set_roles` over the eval set (each item traced teacher-forced on its
reference and scored: what the app caches once per model). Reference and roles are timed interleaved in
one process; times are medians of --repeats (the set: of --repeats // 5, at least 3).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.alignment import load_set  # noqa: E402
from transformer import load_pretrained  # noqa: E402
from transformer.head_roles import set_roles, trace_roles  # noqa: E402

SENTENCE = "The old man who lives near the river walked slowly to the station this morning."  # 15 words


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="en-de")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    model, items = load_pretrained(args.model), load_set()
    trace = model.trace(SENTENCE)  # warm-up, and the trace the roles are computed on
    trace_roles(model, trace)
    ref, roles = [], []
    for _ in range(args.repeats):  # interleaved, so background load hits both alike
        ref.append(timed(lambda: model.trace(SENTENCE)))
        roles.append(timed(lambda: trace_roles(model, trace)))
    whole = [timed(lambda: set_roles(model, items)) for _ in range(max(3, args.repeats // 5))]
    base = statistics.median(ref)
    rows = [
        (f"`{model.name}`, a 15-word sentence: `model.trace` (greedy decode + one captured pass)", base, ""),
        ("`trace_roles` on that trace: every head of every kind", statistics.median(roles), "≤ 500 ms"),
        (
            f"`set_roles` over the eval set ({len(items)} items, each traced and scored)",
            statistics.median(whole),
            "",
        ),
    ]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| measurement | time | ratio to the trace | target |\n|---|---:|---:|---|")
    for what, seconds, target in rows:
        print(f"| {what} | {seconds * 1000:,.1f} ms | {seconds / base:.2f}× | {target} |")


if __name__ == "__main__":
    main()
