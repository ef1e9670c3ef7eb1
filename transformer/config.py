"""The one configuration dataclass every module takes (Vaswani et al. 2017, Table 3 names).

It round-trips through JSON inside every checkpoint (`config.json`), so loading a
checkpoint can rebuild the exact architecture before touching the weights.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

POSITIONAL_KINDS = ("sinusoidal", "learned")
NORM_PLACEMENTS = ("post", "pre")


class ConfigError(ValueError):
    """A configuration that cannot describe a model (bad value, unknown or missing field)."""


@dataclass(frozen=True)
class TransformerConfig:
    src_vocab_size: int = 8000
    tgt_vocab_size: int = 8000
    d_model: int = 256  # residual stream width
    n_heads: int = 4
    n_encoder_layers: int = 3
    n_decoder_layers: int = 3
    d_ff: int = 1024  # inner width of the position-wise feed-forward network
    dropout: float = 0.1
    max_len: int = 256  # longest sequence (in pieces, specials included) a positional encoding covers
    positional: str = "sinusoidal"  # "sinusoidal" (paper §3.5) or "learned"
    norm: str = (
        "post"  # "post": LayerNorm(x + Sublayer(x)) as in the paper; "pre": x + Sublayer(LayerNorm(x))
    )
    tie_embeddings: bool = True  # §3.4: one matrix for source/target embeddings and the output projection
    layer_norm_eps: float = 1e-5
    pad_id: int = 0
    unk_id: int = 1
    bos_id: int = 2
    eos_id: int = 3

    def __post_init__(self):
        for name in ("src_vocab_size", "tgt_vocab_size", "d_model", "n_heads", "d_ff", "max_len"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        for name in ("n_encoder_layers", "n_decoder_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.d_model % self.n_heads:
            raise ConfigError(f"d_model={self.d_model} must be divisible by n_heads={self.n_heads}")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.positional not in POSITIONAL_KINDS:
            raise ConfigError(f"positional must be one of {POSITIONAL_KINDS}, got {self.positional!r}")
        if self.norm not in NORM_PLACEMENTS:
            raise ConfigError(f"norm must be one of {NORM_PLACEMENTS}, got {self.norm!r}")
        if self.tie_embeddings and self.src_vocab_size != self.tgt_vocab_size:
            raise ConfigError(
                "tie_embeddings needs one joint vocabulary: "
                f"src_vocab_size={self.src_vocab_size} != tgt_vocab_size={self.tgt_vocab_size}"
            )
        specials = (self.pad_id, self.unk_id, self.bos_id, self.eos_id)
        if (
            len(set(specials)) != 4
            or min(specials) < 0
            or max(specials) >= min(self.src_vocab_size, self.tgt_vocab_size)
        ):
            raise ConfigError(
                f"special ids pad/unk/bos/eos={specials} must be distinct ids inside the vocabulary"
            )

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: Any) -> TransformerConfig:
        """Build from a dict, refusing unknown fields (a foreign file) and naming missing ones."""
        if not isinstance(data, dict):
            raise ConfigError(f"config must be a JSON object, got {type(data).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ConfigError(f"unknown config field(s): {', '.join(unknown)}")
        missing = sorted(set(fields) - set(data))
        if missing:
            raise ConfigError(f"config is missing field(s): {', '.join(missing)}")
        for name, value in data.items():
            expected = type(fields[name].default)
            ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                ok = True
            if not ok:
                raise ConfigError(f"config field {name} must be {expected.__name__}, got {value!r}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> TransformerConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"config is not valid JSON: {e}") from None
        return cls.from_dict(data)
