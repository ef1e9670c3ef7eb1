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


def test_rows_get_the_heatmaps_row_pitch_at_any_font_and_thin_out_only_past_the_height_limit():
    """Presentation mode squashed the difference to ~18 px rows: now each row has ROW_PITCH × the font even
    with the column labels upright (the room they may need is in the height; flat, Plotly gives it to the
    rows), and the y title is broken in two rather than taller than the rows."""
    from viz.attention import label_room
    from viz.heatmap import HEIGHT_MAX, ROW_PITCH

    labels = ["▁The", "▁man / ▁woman", "▁is", "▁tire", "d", ".", "</s>"]
    for font in (12, 20):
        for fig in (
            viz.difference_heatmap(np.zeros((7, 7)), labels, labels, y_title="query: source piece (encoder position)",
                                   font_size=font),
            viz.stream_shift_heatmap(np.zeros((4, 7)), labels, font_size=font),
        ):  # fmt: skip
            n, m, upright = len(fig.data[0].z), fig.layout.margin, label_room(labels, font) + font * 3
            assert fig.layout.height - m.t - upright >= n * font * ROW_PITCH, (font, fig.layout.title.text)
            assert (
                m.b < upright and fig.layout.xaxis.automargin and fig.layout.xaxis.autotickangles == (0, -90)
            )
            assert fig.layout.yaxis.automargin is False and len(fig.layout.yaxis.ticktext) == n
    wrapped = viz.difference_heatmap(
        np.zeros((2, 2)), ["a", "b"], ["a", "b"], y_title="query: source piece (encoder position)"
    )
    assert wrapped.layout.yaxis.title.text == "query: source piece<br>(encoder position)"
    long = viz.difference_heatmap(np.zeros((200, 3)), [f"p{i}" for i in range(200)], ["a", "b", "c"])
    assert long.layout.height <= HEIGHT_MAX and 1 < len(long.layout.yaxis.ticktext) < 200  # every k-th row
