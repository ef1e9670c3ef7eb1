"""Checkpoint averaging (paper §6.1: "a single model obtained by averaging the last 5 checkpoints").

    python -m tools.average runs/en-de --last 5 --out runs/en-de/avg5
    python -m tools.average runs/en-de/checkpoints/step-00004000 runs/en-de/checkpoints/step-00004500 --out DIR

The result is an ordinary model directory (config, weights, tokenizer, metadata): the element-wise mean
of the checkpoints' weights, with the metadata of the newest one plus the list of what was averaged.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from transformer.checkpoint import STORAGE_DTYPES, CheckpointError, load_model, save_model
from transformer.model import Transformer


def run_checkpoints(run: Path) -> list[Path]:
    """A training run's checkpoint directories, oldest first (names are zero-padded step numbers)."""
    return sorted(p for p in (run / "checkpoints").glob("step-*") if p.is_dir())


@torch.no_grad()
def average_models(models: list[Transformer]) -> Transformer:
    """A new model holding the mean of the given models' parameters and buffers (all of one config)."""
    if not models:
        raise ValueError("nothing to average")
    config = models[0].config
    if any(m.config != config for m in models[1:]):
        raise CheckpointError("checkpoints to average must share one config")
    out = Transformer(config)
    states = [m.state_dict() for m in models]
    averaged = {}
    for name, value in states[0].items():
        if value.is_floating_point():
            # float64 accumulation: the mean of 5+ float32 tensors then rounds once
            averaged[name] = (sum(s[name].double() for s in states) / len(states)).to(value.dtype)
        else:
            averaged[name] = value
    out.load_state_dict(averaged)
    return out.eval()


def average_checkpoints(dirs: list[Path], out: Path, dtype: str = "float32") -> Path:
    """Average the model directories `dirs` (newest last) into the model directory `out`
    (weights stored as `dtype`)."""
    loaded = [load_model(d) for d in dirs]
    model = average_models([m for m, _, _ in loaded])
    _, tokenizer, metadata = loaded[-1]
    metadata = {**metadata, "averaged": [d.name for d in dirs], "stored_as": dtype}
    return save_model(out, model, tokenizer, metadata, dtype)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tools.average",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="+", help="a training run directory, or checkpoint/model directories")
    p.add_argument(
        "--last", type=int, default=5, help="with a run directory: average its newest N checkpoints"
    )
    p.add_argument("--out", required=True, help="model directory to write")
    p.add_argument(
        "--dtype",
        choices=tuple(STORAGE_DTYPES),
        default="float32",
        help="how the weights file stores numbers: float16 halves it (loaded back as float32)",
    )
    args = p.parse_args(argv)
    if len(args.paths) == 1 and (Path(args.paths[0]) / "checkpoints").is_dir():
        dirs = run_checkpoints(Path(args.paths[0]))[-args.last :]
    else:
        dirs = [Path(x) for x in args.paths]
    if not dirs:
        print(f"error: no checkpoints in {args.paths[0]}", file=sys.stderr)
        return 2
    try:
        out = average_checkpoints(dirs, Path(args.out), args.dtype)
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"averaged {len(dirs)} checkpoints ({', '.join(d.name for d in dirs)}) into {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
