"""Scaled dot-product attention and multi-head attention (paper §3.2.1 and §3.2.2).

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V                                  (1)
    MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W_O,  head_i = Attention(Q W_Qi, K W_Ki, V W_Vi)

`scaled_dot_product_attention` below is equation (1) one step per line, and it is the code that
runs whenever anything captures or changes what passes through an attention module (its hook
points). When nothing does, the same maths runs through PyTorch's fused kernel
(`F.scaled_dot_product_attention`), so an unobserved model is as fast as `nn.Transformer`.
Masks are boolean with True = may attend.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .capture import HookPoint


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    hook_scores=_identity,
    hook_pattern=_identity,
) -> torch.Tensor:
    """Equation (1), one step per line.

    q: (B, H, T_q, d_k); k, v: (B, H, T_k, d_k); mask: bool broadcastable to (B, H, T_q, T_k).
    hook_scores / hook_pattern: where a caller may read or replace the scores and the weights
    (MultiHeadAttention passes its hook points). Returns (B, H, T_q, d_k).
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, T_q, T_k) similarity of each pair
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))  # softmax gives these exactly 0
    scores = hook_scores(scores)
    pattern = hook_pattern(scores.softmax(dim=-1))  # (B, H, T_q, T_k) each row sums to 1
    if dropout_p:
        pattern = F.dropout(pattern, dropout_p)
    return pattern @ v  # (B, H, T_q, d_k) weighted sum of the values


def causal_mask(length: int, device: torch.device | None = None) -> torch.Tensor:
    """(1, 1, T, T) bool: position i may attend to positions ≤ i (§3.2.3, "masking out ... illegal connections")."""
    return torch.ones(length, length, dtype=torch.bool, device=device).tril().view(1, 1, length, length)


def padding_mask(ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """(B, T) ids -> (B, 1, 1, T) bool: True for real tokens, False for padding keys."""
    return (ids != pad_id)[:, None, None, :]


class MultiHeadAttention(nn.Module):
    """h attentions side by side, each on its own d_k = d_model / h slice of the projections.

    Parameters: `w_qkv` holds W_Q, W_K and W_V stacked as one (3·d_model, d_model) matrix (rows
    [0, d) are W_Q, [d, 2d) W_K, [2d, 3d) W_V; head i owns rows i·d_k .. (i+1)·d_k of each), the
    layout of `nn.MultiheadAttention.in_proj_weight`, so self-attention projects all three with one
    matrix multiply. `w_o` is W_O.

    Hook points (identity modules; a forward hook may read or replace what passes):
      hook_q (B, H, T_q, d_k), hook_k / hook_v (B, H, T_k, d_k)  -- for cross-attention K and V
          are computed from the encoder memory;
      hook_scores (B, H, T_q, T_k) Q Kᵀ / √d_k with -inf where masked;
      hook_pattern (B, H, T_q, T_k) the attention weights, rows sum to 1;
      hook_z (B, H, T_q, d_k) each head's output before W_O (zero a head here to switch it off).
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.d_model, self.n_heads, self.d_k = d_model, n_heads, d_model // n_heads
        self.w_qkv = nn.Linear(d_model, 3 * d_model)
        self.w_o = nn.Linear(d_model, d_model)
        self.dropout = dropout
        self.hook_q = HookPoint()  # (B, H, T_q, d_k)
        self.hook_k = HookPoint()  # (B, H, T_k, d_k)
        self.hook_v = HookPoint()  # (B, H, T_k, d_k)
        self.hook_scores = HookPoint()  # (B, H, T_q, T_k) Q Kᵀ / √d_k, -inf where masked
        self.hook_pattern = HookPoint()  # (B, H, T_q, T_k) the attention weights
        self.hook_z = HookPoint()  # (B, H, T_q, d_k) each head's output, before W_O

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, d_model) -> (B, H, T, d_k)"""
        B, T, _ = x.shape
        return x.view(B, T, self.n_heads, self.d_k).transpose(1, 2)

    def _observed(self) -> bool:
        """Whether a hook is registered on any of this module's hook points."""
        points = (self.hook_q, self.hook_k, self.hook_v, self.hook_scores, self.hook_pattern, self.hook_z)
        return any(h.hooked for h in points)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        cache: dict | None = None,
    ) -> torch.Tensor:
        """Self-attention when `memory` is None, else cross-attention from x (queries) to memory.

        x: (B, T_q, d_model); memory: (B, T_k, d_model); mask: bool broadcastable to (B, H, T_q, T_k).
        cache (incremental decoding, one dict per call of the decoder): self-attention appends the
        new positions' K and V to cache["k"] / cache["v"]; cross-attention computes the memory's K
        and V on the first step and reuses them after. Returns (B, T_q, d_model).
        """
        d, W, b = self.d_model, self.w_qkv.weight, self.w_qkv.bias
        if memory is None:
            q, k, v = F.linear(x, W, b).split(d, dim=-1)  # one multiply for all three projections
            k, v = self._heads(k), self._heads(v)
            if cache is not None:
                if "k" in cache:  # earlier positions' keys and values, computed at earlier steps
                    k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
                cache["k"], cache["v"] = k, v
        else:
            q = F.linear(x, W[:d], b[:d])
            if cache is not None and "k" in cache:  # the memory does not change while decoding
                k, v = cache["k"], cache["v"]
            else:
                k, v = (self._heads(t) for t in F.linear(memory, W[d:], b[d:]).split(d, dim=-1))
                if cache is not None:
                    cache["k"], cache["v"] = k, v
        q, k, v = self.hook_q(self._heads(q)), self.hook_k(k), self.hook_v(v)

        dropout_p = self.dropout if self.training else 0.0
        if self._observed():  # someone reads or changes an intermediate: equation (1) written out
            z = scaled_dot_product_attention(q, k, v, mask, dropout_p, self.hook_scores, self.hook_pattern)
        else:  # nobody looks: the same maths in PyTorch's fused kernel
            z = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
        z = self.hook_z(z)  # (B, H, T_q, d_k)
        B, _, T_q, _ = z.shape
        return self.w_o(z.transpose(1, 2).reshape(B, T_q, d))  # Concat(heads) W_O
