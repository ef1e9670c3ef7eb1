"""The one config dataclass: validation and JSON round trip."""

import json

import pytest

from transformer import ConfigError, TransformerConfig


def test_json_round_trip_is_exact():
    cfg = TransformerConfig(d_model=128, n_heads=8, norm="pre", positional="learned", dropout=0.2)
    assert TransformerConfig.from_json(cfg.to_json()) == cfg


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"d_model": 100, "n_heads": 3}, "divisible"),
        ({"norm": "middle"}, "norm"),
        ({"positional": "rotary"}, "positional"),
        ({"dropout": 1.5}, "dropout"),
        ({"tie_embeddings": True, "src_vocab_size": 10, "tgt_vocab_size": 12}, "joint vocabulary"),
        ({"n_encoder_layers": 0}, "n_encoder_layers"),
    ],
)
def test_invalid_values_raise_a_clear_error(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        TransformerConfig(**kwargs)


def test_unknown_and_missing_fields_are_named():
    data = TransformerConfig().to_dict()
    with pytest.raises(ConfigError, match="unknown config field.*rotary"):
        TransformerConfig.from_dict({**data, "rotary": True})
    del data["d_model"]
    with pytest.raises(ConfigError, match="missing field.*d_model"):
        TransformerConfig.from_dict(data)


def test_wrong_types_are_refused():
    data = TransformerConfig().to_dict()
    with pytest.raises(ConfigError, match="d_model must be int"):
        TransformerConfig.from_dict({**data, "d_model": "256"})
    with pytest.raises(ConfigError, match="JSON object"):
        TransformerConfig.from_json(json.dumps([1, 2]))
    with pytest.raises(ConfigError, match="not valid JSON"):
        TransformerConfig.from_json("{")
