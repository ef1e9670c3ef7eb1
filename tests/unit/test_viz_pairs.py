"""viz.pairs (minimal pairs: attention differences and residual-stream shift drawn; the maths is
tests/test_analysis_flow.py's) and viz.quiz (the quiz's reveal figure): arrays in, figures out."""

import numpy as np
import pytest

import viz
from transformer.analysis import pair_positions


def test_figures_escape_pieces_and_check_shapes():
    p = pair_positions(["<b>", "y"], ["<b>", "z"])
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
    assert names == ["the word the model reads most", "other words", "your pick", "hand alignment"]
    assert list(fig.data[0].x) == [1, 2] and list(fig.data[2].x) == [0] and list(fig.data[3].x) == [1, 2]
    assert fig.layout.xaxis.ticktext == ("▁The", "▁cat", "s", "&lt;/s&gt;")
    hidden = viz.quiz_reveal(
        [0.5, 0.5], ["a", "b"], model_pick=[0]
    )  # no guess, no hand alignment: no markers
    assert [t.name for t in hidden.data] == ["the word the model reads most", "other words"]
