"""Attention flow, not only attention: rollout through the encoder (Abnar & Zuidema, 2020).

A row of cross-attention says how much the decoder reads each position of the encoder's *output*.
But each of those positions has already mixed in the other source pieces through every encoder
self-attention layer, so "the decoder looks at position 3" is not "the decoder looks at word 3".
Rollout estimates how much of each *input* piece reaches each output position: it treats every
layer as attention plus the residual connection, Â = ½(A + I) with A the head-averaged pattern,
renormalises the rows, and multiplies the layers' matrices in order. Composed with cross-attention
(a decoder row's weights over encoder outputs, times their rollout) it gives a source → target
relevance that includes the encoder's mixing.

It is an estimate: it ignores the values, W_O, the feed-forward networks and the LayerNorms, and
assumes the residual carries half of each layer's information. Raw cross-attention is exact about
what the decoder reads, and silent about what those encoder positions contain.
"""

from __future__ import annotations

import numpy as np

from viz.frames import as_array


def attention_rollout(attn, residual: float = 0.5) -> np.ndarray:
    """Encoder self-attention (L, H, S, S) -> cumulative rollout after each layer (L, S, S).

    Row i of result[l] is how much each input piece j has flowed into position i by the output of
    layer l; every row sums to 1. `residual`: the weight of the identity (the skip connection).
    """
    a = as_array(attn, "encoder attention")
    if a.ndim != 4 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"encoder attention must have shape (layers, heads, S, S), got {a.shape}")
    if not 0.0 <= residual <= 1.0:
        raise ValueError(f"residual must be in [0, 1], got {residual}")
    n = a.shape[-1]
    flow = np.eye(n)
    out = []
    for layer in a.mean(axis=1):  # (S, S) heads averaged
        step = residual * np.eye(n) + (1.0 - residual) * layer
        step = step / step.sum(axis=-1, keepdims=True)
        flow = step @ flow  # this layer mixes what the previous layers already mixed
        out.append(flow)
    return np.stack(out)


def cross_relevance(cross, rollout) -> np.ndarray:
    """Cross-attention of one layer (T, S) or (heads, T, S), heads averaged, composed with the encoder's
    final rollout (S, S): (T, S), how much each source *input* piece reaches each decoder row."""
    c = as_array(cross, "cross-attention")
    if c.ndim == 3:
        c = c.mean(axis=0)
    r = as_array(rollout, "rollout")
    if c.ndim != 2 or r.shape != (c.shape[1], c.shape[1]):
        raise ValueError(f"need cross (T, S) and rollout (S, S), got {c.shape} and {r.shape}")
    return c @ r
