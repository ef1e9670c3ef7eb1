"""Issue 23, item 3 through `AppTest`: the Attention view's Attribution panel puts the cross-attention weights
beside what `transformer.attribution.attribute` says the prediction used, each row's absolute values rescaled
to sum to 1, and counts the rows where both point at the same source piece."""

from __future__ import annotations

import re

import numpy as np
import pytest

import viz
from app_support.views.attention import attribution as panel
from tests.support.apptest import TOY, assert_clean, attention_maps, needs_toy, run_app
from transformer import attribution, load_pretrained

TEXT = "c a f b d e"
BASE = {"model": TOY, "text": TEXT, "view": "attention", "panel": "attribution", "kind": "cross"}


def agreement_line(at) -> tuple[int, int]:
    found = [re.search(r"In \*\*(\d+) of (\d+) rows?\*\*", m.value) for m in at.markdown]
    (hit,) = [f for f in found if f]
    return int(hit[1]), int(hit[2])


@needs_toy
@pytest.mark.parametrize(("method", "head"), [("grad_x_input", "mean"), ("value_norm", "2")])
def test_the_panel_draws_the_weights_beside_the_attribution_the_model_package_computes(method, head):
    at = run_app(**BASE, layer="1", head=head, attr=method)
    assert_clean(at)
    model = load_pretrained(TOY)
    trace = model.trace(TEXT, beam=4)
    h = None if head == "mean" else int(head)
    weights, used = attention_maps(at)
    cross = trace.attention["cross"][1].numpy()
    np.testing.assert_allclose(weights.z, cross.mean(0) if h is None else cross[h], atol=6e-4)
    where = {} if method == "grad_x_input" else {"layer": 1, "head": h}  # the whole model: no layer or head
    expected = viz.row_shares(attribution.attribute(model, trace, method, **where))
    np.testing.assert_allclose(used.z, expected, atol=6e-4)
    assert used.title.startswith(panel.METHODS[method])
    assert ("whole model" in used.title) == (method == "grad_x_input")
    same = int((weights.z.argmax(-1) == used.z.argmax(-1)).sum())
    assert agreement_line(at) == (same, len(trace.tgt_ids))
    assert at.query_params["attr"] == method if method != "value_norm" else "attr" not in at.query_params


@needs_toy
def test_another_method_is_one_click_and_self_attention_says_why_there_is_nothing():
    at = run_app(**BASE)
    assert_clean(at)
    assert at.session_state["att_attr"] == "value_norm"
    before = attention_maps(at)[1].z
    at.segmented_control(key="att_attr").set_value("integrated_gradients").run()
    assert_clean(at)
    after = attention_maps(at)[1]
    assert after.title.startswith("Integrated gradients") and not np.allclose(before, after.z)
    at.segmented_control(key="kind").set_value("encoder").run()
    assert_clean(at)
    assert not attention_maps(at)
    assert any(panel.DECODER_ONLY in i.value for i in at.info)


@needs_toy
def test_a_bad_method_in_a_link_is_named_and_the_default_shown():
    at = run_app(**BASE, attr="<b>saliency</b>")
    assert_clean(at)
    assert at.session_state["att_attr"] == "value_norm"
    assert any("attr" in w.value and "value_norm" in w.value for w in at.warning)
    assert len(attention_maps(at)) == 2


@needs_toy
def test_a_large_model_integrates_over_fewer_steps_and_the_title_says_so(monkeypatch):
    """Over models.IG_PARAMETERS (a converted opus-mt) integrated gradients take 6 steps, not 20, and the
    figure's title says how many; the values are those of `attribute` with 6 steps."""
    from app_support import models

    text = "b b g j g b i e"  # a sentence no other test traces here: nothing cached with 20 steps
    monkeypatch.setattr(models, "IG_PARAMETERS", 10)
    at = run_app(**(BASE | {"text": text}), attr="integrated_gradients")
    assert_clean(at)
    used = attention_maps(at)[1]
    assert used.title == "Integrated gradients (6 steps): whole model"
    model = load_pretrained(TOY)
    expected = attribution.attribute(model, model.trace(text, beam=4), "integrated_gradients", steps=6)
    np.testing.assert_allclose(used.z, viz.row_shares(expected), atol=6e-4)
