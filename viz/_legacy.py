"""The old calling convention of `attention_heatmap` and `model_view`: a tidy attention frame instead of arrays.

    attention_heatmap(select_head(frame, layer, head), title=None, ...)   model_view(frame, ...)

Kept only for callers outside viz that still pass frames (tools/card.py and
tests/test_reliability_inputs.py when this was written); everything in viz and the app passes
arrays. Delete this module, and the `@accepts_frames` lines, once those callers pass arrays.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd


def _axis(frame: pd.DataFrame, col: str) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct values, index of each row's value among them)."""
    index, values = pd.factorize(frame[col].to_numpy(), sort=True)
    return np.asarray(values), index


def _pieces(frame: pd.DataFrame, pos_col: str, token_col: str, positions: np.ndarray) -> list[str]:
    """The piece at every position 0..max (from the frame's rows; "" where the frame has none)."""
    first = frame.drop_duplicates(pos_col)
    pieces = [""] * (int(positions.max()) + 1)
    for p, t in zip(first[pos_col].to_numpy(), first[token_col].to_numpy(), strict=True):
        pieces[int(p)] = str(t)
    return pieces


def from_frame(frame: pd.DataFrame, one_head: bool) -> dict:
    """A tidy attention frame -> the keyword arguments of the array-taking figure functions."""
    need = ["layer", "head", "q_pos", "k_pos", "query", "key", "weight"]
    if frame.empty or any(c not in frame for c in need):
        raise ValueError(f"expected a non-empty attention frame with columns {need}")
    kinds = frame["kind"].unique().tolist() if "kind" in frame else [None]
    if len(kinds) > 1:
        raise ValueError(f"frame mixes attention kinds {kinds}; select one first")
    (layers, li), (heads, hi), (q_pos, qi), (k_pos, ki) = (_axis(frame, c) for c in need[:4])
    z = np.full((len(layers), len(heads), len(q_pos), len(k_pos)), np.nan)
    z[li, hi, qi, ki] = frame["weight"].to_numpy()
    contiguous = np.array_equal(q_pos, np.arange(len(q_pos)))
    args = {
        "q_tokens": _pieces(frame, "q_pos", "query", q_pos),
        "k_tokens": _pieces(frame, "k_pos", "key", k_pos),
        "kind": kinds[0],
        "q_pos": q_pos,
        "k_pos": k_pos,
        "rows": None if contiguous else "read",  # a gap hides which piece a row before it predicts
    }
    if not one_head:
        return args | {"weights": z, "layers": layers.tolist(), "heads": heads.tolist()}
    if z.shape[:2] != (1, 1):
        raise ValueError(
            f"attention_heatmap draws one layer and one head, got layers {layers.tolist()} "
            f"and heads {heads.tolist()}; use select_head(frame, layer, head) first"
        )
    return args | {"weights": z[0, 0], "layer": int(layers[0]), "head": int(heads[0])}


def accepts_frames(fn):
    """Let `fn(weights, q_tokens, k_tokens, ...)` also be called as `fn(frame, ...)` (see module doc)."""
    one_head = fn.__name__ == "attention_heatmap"

    @functools.wraps(fn)
    def wrapper(weights, *args, **kwargs):
        if not isinstance(weights, pd.DataFrame):
            return fn(weights, *args, **kwargs)
        if args and not (one_head and len(args) == 1):
            raise TypeError(f"{fn.__name__}(frame, ...) takes its other arguments by keyword")
        if args:
            kwargs["title"] = args[0]  # the old attention_heatmap(frame, title)
        return fn(**(from_frame(weights, one_head) | kwargs))

    return wrapper
