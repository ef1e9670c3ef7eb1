"""Predict, then reveal: what the model reads while writing one word, over the source words, with the
student's pick, the model's answer and the hand alignment marked (arrays in, a figure out).

    rnd = app_support.quiz.make_round(cross[layer].mean(0), src_tokens, word)   # weights: (source words,)
    viz.quiz_reveal(rnd.weights, ["The", "boy", "eats", "."], guess=1, model_pick=[2], hand_pick=[2]).show()
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from viz.frames import as_array
from viz.style import esc_all, finish, index_axis

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
    """Bars of attention weights (S,) over the source words (or pieces) `src_tokens`: dark = the model's
    answer (`model_pick`), an orange frame around the student's pick's column (`guess`), a green star over the
    hand-aligned word (`hand_pick`)."""
    w = as_array(weights, "attention row")
    if w.ndim != 1 or len(w) != len(src_tokens):
        raise ValueError(f"need one row of {len(src_tokens)} weights, got shape {w.shape}")
    labels = esc_all(src_tokens)
    picked = np.zeros(len(w), dtype=bool)
    picked[list(model_pick)] = True
    top = float(w.max()) if len(w) else 1.0
    fig = go.Figure()
    ceiling = top * 1.25 + 0.05  # room for the star above the highest bar
    hover = "%{customdata}: weight %{y:.3f}<extra></extra>"
    for mask, name, color in (
        (picked, "the word the model reads most", MODEL_COLOR),
        (~picked, "other words", OTHER_COLOR),
    ):
        x = np.flatnonzero(mask)
        fig.add_trace(go.Bar(x=x, y=w[x], name=name, marker_color=color, customdata=[labels[i] for i in x],
                             hovertemplate=hover))  # fmt: skip
    if guess is not None:  # an orange frame around the pick's whole column: seen even where its weight is ~0
        line = {"color": GUESS_COLOR, "width": max(3, font_size // 4)}
        fig.add_trace(go.Bar(x=[int(guess)], y=[ceiling], name="your pick", customdata=[labels[int(guess)]],
                             marker={"color": "rgba(0,0,0,0)", "line": line},
                             hovertemplate="your pick: %{customdata}<extra></extra>"))  # fmt: skip
    if len(hand_pick):
        fig.add_trace(
            go.Scatter(
                x=list(hand_pick), y=[top * 1.12 + 0.02] * len(hand_pick), mode="markers",
                name="hand alignment",
                marker={"symbol": "star", "size": font_size * 1.6, "color": HAND_COLOR},
                hovertemplate="hand alignment: %{customdata}<extra></extra>",
                customdata=[labels[i] for i in hand_pick],
            )
        )  # fmt: skip
    fig.update_xaxes(index_axis(labels, turn_after=12))
    fig.update_yaxes(title_text="attention weight", range=[0, ceiling])
    fig.update_layout(barmode="overlay", bargap=0.25)
    return finish(fig, title, font_size, height or int(300 + font_size * 6))


__all__ = ["quiz_reveal"]
