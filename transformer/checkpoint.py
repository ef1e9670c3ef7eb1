"""Checkpoints: a directory of plain files, never a pickle.

    config.json         TransformerConfig
    model.safetensors   weights (tied matrices stored once)
    tokenizer.model     the sentencepiece model (a model converted from Marian has instead
                        source.spm, target.spm and vocab.json: tokenizer.MarianTokenizer)
    metadata.json       free-form: data, steps, metrics, how to rebuild
    snapshots/          optional: float16 weights along training (`list_snapshots`, `load_snapshot`)

A directory is written next to its destination and renamed into place, so a reader (or a
run killed mid-write) sees either the old checkpoint or the new one, never half of one.
Loading validates every file and raises one `CheckpointError` saying what is wrong.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .config import ConfigError, TransformerConfig
from .model import Transformer
from .tokenizer import MARIAN_FILES, SENTENCEPIECE_FILE, MarianTokenizer, Tokenizer, TokenizerError

CONFIG, WEIGHTS, TOKENIZER, METADATA = "config.json", "model.safetensors", SENTENCEPIECE_FILE, "metadata.json"
REQUIRED = (CONFIG, WEIGHTS, TOKENIZER)  # a model directory of ours; Marian's has MARIAN_FILES for TOKENIZER
PICKLE_MAGIC = (b"\x80", b"PK\x03\x04")  # pickle protocol 2+, and torch.save's zip container


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded; the message says which file and why."""


def _unique_state(model: Transformer) -> dict[str, torch.Tensor]:
    """state_dict with each shared (tied) tensor kept once, under its first name."""
    seen, out = set(), {}
    for name, tensor in model.state_dict().items():
        if tensor.data_ptr() in seen:
            continue
        seen.add(tensor.data_ptr())
        out[name] = tensor.detach().cpu().contiguous()
    return out


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic_dir(dest: Path, write) -> Path:
    """Call write(tmp_dir) to fill a fresh sibling directory, then swap it into `dest`."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # the writer's pid in the name tells a later run a dead write (stale) from a live one
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-{os.getpid()}-", dir=dest.parent))
    old = None
    try:
        write(tmp)
        for f in tmp.rglob("*"):  # a model directory may hold a folder: snapshots/
            if f.is_dir():
                fsync_dir(f)
                continue
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        fsync_dir(tmp)
        if dest.exists():
            old = dest.parent / f".{dest.name}.old-{os.getpid()}"
            os.replace(dest, old)
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    except BaseException:
        if old is not None and old.exists() and not dest.exists():
            os.replace(old, dest)  # interrupted between the two renames: the previous version stays
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return dest


STORAGE_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def write_model_files(
    directory: Path,
    model: Transformer,
    tokenizer: Tokenizer | MarianTokenizer,
    metadata: dict | None,
    dtype: str = "float32",
) -> None:
    directory = Path(directory)
    (directory / CONFIG).write_text(model.config.to_json())
    state = {name: t.to(STORAGE_DTYPES[dtype]) for name, t in _unique_state(model).items()}
    save_file(state, str(directory / WEIGHTS), metadata={"format": "pt"})
    tokenizer.write_files(directory)
    (directory / METADATA).write_text(json.dumps(metadata or {}, indent=2, ensure_ascii=False) + "\n")


def save_model(
    directory,
    model: Transformer,
    tokenizer: Tokenizer | MarianTokenizer,
    metadata: dict | None = None,
    dtype: str = "float32",
    snapshots: Path | None = None,
) -> Path:
    """Write a model directory atomically. dtype "float16"/"bfloat16" halves the weights file (a larger
    model fits a size budget); loading casts back to the model's float32. `snapshots`: a training run's
    snapshot folder, copied in as DIR/snapshots so the model directory carries its history."""

    def write(tmp: Path) -> None:
        write_model_files(tmp, model, tokenizer, metadata, dtype)
        if snapshots is not None and (Path(snapshots) / SNAPSHOT_INDEX).is_file():
            copy_snapshots(Path(snapshots), tmp / SNAPSHOTS)

    return write_atomic_dir(Path(directory), write)


def read_json(path: Path, what: str) -> dict:
    if os.path.lexists(path) and not path.is_file():  # open() would block on a FIFO
        raise CheckpointError(f"{what} {path} is not a regular file ({_not_a_file(path)})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{what} is missing: {path}") from None
    except OSError as e:
        raise CheckpointError(f"cannot read {what} {path}: {e.strerror or e}") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise CheckpointError(f"{what} {path} is not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{what} {path} must hold a JSON object")
    return data


def _not_a_file(path: Path) -> str:
    """Why a path that exists (perhaps only as a link) is not a regular file, in a few words."""
    if path.is_symlink() and not path.exists():
        return "a symlink that leads nowhere: dangling or a loop"
    return "a directory" if path.is_dir() else "a FIFO, socket or device"


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file, refusing pickles and naming truncation or corruption."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(9)
    except FileNotFoundError:
        raise CheckpointError(f"weights file is missing: {path}") from None
    except OSError as e:
        raise CheckpointError(f"cannot read weights {path}: {e.strerror}") from None
    # safetensors: an 8-byte header length, then the JSON header "{...": its length may well begin
    # with 0x80 (128 + 256·k bytes), so byte 8 decides before the pickle magic is looked at
    if head[8:9] != b"{" and head.startswith(PICKLE_MAGIC):
        raise CheckpointError(
            f"{path} is a pickle (torch.save / .pt) file; only safetensors weights are loaded, "
            "because unpickling can run arbitrary code"
        )
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(
            f"{path} is not a complete safetensors file (truncated or corrupt: {e})"
        ) from None


def pack_attention_projections(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Weights written before W_Q, W_K and W_V became one stacked parameter -> today's layout.

    Each attention's `w_q`, `w_k`, `w_v` (weight and bias) become rows [0, d), [d, 2d), [2d, 3d) of
    its `w_qkv`; a state already in today's layout is returned unchanged (same dict).
    """
    prefixes = [name[: -len("w_q.weight")] for name in state if name.endswith(".w_q.weight")]
    if not prefixes:
        return state
    out = dict(state)
    for p in prefixes:
        for part in ("weight", "bias"):
            names = [f"{p}w_{c}.{part}" for c in "qkv"]
            if all(n in out for n in names):
                out[f"{p}w_qkv.{part}"] = torch.cat([out.pop(n) for n in names])
    return out


def mismatch(what: str, found: list[str], sep: str = ", ") -> list[str]:
    """One clause of a "weights do not match" message: [] when nothing was found, else
    ["<what with the count>, e.g. <the first three>"]."""
    return [f"{what.format(len(found))}, e.g. {sep.join(found[:3])}"] if found else []


def check_state(model: Transformer, state: dict[str, torch.Tensor], source: Path) -> dict[str, torch.Tensor]:
    """Match a weights dict against the model's parameters; fill tied names; raise on any mismatch."""
    expected = model.state_dict()
    by_ptr: dict[int, str] = {}
    aliases: dict[str, str] = {}
    for name, tensor in expected.items():
        first = by_ptr.setdefault(tensor.data_ptr(), name)
        if first != name:
            aliases[name] = first
    unexpected = sorted(set(state) - set(expected))
    missing = sorted(n for n in expected if n not in state and aliases.get(n) not in state)
    wrong = [
        f"{n}: file {tuple(state[n].shape)} vs config {tuple(expected[n].shape)}"
        for n in expected
        if n in state and state[n].shape != expected[n].shape
    ]
    not_float = [
        f"{n}: {state[n].dtype}" for n in expected if n in state and not state[n].is_floating_point()
    ]
    problems = [
        *mismatch("{} tensor(s) not floating point", not_float),
        *mismatch("missing {} tensor(s)", missing),
        *mismatch("{} unexpected tensor(s)", unexpected),
        *mismatch("{} shape mismatch(es)", wrong, "; "),
    ]
    if problems:
        raise CheckpointError(f"weights in {source} do not match config.json: " + "; ".join(problems))
    full = dict(state)
    for name, first in aliases.items():
        full.setdefault(name, state[first])
    return full


def tokenizer_files(directory: Path) -> tuple[str, ...]:
    """Which tokenizer a model directory holds: (tokenizer.model,) for ours, MARIAN_FILES for a
    converted Marian model (its files all present, and no tokenizer.model)."""
    directory = Path(directory)
    if not os.path.lexists(directory / TOKENIZER) and all(
        os.path.lexists(directory / f) for f in MARIAN_FILES
    ):
        return MARIAN_FILES
    return (TOKENIZER,)


def load_tokenizer(directory: Path, config: TransformerConfig) -> Tokenizer | MarianTokenizer:
    """The directory's tokenizer (see `tokenizer_files`), checked against the config's vocabulary and ids."""
    directory = Path(directory)
    files = tokenizer_files(directory)
    try:
        tokenizer = (
            Tokenizer.load(directory / TOKENIZER)
            if files == (TOKENIZER,)
            else MarianTokenizer.load(directory)
        )
    except TokenizerError as e:
        raise CheckpointError(f"{directory / files[0] if len(files) == 1 else directory}: {e}") from None
    if tokenizer.vocab_size != config.src_vocab_size or tokenizer.vocab_size != config.tgt_vocab_size:
        raise CheckpointError(
            f"tokenizer has {tokenizer.vocab_size} pieces but config says "
            f"src {config.src_vocab_size} / tgt {config.tgt_vocab_size}"
        )
    if isinstance(tokenizer, MarianTokenizer):
        ids = {"pad": (tokenizer.pad_id, config.pad_id), "unk": (tokenizer.unk_id, config.unk_id)}
        ids["eos"] = (tokenizer.eos_id, config.eos_id)
        wrong = [f"{name} {tok} vs {cfg}" for name, (tok, cfg) in ids.items() if tok != cfg]
        if wrong:
            raise CheckpointError(f"vocab.json and config.json disagree on special ids: {', '.join(wrong)}")
    return tokenizer


def load_model(
    directory, map_location: str | torch.device = "cpu"
) -> tuple[Transformer, Tokenizer | MarianTokenizer, dict]:
    """Load (model in eval mode, tokenizer, metadata) from a checkpoint directory."""
    directory = Path(directory)
    if directory.is_symlink() and not directory.exists():
        raise CheckpointError(f"{directory} is a symlink that leads nowhere (dangling or a loop)")
    if not directory.exists():
        raise CheckpointError(f"no checkpoint at {directory}")
    if not directory.is_dir():
        raise CheckpointError(
            f"{directory} is a file; a checkpoint is a directory holding {', '.join(REQUIRED)}"
        )
    required = (CONFIG, WEIGHTS, *tokenizer_files(directory))
    for f in (*required, METADATA):
        if os.path.lexists(directory / f) and not (directory / f).is_file():
            raise CheckpointError(f"{directory / f} is not a regular file ({_not_a_file(directory / f)})")
    absent = [f for f in required if not (directory / f).is_file()]
    if absent:
        raise CheckpointError(f"checkpoint {directory} lacks {', '.join(absent)}")
    try:
        config = TransformerConfig.from_dict(read_json(directory / CONFIG, "config"))
    except ConfigError as e:
        raise CheckpointError(f"{directory / CONFIG}: {e}") from None
    tokenizer = load_tokenizer(directory, config)
    try:
        model = Transformer(config)
    except (RuntimeError, MemoryError) as e:  # e.g. d_ff=10**12: the allocation itself fails
        raise CheckpointError(
            f"{directory / CONFIG} describes a model too large to build here ({str(e).splitlines()[0]})"
        ) from None
    state = pack_attention_projections(load_weights(directory / WEIGHTS))
    state = check_state(model, state, directory / WEIGHTS)
    model.load_state_dict(state)
    metadata = read_json(directory / METADATA, "metadata") if os.path.lexists(directory / METADATA) else {}
    return model.to(map_location).eval(), tokenizer, metadata


# --- snapshots: the weights at a few steps of a training run ---------------------------------------
#
#     snapshots/index.json                 {"format": 1, "dtype": "float16", "planned": [steps],
#                                           "snapshots": [{"step", "file", "epoch", "valid_loss", ...}]}
#     snapshots/step-00000000.safetensors  float16 weights at step 0 (the initialisation), and so on
#
# A training run keeps them in OUT/snapshots (python -m transformer.train --snapshots N) and copies them
# into the model directory it exports. They load like model weights (safetensors only, shapes checked
# against config.json); a file's name always comes from its step, never from the index.

SNAPSHOTS, SNAPSHOT_INDEX, SNAPSHOT_DTYPE = "snapshots", "index.json", torch.float16


def snapshot_file(step: int) -> str:
    return f"step-{step:08d}.safetensors"


def snapshots_dir(directory) -> Path:
    """Where a model directory's snapshots are: DIR/snapshots, or, for a checkpoint of a training run
    (RUN/checkpoints/step-N, which has none of its own), the run's RUN/snapshots."""
    directory = Path(directory)
    own = directory / SNAPSHOTS
    run = directory.parent.parent / SNAPSHOTS
    if not os.path.lexists(own) and directory.parent.name == "checkpoints" and os.path.lexists(run):
        return run
    return own


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    _fsync_file(tmp)
    os.replace(tmp, path)


def read_snapshot_index(snap_dir) -> dict:
    """The index of a snapshot folder, checked: {"planned": [steps], "snapshots": [entries by step]}.

    No folder or no index: no snapshots. A broken index raises CheckpointError saying what is wrong.
    """
    snap_dir = Path(snap_dir)
    path = snap_dir / SNAPSHOT_INDEX
    if not os.path.lexists(path):
        return {"planned": [], "snapshots": []}
    index = read_json(path, "snapshot index")

    def is_step(v) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 10**12

    entries, planned = index.get("snapshots"), index.get("planned", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise CheckpointError(f"snapshot index {path}: 'snapshots' must be a list of objects")
    if not isinstance(planned, list) or not all(is_step(s) for s in planned):
        raise CheckpointError(f"snapshot index {path}: 'planned' must be a list of steps")
    steps = [e.get("step") for e in entries]
    if not all(is_step(s) for s in steps) or steps != sorted(set(steps)):
        raise CheckpointError(
            f"snapshot index {path}: each snapshot needs a whole-number step, in increasing order "
            f"(found {steps[:8]})"
        )
    for e in entries:
        if e.get("file", snapshot_file(e["step"])) != snapshot_file(e["step"]):
            raise CheckpointError(
                f"snapshot index {path}: step {e['step']} names file {str(e['file'])[:80]!r}, "
                f"expected {snapshot_file(e['step'])!r}"
            )
        for key, value in e.items():
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if key not in ("step", "file") and value is not None and not (number and math.isfinite(value)):
                raise CheckpointError(f"snapshot index {path}: step {e['step']}: {key} is not a number")
    return {"planned": list(planned), "snapshots": [dict(e) for e in entries]}


def list_snapshots(directory) -> list[dict]:
    """The snapshots of a model or run directory, oldest first: dicts with "step", "file" and the
    validation metrics recorded then ("valid_loss", "valid_ppl", "exact", ...); [] when it has none."""
    return read_snapshot_index(snapshots_dir(directory))["snapshots"]


def write_snapshot(snap_dir, model: Transformer, step: int, info: dict, planned: list[int]) -> dict:
    """Save the model's weights as the float16 snapshot of `step` in snap_dir and record it (with
    `info`, e.g. validation metrics) in the index; file and index are each replaced atomically."""
    snap_dir = Path(snap_dir)
    snap_dir.mkdir(parents=True, exist_ok=True)
    name = snapshot_file(step)
    tmp = snap_dir / f".{name}.tmp-{os.getpid()}"
    state = {n: t.to(SNAPSHOT_DTYPE) for n, t in _unique_state(model).items()}
    try:
        save_file(state, str(tmp), metadata={"format": "pt"})  # one key: more would be written in any order
        _fsync_file(tmp)
        os.replace(tmp, snap_dir / name)
    finally:
        tmp.unlink(missing_ok=True)
    entries = {e["step"]: e for e in read_snapshot_index(snap_dir)["snapshots"]}
    entries[step] = {"step": step, "file": name, **info}
    index = {"format": 1, "dtype": str(SNAPSHOT_DTYPE).removeprefix("torch."), "planned": list(planned),
             "snapshots": [entries[s] for s in sorted(entries)]}  # fmt: skip
    _write_json_atomic(snap_dir / SNAPSHOT_INDEX, index)
    fsync_dir(snap_dir)
    return entries[step]


def copy_snapshots(src: Path, dest: Path) -> None:
    """Copy a snapshot folder: its index and the files it lists (nothing else)."""
    dest.mkdir(parents=True, exist_ok=True)
    for entry in read_snapshot_index(src)["snapshots"]:
        shutil.copyfile(src / snapshot_file(entry["step"]), dest / snapshot_file(entry["step"]))
    shutil.copyfile(src / SNAPSHOT_INDEX, dest / SNAPSHOT_INDEX)


def load_snapshot(directory, step: int, model: Transformer) -> dict:
    """Load the snapshot of training step `step` of a model or run directory into `model` (same rules
    as model weights: safetensors only, every tensor checked against the model's config); returns its
    index entry. Raises CheckpointError naming the file and the problem.

        m = load_pretrained("reverse")
        early = Transformer(m.config)
        load_snapshot(resolve_model_dir("reverse"), 0, early)   # the initialisation
    """
    snap_dir = snapshots_dir(directory)
    entries = {e["step"]: e for e in list_snapshots(directory)}
    if step not in entries:
        have = ", ".join(str(s) for s in entries) or "none"
        raise CheckpointError(f"{snap_dir} has no snapshot of step {step} (steps: {have})")
    path = snap_dir / snapshot_file(step)
    if os.path.lexists(path) and not path.is_file():
        raise CheckpointError(f"{path} is not a regular file ({_not_a_file(path)})")
    state = check_state(model, pack_attention_projections(load_weights(path)), path)
    model.load_state_dict(state)
    return entries[step]
