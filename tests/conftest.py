"""Shared fixtures: tiny configs, a tiny tokenizer, a tiny (untrained) Pretrained model."""

from __future__ import annotations

import pytest
import torch

from transformer import Pretrained, Tokenizer, Transformer, TransformerConfig

# The small tensors of these tests gain nothing from a second thread, and with other processes on the
# two cores, OpenMP's barrier waits can make every tiny op a hundred times slower.
torch.set_num_threads(1)

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


@pytest.fixture(scope="session")
def tokenizer(tmp_path_factory) -> Tokenizer:
    tmp = tmp_path_factory.mktemp("sp")
    text = tmp / "text.txt"
    text.write_text("\n".join(SENTENCES * 20) + "\n", encoding="utf-8")
    return Tokenizer.train([text], tmp / "sp", vocab_size=300, model_type="bpe")


@pytest.fixture(scope="session")
def tiny_pretrained(tokenizer) -> Pretrained:
    torch.manual_seed(0)
    cfg = tiny_config(src_vocab_size=tokenizer.vocab_size, tgt_vocab_size=tokenizer.vocab_size)
    return Pretrained(model=Transformer(cfg).eval(), tokenizer=tokenizer, name="tiny")


# --- the reliability figures (tests/reliability_report.py) -------------------------------------------


def pytest_sessionstart(session):
    import reliability_report

    reliability_report.FIGURES.clear()
    reliability_report.REPORT.unlink(missing_ok=True)  # figures of this run only


def pytest_terminal_summary(terminalreporter):
    """A "Reliability" block with what the reliability and load tests recorded in this run."""
    import json

    import reliability_report

    if not reliability_report.REPORT.exists():
        return
    figures = json.loads(reliability_report.REPORT.read_text(encoding="utf-8"))
    terminalreporter.section("Reliability")
    for line in reliability_report.summary_lines(figures):
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"(written to {reliability_report.REPORT})")
