"""viz.frames: captured tensors -> dense arrays for the figures (head_weights, hide_specials) and tidy frames."""

import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from transformer.kinds import KIND_NAMES
from viz.frames import (
    ATTENTION_COLUMNS,
    MEAN_HEAD,
    SPECIAL_TOKENS,
    attention_frame,
    embedding_sum_frame,
    head_summary_frame,
    head_weights,
    hide_specials,
    pe_frame,
    pe_similarity_frame,
    select_head,
    token_labels,
    topk_frame,
    trace_attention_frames,
)

L, H = 2, 3
SRC = ["▁The", "▁house", "▁is", "▁old", ".", "</s>"]
TGT = ["<s>", "▁Das", "▁Haus", "▁ist", "▁alt"]


def fake_trace(seed: int = 0) -> types.SimpleNamespace:
    """Random softmaxed attention with the Trace shapes; decoder rows zero above the diagonal."""
    g = torch.Generator().manual_seed(seed)
    s, t = len(SRC), len(TGT)
    causal = torch.ones(t, t).triu(1).bool()
    dec = torch.randn(L, H, t, t, generator=g).masked_fill(causal, float("-inf"))
    return types.SimpleNamespace(
        src_tokens=SRC,
        tgt_tokens=TGT,
        attention={
            "encoder": torch.randn(L, H, s, s, generator=g).softmax(-1),
            "decoder": dec.softmax(-1),
            "cross": torch.randn(L, H, t, s, generator=g).softmax(-1),
        },
        probs=torch.randn(t, 40, generator=g).softmax(-1),
    )


def frame_of(kind: str):
    trace = fake_trace()
    return attention_frame(trace.attention[kind], *SIDES[kind], kind)


KINDS = list(KIND_NAMES)
SIDES = {"encoder": (SRC, SRC), "decoder": (TGT, TGT), "cross": (TGT, SRC)}


@pytest.mark.parametrize("kind", KINDS)
def test_attention_frame_has_documented_columns_and_one_row_per_cell(kind):
    frame = frame_of(kind)
    tq, tk = fake_trace().attention[kind].shape[2:]
    assert list(frame.columns) == ATTENTION_COLUMNS
    assert len(frame) == L * H * tq * tk
    assert (frame["kind"] == kind).all()


@pytest.mark.parametrize("kind", KINDS)
def test_attention_rows_sum_to_one(kind):
    sums = frame_of(kind).groupby(["layer", "head", "q_pos"])["weight"].sum()
    np.testing.assert_allclose(sums, 1.0, atol=1e-6)


def test_attention_frame_puts_the_right_token_on_each_side():
    frame = frame_of("cross")
    row = frame[(frame["q_pos"] == 2) & (frame["k_pos"] == 4)].iloc[0]
    assert (row["query"], row["key"]) == (TGT[2], SRC[4])
    assert row["weight"] == pytest.approx(
        float(fake_trace().attention["cross"][row["layer"], row["head"], 2, 4])
    )


def test_trace_attention_frames_pairs_each_kind_with_its_token_sides():
    frames = trace_attention_frames(fake_trace())
    assert sorted(frames) == sorted(KINDS)
    cross = frames["cross"]
    assert set(cross["query"]) == set(TGT) and set(cross["key"]) == set(SRC)
    assert len(frames["decoder"]) == L * H * len(TGT) ** 2


def test_attention_frame_says_what_each_decoder_row_reads_and_predicts():
    frame = frame_of("cross")
    rows = frame.drop_duplicates("q_pos")
    assert rows["query_read"].tolist() == TGT and rows["query"].tolist() == TGT
    assert rows["query_predicted"].tolist() == [*TGT[1:], "</s>"]
    encoder = frame_of("encoder").drop_duplicates("q_pos")
    assert encoder["query_read"].tolist() == SRC and set(encoder["query_predicted"]) == {""}


def test_mean_frame_keeps_the_read_and_predicted_pieces():
    mean = select_head(frame_of("decoder"), 0, "mean")
    assert mean.drop_duplicates("q_pos")["query_predicted"].tolist() == [*TGT[1:], "</s>"]
    assert list(mean.columns) == ATTENTION_COLUMNS


# --- dense arrays -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_hide_specials_drops_specials_and_rows_sum_to_one_again(kind):
    q, k = SIDES[kind]
    attn = fake_trace().attention[kind].numpy()
    w, q_pos, k_pos = hide_specials(attn, q, k, kind=kind)
    assert w.shape == (L, H, len(q_pos), len(k_pos))
    assert not {k[p] for p in k_pos} & SPECIAL_TOKENS
    rows = w.sum(-1)
    np.testing.assert_allclose(rows[rows > 0], 1.0, atol=1e-6)  # a decoder row that saw only <s> stays 0


@pytest.mark.parametrize(
    "kind, rows, kept",
    [
        ("encoder", None, [0, 1, 2, 3, 4]),  # "</s>" read at 5
        (
            "cross",
            None,
            [0, 1, 2, 3],
        ),  # predicted: the row predicting "</s>" goes, the one reading "<s>" stays
        ("cross", "read", [1, 2, 3, 4]),  # read: the row reading "<s>" goes
        ("cross", "both", [0, 1, 2, 3, 4]),  # both: no row names only specials
        ("decoder", None, [0, 1, 2, 3, 4]),  # decoder's default is both
    ],
)
def test_hide_specials_judges_a_row_by_the_pieces_its_label_names(kind, rows, kept):
    q, k = SIDES[kind]
    _, q_pos, _ = hide_specials(fake_trace().attention[kind][0, 0], q, k, kind=kind, rows=rows)
    assert q_pos.tolist() == kept


def test_hide_specials_without_renormalising_keeps_raw_weights():
    attn = fake_trace().attention["encoder"]  # a torch tensor: read through as_array
    w, q_pos, k_pos = hide_specials(attn, SRC, SRC, kind="encoder", renormalize=False)
    assert (w.sum(-1) < 1.0 - 1e-6).all()  # the weight on "</s>" is gone
    assert q_pos.tolist() == [0, 1, 2, 3, 4] and k_pos.tolist() == [0, 1, 2, 3, 4]  # original positions
    np.testing.assert_allclose(w, attn.numpy()[..., :5, :5], atol=1e-7)


def test_hide_specials_rejects_pieces_that_do_not_match_the_weights():
    with pytest.raises(ValueError, match="hide_specials"):
        hide_specials(np.ones((3, 4)), ["a"] * 3, ["a"] * 3)


def test_head_weights_picks_one_head_or_the_mean():
    attn = fake_trace().attention["cross"]
    np.testing.assert_allclose(head_weights(attn, 1, 2), attn[1, 2].numpy())
    np.testing.assert_allclose(head_weights(attn, 0, MEAN_HEAD), attn[0].mean(0).numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="layer 7"):
        head_weights(attn, 7, 0)
    with pytest.raises(ValueError, match="head 9"):
        head_weights(attn, 0, 9)


@pytest.mark.parametrize(
    "attn, q, k, kind",
    [
        (np.ones((2, 3, 3)), ["a"] * 3, ["a"] * 3, "encoder"),  # no layer axis
        (np.ones((1, 1, 3, 3)), ["a"] * 2, ["a"] * 3, "encoder"),  # too few query tokens
        (np.ones((1, 1, 3, 4)), ["a"] * 3, ["a"] * 3, "cross"),  # too few key tokens
        (np.ones((1, 1, 3, 4)), ["a"] * 3, ["a"] * 4, "decoder"),  # self-attention not square
        (np.ones((1, 1, 3, 3)), ["a"] * 3, ["a"] * 3, "self"),  # unknown kind
    ],
)
def test_invalid_attention_input_raises_value_error(attn, q, k, kind):
    with pytest.raises(ValueError, match="attention_frame"):
        attention_frame(attn, q, k, kind)


def test_select_head_returns_exactly_one_layer_and_head():
    one = select_head(frame_of("encoder"), layer=1, head=2)
    assert set(one["layer"]) == {1} and set(one["head"]) == {2}
    assert len(one) == len(SRC) ** 2


@pytest.mark.parametrize("head", ["mean", -1])
def test_select_head_mean_averages_the_heads(head):
    trace = fake_trace()
    mean = select_head(frame_of("cross"), layer=0, head=head)
    assert set(mean["head"]) == {MEAN_HEAD}
    expected = trace.attention["cross"][0].mean(0).numpy()  # (T, S)
    np.testing.assert_allclose(mean["weight"].to_numpy().reshape(expected.shape), expected, atol=1e-6)


def test_select_head_unknown_layer_or_head_raises():
    frame = frame_of("encoder")
    with pytest.raises(ValueError, match="layer 7"):
        select_head(frame, 7, 0)
    with pytest.raises(ValueError, match="head 9"):
        select_head(frame, 0, 9)


def test_topk_frame_is_sorted_and_rank_one_is_the_argmax():
    probs = fake_trace().probs
    top = topk_frame(probs, k=4, id_to_piece=lambda i: f"p{i}")
    assert list(top.columns) == ["step", "rank", "token_id", "token", "prob"]
    assert len(top) == len(TGT) * 4
    for step, rows in top.groupby("step"):
        assert rows["prob"].is_monotonic_decreasing
        assert rows["token_id"].iloc[0] == int(probs[step].argmax())
        assert rows["token"].iloc[0] == f"p{int(probs[step].argmax())}"


def test_topk_frame_selects_one_step_and_clips_k_to_vocab():
    top = topk_frame(np.full((3, 5), 0.2), k=99, steps=1)
    assert set(top["step"]) == {1} and len(top) == 5


def test_topk_frame_rejects_step_outside_sentence():
    with pytest.raises(ValueError, match="steps"):
        topk_frame(np.full((3, 5), 0.2), steps=3)


def test_pe_frames_have_documented_columns():
    pe = np.arange(12.0).reshape(3, 4)
    assert list(pe_frame(pe).columns) == ["position", "dim", "wave", "wavelength", "value"]
    assert len(pe_frame(pe)) == 12
    sim = pe_similarity_frame(pe, "cosine")
    assert list(sim.columns) == ["pos_i", "pos_j", "similarity"]
    np.testing.assert_allclose(sim.loc[sim["pos_i"] == sim["pos_j"], "similarity"], 1.0)


def test_pe_similarity_rejects_unknown_metric():
    with pytest.raises(ValueError, match="metric"):
        pe_similarity_frame(np.ones((2, 2)), "euclid")


def test_embedding_sum_frame_sum_component_is_token_plus_position():
    rng = np.random.default_rng(0)
    tok, pe = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    frame = embedding_sum_frame(tok, pe, tok + pe, ["▁a", "▁b", "▁a"])
    assert list(frame.columns) == ["component", "position", "token", "dim", "value"]
    parts = {c: g["value"].to_numpy() for c, g in frame.groupby("component")}
    np.testing.assert_allclose(parts["sum"], parts["token"] + parts["position"])


def test_embedding_sum_frame_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shapes"):
        embedding_sum_frame(np.ones((3, 4)), np.ones((3, 5)), np.ones((3, 4)), ["a"] * 3)


def test_head_summary_tells_a_one_hot_head_from_a_uniform_head():
    attn = np.zeros((1, 2, 4, 4))
    attn[0, 0] = np.eye(4)  # each token looks at itself only
    attn[0, 1] = 0.25  # uniform
    summary = head_summary_frame(attn, kind="encoder")
    assert list(summary.columns) == [
        "layer",
        "head",
        "kind",
        "entropy_bits",
        "max_weight",
        "mean_distance",
        "self_weight",
    ]
    one_hot, uniform = summary.iloc[0], summary.iloc[1]
    assert one_hot["entropy_bits"] == pytest.approx(0.0)
    assert one_hot["self_weight"] == pytest.approx(1.0) and one_hot["mean_distance"] == pytest.approx(0.0)
    assert uniform["entropy_bits"] == pytest.approx(2.0)
    assert uniform["max_weight"] == pytest.approx(0.25)


def test_head_summary_uses_the_positions_and_numbers_it_is_given():
    attn = np.zeros((1, 1, 2, 2))
    attn[0, 0] = np.eye(2)[::-1]  # each looks at the other
    summary = head_summary_frame(attn, kind="cross", layers=[2], heads=[3], q_pos=[1, 4], k_pos=[0, 1])
    row = summary.iloc[0]
    assert (row["layer"], row["head"], row["kind"]) == (2, 3, "cross")
    assert row["mean_distance"] == pytest.approx(((1 - 1) + (4 - 0)) / 2)
    assert np.isnan(row["self_weight"])


def test_token_labels_make_repeated_words_distinct():
    assert token_labels(["▁the", "▁cat", "▁the"]) == ["0:▁the", "1:▁cat", "2:▁the"]


def test_viz_imports_no_streamlit_and_never_torch_itself():
    """Figures work without Streamlit. viz reads tensors duck-typed; torch arrives only through
    `transformer/__init__.py` when viz imports `transformer.kinds` (the package imports torch)."""
    viz_dir = Path(__file__).parents[2] / "viz"
    assert not [f.name for f in viz_dir.glob("*.py") if "import torch" in f.read_text(encoding="utf-8")]
    code = "import sys, viz; bad = {'streamlit'} & set(sys.modules); assert not bad, bad"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parents[2],
    )
    assert result.returncode == 0, result.stderr
