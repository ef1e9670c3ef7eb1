"""Anatomy and Embeddings show pre-norm and post-norm models truthfully (AppTest, shipped models:
`en-de` is pre-norm, `reverse` post-norm): LayerNorm outputs are labelled as such, the residual stream
as the residual stream, and what is drawn is the hook point the label names."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.apptest import MODELS, figures, heatmaps, run_app, title
from transformer import load_pretrained

pytestmark = pytest.mark.skipif(not {"en-de", "reverse"} <= set(MODELS), reason="needs en-de and reverse")

CASES = {  # model -> (sentence, its norm placement)
    "en-de": ("The old man saw the old dog near the river.", "pre"),
    "reverse": ("c a f b", "post"),
}


def stage_titles(at) -> dict[str, dict]:
    """Figures by title (a long title is broken into lines: read as one)."""
    titles = {title(f).replace("<br>", " "): f for f in figures(at)}
    return {t: f for t, f in titles.items() if "residual stream" in t or "LayerNorm" in t}


@pytest.mark.parametrize("model", list(CASES))
def test_anatomy_labels_layernorm_outputs_and_the_stream(model):
    text, norm = CASES[model]
    m = load_pretrained(model)
    last = m.config.n_encoder_layers - 1
    at = run_app(
        model=model, text=text, view="anatomy", kind="encoder", layer=str(last), head="0", section="6"
    )
    assert not at.exception
    titles = stage_titles(at)
    if norm == "pre":
        assert "LayerNorm output: what self-attention reads" in titles
        assert "final LayerNorm of the encoder: the memory cross-attention reads" in titles
        assert any("not normalised" in t for t in titles)
        # the memory drawn is the memory the decoder reads, not the last layer's stream
        z = heatmaps(titles["final LayerNorm of the encoder: the memory cross-attention reads"])[0]
        memory = m.trace(text).memory.numpy()
        np.testing.assert_allclose(z, memory[:, : z.shape[1]], atol=1e-5)
    else:
        assert not any(t.startswith("LayerNorm output") for t in titles)
        assert "residual stream after self-attention = LayerNorm(x + self-attention)" in titles
    markdown = " ".join(md.value for md in at.markdown)
    assert ("pre-norm" in markdown) == (norm == "pre")


@pytest.mark.parametrize("model", list(CASES))
def test_embeddings_stages_name_the_final_layernorm_only_for_pre_norm(model):
    text, norm = CASES[model]
    at = run_app(model=model, text=text, view="embeddings")
    assert not at.exception
    options = at.selectbox(key="emb_stage").options
    assert ("final LayerNorm (memory)" in options) == (norm == "pre")
    word = "LayerNorm output" if norm == "post" else "not normalised"
    assert all(word in o for o in options if o.startswith("after L"))
