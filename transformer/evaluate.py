"""Validation during training, with torch alone: loss, perplexity and exact-match of greedy translations.

BLEU and chrF (sacrebleu) of test files are tooling, not training: `python -m tools.evaluate`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from . import data as D
from .decoding import greedy_decode
from .model import Transformer

# what `evaluate` returns; the first two are better when lower
METRICS = ("valid_loss", "valid_ppl", "exact")
LOWER_IS_BETTER = frozenset({"valid_loss", "valid_ppl"})


@torch.no_grad()
def evaluate(
    model: Transformer, tokenizer, data: D.EncodedPairs, n_samples: int, max_tokens: int, device
) -> dict:
    """{"valid_loss", "valid_ppl", "exact"} on the validation pairs.

    Loss is the plain cross-entropy (no label smoothing) per target token, perplexity its exp. `exact`
    is the share of the first `n_samples` pairs whose greedy translation is the whole reference (toy tasks).
    """
    cfg = model.config
    model.eval()
    criterion = nn.CrossEntropyLoss(ignore_index=cfg.pad_id, reduction="sum")
    total, tokens = 0.0, 0
    for idx in D.make_batches(data, max_tokens, seed=0, epoch=0, shuffle=False):
        batch = D.collate(data, idx, cfg.pad_id, cfg.start_id, cfg.eos_id).to(device)
        logits = model(batch.src, batch.tgt_in)
        total += criterion(logits.reshape(-1, logits.shape[-1]), batch.tgt_out.reshape(-1)).item()
        tokens += batch.n_tokens
    loss = total / max(tokens, 1)
    hyps = translate_encoded(model, tokenizer, data.src[:n_samples], device)
    refs = [tokenizer.decode(t) for t in data.tgt[:n_samples]]
    exact = sum(h == r for h, r in zip(hyps, refs, strict=True)) / max(len(refs), 1)
    return {
        "valid_loss": round(loss, 4),
        "valid_ppl": round(math.exp(min(loss, 700.0)), 2),
        "exact": round(exact, 4),
    }


@torch.no_grad()
def translate_encoded(
    model: Transformer, tokenizer, sources: list[list[int]], device, batch_size: int = 64
) -> list[str]:
    """Greedy translations of encoded sources (each ending with eos), batched by length."""
    cfg = model.config
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    out: list[str] = [""] * len(sources)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        longest = max(len(sources[i]) for i in idx)
        src = torch.full((len(idx), longest), cfg.pad_id, dtype=torch.long)
        for row, i in enumerate(idx):
            src[row, : len(sources[i])] = torch.tensor(sources[i])
        ys = greedy_decode(model, src.to(device), max_len=2 * longest + 10)
        for row, i in enumerate(idx):
            ids = ys[row].tolist()
            out[i] = tokenizer.decode(ids[: ids.index(cfg.eos_id)] if cfg.eos_id in ids else ids)
    return out
