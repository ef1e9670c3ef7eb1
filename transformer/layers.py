"""Position-wise feed-forward network, encoder layer and decoder layer (paper §3.3, §3.1).

Each sub-layer is wrapped in a residual connection and LayerNorm (`residual` below). With
`norm="post"` (the paper): LayerNorm(x + Dropout(Sublayer(x))). With `norm="pre"` (more stable
for deep stacks, Xiong et al. 2020): x + Dropout(Sublayer(LayerNorm(x))).

The *residual stream* is what flows from one sub-layer to the next. Hook points show it before,
between and after the sub-layers, and show what each sub-layer reads and adds, so both placements
can be drawn truthfully: with pre-norm a sub-layer reads a LayerNorm output and the stream itself
is never normalised (until the stack's final LayerNorm); with post-norm the stream *is* a
LayerNorm output after every sub-layer.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .attention import MultiHeadAttention
from .capture import HookPoint
from .config import TransformerConfig

ACTIVATIONS = {"relu": F.relu, "silu": F.silu, "gelu": F.gelu}  # config.ACTIVATIONS names these
ACTIVATION_FORMULAS = {"relu": "max(0, x)", "silu": "x·σ(x) (SiLU, swish)", "gelu": "x·Φ(x) (GELU)"}


class FeedForward(nn.Module):
    """FFN(x) = max(0, x W1 + b1) W2 + b2, applied to each position separately (§3.3).

    `activation` replaces max(0, ·) (ReLU, the paper's) by SiLU/swish x·σ(x) (Marian's opus-mt) or
    GELU (exact, erf-based). Hook point `hook_activation` (B, T, d_ff): act(x W1 + b1).
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "relu"):
        super().__init__()
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)
        self.activation = ACTIVATIONS[activation]
        self.hook_activation = HookPoint()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, d_model) -> (B, T, d_model)"""
        h = self.hook_activation(self.activation(self.linear1(x)))  # (B, T, d_ff)
        return self.linear2(self.dropout(h))


def residual(
    x: torch.Tensor,
    sublayer: Callable[[torch.Tensor], torch.Tensor],
    norm: nn.LayerNorm,
    dropout: nn.Dropout,
    pre_norm: bool,
    hook_in: nn.Module,
    hook_out: nn.Module,
    hook_resid: nn.Module,
) -> torch.Tensor:
    """One sub-layer with its residual connection and LayerNorm; x and the result are (B, T, d_model).

    hook_in: what the sub-layer reads (pre-norm: LayerNorm(x); post-norm: x itself);
    hook_out: what it adds to the stream (after dropout);
    hook_resid: the residual stream afterwards (post-norm: a LayerNorm output).
    """
    if pre_norm:
        return hook_resid(x + hook_out(dropout(sublayer(hook_in(norm(x))))))
    return hook_resid(norm(x + hook_out(dropout(sublayer(hook_in(x))))))


class EncoderLayer(nn.Module):
    """Self-attention, then feed-forward; each with residual + LayerNorm. Output (B, S, d_model).

        resid_pre ─ self-attention ─ resid_mid ─ feed-forward ─ resid_post

    Hook points, each (B, S, d_model): hook_resid_pre, hook_resid_mid, hook_resid_post (the
    residual stream); hook_self_attn_in / hook_self_attn_out and hook_ff_in / hook_ff_out (what
    each sub-layer reads and what it adds, see `residual`).
    """

    def __init__(self, config: TransformerConfig):
        super().__init__()
        d, eps = config.d_model, config.layer_norm_eps
        self.self_attn = MultiHeadAttention(d, config.n_heads, config.dropout)
        self.ff = FeedForward(d, config.d_ff, config.dropout, config.activation)
        self.norm1 = nn.LayerNorm(d, eps=eps)
        self.norm2 = nn.LayerNorm(d, eps=eps)
        self.dropout1 = nn.Dropout(config.dropout)
        self.dropout2 = nn.Dropout(config.dropout)
        self.pre_norm = config.norm == "pre"
        for name in (
            "resid_pre",
            "self_attn_in",
            "self_attn_out",
            "resid_mid",
            "ff_in",
            "ff_out",
            "resid_post",
        ):
            setattr(self, f"hook_{name}", HookPoint())

    def forward(self, x: torch.Tensor, src_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, S, d_model); src_mask: bool (B, 1, 1, S), True = may attend."""
        x = self.hook_resid_pre(x)
        x = residual(
            x, lambda h: self.self_attn(h, mask=src_mask), self.norm1, self.dropout1, self.pre_norm,
            self.hook_self_attn_in, self.hook_self_attn_out, self.hook_resid_mid,
        )  # fmt: skip
        return residual(
            x, self.ff, self.norm2, self.dropout2, self.pre_norm,
            self.hook_ff_in, self.hook_ff_out, self.hook_resid_post,
        )  # fmt: skip


class DecoderLayer(nn.Module):
    """Masked self-attention, cross-attention over the encoder output, feed-forward. Output (B, T, d_model).

        resid_pre ─ masked self-attention ─ resid_mid ─ cross-attention ─ resid_mid2 ─ feed-forward ─ resid_post

    Hook points, each (B, T, d_model): hook_resid_pre, hook_resid_mid, hook_resid_mid2,
    hook_resid_post (the residual stream); hook_self_attn_in / _out, hook_cross_attn_in / _out,
    hook_ff_in / _out (what each sub-layer reads and adds, see `residual`).
    """

    def __init__(self, config: TransformerConfig):
        super().__init__()
        d, eps = config.d_model, config.layer_norm_eps
        self.self_attn = MultiHeadAttention(d, config.n_heads, config.dropout)
        self.cross_attn = MultiHeadAttention(d, config.n_heads, config.dropout)
        self.ff = FeedForward(d, config.d_ff, config.dropout, config.activation)
        self.norm1 = nn.LayerNorm(d, eps=eps)
        self.norm2 = nn.LayerNorm(d, eps=eps)
        self.norm3 = nn.LayerNorm(d, eps=eps)
        self.dropout1 = nn.Dropout(config.dropout)
        self.dropout2 = nn.Dropout(config.dropout)
        self.dropout3 = nn.Dropout(config.dropout)
        self.pre_norm = config.norm == "pre"
        for name in (
            "resid_pre", "self_attn_in", "self_attn_out", "resid_mid", "cross_attn_in", "cross_attn_out",
            "resid_mid2", "ff_in", "ff_out", "resid_post",
        ):  # fmt: skip
            setattr(self, f"hook_{name}", HookPoint())

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
        self_cache, cross_cache = (None, None) if cache is None else (cache["self"], cache["cross"])
        x = self.hook_resid_pre(x)
        x = residual(
            x, lambda h: self.self_attn(h, mask=tgt_mask, cache=self_cache), self.norm1, self.dropout1,
            self.pre_norm, self.hook_self_attn_in, self.hook_self_attn_out, self.hook_resid_mid,
        )  # fmt: skip
        x = residual(
            x, lambda h: self.cross_attn(h, memory, mask=src_mask, cache=cross_cache), self.norm2,
            self.dropout2, self.pre_norm, self.hook_cross_attn_in, self.hook_cross_attn_out, self.hook_resid_mid2,
        )  # fmt: skip
        return residual(
            x, self.ff, self.norm3, self.dropout3, self.pre_norm,
            self.hook_ff_in, self.hook_ff_out, self.hook_resid_post,
        )  # fmt: skip
