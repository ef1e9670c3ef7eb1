"""The Decoding step and the other positions in the translation (Anatomy's output position, Embeddings'
pieces) through `AppTest`, while an experiment changes the translation's length: a typed translation
or heads switched off. They are fitted to the translation the views draw, not to the model's own: a
step past the end of the model's own translation stays (from the slider and from a link), and a step past
the end of a shorter one is fitted with the usual notice."""

from __future__ import annotations

import pytest

from app_support import registry
from app_support.experiment import heads_off
from tests.support.apptest import TOY, assert_clean, figures, needs_toy, run_app, title
from transformer import load_pretrained

TEXT = "c a f b d e"  # the toy model translates it as "e d b f a c": <s> + 6 pieces, decoder steps 0–6
LONGER = "e d b f a c a b c d e"  # <s> + 11 pieces: steps 0–11
SHORTER = "e d"  # steps 0–2
ENCODER_OFF = ",".join(f"encoder.{layer}.{h}" for layer in (0, 1) for h in range(4))  # steps 0–7
EVERY_HEAD_OFF = ",".join(
    f"{k}.{n}.{h}" for k in ("encoder", "decoder", "cross") for n in (0, 1) for h in range(4)
)
BASE = {"model": TOY, "text": TEXT}
STEP_NOTICE = "Ignored URL parameter `step`"


def step_titles(at) -> list[str]:
    """The titles of the Decoding view's three figures: the top-k chart and the two step figures."""
    return [title(f) for f in figures(at)[:3]]


def notices(at) -> list[str]:
    return [w.value for w in at.warning]


@needs_toy
def test_the_experiments_change_the_translations_length():
    """What the tests below rely on: the model's own translation has 7 decoder steps, the typed one 12,
    the one with the encoder's heads off 8."""
    m = load_pretrained(TOY)
    assert len(m.trace(TEXT).tgt_tokens) == 7
    assert len(m.trace(TEXT, target=LONGER).tgt_tokens) == 12
    encoder_off, _ = heads_off.parse(ENCODER_OFF)
    assert len(m.trace(TEXT, interventions=heads_off.hooks(encoder_off)).tgt_tokens) == 8


@needs_toy
def test_a_step_past_the_models_translation_stays_on_a_longer_typed_one():
    """Typed translation longer than the model's: the slider offers its 12 steps, and step 9 (past the
    model's own 7) stays chosen through the next run; the figures and the URL show step 9."""
    at = run_app(**BASE, view="decoding", target=LONGER)
    assert_clean(at)
    assert at.slider(key="step").max == 11
    at.slider(key="step").set_value(9).run()
    assert_clean(at)
    assert at.session_state["step"] == 9
    assert all(t.startswith("Step 9") for t in step_titles(at)), step_titles(at)
    assert at.query_params["step"] == "9"
    at.number_input(key="dec_k").set_value(5).run()  # another whole run: the step is not fitted away
    assert at.session_state["step"] == 9 and step_titles(at)[1].startswith("Step 9")


@needs_toy
@pytest.mark.parametrize(
    ("experiment", "step"),
    [({"target": LONGER}, 11), ({"off": ENCODER_OFF}, 7)],
    ids=["typed-translation", "encoder-heads-off"],
)
def test_a_link_with_a_step_past_the_models_translation_opens_on_that_step(experiment, step):
    """A shared link with a typed translation and step=11 (its last) opens on step 11, with no notice; the
    encoder's heads off make the translation one piece longer (steps 0–7): a link's step=7 stays."""
    at = run_app(**BASE, view="decoding", **experiment, step=str(step))
    assert_clean(at)
    assert not [n for n in notices(at) if STEP_NOTICE in n]
    assert at.session_state["step"] == step and at.query_params["step"] == str(step)
    assert all(t.startswith(f"Step {step}") for t in step_titles(at)), step_titles(at)


@needs_toy
def test_the_step_survives_a_visit_to_a_view_that_does_not_follow_the_experiment():
    """The Score view draws the model's own run, but the step belongs to the Decoding view: a link to the
    Score view with step=9 keeps it, and back in the Decoding view it is still step 9."""
    at = run_app(**BASE, view="score", target=LONGER, step="9")
    assert_clean(at)
    assert not [n for n in notices(at) if STEP_NOTICE in n]
    assert at.query_params["step"] == "9"
    at.segmented_control(key=registry.picker_key("decoding")).set_value("decoding").run()
    assert_clean(at)
    assert at.session_state["step"] == 9 and step_titles(at)[0].startswith("Step 9")


@needs_toy
def test_a_step_past_a_shorter_typed_translation_is_fitted_with_a_notice():
    """Typed translation shorter than the model's: step=5 (inside the model's own) is past its end, so it
    is fitted to 0 with the usual notice naming the typed translation's steps."""
    at = run_app(**BASE, view="decoding", target=SHORTER, step="5")
    assert_clean(at)
    assert [n for n in notices(at) if STEP_NOTICE in n] == [
        "Ignored URL parameter `step` = ` 5 `: this translation has decoder steps 0–2. Using the default."
    ]
    assert at.session_state["step"] == 0 and step_titles(at)[0].startswith("Step 0")
    assert "step" not in at.query_params


@needs_toy
def test_every_head_off_leaves_only_step_0_with_a_notice():
    """Every head off: the translation is empty (step 0 only); step=3 is fitted with a notice, no slider."""
    at = run_app(**BASE, view="decoding", off=EVERY_HEAD_OFF, step="3")
    assert_clean(at)
    assert any(STEP_NOTICE in n and "steps 0–0" in n for n in notices(at)), notices(at)
    assert at.session_state["step"] == 0 and step_titles(at)[0].startswith("Step 0")
    assert "step" not in [s.key for s in at.slider]


@needs_toy
def test_anatomy_output_position_past_the_models_translation_stays():
    """Anatomy's output section on the typed translation: out_pos=10 (past the model's 7 positions) stays."""
    at = run_app(**BASE, view="anatomy", section="8", target=LONGER, out_pos="10")
    assert_clean(at)
    assert not [n for n in notices(at) if "`out_pos`" in n]
    assert at.session_state["ana_step"] == 10
    assert at.slider(key="ana_step").value == 10 and at.slider(key="ana_step").max == 11


@needs_toy
def test_embeddings_positions_past_the_models_translation_stay():
    """Embeddings on the decoder side of the typed translation: pieces 2 and 10 to follow, piece 11's
    neighbours; all past the model's own 7 positions except 2, all kept."""
    at = run_app(**BASE, view="embeddings", emb_side="decoder", target=LONGER, emb_paths="2,10", emb_nn="11")
    assert_clean(at)
    assert not [n for n in notices(at) if "`emb_paths`" in n or "`emb_nn`" in n], notices(at)
    assert at.session_state["emb_paths"] == [2, 10] and at.session_state["emb_nn_token"] == 11
