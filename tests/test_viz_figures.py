"""viz.attention and viz.decoding: tidy frames -> Plotly figures."""

import time

import numpy as np
import pytest

from viz.attention import MASK_LEGEND, attention_heatmap, head_view, model_view
from viz.decoding import cross_attention_step, self_attention_step, topk_bar
from viz.frames import attention_frame, select_head, topk_frame

SRC = ["▁The", "▁house", "▁is", "▁old", ".", "</s>"]
TGT = ["<s>", "▁Das", "▁Haus", "▁ist", "▁alt"]
SIDES = {"encoder": (SRC, SRC), "decoder": (TGT, TGT), "cross": (TGT, SRC)}


def random_attention(n_layers, n_heads, n_q, n_k, causal=False, seed=0) -> np.ndarray:
    """Softmaxed random scores (L, H, T_q, T_k); causal: zero above the diagonal."""
    scores = np.random.default_rng(seed).normal(size=(n_layers, n_heads, n_q, n_k)) * 2
    if causal:
        scores[..., np.triu(np.ones((n_q, n_k), bool), 1)] = -np.inf
    e = np.exp(scores - scores.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def frame_of(kind, n_layers=2, n_heads=3, tokens=None):
    q, k = SIDES[kind] if tokens is None else (tokens, tokens)
    attn = random_attention(n_layers, n_heads, len(q), len(k), causal=kind == "decoder")
    return attention_frame(attn, q, k, kind)


def heatmap_trace(fig):
    return next(t for t in fig.data if t.type == "heatmap")


# --- attention_heatmap ------------------------------------------------------------------------


def test_heatmap_keeps_one_row_per_token_even_when_words_repeat():
    tokens = ["▁the", "▁cat", "▁the"]
    fig = attention_heatmap(select_head(frame_of("encoder", tokens=tokens), 0, 0))
    assert np.asarray(heatmap_trace(fig).z).shape == (3, 3)
    assert list(fig.layout.yaxis.ticktext) == tokens
    assert list(fig.layout.xaxis.ticktext) == tokens
    assert list(fig.layout.yaxis.tickvals) == [0, 1, 2]


@pytest.mark.parametrize(
    "kind, y_title, x_title",
    [
        ("encoder", "query (encoder position)", "key (encoder position)"),
        ("decoder", "query (decoder position)", "key (decoder position)"),
        ("cross", "query (decoder position)", "key (encoder position)"),
    ],
)
def test_heatmap_axis_titles_name_the_query_and_key_side(kind, y_title, x_title):
    fig = attention_heatmap(select_head(frame_of(kind), 1, 2))
    assert fig.layout.yaxis.title.text == y_title
    assert fig.layout.xaxis.title.text == x_title
    assert fig.layout.yaxis.autorange == "reversed"  # row 0 on top


def test_decoder_heatmap_marks_cells_above_the_diagonal():
    fig = attention_heatmap(select_head(frame_of("decoder"), 0, 1))
    z = np.asarray(heatmap_trace(fig).z, dtype=float)
    above = np.triu(np.ones_like(z, dtype=bool), 1)
    assert np.isnan(z[above]).all() and not np.isnan(z[~above]).any()
    mask = [t for t in fig.data if t.name == MASK_LEGEND]
    assert len(mask) == 1 and mask[0].fillpattern.shape == "/" and mask[0].showlegend
    custom = np.asarray(heatmap_trace(fig).customdata)
    assert custom[0, 1, 2] == "masked (future position)"


@pytest.mark.parametrize("kind", ["encoder", "cross"])
def test_heatmap_of_unmasked_attention_has_no_mask(kind):
    fig = attention_heatmap(select_head(frame_of(kind), 0, 0))
    assert not np.isnan(np.asarray(heatmap_trace(fig).z, dtype=float)).any()
    assert all(t.name != MASK_LEGEND for t in fig.data)


def test_heatmap_hover_shows_tokens_and_exact_weight():
    one = select_head(frame_of("cross"), 0, 0)
    fig = attention_heatmap(one)
    custom = np.asarray(heatmap_trace(fig).customdata)
    weight = one[(one["q_pos"] == 2) & (one["k_pos"] == 3)]["weight"].iloc[0]
    assert list(custom[2, 3]) == [f"2: {TGT[2]}", f"3: {SRC[3]}", f"{weight:.6f}"]
    assert "customdata[2]" in heatmap_trace(fig).hovertemplate


def test_heatmap_rejects_a_frame_with_several_heads():
    with pytest.raises(ValueError, match="select_head"):
        attention_heatmap(frame_of("encoder"))


def test_heatmap_font_size_and_height_scale_for_presentation():
    fig = attention_heatmap(select_head(frame_of("encoder"), 0, 0), font_size=20, height=900)
    assert fig.layout.font.size == 20 and fig.layout.height == 900


# --- model_view -------------------------------------------------------------------------------


@pytest.mark.parametrize("n_layers, n_heads", [(1, 1), (2, 3), (3, 8)])
def test_model_view_has_one_subplot_per_layer_and_head(n_layers, n_heads):
    fig = model_view(frame_of("encoder", n_layers, n_heads))
    assert len(fig.data) == n_layers * n_heads
    titles = [a.text for a in fig.layout.annotations]
    assert titles == [f"L{layer} H{head}" for layer in range(n_layers) for head in range(n_heads)]
    assert len({(t.xaxis, t.yaxis) for t in fig.data}) == n_layers * n_heads  # each in its own axes
    assert {t.coloraxis for t in fig.data} == {"coloraxis"}  # one shared colour scale
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0.0, 1.0)


def test_model_view_masks_decoder_future_positions():
    fig = model_view(frame_of("decoder"))
    for trace in fig.data:
        z = np.asarray(trace.z, dtype=float)
        assert np.isnan(z[np.triu(np.ones_like(z, dtype=bool), 1)]).all()


def test_model_view_keeps_repeated_tokens_apart():
    fig = model_view(frame_of("encoder", tokens=["▁the", "▁cat", "▁the"]))
    assert list(fig.data[0].y) == ["0: ▁the", "1: ▁cat", "2: ▁the"]


def test_model_view_builds_in_well_under_a_second_at_128_tokens():
    tokens = [f"▁w{i % 17}" for i in range(128)]
    frame = attention_frame(random_attention(3, 8, 128, 128, causal=True), tokens, tokens, "decoder")
    model_view(frame)  # warm plotly's lazily imported validators
    start = time.perf_counter()
    fig = model_view(frame)
    elapsed = time.perf_counter() - start
    assert len(fig.data) == 24
    assert elapsed < 1.0, f"model_view took {elapsed:.2f} s"


# --- head_view --------------------------------------------------------------------------------


@pytest.mark.parametrize("heads", [None, [0, 2]])
def test_head_view_has_one_legend_entry_per_head(heads):
    fig = head_view(frame_of("cross"), layer=1, heads=heads)
    expected = [0, 1, 2] if heads is None else heads
    legend = [t for t in fig.data if t.showlegend is not False]
    assert [t.name for t in legend] == [f"head {h}" for h in expected]
    groups = {t.legendgroup for t in fig.data if t.mode == "lines"}
    assert groups == {f"head {h}" for h in expected}  # every line toggles with its head


def test_head_view_drops_lines_below_threshold():
    fig = head_view(frame_of("encoder"), layer=0, threshold=1.01)
    drawn = [t for t in fig.data if t.mode == "lines" and t.showlegend is False]
    assert drawn == []


def test_head_view_draws_a_line_for_a_strong_weight():
    attn = np.zeros((1, 1, 2, 2))
    attn[0, 0, 0, 1] = attn[0, 0, 1, 0] = 1.0
    fig = head_view(attention_frame(attn, ["a", "b"], ["a", "b"], "encoder"), layer=0)
    (line,) = [t for t in fig.data if t.mode == "lines" and t.showlegend is False]
    ys = [y for y in line.y if y is not None and not np.isnan(y)]
    assert sorted(zip(ys[::2], ys[1::2], strict=True)) == [(0, 1), (1, 0)]  # query row -> key row
    assert line.opacity == pytest.approx(0.95)


def test_head_view_rejects_unknown_heads():
    with pytest.raises(ValueError, match="heads"):
        head_view(frame_of("encoder"), layer=0, heads=[5])


# --- decoding ---------------------------------------------------------------------------------


def test_topk_bar_puts_rank_one_on_top_and_highlights_the_chosen_token():
    probs = np.array([[0.1, 0.6, 0.3], [0.5, 0.25, 0.25]])
    top = topk_frame(probs, k=3, id_to_piece=lambda i: ["▁a", "▁b", "▁c"][i])
    fig = topk_bar(top, step=0, chosen="▁c")
    bar = fig.data[0]
    assert list(fig.layout.yaxis.ticktext) == ["▁b", "▁c", "▁a"]
    assert list(bar.x) == [0.6, 0.3, 0.1]
    assert fig.layout.yaxis.autorange == "reversed"
    colors = list(bar.marker.color)
    assert colors[1] != colors[0] and colors[0] == colors[2]


def test_cross_attention_step_has_a_row_per_layer_and_head():
    fig = cross_attention_step(frame_of("cross", n_layers=2, n_heads=3), step=2)
    z = np.asarray(fig.data[0].z)
    assert z.shape == (2 * 3, len(SRC))
    assert list(fig.layout.yaxis.ticktext) == ["L0 H0", "L0 H1", "L0 H2", "L1 H0", "L1 H1", "L1 H2"]
    assert fig.layout.xaxis.title.text == "key (encoder position)"
    np.testing.assert_allclose(z.sum(1), 1.0)


def test_self_attention_step_shows_only_positions_up_to_the_step():
    fig = self_attention_step(frame_of("decoder"), step=2)
    assert np.asarray(fig.data[0].z).shape == (2 * 3, 3)
    assert list(fig.layout.xaxis.ticktext) == ["&lt;s&gt;", "▁Das", "▁Haus"]  # escaped "<s>"


def test_step_figures_reject_the_wrong_attention_kind():
    with pytest.raises(ValueError, match="cross"):
        cross_attention_step(frame_of("decoder"), step=1)
