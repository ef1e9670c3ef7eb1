"""Input embeddings and positional encoding (paper §3.4 and §3.5).

The model sees `token embedding × √d_model + positional encoding`, then dropout (a model converted
from Marian without `scale_embedding` skips the √d_model).
Each stage passes through a named identity module (a *hook point*) so capture can
record it, and an intervention can change it, without a special code path.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .capture import HookPoint
from .config import TransformerConfig


def sinusoidal_table(max_len: int, d_model: int) -> torch.Tensor:
    """PE(pos, 2i) = sin(pos / 10000^(2i/d_model)), PE(pos, 2i+1) = cos(...).  # (max_len, d_model)"""
    position = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)  # (max_len, 1)
    # 10000^(-2i/d) for each even dimension 2i; float64 so the table matches the formula to the last bit of float32
    inv_freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float64) * (-math.log(10000.0) / d_model))
    table = torch.zeros(max_len, d_model, dtype=torch.float64)
    table[:, 0::2] = torch.sin(position * inv_freq)
    table[:, 1::2] = torch.cos(position * inv_freq[: d_model // 2])
    return table.float()


def split_sinusoidal_table(max_len: int, d_model: int) -> torch.Tensor:
    """Marian's layout of the same sinusoids: every sine first, then every cosine.  # (max_len, d_model)

    PE(pos, i) = sin(pos / 10000^(2i/d_model)) for i < ⌈d/2⌉, PE(pos, ⌈d/2⌉ + i) = cos(pos / 10000^(2i/d_model)).
    Each (sin, cos) pair of the paper's table is here half a vector apart; the frequencies are the
    same. Computed as `transformers`' MarianSinusoidalPositionalEmbedding computes it (float64
    angles pos / 10000^(2i/d), then float32), so a converted model adds exactly what Marian adds.
    """
    position = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)  # (max_len, 1)
    n_sin = (d_model + 1) // 2
    exponent = 2 * torch.arange(n_sin, dtype=torch.float64) / d_model  # 2i/d for each frequency i
    angle = position / torch.pow(torch.tensor(10000.0, dtype=torch.float64), exponent)  # (max_len, ⌈d/2⌉)
    return torch.cat([torch.sin(angle), torch.cos(angle[:, : d_model // 2])], dim=1).float()


# What each `config.positional` adds, in words (for figures and explanations of a model)
POSITIONAL_FORMULAS = {
    "sinusoidal": "PE(pos, 2i) = sin(pos / 10000^(2i/d_model)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d_model))",
    "sinusoidal_split": "PE(pos, i) = sin(pos / 10000^(2i/d_model)), "
    "PE(pos, d_model/2 + i) = cos(pos / 10000^(2i/d_model)): every sine first, then every cosine",
    "learned": "one trained vector per position",
}


def is_sine_dimension(positional: str, d_model: int, dim: int) -> bool:
    """Whether dimension `dim` of a sinusoidal table is a sine (else a cosine) in this layout."""
    return dim % 2 == 0 if positional == "sinusoidal" else dim < (d_model + 1) // 2


class TokenEmbedding(nn.Module):
    """Lookup table scaled by √d_model (§3.4) so it is not drowned by the positional encoding.

    scale=False leaves the rows as they are (Marian's `scale_embedding: false`)."""

    def __init__(self, vocab_size: int, d_model: int, pad_id: int, scale: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(vocab_size, d_model))
        nn.init.normal_(self.weight, mean=0.0, std=d_model**-0.5)
        self.scale = math.sqrt(d_model) if scale else 1.0
        self.pad_id = pad_id

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, T) int -> (B, T, d_model)"""
        return nn.functional.embedding(ids, self.weight) * self.scale


class SinusoidalPositionalEncoding(nn.Module):
    """Fixed sinusoids (§3.5); a buffer, not a parameter, so it is never trained (nor saved).

    split=False: the paper's interleaved table; split=True: Marian's (`split_sinusoidal_table`).
    `table` (max_len, d_model) is exactly what the model adds, whichever layout.
    """

    def __init__(self, max_len: int, d_model: int, split: bool = False):
        super().__init__()
        table = (split_sinusoidal_table if split else sinusoidal_table)(max_len, d_model)
        self.register_buffer("table", table, persistent=False)

    def forward(self, length: int, offset: int = 0) -> torch.Tensor:
        """-> (1, length, d_model) for positions offset .. offset+length-1"""
        return self.table[offset : offset + length].unsqueeze(0)


class LearnedPositionalEncoding(nn.Module):
    """One trained vector per position (the paper's §3.5 alternative, "nearly identical results")."""

    def __init__(self, max_len: int, d_model: int):
        super().__init__()
        self.table = nn.Parameter(torch.randn(max_len, d_model) * 0.02)

    def forward(self, length: int, offset: int = 0) -> torch.Tensor:
        return self.table[offset : offset + length].unsqueeze(0)


class InputEmbedding(nn.Module):
    """Token embedding × √d_model + positional encoding, then dropout.

    Hook points, each (B, T, d_model): `hook_token` (scaled token embedding),
    `hook_position` (the positional encoding rows used), `hook_input` (their sum, before dropout).
    """

    def __init__(self, config: TransformerConfig, vocab_size: int, token: TokenEmbedding | None = None):
        super().__init__()
        self.token = (
            token
            if token is not None
            else TokenEmbedding(vocab_size, config.d_model, config.pad_id, config.scale_embedding)
        )
        if config.positional == "learned":
            self.position = LearnedPositionalEncoding(config.max_len, config.d_model)
        else:
            split = config.positional == "sinusoidal_split"
            self.position = SinusoidalPositionalEncoding(config.max_len, config.d_model, split)
        self.max_len = config.max_len
        self.dropout = nn.Dropout(config.dropout)
        self.hook_token = HookPoint()  # (B, T, d_model) token embedding × √d_model
        self.hook_position = HookPoint()  # (B, T, d_model) the positional encoding rows used
        self.hook_input = HookPoint()  # (B, T, d_model) their sum, before dropout

    def forward(self, ids: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """(B, T) int -> (B, T, d_model); `offset` is the first position (for incremental decoding)."""
        length = ids.shape[1]
        if offset + length > self.max_len:
            raise ValueError(f"sequence of {offset + length} positions exceeds max_len={self.max_len}")
        tok = self.hook_token(self.token(ids))  # (B, T, d_model)
        pe = self.hook_position(self.position(length, offset).expand_as(tok))
        return self.dropout(self.hook_input(tok + pe))
