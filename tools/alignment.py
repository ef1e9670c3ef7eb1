"""Does cross-attention align words? Score it against hand-marked word alignments.

Cross-attention (Vaswani et al. 2017, §3.2.3) is often read as a soft word alignment. Here piece-level
attention is pooled to whitespace words and, for each German (target) word of a hand-aligned set
(eval/everyday_en_de.json), we ask whether its most-attended English (source) word is the marked one,
per layer (heads averaged) and per head, beside a position-only diagonal baseline.

`method_scores` asks the same of every attribution method of `transformer.attribution` (raw attention and
the value-norm weighting per layer, gradient × input, integrated gradients) and of Shift-Att (Chen et al.
2020: a layer's cross-attention read at the row where target piece j is the decoder's *input*, row j),
with the alignment error rate beside accuracy (`aer`).

Convention: decoder row t reads input piece t and predicts piece t+1, so the attention used while
*generating* target piece j is row j-1 (Shift-Att: row j).

python -m tools.alignment --model DIR [--set eval/everyday_en_de.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import torch

from transformer.analysis import attention_rollout
from transformer.attribution import DEFAULT_STEPS, attribute
from transformer.pretrained import Pretrained, load_pretrained
from transformer.trace import Trace
from transformer.words import SPECIALS, pool_words, word_spans  # noqa: F401  (SPECIALS: app_support.quiz imports it from here)

from .evaluate import corpus_scores

DEFAULT_SET = Path(__file__).resolve().parent.parent / "eval" / "everyday_en_de.json"


def word_attention(
    cross: torch.Tensor, tgt_pieces: list[str], src_pieces: list[str], shift: bool = False
) -> torch.Tensor:
    """Piece-level cross-attention (T, S) -> word level (n_tgt_words, n_src_words), as
    `transformer.words.pool_words` pools it (row j-1 generates target piece j; row j reads it, shift=True).
    Any (T, S) attribution pools the same way."""
    if cross.dim() != 2 or cross.shape != (len(tgt_pieces), len(src_pieces)):
        raise ValueError(
            f"cross must be (T, S) = ({len(tgt_pieces)}, {len(src_pieces)}), got {tuple(cross.shape)}"
        )
    return pool_words(cross, tgt_pieces, src_pieces, shift)


def aer(links: set, sure: set, possible: set | None = None) -> float:
    """Alignment error rate (Och & Ney 2003): 1 − (|A∩S| + |A∩P|) / (|A| + |S|), S ⊆ P.

    links A, sure S and possible P are sets of (sentence, target word, source word); P defaults to S
    (a set with only sure links, as eval/everyday_en_de.json). 0 is a perfect alignment."""
    possible = sure | (possible or set())
    if not links and not sure:
        return float("nan")
    return 1 - (len(links & sure) + len(links & possible)) / (len(links) + len(sure))


def diagonal_guess(i: int, n_tgt: int, n_src: int) -> int:
    """The source word at the proportionally same position as target word i: round(i · n_src / n_tgt)."""
    return min(round(i * n_src / n_tgt), n_src - 1)


def trace_items(model: Pretrained, items: list[dict]) -> list[Trace]:
    """Each item's source traced teacher-forced on its reference, checked to tokenize into its whitespace words."""
    traces = []
    for n, item in enumerate(items):
        trace = model.trace(item["en"], target=item["de"])
        n_tgt, n_src = len(item["de"].split()), len(item["en"].split())
        got = (len(word_spans(trace.tgt_tokens)), len(word_spans(trace.src_tokens)))
        if got != (n_tgt, n_src) or trace.truncated:
            raise ValueError(f"item {n}: tokenized words {got} != whitespace words {(n_tgt, n_src)}")
        traces.append(trace)
    return traces


def alignment_scores(model: Pretrained, items: list[dict], traces: list[Trace] | None = None) -> pd.DataFrame:
    """Share of marked pairs whose target word's most-attended source word is the marked one.

    items: [{"en": source, "de": reference, "pairs": [{"de": i, "en": j, "moved": bool}, ...]}];
    each sentence is traced teacher-forced on its reference (or `traces`, from trace_items). One row per layer (head "mean": heads
    averaged; head "rollout": that mean composed with the encoder's attention rollout, transformer.analysis) and
    per (layer, head): layer, head, pairs, hits, accuracy, moved_pairs, accuracy_moved,
    baseline, baseline_moved (the baseline is diagonal_guess, the same for every row).
    """
    hits: dict[tuple[int, str | int], list[bool]] = {}
    moved, base = [], []
    for item, trace in zip(items, traces or trace_items(model, items)):
        n_tgt, n_src = len(item["de"].split()), len(item["en"].split())
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


def method_maps(
    model: Pretrained, trace: Trace, steps: int = DEFAULT_STEPS
) -> dict[tuple[str, int | None], torch.Tensor]:
    """Every map `method_scores` scores for one trace: {(method, layer or None): (T, S) tensor}.

    attention, shift_att (the same weights, read at row j) and value_norm for each decoder layer, heads
    averaged (summed inside the norm for value_norm); grad_x_input and integrated_gradients (`steps`) once."""
    maps = {}
    for layer in range(model.config.n_decoder_layers):
        maps["attention", layer] = torch.from_numpy(attribute(model, trace, "attention", layer))
        maps["shift_att", layer] = maps["attention", layer]
        maps["value_norm", layer] = torch.from_numpy(attribute(model, trace, "value_norm", layer))
    maps["grad_x_input", None] = torch.from_numpy(attribute(model, trace, "grad_x_input"))
    maps["integrated_gradients", None] = torch.from_numpy(
        attribute(model, trace, "integrated_gradients", steps=steps)
    )
    return maps


def method_scores(
    model: Pretrained, items: list[dict], traces: list[Trace] | None = None, steps: int = DEFAULT_STEPS
) -> pd.DataFrame:
    """Every attribution method (and Shift-Att) scored against the hand pairs, word level.

    For each method (layer where it has one) and for the diagonal guess: pairs, hits, accuracy (share of
    marked target words whose top source word is the marked one), accuracy_moved (the same on moved
    pairs) and aer. Signed methods (grad_x_input, integrated_gradients) are ranked by the *signed* value,
    summed over a source word's pieces: the word whose embedding most raises log p of the target piece
    (a large negative value is evidence against that piece, not a link); rows "… |·|" rank by the absolute
    value instead (each piece's |value|, then summed), for comparison.

    AER (Och & Ney 2003, `aer`): the links A are, for each target word that has a hand pair, its top
    source word; the hand pairs are both sure and possible links (S = P). The set marks some words of
    each sentence, not every link, so target words without a pair propose no link (else every article
    would count as an error). With one pair per marked word, |A| = |S| and AER = 1 − accuracy here;
    it is not comparable to AERs on fully aligned test sets (Kobayashi et al.'s 25 % is on Gold Alignment
    de–en, sure and possible links for every word).
    """
    found: dict[tuple[str, int | None], set] = {}
    sure, moved_pairs = set(), set()
    for n, (item, trace) in enumerate(zip(items, traces or trace_items(model, items))):
        n_tgt, n_src = len(item["de"].split()), len(item["en"].split())
        wanted = {p["de"] for p in item["pairs"]}
        sure |= {(n, p["de"], p["en"]) for p in item["pairs"]}
        moved_pairs |= {(n, p["de"], p["en"]) for p in item["pairs"] if p["moved"]}
        pooled = {}
        for (method, layer), values in method_maps(model, trace, steps).items():
            pooled[method, layer] = word_attention(
                values, trace.tgt_tokens, trace.src_tokens, method == "shift_att"
            )
            if method in ("grad_x_input", "integrated_gradients"):
                pooled[f"{method} |·|", layer] = word_attention(
                    values.abs(), trace.tgt_tokens, trace.src_tokens
                )
        for key, words in pooled.items():
            best = words.argmax(-1)  # (n_tgt,)
            found.setdefault(key, set()).update((n, i, best[i].item()) for i in wanted)
        found.setdefault(("diagonal", None), set()).update(
            (n, i, diagonal_guess(i, n_tgt, n_src)) for i in wanted
        )
    rows = []
    for (method, layer), links in found.items():
        hits = links & sure
        rows.append(
            {
                "method": method,
                "layer": layer,
                "pairs": len(sure),
                "hits": len(hits),
                "accuracy": len(hits) / len(sure),
                "moved_pairs": len(moved_pairs),
                "accuracy_moved": len(hits & moved_pairs) / len(moved_pairs) if moved_pairs else float("nan"),
                "aer": aer(links, sure),
            }
        )
    df = pd.DataFrame(rows)
    df["layer"] = df["layer"].astype("Int64")  # <NA> for the methods of the whole model
    return df


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
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="integrated gradients' steps")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # light: this shares the machine with training
    model, items = load_pretrained(args.model), load_set(args.set)
    traces = trace_items(model, items)
    df = alignment_scores(model, items, traces)
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
    methods = method_scores(model, items, traces, args.steps)
    with pd.option_context("display.width", 160, "display.precision", 3):
        print(
            "\nevery attribution method (transformer.attribution), word level; AER with A = each marked word's top link\n"
        )
        print(methods.to_string(index=False))
    hyps, scores = translate_set(model, items, args.beam)
    print(f"\nbeam-{args.beam}: BLEU {scores['bleu']:.2f}  chrF {scores['chrf']:.2f}\n")
    for item, hyp in zip(items, hyps):
        print(f"src  {item['en']}\nref  {item['de']}\nout  {hyp}\n")


if __name__ == "__main__":
    main()
