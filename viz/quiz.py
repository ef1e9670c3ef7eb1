"""Predict, then reveal: one cross-attention row over the source pieces, with the student's pick, the
model's answer and the hand alignment marked (arrays in, a figure out).

    row = cross[layer].mean(0)[piece - 1]          # the row that writes tgt_tokens[piece]
    viz.quiz_reveal(row, src_tokens, guess=3, model_pick=[5, 6], hand_pick=[5, 6]).show()
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from viz.frames import as_array
from viz.style import esc, esc_all, finish, index_axis

MODEL_COLOR = "#08519c"  # the word the model reads most
OTHER_COLOR = "#9ecae1"
GUESS_COLOR = "#e6550d"
HAND_COLOR = "#31a354"


def quiz_reveal(
    weights,
    src_tokens: Sequence[str],
    *,
    guess: int | None = None,
    model_pick: Sequence[int] = (),
    hand_pick: Sequence[int] = (),
    title: str = "What the model reads",
    font_size: int = 12,
    height: int | None = None,
) -> go.Figure:
    """Bars of one attention row (S,) over the source pieces: dark = the pieces of the word the model
    reads most (`model_pick`), an orange triangle over the student's pick (`guess`), a green star over
    the hand-aligned word's pieces (`hand_pick`)."""
    w = as_array(weights, "attention row")
    if w.ndim != 1 or len(w) != len(src_tokens):
        raise ValueError(f"need one row of {len(src_tokens)} weights, got shape {w.shape}")
    n = len(w)
    labels = esc_all(src_tokens)
    picked = np.zeros(n, dtype=bool)
    picked[list(model_pick)] = True
    top = float(w.max()) if n else 1.0
    fig = go.Figure()
    for mask, name, color in (
        (picked, "the word the model reads most", MODEL_COLOR),
        (~picked, "other pieces", OTHER_COLOR),
    ):
        x = np.flatnonzero(mask)
        fig.add_trace(
            go.Bar(
                x=x,
                y=w[mask],
                name=name,
                marker_color=color,
                customdata=[labels[i] for i in x],
                hovertemplate="%{customdata}: weight %{y:.3f}<extra></extra>",
            )
        )
    marks = (
        ([] if guess is None else [int(guess)], "your pick", "triangle-down", GUESS_COLOR, 1.12),
        (list(hand_pick), "hand alignment", "star", HAND_COLOR, 1.24),
    )
    for where, name, symbol, color, lift in marks:
        if where:
            fig.add_trace(
                go.Scatter(
                    x=where,
                    y=[top * lift + 0.02] * len(where),
                    mode="markers",
                    name=name,
                    marker={"symbol": symbol, "size": font_size * 1.6, "color": color},
                    hovertemplate=f"{esc(name)}: %{{customdata}}<extra></extra>",
                    customdata=[labels[i] for i in where],
                )
            )
    fig.update_xaxes(index_axis(labels, "English piece (source)", turn_after=8))
    fig.update_yaxes(title_text="attention weight", range=[0, top * 1.35 + 0.05])
    fig.update_layout(barmode="overlay", bargap=0.25)
    return finish(fig, title, font_size, height or int(300 + font_size * 6))


__all__ = ["quiz_reveal"]
