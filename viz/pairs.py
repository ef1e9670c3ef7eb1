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

from viz.embeddings import stage_labels
from viz.frames import as_array
from viz.style import DIVERGING_COLORSCALE, esc, esc_all, finish, index_axis

SHIFT_COLORSCALE = "Reds"  # a distance: 0 is white


def _labelled_heatmap(z, rows, cols, titles: tuple[str, str], hover: str, **colours) -> go.Figure:
    """z (rows, cols) with a label per row and column (escaped here), `hover` naming the cell by them
    (customdata[0] the row's, [1] the column's); titles: (y, x) axis titles."""
    if z.ndim != 2 or z.shape != (len(rows), len(cols)):
        raise ValueError(f"values {z.shape} do not match {len(rows)} × {len(cols)} labels")
    r, c = np.array(esc_all(rows), dtype=object), np.array(esc_all(cols), dtype=object)
    custom = np.stack(np.broadcast_arrays(r[:, None], c[None, :]), axis=-1)
    fig = go.Figure(go.Heatmap(z=z, x=np.arange(len(c)), y=np.arange(len(r)), customdata=custom,
                               hovertemplate=hover + "<extra></extra>", **colours))  # fmt: skip
    common = {"showgrid": False, "zeroline": False, "automargin": True}
    fig.update_xaxes(index_axis(c, esc(titles[1]), turn_after=6, **common))
    fig.update_yaxes(index_axis(r, esc(titles[0]), reverse=True, **common))
    return fig


def difference_heatmap(
    diff,
    q_labels: Sequence[str],
    k_labels: Sequence[str],
    *,
    title: str = "Attention: second − first",
    y_title: str = "query",
    x_title: str = "key",
    zmax: float | None = None,
    font_size: int = 12,
    height: int | None = None,
) -> go.Figure:
    """A signed (rows, cols) difference as a heatmap: red = more attention in the second sentence, blue =
    less, white = the same. zmax: the colour scale's ±limit (None: the largest |difference|, at least 0.05)."""
    z = as_array(diff, "difference")
    lim = float(zmax) if zmax else max(0.05, float(np.nanmax(np.abs(z))) if z.size else 0.05)
    fig = _labelled_heatmap(
        z, q_labels, k_labels, (y_title, x_title),
        "query %{customdata[0]}<br>key %{customdata[1]}<br>second − first %{z:+.4f}",
        colorscale=DIVERGING_COLORSCALE, zmin=-lim, zmax=lim, zmid=0.0, colorbar={"title": {"text": "2nd − 1st"}},
    )  # fmt: skip
    return finish(
        fig, title, font_size, height or int(min(1400, max(350, 160 + z.shape[0] * font_size * 1.8)))
    )


def stream_shift_heatmap(
    shift,
    labels: Sequence[str],
    *,
    stage_names: Sequence[str] | None = None,
    title: str = "How far the residual stream moved",
    x_title: str = "position (paired pieces)",
    zmax: float | None = None,
    font_size: int = 12,
    height: int | None = None,
) -> go.Figure:
    """`transformer.analysis.stream_shift` (stages, positions) as a heatmap: one row per stage (embedding + PE
    on top, then after each layer), one column per paired position; darker = moved further."""
    z = as_array(shift, "shift")
    names = list(stage_names) if stage_names is not None else stage_labels(z.shape[0])
    top = float(np.nanmax(z)) if z.size else 1.0
    fig = _labelled_heatmap(
        z, names, labels, ("stage", x_title),
        "%{customdata[0]}<br>piece %{customdata[1]}<br>moved %{z:.3f} of its length",
        colorscale=SHIFT_COLORSCALE, zmin=0.0, zmax=float(zmax) if zmax else max(top, 1e-6),
        colorbar={"title": {"text": "‖b − a‖ / ‖a‖"}},
    )  # fmt: skip
    return finish(fig, title, font_size, height or int(max(260, 160 + len(names) * font_size * 3)))


__all__ = ["difference_heatmap", "stream_shift_heatmap"]
