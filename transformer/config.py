"""The one configuration dataclass every module takes (Vaswani et al. 2017, Table 3 names).

It round-trips through JSON inside every checkpoint (`config.json`), so loading a
checkpoint can rebuild the exact architecture before touching the weights.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

# "sinusoidal": the paper's table, sin and cos interleaved (§3.5); "sinusoidal_split": the same
# frequencies with every sine first and every cosine after (Marian's layout); "learned": trained rows
POSITIONAL_KINDS = ("sinusoidal", "sinusoidal_split", "learned")
NORM_PLACEMENTS = ("post", "pre")
ACTIVATIONS = ("relu", "silu", "gelu")  # the feed-forward's non-linearity; silu is also called swish
# Fields added after models were first saved: a config.json without them loads with these defaults
# (the paper's choices), so every older checkpoint keeps its meaning.
OPTIONAL_FIELDS = ("activation", "scale_embedding", "decoder_start_id")
NULLABLE_FIELDS = ("bos_id", "decoder_start_id")  # JSON null allowed


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
    positional: str = "sinusoidal"  # one of POSITIONAL_KINDS; "sinusoidal" is paper §3.5
    norm: str = (
        "post"  # "post": LayerNorm(x + Sublayer(x)) as in the paper; "pre": x + Sublayer(LayerNorm(x))
    )
    tie_embeddings: bool = True  # §3.4: one matrix for source/target embeddings and the output projection
    layer_norm_eps: float = 1e-5
    pad_id: int = 0
    unk_id: int = 1
    bos_id: int | None = 2  # None: the vocabulary has no "<s>" (Marian)
    eos_id: int = 3
    activation: str = "relu"  # the feed-forward's non-linearity (§3.3: ReLU); "silu" for opus-mt
    scale_embedding: bool = True  # token embeddings × √d_model (§3.4); Marian's scale_embedding
    decoder_start_id: int | None = None  # the decoder's first input; None: bos_id (Marian starts with pad_id)

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
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        vocab = min(self.src_vocab_size, self.tgt_vocab_size)
        specials = tuple(i for i in (self.pad_id, self.unk_id, self.bos_id, self.eos_id) if i is not None)
        if len(set(specials)) != len(specials) or not all(0 <= i < vocab for i in specials):
            raise ConfigError(
                f"special ids pad/unk/bos/eos={self.pad_id, self.unk_id, self.bos_id, self.eos_id} "
                "must be distinct ids inside the vocabulary"
            )
        if self.decoder_start_id is None and self.bos_id is None:
            raise ConfigError("decoding needs a first id: set bos_id or decoder_start_id")
        if self.decoder_start_id is not None and (
            not 0 <= self.decoder_start_id < self.tgt_vocab_size
            or self.decoder_start_id in (self.eos_id, self.unk_id)
        ):
            raise ConfigError(
                f"decoder_start_id={self.decoder_start_id} must be a target id other than eos and unk"
            )

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads

    @property
    def start_id(self) -> int:
        """The id every decoder input begins with: bos_id, unless decoder_start_id names another."""
        return self.bos_id if self.decoder_start_id is None else self.decoder_start_id

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: Any) -> TransformerConfig:
        """Build from a dict, refusing unknown fields (a foreign file) and naming missing ones.

        Fields in OPTIONAL_FIELDS may be absent (configs saved before they existed) and take their
        defaults; fields in NULLABLE_FIELDS may be null."""
        if not isinstance(data, dict):
            raise ConfigError(f"config must be a JSON object, got {type(data).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ConfigError(f"unknown config field(s): {', '.join(unknown)}")
        missing = sorted(set(fields) - set(data) - set(OPTIONAL_FIELDS))
        if missing:
            raise ConfigError(f"config is missing field(s): {', '.join(missing)}")
        for name, value in data.items():
            if value is None and name in NULLABLE_FIELDS:
                continue
            expected = int if name in NULLABLE_FIELDS else type(fields[name].default)
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
