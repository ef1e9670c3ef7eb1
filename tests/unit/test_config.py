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


# --- fields added for converted models (activation, Marian's positions, start id) ------------------

OLD_FIELDS = {  # what every config.json written before these fields existed holds
    "src_vocab_size", "tgt_vocab_size", "d_model", "n_heads", "n_encoder_layers", "n_decoder_layers", "d_ff",
    "dropout", "max_len", "positional", "norm", "tie_embeddings", "layer_norm_eps", "pad_id", "unk_id", "bos_id",
    "eos_id",
}  # fmt: skip


def test_a_config_without_the_newer_fields_loads_with_the_papers_defaults():
    old = {k: v for k, v in TransformerConfig().to_dict().items() if k in OLD_FIELDS}
    cfg = TransformerConfig.from_dict(old)
    assert (cfg.activation, cfg.scale_embedding, cfg.decoder_start_id) == ("relu", True, None)
    assert cfg.start_id == cfg.bos_id == 2
    del old["bos_id"]
    with pytest.raises(ConfigError, match="missing field.*bos_id"):  # only the newer fields are optional
        TransformerConfig.from_dict(old)


def test_every_shipped_config_loads_written_before_or_after_the_newer_fields():
    from transformer.pretrained import available_models

    for name, path in available_models().items():
        data = json.loads((path / "config.json").read_text())
        assert OLD_FIELDS <= set(data), name
        cfg = TransformerConfig.from_dict(data)
        assert cfg.start_id == data["bos_id"] and cfg.activation == data.get("activation", "relu"), name


def test_marian_style_ids_activation_and_positions():
    cfg = TransformerConfig(
        src_vocab_size=100, tgt_vocab_size=100, pad_id=99, unk_id=1, bos_id=None, eos_id=0,
        decoder_start_id=99, activation="silu", positional="sinusoidal_split", scale_embedding=False,
    )  # fmt: skip
    assert cfg.start_id == 99
    assert TransformerConfig.from_json(cfg.to_json()) == cfg  # null bos_id round-trips
    with pytest.raises(ConfigError, match="activation"):
        TransformerConfig(activation="tanh")
    with pytest.raises(ConfigError, match="first id"):
        TransformerConfig(bos_id=None)
    with pytest.raises(ConfigError, match="decoder_start_id"):
        TransformerConfig(decoder_start_id=3)  # eos cannot start a translation
    with pytest.raises(ConfigError, match="distinct"):
        TransformerConfig(bos_id=None, decoder_start_id=0, unk_id=0)
    with pytest.raises(ConfigError, match="decoder_start_id must be int"):
        TransformerConfig.from_dict({**cfg.to_dict(), "decoder_start_id": "99"})


# Logits of the shipped models (en-de recorded before the fields above existed; the toy models when they
# were retrained at d_model 16): the same weights must give the same numbers (and translations) now. A
# retrained asset (other weights) makes its pin stale: skipped, and the pin is recorded again.
PINS = [
    ("en-de", "The house is old.", "b9fb9699361ed9cf", "Das Haus ist alt.",
     [-0.3805, -0.3808, 1.3938, 0.0632, -0.9753, -0.9754, -7.2172, 0.0119], -86130.84),
    ("en-de", "Where is the station? It is over there.", "b9fb9699361ed9cf", "Wo ist die Bahnhof?",
     [-0.3465, -0.3468, -0.4269, 1.1798, -0.4461, -0.4462, -10.6213, 1.0654], -70311.12),
    ("reverse", "a b c d e f g h i j", "cb1e6bbe1e9d0b29", "j i h g f e d c b a",
     [-6.1237, -6.102, -2.0219, -0.3166, -4.1057, -3.5812, 0.676, -3.0382], -118.85),
    ("copy", "h e a d", "1a17ba0cc5c4a105", "h e a d",
     [-3.2366, -3.0424, -4.626, -0.2234, -3.322, -2.9804, -1.2081, -0.461], -42.14),
    ("sort", "j a i b h c", "6afa673932fd1367", "a b c h i j",
     [-6.7021, -6.5695, -2.6857, 1.8676, -4.9656, -4.8109, -7.8376, -2.3173], -104.91),
]  # fmt: skip


@pytest.mark.parametrize("name, text, sha, greedy, first, total", PINS)
def test_shipped_models_give_the_logits_they_gave_before(name, text, sha, greedy, first, total):
    import hashlib

    from transformer import load_pretrained
    from transformer.pretrained import ASSETS

    weights = ASSETS / name / "model.safetensors"
    if hashlib.sha256(weights.read_bytes()).hexdigest()[:16] != sha:
        pytest.skip(f"{weights} was replaced since these logits were recorded")
    m = load_pretrained(name)
    logits = m.trace(text).logits
    assert logits[:, :4].flatten()[:8].tolist() == pytest.approx(first, abs=1e-4)
    assert logits.sum().item() == pytest.approx(total, abs=0.05)
    assert m.translate(text, beam=1) == greedy
