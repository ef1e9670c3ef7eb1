"""The quiz asks real questions (issue 24, item 4): a whole target word (its pieces' rows averaged), a toy
model spoken of by its task, byte pieces refused, and built-in sentences the shipped model translates as
their reference (checked as tests/app/test_examples.py checks the curated examples)."""

from __future__ import annotations

import numpy as np
import pytest

from app_support import notices, registry
from app_support import quiz as rules
from tests.support.apptest import MODELS, TOY, assert_clean, figures, needs_toy, run_app, z_of

EN_DE = "en-de"
needs_en_de = pytest.mark.skipif(EN_DE not in MODELS, reason="needs the shipped en-de model")
APPLE = "The boy eats an apple."  # in eval/everyday_en_de.json: "Der Junge isst einen Apfel."


def _answer(at, word: str):
    pills = at.pills(key="quiz_pick")
    pills.set_value(next(i for i, o in enumerate(pills.options) if o.strip("` ") == word)).run()
    return at


def _said(at) -> str:
    """Every text the view wrote: markdown, captions, notices, the answers' label and options."""
    parts = [
        e.value for kind in ("markdown", "caption", "success", "warning", "info") for e in getattr(at, kind)
    ]
    pills = at.pills(key="quiz_pick")
    return " ".join([*parts, pills.label, *pills.options])


@needs_en_de
def test_a_round_asks_about_the_whole_word_and_averages_the_rows_that_write_its_pieces():
    """qpiece=5 is "st", the second piece of "isst": the round asks about "isst", written by rows 3 and 4."""
    at = run_app(model=EN_DE, view="quiz", text=APPLE, qpiece="5", qlayer="2")
    assert_clean(at)
    assert any("while it writes ` isst `?" in m.value for m in at.markdown)
    assert any(
        "is written as 2 pieces (` ▁is `, ` st `) by decoder rows 3 and 4" in c.value for c in at.caption
    )
    assert at.query_params["qpiece"] == "4"  # the word's first piece
    _answer(at, "eats")
    (fig,) = figures(at)
    from transformer import load_pretrained

    t = load_pretrained(EN_DE).trace(APPLE, target="Der Junge isst einen Apfel.")
    mean = t.attention["cross"][2].mean(0)[[3, 4]].mean(0).numpy()  # (S,)
    words = [[0], [1], [2, 3], [4], [5], [6], [7]]  # The boy eat+s an apple . </s>
    bars = {int(x): y for tr in fig["data"][:2] for x, y in zip(z_of({"z": tr["x"]}), z_of({"z": tr["y"]}))}
    np.testing.assert_allclose(
        [bars[i] for i in range(len(words))], [mean[w].sum() for w in words], atol=1e-6
    )


@needs_en_de
def test_a_sentence_read_as_byte_pieces_gets_a_notice_instead_of_a_quiz():
    at = run_app(model=EN_DE, view="quiz", text="Привет, как дела?")
    assert_clean(at)
    (refusal,) = [i.value for i in at.info]
    assert refusal.startswith("No quiz for this sentence: the model reads part of this sentence as raw UTF-8")
    assert "quiz_pick" not in [p.key for p in at.get("button_group")] and not figures(at)
    assert any("raw UTF-8 bytes" in w.value for w in at.warning)  # the main sentence's notice, above


@needs_toy
def test_a_toy_model_is_spoken_of_by_its_task():
    at = run_app(model=TOY, view="quiz", text="c a f b")
    _answer(at, "b")
    assert_clean(at)
    said = _said(at)
    assert "Which input word" in said and "**Output:**" in said and "Input: click the word" in said
    assert "English" not in said and "German" not in said, said


@needs_en_de
def test_the_built_in_sentences_translate_as_their_reference_and_have_hand_alignments():
    """At the app's default beam: the model's own translation is the set's German, with no byte or unknown
    piece and not unsure; teacher-forced, its pieces split into the set's words and marked words are asked."""
    from transformer import load_pretrained

    model = load_pretrained(EN_DE)
    for sentence in rules.BUILT_IN:
        item = rules.find_item(sentence)
        t = model.trace(sentence, beam=registry.defaults()["beam"])
        assert t.tgt_text == item["de"], (sentence, t.tgt_text)
        assert rules.refusal(t.src_tokens, t.tgt_tokens) is None and "<unk>" not in t.src_tokens
        assert t.mean_logprob >= notices.UNSURE_BELOW, sentence
        ref = model.trace(sentence, target=item["de"])
        hand = rules.hand_alignment(item, ref.src_tokens, ref.tgt_tokens)
        assert hand is not None and len(rules.rounds(ref.tgt_tokens, hand)) >= 2, sentence


@needs_en_de
def test_next_sentence_goes_through_the_built_in_sentences():
    first, second = rules.BUILT_IN[:2]
    at = run_app(model=EN_DE, view="quiz", text=first)
    assert_clean(at)
    assert at.selectbox(key="quiz_sentence").options == list(rules.BUILT_IN)
    while at.button(key="quiz_next").label == "Next word":
        at.button(key="quiz_next").click().run()
    at.button(key="quiz_next").click().run()
    assert_clean(at)
    assert at.text_input(key="text").value == second


@needs_en_de
def test_hostile_text_is_shown_only_as_code_in_the_question_answers_and_reveal():
    """Markdown the en-de model reads as words (a code span, math) is shown only as code; HOSTILE's other
    characters are byte pieces there, so it gets the refusal, with nothing rendered either."""
    from tests.support.hostile_markdown import HOSTILE, assert_only_in_code

    at = run_app(model=EN_DE, view="quiz", text="Say `clickme` and $onerror$ now.")
    assert all(o.startswith("`") for o in at.pills(key="quiz_pick").options)  # each answer a code span
    _answer(at, "clickme")  # named in the verdict
    assert_only_in_code(at)
    assert len(figures(at)) == 1
    at = run_app(model=EN_DE, view="quiz", text=HOSTILE)
    assert any(i.value.startswith("No quiz for this sentence") for i in at.info)
    assert_only_in_code(at, must_show=False)
