"""Minimal pairs: two sentences that differ in one thing, compared piece by piece (arrays in, figures out).

The pairing of positions and the differences are maths, in `transformer.analysis` (`pair_positions`,
`attention_difference`, `stream_shift`, `most_moved_layer`); this module draws them:

    p = analysis.pair_positions(a.src_tokens, b.src_tokens)            # source side
    q = analysis.pair_positions(a.tgt_tokens, b.tgt_tokens)            # decoder side (pieces read)
    d = analysis.attention_difference(a.attention["cross"][2].mean(0), b.attention["cross"][2].mean(0), q, p)
    viz.difference_heatmap(d, q.labels(a.tgt_tokens, b.tgt_tokens), p.labels(a.src_tokens, b.src_tokens))
    s = analysis.stream_shift(a.hidden["encoder"], b.hidden["encoder"], p)   # (stages, paired positions)
    viz.stream_shift_heatmap(s, p.labels(a.src_tokens, b.src_tokens)).show()
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from viz.attention import SLIM_COLORBAR, label_room, left_px, margins
from viz.embeddings import stage_labels
from viz.frames import as_array
from viz.heatmap import HEIGHT_MAX, ROW_PITCH, label_step
from viz.style import DIVERGING_COLORSCALE, FIXED_AXIS, TOP, esc, esc_all, finish, index_axis, text_px, wrap

SHIFT_COLORSCALE = "Reds"  # a distance: 0 is white
LEAST_ROWS = 8  # × font size: the least height of all rows together, room for the colour bar's ticks


def _labelled_heatmap(
    z, rows, cols, titles: tuple[str, str], hover: str, bar: str, title: str, font_size: int,
    height: int | None, **colours,
) -> go.Figure:  # fmt: skip
    """z (rows, cols) with a label per row and column (escaped here), `hover` naming the cell by them
    (customdata[0] the row's, [1] the column's); titles: (y, x) axis titles; bar: the colour bar's title.

    Sized as the other heatmaps: rows ROW_PITCH × the font tall (past HEIGHT_MAX shorter, every k-th
    labelled), the left and right margins computed from the labels (`FIXED_AXIS`). The column labels lie
    flat where they fit and stand upright where they would touch, which only the browser knows: the height
    has room for upright labels, and where they lie flat Plotly gives that room to the rows."""
    if z.ndim != 2 or z.shape != (len(rows), len(cols)):
        raise ValueError(f"values {z.shape} do not match {len(rows)} × {len(cols)} labels")
    r, c = np.array(esc_all(rows), dtype=object), np.array(esc_all(cols), dtype=object)
    custom = np.stack(np.broadcast_arrays(r[:, None], c[None, :]), axis=-1)
    colorbar = SLIM_COLORBAR | {"title": {"text": esc(bar), "side": "top"}}
    fig = go.Figure(go.Heatmap(z=z, x=np.arange(len(c)), y=np.arange(len(r)), customdata=custom,
                               hovertemplate=hover + "<extra></extra>", colorbar=colorbar, **colours))  # fmt: skip
    y_title = wrap(esc(titles[0]))
    flat = font_size * 4  # the bottom margin: flat labels and the x title (Plotly grows it for upright ones)
    top, bottom = font_size * TOP, max(flat, label_room(c, font_size) + font_size * 3)  # upright labels
    longest = text_px(max(y_title.split("<br>"), key=len), font_size)
    rows_px = max(font_size * LEAST_ROWS, longest, len(r) * font_size * ROW_PITCH)
    height = height or int(min(HEIGHT_MAX, top + rows_px + bottom))
    step = label_step(len(r), height - top - bottom, font_size)
    common = {"showgrid": False, "zeroline": False}
    fig.update_xaxes(index_axis(c, esc(titles[1]), autotickangles=[0, -90], automargin=True, **common))
    fig.update_yaxes(index_axis(r[::step], y_title, reverse=True, tickvals=list(range(0, len(r), step)),
                                range=[len(r) - 0.5, -0.5], **common, **FIXED_AXIS))  # fmt: skip
    fig.update_layout(margin=margins(left_px(r[::step], y_title, font_size), flat, font_size, bar))
    return finish(fig, title, font_size, height)


def difference_heatmap(
    diff,
    q_labels: Sequence[str],
    k_labels: Sequence[str],
    *,
    title: str = "Attention: second − first",
    y_title: str = "query",
    x_title: str = "key",
    font_size: int = 12,
    height: int | None = None,
) -> go.Figure:
    """A signed (rows, cols) difference as a heatmap: red = more attention in the second sentence, blue =
    less, white = the same; the colour scale's ±limit is the largest |difference|, at least 0.05."""
    z = as_array(diff, "difference")
    lim = max(0.05, float(np.nanmax(np.abs(z))) if z.size else 0.05)
    return _labelled_heatmap(
        z, q_labels, k_labels, (y_title, x_title),
        "query %{customdata[0]}<br>key %{customdata[1]}<br>second − first %{z:+.4f}", "2nd − 1st", title,
        font_size, height, colorscale=DIVERGING_COLORSCALE, zmin=-lim, zmax=lim, zmid=0.0,
    )  # fmt: skip


def stream_shift_heatmap(
    shift,
    labels: Sequence[str],
    *,
    title: str = "How far the residual stream moved",
    x_title: str = "position (paired pieces)",
    font_size: int = 12,
    height: int | None = None,
) -> go.Figure:
    """`transformer.analysis.stream_shift` (stages, positions) as a heatmap: one row per stage (embedding + PE
    on top, then after each layer), one column per paired position; darker = moved further."""
    z = as_array(shift, "shift")
    top = float(np.nanmax(z)) if z.size else 1.0
    return _labelled_heatmap(
        z, stage_labels(z.shape[0]), labels, ("stage", x_title),
        "%{customdata[0]}<br>piece %{customdata[1]}<br>moved %{z:.3f} of its length", "‖b − a‖ / ‖a‖", title,
        font_size, height, colorscale=SHIFT_COLORSCALE, zmin=0.0, zmax=max(top, 1e-6),
    )  # fmt: skip


__all__ = ["difference_heatmap", "stream_shift_heatmap"]
