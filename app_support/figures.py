"""Pure figure functions the Anatomy view needs and `viz` does not have yet (no streamlit here).

They follow viz's conventions (and reuse its style helpers): token axes use positions with
the pieces as tick labels, every string from data is escaped, and each takes `font_size` and
`height`. Candidates to move into viz.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from viz._style import DIVERGING_COLORSCALE, MASK_COLOR, TOP, esc, esc_all, finish, text_px, wrap
from viz.attention import ROW_PITCH, label_step


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
    top = font_size * TOP
    ticks = [esc(t) for t in cols] if cols is not None else []
    bottom = (
        font_size * 0.62 * min(max(map(len, cols), default=1), 18) if cols is not None else font_size * 1.5
    )
    bottom += font_size * (2 + 1.3 * (1 + col_title_shown.count("<br>")))
    longest_title_line = max(row_title_shown.split("<br>"), key=len)
    rows_px = max(font_size * 14, text_px(longest_title_line, font_size), n_r * font_size * ROW_PITCH)
    height = height or int(min(1000, top + rows_px + bottom))
    step = label_step(n_r, height - top - bottom, font_size)
    # the hover names the cell by its axes' categories ("3: ▁old"), not by a label per cell: a 35 × 64
    # matrix carried 6,720 label strings, most of what it cost to build, send and keep
    column = "%{pointNumber[1]}: %{x}" if cols is not None else "%{x}"  # x shows the piece (labelalias)
    where = f"{esc(row_title)} %{{y}}<br>{esc(col_title)} {column}<br>{esc(value_name)}"
    x = list(c_lab) if cols is not None else np.arange(n_c)
    fig = go.Figure(
        go.Heatmap(
            z=z.astype(np.float32),
            x=x,
            y=list(r_lab),
            colorscale=colorscale,
            **scale,
            colorbar={"title": {"text": esc(value_name)}, "thickness": 12},
            hoverongaps=False,
            hovertemplate=f"{where} %{{z:.4f}}<extra></extra>",
        )
    )
    if hidden.any():  # masked cells: an invisible layer whose hover says so
        fig.add_trace(
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
    x_axis = {"title_text": col_title_shown, "showgrid": False, "zeroline": False, "range": [-0.5, n_c - 0.5]}
    if cols is not None:  # categories "3: ▁old" (repeated pieces keep their column), written as the piece
        x_axis |= {
            "type": "category",
            "categoryorder": "array",
            "categoryarray": list(c_lab),
            "labelalias": dict(zip(c_lab, ticks, strict=True)),
            "autotickangles": [0, -90],
        }
    fig.update_xaxes(**x_axis, automargin=True)
    fig.update_yaxes(
        title_text=row_title_shown,
        type="category",
        categoryorder="array",
        categoryarray=list(r_lab),
        tickmode="array",
        tickvals=list(r_lab[::step]),
        ticktext=esc_all(rows)[::step],
        autorange="reversed",
        showgrid=False,
        zeroline=False,
        automargin=True,
    )
    fig.update_layout(plot_bgcolor=MASK_COLOR if masked is not None and np.any(masked) else None)
    return finish(fig, title, font_size, height)


def masked_scores(scores) -> tuple[np.ndarray, np.ndarray]:
    """Scores with -inf where masked, (q_len, k_len) -> (scores with NaN there, bool mask of those cells)."""
    scores = np.asarray(scores, dtype=np.float64)
    mask = ~np.isfinite(scores)
    return np.where(mask, np.nan, scores), mask
