"""BLEU and chrF (sacrebleu) of a model's translations of test files, and degenerate-output counts.

    python -m tools.evaluate --model assets/en-de DATA/test.tsv DATA/test_sentences.tsv

Training itself validates with torch alone (loss, perplexity, exact match: transformer/evaluate.py);
these scores are computed here, after training, on whatever a model translates.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import sacrebleu

from transformer import data as D
from transformer.checkpoint import CheckpointError
from transformer.pretrained import load_pretrained


def corpus_scores(hyps: list[str], refs: list[str]) -> dict[str, float]:
    """{"bleu", "chrf"}: sacrebleu corpus scores of hypotheses against one reference each (unrounded)."""
    return {
        "bleu": sacrebleu.corpus_bleu(hyps, [refs]).score,
        "chrf": sacrebleu.corpus_chrf(hyps, [refs]).score,
    }


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
                ids = [i for i in out if i not in (model.config.start_id, model.config.pad_id)]
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
        prog="python -m tools.evaluate",
        description="BLEU and chrF (sacrebleu) of a model's translations of TSV files (english<TAB>german).",
    )
    p.add_argument("files", nargs="+", help="TSV files, e.g. DATA/test.tsv DATA/test_sentences.tsv")
    p.add_argument("--model", help="model directory or name in assets/ (default: the shipped one)")
    p.add_argument("--beam", type=int, default=4, help="beam size (1 = greedy)")
    p.add_argument("--limit", type=int, help="score only the first N lines of each file")
    p.add_argument("--json", help="also write the scores and every translation to this JSON file")
    args = p.parse_args(argv)
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
