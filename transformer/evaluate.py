"""Validation: loss, and BLEU / chrF (sacrebleu) of greedy translations against references.

python -m transformer.evaluate --model assets/en-de DATA/test.tsv DATA/test_sentences.tsv
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import sacrebleu
import torch
from torch import nn

from . import data as D
from .decoding import greedy_decode
from .model import Transformer


def corpus_scores(hyps: list[str], refs: list[str]) -> dict[str, float]:
    """{"bleu", "chrf"}: sacrebleu corpus scores of hypotheses against one reference each (unrounded)."""
    return {
        "bleu": sacrebleu.corpus_bleu(hyps, [refs]).score,
        "chrf": sacrebleu.corpus_chrf(hyps, [refs]).score,
    }


@torch.no_grad()
def evaluate(
    model: Transformer, tokenizer, data: D.EncodedPairs, pairs, n_samples: int, max_tokens: int, device
) -> dict:
    """{"valid_loss", "valid_ppl", "bleu", "chrf", "exact"} on the validation pairs.

    Loss is the plain cross-entropy (no label smoothing) per target token. BLEU/chrF/exact-match use
    greedy translations of the first `n_samples` pairs (exact: the whole sequence right, for toy tasks).
    """
    cfg = model.config
    model.eval()
    criterion = nn.CrossEntropyLoss(ignore_index=cfg.pad_id, reduction="sum")
    total, tokens = 0.0, 0
    for idx in D.make_batches(data, max_tokens, seed=0, epoch=0, shuffle=False):
        batch = D.collate(data, idx, cfg.pad_id, cfg.bos_id, cfg.eos_id).to(device)
        logits = model(batch.src, batch.tgt_in)
        total += criterion(logits.reshape(-1, logits.shape[-1]), batch.tgt_out.reshape(-1)).item()
        tokens += batch.n_tokens
    loss = total / max(tokens, 1)
    hyps, refs = translate_encoded(model, tokenizer, data.src[:n_samples], device), []
    refs = [tokenizer.decode(t) for t in data.tgt[:n_samples]]
    exact = sum(h == r for h, r in zip(hyps, refs, strict=False)) / max(len(refs), 1)
    scores = corpus_scores(hyps, refs)
    return {
        "valid_loss": round(loss, 4),
        "valid_ppl": round(float(torch.tensor(loss).exp()), 2),
        "bleu": round(scores["bleu"], 2),
        "chrf": round(scores["chrf"], 2),
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


def longest_run(ids: list[int]) -> int:
    """Length of the longest run of one piece repeated in a row."""
    best = run = 0
    for i, x in enumerate(ids):
        run = run + 1 if i and x == ids[i - 1] else 1
        best = max(best, run)
    return best


def score_files(model, files: list[Path], beam: int = 4, limit: int | None = None) -> list[dict]:
    """Translate each TSV's English side with `model` (a Pretrained) and score it against the German side.

    Sentences shared between files (e.g. test_sentences.tsv is a subset of test.tsv) are translated once.
    Besides BLEU/chrF it counts degenerate outputs: a piece repeated more than three times in a row,
    and translations that ran to the length limit without producing eos.
    """
    done: dict[str, tuple[str, list[int], bool]] = {}
    results = []
    for path in files:
        pairs = D.read_tsv(path)[:limit]
        start = time.perf_counter()
        for src, _ in pairs:
            if src not in done:
                src_ids, _ = model.encode_source(src)
                out = model.translate_ids(src_ids, beam=beam)
                ids = [i for i in out if i not in (model.config.bos_id, model.config.pad_id)]
                hit_limit = model.config.eos_id not in ids
                ids = ids[: ids.index(model.config.eos_id)] if not hit_limit else ids
                done[src] = (model.tokenizer.decode(ids), ids, hit_limit)
        hyps = [done[s][0] for s, _ in pairs]
        refs = [t for _, t in pairs]
        scores = corpus_scores(hyps, refs)
        results.append({
            "file": path.name,
            "sentences": len(pairs),
            "beam": beam,
            "bleu": round(scores["bleu"], 2),
            "chrf": round(scores["chrf"], 2),
            "repeats_over_3": sum(longest_run(done[s][1]) > 3 for s, _ in pairs),
            "hit_length_limit": sum(done[s][2] for s, _ in pairs),
            "seconds": round(time.perf_counter() - start, 1),
            "translations": [(s, h, r) for (s, r), h in zip(pairs, hyps, strict=True)],
        })  # fmt: skip
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m transformer.evaluate",
        description="BLEU and chrF (sacrebleu) of a model's translations of TSV files (english<TAB>german).",
    )
    p.add_argument("files", nargs="+", help="TSV files, e.g. DATA/test.tsv DATA/test_sentences.tsv")
    p.add_argument("--model", help="model directory or name in assets/ (default: the shipped one)")
    p.add_argument("--beam", type=int, default=4, help="beam size (1 = greedy)")
    p.add_argument("--limit", type=int, help="score only the first N lines of each file")
    p.add_argument("--json", help="also write the scores and every translation to this JSON file")
    args = p.parse_args(argv)
    from .checkpoint import CheckpointError
    from .pretrained import load_pretrained

    try:
        model = load_pretrained(args.model)
        results = score_files(model, [Path(f) for f in args.files], args.beam, args.limit)
    except (CheckpointError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for r in results:
        print(json.dumps({k: v for k, v in r.items() if k != "translations"}))
    if args.json:
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
