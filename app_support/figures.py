"""Pure figure functions the Anatomy view needs and `viz` does not have yet (no streamlit here).

They follow viz's conventions (and reuse its style helpers): token axes use positions with
the pieces as tick labels, every string from data is escaped, and each takes `font_size` and
`height`. Candidates to move into viz.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from viz.style import (
    COLORBAR_AT,
    DIVERGING_COLORSCALE,
    FIXED_AXIS,
    MASK_COLOR,
    TOP,
    colorbar_px,
    esc,
    esc_all,
    finish,
    label_px,
    text_px,
    wrap,
)
from viz.attention import ROW_PITCH, label_step

TITLE_WIDTH = 40  # characters a title line holds in half of the page at 1280 px (Anatomy's two columns)


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
    (ReLU activations, with ONE_SIDED_COLORSCALE) start at white. Like the attention heatmaps, rows
    get a label each while they have room (every k-th beyond), token columns are categories Plotly
    writes every k-th of on a narrow figure, and axis titles wider than a narrow figure are broken in two.
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] != len(rows) or (cols is not None and z.shape[1] != len(cols)):
        raise ValueError(
            f"matrix_heatmap needs a (rows, cols) matrix matching the labels, got {z.shape}, "
            f"{len(rows)} rows, {None if cols is None else len(cols)} cols"
        )
    n_r, n_c = z.shape
    z = z.copy()
    if masked is not None:
        z[np.asarray(masked, dtype=bool)] = np.nan
    finite = z[np.isfinite(z)]
    limit = float(np.abs(finite).max()) if finite.size else 1.0
    r_lab = np.array([f"{i}: {esc(t)}" for i, t in enumerate(rows)], dtype=object)
    c_lab = np.array(
        [f"{j}: {esc(t)}" for j, t in enumerate(cols)] if cols is not None else [str(j) for j in range(n_c)],
        dtype=object,
    )
    hidden = np.isnan(z)
    if symmetric:
        scale = {"zmid": 0.0, "zmin": -limit, "zmax": limit}
    else:
        scale = {"zmin": min(0.0, float(finite.min())) if finite.size else 0.0, "zmax": limit or 1.0}
    row_title_shown, col_title_shown = wrap(row_title), wrap(col_title)
    title_lines = textwrap.wrap(title, TITLE_WIDTH) or [title]  # Plotly never wraps a title
    top = font_size * (TOP + 1.7 * (len(title_lines) - 1))  # a title line is 1.3 × 1.3 font sizes
    ticks = [esc(t) for t in cols] if cols is not None else []
    bottom = label_px(ticks, font_size) if cols is not None else font_size * 1.5  # keys may stand upright
    bottom += font_size * (2 + 1.3 * (1 + col_title_shown.count("<br>")))
    longest_title_line = max(row_title_shown.split("<br>"), key=len)
    rows_px = max(font_size * 14, text_px(longest_title_line, font_size), n_r * font_size * ROW_PITCH)
    height = height or int(min(1000, top + rows_px + bottom))
    step = label_step(n_r, height - top - bottom, font_size)
    shown = esc_all(rows)[::step]
    left = label_px(shown, font_size) + font_size * (1 + 1.3 * (1 + row_title_shown.count("<br>"))) + 10
    # the hover names the cell by its axes' categories ("3: ▁old"), not by a label per cell: a 35 × 64
    # matrix carried 6,720 label strings, most of what it cost to build, send and keep
    column = "%{pointNumber[1]}: %{x}" if cols is not None else "%{x}"  # x shows the piece (labelalias)
    where = f"{esc(row_title)} %{{y}}<br>{esc(col_title)} {column}<br>{esc(value_name)}"
    x = list(c_lab) if cols is not None else np.arange(n_c)
    colorbar = {
        "title": {"text": esc(value_name)},
        "thickness": 12,
        "ticklabeloverflow": "allow",
        **COLORBAR_AT,
    }
    traces = [
        go.Heatmap(
            z=z.astype(np.float32),
            x=x,
            y=list(r_lab),
            colorscale=colorscale,
            **scale,
            colorbar=colorbar,
            hoverongaps=False,
            hovertemplate=f"{where} %{{z:.4f}}<extra></extra>",
        )
    ]
    if hidden.any():  # masked cells: an invisible layer whose hover says so
        traces.append(
            go.Heatmap(
                z=np.where(hidden, 0.0, np.nan).astype(np.float32),
                x=x,
                y=list(r_lab),
                colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]],
                showscale=False,
                hoverongaps=False,
                hovertemplate=f"{where} masked<extra></extra>",
            )
        )
    x_axis = {
        "title": {"text": col_title_shown},
        "showgrid": False,
        "zeroline": False,
        "range": [-0.5, n_c - 0.5],
    }
    if cols is not None:  # categories "3: ▁old" (repeated pieces keep their column), written as the piece
        x_axis |= {
            "type": "category",
            "categoryorder": "array",
            "categoryarray": list(c_lab),
            "labelalias": dict(zip(c_lab, ticks, strict=True)),
            "autotickangles": [0, -90],
        }
    y_axis = {
        "title": {"text": row_title_shown},
        "type": "category",
        "categoryorder": "array",
        "categoryarray": list(r_lab),
        "tickmode": "array",
        "tickvals": list(r_lab[::step]),
        "ticktext": shown,
        "autorange": "reversed",
        "showgrid": False,
        "zeroline": False,
    }
    # one layout, validated once (an update_* call per part validated the figure again: 13 ms a figure, not 5);
    # margins computed here from the labels (FIXED_AXIS)
    layout = {
        "xaxis": x_axis | FIXED_AXIS,
        "yaxis": y_axis | FIXED_AXIS,
        "margin": {"l": round(left), "b": round(bottom), "r": round(colorbar_px(value_name, font_size, 12))},
    }
    if masked is not None and np.any(masked):
        layout["plot_bgcolor"] = MASK_COLOR
    fig = finish(go.Figure(data=traces, layout=layout), title, font_size, height)
    fig.layout.title.text = "<br>".join(esc_all(title_lines))
    fig.layout.margin.t = round(top)
    return fig


def masked_scores(scores) -> tuple[np.ndarray, np.ndarray]:
    """Scores with -inf where masked, (q_len, k_len) -> (scores with NaN there, bool mask of those cells)."""
    scores = np.asarray(scores, dtype=np.float64)
    mask = ~np.isfinite(scores)
    return np.where(mask, np.nan, scores), mask
