"""Write a model card (README.md + loss_curve.png) for a trained model directory.

    python -m transformer.card assets/reverse --run runs/reverse

The card is made from what the model directory and the training run recorded (metadata.json,
config.json, OUT/log.jsonl), so it stays true to the model it sits beside. Hand-written notes
(data licence, known weaknesses) come from --notes FILE and are inserted as they are.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

from .pretrained import load_pretrained

FLAGS = {"quiet", "resume", "no_tie", "bf16"}
SKIP = {"resume", "quiet", "threads", "device"}  # options that do not change the model


def rebuild_command(train_args: dict) -> str:
    """The `python -m transformer.train ...` command line that trained the model."""
    parts = ["python -m transformer.train"]
    for key, value in train_args.items():
        if key in SKIP or value is None or value is False:
            continue
        if train_args.get("task") and key in ("vocab_size", "tokenizer"):
            continue  # a toy task's vocabulary is its alphabet
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
    p = argparse.ArgumentParser(prog="python -m transformer.card", description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="the model directory to describe")
    p.add_argument("--run", help="the training run's output directory (for log.jsonl)")
    p.add_argument("--notes", help="a Markdown file with hand-written sections (data licence, weaknesses)")
    p.add_argument("--samples", type=int, default=8, help="how many example translations to show")
    args = p.parse_args(argv)
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
    lines += ["## Rebuild", "", "```bash", rebuild_command(meta.get("train_args", {})), "```", ""]
    seconds = meta.get("train_seconds")
    lines += [
        "## Architecture",
        "",
        f"Encoder–decoder Transformer, {cfg.n_encoder_layers} encoder + {cfg.n_decoder_layers} decoder layers, "
        f"d_model {cfg.d_model}, {cfg.n_heads} heads (d_head {cfg.d_head}), d_ff {cfg.d_ff}, {cfg.norm}-norm, "
        f"{cfg.positional} positional encoding, vocabulary {cfg.src_vocab_size} "
        f"({'tied' if cfg.tie_embeddings else 'separate'} embeddings and output projection), max length {cfg.max_len}. "
        f"**{m.model.num_parameters():,} parameters**; `model.safetensors` is "
        f"{os.path.getsize(model_dir / 'model.safetensors') / 2**20:.1f} MiB.",
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
        lines += ["", "BLEU and chrF by sacrebleu on greedy translations of the validation pairs; "
                  "`exact` is the share of whole sequences translated exactly.", ""]  # fmt: skip
    examples = meta.get("examples", [])[: args.samples]
    if examples:
        lines += ["## Sample outputs (beam 4)", "", "| input | output | expected |", "|---|---|---|"]
        for text in examples:
            expected = ""
            if "task" in source:
                expected = synthetic_expected(source["task"], text)
            lines.append(f"| `{text}` | `{m.translate(text)}` | {f'`{expected}`' if expected else ''} |")
        lines.append("")
    if args.notes:
        lines += [Path(args.notes).read_text().strip(), ""]
    (model_dir / "README.md").write_text("\n".join(lines))
    print(f"wrote {model_dir / 'README.md'}" + (" and loss_curve.png" if has_curve else ""), file=sys.stderr)
    return 0


def synthetic_expected(task: str, text: str) -> str:
    seq = text.split()
    return " ".join({"copy": seq, "reverse": seq[::-1], "sort": sorted(seq)}[task])


if __name__ == "__main__":
    sys.exit(main())
