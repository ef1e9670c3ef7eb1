"""The Attention view's training time-lapse (app_support.views.attention.training) through AppTest: offered near
the top of the view for a model with snapshots, a slider over the training snapshots a model directory
carries; on `reverse`, cross-attention goes from near-uniform at the initialisation to the anti-diagonal at
the last step, drawn beside the trained model's."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from app_support import models
from tests.support.apptest import MODELS, TOY, assert_clean, attention_html, attention_maps, font_px, run_app
from transformer import load_pretrained
from transformer.checkpoint import list_snapshots, snapshot_file

TEXT = "c a f b h e"
N = len(TEXT.split())
CROSS = {"model": TOY, "view": "attention", "kind": "cross", "layer": "1", "head": "mean", "text": TEXT}
STEPS = [e["step"] for e in list_snapshots(MODELS[TOY])] if TOY in MODELS else []
needs_snapshots = pytest.mark.skipif(len(STEPS) < 2, reason=f"{TOY!r} in assets/ has no training snapshots")


def snapshot_figure(at):
    """The time-lapse's heatmap of a training step (an HTML heatmap read back), or None."""
    found = [hm for hm in attention_maps(at) if ", step " in hm.title]
    assert len(found) <= 1
    return found[0] if found else None


def letter_rows(hm) -> np.ndarray:
    """The heatmap's rows that predict a letter (row t predicts output letter t), all source columns."""
    assert hm.z.shape == (N + 1, N + 1)  # <s> + 6 letters read; 6 letters + </s> as keys
    return hm.z[:N]


@needs_snapshots
def test_stepping_from_the_first_to_the_last_snapshot_forms_the_anti_diagonal():
    at = run_app(**CROSS, snap=str(STEPS[0]))
    assert_clean(at)
    slider = at.select_slider(key="snap")
    assert list(slider.options) == [
        f"step {s} (loss {e['valid_loss']:.3g})" for s, e in zip(STEPS, list_snapshots(MODELS[TOY]))
    ]
    first = letter_rows(snapshot_figure(at))
    assert STEPS[0] == 0 and snapshot_figure(at).title.endswith("step 0")
    assert first.max(axis=1).max() < 0.3, first.round(2)  # near-uniform: 1/7 would be 0.14 in every cell
    assert (first.argmax(axis=1) == np.arange(N - 1, -1, -1)).mean() < 0.5
    for step in STEPS[1:]:  # every snapshot draws
        slider.set_value(step).run()
        assert_clean(at)
        assert at.query_params["snap"] == [str(step)] or at.query_params["snap"] == str(step)
    last = letter_rows(snapshot_figure(at))
    assert list(last.argmax(axis=1)) == list(range(N - 1, -1, -1)), last.round(2)  # the mirrored position
    assert last.max(axis=1).min() > 0.5
    # what the model at that step writes itself: the reversed sentence
    assert any("e h b f a c" in m.value for m in at.markdown)


@needs_snapshots
def test_the_snapshots_never_change_the_shared_model():
    at = run_app(**CROSS, snap=str(STEPS[0]))
    assert_clean(at)
    path = str(MODELS[TOY])
    shared = models.load_model(path, models.stamp(path)).model.state_dict()
    fresh = load_pretrained(TOY).model.state_dict()
    assert all(torch.equal(shared[n], fresh[n]) for n in fresh)
    # the figure beside the snapshot shows the trained model: the anti-diagonal, not step 0's blur
    (mean,) = [hm.z for hm in attention_maps(at) if hm.title.endswith("mean of heads, trained")]
    assert mean.shape == (N + 1, N + 1)
    assert list(mean[:N].argmax(axis=1)) == list(range(N - 1, -1, -1))


@needs_snapshots
def test_the_time_lapse_is_offered_near_the_top_and_opens_on_a_click():
    at = run_app(**CROSS)
    assert_clean(at)
    assert snapshot_figure(at) is None and "snap" not in at.query_params
    offer = at.button(key="snap_offer")
    assert any(f"kept {len(STEPS)} snapshots of its training" in m.value for m in at.markdown)
    assert "Training time-lapse" in at.segmented_control(key="panel").options
    offer.click().run()
    assert_clean(at)
    assert at.session_state["panel"] == "training" and snapshot_figure(at).title.endswith(f"step {STEPS[0]}")
    assert at.query_params["panel"] in ("training", ["training"]) and at.query_params["snap"] in (
        str(STEPS[0]), [str(STEPS[0])])  # fmt: skip
    at.segmented_control(key="panel").set_value("heatmaps").run()  # another panel: the step leaves the link
    assert_clean(at)
    assert snapshot_figure(at) is None and "snap" not in at.query_params


@needs_snapshots
def test_an_old_link_with_a_step_and_no_panel_opens_the_time_lapse():
    at = run_app(**CROSS, snap=str(STEPS[-1]))
    assert_clean(at)
    assert at.session_state["panel"] == "training"
    assert snapshot_figure(at).title.endswith(f"step {STEPS[-1]}")


@needs_snapshots
def test_a_step_without_a_snapshot_is_ignored_with_a_notice():
    at = run_app(**CROSS, snap="7")
    assert_clean(at)
    notes = [w.value for w in at.warning if "`snap`" in w.value]
    assert len(notes) == 1 and "Ignored URL parameter" in notes[0] and str(STEPS[-1]) in notes[0], notes
    assert snapshot_figure(at) is None and "snap" not in at.query_params
    assert at.session_state["snap"] is None


@pytest.mark.skipif("en-de" not in MODELS, reason="needs en-de")
def test_a_model_without_snapshots_has_no_section_and_says_so_for_a_link():
    at = run_app(model="en-de", view="attention", snap="0")
    assert_clean(at)
    assert any("no training snapshots" in w.value for w in at.warning), [w.value for w in at.warning]
    assert "Training time-lapse" not in at.segmented_control(key="panel").options
    assert not [b for b in at.button if b.key == "snap_offer"]
    assert snapshot_figure(at) is None
    at = run_app(model="en-de", view="attention", panel="training")  # the panel itself, from a link
    assert_clean(at)
    assert any("Ignored URL parameter `panel`" in w.value and "no training snapshots" in w.value
               for w in at.warning), [w.value for w in at.warning]  # fmt: skip
    assert at.session_state["panel"] == "heatmaps" and snapshot_figure(at) is None


@pytest.fixture
def broken_copy(tmp_path, monkeypatch):
    """A copy of the toy model in a folder the app may load from (TRANSFORMER_MODEL_DIRS)."""
    allowed = tmp_path / "models"
    shutil.copytree(MODELS[TOY], allowed / "rev")
    monkeypatch.setenv("TRANSFORMER_MODEL_DIRS", str(allowed))
    return allowed / "rev"


@needs_snapshots
def test_a_broken_snapshot_file_is_a_message_not_a_traceback(broken_copy):
    step = STEPS[1]
    (broken_copy / "snapshots" / snapshot_file(step)).write_bytes(b"\x08\x00\x00")
    at = run_app(**(CROSS | {"model": "models/rev"}), snap=str(step))
    assert_clean(at)
    assert any(f"snapshot of step {step} cannot be loaded" in w.value and "truncated or corrupt" in w.value
               for w in at.warning), [w.value for w in at.warning]  # fmt: skip
    assert snapshot_figure(at) is None
    at.select_slider(key="snap").set_value(STEPS[-1]).run()  # the others still draw
    assert_clean(at)
    assert snapshot_figure(at) is not None


@needs_snapshots
def test_a_broken_snapshot_index_is_a_message_not_a_traceback(broken_copy):
    (broken_copy / "snapshots" / "index.json").write_text('{"snapshots": [{"step": "../x"}]}')
    at = run_app(**(CROSS | {"model": "models/rev"}), snap="0")
    assert_clean(at)
    assert any("snapshots cannot be shown" in w.value for w in at.warning), [w.value for w in at.warning]
    # the view itself still draws
    assert [hm.title for hm in attention_maps(at)] == ["Cross-attention: L1 mean of heads"]


@needs_snapshots
@pytest.mark.parametrize("present", ["0", "1"])
def test_the_time_lapse_is_drawn_as_large_as_the_views_own_heatmaps(present):
    """Two heatmaps side by side at the font of the view's own (one head + mean), on a laptop and projected."""
    one_head = CROSS | {"head": "0", "present": present}
    own = attention_html(run_app(**one_head))
    lapse = attention_html(run_app(**one_head, panel="training", snap=str(STEPS[-1])))
    assert len(own) == len(lapse) == 2
    assert {font_px(body) for body in lapse} == {font_px(body) for body in own}
