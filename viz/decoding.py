"""Step-by-step decoding figures: what the decoder sees and predicts at step t (paper §3.1, §3.4).

Step t is decoder input position t; its output distribution predicts token t+1. The
attention figures show one query row (position t) for every layer × head at once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from viz._style import ATTENTION_COLORSCALE, axis_titles, esc, esc_all, finish
from viz.frames import MEAN_HEAD, attention_grid

CHOSEN_COLOR, OTHER_COLOR = "#e4572e", "#4c78a8"


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


def _row_at_step(
    frame: pd.DataFrame, step: int, kind: str, zmax: float, font_size: int, height: int | None
) -> go.Figure:
    """Query row `step` of every layer × head of one attention kind -> (layers·heads, keys) heatmap."""
    kinds = set(frame["kind"].unique().tolist()) if "kind" in frame else {kind}
    if kinds != {kind}:
        raise ValueError(f"expected a {kind} attention frame, got kind {sorted(kinds)}")
    rows = frame[frame["q_pos"] == step]
    if kind == "decoder":
        rows = rows[rows["k_pos"] <= step]  # the future does not exist yet at this step
    if rows.empty:
        raise ValueError(f"step {step} not in frame (query positions 0..{frame['q_pos'].max()})")
    g = attention_grid(rows)
    n_l, n_h, _, n_k = g.z.shape
    z = g.z[:, :, 0, :].reshape(n_l * n_h, n_k)  # row l·H + h = layer l, head h
    heads = ["mean" if h == MEAN_HEAD else h for h in g.heads]
    row_lab = np.array([f"L{layer} H{h}" for layer in g.layers for h in heads], dtype=object)
    k_lab = np.array([f"{p}: {esc(t)}" for p, t in zip(g.k_pos, g.keys, strict=True)], dtype=object)
    custom = np.stack(np.broadcast_arrays(row_lab[:, None], k_lab[None, :]), axis=-1)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=np.arange(n_k),
            y=np.arange(n_l * n_h),
            customdata=custom,
            colorscale=ATTENTION_COLORSCALE,
            zmin=0.0,
            zmax=zmax,
            colorbar={"title": {"text": "weight"}},
            hovertemplate="%{customdata[0]}<br>key %{customdata[1]}<br>weight %{z:.6f}<extra></extra>",
        )
    )
    for layer in range(1, n_l):  # a rule between layers
        fig.add_hline(y=layer * n_h - 0.5, line={"color": "white", "width": 3})
    fig.update_xaxes(
        title_text=axis_titles(kind)[1],
        tickmode="array",
        tickvals=list(range(n_k)),
        ticktext=esc_all(g.keys),
        tickangle=-45 if n_k > 6 else 0,
        showgrid=False,
        automargin=True,
    )
    fig.update_yaxes(
        title_text="layer, head",
        tickmode="array",
        tickvals=list(range(n_l * n_h)),
        ticktext=list(row_lab),
        autorange="reversed",
        showgrid=False,
        automargin=True,
    )
    # short: the figure sits in a half-width column, and its caption says the rest
    what = "source pieces" if kind == "cross" else "earlier target pieces"
    title = f"Step {step}: {g.queries[0]!r} → {what}"
    auto = int(min(1400, max(280, 160 + n_l * n_h * font_size * 1.6)))
    return finish(fig, title, font_size, height or auto)


def cross_attention_step(
    frame: pd.DataFrame, step: int, *, zmax: float = 1.0, font_size: int = 12, height: int | None = None
) -> go.Figure:
    """Cross-attention row of decoder position `step`: (layers·heads) rows × source tokens."""
    return _row_at_step(frame, step, "cross", zmax, font_size, height)


def self_attention_step(
    frame: pd.DataFrame, step: int, *, zmax: float = 1.0, font_size: int = 12, height: int | None = None
) -> go.Figure:
    """Decoder self-attention row of position `step`: (layers·heads) rows × target positions 0..step."""
    return _row_at_step(frame, step, "decoder", zmax, font_size, height)
