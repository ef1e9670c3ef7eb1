"""Training data: sentence-pair TSV files, the synthetic tasks, and token-budget batches.

    python -m transformer.data synthetic --task reverse --out DIR   # write a synthetic task as TSV

(The English–German corpus comes from `python -m tools.freedict --out DIR`.)

Batches are bucketed by length and hold at most `max_tokens` padded tokens per side (paper §5.1:
"sentence pairs were batched together by approximate sequence length"). The batch order of an
epoch is a pure function of (data, seed, epoch), so a resumed run sees exactly the batches an
uninterrupted one would.
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

SYNTHETIC_TASKS = ("copy", "reverse", "sort", "shift")
SYNTHETIC_ALPHABET = "abcdefghijklmnopqrstuvwxyz"


def synthetic_target(task: str, seq: list[str]) -> list[str]:
    """What a synthetic task writes for the symbols `seq`: a copy, the reverse, the sorted, or the shifted
    (rotated left by one) sequence."""
    if task not in SYNTHETIC_TASKS:
        raise ValueError(f"task must be one of {SYNTHETIC_TASKS}, got {task!r}")
    return {"copy": seq, "reverse": seq[::-1], "sort": sorted(seq), "shift": seq[1:] + seq[:1]}[task]


def synthetic_pairs(
    task: str, n: int, min_len: int = 3, max_len: int = 12, n_symbols: int = 16, seed: int = 0
) -> list[tuple[str, str]]:
    """n (source, target) pairs of space-separated letters: copy, reverse or sort the source, or shift it
    (rotate left by one: "a b c" -> "b c a")."""
    if task not in SYNTHETIC_TASKS:
        raise ValueError(f"task must be one of {SYNTHETIC_TASKS}, got {task!r}")
    if not 1 <= n_symbols <= len(SYNTHETIC_ALPHABET):
        raise ValueError(f"n_symbols must be in 1..{len(SYNTHETIC_ALPHABET)}")
    rng = random.Random(seed)
    symbols = SYNTHETIC_ALPHABET[:n_symbols]
    pairs = []
    for _ in range(n):
        seq = [rng.choice(symbols) for _ in range(rng.randint(min_len, max_len))]
        pairs.append((" ".join(seq), " ".join(synthetic_target(task, seq))))
    return pairs


def read_tsv(path: str | Path) -> list[tuple[str, str]]:
    """Read `source<TAB>target` lines; lines without exactly one tab or with an empty side are skipped."""
    pairs = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 2 and parts[0].strip() and parts[1].strip():
                pairs.append((parts[0], parts[1]))
    return pairs


def write_tsv(path: str | Path, pairs: list[tuple[str, str]]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(f"{src}\t{tgt}\n" for src, tgt in pairs)


@dataclass
class EncodedPairs:
    src: list[list[int]]  # each ends with eos
    tgt: list[list[int]]  # target pieces without specials
    dropped: int = 0  # pairs longer than the model's max_len


def encode_pairs(tokenizer, pairs: list[tuple[str, str]], max_len: int, eos_id: int) -> EncodedPairs:
    """Tokenize pairs; drop those whose source (+eos) or target (+bos/eos) exceeds max_len."""
    src_ids = tokenizer.encode_all([s for s, _ in pairs])
    tgt_ids = tokenizer.encode_all([t for _, t in pairs], target=True)
    out = EncodedPairs([], [])
    for s, t in zip(src_ids, tgt_ids, strict=False):
        if len(s) + 1 > max_len or len(t) + 1 > max_len or not t:
            out.dropped += 1
            continue
        out.src.append(s + [eos_id])
        out.tgt.append(t)
    return out


@dataclass
class Batch:
    src: torch.Tensor  # (B, S) padded source ids, each row ending with eos
    tgt_in: torch.Tensor  # (B, T) bos + target
    tgt_out: torch.Tensor  # (B, T) target + eos: what each position must predict
    n_tokens: int  # non-pad target tokens

    def to(self, device) -> Batch:
        return Batch(self.src.to(device), self.tgt_in.to(device), self.tgt_out.to(device), self.n_tokens)


def make_batches(
    data: EncodedPairs, max_tokens: int, seed: int, epoch: int, shuffle: bool = True
) -> list[list[int]]:
    """Index lists, each a batch of similar-length pairs with at most max_tokens padded tokens per side."""
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(data.src)))
    if shuffle:
        rng.shuffle(order)  # random tie-breaking inside equal lengths, then bucket by length
    order.sort(key=lambda i: (len(data.src[i]), len(data.tgt[i])))
    batches, current, longest = [], [], 0
    for i in order:
        length = max(len(data.src[i]), len(data.tgt[i]) + 1)
        if current and max(longest, length) * (len(current) + 1) > max_tokens:
            batches.append(current)
            current, longest = [], 0
        current.append(i)
        longest = max(longest, length)
    if current:
        batches.append(current)
    if shuffle:
        rng.shuffle(batches)
    return batches


def collate(data: EncodedPairs, indices: list[int], pad_id: int, bos_id: int, eos_id: int) -> Batch:
    """Padded batch of pairs; bos_id is the decoder's first input (config.start_id: Marian's is its pad id)."""
    # Rows are padded as Python lists and converted once: a tensor write per row cost ~20 ms for a
    # 16k-token batch, longer than a GPU training step.
    src_len = max(len(data.src[i]) for i in indices)
    tgt_len = max(len(data.tgt[i]) for i in indices) + 1
    src, tgt_in, tgt_out, n_tokens = [], [], [], 0
    for i in indices:
        s, t = data.src[i], data.tgt[i]
        pad = [pad_id] * (tgt_len - len(t) - 1)
        src.append(s + [pad_id] * (src_len - len(s)))
        tgt_in.append([bos_id] + t + pad)
        tgt_out.append(t + [eos_id] + pad)
        n_tokens += len(t) + 1
    as_tensor = lambda rows: torch.tensor(rows, dtype=torch.long)  # noqa: E731
    return Batch(as_tensor(src), as_tensor(tgt_in), as_tensor(tgt_out), n_tokens)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m transformer.data",
        description=__doc__.split("\n\n")[0],
        epilog="The English–German corpus is extracted by `python -m tools.freedict --out DIR`.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    syn = sub.add_parser("synthetic", help="write a synthetic task's train/valid/test TSV files")
    syn.add_argument("--task", choices=SYNTHETIC_TASKS, required=True)
    syn.add_argument("--out", required=True, help="output directory")
    syn.add_argument("--train-size", type=int, default=20000)
    syn.add_argument("--valid-size", type=int, default=500)
    syn.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for split, n, seed in (
        ("train", args.train_size, args.seed),
        ("valid", args.valid_size, args.seed + 1),
        ("test", args.valid_size, args.seed + 2),
    ):
        write_tsv(out / f"{split}.tsv", synthetic_pairs(args.task, n, seed=seed))
    print(
        f"wrote {args.task} task to {out}: {args.train_size} train, {args.valid_size} valid, {args.valid_size} test"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
