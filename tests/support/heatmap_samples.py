"""Inputs for the attention heatmap's tests (HTML, SVG, PNG): pieces with markup on purpose, hostile
pieces and how a reader sees them, and row-stochastic weights."""

from __future__ import annotations

import numpy as np

SRC = ["▁The", "▁<b>", "▁a&b", '▁"q"', "▁old", "</s>"]  # pieces read by the encoder (markup on purpose)
TGT = ["<s>", "▁Das", "▁<i>", "▁alt", "▁&"]  # pieces read by the decoder, from the start piece

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"quoted"',
    "a&b",
    "c\x00\x07\x1b[31m\x7f",
    "\ud800",
    "</div></div><style>*{display:none}</style>",
    "</s>",
]
AS_SHOWN = [  # what a reader sees: characters HTML/XML cannot hold (controls, a lone surrogate) as U+FFFD
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"quoted"',
    "a&b",
    "c\ufffd\ufffd\ufffd[31m\x7f",
    "\ufffd",
    "</div></div><style>*{display:none}</style>",
    "</s>",
]


def weights(n_q: int, n_k: int, *, kind: str = "encoder", seed: int = 0) -> np.ndarray:
    """Rows that sum to 1 (decoder: over the keys up to the row's own position), float32 as the app's."""
    w = np.random.default_rng(seed).random((n_q, n_k))
    if kind == "decoder":
        w = np.tril(w)
    return (w / w.sum(axis=1, keepdims=True)).astype(np.float32)
