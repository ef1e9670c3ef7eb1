"""Experiments in the app through `AppTest` (issue 11, items 3–5): minimal pairs, attention flow beside raw
cross-attention, and the predict-then-reveal quiz. One behaviour per test; bad input gives a message."""

from __future__ import annotations

import numpy as np
import pytest

import viz
from tests.support.apptest import (
    MODELS,
    TOY,
    assert_clean,
    attention_maps,
    figures,
    heatmaps,
    needs_toy,
    run_app,
    title,
    z_of,
)
from transformer import analysis, load_pretrained

EN_DE = "en-de"
needs_en_de = pytest.mark.skipif(EN_DE not in MODELS, reason="needs the shipped en-de model")
CAT, CATS = "The cat sleeps.", "The cats sleep."
APPLE = "The boy eats an apple."  # in eval/everyday_en_de.json


def texts(elements) -> list[str]:
    return [e.value for e in elements]


# --- minimal pairs ------------------------------------------------------------------------------------


@needs_en_de
def test_pairs_show_both_translations_attention_difference_and_stream_shift():
    """cat / cats: both translations, two heatmaps, the difference (with a note that the source pieces do
    not line up: 'sleeps' splits differently), and the encoder and decoder stream shifts."""
    at = run_app(model=EN_DE, view="pairs", text=CAT, text2=CATS, kind="encoder", layer="1")
    assert_clean(at)
    figs = figures(at)
    assert len(figs) == 5, [title(f) for f in figs]
    assert [title(f) for f in figs[:2]] == [
        "First: Encoder self-attention, L1, head 0",
        "Second: Encoder self-attention, L1, head 0",
    ]
    subtitles = [f["layout"]["title"]["subtitle"]["text"] for f in figs]
    assert CATS not in subtitles[0] and CATS in subtitles[1]  # each figure names its sentence
    assert all(CAT in s and CATS in s for s in subtitles[2:])  # the difference and shifts name both
    assert len(at.code) >= 2  # both translations
    assert any("do not line up one for one" in t and "` s `" in t for t in texts(at.info))
    ticks = figs[2]["layout"]["xaxis"]["ticktext"]
    assert ticks == ["▁The", "▁cat", "▁sleep", ".", "&lt;/s&gt;"]  # the pieces that pair up
    assert "Encoder: how far" in title(figs[3]) and "Decoder: how far" in title(figs[4])
    assert at.query_params["text2"] == CATS


@needs_toy
def test_pairs_on_lined_up_pieces_difference_every_position_and_input_moves_only_where_changed():
    """c a f b / c a g b split alike: the difference covers every position (label "▁f / ▁g"), and at the
    input only the changed position's residual stream differs."""
    at = run_app(
        model=TOY, view="pairs", text="c a f b", text2="c a g b", kind="encoder", layer="0", head="mean"
    )
    assert_clean(at)
    assert not any("line up" in t for t in texts(at.info))
    figs = figures(at)
    diff = figs[2]
    assert diff["layout"]["yaxis"]["ticktext"] == ["▁c", "▁a", "▁f / ▁g", "▁b", "&lt;/s&gt;"]
    m = load_pretrained(TOY)
    a, b = m.trace("c a f b"), m.trace("c a g b")
    expected = b.attention["encoder"][0].mean(0).numpy() - a.attention["encoder"][0].mean(0).numpy()
    np.testing.assert_allclose(heatmaps(diff)[0], expected, atol=1e-6)
    shift = heatmaps(figs[3])[0]  # encoder: stages × positions
    assert shift[0, 2] > 0 and np.allclose(np.delete(shift[0], 2), 0)
    assert (shift[1:, [0, 1, 3]] > 0).any()  # the layers spread the change to other positions


@needs_toy
def test_pairs_without_a_second_sentence_or_with_the_same_one_explain_what_to_do():
    at = run_app(model=TOY, view="pairs", text="c a f b")
    assert_clean(at)
    assert any("Type a second sentence" in t for t in texts(at.info)) and not figures(at)
    at.text_input(key="text2").set_value("c a f b").run()
    assert_clean(at)
    assert any("the same as the first" in t for t in texts(at.info)) and not figures(at)


@needs_en_de
def test_pairs_with_a_second_sentence_in_another_script_warn_and_still_draw():
    at = run_app(model=EN_DE, view="pairs", text=CAT, text2="Кошка спит.")
    assert_clean(at)
    assert any("Latin script, the second in Cyrillic" in t for t in texts(at.warning))
    assert len(figures(at)) >= 2


@needs_toy
def test_pairs_example_sets_both_sentences_and_the_url():
    at = run_app(model=TOY, view="pairs", text="c a f b")
    pills = at.pills(key="pair_example")
    assert (
        pills.options[0] == "One letter changed: c a f b  ↔  c a g b"
    )  # what the pair changes, then the pair
    pills.set_value("One letter changed").run()
    assert_clean(at)
    assert at.text_input(key="text").value == "c a f b" and at.text_input(key="text2").value == "c a g b"
    assert at.query_params["text2"] == "c a g b"


# --- attention flow -----------------------------------------------------------------------------------


@needs_en_de
def test_flow_panel_draws_raw_cross_attention_beside_rollout_with_a_caveat_each():
    """panel=flow on cross-attention: raw (layer 2, mean) beside cross @ rollout, rows labelled by the piece
    predicted, and one caveat line for each."""
    at = run_app(
        model=EN_DE,
        view="attention",
        kind="cross",
        panel="flow",
        layer="2",
        head="mean",
        text=APPLE,
        beam="1",
    )
    assert_clean(at)
    raw, flow = attention_maps(at)  # HTML heatmaps, as the Attention view's own; weights to 3 decimals
    assert raw.title == "Cross-attention: L2 mean of heads"
    assert flow.title == "Attention flow: L2 mean of heads"
    assert flow.x_title == "source piece (input, through the encoder's layers)" != raw.x_title
    t = load_pretrained(EN_DE).trace(APPLE)
    cross = t.attention["cross"][2].mean(0).numpy()
    np.testing.assert_allclose(raw.z, cross, atol=5e-4)
    expected = analysis.cross_relevance(cross, analysis.attention_rollout(t.attention["encoder"])[-1])
    np.testing.assert_allclose(flow.z, expected, atol=5e-4)
    assert np.abs(expected - cross).max() > 0.05  # the two figures differ by more than the rounding
    labels = viz.query_labels("cross", t.tgt_tokens, "predicted")
    assert raw.y_labels == flow.y_labels == labels
    md = texts(at.markdown)
    assert any(m.startswith("**Raw cross-attention**") for m in md)
    assert any(m.startswith("**Attention flow**") for m in md)
    assert at.query_params["panel"] == "flow"


@needs_toy
def test_flow_panel_on_the_encoder_is_rollout_and_on_decoder_self_attention_says_why_not():
    at = run_app(model=TOY, view="attention", kind="encoder", panel="flow", layer="1", text="c a f b")
    assert_clean(at)
    raw, flow = attention_maps(at)
    enc = load_pretrained(TOY).trace("c a f b").attention["encoder"]
    np.testing.assert_allclose(flow.z, analysis.attention_rollout(enc)[1], atol=5e-4)
    at.segmented_control(key="kind").set_value("decoder").run()
    assert_clean(at)
    assert not attention_maps(at) and any(
        "Attention flow is drawn for the encoder" in t for t in texts(at.info)
    )


# --- predict, then reveal -----------------------------------------------------------------------------


def _answer(at, word: str):
    pills = at.pills(key="quiz_pick")
    pills.set_value(next(i for i, o in enumerate(pills.options) if o.strip("` ") == word)).run()
    return at


@needs_en_de
def test_quiz_round_from_a_url_hides_attention_until_a_click_then_reveals_and_scores():
    """A shared round (the set's apple sentence, German piece 7 = ▁Apfel): no figure before the answer; a
    click on "apple" reveals the model's row (the one that reads ▁einen) summed over each English word, the
    hand alignment, and 1 / 1."""
    at = run_app(model=EN_DE, view="quiz", text=APPLE, qpiece="7", qlayer="2")
    assert_clean(at)
    assert not figures(at)
    assert any("while it writes ` Apfel `?" in m.value for m in at.markdown)
    assert any("reads ` ▁einen `" in c for c in texts(at.caption))  # the row before writes it
    _answer(at, "apple")
    assert_clean(at)
    (fig,) = figures(at)
    m = load_pretrained(EN_DE)
    t = m.trace(APPLE, target="Der Junge isst einen Apfel.")
    row = t.attention["cross"][2].mean(0)[6].numpy()
    words = [[0], [1], [2, 3], [4], [5], [6], [7]]  # The boy eat+s an apple . </s>
    assert t.src_tokens == ["▁The", "▁boy", "▁eat", "s", "▁an", "▁apple", ".", "</s>"]
    bars = {int(x): y for tr in fig["data"][:2] for x, y in zip(z_of({"z": tr["x"]}), z_of({"z": tr["y"]}))}
    np.testing.assert_allclose([bars[i] for i in range(len(words))], [row[w].sum() for w in words], atol=1e-6)
    assert texts(at.success) and "Hand alignment:" in " ".join(texts(at.info))
    assert [m.value for m in at.metric][:2] == ["1 / 1", "1 / 1"]
    assert at.query_params["qpiece"] == "7" and at.query_params["view"] == "quiz"


@needs_en_de
def test_quiz_wrong_answer_next_piece_and_reset():
    at = run_app(model=EN_DE, view="quiz", text=APPLE, qpiece="7", qlayer="2")
    _answer(at, "The")
    assert_clean(at)
    assert any(
        w.startswith("Not quite: the model reads ` apple `") and "your ` The ` gets" in w
        for w in texts(at.warning)
    )
    assert [m.value for m in at.metric][:2] == ["0 / 1", "0 / 1"]
    at.button(key="quiz_next").click().run()  # the last round of the sentence: the next sentence
    assert_clean(at)
    assert at.text_input(key="text").value != APPLE and not figures(at)
    at.button(key="quiz_reset").click().run()
    assert [m.value for m in at.metric][:2] == ["0 / 0", "0 / 0"]


@needs_toy
def test_quiz_on_a_sentence_outside_the_set_uses_the_translation_and_ignores_a_bad_round():
    at = run_app(model=TOY, view="quiz", text="c a f b", qpiece="99")
    assert_clean(at)
    assert any("Ignored URL parameter `qpiece`" in w for w in texts(at.warning))
    assert at.query_params["qpiece"] == "1"
    _answer(at, "b")  # reverse: the first output piece is b, read from the last source piece
    assert_clean(at)
    assert texts(at.success) and len(figures(at)) == 1
    assert not [s for s in at.selectbox if s.key == "quiz_sentence"]  # letters: no English set offered


@needs_en_de
def test_a_hostile_second_sentence_is_shown_only_as_code():
    """Markdown, a link, HTML and a colour directive in text2: shown as code (and in the figures, escaped)."""
    from tests.support.hostile_markdown import HOSTILE, assert_only_in_code

    at = run_app(model=EN_DE, view="pairs", text=CAT, text2=HOSTILE)
    assert_only_in_code(at)
    assert len(figures(at)) == 5
