"""How fast the Train live view gets somewhere: `reverse` at the view's default size, from Play.

    python benchmarks/train_live_benchmark.py [--task reverse] [--runs 3]

Each run starts a job exactly as the page's Play does (app_support.training.runner: a worker process with one
torch thread and a lower priority, reporting once a second as the page sees it) and times, from Play:
  - mirrored: the first report in which the probe's cross-attention (last layer, mean of heads) puts its
    largest weight on the input letter each row writes (the mirrored position, for reverse) in >= 80 % of
    its rows (target: 30 s);
  - exact 0.9: the first report with exact match >= 0.9 on the 200 held-out pairs (target: 60 s).
The reference, measured in the same run: the bare training loop (`transformer.train.setup`, `Run.step`, the
same command line, in this process, one thread, no reports) taking as many steps as the job had taken when
it reached exact 0.9. The ratio is what the process start, the reports and the page's probe cost. Times are
medians of --runs. One core is all a job uses; what else the machine runs (its load average) is printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app_support.training.runner import Runner  # noqa: E402
from app_support.training.spec import TrainSpec, reads_what_it_writes  # noqa: E402

MIRRORED, EXACT = 0.8, 0.9
LIMIT = 180.0  # seconds a run may take before it counts as not reaching the targets


def live_run(spec: TrainSpec) -> dict:
    """Seconds (and steps) from Play to each target, through the runner as the page uses it."""
    runner = Runner(slots=1, slice_seconds=LIMIT)
    job = runner.job("benchmark", spec)
    start = time.monotonic()
    runner.play(job)
    seen, found = 0, {}
    try:
        while time.monotonic() - start < LIMIT and len(found) < 2:
            time.sleep(0.05)
            with runner.lock:
                new = job.snapshots[seen:]
                seen = len(job.snapshots)
                points = {p["step"]: p for p in job.curve}
                state = job.state
            for snap in new:
                at = time.monotonic() - start  # when the page could show it (within its 1 s redraw)
                hits, total = reads_what_it_writes(snap.attention["cross"], job.src_tokens, job.tgt_tokens)
                if "mirrored" not in found and total and hits / total >= MIRRORED:
                    found["mirrored"] = (at, snap.step)
                if "exact" not in found and points.get(snap.step, {}).get("exact", 0) >= EXACT:
                    found["exact"] = (at, snap.step)
            if state in ("failed", "done"):
                break
    finally:
        runner.shutdown()
    return found


def bare_loop(spec: TrainSpec, steps: int) -> float:
    """Seconds the training loop alone takes for `steps` steps (setup included, as the job's start is)."""
    import torch

    from transformer import train

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as out:
        argv = spec.argv(out)
        at = argv.index("--snapshots")  # no snapshots: the loop alone
        argv = [*argv[:at], *argv[at + 2 :], "--steps", str(steps)]
        start = time.monotonic()
        run = train.setup(argv)
        while run.step():
            pass
        took = time.monotonic() - start
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="reverse")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    spec = TrainSpec(task=args.task)
    print(f"task {spec.task}: {spec.enc_layers}+{spec.dec_layers} layers, {spec.heads} heads, d_model "
          f"{spec.d_model}, d_ff {spec.d_ff}, peak lr {spec.lr}, warm-up {spec.warmup}, seed {spec.seed}; "
          f"load average at start {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")  # fmt: skip
    runs = []
    for i in range(args.runs):
        found = live_run(spec)
        ref = bare_loop(spec, found["exact"][1]) if "exact" in found else float("nan")
        runs.append((found, ref))
        cells = [
            f"{found[k][0]:.1f} s (step {found[k][1]})" if k in found else f"> {LIMIT:.0f} s"
            for k in ("mirrored", "exact")
        ]
        print(f"run {i + 1}: mirrored {cells[0]}, exact 0.9 {cells[1]}, bare loop to that step {ref:.1f} s")

    def median(key: str) -> float:
        return statistics.median(f[key][0] if key in f else float("inf") for f, _ in runs)

    exact, ref = median("exact"), statistics.median(r for _, r in runs)
    print()
    print("| from Play, median of", args.runs, "| seconds | target |")
    print("|---|---|---|")
    print(
        f"| cross-attention on the mirrored letter in >= 80 % of the probe's rows | {median('mirrored'):.1f} | 30 |"
    )
    print(f"| exact match >= 0.9 on 200 held-out pairs | {exact:.1f} | 60 |")
    print(f"| reference: the bare training loop, same steps, in-process | {ref:.1f} | |")
    print(f"| ratio live / bare loop | {exact / ref:.2f}x | |")


if __name__ == "__main__":
    main()
