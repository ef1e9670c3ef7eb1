"""Any (tokens, tokens or dims) matrix of a run as a heatmap: the Anatomy view's Q, K, V, scores, hidden states,
feed-forward activations (paper §3.2.1, §3.3).

The same conventions as the attention heatmaps (`viz.attention`): token axes are categories "3: ▁old" written
as the piece (a repeated piece keeps its own row), rows get a label each while they have room (every k-th
beyond), margins are computed from the labels, every string from data is escaped, and the figure takes
`font_size` and `height`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from viz.attention import category_axis, left_px, margins
from viz.heatmap import ROW_PITCH, label_step
from viz.style import (
    COLORBAR_AT,
    DIVERGING_COLORSCALE,
    FIXED_AXIS,
    MASK_COLOR,
    TOP,
    esc,
    esc_all,
    finish,
    labels_px,
    text_px,
    wrap,
)

TITLE_WIDTH = 40  # characters a title line holds in half of the page at 1280 px (Anatomy's two columns)


def masked_scores(scores) -> tuple[np.ndarray, np.ndarray]:
    """Scores with -inf where masked, (q_len, k_len) -> (scores with NaN there, bool mask of those cells)."""
    scores = np.asarray(scores, dtype=np.float64)
    mask = ~np.isfinite(scores)
    return np.where(mask, np.nan, scores), mask


def matrix_heatmap(
    z,
    rows: Sequence[str],
    *,
    title: str,
    row_title: str,
    col_title: str,
    cols: Sequence[str] | None = None,
    value_name: str = "value",
    masked: np.ndarray | None = None,
    colorscale: str = DIVERGING_COLORSCALE,
    symmetric: bool = True,
    font_size: int = 12,
    height: int | None = None,
) -> go.Figure:
    """A (rows, cols) matrix as a heatmap: rows are tokens (position 0 on top), columns tokens or dims.

    `masked` (bool, same shape) cells show the grey background and hover "masked" (e.g. -inf scores);
    `symmetric` centres the colour scale on 0 (for signed values: Q, K, V, scores, hidden states);
    otherwise it runs from min(0, smallest value) to the largest, so values that are never negative
    (ReLU activations, with ONE_SIDED_COLORSCALE) start at white. Axis titles wider than a narrow figure
    are broken in two, titles longer than TITLE_WIDTH wrapped.
    """
    z = np.array(z, dtype=np.float64)  # a copy: masked cells become NaN
    if z.ndim != 2 or z.shape[0] != len(rows) or (cols is not None and z.shape[1] != len(cols)):
        raise ValueError(
            f"matrix_heatmap needs a (rows, cols) matrix matching the labels, got {z.shape}, "
            f"{len(rows)} rows, {None if cols is None else len(cols)} cols"
        )
    n_r, n_c = z.shape
    if masked is not None:
        z[np.asarray(masked, dtype=bool)] = np.nan
    r_lab = [f"{i}: {esc(t)}" for i, t in enumerate(rows)]
    row_title_shown, x_title = wrap(row_title), wrap(col_title)
    title_lines = textwrap.wrap(title, TITLE_WIDTH) or [title]  # Plotly never wraps a title
    top = font_size * (TOP + 1.7 * (len(title_lines) - 1))  # a title line is 1.3 × 1.3 font sizes
    # the hover names the cell by its axes' categories ("3: ▁old"), not by a label per cell: a 35 × 64
    # matrix carried 6,720 label strings, most of what it cost to build, send and keep
    if cols is None:  # dimensions: numbers
        x, column, bottom = np.arange(n_c), "%{x}", font_size * 1.5
        x_axis = {"title_text": x_title, "showgrid": False, "zeroline": False, "range": [-0.5, n_c - 0.5]}
    else:  # categories "3: ▁old" (repeated pieces keep their column), written as the piece (labelalias)
        x, column = [f"{j}: {esc(t)}" for j, t in enumerate(cols)], "%{pointNumber[1]}: %{x}"
        x_axis = category_axis(x, esc_all(cols), x_title)
        bottom = labels_px(esc_all(cols), font_size)  # the keys may stand upright
    bottom += font_size * (2 + 1.3 * (1 + x_title.count("<br>")))
    longest_title_line = max(row_title_shown.split("<br>"), key=len)
    rows_px = max(font_size * 14, text_px(longest_title_line, font_size), n_r * font_size * ROW_PITCH)
    height = height or int(min(1000, top + rows_px + bottom))
    step = label_step(n_r, height - top - bottom, font_size)
    shown = esc_all(rows)[::step]
    where = f"{esc(row_title)} %{{y}}<br>{esc(col_title)} {column}<br>{esc(value_name)}"
    # colours centred on 0 (signed values), or from min(0, smallest) to the largest (values never negative)
    finite = z[np.isfinite(z)]
    limit = float(np.abs(finite).max()) if finite.size else 1.0
    low = min(0.0, float(finite.min())) if finite.size else 0.0
    scale = {"zmid": 0.0, "zmin": -limit, "zmax": limit} if symmetric else {"zmin": low, "zmax": limit or 1.0}
    bar_title = {"text": esc(value_name)}
    colorbar = {"title": bar_title, "thickness": 12, "ticklabeloverflow": "allow"} | COLORBAR_AT
    traces = [
        go.Heatmap(z=z.astype(np.float32), x=x, y=r_lab, colorscale=colorscale, **scale,
                   colorbar=colorbar, hoverongaps=False, hovertemplate=f"{where} %{{z:.4f}}<extra></extra>")
    ]  # fmt: skip
    hidden = np.isnan(z)
    if hidden.any():  # masked cells: an invisible layer whose hover says so
        clear = [[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]]
        traces.append(go.Heatmap(z=np.where(hidden, 0.0, np.nan).astype(np.float32), x=x, y=r_lab,
                                 colorscale=clear, showscale=False, hoverongaps=False,
                                 hovertemplate=f"{where} masked<extra></extra>"))  # fmt: skip
    y_axis = {"title_text": row_title_shown, "type": "category", "categoryorder": "array", "categoryarray": r_lab,
              "tickmode": "array", "tickvals": r_lab[::step], "ticktext": shown, "autorange": "reversed",
              "showgrid": False, "zeroline": False, **FIXED_AXIS}  # fmt: skip
    # one layout, validated once (an update_* call per part validated the figure again: 13 ms a figure, not 5);
    # margins computed here from the labels (FIXED_AXIS)
    left = left_px(shown, row_title_shown, font_size)
    margin = margins(left, bottom, font_size, value_name)
    layout = {"xaxis": x_axis | FIXED_AXIS, "yaxis": y_axis, "margin": margin}
    if masked is not None and np.any(masked):
        layout["plot_bgcolor"] = MASK_COLOR
    fig = finish(go.Figure(data=traces, layout=layout), title, font_size, height)
    fig.layout.title.text = "<br>".join(esc_all(title_lines))
    fig.layout.margin.t = round(top)
    return fig
