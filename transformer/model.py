"""The full encoder–decoder Transformer (paper §3, Figure 1).

    src ids ─ InputEmbedding ─ N × EncoderLayer ─────────────── memory
    tgt ids ─ InputEmbedding ─ N × DecoderLayer(memory) ─ Linear ─ softmax

`encode` and `decode` are split as in the Annotated Transformer so decoding can run the
encoder once and the decoder one position at a time (with a KV cache, see decoding.py).
"""

from __future__ import annotations

import torch
from torch import nn

from .attention import MultiHeadAttention, causal_mask, padding_mask
from .capture import HookPoint
from .config import TransformerConfig
from .embeddings import InputEmbedding, TokenEmbedding
from .layers import DecoderLayer, EncoderLayer, FeedForward


class Encoder(nn.Module):
    """Input embedding and a stack of encoder layers (+ a final LayerNorm when pre-norm).

    Hook point `hook_memory` (B, S, d_model): the encoder's output, what every cross-attention
    reads (after the final LayerNorm when pre-norm; the last layer's output when post-norm).
    """

    def __init__(self, config: TransformerConfig, token: TokenEmbedding | None = None):
        super().__init__()
        self.embed = InputEmbedding(config, config.src_vocab_size, token)
        self.layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.n_encoder_layers))
        self.norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps) if config.norm == "pre" else None
        self.hook_memory = HookPoint()  # (B, S, d_model)

    def forward(self, src: torch.Tensor, src_mask: torch.Tensor | None = None) -> torch.Tensor:
        """src: (B, S) ids -> memory (B, S, d_model)"""
        x = self.embed(src)
        for layer in self.layers:
            x = layer(x, src_mask)
        return self.hook_memory(x if self.norm is None else self.norm(x))


class Decoder(nn.Module):
    """Input embedding and a stack of decoder layers (+ a final LayerNorm when pre-norm).

    Hook point `hook_output` (B, T, d_model): what the output projection reads (after the final
    LayerNorm when pre-norm; the last layer's output when post-norm).
    """

    def __init__(self, config: TransformerConfig, token: TokenEmbedding | None = None):
        super().__init__()
        self.embed = InputEmbedding(config, config.tgt_vocab_size, token)
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.n_decoder_layers))
        self.norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps) if config.norm == "pre" else None
        self.hook_output = HookPoint()  # (B, T, d_model)

    def forward(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        src_mask: torch.Tensor | None = None,
        tgt_mask: torch.Tensor | None = None,
        cache: list[dict] | None = None,
        offset: int = 0,
    ) -> torch.Tensor:
        """tgt: (B, T) ids at positions offset..offset+T-1 -> (B, T, d_model)"""
        x = self.embed(tgt, offset)
        for i, layer in enumerate(self.layers):
            x = layer(x, memory, src_mask, tgt_mask, None if cache is None else cache[i])
        return self.hook_output(x if self.norm is None else self.norm(x))


class Transformer(nn.Module):
    """Encoder–decoder Transformer. `forward(src, tgt)` returns next-token logits (B, T, tgt_vocab).

    Hook point `hook_logits` (B, T, V): the pre-softmax scores of the output projection.
    """

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = config
        shared = (
            TokenEmbedding(config.src_vocab_size, config.d_model, config.pad_id, config.scale_embedding)
            if config.tie_embeddings
            else None
        )
        self.encoder = Encoder(config, shared)
        self.decoder = Decoder(config, shared)
        self.generator = nn.Linear(config.d_model, config.tgt_vocab_size)
        if config.tie_embeddings:  # §3.4: the pre-softmax projection shares the embedding matrix
            self.generator.weight = shared.weight
        nn.init.zeros_(self.generator.bias)
        self.hook_logits = HookPoint()  # (B, T, V)
        self._init_weights()

    def _init_weights(self):
        """Xavier-uniform for every weight matrix: W_Q, W_K and W_V one by one (they are stacked in
        w_qkv), W_O, the feed-forward W1 and W2, and the output projection unless it is the shared
        embedding. Embeddings keep their normal(0, d_model^-0.5) from TokenEmbedding, learned
        positions theirs, biases and LayerNorms PyTorch's defaults."""
        for m in self.modules():
            if isinstance(m, MultiHeadAttention):
                for matrix in (*m.w_qkv.weight.chunk(3), m.w_o.weight):
                    nn.init.xavier_uniform_(matrix)
            elif isinstance(m, FeedForward):
                nn.init.xavier_uniform_(m.linear1.weight)
                nn.init.xavier_uniform_(m.linear2.weight)
        if not self.config.tie_embeddings:
            nn.init.xavier_uniform_(self.generator.weight)

    # -- masks -------------------------------------------------------------------------------
    def src_mask(self, src: torch.Tensor) -> torch.Tensor | None:
        """(B, 1, 1, S) padding mask, or None when nothing is padded (lets the fused kernel skip masking)."""
        if (src == self.config.pad_id).any():
            return padding_mask(src, self.config.pad_id)
        return None

    def tgt_mask(self, tgt: torch.Tensor) -> torch.Tensor:
        """(B|1, 1, T, T): causal, and no attention to padded target positions.

        Position 0 is the start of decoding, never padding, even when its id is the pad id (Marian
        starts every translation with pad_id)."""
        mask = causal_mask(tgt.shape[1], tgt.device)
        padded = tgt[:, 1:] == self.config.pad_id
        if padded.any():
            mask = mask & ~torch.cat([torch.zeros_like(padded[:, :1]), padded], dim=1)[:, None, None, :]
        return mask

    # -- the three stages --------------------------------------------------------------------
    def encode(self, src: torch.Tensor, src_mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, S) ids -> memory (B, S, d_model)"""
        return self.encoder(src, src_mask)

    def decode(
        self, tgt: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(B, T) ids -> decoder output (B, T, d_model), each position seeing itself and those before.

        (Decoding one new position at a time calls `self.decoder` with a KV cache, decoding.py.)
        """
        return self.decoder(tgt, memory, src_mask, self.tgt_mask(tgt))

    def project(self, h: torch.Tensor) -> torch.Tensor:
        """(B, T, d_model) -> logits (B, T, V), or (B, d_model) -> (B, V) for the last position of
        each row being decoded (decoding.py); softmax of these is the output distribution."""
        return self.hook_logits(self.generator(h))

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        """src (B, S), tgt (B, T) decoder input ids (starting with config.start_id) -> logits (B, T, V)"""
        src_mask = self.src_mask(src)
        memory = self.encode(src, src_mask)
        return self.project(self.decode(tgt, memory, src_mask))

    def new_cache(self) -> list[dict]:
        """An empty KV cache: one {"self": {}, "cross": {}} per decoder layer."""
        return [{"self": {}, "cross": {}} for _ in range(self.config.n_decoder_layers)]

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
