"""viz.experiments: the figures of the experiments (heads off, a typed translation) from arrays alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import viz


def _frame(probs=(0.9, 0.05, 0.6), pieces=("▁Das", "<b>", "</s>")) -> pd.DataFrame:
    logp = np.log(np.array(probs))
    return viz.piece_score_frame(
        list(pieces), logp, [1, 7, 2], ["▁Das", "▁Haus", "."], np.log([0.9, 0.4, 0.3])
    )


def test_piece_score_frame_marks_surprising_pieces():
    frame = _frame()
    assert list(frame.columns) == [
        "position",
        "piece",
        "prob",
        "logp",
        "rank",
        "model_top",
        "model_top_prob",
        "surprising",
    ]
    np.testing.assert_allclose(frame["prob"], [0.9, 0.05, 0.6])
    assert frame["surprising"].tolist() == [False, True, False]
    assert viz.piece_score_frame(["a"], [np.log(0.3)], [2], ["b"], [np.log(0.5)], surprising=0.5)[
        "surprising"
    ][0]


def test_piece_score_frame_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match="one value per piece"):
        viz.piece_score_frame(["a", "b"], [0.0], [1], ["a"], [0.0])


def test_piece_scores_bar_colours_surprising_pieces_and_escapes_pieces():
    fig = viz.piece_scores_bar(_frame())
    bar = fig.data[0]
    colors = list(bar.marker.color)
    assert colors[1] != colors[0] == colors[2]  # the surprising one stands out
    assert list(bar.text) == ["#1", "#7", "#2"]  # the rank of each piece
    ticks = list(fig.layout.xaxis.ticktext)
    assert ticks[0] == "▁Das" and ticks[2] == "&lt;/s&gt;"
    assert "<b>&lt;b&gt;</b>" in ticks[1]  # the surprising piece's label stands out too, escaped
    (line,) = fig.layout.shapes
    (label,) = fig.layout.annotations  # the threshold's label, right of the plot: never over a bar's top
    assert line.y0 == line.y1 == viz.experiments.SURPRISING and "below p = 0.1" in label.text
    assert label.x == 1 and label.xanchor == "left" and fig.layout.margin.r >= 8 * 12
    # the plot grows with the font: presentation's 20 px font gets the bars as much room as 12 px does
    assert viz.piece_scores_bar(_frame(), font_size=20).layout.height >= 20 / 12 * fig.layout.height


def test_piece_logprob_bars_before_and_after():
    fig = viz.piece_logprob_bars(["a", "b"], [-0.1, -2.0], [-0.5, -3.0], names=("model", "2 heads off"))
    assert [t.name for t in fig.data] == ["model", "2 heads off"]
    np.testing.assert_allclose(fig.data[1].y, [-0.5, -3.0])
    assert len(viz.piece_logprob_bars(["a"], [-0.1]).data) == 1
    with pytest.raises(ValueError):
        viz.piece_logprob_bars(["a", "b"], [-0.1])


def test_align_pieces_names_what_changed():
    got = viz.align_pieces(["▁Das", "▁Haus", "▁ist", "▁alt", "."], ["▁Das", "▁Auto", "▁ist", "."])
    assert got == [
        ("same", "▁Das", "▁Das"),
        ("changed", "▁Haus", "▁Auto"),
        ("same", "▁ist", "▁ist"),
        ("removed", "▁alt", None),
        ("same", ".", "."),
    ]
    assert viz.align_pieces([], ["a"]) == [("added", None, "a")]
    assert viz.align_pieces(["a", "b"], ["c"]) == [("changed", "a", "c"), ("removed", "b", None)]


def test_translation_diff_marks_changed_pieces_and_wraps_long_lines():
    fig = viz.translation_diff(["▁Das", "▁Haus", "<x>"], ["▁Das", "▁Auto", "<x>"])
    hm = fig.data[0]
    z = np.asarray(hm.z, dtype=float)
    assert z.shape == (2, 3)
    assert z[0, 1] == z[1, 1] == 1.0 and z[0, 0] == 0.5  # changed vs shared
    assert hm.text[0][2] == "&lt;x&gt;"
    long = viz.translation_diff(list("abcdefghij"), list("abcdefghiX"), per_line=4)
    assert np.asarray(long.data[0].z, dtype=float).shape == (3 * 3 - 1, 4)  # three lines of two rows
    assert viz.translation_diff([], []).data  # two empty translations still draw


def test_head_effect_grid_one_panel_per_kind_with_the_off_heads_boxed():
    rows = [
        (kind, layer, h, -float(layer + h))
        for kind in ("encoder", "decoder", "cross")
        for layer in range(2)
        for h in range(3)
    ]
    table = pd.DataFrame(rows, columns=["kind", "layer", "head_index", "logp_change"])
    fig = viz.head_effect_grid(table, off=[("cross", 1, 2)])
    assert len(fig.data) == 3
    z = np.asarray(fig.data[2].customdata, dtype=float)
    assert z.shape == (2, 3) and z[1, 2] == -3.0
    assert len(fig.layout.shapes) == 1
    # written to 2 decimals, a change that rounds to zero as "0.00", never "-0.00" (or "-0.0")
    tiny = table.assign(logp_change=[-0.004, 0.004, -0.03, 0.0, -1.236, 0.5] * 3)
    texts = [t for row in viz.head_effect_grid(tiny).data[0].text for t in row]
    assert texts == ["0.00", "0.00", "-0.03", "0.00", "-1.24", "0.50"]
