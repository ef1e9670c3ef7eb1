"""Position-wise feed-forward network, encoder layer and decoder layer (paper §3.3, §3.1).

Each sub-layer is wrapped in a residual connection and LayerNorm. With `norm="post"`
(the paper): LayerNorm(x + Dropout(Sublayer(x))). With `norm="pre"` (more stable for deep
stacks): x + Dropout(Sublayer(LayerNorm(x))).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .attention import MultiHeadAttention
from .config import TransformerConfig
from .linear import Linear


class FeedForward(nn.Module):
    """FFN(x) = max(0, x W1 + b1) W2 + b2, applied to each position separately (§3.3).

    Hook point `hook_hidden` (B, T, d_ff): the ReLU activations.
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0):
        super().__init__()
        self.linear1 = Linear(d_model, d_ff)
        self.linear2 = Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)
        self.hook_hidden = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, d_model) -> (B, T, d_model)"""
        h = F.relu(self.linear1(x))
        if self.hook_hidden._forward_hooks:
            h = self.hook_hidden(h)
        return self.linear2(self.dropout(h))


class EncoderLayer(nn.Module):
    """Self-attention, then feed-forward; each with residual + LayerNorm. Output (B, S, d_model)."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        d, eps = config.d_model, config.layer_norm_eps
        self.self_attn = MultiHeadAttention(d, config.n_heads, config.dropout)
        self.ff = FeedForward(d, config.d_ff, config.dropout)
        self.norm1 = nn.LayerNorm(d, eps=eps)
        self.norm2 = nn.LayerNorm(d, eps=eps)
        self.dropout1 = nn.Dropout(config.dropout)
        self.dropout2 = nn.Dropout(config.dropout)
        self.pre_norm = config.norm == "pre"

    def _sa_block(self, x, src_mask):
        return self.dropout1(self.self_attn(x, mask=src_mask))

    def _ff_block(self, x):
        return self.dropout2(self.ff(x))

    def forward(self, x: torch.Tensor, src_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, S, d_model); src_mask: bool (B, 1, 1, S), True = may attend."""
        if self.pre_norm:
            x = x + self._sa_block(self.norm1(x), src_mask)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask))
        return self.norm2(x + self._ff_block(x))


class DecoderLayer(nn.Module):
    """Masked self-attention, cross-attention over the encoder output, feed-forward. Output (B, T, d_model)."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        d, eps = config.d_model, config.layer_norm_eps
        self.self_attn = MultiHeadAttention(d, config.n_heads, config.dropout)
        self.cross_attn = MultiHeadAttention(d, config.n_heads, config.dropout)
        self.ff = FeedForward(d, config.d_ff, config.dropout)
        self.norm1 = nn.LayerNorm(d, eps=eps)
        self.norm2 = nn.LayerNorm(d, eps=eps)
        self.norm3 = nn.LayerNorm(d, eps=eps)
        self.dropout1 = nn.Dropout(config.dropout)
        self.dropout2 = nn.Dropout(config.dropout)
        self.dropout3 = nn.Dropout(config.dropout)
        self.pre_norm = config.norm == "pre"

    def _sa_block(self, x, tgt_mask, cache):
        return self.dropout1(self.self_attn(x, mask=tgt_mask, cache=None if cache is None else cache["self"]))

    def _ca_block(self, x, memory, src_mask, cache):
        cross_cache = None if cache is None else cache["cross"]
        return self.dropout2(self.cross_attn(x, memory, mask=src_mask, cache=cross_cache))

    def _ff_block(self, x):
        return self.dropout3(self.ff(x))

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        tgt_mask: torch.Tensor | None = None,
        src_mask: torch.Tensor | None = None,
        cache: dict | None = None,
    ) -> torch.Tensor:
        """x: (B, T, d_model); memory: (B, S, d_model); tgt_mask (B|1, 1, T, T); src_mask (B, 1, 1, S).

        cache: {"self": {}, "cross": {}} for incremental decoding (x is then only the new positions).
        """
        if self.pre_norm:
            x = x + self._sa_block(self.norm1(x), tgt_mask, cache)
            x = x + self._ca_block(self.norm2(x), memory, src_mask, cache)
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, tgt_mask, cache))
        x = self.norm2(x + self._ca_block(x, memory, src_mask, cache))
        return self.norm3(x + self._ff_block(x))
