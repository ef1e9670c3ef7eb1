"""Token embeddings ×√d_model and the sinusoidal positional encoding of §3.5."""

import math

import torch

from tests.support.tiny import tiny_config
from transformer.embeddings import InputEmbedding, sinusoidal_table


def test_positional_encoding_matches_the_paper_formula():
    d = 16
    table = sinusoidal_table(50, d)
    for pos in (0, 1, 7, 49):
        for i in range(d // 2):
            angle = pos / (10000 ** (2 * i / d))
            assert math.isclose(table[pos, 2 * i].item(), math.sin(angle), abs_tol=1e-6)
            assert math.isclose(table[pos, 2 * i + 1].item(), math.cos(angle), abs_tol=1e-6)


def test_positional_encoding_odd_width_has_no_gap():
    table = sinusoidal_table(10, 7)
    assert table.shape == (10, 7)
    assert math.isclose(table[3, 6].item(), math.sin(3 / 10000 ** (6 / 7)), abs_tol=1e-6)


def test_input_embedding_is_token_times_sqrt_d_plus_position():
    cfg = tiny_config()
    emb = InputEmbedding(cfg, cfg.src_vocab_size).eval()
    ids = torch.tensor([[5, 9, 5]])
    x = emb(ids)
    expected = emb.token.weight[ids] * math.sqrt(cfg.d_model) + sinusoidal_table(cfg.max_len, cfg.d_model)[:3]
    torch.testing.assert_close(x, expected)
    # the same token at two positions differs only by the positional encoding
    assert not torch.allclose(x[0, 0], x[0, 2])


def test_offset_gives_later_positions():
    cfg = tiny_config()
    emb = InputEmbedding(cfg, cfg.src_vocab_size).eval()
    ids = torch.tensor([[5, 9, 11]])
    torch.testing.assert_close(emb(ids[:, 2:], offset=2), emb(ids)[:, 2:])


def test_learned_positional_encoding_is_a_parameter():
    cfg = tiny_config(positional="learned")
    emb = InputEmbedding(cfg, cfg.src_vocab_size)
    assert any(name.startswith("position") for name, _ in emb.named_parameters())
