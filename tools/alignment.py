"""Does cross-attention align words? Score it against hand-marked word alignments.

Cross-attention (Vaswani et al. 2017, §3.2.3) is often read as a soft word alignment. Here piece-level
attention is pooled to whitespace words and, for each German (target) word of a hand-aligned set
(eval/everyday_en_de.json), we ask whether its most-attended English (source) word is the marked one,
per layer (heads averaged) and per head, beside a position-only diagonal baseline.

Convention: decoder row t reads input piece t and predicts piece t+1, so the attention used while
*generating* target piece j is row j-1.

python -m tools.alignment --model DIR [--set eval/everyday_en_de.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import torch

from transformer.analysis import attention_rollout
from transformer.pretrained import Pretrained, load_pretrained
from transformer.words import SPECIALS, word_spans  # noqa: F401  (SPECIALS: app_support.quiz imports it from here)

from .evaluate import corpus_scores

DEFAULT_SET = Path(__file__).resolve().parent.parent / "eval" / "everyday_en_de.json"


def word_attention(cross: torch.Tensor, tgt_pieces: list[str], src_pieces: list[str]) -> torch.Tensor:
    """Piece-level cross-attention (T, S) -> word level (n_tgt_words, n_src_words).

    tgt_pieces are the decoder input (T pieces, starting with "<s>"); src_pieces the S source pieces.
    A target word's row is the mean of rows j-1 over its pieces j (the rows that generate them);
    a source word's column is the sum over its pieces' columns (attention mass on that word).
    """
    if cross.dim() != 2 or cross.shape != (len(tgt_pieces), len(src_pieces)):
        raise ValueError(
            f"cross must be (T, S) = ({len(tgt_pieces)}, {len(src_pieces)}), got {tuple(cross.shape)}"
        )
    tgt, src = word_spans(tgt_pieces), word_spans(src_pieces)
    if tgt and tgt[0][0] == 0:
        raise ValueError("tgt_pieces must be the decoder input, starting with '<s>'")
    cols = torch.stack([cross[:, span].sum(-1) for span in src], -1)  # (T, n_src)
    return torch.stack([cols[[j - 1 for j in span]].mean(0) for span in tgt])  # (n_tgt, n_src)


def diagonal_guess(i: int, n_tgt: int, n_src: int) -> int:
    """The source word at the proportionally same position as target word i: round(i · n_src / n_tgt)."""
    return min(round(i * n_src / n_tgt), n_src - 1)


def alignment_scores(model: Pretrained, items: list[dict]) -> pd.DataFrame:
    """Share of marked pairs whose target word's most-attended source word is the marked one.

    items: [{"en": source, "de": reference, "pairs": [{"de": i, "en": j, "moved": bool}, ...]}];
    each sentence is traced teacher-forced on its reference. One row per layer (head "mean": heads
    averaged; head "rollout": that mean composed with the encoder's attention rollout, transformer.analysis) and
    per (layer, head): layer, head, pairs, hits, accuracy, moved_pairs, accuracy_moved,
    baseline, baseline_moved (the baseline is diagonal_guess, the same for every row).
    """
    hits: dict[tuple[int, str | int], list[bool]] = {}
    moved, base = [], []
    for n, item in enumerate(items):
        trace = model.trace(item["en"], target=item["de"])
        n_tgt, n_src = len(item["de"].split()), len(item["en"].split())
        got = (len(word_spans(trace.tgt_tokens)), len(word_spans(trace.src_tokens)))
        if got != (n_tgt, n_src) or trace.truncated:
            raise ValueError(f"item {n}: tokenized words {got} != whitespace words {(n_tgt, n_src)}")
        cross = trace.attention["cross"]  # (L, H, T, S)
        flow = torch.from_numpy(attention_rollout(trace.attention["encoder"])[-1]).float()  # (S, S)
        for layer in range(cross.shape[0]):
            heads = {"mean": cross[layer].mean(0)} | {h: cross[layer, h] for h in range(cross.shape[1])}
            heads["rollout"] = heads["mean"] @ flow  # analysis.cross_relevance: the encoder's mixing included
            for head, attn in heads.items():
                best = word_attention(attn, trace.tgt_tokens, trace.src_tokens).argmax(-1)  # (n_tgt,)
                hits.setdefault((layer, head), []).extend(
                    best[p["de"]].item() == p["en"] for p in item["pairs"]
                )
        moved += [p["moved"] for p in item["pairs"]]
        base += [diagonal_guess(p["de"], n_tgt, n_src) == p["en"] for p in item["pairs"]]

    def share(flags: list[bool], where: list[bool] | None = None) -> float:
        picked = [f for f, w in zip(flags, where or [True] * len(flags)) if w]
        return sum(picked) / len(picked) if picked else float("nan")

    rows = [
        {
            "layer": layer,
            "head": head,
            "pairs": len(flags),
            "hits": sum(flags),
            "accuracy": share(flags),
            "moved_pairs": sum(moved),
            "accuracy_moved": share(flags, moved),
            "baseline": share(base),
            "baseline_moved": share(base, moved),
        }
        for (layer, head), flags in hits.items()
    ]
    return pd.DataFrame(rows)


def best_layer_summary(df: pd.DataFrame) -> dict:
    """{"best_layer": row, "best_head": row}: the top rows by accuracy (heads averaged / single head)."""
    mean = df[df["head"] == "mean"]
    heads = df[~df["head"].isin(["mean", "rollout"])]
    cols = ["layer", "head", "accuracy", "accuracy_moved", "baseline", "baseline_moved"]
    return {
        "best_layer": mean.loc[mean["accuracy"].idxmax(), cols].to_dict(),
        "best_head": heads.loc[heads["accuracy"].idxmax(), cols].to_dict() if len(heads) else None,
    }


def translate_set(model: Pretrained, items: list[dict], beam: int = 4) -> tuple[list[str], dict[str, float]]:
    """Translations of the set's English sentences and their {"bleu", "chrf"} against its references."""
    hyps = [model.translate(item["en"], beam=beam) for item in items]
    return hyps, corpus_scores(hyps, [item["de"] for item in items])


def load_set(path: str | Path = DEFAULT_SET) -> list[dict]:
    """The items of an alignment set (JSON with "items", see eval/everyday_en_de.json)."""
    return json.loads(Path(path).read_text())["items"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.alignment", description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="model dir, training run dir, or name in assets/")
    parser.add_argument("--set", default=str(DEFAULT_SET), help="alignment set (JSON)")
    parser.add_argument("--beam", type=int, default=4)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # light: this shares the machine with training
    model, items = load_pretrained(args.model), load_set(args.set)
    df = alignment_scores(model, items)
    with pd.option_context("display.width", 160, "display.max_rows", 500, "display.precision", 3):
        print(
            f"model {model.name}: {len(items)} sentences, {df['pairs'].iloc[0]} pairs, "
            f"{df['moved_pairs'].iloc[0]} moved\n"
        )
        print(df.to_string(index=False))
    for what, row in best_layer_summary(df).items():
        if row:
            print(
                f"{what}: layer {row['layer']} head {row['head']}: accuracy {row['accuracy']:.3f} "
                f"(diagonal {row['baseline']:.3f}), moved {row['accuracy_moved']:.3f} "
                f"(diagonal {row['baseline_moved']:.3f})"
            )
    hyps, scores = translate_set(model, items, args.beam)
    print(f"\nbeam-{args.beam}: BLEU {scores['bleu']:.2f}  chrF {scores['chrf']:.2f}\n")
    for item, hyp in zip(items, hyps):
        print(f"src  {item['en']}\nref  {item['de']}\nout  {hyp}\n")


if __name__ == "__main__":
    main()
