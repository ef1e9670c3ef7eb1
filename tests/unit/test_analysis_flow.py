"""transformer.analysis, attention flow and the residual stream: attention rollout (Abnar & Zuidema 2020)
and its composition with cross-attention; minimal pairs (positions paired, attention differences,
residual-stream shift)."""

import numpy as np
import pytest
import torch

from transformer.analysis import (
    attention_difference,
    attention_rollout,
    cross_relevance,
    most_moved_layer,
    pair_positions,
    stream_shift,
)


def random_attention(layers=3, heads=2, n=5, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.random((layers, heads, n, n))
    return a / a.sum(-1, keepdims=True)


def test_rollout_rows_sum_to_one_and_multiply_the_layers_in_order():
    a = random_attention()
    r = attention_rollout(a)
    assert r.shape == (3, 5, 5)
    np.testing.assert_allclose(r.sum(-1), 1.0)
    steps = [0.5 * np.eye(5) + 0.5 * layer.mean(0) for layer in a]
    np.testing.assert_allclose(r[-1], steps[2] @ steps[1] @ steps[0])  # later layers on the left
    assert not np.allclose(r[-1], steps[0] @ steps[1] @ steps[2])


def test_identity_attention_moves_nothing_and_residual_one_ignores_attention():
    eye = np.broadcast_to(np.eye(4), (2, 3, 4, 4))
    np.testing.assert_allclose(attention_rollout(eye)[-1], np.eye(4))
    np.testing.assert_allclose(attention_rollout(random_attention(n=4), residual=1.0)[-1], np.eye(4))


def test_a_head_that_copies_the_first_piece_spreads_it_everywhere():
    copy_first = np.zeros((2, 1, 3, 3))
    copy_first[..., 0] = 1.0
    r = attention_rollout(copy_first)
    np.testing.assert_allclose(r[0][:, 0], [1.0, 0.5, 0.5])  # ½ own + ½ the first piece
    np.testing.assert_allclose(r[1][:, 0], [1.0, 0.75, 0.75])


def test_cross_relevance_composes_and_averages_heads():
    rng = np.random.default_rng(1)
    cross = rng.random((2, 6, 5))
    cross /= cross.sum(-1, keepdims=True)
    r = attention_rollout(random_attention())[-1]
    rel = cross_relevance(cross, r)
    np.testing.assert_allclose(rel, cross.mean(0) @ r)
    np.testing.assert_allclose(rel.sum(-1), 1.0)
    with pytest.raises(ValueError, match="rollout"):
        cross_relevance(cross, r[:4, :4])


def test_equal_pieces_pair_in_order_and_a_split_word_is_left_out():
    a = ["▁The", "▁cat", "▁sleep", "s", ".", "</s>"]
    b = ["▁The", "▁cat", "s", "▁sleep", ".", "</s>"]
    p = pair_positions(a, b)
    assert not p.lined_up
    assert [(a[i], b[j]) for i, j in zip(p.a, p.b)] == [
        ("▁The", "▁The"),
        ("▁cat", "▁cat"),
        ("▁sleep", "▁sleep"),
        (".", "."),
        ("</s>", "</s>"),
    ]
    assert [a[i] for i in p.unpaired_a] == ["s"] and [b[j] for j in p.unpaired_b] == ["s"]


def test_one_piece_replaced_by_one_pairs_and_is_labelled_with_both():
    a, b = ["▁The", "▁cat", "▁sleeps"], ["▁The", "▁dog", "▁sleeps"]
    p = pair_positions(a, b)
    assert p.lined_up and p.a.tolist() == p.b.tolist() == [0, 1, 2]
    assert p.labels(a, b) == ["▁The", "▁cat / ▁dog", "▁sleeps"]


def test_attention_difference_uses_only_paired_rows_and_columns():
    a, b = ["x", "y", "z"], ["x", "q", "r", "z"]  # y -> q r: y, q and r unpaired
    p = pair_positions(a, b)
    assert p.a.tolist() == [0, 2] and p.b.tolist() == [0, 3]
    wa, wb = np.arange(9.0).reshape(3, 3), np.arange(16.0).reshape(4, 4)
    d = attention_difference(wa, wb, p, p)
    np.testing.assert_allclose(d, wb[np.ix_([0, 3], [0, 3])] - wa[np.ix_([0, 2], [0, 2])])


def test_stream_shift_is_zero_for_equal_states_and_relative_to_the_first_length():
    ha = np.ones((3, 2, 4))
    hb = ha.copy()
    hb[2, 1] = 3.0  # moved by 2 per dimension: |b - a| = 4, |a| = 2
    p = pair_positions(["a", "b"], ["a", "b"])
    s = stream_shift(ha, hb, p)
    np.testing.assert_allclose(s, [[0, 0], [0, 0], [0, 2.0]])
    assert most_moved_layer(s) == (1, 0.0, 1.0)  # after L1 (stage 2) the mean rises from 0 to 1


def test_most_moved_layer_is_the_largest_rise_and_none_when_every_layer_lowers_the_distance():
    """ "Moves most" is the largest rise of the mean shift from a layer's input to its output; a fall at every
    layer (the reverse model's encoder: 0.19, 0.15, …) moves nothing apart, so there is no such layer."""
    rising = np.array([[0.1, 0.1], [0.2, 0.2], [0.6, 0.4], [0.55, 0.45]])  # means 0.1, 0.2, 0.5, 0.5
    assert most_moved_layer(rising) == pytest.approx((1, 0.2, 0.5))
    assert most_moved_layer(np.array([[0.19, 0.19], [0.15, 0.15], [0.1, 0.1]])) is None
    assert most_moved_layer(np.full((3, 2), 0.3)) is None  # no change
    assert most_moved_layer(np.zeros((1, 2))) is None and most_moved_layer(np.zeros((3, 0))) is None


def test_rollout_takes_torch_tensors_as_numpy_arrays():
    a = random_attention()
    np.testing.assert_allclose(attention_rollout(torch.tensor(a)), attention_rollout(a), atol=1e-6)
