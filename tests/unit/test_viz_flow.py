"""viz.flow: attention rollout (Abnar & Zuidema 2020) and its composition with cross-attention."""

import numpy as np
import pytest

from viz.flow import attention_rollout, cross_relevance


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
