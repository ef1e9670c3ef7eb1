"""Write a model card (README.md + loss_curve.png) for a trained model directory.

    python -m tools.card assets/reverse --run runs/reverse

The card is made from what the model directory and the training run recorded (metadata.json,
config.json, OUT/log.jsonl), so it stays true to the model it sits beside. Hand-written notes
(data licence, known weaknesses) come from --notes FILE and are inserted as they are.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import warnings
from pathlib import Path

from transformer.checkpoint import WEIGHTS
from transformer.data import synthetic_target
from transformer.paths import portable
from transformer.pretrained import load_pretrained

FLAGS = {"quiet", "resume", "no_tie", "bf16"}
SKIP = {"resume", "quiet", "threads", "device"}  # options that do not change the model


def describe_generation(generation: dict) -> str:
    """A model's decoding settings (`Pretrained.generation`) in words, for its card and the app's sidebar."""
    parts = [f"length penalty α = {generation['alpha']}"]
    if generation["max_repeat"]:
        parts.append(f"no piece more than {generation['max_repeat']}× in a row")
    if generation["no_repeat_ngram"]:
        parts.append(f"no {generation['no_repeat_ngram']}-gram of pieces twice")
    if generation.get("forbidden_ids"):
        parts.append(f"never the id(s) {', '.join(map(str, generation['forbidden_ids']))}")
    return ", ".join(parts)


def rebuild_command(train_args: dict) -> str:
    """The `python -m transformer.train ...` command line that trained the model."""
    parts = ["python -m transformer.train"]
    for key, value in train_args.items():
        if key in SKIP or value is None or value is False:
            continue
        if train_args.get("task") and key in ("vocab_size", "tokenizer"):
            continue  # a toy task's vocabulary is its alphabet
        if train_args.get("data") and key.startswith("task_"):
            continue  # synthetic-task options do nothing with --data
        flag = "--" + key.replace("_", "-")
        parts.append(flag if value is True else f"{flag} {value}")
    return " \\\n    ".join(parts)


def read_log(run: Path) -> list[dict]:
    path = run / "log.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def loss_curve(log: list[dict], out: Path, title: str, label_smoothing: float = 0.0) -> bool:
    """Train and validation loss over steps as a PNG; False when there is nothing to plot."""
    import plotly.graph_objects as go

    train = [r for r in log if "train_loss" in r]
    valid = [r for r in log if "valid_loss" in r]
    if not train:
        return False
    fig = go.Figure()
    fig.add_scatter(
        x=[r["step"] for r in train],
        y=[r["train_loss"] for r in train],
        name=f"train (label smoothing {label_smoothing})",
    )
    fig.add_scatter(
        x=[r["step"] for r in valid],
        y=[r["valid_loss"] for r in valid],
        name="validation",
        mode="lines+markers",
    )
    fig.update_layout(title=title, xaxis_title="step", yaxis_title="cross-entropy per token (nats)", width=800, height=420,
                      template="plotly_white")  # fmt: skip
    fig.update_yaxes(type="log")
    fig.write_image(str(out))
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.card", description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="the model directory to describe")
    p.add_argument("--run", help="the training run's output directory (for log.jsonl)")
    p.add_argument("--notes", help="a Markdown file with hand-written sections (data licence, weaknesses)")
    p.add_argument("--samples", type=int, default=8, help="how many example translations to show")
    p.add_argument(
        "--test",
        nargs="*",
        default=[],
        help="TSV files to score (beam 4), e.g. DATA/test.tsv DATA/test_sentences.tsv",
    )
    p.add_argument(
        "--alignment",
        nargs="?",
        const="eval/everyday_en_de.json",
        help="an alignment set (default eval/everyday_en_de.json): chrF, every translation, and whether "
        "cross-attention points at the aligned words",
    )
    args = p.parse_args(argv)
    with one_chromium():
        return write_card(args)


@contextlib.contextmanager
def one_chromium():
    """Every PNG of a card drawn by one headless Chromium (kaleido's sync server): without it each
    `write_image` starts a Chromium of its own, about 2 s each (the en-de card writes four). The server
    is given the options plotly would give each one-off Chromium (`plotly.io.defaults`), so plotly's
    note that it ignores them per image is silenced."""
    try:
        import plotly.io as pio
        from kaleido import start_sync_server, stop_sync_server
    except ImportError:  # no kaleido (or one without a server): write_image explains what is missing
        yield
        return
    d = pio.defaults
    kopts = {k: v for k, v in (("plotlyjs", d.plotlyjs), ("mathjax", d.mathjax), ("headers", d.headers)) if v}
    start_sync_server(silence_warnings=True, **kopts)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "The kopts argument is ignored if using a server")
            yield
    finally:
        stop_sync_server(silence_warnings=True)


def write_card(args: argparse.Namespace) -> int:
    """README.md (and its PNGs) for `args.model`, from `main`'s parsed arguments."""
    model_dir = Path(args.model)
    m = load_pretrained(model_dir)
    meta, cfg = m.metadata, m.config
    name = model_dir.name
    log = read_log(Path(args.run)) if args.run else []
    smoothing = meta.get("train_args", {}).get("label_smoothing", 0.0)
    has_curve = loss_curve(log, model_dir / "loss_curve.png", f"{name}: loss while training", smoothing)
    source = meta.get("source", {})
    metrics = meta.get("metrics", {})
    lines = [f"# Model card: `{name}`", ""]
    if "task" in source:
        lines += [f"A toy model trained on the synthetic **{source['task']}** task: sequences of "
                  f"{source.get('min_len')}–{source.get('max_len')} letters from the first {source.get('n_symbols')} "
                  "letters of the alphabet, separated by spaces.", ""]  # fmt: skip
    train_args = meta.get("train_args", {})
    steps = [rebuild_command(train_args)]
    if source.get("extract"):  # the corpus is rebuilt, not shipped
        steps.insert(0, extract_command(source["extract"]))
    if meta.get("averaged"):  # paper §6.1: the shipped weights are a mean of the last checkpoints
        steps.append(f"python -m tools.average {train_args.get('out')} --last {len(meta['averaged'])} "
                     f"--out {portable(str(model_dir))}")  # fmt: skip
    lines += ["## Rebuild", "", "```bash", "\n".join(steps), "```", ""]
    seconds = meta.get("train_seconds")
    lines += [
        "## Architecture",
        "",
        f"Encoder–decoder Transformer, {cfg.n_encoder_layers} encoder + {cfg.n_decoder_layers} decoder layers, "
        f"d_model {cfg.d_model}, {cfg.n_heads} heads (d_head {cfg.d_head}), d_ff {cfg.d_ff}, {cfg.norm}-norm, "
        f"{cfg.positional} positional encoding, vocabulary {cfg.src_vocab_size} "
        f"({'tied' if cfg.tie_embeddings else 'separate'} embeddings and output projection), max length {cfg.max_len}. "
        f"**{m.model.num_parameters():,} parameters**; `{WEIGHTS}` is "
        f"{human_size(os.path.getsize(model_dir / WEIGHTS))}.",
        "",
        "## Training",
        "",
        f"{meta.get('step', '?')} steps, {meta.get('epoch', '?')} full epochs, "
        f"{seconds / 60:.1f} minutes of training on "
        f"{meta.get('hardware') or f'{os.cpu_count()} CPU cores ({platform.machine()})'}, "
        f"{source.get('train_pairs', '?')} training pairs."
        if seconds is not None
        else "",
        "",
    ]
    if has_curve:
        lines += ["![loss curve](loss_curve.png)", ""]
    if metrics:
        lines += ["## Validation", "", "| metric | value |", "|---|---:|"]
        lines += [f"| {k} | {v} |" for k, v in metrics.items()]
        lines += ["", metrics_note(metrics), ""]
    examples = meta.get("examples", [])[: args.samples]
    if examples:
        lines += ["## Sample outputs (beam 4)", "", "| input | output | expected |", "|---|---|---|"]
        for text in examples:
            expected = ""
            if "task" in source:
                expected = synthetic_expected(source["task"], text)
            lines.append(f"| `{text}` | `{m.translate(text)}` | {f'`{expected}`' if expected else ''} |")
        lines.append("")
    lines += snapshots_section(model_dir)
    if args.test:
        lines += test_section(m, [Path(f) for f in args.test], args.samples)
    if args.alignment:
        lines += alignment_section(m, Path(args.alignment), model_dir)
    if args.notes:
        lines += [Path(args.notes).read_text().strip(), ""]
    (model_dir / "README.md").write_text("\n".join(lines))
    print(f"wrote {model_dir / 'README.md'}" + (" and loss_curve.png" if has_curve else ""), file=sys.stderr)
    return 0


# a model trained before the corpus extractor moved to tools/ records the old command line
OLD_EXTRACT = "python -m transformer.data freedict"


def extract_command(recorded: str) -> str:
    """The corpus-extraction command a model's metadata recorded, as it is spelled today."""
    if recorded.startswith(OLD_EXTRACT):
        return "python -m tools.freedict" + recorded[len(OLD_EXTRACT) :]
    return recorded


def metrics_note(metrics: dict) -> str:
    """What the validation metrics recorded by training mean (older models also recorded BLEU/chrF)."""
    notes = []
    if "valid_loss" in metrics:
        notes.append("`valid_loss` is the cross-entropy per target token (nats, no label smoothing)"
                     + (", `valid_ppl` its exponential" if "valid_ppl" in metrics else ""))  # fmt: skip
    if "bleu" in metrics or "chrf" in metrics:
        notes.append("BLEU and chrF are sacrebleu scores of greedy translations of the validation pairs")
    if "exact" in metrics:
        notes.append("`exact` is the share of whole sequences translated exactly (greedy)")
    return "; ".join(notes) + "." if notes else ""


def cell(text: str) -> str:
    """Text for a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def human_size(n_bytes: int) -> str:
    """A file size as a card writes it: MiB from 1 MiB up, KiB below (a toy model's 62 KiB is not "0.1 MiB")."""
    return f"{n_bytes / 2**20:.1f} MiB" if n_bytes >= 2**20 else f"{n_bytes / 2**10:.0f} KiB"


def snapshots_section(model_dir: Path) -> list[str]:
    """The snapshots a model directory ships (python -m transformer.train --snapshots N): steps and metrics."""
    from transformer.checkpoint import list_snapshots, snapshot_file, snapshots_dir

    entries = list_snapshots(model_dir)
    if not entries:
        return []
    size = sum((snapshots_dir(model_dir) / snapshot_file(e["step"])).stat().st_size for e in entries)
    metrics = [k for k in ("valid_loss", "exact") if any(k in e for e in entries)]
    lines = ["## Snapshots", "",
             f"`snapshots/` holds the weights at {len(entries)} steps of this training run (float16, "
             f"{human_size(size)} in all) with the validation metrics of each step. The app's Attention "
             "view steps through them (*Watch attention form during training*); "
             "`transformer.checkpoint.load_snapshot` loads one into a model.", "",
             "| step | " + " | ".join(metrics) + " |", "|---:|" + "---:|" * len(metrics)]  # fmt: skip
    lines += [f"| {e['step']} | " + " | ".join(str(e.get(k, "")) for k in metrics) + " |" for e in entries]
    return lines + [""]


def test_section(m, files: list[Path], samples: int) -> list[str]:
    """Held-out BLEU/chrF (beam 4), degenerate-output counts and sample translations."""
    from .evaluate import score_files

    results = score_files(m, files, beam=4)
    lines = ["## Test set (held out)", "",
             "| file | sentences | BLEU | chrF | a piece > 3× in a row | ran to the length limit |",
             "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in results:
        lines.append(f"| `{r['file']}` | {r['sentences']} | {r['bleu']} | {r['chrf']} | "
                     f"{r['repeats_over_3']} | {r['hit_length_limit']} |")  # fmt: skip
    lines += ["", f"sacrebleu corpus scores of beam-4 translations ({describe_generation(m.generation)}, "
              "output at most 2 × source + 10 pieces).", ""]  # fmt: skip
    last = results[-1]
    lines += [f"First {samples} of `{last['file']}`:", "", "| English | model | reference |", "|---|---|---|"]
    lines += [f"| {cell(s)} | {cell(h)} | {cell(r)} |" for s, h, r in last["translations"][:samples]]
    return lines + [""]


def alignment_section(m, set_path: Path, model_dir: Path) -> list[str]:
    """Everyday sentences (chrF, every translation) and cross-attention against marked word alignments."""
    from viz.attention import attention_heatmap
    from viz.frames import head_weights

    from .alignment import alignment_scores, best_layer_summary, load_set, translate_set, word_attention

    items = load_set(set_path)
    hyps, scores = translate_set(m, items, beam=4)
    chrf, bleu = scores["chrf"], scores["bleu"]
    lines = ["## Everyday sentences", "",
             f"{len(items)} everyday sentences written for this project (`{set_path}`, not from the corpus), "
             f"beam 4: **chrF {chrf:.1f}**, BLEU {bleu:.1f}. Every translation:", "",
             "| English | model | reference |", "|---|---|---|"]  # fmt: skip
    lines += [f"| {cell(i['en'])} | {cell(h)} | {cell(i['de'])} |" for i, h in zip(items, hyps, strict=True)]
    df = alignment_scores(m, items)
    best = best_layer_summary(df)
    layer_rows = df[df["head"] == "mean"]
    n_pairs, n_moved = int(df["pairs"].iloc[0]), int(df["moved_pairs"].iloc[0])
    lines += ["", "## Does cross-attention point at the right English word?", "",
              f"The set marks {n_pairs} German content words with their English counterparts; {n_moved} of them "
              "are moved by German word order (perfect tense, verb-final clauses, inversion, separable verbs). "
              "Each sentence is traced on its reference; a German word counts as a hit when the English word "
              "it attends to most (pieces pooled to words) is the marked one. Diagonal: the English word at "
              "the same relative position.", "",
              "| layer (heads averaged) | all pairs | moved pairs |", "|---|---:|---:|"]  # fmt: skip
    for _, r in layer_rows.iterrows():
        lines.append(f"| {r['layer']} | {r['accuracy']:.3f} | {r['accuracy_moved']:.3f} |")
    bl, bh = best["best_layer"], best["best_head"]
    lines.append(f"| diagonal guess | {bl['baseline']:.3f} | {bl['baseline_moved']:.3f} |")
    lines += ["", f"Best layer: **{bl['layer']}** ({bl['accuracy']:.3f} overall, {bl['accuracy_moved']:.3f} on "
              f"moved pairs). Best single head: **layer {bh['layer']} head {bh['head']}** "
              f"({bh['accuracy']:.3f} overall, {bh['accuracy_moved']:.3f} moved).", ""]  # fmt: skip
    layer, head = int(bh["layer"]), int(bh["head"])
    # examples: the sentences with the most moved pairs that this head gets right
    scored = []
    for n, item in enumerate(items):
        t = m.trace(item["en"], target=item["de"])
        words = word_attention(t.attention["cross"][layer, head], t.tgt_tokens, t.src_tokens).argmax(-1)
        right = [p for p in item["pairs"] if p["moved"] and words[p["de"]].item() == p["en"]]
        scored.append((len(right), -n, n, t, words))
    scored.sort(reverse=True)
    lines += [f"Three examples, layer {layer} head {head} (✓: attends most to the marked English word):", ""]
    for k, (_, _, n, t, words) in enumerate(scored[:3], start=1):
        item = items[n]
        de, en = item["de"].split(), item["en"].split()
        marks = ", ".join(
            f"{de[p['de']]} → {en[words[p['de']].item()]} {'✓' if words[p['de']].item() == p['en'] else '✗ (' + en[p['en']] + ')'}"
            for p in item["pairs"]
        )
        png = f"alignment_{k}.png"
        title = f"Cross-attention, layer {layer} head {head}"
        fig = attention_heatmap(
            head_weights(t.attention["cross"], layer, head), t.tgt_tokens, t.src_tokens,
            kind="cross", layer=layer, head=head, title=title, height=420,
        )  # fmt: skip
        fig.write_image(str(model_dir / png), width=760)
        lines += [f"{k}. *{cell(item['en'])}* → *{cell(item['de'])}*: {marks}", "", f"   ![{png}]({png})", ""]
    return lines


def synthetic_expected(task: str, text: str) -> str:
    return " ".join(synthetic_target(task, text.split()))


if __name__ == "__main__":
    sys.exit(main())
