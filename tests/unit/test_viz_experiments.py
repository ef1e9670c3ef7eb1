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
    assert bar.orientation == "h" and list(bar.y) == [0, 1, 2]  # a row per piece, labels flat at any length
    notes = [a.text for a in fig.layout.annotations]  # beside each bar: its rank, the model's preference
    assert notes == ["#1", "#7 · the model prefers ▁Haus (0.40)", "#2 · the model prefers . (0.30)"]
    assert all(a.x == 1 and a.xanchor == "left" and a.xref == "paper" for a in fig.layout.annotations)
    assert fig.layout.margin.r >= viz.style.labels_px(
        notes, 12, cap=80
    )  # right of the plot, never over a bar
    ticks = list(fig.layout.yaxis.ticktext)
    assert ticks[0] == "▁Das" and ticks[2] == "&lt;/s&gt;" and fig.layout.yaxis.tickangle is None
    assert "<b>&lt;b&gt;</b>" in ticks[1]  # the surprising piece's label stands out too, escaped
    assert fig.layout.yaxis.range[0] > fig.layout.yaxis.range[1]  # the first piece on top
    (line,) = fig.layout.shapes
    assert line.x0 == line.x1 == viz.experiments.SURPRISING and "below p = 0.1" in fig.layout.xaxis.title.text
    # the plot grows with the font: presentation's 20 px font gets the bars as much room as 12 px does
    assert viz.piece_scores_bar(_frame(), font_size=20).layout.height >= 20 / 12 * fig.layout.height
    many = viz.piece_scores_bar(pd.concat([_frame()] * 10, ignore_index=True))
    assert many.layout.height >= 30 * 2 * 12  # a row for each of 30 pieces


def test_score_notes_name_the_model_choice_only_where_it_differs():
    frame = _frame()
    assert viz.experiments.score_notes(frame) == [
        "#1", "#7 · the model prefers ▁Haus (0.40)", "#2 · the model prefers . (0.30)",
    ]  # fmt: skip
    hostile = viz.piece_scores_bar(frame.assign(model_top=["<i>", "<i>", "<i>"]))
    assert (
        "&lt;i&gt;" in hostile.layout.annotations[1].text and "<i>" not in hostile.layout.annotations[1].text
    )


def test_piece_logprob_bars_before_and_after():
    fig = viz.piece_logprob_bars(["a", "b"], [-0.1, -2.0], [-0.5, -3.0], names=("model", "2 heads off"))
    assert [t.name for t in fig.data] == ["model", "2 heads off"]
    np.testing.assert_allclose(fig.data[1].y, [-0.5, -3.0])
    # labels flat unless Plotly finds they would overlap (a 45° "▁" read as a slash); the plot, at the
    # projector's font too, taller than its axis title is long (it was cut to "0 = certair")
    assert fig.layout.xaxis.tickangle is None and fig.layout.xaxis.automargin
    for size in (12, 20):
        big = viz.piece_logprob_bars(["▁Deutsch"] * 9, [-0.1] * 9, font_size=size)
        plot = big.layout.height - big.layout.margin.t - 4 * size
        assert plot >= viz.style.text_px(big.layout.yaxis.title.text, size), size
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


@pytest.mark.parametrize("font", [12, 20])
def test_head_effect_grid_colour_bar_has_room_for_its_three_numbers(font):
    """Three ticks, −limit, 0, +limit, the title beside the bar; the plot at least 3 × 3 font sizes tall, so
    the projector's numbers never overlap (Plotly's own ticks and a title on top did)."""
    table = pd.DataFrame(
        [(k, layer, h, -0.1 * (layer + h)) for k in ("encoder", "decoder", "cross") for layer in range(3)
         for h in range(4)], columns=["kind", "layer", "head_index", "logp_change"],
    )  # fmt: skip
    fig = viz.head_effect_grid(table, font_size=font)
    bar = fig.data[-1].colorbar
    assert list(bar.tickvals) == pytest.approx([-0.5, 0.0, 0.5]) and list(bar.ticktext) == [
        "-0.50",
        "0",
        "0.50",
    ]
    assert bar.title.side == "right"
    m = fig.layout.margin
    assert fig.layout.height - m.t - m.b >= 9 * font
