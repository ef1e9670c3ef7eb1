"""Train a Transformer (paper §5): Adam(β2=0.98, ε=1e-9), warm-up learning rate, label smoothing.

    python -m transformer.train --task reverse --out runs/reverse            # a toy task, seconds on a CPU
    python -m transformer.train --data DIR --out runs/en-de --vocab-size 8000  # DIR holds train.tsv, valid.tsv
    python -m transformer.train ... --resume                                  # continue from OUT/LATEST
    torchrun --nproc_per_node 2 -m transformer.train ...                      # DDP (gloo on CPU, nccl on CUDA)

Output directory:
    OUT/checkpoints/step-00001234/   a model directory (loadable by load_pretrained) + trainer state
    OUT/LATEST                       name of the newest complete checkpoint (replaced atomically)
    OUT/model/                       the final model, written when training ends
    OUT/log.jsonl                    one JSON object per log line (train loss, lr, validation metrics)
    OUT/snapshots/                   with --snapshots N: float16 weights at N steps, copied into the model
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import torch
from torch import nn
from tqdm import tqdm

from . import data as D
from .checkpoint import (
    SNAPSHOTS,
    CheckpointError,
    load_model,
    read_snapshot_index,
    save_model,
    write_snapshot,
)
from .config import TransformerConfig
from .decoding import DEFAULT_ALPHA
from .evaluate import LOWER_IS_BETTER, METRICS, evaluate
from .model import Transformer
from .paths import portable
from .pretrained import LATEST
from .tokenizer import Tokenizer
from .train_state import load_train_state, recover_interrupted_writes, save_checkpoint


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m transformer.train",
        description="Train an encoder–decoder Transformer on sentence pairs or a synthetic task.",
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g = p.add_argument_group("data")
    src = g.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="directory with train.tsv and valid.tsv (source<TAB>target per line)")
    src.add_argument("--task", choices=D.SYNTHETIC_TASKS, help="a built-in synthetic task instead of --data")
    g.add_argument("--out", required=True, help="output directory for checkpoints, log and the final model")
    g.add_argument(
        "--tokenizer", help="an existing sentencepiece .model to use (default: train one on the train split)"
    )
    g.add_argument(
        "--vocab-size", type=int, default=8000, help="sentencepiece vocabulary size when training one"
    )
    g.add_argument(
        "--split",
        choices=SPLITS,
        default="pieces",
        help="--data: how the trained tokenizer cuts text: sentencepiece pieces (--vocab-size of them), "
        "one piece per character, or one per space-separated word (the vocabulary is then what the "
        "training pairs hold)",
    )
    g.add_argument("--task-size", type=int, default=20000, help="synthetic task: number of training pairs")
    g.add_argument(
        "--task-valid-size", type=int, default=500, help="synthetic task: held-out pairs for validation"
    )
    g.add_argument("--task-min-len", type=int, default=3, help="synthetic task: shortest sequence")
    g.add_argument("--task-max-len", type=int, default=12, help="synthetic task: longest sequence")
    g.add_argument(
        "--task-symbols", type=int, default=16, help="synthetic task: alphabet size (letters a, b, ...)"
    )

    g = p.add_argument_group("model (ignored with --resume: the checkpoint's config is used)")
    g.add_argument("--d-model", type=int, default=256, help="residual stream width")
    g.add_argument("--heads", type=int, default=4, help="attention heads per layer")
    g.add_argument("--enc-layers", type=int, default=3, help="encoder layers")
    g.add_argument("--dec-layers", type=int, default=3, help="decoder layers")
    g.add_argument("--d-ff", type=int, default=1024, help="feed-forward inner width")
    g.add_argument(
        "--dropout", type=float, default=0.1, help="dropout on embeddings, sub-layers and attention"
    )
    g.add_argument(
        "--max-len", type=int, default=128, help="longest sequence in pieces; longer pairs are dropped"
    )
    g.add_argument(
        "--positional",
        choices=("sinusoidal", "learned"),
        default="sinusoidal",
        help="positional encoding (§3.5)",
    )
    g.add_argument(
        "--norm", choices=("post", "pre"), default="post", help="LayerNorm after (paper) or before sub-layers"
    )
    g.add_argument("--no-tie", action="store_true", help="separate embedding matrices and output projection")

    g = p.add_argument_group("optimisation")
    g.add_argument(
        "--max-tokens", type=int, default=4096, help="padded tokens per batch and side (token budget)"
    )
    g.add_argument("--steps", type=int, default=10000, help="stop after this many optimizer steps")
    g.add_argument(
        "--max-minutes", type=float, default=None, help="stop (with a checkpoint) after this wall time"
    )
    g.add_argument(
        "--warmup", type=int, default=4000, help="warm-up steps of the paper's learning-rate schedule"
    )
    lr = g.add_mutually_exclusive_group()
    lr.add_argument(
        "--lr-factor", type=float, default=1.0, help="multiplies d_model^-0.5 · min(s^-0.5, s·warmup^-1.5)"
    )
    lr.add_argument(
        "--peak-lr",
        type=float,
        help="the learning rate at the end of warm-up, the schedule's peak (sets --lr-factor to match)",
    )
    g.add_argument("--label-smoothing", type=float, default=0.1, help="ε_ls of §5.4")
    g.add_argument("--clip", type=float, default=1.0, help="gradient-norm clipping (0 = off)")
    g.add_argument("--seed", type=int, default=1, help="seed for initialisation, batch order and dropout")
    g.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1 ...")
    g.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    g.add_argument(
        "--bf16",
        action="store_true",
        help="bfloat16 autocast for forward/loss (weights stay float32); "
        "about 1.7x faster on CPUs with AVX512-BF16 or AMX",
    )

    g = p.add_argument_group("validation, logging and checkpoints")
    g.add_argument(
        "--valid-every", type=int, default=1000, help="validate every N steps (loss, perplexity, exact match)"
    )
    g.add_argument(
        "--valid-samples",
        type=int,
        default=500,
        help="valid pairs greedily translated for exact match (BLEU/chrF: python -m tools.evaluate)",
    )
    g.add_argument("--log-every", type=int, default=100, help="write a train-loss line every N steps")
    g.add_argument("--save-every", type=int, default=1000, help="checkpoint every N steps")
    g.add_argument(
        "--save-minutes", type=float, default=10.0, help="also checkpoint when this many minutes passed"
    )
    g.add_argument(
        "--keep", type=int, default=3, help="keep the newest N checkpoints (older ones are deleted)"
    )
    g.add_argument(
        "--resume", action="store_true", help="continue from OUT/LATEST: weights, optimizer, LR, data order"
    )
    g.add_argument(
        "--init",
        metavar="MODEL_DIR",
        help="start from a trained model directory's weights, config and tokenizer (fresh optimizer and "
        "schedule; the model options above are then ignored): fine-tuning, or training a shipped model on",
    )
    g.add_argument(
        "--early-stop",
        metavar="METRIC=VALUE",
        type=early_stop_spec,
        help=f"stop once a validation metric ({', '.join(METRICS)}) reaches VALUE, e.g. exact=0.995 "
        "(loss-like metrics: valid_loss=1.5 stops at or below)",
    )
    g.add_argument(
        "--snapshots",
        metavar="N",
        type=snapshot_count,
        help="keep N float16 copies of the weights along the run (step 0, then spaced geometrically up to "
        "--steps, and the last step), with validation metrics, in OUT/snapshots and the exported model: "
        "the app's Attention view steps through them to show attention forming",
    )
    g.add_argument("--export", help="where to write the final model directory (default OUT/model)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


SPLITS = ("pieces", "char", "word")  # --split: how a tokenizer trained on --data cuts text


def lr_factor_for_peak(peak: float, d_model: int, warmup: int) -> float:
    """The --lr-factor whose schedule (noam_schedule) reaches `peak` at step `warmup`, where it peaks."""
    return peak * (d_model * max(warmup, 1)) ** 0.5


def early_stop_spec(text: str) -> str:
    """argparse type of --early-stop: "METRIC=NUMBER" for a metric validation computes, kept as written."""
    name, eq, value = text.partition("=")
    if name not in METRICS:
        raise argparse.ArgumentTypeError(
            f"{text!r}: METRIC must be one validation computes: {', '.join(METRICS)} "
            "(BLEU/chrF are scored after training: python -m tools.evaluate)"
        )
    try:
        float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"wants METRIC=NUMBER, got {text!r}") from None
    return text


def snapshot_count(text: str) -> int:
    """argparse type of --snapshots: a whole number of at least 2 (the initialisation and the end)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"wants a whole number, got {text!r}") from None
    if not 2 <= n <= 1000:
        raise argparse.ArgumentTypeError(f"wants 2 to 1000 snapshots (step 0 and the last at least), got {n}")
    return n


SNAPSHOT_FIRST = 1 / 50  # the first snapshot after step 0, as a share of the run's steps


def snapshot_schedule(n: int, total: int) -> list[int]:
    """The steps at which to keep n snapshots in a run of `total` steps: step 0 (the initialisation), then
    n - 1 steps spaced geometrically from total/50 to total, since attention forms early and then
    changes slowly. Each is at least one step after the one before; fewer when total is too short."""
    if n < 2 or total < 1:
        return [0]
    first = max(1.0, total * SNAPSHOT_FIRST)
    steps = [0]
    for k in range(n - 1):
        at = round(first * (total / first) ** (k / (n - 2))) if n > 2 else total
        steps.append(min(total, max(at, steps[-1] + 1)))
    return sorted(set(steps))


def parse_early_stop(text: str | None):
    """ "exact=0.99" -> predicate over a metrics dict; None -> never stop early."""
    if not text:
        return lambda metrics: False
    name, _, value = early_stop_spec(text).partition("=")
    target = float(value)
    lower_is_better = name in LOWER_IS_BETTER
    return lambda m: name in m and (m[name] <= target if lower_is_better else m[name] >= target)


def noam_schedule(d_model: int, warmup: int, factor: float):
    """Equation (3): lrate = d_model^-0.5 · min(step^-0.5, step · warmup^-1.5), step counted from 1."""

    def lr_at(step: int) -> float:
        step = step + 1  # LambdaLR starts at 0
        return factor * d_model**-0.5 * min(step**-0.5, step * warmup**-1.5)

    return lr_at


def check_output_dir(out: Path, n_params: int) -> None:
    """Fail before training when OUT cannot take a checkpoint: unwritable, or too little free disk."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as e:
        raise SystemExit(f"error: output directory {out} is not writable: {e.strerror or e}") from None
    need = n_params * 4 * 3 * 2 + (64 << 20)  # weights + Adam moments, two checkpoints alive at once, slack
    free = shutil.disk_usage(out).free
    if free < need:
        raise SystemExit(f"error: {out} has {free >> 20} MiB free; checkpoints need about {need >> 20} MiB")


def setup_distributed():
    """(rank, world_size); initialises torch.distributed under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world


def load_data(args, out: Path, resume_tokenizer: Tokenizer | None):
    """(tokenizer, train pairs, valid pairs, description for the metadata)."""
    if args.task:
        kw = {"min_len": args.task_min_len, "max_len": args.task_max_len, "n_symbols": args.task_symbols}
        train = D.synthetic_pairs(args.task, args.task_size, seed=args.seed, **kw)
        valid = D.synthetic_pairs(args.task, args.task_valid_size, seed=args.seed + 10_000, **kw)
        source = {"task": args.task, **kw, "train_pairs": len(train)}
    else:
        train, valid = D.read_tsv(Path(args.data) / "train.tsv"), D.read_tsv(Path(args.data) / "valid.tsv")
        source = {"data": portable(args.data), "train_pairs": len(train), "valid_pairs": len(valid)}
    if resume_tokenizer is not None:
        return resume_tokenizer, train, valid, source
    if args.tokenizer:
        return Tokenizer.load(args.tokenizer), train, valid, source
    return train_tokenizer(args, train), train, valid, source


def train_tokenizer(args, train: list[tuple[str, str]]) -> Tokenizer:
    """A tokenizer for the training pairs: one piece per symbol for a task (the toy's attention is then
    symbol to symbol), else as --split says."""
    lines = [s for pair in train for s in pair]
    with tempfile.TemporaryDirectory() as tmp:
        text = Path(tmp) / "text.txt"
        text.write_text("\n".join(lines) + "\n", encoding="utf-8")
        split = "word" if args.task else args.split
        if split == "pieces":
            return Tokenizer.train([text], Path(tmp) / "sp", args.vocab_size)
        # a closed vocabulary: exactly the characters or words the pairs hold, the 4 special pieces first
        units = {c for s in lines for c in s} if split == "char" else {w for s in lines for w in s.split()}
        n = 4 + len(units) + (split == "char")  # char: the word boundary ▁ is a piece of its own
        return Tokenizer.train(
            [text], Path(tmp) / "sp", n, model_type=split, byte_fallback=False, hard_vocab_limit=False,
            max_sentencepiece_length=max(16, *(len(u) for u in units)),
        )  # fmt: skip


def train(argv: list[str] | None = None) -> dict:
    """Run training; returns {"out", "step", "metrics", "model", "tokenizer", "stopped"}."""
    run = setup(argv)
    while run.step():
        pass
    return run.finish()


def setup(argv: list[str] | None = None) -> Run:
    """Everything before the first step: data, tokenizer, model, optimizer (fresh, from --init or
    resumed from OUT/LATEST), the log, the snapshot plan. `Run.step()` then trains one step at a time."""
    args = build_parser().parse_args(argv)
    reached = parse_early_stop(args.early_stop)
    rank, world = setup_distributed()
    out = Path(args.out)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "auto":
        device = torch.device(f"cuda:{rank}" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    state, init = starting_point(args, out, rank, world)
    given_tok = state["tokenizer"] if state else init[1] if init else None
    tok, train_pairs, valid_pairs, source = load_data(args, out, given_tok)
    config = state["config"] if state else init[0].config if init else config_from_args(args, tok)
    if args.peak_lr is not None:  # the model's own width: --resume and --init bring theirs
        args.lr_factor = lr_factor_for_peak(args.peak_lr, config.d_model, args.warmup)
    torch.manual_seed(args.seed)
    model = Transformer(config).to(device)
    if rank == 0:
        check_output_dir(out, model.num_parameters())
    train_data = D.encode_pairs(tok, train_pairs, config.max_len, config.eos_id)
    valid_data = D.encode_pairs(tok, valid_pairs, config.max_len, config.eos_id)
    optimizer = torch.optim.Adam(model.parameters(), lr=1.0, betas=(0.9, 0.98), eps=1e-9)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, noam_schedule(config.d_model, args.warmup, args.lr_factor)
    )
    position = {}  # where a resumed run stands
    if init:
        model.load_state_dict(init[0].state_dict())
    if state:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        position = {"steps_done": state["step"], **{k: state[k] for k in ("epoch", "batch_pos", "elapsed")}}
    ddp_model = model
    if world > 1:
        ddp_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    criterion = nn.CrossEntropyLoss(
        ignore_index=config.pad_id, label_smoothing=args.label_smoothing, reduction="sum"
    )
    metadata = run_metadata(args, source, valid_pairs, model, train_data.dropped, device, world)
    log = None
    if rank == 0:
        print(f"model: {model.num_parameters():,} parameters; {len(train_data.src):,} training pairs "
              f"({train_data.dropped} dropped as longer than {config.max_len}); device {device}", file=sys.stderr)  # fmt: skip
        # a resumed run appends; a fresh run starts the log again, or a card would plot two runs as one curve
        log = open(out / "log.jsonl", "a" if state is not None else "w")
    run = Run(
        args, out, rank, world, device, tok, model, ddp_model, reached, train_data, valid_data,
        optimizer, scheduler, criterion, metadata, log, **position,
    )  # fmt: skip
    if rank == 0 and threading_is_main():
        signal.signal(signal.SIGTERM, run.request_stop)
    run.plan_snapshots(resumed=state is not None)
    run.start()
    return run


def starting_point(args, out: Path, rank: int, world: int):
    """(trainer state to resume from or None, (model, tokenizer, metadata) of --init or None)."""
    if rank == 0 and out.is_dir():  # a killed run's half-written checkpoint must not linger or mislead
        for line in recover_interrupted_writes(out):
            print(line, file=sys.stderr)
    if world > 1:
        import torch.distributed as dist

        dist.barrier()  # the other ranks read the checkpoint rank 0 may just have put back
    state = load_train_state(out) if args.resume and (out / LATEST).is_file() else None
    if args.resume and state is None and rank == 0:
        print(f"--resume: no checkpoint in {out} yet, starting fresh", file=sys.stderr)
    init = None
    if args.init and state is None:  # --resume wins: a resumed run already started from --init
        try:
            init = load_model(args.init)
        except CheckpointError as e:
            raise SystemExit(f"error: --init: {e}") from None
    return state, init


def config_from_args(args, tok: Tokenizer) -> TransformerConfig:
    """A fresh model's config: the command line's sizes, the tokenizer's vocabulary."""
    return TransformerConfig(
        src_vocab_size=tok.vocab_size, tgt_vocab_size=tok.vocab_size, d_model=args.d_model, n_heads=args.heads,
        n_encoder_layers=args.enc_layers, n_decoder_layers=args.dec_layers, d_ff=args.d_ff,
        dropout=args.dropout, max_len=args.max_len, positional=args.positional, norm=args.norm,
        tie_embeddings=not args.no_tie,
    )  # fmt: skip


def run_metadata(args, source, valid_pairs, model: Transformer, dropped: int, device, world: int) -> dict:
    """What every checkpoint and the final model record about the run (metadata.json)."""
    # guards against degenerate loops for text; a synthetic task's outputs legitimately repeat symbols
    generation = {
        "alpha": DEFAULT_ALPHA,
        "max_repeat": None if args.task else 3,
        "no_repeat_ngram": None if args.task else 3,
    }
    train_args = {
        **vars(args),
        **{k: portable(getattr(args, k)) for k in ("data", "out", "export", "tokenizer", "init")},
    }
    return {
        "source": source,
        "train_args": train_args,
        "generation": generation,
        "examples": [s for s, _ in valid_pairs[:8]],
        "parameters": model.num_parameters(),
        "dropped_too_long": dropped,
        "hardware": describe_hardware(device, world),
    }


@dataclass(eq=False)
class Run:
    """A training run between steps: what `setup` built and where the loop stands.

    steps_done counts optimizer steps; epoch and batch_pos say which batch comes next (with the
    RNG state, what a checkpoint keeps so that --resume continues exactly).
    """

    args: argparse.Namespace
    out: Path
    rank: int
    world: int
    device: torch.device
    tok: Tokenizer
    model: Transformer
    ddp_model: nn.Module  # the model, or its DistributedDataParallel wrapper when world > 1
    reached: Callable[[dict], bool]  # --early-stop: whether validation metrics reached the target
    train_data: D.EncodedPairs
    valid_data: D.EncodedPairs
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    criterion: nn.Module
    metadata: dict  # what every checkpoint records about the run (run_metadata)
    log: TextIO | None  # OUT/log.jsonl, on rank 0
    steps_done: int = 0
    epoch: int = 0
    batch_pos: int = 0
    elapsed: float = 0.0  # training seconds, across resumed runs
    last_loss: torch.Tensor | None = None  # the last step's training loss per target token (label-smoothed)
    stopped: str | int | None = None  # why the run stops early: a signal number, "time", "early-stop"
    metrics: dict = field(default_factory=dict)  # the latest validation
    validated_at: int | None = None  # the step `metrics` describe
    planned: list[int] = field(default_factory=list)  # snapshot steps
    taken: set[int] = field(default_factory=set)
    batches: list | None = None  # this epoch's batches, made when its first step comes
    # set by start(): the clocks, the progress bar, the training loss since the last log line
    run_start: float = 0.0
    started: float = 0.0
    last_save: float = 0.0
    bar: tqdm | None = None
    window_loss: torch.Tensor | float = 0.0
    window_tokens: int = 0
    window_start: float = 0.0

    @property
    def snap_dir(self) -> Path:
        return self.out / SNAPSHOTS

    def request_stop(self, signum, _frame) -> None:
        self.stopped = signum

    def plan_snapshots(self, resumed: bool) -> None:
        """The schedule is fixed when a run starts and kept in the index, so --resume keeps it."""
        args = self.args
        if self.rank != 0:
            return
        if not resumed and self.snap_dir.is_dir():
            shutil.rmtree(self.snap_dir)  # a fresh run: an earlier run's snapshots would mislead
            print(f"removed {self.snap_dir}, left by an earlier run in {self.out}", file=sys.stderr)
        if args.snapshots or resumed:  # a resumed run goes on as it began
            try:
                index = read_snapshot_index(self.snap_dir)
            except CheckpointError as e:
                raise SystemExit(f"error: snapshots: {e}") from None
            self.planned = index["planned"] or (
                snapshot_schedule(args.snapshots, args.steps) if args.snapshots else []
            )
            self.taken = {e["step"] for e in index["snapshots"] if e["step"] <= self.steps_done}

    def start(self) -> None:
        """Start the clocks and the progress bar; the snapshot of step 0 (the initialisation) if planned."""
        args = self.args
        self.model.train()
        self.run_start = self.last_save = time.monotonic()
        self.started = self.run_start - self.elapsed  # `elapsed` counts training time across resumed runs
        quiet = args.quiet or self.rank != 0
        interval = 1 if sys.stderr.isatty() else 30  # a log file gets a line every 30 s, not every step
        self.bar = tqdm(total=args.steps, initial=self.steps_done, disable=quiet, mininterval=interval,
                        desc="train", unit="step", dynamic_ncols=True)  # fmt: skip
        self.window_loss, self.window_tokens, self.window_start = 0.0, 0, time.monotonic()
        if self.steps_done in self.planned and self.steps_done not in self.taken:
            self.snapshot()

    def epoch_batches(self) -> list:
        """This epoch's batches (index lists), shuffled by seed and epoch; an equal share per rank."""
        batches = D.make_batches(self.train_data, self.args.max_tokens, self.args.seed, self.epoch)
        return batches[: len(batches) - len(batches) % self.world][self.rank :: self.world]

    @property
    def running(self) -> bool:
        return self.steps_done < self.args.steps and self.stopped is None

    def step(self) -> bool:
        """One optimizer step on the next batch, then what falls due at it (log line, validation,
        snapshot, checkpoint). Returns whether there is another step to take."""
        if not self.running:
            return False
        while self.batches is None or self.batch_pos >= len(self.batches):
            if self.batches is not None:  # resumed from a checkpoint taken at an epoch's last step
                self.epoch, self.batch_pos = self.epoch + 1, 0
            self.batches = self.epoch_batches()
        args, config = self.args, self.model.config
        batch = D.collate(
            self.train_data, self.batches[self.batch_pos], config.pad_id, config.start_id, config.eos_id
        ).to(self.device)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=args.bf16):
            logits = self.ddp_model(batch.src, batch.tgt_in)  # (B, T, V)
        loss = (
            self.criterion(logits.float().reshape(-1, logits.shape[-1]), batch.tgt_out.reshape(-1))
            / batch.n_tokens
        )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if args.clip > 0:
            nn.utils.clip_grad_norm_(self.model.parameters(), args.clip)
        self.optimizer.step()
        self.scheduler.step()
        self.steps_done += 1
        self.batch_pos += 1
        self.elapsed = time.monotonic() - self.started
        self.last_loss = loss.detach()
        self.window_loss += loss.detach() * batch.n_tokens  # no .item() here: a GPU need not wait every step
        self.window_tokens += batch.n_tokens
        self.bar.update(1)
        self.after_step()
        return self.running

    def after_step(self) -> None:
        """What falls due at this step: a log line, the time limit, validation, a snapshot, a checkpoint."""
        args, n = self.args, self.steps_done
        if n % args.log_every == 0 and self.log:
            self.log_training()
        if args.max_minutes is not None and time.monotonic() - self.run_start > args.max_minutes * 60:
            self.stopped = "time"
        if n % args.valid_every == 0 and self.rank == 0:
            self.metrics, self.validated_at = self.validate(), n
            self.bar.write(f"step {n}: " + ", ".join(f"{k} {v}" for k, v in self.metrics.items()))
            if self.reached(self.metrics):
                self.stopped = "early-stop"
        if n in self.planned and self.rank == 0:
            self.snapshot(self.metrics if self.validated_at == n else None)
        if n % args.save_every == 0 or time.monotonic() - self.last_save > args.save_minutes * 60:
            self.checkpoint()
            self.last_save = time.monotonic()
        if self.batch_pos >= len(self.batches):  # the epoch is used up: the next step starts the next one
            self.epoch, self.batch_pos, self.batches = self.epoch + 1, 0, None

    def log_training(self) -> None:
        rate = self.window_tokens / max(time.monotonic() - self.window_start, 1e-9)
        line = {"step": self.steps_done, "epoch": self.epoch, "train_loss": round(float(self.window_loss) / self.window_tokens, 4),
                "lr": self.scheduler.get_last_lr()[0], "tokens_per_s": round(rate), "elapsed": round(self.elapsed, 1)}  # fmt: skip
        self.log.write(json.dumps(line) + "\n")
        self.log.flush()
        self.bar.set_postfix(loss=line["train_loss"], lr=f"{line['lr']:.2e}", tok_s=line["tokens_per_s"])
        self.window_loss, self.window_tokens, self.window_start = 0.0, 0, time.monotonic()
        release_memory()

    def evaluate(self) -> dict:
        args = self.args
        metrics = evaluate(
            self.model, self.tok, self.valid_data, args.valid_samples, args.max_tokens, self.device
        )
        self.model.train()
        return metrics

    def validate(self) -> dict:
        metrics = self.evaluate()
        if self.log:
            line = {
                "step": self.steps_done,
                "epoch": self.epoch,
                "elapsed": round(self.elapsed, 1),
                **metrics,
            }
            self.log.write(json.dumps(line) + "\n")
            self.log.flush()
        return metrics

    def snapshot(self, known: dict | None = None) -> None:
        """Keep the weights of this step, with its validation metrics (computed unless `known`)."""
        info = {"epoch": self.epoch, "elapsed": round(self.elapsed, 1), **(known or self.evaluate())}
        write_snapshot(self.snap_dir, self.model, self.steps_done, info, self.planned)
        self.taken.add(self.steps_done)

    def meta(self) -> dict:
        """A checkpoint's metadata.json: the run's, where it stands, the latest validation."""
        meta = {
            **self.metadata,
            "step": self.steps_done,
            "epoch": self.epoch,
            "train_seconds": round(self.elapsed, 1),
        }
        return {**meta, "metrics": self.metrics} if self.metrics else meta

    def checkpoint(self) -> None:
        if self.rank == 0:
            save_checkpoint(
                self.out, self.model, self.tok, self.meta(), self.optimizer, self.scheduler,
                self.steps_done, self.epoch, self.batch_pos, self.elapsed, self.args.keep,
            )  # fmt: skip

    def finish(self) -> dict:
        """After the last step: a last validation, the final checkpoint and the exported model.
        Returns {"out", "step", "metrics", "model", "tokenizer", "stopped"}."""
        self.bar.close()
        if self.rank == 0:
            finished = self.stopped in (None, "early-stop")
            if (
                self.stopped is None and self.validated_at != self.steps_done
            ):  # ran every step: one last validation
                self.metrics = self.validate()
            if finished:
                print("final: " + ", ".join(f"{k} {v}" for k, v in self.metrics.items()), file=sys.stderr)
                if (
                    self.planned and self.steps_done not in self.taken
                ):  # stopped early, before the last planned step
                    self.snapshot(self.metrics)
            self.checkpoint()
            if finished:
                export = Path(self.args.export) if self.args.export else self.out / "model"
                meta = {
                    **self.meta(),
                    "metrics": self.metrics,
                }  # the final model records them even when empty
                save_model(
                    export, self.model, self.tok, meta, snapshots=self.snap_dir if self.planned else None
                )
            else:
                print(
                    f"stopped ({self.stopped}) at step {self.steps_done}; continue with --resume",
                    file=sys.stderr,
                )
        if self.log:
            self.log.close()
        if self.world > 1:
            import torch.distributed as dist

            dist.destroy_process_group()
        self.model.eval()
        return {"out": self.out, "step": self.steps_done, "metrics": self.metrics, "model": self.model,
                "tokenizer": self.tok, "stopped": self.stopped}  # fmt: skip


def describe_hardware(device: torch.device, world: int = 1) -> str:
    """Where training ran, for the model card: "2 CPU cores (x86_64)" or "1 × NVIDIA H200 (CUDA)"."""
    import platform

    if device.type == "cuda":
        return f"{world} × {torch.cuda.get_device_name(device)} (CUDA)"
    n = torch.get_num_threads()
    return f"{world} × " * (world > 1) + f"{n} CPU thread{'s' * (n != 1)} ({platform.machine()})"


def release_memory() -> None:
    """Hand freed heap back to the OS (glibc): batches of ever-changing shapes fragment it, and a long
    CPU run's resident memory otherwise creeps up by gigabytes."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def threading_is_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def main(argv: list[str] | None = None) -> int:
    train(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
