"""One head's attention heatmap, described once (paper §3.2.2): what every drawing of it shows.

    m = attention_map(w, q_tokens, k_tokens, kind=..., layer=..., head=...)    w: (q_len, k_len)
    attention_heatmap(m)   # Plotly figure (viz.attention)
    attention_html(m)      # HTML + CSS, no script (viz.attention_html): the Attention view's figure
    attention_svg(m)       # a file for slides (viz.attention_files)
    attention_png(m)

`AttentionMap` holds the weights (NaN where the causal mask forbids looking or nothing was captured), the
labels of its rows and columns (`viz.labels`: escaped, at the positions `hide_specials` kept), the title and
subtitle, the colour scale's range, the font and the sizes the drawings share. Each renderer also takes
`attention_map`'s own arguments in its place (`attention_html(w, q_tokens, k_tokens, kind=...)`) and builds
the description itself, so an app can cache a drawing by the arrays it shows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from transformer.kinds import KINDS, MEAN_HEAD
from viz.frames import array_of
from viz.labels import Axes, axes
from viz.style import esc, labels_px, text_px

MASK_LEGEND = "masked: future position (causal mask)"
ROW_PITCH = 1.3  # × font size: the height a row is given for its label
LABEL_PITCH = 1.2  # × font size: the least room per label before every k-th is written (Plotly's own rule)
HEIGHT_MAX = 1600  # px: taller figures thin their row labels instead of growing


def kind_label(kind: str | None) -> str:
    return KINDS[kind].label if kind in KINDS else "Attention"


def head_name(head: int) -> str:
    """ "head 1", or "mean over heads" for MEAN_HEAD."""
    return "mean over heads" if head == MEAN_HEAD else f"head {head}"


def default_title(kind: str | None, layer: int | None, head: int | None) -> str:
    """ "Encoder self-attention — layer 0, head 1" (the parts given)."""
    where = [] if layer is None else [f"layer {layer}"]
    if head is not None:
        where.append(head_name(head))
    return " — ".join([kind_label(kind), ", ".join(where)]) if where else kind_label(kind)


def label_step(n: int, length_px: float, font_size: float) -> int:
    """Label every k-th of n rows on an axis length_px long: 1 while each label has LABEL_PITCH × font."""
    if n <= 1:
        return 1
    return max(1, math.ceil(n * font_size * LABEL_PITCH / max(float(length_px), 1.0) - 1e-9))


def least_rows_px(y_title: str, font_size: float) -> float:
    """The least height of a heatmap's rows: 20 lines, and as tall as their axis title is long."""
    return max(font_size * 20, text_px(y_title, font_size))


@dataclass(frozen=True, eq=False)
class AttentionMap:
    """What every drawing of one head's heatmap shows; built by `attention_map`.

    z: (n_q, n_k) weights, NaN where masked (ax.mask) or not captured; ax: labels, hover text, axis titles,
    positions and the causal mask (`viz.labels.Axes`, escaped); zmax: the colour scale's top (its bottom is 0).
    Sizes of the HTML, SVG and PNG drawings, in px at font_size: row_px a row's height, every step-th row
    labelled, left_px the row labels' column, label_px the (upright) key labels' row.
    """

    z: np.ndarray
    ax: Axes
    title: str
    subtitle: str
    zmax: float
    font_size: int
    row_px: float
    step: int
    left_px: float
    label_px: float
    scale_title: str = "weight"  # over the colour bar: what the values are

    @property
    def n_q(self) -> int:
        return self.z.shape[0]

    @property
    def n_k(self) -> int:
        return self.z.shape[1]

    @property
    def masked(self) -> bool:
        return bool(self.ax.mask.any())

    @property
    def lost(self) -> np.ndarray:
        """(n_q, n_k) bool: cells the mask allows but the capture did not fill."""
        return np.isnan(self.z) & ~self.ax.mask


def attention_map(
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
    subtitle: str = "",
    zmax: float | None = 1.0,
    font_size: int = 12,
    x_title: str | None = None,
    scale_title: str = "weight",
) -> AttentionMap:
    """One head (or the head mean) of weights (q_len, k_len) and the pieces of each side -> its `AttentionMap`.

    Rows are queries (row 0 on top), columns keys; q_tokens, k_tokens: the pieces read at every position of
    each side (the whole sentence), q_pos, k_pos: the positions of the rows/columns given (`hide_specials`).
    rows: how decoder rows are labelled (`viz.labels`). layer and head (MEAN_HEAD for the mean) only name
    the figure (default title). Decoder self-attention's future cells are masked, so the causal mask is not
    mistaken for a learned zero. zmax=None scales colours to the largest weight. subtitle: a line under the
    title (the app puts the sentence there). x_title: the key axis's title where the columns are not the
    kind's keys (attention flow's are the input pieces). scale_title: over the colour bar, where the values
    are not attention weights (an attribution's share of its row).
    """
    z = array_of(weights, "(q_len, k_len)", "attention weights (one head: use head_weights)").copy()
    ax = axes(kind, q_tokens, k_tokens, z.shape, rows, q_pos, k_pos)
    if x_title is not None:
        ax = replace(ax, x_title=esc(x_title))
    z[ax.mask] = np.nan
    n_q = z.shape[0]
    finite = z[np.isfinite(z)]
    top = float(finite.max()) if zmax is None and finite.size and finite.max() > 0 else (zmax or 1.0)
    # rows ROW_PITCH × font tall while the figure stays under HEIGHT_MAX, then shorter, labelled every k-th
    least = least_rows_px(ax.y_title, font_size)
    row_px = min(max(font_size * ROW_PITCH, least / max(n_q, 1)), HEIGHT_MAX / max(n_q, 1))
    step = max(1, math.ceil(font_size * LABEL_PITCH / row_px - 1e-9))
    return AttentionMap(
        z=z,
        ax=ax,
        title=title or default_title(kind, layer, head),
        subtitle=subtitle,
        zmax=top,
        font_size=font_size,
        row_px=row_px,
        step=step,
        left_px=max(labels_px(ax.q_ticks[::step], font_size), font_size) + 6,
        label_px=max(labels_px(ax.k_ticks, font_size), font_size) + 6,
        scale_title=scale_title,
    )


def as_map(m, args: tuple, kwargs: dict) -> AttentionMap:
    """A renderer's first argument as an `AttentionMap`: itself, or `attention_map(m, *args, **kwargs)`."""
    if isinstance(m, AttentionMap):
        if args or kwargs:
            raise TypeError("an AttentionMap already says what to draw: pass no more arguments with it")
        return m
    return attention_map(m, *args, **kwargs)


def levels(m: AttentionMap, n: int) -> np.ndarray:
    """(n_q, n_k) int colour level of each cell, 0 … n - 1 over [0, zmax]; -1 masked, -2 not captured."""
    out = np.rint(np.clip(np.nan_to_num(m.z) / m.zmax, 0.0, 1.0) * (n - 1)).astype(int)
    out[m.ax.mask], out[m.lost] = -1, -2
    return out


def cell_text(m: AttentionMap) -> list[list[str]]:
    """(n_q, n_k) each cell's weight to 3 decimals, or "masked" / "not captured" (HTML and SVG hover)."""
    value = [[f"{v:.3f}" for v in row] for row in np.nan_to_num(m.z).tolist()]  # np.char.mod: 5× slower
    for i, j in zip(*np.nonzero(m.ax.mask | m.lost), strict=True):
        value[i][j] = "masked" if m.ax.mask[i, j] else "not captured"
    return value
