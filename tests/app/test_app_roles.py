"""Issue 23, item 2 through `AppTest`: the Head roles view names every head of the chosen kind by its strongest
role (transformer.head_roles) on the sentence or over the example set, and a click opens that head in the
Attention view."""

from __future__ import annotations

import re

import numpy as np
import pytest

import viz
from app_support import quiz
from app_support.views import roles as roles_view
from tests.support.apptest import MODELS, TOY, assert_clean, attention_maps, needs_model, needs_toy, run_app
from tools.alignment import load_set
from transformer import head_roles, load_pretrained

EXACT = quiz.BUILT_IN[0]  # translated by en-de exactly as its reference: word alignment is measured on it
needs_en_de = pytest.mark.skipif("en-de" not in MODELS, reason="en-de not in assets/")


def cells(at) -> dict[tuple[int, int], str]:
    """(layer, head) -> the label of its button in the grid."""
    out = {}
    for b in at.button:
        if b.key and b.key.startswith(roles_view.CELL):
            *_, layer, head = b.key.split("-")
            out[int(layer), int(head)] = b.label
    return out


def expected(roles: head_roles.HeadRoles) -> dict[tuple[int, int], str]:
    names, scores = roles.strongest()
    star = roles.positional()[0] != ""
    return {
        (layer, h): f"{names[layer, h]}{' ★' if star[layer, h] else ''} {scores[layer, h]:.2f}"
        for layer, h in np.ndindex(names.shape)
    }


@needs_en_de
def test_the_grid_names_every_cross_head_as_the_analysis_does_and_measures_alignment_on_an_exact_sentence():
    at = run_app(model="en-de", view="roles", kind="cross", text=EXACT)
    assert_clean(at)
    model = load_pretrained("en-de")
    trace = model.trace(EXACT, beam=4)
    item = quiz.find_item(EXACT)
    assert trace.tgt_text == item["de"]  # why this sentence: alignment applies
    roles = head_roles.trace_roles(model, trace, item["pairs"])["cross"]
    assert roles.counts["aligned"] > 0
    got = cells(at)
    assert got == expected(roles)
    assert len(got) == model.config.n_decoder_layers * model.config.n_heads
    assert any("aligned" in label for label in got.values())
    names = list(roles.strongest()[0].flat)
    tally = ", ".join(f"{names.count(r)} {r}" for r in head_roles.ROLES if r in names)
    assert any(m.value == f"12 heads: {tally}." for m in at.markdown)


@needs_en_de
def test_over_the_set_pools_the_hand_aligned_sentences():
    at = run_app(model="en-de", view="roles", kind="encoder", over="set")
    assert_clean(at)
    model = load_pretrained("en-de")
    items = load_set()
    assert cells(at) == expected(head_roles.set_roles(model, items)["encoder"])
    assert any(f"over {len(items)} hand-aligned sentences" in m.value for m in at.markdown)


@needs_toy
def test_a_toy_models_set_is_its_examples_and_a_click_opens_the_head_in_the_attention_view():
    at = run_app(model=TOY, view="roles", kind="cross", over="set")
    assert_clean(at)
    got = cells(at)
    assert len(got) == 2 * 4 and all(label for label in got.values())
    key = next(b.key for b in at.button if b.key and b.key.endswith("-cross-1-2"))
    at.button(key=key).click().run()
    assert_clean(at)
    ss = at.session_state
    assert (ss["view"], ss["kind"], ss["layer"], ss["head"], ss["panel"]) == (
        "attention",
        "cross",
        1,
        2,
        "heatmaps",
    )
    assert [m.title for m in attention_maps(at)][0].startswith("Cross-attention: L1 H2")


@needs_model
def test_the_sentence_and_the_set_differ_in_what_they_say_and_the_choice_is_in_the_url():
    at = run_app(view="roles", over="set")
    assert_clean(at)
    assert at.query_params["over"] == "set"
    at.segmented_control(key="roles_over").set_value("sentence").run()
    assert_clean(at)
    assert "over" not in at.query_params  # the default stays out of a link
    assert any("on this sentence" in m.value for m in at.markdown)


def test_the_buttons_are_coloured_as_the_figures_are():
    """The grid's CSS gives each role the colour viz.role_colours gives it (a literal, so it could drift)."""
    rules = dict(
        re.findall(r'st-key-roles_cell-(\w+)-"\] button \{ background: (#[0-9a-f]{6})', roles_view.ROLE_CSS)
    )
    assert rules == viz.role_colours(head_roles.ROLES)
