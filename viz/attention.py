"""Attention arrays -> Plotly figures: one head, and every layer × head (paper §3.2.2).

    attention_heatmap(attention_map(w, q_tokens, k_tokens, kind=..., layer=..., head=...))  w: (q_len, k_len)
    model_view(w, q_tokens, k_tokens, kind=...)              w: (layers, heads, q_len, k_len)

Figures fill the width they are given (no fixed width) and take a height from the number of
rows. Labels never pile up: key (x) axes are Plotly category axes whose labels Plotly itself
thins to every k-th piece when the figure is narrow (one per `1.2 × font` pixels; the category
is "3: ▁old", so repeated pieces keep their own column, and `labelalias` writes "▁old"); row
(y) labels are thinned here from the height, so every row is labelled while it has room and
every k-th beyond that. The hover always names every row and column.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from transformer.kinds import MEAN_HEAD
from viz.frames import LAYERS_SHAPE, array_of
from viz.heatmap import (
    HEIGHT_MAX,
    MASK_LEGEND,
    ROW_PITCH,
    AttentionMap,
    as_map,
    kind_label,
    label_step,
    least_rows_px,
)
from viz.labels import axes
from viz.style import (
    ATTENTION_COLORSCALE,
    COLORBAR_AT,
    FIXED_AXIS,
    MASK_COLOR,
    TOP,
    colorbar_px,
    esc,
    finish,
    labels_px,
    panel_title,
    panels,
    text_px,
)

SLIM_COLORBAR = {
    "thickness": 12,
    "title": {"text": "weight", "side": "top"},
    "outlinewidth": 0,
    "ticklabeloverflow": "allow",
    **COLORBAR_AT,
}


def label_room(labels: Sequence[str], font_size: float) -> float:
    """Pixels a vertical tick label needs (the longest), escaped text counted as shown."""
    return max(labels_px(labels, font_size), text_px("x", font_size))


def key_axis_px(ax, font_size: float) -> float:
    """The bottom margin under a `key_axis`: its longest label, standing upright when the labels turn, then
    the axis title below it (Plotly keeps the title inside the margin: a short one puts it on the labels)."""
    return label_room(ax.k_ticks, font_size) + font_size * 3


def left_px(labels: Sequence[str], title: str, font_size: float) -> float:
    """The left margin: the longest row label, then the axis title (its lines) and some room."""
    return labels_px(labels, font_size) + font_size * (1 + 1.3 * (1 + title.count("<br>"))) + 10


def margins(left: float, bottom: float, font_size: float, colorbar_title: str = "weight") -> dict:
    """Left and bottom margins computed from the labels (`FIXED_AXIS`), the right one from the colour bar."""
    right = colorbar_px(colorbar_title, font_size, SLIM_COLORBAR["thickness"])
    return {"l": round(left), "b": round(bottom), "r": round(right)}


def category_axis(categories: Sequence[str], labels: Sequence[str], title: str) -> dict:
    """A token axis whose categories are the hover labels ("3: ▁old", so a repeated piece keeps its own
    column) and whose ticks show the pieces (`labelalias`). Plotly thins category labels by itself to fit
    the width (every k-th piece on narrow figures) and turns them (0° or 90°) so they never overlap."""
    return {
        "title_text": title,
        "type": "category",
        "categoryorder": "array",
        "categoryarray": list(categories),
        "labelalias": dict(zip(categories, labels, strict=True)),
        "autotickangles": [0, -90],  # Plotly's 45° check lets labels touch
        "range": [-0.5, len(categories) - 0.5],
        "showgrid": False,
        "zeroline": False,
        **FIXED_AXIS,
    }


def weights_heatmap(z, ax, custom, hover: str, zmax: float, y_title: str, ticks, step: int = 1) -> tuple:
    """(data, layout) of a heatmap of weights z (rows, keys) in [0, zmax]: the keys of `ax` (`viz.labels`)
    as a `category_axis` on x (the bottom margin is `key_axis_px`), the rows down y from 0 on top, every
    step-th labelled with `ticks`; custom, hover: each cell's customdata and hovertemplate."""
    heatmap = go.Heatmap(z=z, x=list(ax.k_hover), y=np.arange(len(z)), customdata=custom, hovertemplate=hover,
                         colorscale=ATTENTION_COLORSCALE, zmin=0.0, zmax=zmax,
                         colorbar=SLIM_COLORBAR)  # fmt: skip
    y_axis = {
        "title_text": y_title,
        "tickmode": "array",
        "tickvals": list(range(0, len(z), step)),
        "ticktext": list(ticks[::step]),
        "autorange": "reversed",
        "showgrid": False,
        "zeroline": False,
    }
    x_axis = category_axis(ax.k_hover, ax.k_ticks, ax.x_title)
    return [heatmap], {"xaxis": x_axis, "yaxis": y_axis | FIXED_AXIS}


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


def attention_heatmap(m: AttentionMap, *args, height: int | None = None, **kwargs) -> go.Figure:
    """One head's `AttentionMap` (or `attention_map`'s arguments) as a Plotly query × key heatmap.

    Decoder self-attention's future cells are drawn hatched grey with a legend entry. The default height
    gives every row its label (up to HEIGHT_MAX; then every k-th row is labelled, all in the hover).
    """
    m = as_map(m, args, kwargs)
    z, ax, font_size = m.z, m.ax, m.font_size
    mask = ax.mask
    n_q, n_k = z.shape
    q_lab, k_lab = np.array(ax.q_hover, dtype=object), np.array(ax.k_hover, dtype=object)
    weight = np.where(mask, "masked (future position)", np.char.mod("%.6f", z)).astype(object)
    weight[m.lost] = "not captured"
    custom = np.stack(np.broadcast_arrays(q_lab[:, None], k_lab[None, :], weight), axis=-1)  # (n_q, n_k, 3)

    top = font_size * (TOP + (1.5 if m.masked else 0))  # title, subtitle, the mask's legend
    bottom = key_axis_px(ax, font_size)
    rows_px = max(least_rows_px(ax.y_title, font_size), n_q * font_size * ROW_PITCH)
    height = height or math.ceil(min(HEIGHT_MAX, top + rows_px + bottom))
    step = label_step(n_q, height - top - bottom, font_size)
    hover = "query %{customdata[0]}<br>key %{customdata[1]}<br>weight %{customdata[2]}<extra></extra>"
    # the layout as one dict, validated once: an update_layout / update_xaxes per part validated the
    # figure again each time, 12 ms of a 20-piece heatmap's build instead of 5
    data, layout = weights_heatmap(z, ax, custom, hover, m.zmax, ax.y_title, ax.q_ticks, step)
    if m.scale_title != "weight":
        data[0].colorbar.title.text = esc(m.scale_title)
        hover = hover.replace("<br>weight", f"<br>{esc(m.scale_title)}")
        data[0].hovertemplate = hover
    layout["legend"] = {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"}
    if m.masked:  # on a numeric twin of the key axis: the hatch covers half cells, which categories cannot
        xs, ys = _mask_polygons(mask)
        data.append(
            go.Scatter(
                x=xs,
                y=ys,
                xaxis="x2",
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
        layout["xaxis2"] = {"overlaying": "x", "range": [-0.5, n_k - 0.5], "visible": False}
    if m.subtitle:
        layout["title_subtitle"] = {"text": esc(m.subtitle), "font": {"size": font_size}}
    fig = go.Figure(data=data, layout=layout)
    finish(fig, m.title, font_size, height)
    left = left_px(ax.q_ticks[::step], ax.y_title, font_size)
    fig.update_layout(margin={"t": round(top)} | margins(left, bottom, font_size))
    return fig


def _grid_layout(
    n_rows: int,
    n_cols: int,
    titles: list[str],
    x_axis: dict,
    y_axis: dict,
    font_size: int,
    plot_px: float,
    gap_px: float,
) -> dict:
    """Layout of an n_rows × n_cols grid of subplots, written directly as one dict.

    Equivalent to `make_subplots` + `update_xaxes` + `update_yaxes`, which validate every
    axis on every call and cost most of a second for 24 subplots; this costs one validation.
    plot_px: the height of the grid (figure height less margins); gap_px: between rows (their titles).
    """
    h_gap = min(0.02, 0.5 / n_cols)
    v_gap = min(0.45, gap_px / max(plot_px, 1.0))
    layout, annotations = {}, []
    for n, (sfx, x_dom, y_dom) in enumerate(panels(n_rows * n_cols, n_cols, h_gap, v_gap)):
        # token labels on the outer edge only: inner ones would overlap the neighbours
        layout[f"xaxis{sfx}"] = dict(x_axis, domain=x_dom, anchor=f"y{sfx}")
        layout[f"xaxis{sfx}"]["showticklabels"] &= n // n_cols == n_rows - 1
        layout[f"yaxis{sfx}"] = dict(y_axis, domain=y_dom, anchor=f"x{sfx}")
        layout[f"yaxis{sfx}"]["showticklabels"] &= n % n_cols == 0
        annotations.append(panel_title(titles[n], sum(x_dom) / 2, y_dom[1], font_size))
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
    show_tokens: bool = True,
) -> go.Figure:
    """Every layer (rows) × head (columns) of one kind, weights (layers, heads, q_len, k_len), one colour scale.

    layers, heads: the numbers of the array's layers and heads, for the subplot titles (default
    0, 1, …; e.g. layers=[2] for `attn[2:3]`). One `go.Heatmap` per head from dense arrays, so 3
    layers × 8 heads × 128 tokens stays fast. Axes are categories, one per position ("3: ▁alt →
    e" for a decoder row), which puts both pieces in the hover at O(T) cost instead of a per-cell
    label. Token labels on the outer edges at any length: the rows on the left of the first head
    (every k-th when the subplots are short), the keys under the last layer (Plotly thins them to
    the width). Decoder future cells are NaN and show the grey background. show_tokens=False
    leaves the labels out.
    """
    w = array_of(weights, LAYERS_SHAPE, "model_view weights")
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
    # the hover's key is the category's alias (the piece): add its position when columns are positions
    k_where = " (position %{pointNumber[1]})" if np.array_equal(ax.k_pos, np.arange(len(k_tokens))) else ""
    titles = [f"L{layer} H{'mean' if head == MEAN_HEAD else head}" for layer in layer_no for head in head_no]
    hover = f"<br>query %{{y}}<br>key %{{x}}{k_where}<br>weight %{{z:.6f}}<extra></extra>"
    traces = [
        go.Heatmap(z=z[n // n_h, n % n_h], x=ax.k_hover, y=ax.q_hover, xaxis=f"x{sfx}", yaxis=f"y{sfx}",
                   coloraxis="coloraxis", name=title, hovertemplate=title + hover)
        for n, title in enumerate(titles)
        for sfx in [str(n + 1) if n else ""]
    ]  # fmt: skip
    cell_px = min(280.0, max(120.0, n_q * font_size * ROW_PITCH))  # one subplot's height
    gap_px = font_size * 2.6  # between layers: the subplot titles
    top = font_size * (TOP + 2)  # title, subtitle and the sentence
    bottom = (label_room(ax.k_ticks, font_size) if show_tokens else 0) + font_size * 2
    height = height or int(top + bottom + n_l * cell_px + (n_l - 1) * gap_px)
    plot_px = max(1.0, height - top - bottom)
    step = label_step(n_q, (plot_px - (n_l - 1) * gap_px) / n_l, font_size)
    axis = {
        "showticklabels": show_tokens,
        "showgrid": False,
        "zeroline": False,
        "type": "category",
    } | FIXED_AXIS
    x_axis = dict(axis, categoryorder="array", categoryarray=list(ax.k_hover), autotickangles=[-90],
                  labelalias=dict(zip(ax.k_hover, ax.k_ticks, strict=True)))  # fmt: skip
    y_axis = dict(axis, autorange="reversed", tickmode="array", tickvals=ax.q_hover[::step],
                  ticktext=ax.q_ticks[::step])  # fmt: skip
    layout = _grid_layout(n_l, n_h, titles, x_axis, y_axis, font_size, plot_px, gap_px)
    layout["coloraxis"] = {
        "colorscale": ATTENTION_COLORSCALE,
        "cmin": 0.0,
        "cmax": zmax,
        "colorbar": SLIM_COLORBAR,
    }
    layout["plot_bgcolor"] = MASK_COLOR
    masked = " — grey: masked future positions" if ax.mask.any() else ""
    # the subplots have no axis titles of their own: a subtitle says what rows and columns are
    subtitle = esc(f"y: {ax.y_title} · x: {ax.x_title}{masked}")
    layout["title_subtitle"] = {"text": subtitle, "font": {"size": font_size}}
    fig = finish(go.Figure(data=traces, layout=layout), f"{kind_label(kind)}: layers (rows) × heads (columns)",
                 font_size, height)  # fmt: skip
    fig.layout.title.font.size = round(font_size * 1.2)
    left = labels_px(ax.q_ticks[::step], font_size) + font_size if show_tokens else font_size
    fig.update_layout(margin={"t": round(top)} | margins(left, bottom, font_size))
    return fig
