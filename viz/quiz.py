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
    return _word_bars(w, src_tokens, "attention weight", "weight %{y:.3f}", guess=guess, model_pick=model_pick,
                      hand_pick=hand_pick, title=title, font_size=font_size, height=height)  # fmt: skip


def class_picks(
    counts,
    src_tokens: Sequence[str],
    *,
    weights=None,
    model_pick: Sequence[int] = (),
    hand_pick: Sequence[int] = (),
    title: str = "What the class picked",
    font_size: int = 12,
    height: int | None = None,
) -> go.Figure:
    """Bars of how many students picked each source word (S,). After the reveal, give the model's attention
    `weights` (S,): beside each word, the class's share of picks (orange) and the model's share of attention (blue,
    dark on `model_pick`), with a green star over the hand-aligned word (`hand_pick`)."""
    c = as_array(counts, "picks per word")
    if weights is None:
        fig = _word_bars(c, src_tokens, "students", "%{y:d} picked it", title=title, font_size=font_size,
                         height=height, legend=False)  # fmt: skip
        return fig.update_yaxes(dtick=max(1, int(np.ceil(c.max(initial=0) / 5))))  # whole students
    w = as_array(weights, "attention row")
    if c.shape != w.shape or c.ndim != 1 or len(c) != len(src_tokens):
        raise ValueError(f"need one count and one weight per source word ({len(src_tokens)})")
    labels = esc_all(src_tokens)
    share = c / max(c.sum(), 1)
    x = np.arange(len(labels))
    colors = [MODEL_COLOR if i in set(model_pick) else OTHER_COLOR for i in x]
    fig = go.Figure([
        go.Bar(x=x, y=share, name="the class's picks", marker_color=GUESS_COLOR, customdata=np.stack([labels, c], -1),
               hovertemplate="%{customdata[0]}: %{customdata[1]} picked it (%{y:.0%})<extra></extra>"),
        go.Bar(x=x, y=w, name="the model's attention (dark: most)", marker_color=colors, customdata=labels,
               hovertemplate="%{customdata}: attention %{y:.0%}<extra></extra>"),
    ])  # fmt: skip
    top = float(max(share.max(), w.max(), 0.05))
    if len(hand_pick):
        fig.add_trace(go.Scatter(x=list(hand_pick), y=[top * 1.12] * len(hand_pick), mode="markers",
                                 name="hand alignment", customdata=[labels[i] for i in hand_pick],
                                 marker={"symbol": "star", "size": font_size * 1.6, "color": HAND_COLOR},
                                 hovertemplate="hand alignment: %{customdata}<extra></extra>"))  # fmt: skip
    fig.update_xaxes(index_axis(labels, turn_after=12))
    fig.update_yaxes(title_text="share", tickformat=".0%", range=[0, top * 1.25])
    fig.update_layout(barmode="group", bargap=0.25, bargroupgap=0.05)
    return finish(fig, title, font_size, height or int(300 + font_size * 6))


def _word_bars(values, src_tokens, y_title: str, what: str, *, guess=None, model_pick=(), hand_pick=(),
               title: str, font_size: int, height: int | None, legend: bool = True) -> go.Figure:  # fmt: skip
    """One bar per source word; see quiz_reveal for the marks."""
    w = np.asarray(values, dtype=np.float64)
    if w.ndim != 1 or len(w) != len(src_tokens):
        raise ValueError(f"need one value per source word ({len(src_tokens)}), got shape {w.shape}")
    labels = esc_all(src_tokens)
    picked = np.zeros(len(w), dtype=bool)
    picked[list(model_pick)] = True
    top = float(w.max()) if len(w) and w.max() > 0 else 1.0
    fig = go.Figure()
    ceiling = top * 1.25 + 0.05  # room for the star above the highest bar
    hover = f"%{{customdata}}: {what}<extra></extra>"
    for mask, name, color in (
        (picked, "the word the model reads most", MODEL_COLOR),
        (~picked, "other words", OTHER_COLOR),
    ):
        x = np.flatnonzero(mask)
        fig.add_trace(go.Bar(x=x, y=w[x], name=name, marker_color=color, customdata=[labels[i] for i in x],
                             hovertemplate=hover, showlegend=legend))  # fmt: skip
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
    fig.update_yaxes(title_text=y_title, range=[0, ceiling])
    fig.update_layout(barmode="overlay", bargap=0.25)
    return finish(fig, title, font_size, height or int(300 + font_size * 6))


__all__ = ["class_picks", "quiz_reveal"]
