"""Tiny things for fast tests: a config a CPU runs in milliseconds, sentences to train a tokenizer on,
and the command-line flags of a tiny training run (`transformer.train`)."""

from __future__ import annotations

from transformer import TransformerConfig

SENTENCES = [
    "The house is old.",
    "The cat sleeps on the warm mat.",
    "I live in a small village near the river.",
    "Das Haus ist alt.",
    "Die Katze schläft auf der warmen Matte.",
    "Ich wohne in einem kleinen Dorf am Fluss.",
    "Where is the station? It is over there.",
    "Wo ist der Bahnhof? Er ist dort drüben.",
]


def tiny_config(**overrides) -> TransformerConfig:
    base = {
        "src_vocab_size": 64, "tgt_vocab_size": 64, "d_model": 32, "n_heads": 4, "n_encoder_layers": 2, "n_decoder_layers": 2,
        "d_ff": 64, "dropout": 0.0, "max_len": 64,
    }  # fmt: skip
    base.update(overrides)
    return TransformerConfig(**base)


# a tiny `python -m transformer.train` run of the reverse task (tests/unit/test_train.py and the
# reliability tier's training faults)
TINY = (
    "--task reverse --d-model 32 --heads 4 --enc-layers 1 --dec-layers 1 --d-ff 64 --max-len 24 "
    "--task-max-len 6 --task-size 2000 --max-tokens 256 --warmup 20 --valid-every 1000 --valid-samples 20 "
    "--quiet --threads 1"
).split()
