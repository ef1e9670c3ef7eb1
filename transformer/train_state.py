"""Training checkpoints that resume exactly: weights, Adam moments, LR schedule, RNG, data position.

A training checkpoint is a model directory (checkpoint.py) plus
    trainer.safetensors   optimizer tensors and the RNG state
    trainer.json          step, epoch, position in the epoch, scheduler and optimizer hyper-parameters
written as one directory OUT/checkpoints/step-N/ that is renamed into place; only then is
OUT/LATEST replaced (atomically) to name it. A run killed at any moment leaves LATEST naming
a complete checkpoint; `recover_interrupted_writes`, run when training starts, removes what
such a kill left half written and puts back a checkpoint that was moved aside for a re-save.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file

from .checkpoint import (
    CONFIG,
    WEIGHTS,
    CheckpointError,
    check_state,
    load_tokenizer,
    load_weights,
    read_json,
    write_atomic_dir,
    write_model_files,
)
from .config import ConfigError, TransformerConfig
from .model import Transformer
from .pretrained import LATEST

TRAINER_TENSORS, TRAINER_JSON = "trainer.safetensors", "trainer.json"
# what write_atomic_dir / write_latest leave when killed: .step-N.tmp-PID-xxxx, .step-N.old-PID, .LATEST.tmp-PID
INTERRUPTED = re.compile(r"\.(?P<name>step-\d+|LATEST|model)\.(?P<kind>tmp|old)-(?P<tag>[\w-]*)")


def _optimizer_to_files(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = optimizer.state_dict()
    tensors = {}
    for idx, st in sd["state"].items():
        for name, value in st.items():
            tensors[f"optim.{idx}.{name}"] = value.detach().cpu().contiguous()
    return tensors, {"param_groups": sd["param_groups"]}


def _optimizer_from_files(tensors: dict[str, torch.Tensor], info: dict) -> dict:
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    return {"state": state, "param_groups": info["param_groups"]}


def write_latest(out: Path, name: str) -> None:
    tmp = out / f".{LATEST}.tmp-{os.getpid()}"
    tmp.write_text(name + "\n")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, out / LATEST)


def _writer_alive(tag: str) -> bool:
    """Whether the process named at the start of a temporary name's tag still runs (not this one)."""
    pid = re.match(r"\d+", tag)
    if pid is None or int(pid[0]) == os.getpid():
        return False
    try:
        os.kill(int(pid[0]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by another user
        return True
    return True


def recover_interrupted_writes(out) -> list[str]:
    """Clean up after a run killed while writing into OUT; returns one line per thing done.

    In OUT/checkpoints and OUT: an unfinished `.X.tmp-PID-*` is deleted; a `.X.old-PID` (X moved
    aside to be replaced by a re-save under the same name) is put back when X is missing, the
    kill having fallen between the two renames, and deleted otherwise. Writes whose process is
    still alive are left alone.
    """
    out = Path(out)
    done = []
    for directory in (out / "checkpoints", out):
        if not directory.is_dir():
            continue
        for entry in sorted(directory.iterdir()):
            m = INTERRUPTED.fullmatch(entry.name)
            if m is None or _writer_alive(m["tag"]):
                continue
            target = directory / m["name"]
            if m["kind"] == "old" and not os.path.lexists(target):
                os.replace(entry, target)
                done.append(f"restored {target} from an interrupted re-save")
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            done.append(f"removed {entry.name}, left by an interrupted write")
    return done


def save_checkpoint(
    out, model, tokenizer, metadata, optimizer, scheduler, step, epoch, batch_pos, elapsed, keep=3
):
    """Write OUT/checkpoints/step-N atomically, point LATEST at it, delete all but the newest `keep`."""
    out = Path(out)
    name = f"step-{step:08d}"
    tensors, optim_info = _optimizer_to_files(optimizer)
    tensors["rng"] = torch.get_rng_state()
    info = {
        "step": step,
        "epoch": epoch,
        "batch_pos": batch_pos,
        "elapsed": elapsed,
        "scheduler": scheduler.state_dict(),  # the schedule itself is code; its lr_lambdas entry is [None]
        **optim_info,
    }

    def write(tmp: Path):
        write_model_files(tmp, model, tokenizer, metadata)
        save_file(tensors, str(tmp / TRAINER_TENSORS))
        (tmp / TRAINER_JSON).write_text(json.dumps(info, indent=1) + "\n")

    write_atomic_dir(out / "checkpoints" / name, write)
    write_latest(out, name)
    existing = sorted(p for p in (out / "checkpoints").iterdir() if p.name.startswith("step-"))
    for old in existing[: max(0, len(existing) - keep)]:
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)


def load_train_state(out) -> dict:
    """Everything needed to continue a run from OUT/LATEST."""
    out = Path(out)
    name = (out / LATEST).read_text().strip()
    directory = out / "checkpoints" / name
    if not name.startswith("step-") or not directory.is_dir():
        raise CheckpointError(
            f"{out / LATEST} names {name!r}, which is not a checkpoint in {out / 'checkpoints'}"
        )
    try:
        config = TransformerConfig.from_dict(read_json(directory / CONFIG, "config"))
    except ConfigError as e:
        raise CheckpointError(f"{directory}: {e}") from None
    tokenizer = load_tokenizer(directory, config)
    model_state = check_state(Transformer(config), load_weights(directory / WEIGHTS), directory)
    tensors = load_weights(directory / TRAINER_TENSORS)
    info = read_json(directory / TRAINER_JSON, "trainer state")
    return {
        "config": config,
        "tokenizer": tokenizer,
        "model": model_state,
        "optimizer": _optimizer_from_files(tensors, info),
        "scheduler": info["scheduler"],
        "rng": tensors["rng"],
        "step": info["step"],
        "epoch": info["epoch"],
        "batch_pos": info["batch_pos"],
        "elapsed": info["elapsed"],
        "directory": directory,
    }
