"""Step-by-step decoding figures: what the decoder sees and predicts at step t (paper §3.1, §3.4).

Step t is decoder input position t: it reads piece t and its output distribution predicts
piece t+1. The attention figures take a kind's whole attention (layers, heads, q_len, k_len)
and the pieces of each side, and show query row t of every layer × head at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from viz.attention import key_axis_px, left_px, margins, weights_heatmap
from viz.frames import LAYERS_SHAPE, array_of
from viz.labels import axes, predicted_pieces, row_mode
from viz.style import TOP, esc_all, finish

CHOSEN_COLOR, OTHER_COLOR = "#e4572e", "#4c78a8"
ROWS_TITLE = "layer, head"  # the step figures' y axis: one row per layer and head
STEP_ROW_PITCH = 1.6  # × font size: a step figure's row (a layer's rows stand between white rules)


def topk_bar(
    frame: pd.DataFrame,
    step: int | None = None,
    *,
    chosen: str | None = None,
    context: str | None = None,
    font_size: int = 12,
    height: int | None = None,
) -> go.Figure:
    """Horizontal bars of the top-k next-token probabilities at one step, rank 1 on top.

    `frame` comes from `topk_frame`; `step` may be omitted when it holds one step only.
    The bar whose token equals `chosen` (e.g. the token actually generated) is highlighted;
    `context` (the decoder input token at this step) goes into the title.
    """
    steps = sorted(frame["step"].unique().tolist())
    if step is None and len(steps) != 1:
        raise ValueError(f"frame holds steps {steps}; pass step=")
    step = steps[0] if step is None else step
    rows = frame[frame["step"] == step].sort_values("rank")
    if rows.empty:
        raise ValueError(f"step {step} not in frame (steps {steps})")
    n = len(rows)
    tokens = esc_all(rows["token"])
    colors = [CHOSEN_COLOR if t == chosen else OTHER_COLOR for t in rows["token"]]
    fig = go.Figure(
        go.Bar(
            x=rows["prob"],
            y=np.arange(n),
            orientation="h",
            marker={"color": colors},
            customdata=np.column_stack([np.array(tokens, dtype=object), rows["token_id"].to_numpy()]),
            hovertemplate="token %{customdata[0]} (id %{customdata[1]})<br>p = %{x:.6f}<extra></extra>",
        )
    )
    fig.update_yaxes(
        title_text="candidate next token (rank)",
        tickmode="array",
        tickvals=list(range(n)),
        ticktext=tokens,
        autorange="reversed",
        automargin=True,
    )
    fig.update_xaxes(title_text="probability", range=[0, max(1e-9, float(rows["prob"].max())) * 1.05])
    after = f" after {context!r}" if context is not None else ""
    title = f"Step {step}{after}: top-{n} candidates for the next token"
    auto = int(min(900, max(260, 140 + n * font_size * 2.2)))
    return finish(fig, title, font_size, height or auto)


def attention_step(
    weights,
    q_tokens: Sequence[str],
    k_tokens: Sequence[str],
    step: int,
    *,
    kind: str,
    rows: str | None = None,
    zmax: float = 1.0,
    font_size: int = 12,
    height: int | None = None,
) -> go.Figure:
    """Query row `step` of every layer × head of one kind (layers, heads, q_len, k_len) -> (layers·heads, keys)
    heatmap. `rows` words the step in the title (reads / predicts / both; None = the kind's default)."""
    w = array_of(weights, LAYERS_SHAPE, f"{kind} attention")
    n_l, n_h, n_q, n_k = w.shape
    if not 0 <= step < n_q:
        raise ValueError(f"step {step} not among the {kind} query positions 0..{n_q - 1}")
    if len(q_tokens) != n_q:
        raise ValueError(f"{len(q_tokens)} query pieces for the {n_q} {kind} query positions")
    n_shown = step + 1 if kind == "decoder" else n_k  # the future does not exist yet at this step
    z = w[:, :, step, :n_shown].reshape(n_l * n_h, n_shown)  # row l·H + h = layer l, head h
    ax = axes(kind, q_tokens, k_tokens, (1, n_shown), rows, q_pos=[step])
    row_lab = np.array([f"L{layer} H{h}" for layer in range(n_l) for h in range(n_h)], dtype=object)
    k_lab = np.array(ax.k_hover, dtype=object)
    custom = np.stack(np.broadcast_arrays(row_lab[:, None], k_lab[None, :]), axis=-1)
    hover = f"%{{customdata[0]}}<br>query {ax.q_hover[0]}<br>key %{{customdata[1]}}<br>weight %{{z:.6f}}"
    fig = go.Figure(*weights_heatmap(z, ax, custom, hover + "<extra></extra>", zmax, ROWS_TITLE, row_lab))
    for layer in range(1, n_l):  # a rule between layers
        fig.add_hline(y=layer * n_h - 0.5, line={"color": "white", "width": 3})
    # short: the figure sits in a half-width column; its x-axis title says which side the keys are
    read, predicted = f"reads {q_tokens[step]!r}", f"predicts {predicted_pieces(q_tokens)[step]!r}"
    said = {"read": read, "predicted": predicted, "both": f"{read}, {predicted}"}[row_mode(kind, rows)]
    title = f"Step {step}: {said}"
    # margins from the labels, as the attention heatmaps': the keys stand upright when they turn, and
    # their axis title goes below the longest; the rows keep their pitch whatever the keys take
    top, bottom = font_size * TOP, key_axis_px(ax, font_size)
    auto = int(min(1400, max(280, top + n_l * n_h * font_size * STEP_ROW_PITCH + bottom)))
    finish(fig, title, font_size, height or auto)
    left = left_px(row_lab, ROWS_TITLE, font_size)
    fig.update_layout(margin={"t": round(top)} | margins(left, bottom, font_size))
    return fig


def cross_attention_step(
    weights, q_tokens: Sequence[str], k_tokens: Sequence[str], step: int, **options
) -> go.Figure:
    """Cross-attention (layers, heads, tgt_len, src_len) row of decoder position `step`: layers·heads × source.

    q_tokens: the decoder input pieces (tgt_tokens), k_tokens the source pieces; options: `attention_step`'s
    (rows: None = cross-attention's default, predicted).
    """
    return attention_step(weights, q_tokens, k_tokens, step, kind="cross", **options)


def self_attention_step(weights, tokens: Sequence[str], step: int, **options) -> go.Figure:
    """Decoder self-attention (layers, heads, tgt_len, tgt_len) row of `step`: layers·heads × positions 0..step.

    tokens: the decoder input pieces (tgt_tokens), on both sides; options: `attention_step`'s.
    """
    return attention_step(weights, tokens, tokens, step, kind="decoder", **options)
