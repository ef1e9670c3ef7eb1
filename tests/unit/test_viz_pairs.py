"""viz.pairs (minimal pairs: positions paired, attention differences, residual-stream shift) and
viz.quiz (the quiz's reveal figure): arrays in, figures out."""

import numpy as np
import pytest

import viz
from viz.pairs import most_moved_layer


def test_equal_pieces_pair_in_order_and_a_split_word_is_left_out():
    a = ["▁The", "▁cat", "▁sleep", "s", ".", "</s>"]
    b = ["▁The", "▁cat", "s", "▁sleep", ".", "</s>"]
    p = viz.pair_positions(a, b)
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
    p = viz.pair_positions(a, b)
    assert p.lined_up and p.a.tolist() == p.b.tolist() == [0, 1, 2]
    assert p.labels(a, b) == ["▁The", "▁cat / ▁dog", "▁sleeps"]


def test_attention_difference_uses_only_paired_rows_and_columns():
    a, b = ["x", "y", "z"], ["x", "q", "r", "z"]  # y -> q r: y, q and r unpaired
    p = viz.pair_positions(a, b)
    assert p.a.tolist() == [0, 2] and p.b.tolist() == [0, 3]
    wa, wb = np.arange(9.0).reshape(3, 3), np.arange(16.0).reshape(4, 4)
    d = viz.attention_difference(wa, wb, p, p)
    np.testing.assert_allclose(d, wb[np.ix_([0, 3], [0, 3])] - wa[np.ix_([0, 2], [0, 2])])


def test_stream_shift_is_zero_for_equal_states_and_relative_to_the_first_length():
    ha = np.ones((3, 2, 4))
    hb = ha.copy()
    hb[2, 1] = 3.0  # moved by 2 per dimension: |b - a| = 4, |a| = 2
    p = viz.pair_positions(["a", "b"], ["a", "b"])
    s = viz.stream_shift(ha, hb, p)
    np.testing.assert_allclose(s, [[0, 0], [0, 0], [0, 2.0]])
    assert most_moved_layer(s) == (1, 0.0, 1.0)  # after L1 (stage 2) the mean rises from 0 to 1


def test_figures_escape_pieces_and_check_shapes():
    p = viz.pair_positions(["<b>", "y"], ["<b>", "z"])
    labels = p.labels(["<b>", "y"], ["<b>", "z"])
    fig = viz.difference_heatmap(np.array([[0.1, -0.2], [0.0, 0.3]]), labels, labels)
    assert fig.layout.yaxis.ticktext == ("&lt;b&gt;", "y / z")
    assert fig.data[0].zmid == 0 and fig.data[0].zmin == -0.3
    shift = viz.stream_shift_heatmap(np.zeros((3, 2)), labels)
    assert shift.layout.yaxis.ticktext == ("embedding + PE", "after L0", "after L1")
    with pytest.raises(ValueError, match="labels"):
        viz.difference_heatmap(np.zeros((3, 2)), labels, labels)


def test_quiz_reveal_marks_model_word_guess_and_hand_alignment():
    fig = viz.quiz_reveal(
        [0.1, 0.6, 0.2, 0.1], ["▁The", "▁cat", "s", "</s>"], guess=0, model_pick=[1, 2], hand_pick=[1, 2]
    )
    names = [t.name for t in fig.data]
    assert names == ["the word the model reads most", "other pieces", "your pick", "hand alignment"]
    assert list(fig.data[0].x) == [1, 2] and list(fig.data[2].x) == [0] and list(fig.data[3].x) == [1, 2]
    assert fig.layout.xaxis.ticktext == ("▁The", "▁cat", "s", "&lt;/s&gt;")
    hidden = viz.quiz_reveal([0.5, 0.5], ["a", "b"], model_pick=[0])  # no guess, no hand alignment: no markers
    assert [t.name for t in hidden.data] == ["the word the model reads most", "other pieces"]
