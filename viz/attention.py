"""Attention frames -> Plotly figures: one head, every head, and bertviz-style lines (paper §3.2.2).

All functions take a tidy frame from `viz.frames.attention_frame` (or a subset of it) and
return a `go.Figure`. Token axes use positions as coordinates with the pieces as tick
labels, so "▁the … ▁the" keeps two rows. Layer and head numbers are 0-based tensor indices.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from viz._style import ATTENTION_COLORSCALE, MASK_COLOR, axis_titles, esc, esc_all, finish
from viz.frames import MEAN_HEAD, attention_grid

MASK_LEGEND = "masked: future position (causal mask)"


KIND_NAMES = {
    "encoder": "Encoder self-attention",
    "decoder": "Decoder masked self-attention",
    "cross": "Cross-attention (decoder → encoder)",
}


def _default_title(kind: str | None, layer, head) -> str:
    who = "mean over heads" if head == MEAN_HEAD else f"head {head}"
    return f"{KIND_NAMES.get(kind, 'Attention')} — layer {layer}, {who}"


def _auto_height(n_rows: int, font_size: int, per_row: float = 1.8, lo: int = 350, hi: int = 1400) -> int:
    return int(min(hi, max(lo, 160 + n_rows * font_size * per_row)))


def _mask_polygons(mask: np.ndarray) -> tuple[list, list]:
    """Outline of masked cells as one rectangle per row (mask rows are suffixes: keys after the query)."""
    xs, ys = [], []
    n_k = mask.shape[1]
    for i, row in enumerate(mask):
        if row.any():
            c = int(np.argmax(row))  # first masked column
            xs += [c - 0.5, n_k - 0.5, n_k - 0.5, c - 0.5, c - 0.5, None]
            ys += [i - 0.5, i - 0.5, i + 0.5, i + 0.5, i - 0.5, None]
    return xs, ys


def attention_heatmap(
    frame: pd.DataFrame,
    title: str | None = None,
    *,
    zmax: float | None = 1.0,
    font_size: int = 12,
    height: int | None = None,
) -> go.Figure:
    """One layer and head (or head mean) as a query × key heatmap.

    Rows are queries (row 0 on top), columns keys. For decoder self-attention the cells
    above the diagonal are NaN, drawn hatched grey with a legend entry, so the causal mask
    is not mistaken for a learned zero. zmax=None scales colours to the largest weight.
    """
    g = attention_grid(frame)
    if g.z.shape[:2] != (1, 1):
        raise ValueError(
            f"attention_heatmap draws one layer and one head, got layers {g.layers.tolist()} "
            f"and heads {g.heads.tolist()}; use select_head(frame, layer, head) first"
        )
    z = g.z[0, 0].copy()  # (n_q, n_k)
    mask = g.causal_mask
    z[mask] = np.nan
    n_q, n_k = z.shape
    q_lab = np.array([f"{p}: {esc(t)}" for p, t in zip(g.q_pos, g.queries, strict=True)], dtype=object)
    k_lab = np.array([f"{p}: {esc(t)}" for p, t in zip(g.k_pos, g.keys, strict=True)], dtype=object)
    weight = np.where(mask, "masked (future position)", np.char.mod("%.6f", z)).astype(object)
    weight[~mask & np.isnan(z)] = "not captured"
    custom = np.stack(np.broadcast_arrays(q_lab[:, None], k_lab[None, :], weight), axis=-1)  # (n_q, n_k, 3)

    fig = go.Figure()
    if mask.any():
        xs, ys = _mask_polygons(mask)
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                fill="toself",
                fillcolor=MASK_COLOR,
                fillpattern={"shape": "/", "fgcolor": "#8c8c8c", "bgcolor": MASK_COLOR, "size": 8},
                line={"width": 0},
                name=MASK_LEGEND,
                hoverinfo="skip",
                showlegend=True,
            )
        )
    fig.add_trace(
        go.Heatmap(
            z=z,
            x=np.arange(n_k),
            y=np.arange(n_q),
            customdata=custom,
            hovertemplate="query %{customdata[0]}<br>key %{customdata[1]}<br>"
            "weight %{customdata[2]}<extra></extra>",
            colorscale=ATTENTION_COLORSCALE,
            zmin=0.0,
            zmax=float(np.nanmax(z)) if zmax is None and np.isfinite(z).any() else (zmax or 1.0),
            colorbar={"title": {"text": "weight"}},
        )
    )
    y_title, x_title = axis_titles(g.kind)
    fig.update_xaxes(
        title_text=x_title,
        tickmode="array",
        tickvals=list(range(n_k)),
        ticktext=esc_all(g.keys),
        tickangle=-45 if n_k > 6 else 0,
        range=[-0.5, n_k - 0.5],
        showgrid=False,
        zeroline=False,
        automargin=True,
    )
    fig.update_yaxes(
        title_text=y_title,
        tickmode="array",
        tickvals=list(range(n_q)),
        ticktext=esc_all(g.queries),
        autorange="reversed",
        showgrid=False,
        zeroline=False,
        automargin=True,
    )
    fig.update_layout(legend={"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"})
    title = title or _default_title(g.kind, g.layers[0], g.heads[0])
    return finish(fig, title, font_size, height or _auto_height(n_q, font_size))


def _grid_layout(
    n_rows: int, n_cols: int, titles: list[str], x_axis: dict, y_axis: dict, font_size: int
) -> dict:
    """Layout of an n_rows × n_cols grid of subplots, written directly as one dict.

    Equivalent to `make_subplots` + `update_xaxes` + `update_yaxes`, which validate every
    axis on every call and cost most of a second for 24 subplots; this costs one validation.
    """
    h_gap, v_gap = min(0.02, 0.5 / n_cols), min(0.25, 1.0 / n_rows) / n_rows
    w = (1 - h_gap * (n_cols - 1)) / n_cols
    h = (1 - v_gap * (n_rows - 1)) / n_rows
    layout, annotations = {}, []
    for r in range(n_rows):
        for c in range(n_cols):
            n = r * n_cols + c + 1
            sfx = "" if n == 1 else str(n)
            x0, y1 = c * (w + h_gap), 1 - r * (h + v_gap)
            # token labels on the outer edge only: inner ones would overlap the neighbours
            layout[f"xaxis{sfx}"] = dict(x_axis, domain=[x0, x0 + w], anchor=f"y{sfx}")
            layout[f"xaxis{sfx}"]["showticklabels"] &= r == n_rows - 1
            layout[f"yaxis{sfx}"] = dict(y_axis, domain=[y1 - h, y1], anchor=f"x{sfx}")
            layout[f"yaxis{sfx}"]["showticklabels"] &= c == 0
            annotations.append(
                {
                    "text": titles[n - 1],
                    "x": x0 + w / 2,
                    "y": y1,
                    "xref": "paper",
                    "yref": "paper",
                    "xanchor": "center",
                    "yanchor": "bottom",
                    "showarrow": False,
                    "font": {"size": font_size},
                }
            )
    layout["annotations"] = annotations
    return layout


def model_view(
    frame: pd.DataFrame,
    *,
    zmax: float = 1.0,
    font_size: int = 10,
    height: int | None = None,
    show_tokens: bool | None = None,
) -> go.Figure:
    """Every layer (rows) × head (columns) of one attention kind, one shared colour scale.

    Built from dense numpy arrays, one `go.Heatmap` per head, so 3 layers × 8 heads × 128
    tokens stays fast. Axes are categories "pos: piece" (unique by position), which puts the
    tokens in the hover at O(T) cost instead of a per-cell label. Decoder future cells are
    NaN and show the grey background. Tick labels default to on for short sentences only.
    """
    g = attention_grid(frame)
    n_l, n_h, n_q, n_k = g.z.shape
    z = g.z.astype(np.float32)  # half the JSON of float64; weights need no more precision
    z[..., g.causal_mask] = np.nan
    q_lab = [f"{p}: {esc(t)}" for p, t in zip(g.q_pos, g.queries, strict=True)]
    k_lab = [f"{p}: {esc(t)}" for p, t in zip(g.k_pos, g.keys, strict=True)]
    titles = [f"L{layer} H{'mean' if head == MEAN_HEAD else head}" for layer in g.layers for head in g.heads]
    traces = []
    for n, title in enumerate(titles):
        sfx = "" if n == 0 else str(n + 1)
        traces.append(
            go.Heatmap(
                z=z[n // n_h, n % n_h],
                x=k_lab,
                y=q_lab,
                xaxis=f"x{sfx}",
                yaxis=f"y{sfx}",
                coloraxis="coloraxis",
                name=title,
                hovertemplate=f"{title}<br>query %{{y}}<br>key %{{x}}<br>weight %{{z:.6f}}<extra></extra>",
            )
        )
    show = max(n_q, n_k) <= 12 if show_tokens is None else show_tokens
    axis = {"showticklabels": show, "showgrid": False, "zeroline": False, "type": "category"}
    layout = _grid_layout(
        n_l, n_h, titles, dict(axis, tickangle=-90), dict(axis, autorange="reversed"), font_size
    )
    layout["coloraxis"] = {
        "colorscale": ATTENTION_COLORSCALE,
        "cmin": 0.0,
        "cmax": zmax,
        "colorbar": {"title": {"text": "weight"}},
    }
    layout["plot_bgcolor"] = MASK_COLOR
    fig = go.Figure(data=traces, layout=layout)
    y_title, x_title = axis_titles(g.kind)
    masked = " — grey: masked future positions" if g.causal_mask.any() else ""
    name = KIND_NAMES.get(g.kind, "Attention")
    title = f"{name}: layers (rows) × heads (columns); y: {y_title}, x: {x_title}{masked}"
    per_row = 120 + font_size * 2
    labels = font_size * 0.7 * max(len(lab) for lab in k_lab) if show else 0  # bottom tick labels
    finish(fig, title, font_size, height or int(min(2400, 100 + labels + n_l * per_row)))
    fig.layout.title.font.size = round(font_size * 1.2)
    return fig


def head_view(
    frame: pd.DataFrame,
    layer: int,
    heads: Sequence[int] | None = None,
    *,
    threshold: float = 0.02,
    font_size: int = 12,
    height: int | None = None,
) -> go.Figure:
    """bertviz-style lines from query tokens (left) to key tokens (right) for one layer.

    One colour and one legend entry per head (click to hide); line opacity and width grow
    with the weight, in five steps so each head needs at most six traces. Lines below
    `threshold` are dropped: they are invisible anyway and cost the browser time.
    """
    rows = frame[frame["layer"] == layer]
    if rows.empty:
        raise ValueError(f"layer {layer} not in frame (layers {sorted(frame['layer'].unique().tolist())})")
    available = sorted(rows["head"].unique().tolist())
    heads = available if heads is None else list(heads)
    unknown = [h for h in heads if h not in available]
    if unknown or not heads:
        raise ValueError(f"heads {unknown or heads} not in layer {layer} (heads {available})")
    g = attention_grid(rows[rows["head"].isin(heads)])
    n_q, n_k = g.z.shape[2:]
    q_lab = [f"{p}: {esc(t)}" for p, t in zip(g.q_pos, g.queries, strict=True)]
    k_lab = [f"{p}: {esc(t)}" for p, t in zip(g.k_pos, g.keys, strict=True)]
    palette = qualitative.Plotly

    fig = go.Figure()
    for j, head in enumerate(g.heads):
        color, group = palette[j % len(palette)], f"head {head}"
        # legend holder: the group keeps its entry even when no line passes the threshold
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="lines",
                line={"color": color, "width": 3},
                name=group,
                legendgroup=group,
            )
        )
        w = np.nan_to_num(g.z[0, j])  # (n_q, n_k)
        qi, ki = np.nonzero(w >= threshold)
        level = np.minimum((w[qi, ki] * 5).astype(int), 4)  # 0..4
        for lv in np.unique(level):
            sel = level == lv
            n = int(sel.sum())
            xs = np.tile([0.0, 1.0, np.nan], n)
            ys = np.column_stack([qi[sel], ki[sel], np.full(n, np.nan)]).ravel()
            text = [
                f"{group}: {q_lab[a]} → {k_lab[b]}, weight {w[a, b]:.6f}"
                for a, b in zip(qi[sel], ki[sel], strict=True)
            ]
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines",
                    line={"color": color, "width": 1 + lv},
                    opacity=0.15 + 0.2 * lv,
                    legendgroup=group,
                    showlegend=False,
                    customdata=np.repeat(text, 3),
                    hovertemplate="%{customdata}<extra></extra>",
                )
            )
    for x, labels, n, pos in ((0.0, g.queries, n_q, "middle left"), (1.0, g.keys, n_k, "middle right")):
        fig.add_trace(
            go.Scatter(
                x=[x] * n,
                y=list(range(n)),
                mode="text",
                text=esc_all(labels),
                textposition=pos,
                hoverinfo="skip",
                showlegend=False,
            )
        )
    y_title, x_title = axis_titles(g.kind)
    for x, text in ((0.0, y_title), (1.0, x_title)):
        fig.add_annotation(x=x, y=-1.2, text=text, showarrow=False, xanchor="right" if x == 0 else "left")
    fig.update_xaxes(visible=False, range=[-0.9, 1.9])
    fig.update_yaxes(visible=False, autorange="reversed")
    fig.update_layout(legend={"title": {"text": "click to toggle"}}, hovermode="closest")
    name = KIND_NAMES.get(g.kind, "Attention")
    title = f"{name}, layer {layer}: query (left) → key (right), weight ≥ {threshold:g}"
    return finish(fig, title, font_size, height or _auto_height(max(n_q, n_k), font_size, per_row=2.0))
