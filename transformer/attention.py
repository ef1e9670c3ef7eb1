"""Scaled dot-product attention and multi-head attention (paper §3.2.1 and §3.2.2).

Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V, written out step by step so every
intermediate can be read. Masks are boolean with True = may attend.

When nobody has registered a hook on the module's hook points, the same maths runs
through `torch.nn.functional.scaled_dot_product_attention` (a fused kernel), so
capture costs nothing when it is off.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .linear import Linear, derived, linear


def scaled_dot_product_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The paper's equation (1), one step per line.

    q: (B, H, T_q, d_head); k, v: (B, H, T_k, d_head); mask: bool, broadcastable to (B, H, T_q, T_k).
    Returns (out (B, H, T_q, d_head), probs (B, H, T_q, T_k), scores (B, H, T_q, T_k) with -inf where masked).
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, T_q, T_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    probs = scores.softmax(dim=-1)
    return probs @ v, probs, scores


def causal_mask(length: int, device: torch.device | None = None) -> torch.Tensor:
    """(1, 1, T, T) bool: position i may attend to positions ≤ i (§3.2.3, "masking out ... illegal connections")."""
    return torch.ones(length, length, dtype=torch.bool, device=device).tril().view(1, 1, length, length)


def padding_mask(ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """(B, T) ids -> (B, 1, 1, T) bool: True for real tokens, False for padding keys."""
    return (ids != pad_id)[:, None, None, :]


class MultiHeadAttention(nn.Module):
    """MultiHead(Q, K, V) = Concat(head_1..head_h) W_O with head_i = Attention(Q W_Qi, K W_Ki, V W_Vi).

    Hook points (identity modules; a forward hook may read or replace what passes):
      hook_q (B, H, T_q, d_head), hook_k / hook_v (B, H, T_k, d_head),
      hook_scores (B, H, T_q, T_k) scaled scores with -inf where masked,
      hook_probs (B, H, T_q, T_k) attention weights, rows sum to 1,
      hook_z (B, H, T_q, d_head) each head's output before W_O; zero a slice here to switch a head off.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.n_heads = n_heads
        self.d_head = d_model // n_heads
        self.w_q = Linear(d_model, d_model)
        self.w_k = Linear(d_model, d_model)
        self.w_v = Linear(d_model, d_model)
        self.w_o = Linear(d_model, d_model)
        self.attn_dropout = dropout
        self.hook_q = nn.Identity()
        self.hook_k = nn.Identity()
        self.hook_v = nn.Identity()
        self.hook_scores = nn.Identity()
        self.hook_probs = nn.Identity()
        self.hook_z = nn.Identity()
        self._hook_points = (
            self.hook_q,
            self.hook_k,
            self.hook_v,
            self.hook_scores,
            self.hook_probs,
            self.hook_z,
        )
        # inference-time caches (linear.derived) of the concatenated projections and of their transposes
        self._packed: dict[str, dict] = {"qkv": {}, "kv": {}}
        self._packed_t: dict[str, dict] = {"qkv": {}, "kv": {}}

    def _project(self, x: torch.Tensor, which: str) -> list[torch.Tensor]:
        """Apply several of W_Q/W_K/W_V ("qkv" or "kv") as one matrix multiply, split per projection.

        One (d, n·d) multiply instead of n (d, d) ones: fewer kernel launches for short inputs. The
        parameters stay separate; their concatenation is cached while they are unchanged and no
        gradient is needed.
        """
        linears = [{"q": self.w_q, "k": self.w_k, "v": self.w_v}[c] for c in which]
        weights, biases = [lin.weight for lin in linears], [lin.bias for lin in linears]
        if torch.is_grad_enabled():
            return F.linear(x, torch.cat(weights), torch.cat(biases)).split(self.w_q.out_features, dim=-1)
        weight, bias = derived(
            self._packed[which], (*weights, *biases), lambda: (torch.cat(weights), torch.cat(biases))
        )
        return linear(x, weight, bias, self._packed_t[which]).split(self.w_q.out_features, dim=-1)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        return x.view(B, T, self.n_heads, self.d_head).transpose(1, 2)  # (B, H, T, d_head)

    def _hooked(self) -> bool:
        return any(h._forward_hooks for h in self._hook_points)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        cache: dict | None = None,
    ) -> torch.Tensor:
        """Self-attention when `memory` is None, else cross-attention from x to memory.

        x: (B, T_q, d_model); memory: (B, T_k, d_model); mask: bool broadcastable to (B, H, T_q, T_k).
        cache (incremental decoding): for self-attention the new K/V are appended to cache["k"/"v"];
        for cross-attention K/V of the memory are computed on the first call and reused after.
        Returns (B, T_q, d_model).
        """
        if memory is None:
            q, k, v = (self._split(t) for t in self._project(x, "qkv"))
            if cache is not None:
                if "k" in cache:
                    k = torch.cat([cache["k"], k], dim=2)
                    v = torch.cat([cache["v"], v], dim=2)
                cache["k"], cache["v"] = k, v
        elif cache is not None and "k" in cache:
            q = self._split(self.w_q(x))
            k, v = cache["k"], cache["v"]
        else:
            q = self._split(self.w_q(x))
            k, v = (self._split(t) for t in self._project(memory, "kv"))
            if cache is not None:
                cache["k"], cache["v"] = k, v

        dropout_p = self.attn_dropout if self.training else 0.0
        if self._hooked():  # someone is capturing or intervening: the written-out path
            q, k, v = self.hook_q(q), self.hook_k(k), self.hook_v(v)
            scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)  # (B, H, T_q, T_k)
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))
            scores = self.hook_scores(scores)
            probs = self.hook_probs(scores.softmax(dim=-1))
            z = F.dropout(probs, dropout_p, self.training) @ v
            z = self.hook_z(z)
        else:  # same maths, fused kernel
            z = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
        B, _, T_q, _ = z.shape
        return self.w_o(z.transpose(1, 2).reshape(B, T_q, self.n_heads * self.d_head))
