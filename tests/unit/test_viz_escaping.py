"""Tokens come from user text: HTML in a token must be shown, never interpreted, in every figure.

(The head view is SVG, not Plotly: tests/unit/test_viz_head_view.py checks its escaping.)
"""

import numpy as np
import pytest

import viz
from tests.support.figure_json import strings_in

EVIL = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"
TOKENS = ["▁a", EVIL, "&", "</s>"]


def attention(kind):
    """Random attention (2 layers, 2 heads, 4 × 4) of a kind whose every side has the pieces TOKENS."""
    rng = np.random.default_rng(0)
    e = np.exp(rng.normal(size=(2, 2, 4, 4)))
    if kind == "decoder":
        e[..., np.triu(np.ones((4, 4), bool), 1)] = 0.0
    return e / e.sum(-1, keepdims=True)


def projection():
    return viz.projection_frame(np.random.default_rng(0).normal(size=(2, 4, 6)), TOKENS)


def embedding_sum():
    x = np.random.default_rng(0).normal(size=(4, 6))
    return viz.embedding_sum_view(x, x, 2 * x, TOKENS)


BUILDERS = {
    "heatmap": lambda: viz.attention_heatmap(attention("decoder")[0, 1], TOKENS, TOKENS, kind="decoder"),
    "cross_heatmap": lambda: viz.attention_heatmap(attention("cross")[0, 1], TOKENS, TOKENS, kind="cross"),
    "model_view": lambda: viz.model_view(
        attention("encoder"), TOKENS, TOKENS, kind="encoder", show_tokens=True
    ),
    "cross_model_view": lambda: viz.model_view(
        attention("cross"), TOKENS, TOKENS, kind="cross", rows="both", show_tokens=True
    ),
    "cross_step": lambda: viz.cross_attention_step(attention("cross"), TOKENS, TOKENS, step=1, rows="both"),
    "self_step": lambda: viz.self_attention_step(attention("decoder"), TOKENS, step=2),
    "topk_bar": lambda: viz.topk_bar(
        viz.topk_frame(np.array([[0.7, 0.2, 0.1]]), k=3, id_to_piece=lambda i: TOKENS[i]), context=EVIL
    ),
    "embedding_sum": embedding_sum,
    "projection": lambda: viz.projection_scatter(projection(), chosen=[1, 2]),
    "token_path": lambda: viz.token_path(projection(), positions=1),
}


@pytest.mark.parametrize("name", BUILDERS)
def test_html_in_tokens_is_escaped_in_every_label(name):
    # walk the figure itself: to_json() writes "<" as \u003c, which would hide a raw "<img"
    texts = strings_in(BUILDERS[name]().to_dict())
    assert not [t for t in texts if "<img" in t]
    assert any(ESCAPED in t for t in texts)
    assert any("&amp;" in t for t in texts)  # the "&" token
    assert not [t for t in texts if "&" in t and "&amp;" not in t and "&lt;" not in t and "&gt;" not in t]


def test_escaping_leaves_quotes_alone():
    # Plotly decodes &lt; &gt; &amp; but would print "&quot;" literally
    fig = viz.attention_heatmap(np.ones((1, 1)), ['"'], ['"'], kind="encoder")
    assert list(fig.layout.xaxis.labelalias.values()) == ['"'] and list(fig.layout.yaxis.ticktext) == ['"']
