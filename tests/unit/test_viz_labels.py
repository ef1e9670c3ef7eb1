"""viz.labels: a decoder row reads piece t and predicts piece t + 1; every figure labels its rows here."""

import types

import pytest

import viz
from transformer.kinds import KINDS, ROW_LABELS, key_title, query_title
from viz.labels import axes, predicted_pieces, query_hover, query_labels, row_mode, row_pieces, side_tokens

SRC = ["▁The", "▁old", "▁man", ".", "</s>"]
TGT = ["<s>", "▁Der", "▁alt", "e", "▁Mann", "."]  # decoder input: what each row reads


@pytest.mark.parametrize(
    "rows, expected",
    [
        ("read", TGT),
        ("predicted", ["▁Der", "▁alt", "e", "▁Mann", ".", "</s>"]),
        ("both", ["<s> → ▁Der", "▁Der → ▁alt", "▁alt → e", "e → ▁Mann", "▁Mann → .", ". → </s>"]),
    ],
)
@pytest.mark.parametrize("kind", ["decoder", "cross"])
def test_decoder_rows_are_labelled_by_the_piece_read_predicted_or_both(kind, rows, expected):
    assert query_labels(kind, TGT, rows) == expected


@pytest.mark.parametrize("kind", ["decoder", "cross"])
def test_the_last_decoder_row_predicts_the_end_of_the_sentence(kind):
    assert query_labels(kind, TGT, "predicted")[-1] == "</s>"
    assert predicted_pieces(["<s>"]) == ["</s>"]  # an empty translation: <s> predicts the end at once


@pytest.mark.parametrize("rows", [None, *ROW_LABELS])
def test_encoder_rows_are_their_pieces_whatever_the_mode(rows):
    assert query_labels("encoder", SRC, rows) == SRC
    assert row_mode("encoder", rows) == "read"


def test_each_kind_has_its_default():
    assert query_labels("cross", TGT)[0] == "▁Der"  # predicted
    assert query_labels("decoder", TGT)[0] == "<s> → ▁Der"  # both
    assert [KINDS[k].rows for k in ("encoder", "decoder", "cross")] == ["read", "both", "predicted"]


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="row labels"):
        query_labels("cross", TGT, "next")


def test_row_pieces_name_what_a_label_shows():
    assert row_pieces("cross", TGT, "both")[0] == ("<s>", "▁Der")
    assert row_pieces("cross", TGT, "predicted")[-1] == ("</s>",)


def test_hover_names_both_pieces_of_a_decoder_row_and_escapes_them():
    assert query_hover("cross", TGT)[0] == "0: reads &lt;s&gt;, predicts ▁Der"
    assert query_hover("encoder", SRC)[4] == "4: &lt;/s&gt;"


@pytest.mark.parametrize(
    "kind, rows, title",
    [
        ("encoder", None, "query: source piece (encoder position)"),
        ("decoder", None, "decoder row: piece read → piece predicted"),
        ("cross", None, "decoder row: piece predicted (next piece)"),
        ("cross", "read", "decoder row: piece read"),
        (None, None, "query position"),
    ],
)
def test_axis_titles_say_which_piece_labels_a_row(kind, rows, title):
    assert query_title(kind, rows) == title
    assert axes(kind, TGT if kind != "encoder" else SRC, SRC, (1, 1), rows).y_title == title


def test_keys_are_titled_by_their_side():
    assert key_title("cross") == "key: source piece (encoder position)"
    assert key_title("decoder") == "key: target piece read (decoder position)"


def test_side_tokens_pair_each_kind_with_its_sides():
    trace = types.SimpleNamespace(src_tokens=SRC, tgt_tokens=TGT)
    assert side_tokens(trace, "encoder") == (SRC, SRC)
    assert side_tokens(trace, "decoder") == (TGT, TGT)
    assert side_tokens(trace, "cross") == (TGT, SRC)


def test_axes_label_the_kept_positions_and_mask_by_position():
    ax = axes("decoder", TGT, TGT, (2, 3), "predicted", q_pos=[1, 3], k_pos=[1, 2, 3])
    assert ax.q_ticks == ["▁alt", "▁Mann"]  # row 1 predicts piece 2, even though piece 2's row is not drawn
    assert ax.k_ticks == ["▁Der", "▁alt", "e"]
    assert ax.mask.tolist() == [[False, True, True], [False, False, False]]
    with pytest.raises(ValueError, match="query positions"):
        axes("decoder", TGT, TGT, (1, 1), q_pos=[9])


def test_viz_exports_the_label_functions():
    assert viz.query_labels is query_labels and viz.ROW_LABELS is ROW_LABELS
