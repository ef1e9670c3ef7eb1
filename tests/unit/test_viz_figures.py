"""viz.attention and viz.decoding: dense attention arrays + the pieces of each side -> Plotly figures."""

import time

import numpy as np
import pytest

from transformer.kinds import MEAN_HEAD
from viz.attention import attention_heatmap, model_view
from viz.decoding import cross_attention_step, self_attention_step, topk_bar
from viz.frames import head_weights, hide_specials, topk_frame
from viz.heatmap import HEIGHT_MAX, LABEL_PITCH, MASK_LEGEND, attention_map
from viz.style import labels_px

SRC = ["▁The", "▁house", "▁is", "▁old", ".", "</s>"]
TGT = ["<s>", "▁Das", "▁Haus", "▁ist", "▁alt"]
PREDICTED = ["▁Das", "▁Haus", "▁ist", "▁alt", "</s>"]  # what each decoder row predicts
SIDES = {"encoder": (SRC, SRC), "decoder": (TGT, TGT), "cross": (TGT, SRC)}


def random_attention(n_layers, n_heads, n_q, n_k, causal=False, seed=0) -> np.ndarray:
    """Softmaxed random scores (L, H, T_q, T_k); causal: zero above the diagonal."""
    scores = np.random.default_rng(seed).normal(size=(n_layers, n_heads, n_q, n_k)) * 2
    if causal:
        scores[..., np.triu(np.ones((n_q, n_k), bool), 1)] = -np.inf
    e = np.exp(scores - scores.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def kind_attention(kind, n_layers=2, n_heads=3, tokens=None):
    """(attention (L, H, T_q, T_k), query pieces, key pieces) of a kind."""
    q, k = SIDES[kind] if tokens is None else (tokens, tokens)
    return random_attention(n_layers, n_heads, len(q), len(k), causal=kind == "decoder"), q, k


def one_head(kind, layer=0, head=0, height=None, **kw):
    """attention_heatmap of one head of random attention of a kind (its `attention_map`)."""
    attn, q, k = kind_attention(kind)
    m = attention_map(head_weights(attn, layer, head), q, k, kind=kind, layer=layer, head=head, **kw)
    return attention_heatmap(m, height=height)


def heatmap_trace(fig):
    return next(t for t in fig.data if t.type == "heatmap")


def x_labels(fig, axis: str = "xaxis") -> list[str]:
    """The piece written under each column: key axes are categories ("3: ▁old") shown through labelalias."""
    ax = fig.layout[axis]
    return [ax.labelalias[c] for c in ax.categoryarray]


# --- attention_heatmap ------------------------------------------------------------------------


def test_heatmap_keeps_one_row_per_token_even_when_words_repeat():
    tokens = ["▁the", "▁cat", "▁the"]
    attn, q, k = kind_attention("encoder", tokens=tokens)
    fig = attention_heatmap(attn[0, 0], q, k, kind="encoder")
    assert np.asarray(heatmap_trace(fig).z).shape == (3, 3)
    assert list(fig.layout.yaxis.ticktext) == tokens
    assert x_labels(fig) == tokens
    assert list(fig.layout.yaxis.tickvals) == [0, 1, 2]
    assert list(heatmap_trace(fig).x) == ["0: ▁the", "1: ▁cat", "2: ▁the"]  # one column each


@pytest.mark.parametrize(
    "kind, rows, y_title, x_title",
    [
        ("encoder", None, "query: source piece (encoder position)", "key: source piece (encoder position)"),
        (
            "encoder",
            "predicted",
            "query: source piece (encoder position)",
            "key: source piece (encoder position)",
        ),
        (
            "decoder",
            None,
            "decoder row: piece read → piece predicted",
            "key: target piece read (decoder position)",
        ),
        ("cross", None, "decoder row: piece predicted (next piece)", "key: source piece (encoder position)"),
        ("cross", "read", "decoder row: piece read", "key: source piece (encoder position)"),
        (
            "cross",
            "both",
            "decoder row: piece read → piece predicted",
            "key: source piece (encoder position)",
        ),
    ],
)
def test_heatmap_axis_titles_say_what_labels_the_rows(kind, rows, y_title, x_title):
    fig = one_head(kind, 1, 2, rows=rows)
    assert fig.layout.yaxis.title.text == y_title
    assert fig.layout.xaxis.title.text == x_title
    assert fig.layout.yaxis.autorange == "reversed"  # row 0 on top


@pytest.mark.parametrize(
    "kind, rows, ticks",
    [
        ("cross", None, PREDICTED),  # cross-attention's default: the piece each row predicts
        ("cross", "predicted", PREDICTED),
        ("cross", "read", ["&lt;s&gt;", *TGT[1:]]),
        ("decoder", None, [f"{r} → {p}" for r, p in zip(["&lt;s&gt;", *TGT[1:]], PREDICTED, strict=True)]),
        ("decoder", "predicted", PREDICTED[:-1] + ["&lt;/s&gt;"]),
        ("encoder", "both", SRC[:-1] + ["&lt;/s&gt;"]),  # encoder rows predict nothing: always their piece
    ],
)
def test_heatmap_row_labels_follow_rows(kind, rows, ticks):
    ticks = [t.replace("</s>", "&lt;/s&gt;") for t in ticks]
    assert list(one_head(kind, rows=rows).layout.yaxis.ticktext) == ticks


def test_cross_heatmap_first_row_is_labelled_by_the_first_target_piece_not_the_start():
    fig = one_head("cross")
    assert fig.layout.yaxis.ticktext[0] == "▁Das"
    assert fig.layout.yaxis.ticktext[-1] == "&lt;/s&gt;"  # the last row predicts the end


def test_decoder_heatmap_marks_cells_above_the_diagonal():
    fig = one_head("decoder", 0, 1)
    z = np.asarray(heatmap_trace(fig).z, dtype=float)
    above = np.triu(np.ones_like(z, dtype=bool), 1)
    assert np.isnan(z[above]).all() and not np.isnan(z[~above]).any()
    mask = [t for t in fig.data if t.name == MASK_LEGEND]
    assert len(mask) == 1 and mask[0].fillpattern.shape == "/" and mask[0].showlegend
    custom = np.asarray(heatmap_trace(fig).customdata)
    assert custom[0, 1, 2] == "masked (future position)"


@pytest.mark.parametrize("kind", ["encoder", "cross"])
def test_heatmap_of_unmasked_attention_has_no_mask(kind):
    fig = one_head(kind)
    assert not np.isnan(np.asarray(heatmap_trace(fig).z, dtype=float)).any()
    assert all(t.name != MASK_LEGEND for t in fig.data)


@pytest.mark.parametrize("rows", ["read", "predicted", "both"])
def test_heatmap_hover_shows_the_piece_read_and_predicted_and_the_exact_weight(rows):
    attn, q, k = kind_attention("cross")
    fig = attention_heatmap(attn[0, 0], q, k, kind="cross", rows=rows)
    custom = np.asarray(heatmap_trace(fig).customdata)
    assert list(custom[2, 3]) == [
        f"2: reads {TGT[2]}, predicts {TGT[3]}",
        f"3: {SRC[3]}",
        f"{attn[0, 0, 2, 3]:.6f}",
    ]
    assert custom[4, 0, 0] == "4: reads ▁alt, predicts &lt;/s&gt;"
    assert "customdata[2]" in heatmap_trace(fig).hovertemplate


def test_encoder_hover_names_the_piece_only():
    custom = np.asarray(heatmap_trace(one_head("encoder")).customdata)
    assert list(custom[1, 2, :2]) == [f"1: {SRC[1]}", f"2: {SRC[2]}"]


def test_heatmap_accepts_torch_tensors():
    torch = pytest.importorskip("torch")
    attn, q, k = kind_attention("cross")
    fig = attention_heatmap(torch.tensor(attn[1, 2]), q, k, kind="cross")
    np.testing.assert_allclose(np.asarray(heatmap_trace(fig).z, dtype=float), attn[1, 2], atol=1e-6)


def test_heatmap_title_names_kind_layer_and_head():
    assert (
        one_head("cross", 1, 2).layout.title.text == "Cross-attention (decoder → encoder) — layer 1, head 2"
    )
    attn, q, k = kind_attention("encoder")
    fig = attention_heatmap(head_weights(attn, 1, MEAN_HEAD), q, k, kind="encoder", layer=1, head=MEAN_HEAD)
    assert fig.layout.title.text == "Encoder self-attention — layer 1, mean over heads"
    np.testing.assert_allclose(np.asarray(heatmap_trace(fig).z, dtype=float), attn[1].mean(0))


def test_heatmap_rejects_several_heads_and_mismatched_pieces():
    attn, q, k = kind_attention("encoder")
    with pytest.raises(ValueError, match="q_len, k_len"):
        attention_heatmap(attn[0], q, k, kind="encoder")
    with pytest.raises(ValueError, match="query"):
        attention_heatmap(attn[0, 0], q, k, kind="encoder", q_pos=[0, 1])
    with pytest.raises(ValueError, match="row labels"):
        one_head("cross", rows="next")


def test_heatmap_after_hide_specials_keeps_original_positions():
    attn, q, k = kind_attention("cross")
    w, q_pos, k_pos = hide_specials(attn[0, 0], q, k, kind="cross")
    fig = attention_heatmap(w, q, k, kind="cross", q_pos=q_pos, k_pos=k_pos)
    assert list(fig.layout.yaxis.ticktext) == PREDICTED[:-1]  # the row predicting </s> is gone
    assert x_labels(fig) == SRC[:-1]
    custom = np.asarray(heatmap_trace(fig).customdata)
    assert (
        custom[0, 0, 0] == "0: reads &lt;s&gt;, predicts ▁Das"
    )  # the row reading <s> stays: it predicts a word
    np.testing.assert_allclose(np.asarray(heatmap_trace(fig).z, dtype=float).sum(1), 1.0)


def test_decoder_mask_uses_original_positions_after_hiding():
    attn, q, k = kind_attention("decoder")
    w, q_pos, k_pos = hide_specials(attn[0, 0], q, k, kind="decoder", rows="read")
    fig = attention_heatmap(w, q, k, kind="decoder", rows="read", q_pos=q_pos, k_pos=k_pos)
    z = np.asarray(heatmap_trace(fig).z, dtype=float)
    assert np.isnan(z[np.triu(np.ones_like(z, dtype=bool), 1)]).all()  # rows 1..4 × keys 1..4
    assert list(fig.layout.yaxis.ticktext) == TGT[1:]


def test_heatmap_font_size_and_height_scale_for_presentation():
    fig = one_head("encoder", font_size=20, height=900)
    assert fig.layout.font.size == 20 and fig.layout.height == 900


def long_sentence(n, kind="encoder"):
    tokens = [f"▁w{i % 17}" for i in range(n)]
    return random_attention(1, 1, n, n, causal=kind == "decoder")[0, 0], tokens


def room_per_label(fig, n_rows, step, font=12):
    """Pixels each written row label has: the plot's height over the rows, times the step between labels."""
    plot_px = fig.layout.height - fig.layout.margin.t - _label_room_px(fig, font)
    return plot_px / n_rows * step


def _label_room_px(fig, font):
    ticks = fig.layout.xaxis.labelalias.values()
    return font * 0.62 * min(max(len(t) for t in ticks), 18) + font * 3


@pytest.mark.parametrize("n", [6, 35, 64])
def test_heatmap_labels_every_row_while_it_has_room(n):
    w, tokens = long_sentence(n)
    fig = attention_heatmap(w, tokens, tokens, kind="encoder")
    assert list(fig.layout.yaxis.tickvals) == list(range(n))
    assert room_per_label(fig, n, 1) >= 12 * LABEL_PITCH


def test_heatmap_of_128_pieces_writes_every_kth_row_and_hovers_all():
    w, tokens = long_sentence(128)
    fig = attention_heatmap(w, tokens, tokens, kind="encoder")
    ticks = list(fig.layout.yaxis.tickvals)
    step = ticks[1] - ticks[0]
    assert step > 1 and ticks == list(range(0, 128, step))
    assert list(fig.layout.yaxis.ticktext) == tokens[::step]
    assert room_per_label(fig, 128, step) >= 12 * LABEL_PITCH  # the written labels never touch
    assert fig.layout.height == HEIGHT_MAX
    assert np.asarray(heatmap_trace(fig).customdata).shape == (128, 128, 3)  # every cell names both pieces


def test_heatmap_key_axis_lets_plotly_thin_its_labels_to_the_width():
    """Keys are categories, one per column, written through labelalias: Plotly writes every k-th to fit
    the figure's width (tests/browser/test_browser.py checks what Chromium draws) and turns them, never at 45°."""
    w, tokens = long_sentence(128)
    fig = attention_heatmap(w, tokens, tokens, kind="encoder")
    assert fig.layout.xaxis.type == "category" and fig.layout.xaxis.tickmode is None
    assert len(fig.layout.xaxis.categoryarray) == 128 and x_labels(fig) == tokens
    assert list(fig.layout.xaxis.autotickangles) == [0, -90]


def test_heatmap_height_follows_rows_and_font():
    short, tokens = long_sentence(6)
    normal = attention_heatmap(short, tokens, tokens, kind="encoder").layout.height
    big = attention_heatmap(short, tokens, tokens, kind="encoder", font_size=20).layout.height
    long, tokens35 = long_sentence(35)
    longer = attention_heatmap(long, tokens35, tokens35, kind="encoder").layout.height
    assert 350 <= normal < longer <= 800 and big > normal * 1.4


def test_heatmap_mask_sits_on_a_twin_of_the_key_axis():
    """The hatch covers whole cells from the diagonal on: drawn on a numeric axis matched to the key categories."""
    fig = one_head("decoder")
    mask = next(t for t in fig.data if t.name == MASK_LEGEND)
    assert mask.xaxis == "x2" and fig.layout.xaxis2.overlaying == "x"
    assert list(fig.layout.xaxis2.range) == list(fig.layout.xaxis.range) == [-0.5, len(TGT) - 0.5]
    assert fig.layout.xaxis2.visible is False


# --- model_view -------------------------------------------------------------------------------


@pytest.mark.parametrize("n_layers, n_heads", [(1, 1), (2, 3), (3, 8)])
def test_model_view_has_one_subplot_per_layer_and_head(n_layers, n_heads):
    attn, q, k = kind_attention("encoder", n_layers, n_heads)
    fig = model_view(attn, q, k, kind="encoder")
    assert len(fig.data) == n_layers * n_heads
    titles = [a.text for a in fig.layout.annotations]
    assert titles == [f"L{layer} H{head}" for layer in range(n_layers) for head in range(n_heads)]
    assert len({(t.xaxis, t.yaxis) for t in fig.data}) == n_layers * n_heads  # each in its own axes
    assert {t.coloraxis for t in fig.data} == {"coloraxis"}  # one shared colour scale
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0.0, 1.0)


def test_model_view_names_the_layers_it_is_given():
    attn, q, k = kind_attention("cross", 3, 2)
    fig = model_view(attn[2:3], q, k, kind="cross", layers=[2])
    assert [a.text for a in fig.layout.annotations] == ["L2 H0", "L2 H1"]


def test_model_view_masks_decoder_future_positions():
    attn, q, k = kind_attention("decoder")
    for trace in model_view(attn, q, k, kind="decoder").data:
        z = np.asarray(trace.z, dtype=float)
        assert np.isnan(z[np.triu(np.ones_like(z, dtype=bool), 1)]).all()


def test_model_view_keeps_repeated_tokens_apart():
    attn, q, k = kind_attention("encoder", tokens=["▁the", "▁cat", "▁the"])
    fig = model_view(attn, q, k, kind="encoder")
    assert list(fig.data[0].y) == ["0: ▁the", "1: ▁cat", "2: ▁the"]


def test_model_view_labels_decoder_rows_and_hovers_both_pieces():
    attn, q, k = kind_attention("cross")
    fig = model_view(attn, q, k, kind="cross", show_tokens=True)
    assert list(fig.layout.yaxis.ticktext) == PREDICTED[:-1] + ["&lt;/s&gt;"]
    assert fig.data[0].y[0] == "0: reads &lt;s&gt;, predicts ▁Das"  # the hover's "query %{y}"
    assert (
        "y: decoder row: piece predicted (next piece) · x: key: source piece"
        in fig.layout.title.subtitle.text
    )


@pytest.mark.parametrize("n", [12, 35, 128])
def test_model_view_labels_tokens_at_any_length(n):
    """Rows on the left of the first head (every k-th when they are too close), keys under the last layer
    (Plotly thins them to the width); the hover names every row and column."""
    tokens = [f"▁w{i}" for i in range(n)]
    attn = random_attention(2, 3, n, n)
    fig = model_view(attn, tokens, tokens, kind="encoder")
    y = fig.layout.yaxis
    assert y.showticklabels and not fig.layout.yaxis2.showticklabels  # first column only
    step = tokens.index(y.ticktext[1]) if len(y.ticktext) > 1 else 1
    assert list(y.ticktext) == tokens[::step] and (step == 1) == (n <= 12)
    subplot_px = (y.domain[1] - y.domain[0]) * (fig.layout.height - fig.layout.margin.t - fig.layout.margin.b)
    assert subplot_px / n * step >= 10 * LABEL_PITCH * 0.95
    bottom = fig.layout[f"xaxis{2 * 3}"]
    assert bottom.showticklabels and not fig.layout.xaxis.showticklabels  # last layer only
    assert x_labels(fig, f"xaxis{2 * 3}") == tokens
    assert "(position %{pointNumber[1]})" in fig.data[0].hovertemplate


def test_model_view_builds_in_well_under_a_second_at_128_tokens():
    tokens = [f"▁w{i % 17}" for i in range(128)]
    attn = random_attention(3, 8, 128, 128, causal=True)
    model_view(attn, tokens, tokens, kind="decoder")  # warm plotly's lazily imported validators
    start = time.perf_counter()
    fig = model_view(attn, tokens, tokens, kind="decoder")
    elapsed = time.perf_counter() - start
    assert len(fig.data) == 24
    assert elapsed < 1.0, f"model_view took {elapsed:.2f} s"


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
    attn, q, k = kind_attention("cross")
    fig = cross_attention_step(attn, q, k, step=2)
    z = np.asarray(fig.data[0].z)
    assert z.shape == (2 * 3, len(SRC))
    np.testing.assert_allclose(z, attn[:, :, 2, :].reshape(6, -1))
    assert list(fig.layout.yaxis.ticktext) == ["L0 H0", "L0 H1", "L0 H2", "L1 H0", "L1 H1", "L1 H2"]
    assert fig.layout.xaxis.title.text == "key: source piece (encoder position)"
    np.testing.assert_allclose(z.sum(1), 1.0)


@pytest.mark.parametrize(
    "rows, says",
    [
        (None, "Step 2: predicts '▁ist'"),  # cross-attention's default
        ("read", "Step 2: reads '▁Haus'"),
        ("both", "Step 2: reads '▁Haus', predicts '▁ist'"),
    ],
)
def test_step_title_says_what_the_step_reads_and_predicts(rows, says):
    attn, q, k = kind_attention("cross")
    fig = cross_attention_step(attn, q, k, step=2, rows=rows)
    assert fig.layout.title.text.startswith(says)
    assert "query 2: reads ▁Haus, predicts ▁ist" in fig.data[0].hovertemplate


def test_last_step_predicts_the_end_of_the_sentence():
    attn, q, _ = kind_attention("decoder")
    fig = self_attention_step(attn, q, step=4)
    assert "predicts '&lt;/s&gt;'" in fig.layout.title.text


def test_self_attention_step_shows_only_positions_up_to_the_step():
    attn, q, _ = kind_attention("decoder")
    fig = self_attention_step(attn, q, step=2)
    assert np.asarray(fig.data[0].z).shape == (2 * 3, 3)
    assert x_labels(fig) == ["&lt;s&gt;", "▁Das", "▁Haus"]  # escaped "<s>"


def test_step_figures_reject_a_step_outside_the_sentence():
    attn, q, k = kind_attention("cross")
    with pytest.raises(ValueError, match="step 9"):
        cross_attention_step(attn, q, k, step=9)


LONG_PIECES = [  # 15 characters each
    "▁responsibility", "▁identification", "▁interpretation", "▁characteristic", "▁Zusammenarbeit",
]  # fmt: skip


@pytest.mark.parametrize("font", [12, 20])
@pytest.mark.parametrize("kind", ["cross", "decoder"])
def test_step_figures_margins_hold_upright_key_labels_and_the_axis_title_below(kind, font):
    """35 keys of 15 characters: the bottom margin holds the longest standing upright and, below it, the
    x-axis title (Plotly keeps a title inside the margin: a short one put it on the labels); the left margin
    the row labels and the y-axis title; every row keeps its label's height. Plotly measures nothing."""
    pieces = LONG_PIECES * 7  # 35
    read = ["<s>", *pieces[:-1]]  # the decoder's input: at its last step, 34, it has read all 35
    attn = random_attention(3, 4, 35, 35, causal=kind == "decoder")
    if kind == "cross":
        fig = cross_attention_step(attn, read, pieces, step=34, font_size=font)
    else:
        fig = self_attention_step(attn, read, step=34, font_size=font)
    x, y = fig.layout.xaxis, fig.layout.yaxis
    top, bottom, left = (fig.layout.margin[side] or 80 for side in "tbl")  # 80 px: Plotly's default
    keys = list(x.labelalias.values())
    assert len(keys) == 35 and max(len(t) for t in keys) == 15
    title_line = font * 1.3
    assert bottom >= labels_px(keys, font) + title_line + font  # the labels, a gap, the title's line
    assert left >= labels_px(y.ticktext, font) + title_line + font
    assert fig.layout.height - top - bottom >= len(y.ticktext) * font * LABEL_PITCH
    assert x.automargin is False and y.automargin is False
