"""Exports: PNG file names for Plotly's toolbar, the attention as a tidy CSV, the trace as JSON."""

from __future__ import annotations

import re

import pandas as pd

import viz
from app_support import models


def file_stem(*parts: object) -> str:
    """Safe file name from parts: "reverse", "encoder", "L0" -> "reverse_encoder_L0"."""
    text = "_".join(str(p) for p in parts if str(p))
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-_.")[:120] or "figure"


def plotly_config(stem: str, scale: int = 2) -> dict:
    """Plotly's modebar with a PNG download named after what the figure shows."""
    return {
        "displaylogo": False,
        "toImageButtonOptions": {"format": "png", "filename": file_stem(stem), "scale": scale},
        "modeBarButtonsToRemove": ["select2d", "lasso2d"],
    }


def attention_csv(path: str, stamp: float, text: str, beam: int, maxlen: int) -> bytes:
    """All attention of the sentence as one tidy frame, every kind one after the other (viz.ATTENTION_COLUMNS).

    Columns: layer, head, q_pos, k_pos, query, key, weight, kind, query_read, query_predicted; the
    last two say which piece a decoder row reads and which it predicts (empty for encoder rows).
    """
    trace = models.get_trace(path, stamp, text, beam, maxlen)
    frame = pd.concat(viz.trace_attention_frames(trace).values(), ignore_index=True)
    return frame.to_csv(index=False, float_format="%.6g").encode("utf-8")


def trace_json(path: str, stamp: float, text: str, beam: int, maxlen: int) -> bytes:
    return models.trace_json(path, stamp, text, beam, maxlen).encode("utf-8")
