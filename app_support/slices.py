"""Tidy attention frames for just the part a figure shows (one head, one layer, one query row).

`viz.attention_frame` of a whole kind has L·H·T_q·T_k rows (3 × 8 × 128 × 128 ≈ 400k), so
building it to draw one head would cost most of a second on every click. These helpers build
the frame from the slice of the array and then restore the true layer / head / query numbers,
so titles, hovers and CSV say "layer 2, head 3" as if the full frame had been filtered.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import viz
from app_support.state import MEAN


def kind_tokens(trace, kind: str) -> tuple[list[str], list[str]]:
    """(query tokens, key tokens) of an attention kind: cross = decoder queries over encoder keys."""
    src, tgt = trace.src_tokens, trace.tgt_tokens
    return {"encoder": (src, src), "decoder": (tgt, tgt), "cross": (tgt, src)}[kind]


def kind_frame(trace, kind: str) -> pd.DataFrame:
    """Every layer and head of one kind (viz.attention_frame)."""
    q, k = kind_tokens(trace, kind)
    return viz.attention_frame(trace.attention[kind], q, k, kind)


def layer_frame(trace, kind: str, layer: int) -> pd.DataFrame:
    """Every head of one layer."""
    q, k = kind_tokens(trace, kind)
    frame = viz.attention_frame(trace.attention[kind][layer : layer + 1], q, k, kind)
    frame["layer"] = layer
    return frame


def head_frame(trace, kind: str, layer: int, head: int) -> pd.DataFrame:
    """One head of one layer, or the mean over the layer's heads when head == MEAN (-1)."""
    if head == MEAN:
        return viz.average_heads(layer_frame(trace, kind, layer))
    q, k = kind_tokens(trace, kind)
    frame = viz.attention_frame(trace.attention[kind][layer : layer + 1, head : head + 1], q, k, kind)
    frame["layer"] = layer
    frame["head"] = head
    return frame


def row_frame(trace, kind: str, step: int) -> pd.DataFrame:
    """Query row `step` of every layer and head (what the decoder at position `step` looked at)."""
    q, k = kind_tokens(trace, kind)
    rows = trace.attention[kind][:, :, step : step + 1, :]
    frame = viz.attention_frame(rows, [q[step]], k, "cross")  # "cross": a 1 × T_k block need not be square
    frame["q_pos"] = step
    frame["kind"] = kind
    return frame


def all_frames(trace) -> pd.DataFrame:
    """Every kind's tidy frame, one after the other (the CSV export)."""
    return pd.concat([kind_frame(trace, kind) for kind in trace.attention], ignore_index=True)


def masked_scores(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores with -inf where masked -> (scores with NaN there, bool mask of those cells)."""
    mask = ~np.isfinite(scores)
    return np.where(mask, np.nan, scores), mask
