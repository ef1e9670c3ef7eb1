"""Minimal pairs: two sentences that differ in one thing, compared piece by piece (arrays in, figures out).

Two sentences ("The cat sleeps." / "The cats sleep.") rarely split into the same pieces at the same
positions, so positions are first paired: pieces that are equal, in order (`difflib`), and pieces
replaced one for one ("cat" → "dog" at the same place). Pieces with no partner ("s" in "▁cat s") are
left out of every difference and named. `Pairing.lined_up` is True when every position of both
sentences found its partner, i.e. the two tokenizations line up.

    p = viz.pair_positions(a.src_tokens, b.src_tokens)            # source side
    q = viz.pair_positions(a.tgt_tokens, b.tgt_tokens)            # decoder side (pieces read)
    d = viz.attention_difference(a.attention["cross"][2].mean(0), b.attention["cross"][2].mean(0), q, p)
    viz.difference_heatmap(d, p.labels(a.src_tokens, b.src_tokens), ...)     # b − a, 0 white
    s = viz.stream_shift(a.hidden["encoder"], b.hidden["encoder"], p)        # (stages, paired positions)
    viz.stream_shift_heatmap(s, p.labels(a.src_tokens, b.src_tokens)).show()
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from viz.embeddings import stage_labels
from viz.frames import as_array
from viz.style import DIVERGING_COLORSCALE, esc, esc_all, finish

SHIFT_COLORSCALE = "Reds"  # a distance: 0 is white


@dataclass(frozen=True)
class Pairing:
    """Which position of sentence b partners each paired position of sentence a (same order).

    a, b: int arrays of equal length; unpaired_a, unpaired_b: positions with no partner;
    lined_up: every position of both sides is paired.
    """

    a: np.ndarray
    b: np.ndarray
    unpaired_a: list[int]
    unpaired_b: list[int]

    @property
    def lined_up(self) -> bool:
        return not self.unpaired_a and not self.unpaired_b

    def __len__(self) -> int:
        return len(self.a)

    def labels(self, a_labels: Sequence[str], b_labels: Sequence[str]) -> list[str]:
        """One label per pair (unescaped): the piece when both are the same, else "a / b" ("▁cat / ▁dog")."""
        out = []
        for i, j in zip(self.a.tolist(), self.b.tolist(), strict=True):
            x, y = str(a_labels[i]), str(b_labels[j])
            out.append(x if x == y else f"{x} / {y}")
        return out


def pair_positions(a: Sequence[str], b: Sequence[str]) -> Pairing:
    """Pair the positions of two piece lists: equal pieces in order, and same-length replacements one for one.

    "▁The ▁cat ▁sleep s ." / "▁The ▁cat s ▁sleep ." pairs ▁The, ▁cat, ▁sleep and "." and leaves each "s"
    unpaired; "▁The ▁cat …" / "▁The ▁dog …" pairs ▁cat with ▁dog.
    """
    a, b = [str(t) for t in a], [str(t) for t in b]
    pa: list[int] = []
    pb: list[int] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            pa += range(i1, i2)
            pb += range(j1, j2)
    seen_a, seen_b = set(pa), set(pb)
    return Pairing(
        a=np.asarray(pa, dtype=np.int64),
        b=np.asarray(pb, dtype=np.int64),
        unpaired_a=[i for i in range(len(a)) if i not in seen_a],
        unpaired_b=[j for j in range(len(b)) if j not in seen_b],
    )


def attention_difference(wa, wb, rows: Pairing, cols: Pairing) -> np.ndarray:
    """b − a of two (q_len, k_len) attention maps on their paired rows and columns: (len(rows), len(cols))."""
    a = as_array(wa, "first attention")
    b = as_array(wb, "second attention")
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"need two (q_len, k_len) maps, got {a.shape} and {b.shape}")
    return b[np.ix_(rows.b, cols.b)] - a[np.ix_(rows.a, cols.a)]


def stream_shift(ha, hb, pairing: Pairing) -> np.ndarray:
    """How far each paired position's residual stream moved: (stages, len(pairing)).

    ha, hb: (stages, len, d_model) hidden states of the two sentences (Trace.hidden["encoder"] etc.).
    The value is ‖b − a‖ / ‖a‖, the distance as a share of the first sentence's vector length (0 = the
    same vector, 1 = moved as far as the vector is long).
    """
    a = as_array(ha, "first hidden states")
    b = as_array(hb, "second hidden states")
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[2]:
        raise ValueError(
            f"need (stages, len, d_model) for both with equal stages and d, got {a.shape}, {b.shape}"
        )
    va, vb = a[:, pairing.a], b[:, pairing.b]
    return np.linalg.norm(vb - va, axis=-1) / np.maximum(np.linalg.norm(va, axis=-1), 1e-12)


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
    z = as_array(diff, "difference").astype(float)
    if z.ndim != 2 or z.shape != (len(q_labels), len(k_labels)):
        raise ValueError(f"difference {z.shape} does not match {len(q_labels)} × {len(k_labels)} labels")
    lim = float(zmax) if zmax else max(0.05, float(np.nanmax(np.abs(z))) if z.size else 0.05)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=np.arange(z.shape[1]),
            y=np.arange(z.shape[0]),
            customdata=np.stack(
                np.broadcast_arrays(
                    np.array(esc_all(q_labels), dtype=object)[:, None],
                    np.array(esc_all(k_labels), dtype=object)[None, :],
                ),
                axis=-1,
            ),
            hovertemplate="query %{customdata[0]}<br>key %{customdata[1]}<br>"
            "second − first %{z:+.4f}<extra></extra>",
            colorscale=DIVERGING_COLORSCALE,
            zmin=-lim,
            zmax=lim,
            zmid=0.0,
            colorbar={"title": {"text": "2nd − 1st"}},
        )
    )
    _token_axes(fig, q_labels, k_labels, y_title, x_title)
    rows = z.shape[0]
    return finish(fig, title, font_size, height or int(min(1400, max(350, 160 + rows * font_size * 1.8))))


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
    """`stream_shift` (stages, positions) as a heatmap: one row per stage (embedding + PE on top, then after
    each layer), one column per paired position; darker = moved further."""
    z = as_array(shift, "shift").astype(float)
    names = list(stage_names) if stage_names is not None else stage_labels(z.shape[0])
    if z.ndim != 2 or z.shape != (len(names), len(labels)):
        raise ValueError(f"shift {z.shape} does not match {len(names)} stages × {len(labels)} labels")
    top = float(np.nanmax(z)) if z.size else 1.0
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=np.arange(z.shape[1]),
            y=np.arange(z.shape[0]),
            customdata=np.stack(
                np.broadcast_arrays(
                    np.array(esc_all(names), dtype=object)[:, None],
                    np.array(esc_all(labels), dtype=object)[None, :],
                ),
                axis=-1,
            ),
            hovertemplate="%{customdata[0]}<br>piece %{customdata[1]}<br>moved %{z:.3f} of its length"
            "<extra></extra>",
            colorscale=SHIFT_COLORSCALE,
            zmin=0.0,
            zmax=float(zmax) if zmax else max(top, 1e-6),
            colorbar={"title": {"text": "‖b − a‖ / ‖a‖"}},
        )
    )
    _token_axes(fig, names, labels, "stage", x_title)
    return finish(fig, title, font_size, height or int(max(260, 160 + len(names) * font_size * 3)))


def most_moved_layer(shift) -> tuple[int, float, float] | None:
    """The layer whose output moved the paired positions furthest beyond its input, on average:
    (layer, mean shift into it, mean shift after it); None without layers or positions."""
    z = as_array(shift, "shift")
    if z.ndim != 2 or z.shape[0] < 2 or z.shape[1] == 0:
        return None
    mean = z.mean(axis=1)
    layer = int(np.argmax(np.diff(mean)))
    return layer, float(mean[layer]), float(mean[layer + 1])


def _token_axes(fig: go.Figure, q_labels, k_labels, y_title: str, x_title: str) -> None:
    n_q, n_k = len(q_labels), len(k_labels)
    fig.update_xaxes(
        title_text=esc(x_title),
        tickmode="array",
        tickvals=list(range(n_k)),
        ticktext=esc_all(k_labels),
        tickangle=-45 if n_k > 6 else 0,
        range=[-0.5, n_k - 0.5],
        showgrid=False,
        zeroline=False,
        automargin=True,
    )
    fig.update_yaxes(
        title_text=esc(y_title),
        tickmode="array",
        tickvals=list(range(n_q)),
        ticktext=esc_all(q_labels),
        autorange="reversed",
        showgrid=False,
        zeroline=False,
        automargin=True,
    )


__all__ = [
    "Pairing",
    "attention_difference",
    "difference_heatmap",
    "most_moved_layer",
    "pair_positions",
    "stream_shift",
    "stream_shift_heatmap",
]
