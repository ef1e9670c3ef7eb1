"""Attention arrays -> Plotly figures: one head, every head, and bertviz-style lines (paper §3.2.2).

Each function takes dense attention weights (numpy, torch or nested lists) and the pieces read
at every position of each side, and returns a `go.Figure`:

    attention_heatmap(w, q_tokens, k_tokens, kind=..., layer=..., head=...)  w: (q_len, k_len)
    head_view(w, q_tokens, k_tokens, kind=..., layer=...)                    w: (heads, q_len, k_len)
    model_view(w, q_tokens, k_tokens, kind=...)                              w: (layers, heads, q_len, k_len)

`rows` says how decoder rows are labelled ("read", "predicted", "both"; None = the kind's default,
see `viz.labels`); the y-axis title says which, and the hover names both pieces. `q_pos`/`k_pos`
are the positions of the rows/columns given, when `hide_specials` dropped some. Token axes use
positions as coordinates with the pieces as tick labels, so "▁the … ▁the" keeps two rows. Layer
and head numbers are 0-based tensor indices; head MEAN_HEAD (-1) is the mean over heads.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from transformer.kinds import KINDS, MEAN_HEAD
from viz._style import ATTENTION_COLORSCALE, MASK_COLOR, esc, finish
from viz.frames import attention_array
from viz.labels import axes

MASK_LEGEND = "masked: future position (causal mask)"


def kind_label(kind: str | None) -> str:
    return KINDS[kind].label if kind in KINDS else "Attention"


def head_name(head: int | None) -> str:
    """ "mean over heads" for MEAN_HEAD, else "head 3"."""
    return "mean over heads" if head == MEAN_HEAD else f"head {head}"


def _default_title(kind: str | None, layer: int | None, head: int | None) -> str:
    where = [
        w
        for w in (None if layer is None else f"layer {layer}", None if head is None else head_name(head))
        if w
    ]
    return " — ".join([kind_label(kind), ", ".join(where)]) if where else kind_label(kind)


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
    weights,
    q_tokens: Sequence[str],
    k_tokens: Sequence[str],
    *,
    kind: str | None = None,
    layer: int | None = None,
    head: int | None = None,
    rows: str | None = None,
    q_pos=None,
    k_pos=None,
    title: str | None = None,
    zmax: float | None = 1.0,
    font_size: int = 12,
    height: int | None = None,
) -> go.Figure:
    """One head (or the head mean) as a query × key heatmap; weights (q_len, k_len).

    Rows are queries (row 0 on top), columns keys. For decoder self-attention the cells
    above the diagonal are NaN, drawn hatched grey with a legend entry, so the causal mask
    is not mistaken for a learned zero. zmax=None scales colours to the largest weight.
    layer and head (MEAN_HEAD for the mean) only name the figure.
    """
    z = attention_array(weights, 2, "attention_heatmap weights (one head: use head_weights)").copy()
    ax = axes(kind, q_tokens, k_tokens, z.shape, rows, q_pos, k_pos)
    mask = ax.mask
    z[mask] = np.nan
    n_q, n_k = z.shape
    q_lab, k_lab = np.array(ax.q_hover, dtype=object), np.array(ax.k_hover, dtype=object)
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
    finite = np.isfinite(z).any()
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
            zmax=float(np.nanmax(z)) if zmax is None and finite else (zmax or 1.0),
            colorbar={"title": {"text": "weight"}},
        )
    )
    fig.update_xaxes(
        title_text=ax.x_title,
        tickmode="array",
        tickvals=list(range(n_k)),
        ticktext=ax.k_ticks,
        tickangle=-45 if n_k > 6 else 0,
        range=[-0.5, n_k - 0.5],
        showgrid=False,
        zeroline=False,
        automargin=True,
    )
    fig.update_yaxes(
        title_text=ax.y_title,
        tickmode="array",
        tickvals=list(range(n_q)),
        ticktext=ax.q_ticks,
        autorange="reversed",
        showgrid=False,
        zeroline=False,
        automargin=True,
    )
    fig.update_layout(legend={"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"})
    title = title or _default_title(kind, layer, head)
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
    weights,
    q_tokens: Sequence[str],
    k_tokens: Sequence[str],
    *,
    kind: str | None = None,
    layers: Sequence[int] | None = None,
    heads: Sequence[int] | None = None,
    rows: str | None = None,
    q_pos=None,
    k_pos=None,
    zmax: float = 1.0,
    font_size: int = 10,
    height: int | None = None,
    show_tokens: bool | None = None,
) -> go.Figure:
    """Every layer (rows) × head (columns) of one kind, weights (layers, heads, q_len, k_len), one colour scale.

    layers, heads: the numbers of the array's layers and heads, for the subplot titles (default
    0, 1, …; e.g. layers=[2] for `attn[2:3]`). One `go.Heatmap` per head from dense arrays, so 3
    layers × 8 heads × 128 tokens stays fast. Axes are categories, one per position ("3: ▁alt →
    e" for a decoder row), which puts both pieces in the hover at O(T) cost instead of a per-cell
    label; the ticks show the row labels. Decoder future cells are NaN and show the grey
    background. Tick labels default to on for short sentences only.
    """
    w = attention_array(weights, 4, "model_view weights")
    n_l, n_h, n_q, n_k = w.shape
    ax = axes(kind, q_tokens, k_tokens, (n_q, n_k), rows, q_pos, k_pos)
    z = w.astype(np.float32)  # half the JSON of float64; weights need no more precision
    z[..., ax.mask] = np.nan
    layer_no = list(range(n_l)) if layers is None else list(layers)
    head_no = list(range(n_h)) if heads is None else list(heads)
    if (len(layer_no), len(head_no)) != (n_l, n_h):
        raise ValueError(
            f"{len(layer_no)} layer and {len(head_no)} head numbers for weights of shape {w.shape}"
        )
    titles = [f"L{layer} H{'mean' if head == MEAN_HEAD else head}" for layer in layer_no for head in head_no]
    traces = []
    for n, title in enumerate(titles):
        sfx = "" if n == 0 else str(n + 1)
        traces.append(
            go.Heatmap(
                z=z[n // n_h, n % n_h],
                x=ax.k_hover,
                y=ax.q_hover,
                xaxis=f"x{sfx}",
                yaxis=f"y{sfx}",
                coloraxis="coloraxis",
                name=title,
                hovertemplate=f"{title}<br>query %{{y}}<br>key %{{x}}<br>weight %{{z:.6f}}<extra></extra>",
            )
        )
    show = max(n_q, n_k) <= 12 if show_tokens is None else show_tokens
    axis = {"showticklabels": show, "showgrid": False, "zeroline": False, "type": "category"}
    x_axis = dict(axis, tickangle=-90, tickmode="array", tickvals=ax.k_hover, ticktext=ax.k_ticks)
    y_axis = dict(axis, autorange="reversed", tickmode="array", tickvals=ax.q_hover, ticktext=ax.q_ticks)
    layout = _grid_layout(n_l, n_h, titles, x_axis, y_axis, font_size)
    layout["coloraxis"] = {
        "colorscale": ATTENTION_COLORSCALE,
        "cmin": 0.0,
        "cmax": zmax,
        "colorbar": {"title": {"text": "weight"}},
    }
    layout["plot_bgcolor"] = MASK_COLOR
    fig = go.Figure(data=traces, layout=layout)
    masked = " — grey: masked future positions" if ax.mask.any() else ""
    title = f"{kind_label(kind)}: layers (rows) × heads (columns)"
    per_row = 120 + font_size * 2
    labels = font_size * 0.7 * max(map(len, ax.k_ticks), default=0) if show else 0  # bottom tick labels
    finish(fig, title, font_size, height or int(min(2400, 120 + labels + n_l * per_row)))
    fig.layout.title.font.size = round(font_size * 1.2)
    # the subplots have no axis titles of their own: a subtitle says what rows and columns are
    fig.update_layout(
        title_subtitle={
            "text": esc(f"y: {ax.y_title} · x: {ax.x_title}{masked}"),
            "font": {"size": font_size},
        },
        margin={"t": round(font_size * 9)},
    )
    return fig


def head_view(
    weights,
    q_tokens: Sequence[str],
    k_tokens: Sequence[str],
    *,
    kind: str | None = None,
    layer: int | None = None,
    heads: Sequence[int] | None = None,
    rows: str | None = None,
    q_pos=None,
    k_pos=None,
    threshold: float = 0.02,
    font_size: int = 12,
    height: int | None = None,
) -> go.Figure:
    """bertviz-style lines from query pieces (left) to key pieces (right) for one layer (heads, q_len, k_len).

    `heads`: which heads of the array to draw (their numbers = indices; default all); `layer`
    names the figure. One colour and one legend entry per head (click to hide); line opacity
    and width grow with the weight, in five steps so each head needs at most six traces. Lines
    below `threshold` are dropped: they are invisible anyway and cost the browser time.
    """
    w_all = attention_array(weights, 3, "head_view weights (one layer)")
    available = list(range(w_all.shape[0]))
    heads = available if heads is None else [int(h) for h in heads]
    unknown = [h for h in heads if h not in available]
    if unknown or not heads:
        raise ValueError(f"heads {unknown or heads} not in this layer (heads {available})")
    n_q, n_k = w_all.shape[1:]
    ax = axes(kind, q_tokens, k_tokens, (n_q, n_k), rows, q_pos, k_pos)
    palette = qualitative.Plotly

    fig = go.Figure()
    for j, head in enumerate(heads):
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
        w = np.nan_to_num(w_all[head])  # (n_q, n_k)
        qi, ki = np.nonzero(w >= threshold)
        level = np.minimum((w[qi, ki] * 5).astype(int), 4)  # 0..4
        for lv in np.unique(level):
            sel = level == lv
            n = int(sel.sum())
            xs = np.tile([0.0, 1.0, np.nan], n)
            ys = np.column_stack([qi[sel], ki[sel], np.full(n, np.nan)]).ravel()
            text = [
                f"{group}<br>query {ax.q_hover[a]}<br>key {ax.k_hover[b]}<br>weight {w[a, b]:.6f}"
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
    for x, labels, n, pos in ((0.0, ax.q_ticks, n_q, "middle left"), (1.0, ax.k_ticks, n_k, "middle right")):
        fig.add_trace(
            go.Scatter(
                x=[x] * n,
                y=list(range(n)),
                mode="text",
                text=labels,
                textposition=pos,
                hoverinfo="skip",
                showlegend=False,
            )
        )
    for x, text in ((0.0, ax.y_title), (1.0, ax.x_title)):
        fig.add_annotation(x=x, y=-1.2, text=text, showarrow=False, xanchor="right" if x == 0 else "left")
    fig.update_xaxes(visible=False, range=[-0.9, 1.9])
    fig.update_yaxes(visible=False, autorange="reversed")
    fig.update_layout(legend={"title": {"text": "click to toggle"}}, hovermode="closest")
    where = "" if layer is None else f", layer {layer}"
    title = f"{kind_label(kind)}{where}: query (left) → key (right), weight ≥ {threshold:g}"
    return finish(fig, title, font_size, height or _auto_height(max(n_q, n_k), font_size, per_row=2.0))
