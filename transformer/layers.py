"""Position-wise feed-forward network, encoder layer and decoder layer (paper §3.3, §3.1).

Each sub-layer is wrapped in a residual connection and LayerNorm (`ResidualLayer.sublayer`). With
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

SubLayer = Callable[[torch.Tensor], torch.Tensor]  # (B, T, d_model) -> (B, T, d_model)
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
        self.hook_activation = HookPoint()  # (B, T, d_ff)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, d_model) -> (B, T, d_model)"""
        h = self.hook_activation(self.activation(self.linear1(x)))  # (B, T, d_ff)
        return self.linear2(self.dropout(h))


class ResidualLayer(nn.Module):
    """What encoder and decoder layers share: every sub-layer is wrapped the same way (§3.1, §5.4).

    post-norm (the paper):  LayerNorm(x + Dropout(Sublayer(x)))
    pre-norm:               x + Dropout(Sublayer(LayerNorm(x)))

    A layer declares its hook points, each (B, T, d_model): the residual stream before, between and
    after its sub-layers (`hook_resid_*`), and what each sub-layer reads (`_in`) and adds (`_out`).
    """

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.dropout = nn.Dropout(config.dropout)  # §5.4, on each sub-layer's output
        self.pre_norm = config.norm == "pre"

    def sublayer(self, x: torch.Tensor, fn: SubLayer, norm: nn.LayerNorm, hook_in, hook_out) -> torch.Tensor:
        """One sub-layer `fn` with its residual connection; x and the result are (B, T, d_model).

        hook_in sees what `fn` reads (pre-norm: LayerNorm(x); post-norm: x itself), hook_out what
        it adds to the stream (after dropout).
        """
        if self.pre_norm:
            return x + hook_out(self.dropout(fn(hook_in(norm(x)))))
        return norm(x + hook_out(self.dropout(fn(hook_in(x)))))


class EncoderLayer(ResidualLayer):
    """Self-attention, then feed-forward; each a sub-layer with residual + LayerNorm. Output (B, S, d_model).

    The residual stream and its hook points: resid_pre ─ self-attention ─ resid_mid ─ feed-forward ─ resid_post.
    """

    def __init__(self, config: TransformerConfig):
        super().__init__(config)
        d, eps = config.d_model, config.layer_norm_eps
        self.self_attn = MultiHeadAttention(d, config.n_heads, config.dropout)
        self.ff = FeedForward(d, config.d_ff, config.dropout, config.activation)
        self.norm1 = nn.LayerNorm(d, eps=eps)
        self.norm2 = nn.LayerNorm(d, eps=eps)
        self.hook_resid_pre = HookPoint()  # (B, S, d_model) the stream entering the layer
        self.hook_self_attn_in = HookPoint()  # (B, S, d_model) what self-attention reads
        self.hook_self_attn_out = HookPoint()  # (B, S, d_model) what it adds (after dropout)
        self.hook_resid_mid = HookPoint()  # (B, S, d_model) the stream after self-attention
        self.hook_ff_in = HookPoint()  # (B, S, d_model) what the feed-forward network reads
        self.hook_ff_out = HookPoint()  # (B, S, d_model) what it adds (after dropout)
        self.hook_resid_post = HookPoint()  # (B, S, d_model) the stream leaving the layer

    def forward(self, x: torch.Tensor, src_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, S, d_model); src_mask: bool (B, 1, 1, S), True = may attend."""
        x = self.hook_resid_pre(x)
        x = self.hook_resid_mid(self._self_attn_block(x, src_mask))
        return self.hook_resid_post(self._ff_block(x))

    def _self_attn_block(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        attend = lambda h: self.self_attn(h, mask=mask)  # noqa: E731
        return self.sublayer(x, attend, self.norm1, self.hook_self_attn_in, self.hook_self_attn_out)

    def _ff_block(self, x: torch.Tensor) -> torch.Tensor:
        return self.sublayer(x, self.ff, self.norm2, self.hook_ff_in, self.hook_ff_out)


class DecoderLayer(ResidualLayer):
    """Masked self-attention, cross-attention over the encoder output, feed-forward. Output (B, T, d_model).

    The residual stream and its hook points: resid_pre ─ masked self-attention ─ resid_mid ─
    cross-attention ─ resid_mid2 ─ feed-forward ─ resid_post.
    """

    def __init__(self, config: TransformerConfig):
        super().__init__(config)
        d, eps = config.d_model, config.layer_norm_eps
        self.self_attn = MultiHeadAttention(d, config.n_heads, config.dropout)
        self.cross_attn = MultiHeadAttention(d, config.n_heads, config.dropout)
        self.ff = FeedForward(d, config.d_ff, config.dropout, config.activation)
        self.norm1 = nn.LayerNorm(d, eps=eps)
        self.norm2 = nn.LayerNorm(d, eps=eps)
        self.norm3 = nn.LayerNorm(d, eps=eps)
        self.hook_resid_pre = HookPoint()  # (B, T, d_model) the stream entering the layer
        self.hook_self_attn_in = HookPoint()  # (B, T, d_model) what masked self-attention reads
        self.hook_self_attn_out = HookPoint()  # (B, T, d_model) what it adds (after dropout)
        self.hook_resid_mid = HookPoint()  # (B, T, d_model) the stream after self-attention
        self.hook_cross_attn_in = HookPoint()  # (B, T, d_model) what cross-attention reads (its queries)
        self.hook_cross_attn_out = HookPoint()  # (B, T, d_model) what it adds (after dropout)
        self.hook_resid_mid2 = HookPoint()  # (B, T, d_model) the stream after cross-attention
        self.hook_ff_in = HookPoint()  # (B, T, d_model) what the feed-forward network reads
        self.hook_ff_out = HookPoint()  # (B, T, d_model) what it adds (after dropout)
        self.hook_resid_post = HookPoint()  # (B, T, d_model) the stream leaving the layer

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        src_mask: torch.Tensor | None = None,
        tgt_mask: torch.Tensor | None = None,
        cache: dict | None = None,
    ) -> torch.Tensor:
        """x: (B, T, d_model); memory: (B, S, d_model); src_mask (B, 1, 1, S); tgt_mask (B|1, 1, T, T).

        cache: {"self": {}, "cross": {}} for incremental decoding (x is then only the new positions).
        """
        cache = cache or {"self": None, "cross": None}
        x = self.hook_resid_pre(x)
        x = self.hook_resid_mid(self._self_attn_block(x, tgt_mask, cache["self"]))
        x = self.hook_resid_mid2(self._cross_attn_block(x, memory, src_mask, cache["cross"]))
        return self.hook_resid_post(self._ff_block(x))

    def _self_attn_block(self, x: torch.Tensor, mask, cache: dict | None) -> torch.Tensor:
        attend = lambda h: self.self_attn(h, mask=mask, cache=cache)  # noqa: E731
        return self.sublayer(x, attend, self.norm1, self.hook_self_attn_in, self.hook_self_attn_out)

    def _cross_attn_block(self, x: torch.Tensor, memory, mask, cache: dict | None) -> torch.Tensor:
        attend = lambda h: self.cross_attn(h, memory, mask=mask, cache=cache)  # noqa: E731
        return self.sublayer(x, attend, self.norm2, self.hook_cross_attn_in, self.hook_cross_attn_out)

    def _ff_block(self, x: torch.Tensor) -> torch.Tensor:
        return self.sublayer(x, self.ff, self.norm3, self.hook_ff_in, self.hook_ff_out)
