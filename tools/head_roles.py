"""What each head does, as tables: the strongest role of every head of every attention kind.

The measures and the rule that names a head's role are transformer.head_roles's (Clark et al. 2019,
Voita et al. 2019). Over a set (default: eval/everyday_en_de.json, each sentence teacher-forced on its
reference, rows pooled) or over one sentence (translated by the model, greedy, as the app does).

python -m tools.head_roles --model en-de [--set FILE | --sentence TEXT] [--all] [--markdown]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import torch

from transformer.head_roles import MEASURES, POSITIONAL, HeadRoles, set_roles, text_roles, trace_roles
from transformer.pretrained import load_pretrained

from .alignment import DEFAULT_SET, load_set


def grid(roles: HeadRoles, measure: str | None = None) -> pd.DataFrame:
    """Layer × head: "role score" of each head's strongest role ("role*" when positional by Voita's rule),
    or one measure's scores (`measure`)."""
    if measure is None:
        (role, score), positional = roles.strongest(), roles.positional()[0] != ""
        cells = [
            [f"{r}{'*' if p else ''} {s:.2f}" if r else "–" for r, s, p in zip(rr, ss, pp)]
            for rr, ss, pp in zip(role, score, positional)
        ]
    else:
        cells = roles.scores[measure].round(2)
    n_layers, n_heads = roles.shape
    return pd.DataFrame(
        cells, index=[f"L{i}" for i in range(n_layers)], columns=[f"H{h}" for h in range(n_heads)]
    )


def summary(all_roles: dict[str, HeadRoles]) -> list[str]:
    """What a class should notice, per kind: how many heads are positional (self-attention only), the
    roles counted, and where parking on </s> / the start piece / punctuation is strongest."""
    lines = []
    for kind, roles in all_roles.items():
        role = roles.strongest()[0]
        named = ", ".join(f"{n} {int((role == n).sum())}" for n in dict.fromkeys(role.ravel()))
        line = [f"{kind}: roles {named}"]
        offset, share = roles.positional()
        if not np.isnan(share).all():
            near = np.unravel_index(np.nanargmax(share), share.shape)
            line.append(
                f"{int((offset != '').sum())} of {role.size} heads positional (argmax share >= {POSITIONAL}; "
                f"closest L{near[0]} H{near[1]} {share[near]:.2f})"
            )
        parked = roles.scores["parked"]
        at = np.unravel_index(np.nanargmax(parked), parked.shape)
        parts = ", ".join(
            f"{name} {roles.scores[m][at]:.2f}"
            for name, m in (("</s>", "eos"), ("start", "bos"), ("punctuation", "punctuation"))
            if not np.isnan(roles.scores[m][at])
        )
        layers = " ".join(f"L{i} {v:.2f}" for i, v in enumerate(np.nanmean(parked, 1)))
        line.append(f"most parked L{at[0]} H{at[1]} {parked[at]:.2f} ({parts}); parked by layer {layers}")
        lines.append("; ".join(line))
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.head_roles", description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="model dir, training run dir, or name in assets/")
    parser.add_argument("--set", default=str(DEFAULT_SET), help="eval set (JSON with items en, de, pairs)")
    parser.add_argument("--sentence", help="score this one sentence instead of the set")
    parser.add_argument("--all", action="store_true", help="also print every measure's layer × head table")
    parser.add_argument("--markdown", action="store_true", help="tables as Markdown (for the README)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # light: this shares the machine with training
    model = load_pretrained(args.model)
    source = model.metadata.get("source")
    task = isinstance(source, dict) and source.get("task")  # a toy: its examples, each on its own output
    if args.sentence:
        all_roles, what = trace_roles(model, model.trace(args.sentence)), f"the sentence {args.sentence!r}"
    elif task:
        texts = model.metadata.get("examples") or []
        if not texts:
            parser.error(f"the {task!r} model names no examples: give one with --sentence")
        all_roles = text_roles(model, texts)
        what = f"its {len(texts)} examples (a {task!r} task: the English set does not apply)"
    else:
        items = load_set(args.set)
        all_roles, what = set_roles(model, items), f"{len(items)} sentences of {args.set}"
    print(f"model {model.name}: head roles over {what}\n")
    show = (lambda df: df.to_markdown()) if args.markdown else (lambda df: df.to_string())
    for kind, roles in all_roles.items():
        print(f"{kind} ({roles.rows} rows)\n{show(grid(roles))}\n")
        if args.all:
            for measure, meaning in MEASURES.items():
                print(f"  {kind} {measure}: {meaning}\n{show(grid(roles, measure))}\n")
    print(
        f"* positional: the largest weight on that offset in >= {POSITIONAL:.0%} of rows (Voita et al. 2019)"
    )
    print("\n".join(summary(all_roles)))


if __name__ == "__main__":
    main()
