"""transformer.analysis, the experiments' maths: the decoder input rebuilt from generated ids, heads switched
off for every row or one set per row, and teacher-forced scores checked against plain forward passes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from transformer.analysis import decoder_input, piece_scores, predicted_ids, zero_heads
from transformer.capture import hooks


@pytest.mark.parametrize(
    ("generated", "expected"),
    [
        ([2, 7, 8, 3], [2, 7, 8]),  # </s> dropped: the last position predicts it
        ([2, 7, 8, 3, 0, 0], [2, 7, 8]),  # padding after a finished beam
        ([2, 7, 8], [2, 7, 8]),  # cut at max length: no </s> to drop
        ([0, 7, 0, 3], [0, 7]),  # Marian: the start id is the pad id and stays
        ([2], [2]),
    ],
)
def test_decoder_input_from_generated_ids(generated, expected):
    assert decoder_input(generated, pad_id=0, eos_id=3) == expected


def test_each_position_predicts_the_next_piece_then_the_end():
    assert predicted_ids([2, 7, 8], eos_id=3) == [7, 8, 3]


def test_zero_heads_for_every_row_or_one_set_per_row():
    z = torch.ones(3, 4, 2, 5)  # (B, H, T_q, d_head)
    ((path, every),) = zero_heads([(("decoder", 1, 2), ("decoder", 1, 0))])
    assert path == "decoder.layers.1.self_attn.hook_z"
    out = every(None, (), z)
    assert (out[:, [0, 2]] == 0).all() and (out[:, [1, 3]] == 1).all()
    per_row = dict(zero_heads([(), (("encoder", 0, 1),), (("encoder", 0, 3), ("cross", 0, 0))]))
    assert sorted(per_row) == ["decoder.layers.0.cross_attn.hook_z", "encoder.layers.0.self_attn.hook_z"]
    out = per_row["encoder.layers.0.self_attn.hook_z"](None, (), z)
    zeroed = {(b, h) for b in range(3) for h in range(4) if (out[b, h] == 0).all()}
    assert zeroed == {(1, 1), (2, 3)} and (z == 1).all()
    assert zero_heads([()]) == []


def test_zero_heads_applies_each_set_to_its_block_of_rows():
    """Two sets over a batch of 6 rows (a beam of 3 per copy of the sentence): set b zeroes rows 3b … 3b + 2;
    the encoder's batch of 2 (one row per copy) reads them one row each; a batch that is no whole number of
    blocks is refused."""
    ((_, zero),) = zero_heads([(("cross", 0, 1),), (("cross", 0, 3),)])
    beams = zero(None, (), torch.ones(6, 4, 1, 5))
    assert {(r, h) for r in range(6) for h in range(4) if (beams[r, h] == 0).all()} == {
        (0, 1), (1, 1), (2, 1), (3, 3), (4, 3), (5, 3),
    }  # fmt: skip
    rows = zero(None, (), torch.ones(2, 4, 7, 5))
    assert {(r, h) for r in range(2) for h in range(4) if (rows[r, h] == 0).all()} == {(0, 1), (1, 3)}
    with pytest.raises(ValueError, match="whole blocks"):
        zero(None, (), torch.ones(5, 4, 1, 5))


def _forward_logp(model, src_ids, tgt_ids, off=()) -> np.ndarray:
    """log P of each predicted piece from one plain forward pass with `off` zeroed."""
    with torch.no_grad(), hooks(model, zero_heads([off])):
        logits = model(torch.tensor([src_ids]), torch.tensor([tgt_ids]))[0].float()
    following = predicted_ids(tgt_ids, model.config.eos_id)
    return logits.log_softmax(-1)[torch.arange(len(following)), following].numpy()


def test_batched_scores_equal_one_forward_pass_per_variant(tiny_pretrained):
    """Variants run as rows of one batch (more than one chunk here); each equals its own forward pass, and
    rank 1 is exactly where the piece is the model's first choice."""
    model = tiny_pretrained.model
    src, tgt = [5, 9, 11, 3], [2, 14, 6, 20, 8]
    variants = [(), (("cross", 1, 0),), (("encoder", 0, 1), ("decoder", 1, 3))] * 7  # 21 rows: two chunks
    s = piece_scores(model, src, tgt, variants)
    assert s.logp.shape == s.rank.shape == (21, 5)
    for row, off in enumerate(variants[:3]):
        np.testing.assert_allclose(s.logp[row], _forward_logp(model, src, tgt, off), atol=1e-5)
    np.testing.assert_allclose(s.logp[3:6], s.logp[:3], atol=1e-6)
    following = np.array(predicted_ids(tgt, model.config.eos_id))
    assert ((s.rank == 1) == (s.top_id == following)).all()
    assert (s.top_logp >= s.logp - 1e-6).all()


def test_scores_refuse_a_model_in_training_mode(tiny_pretrained):
    model = tiny_pretrained.model.train()
    try:
        with pytest.raises(RuntimeError, match="eval mode"):
            piece_scores(model, [5, 3], [2, 6])
    finally:
        model.eval()
