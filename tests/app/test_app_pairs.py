"""Minimal pairs a class can trust (issue 24): every built-in pair translates to the German written beside it
on the shipped en-de model at the app's default beam, with its pieces lined up where the pair differs; the
toy models' letter pairs do their task; and a pair with one translation says so before anything else.

The translation checks run the model as the app does (`Pretrained.trace` at `registry.defaults()["beam"]`),
as tests/app/test_examples.py does for the curated examples.
"""

from __future__ import annotations

import re

import pytest

from app_support import notices, registry
from app_support.views import pairs
from tests.support.apptest import MODELS, assert_clean, figures, run_app
from transformer import analysis, load_pretrained

EN_DE = "en-de"
needs_en_de = pytest.mark.skipif(EN_DE not in MODELS, reason="needs the shipped en-de model")
GERMAN = {  # the German a teacher would write for each English sentence of pairs.EXAMPLES["text"]
    "He has a dog.": "Er hat einen Hund.",
    "She has a dog.": "Sie hat einen Hund.",
    "The man is old.": "Der Mann ist alt.",
    "The woman is old.": "Die Frau ist alt.",
    "The child is tired.": "Das Kind ist müde.",
    "The children are tired.": "Die Kinder sind müde.",
    "The house is old.": "Das Haus ist alt.",
    "The house was old.": "Das Haus war alt.",
    "I have a car.": "Ich habe ein Auto.",
    "I have no car.": "Ich habe kein Auto.",
    "The man calls the mother.": "Der Mann ruft die Mutter.",
    "The mother calls the man.": "Die Mutter ruft den Mann.",
    "He can speak German.": "Er kann Deutsch sprechen.",
    "Can he speak German?": "Kann er Deutsch sprechen?",
}
TASKS = {  # what each toy model does to its input
    "reverse": lambda letters: letters[::-1],
    "sort": sorted,
    "copy": list,
}


def trace(model, text: str):
    return model.trace(text, beam=registry.defaults()["beam"])


def test_the_built_in_pairs_cover_what_a_class_asks_about():
    """One pair each: He/She, a noun's gender, plural, tense, negation, word order, a question."""
    built_in = list(pairs.EXAMPLES["text"].values())
    assert sorted(s for pair in built_in for s in pair) == sorted(GERMAN)
    changed = [set(a.split()) ^ set(b.split()) for a, b in built_in]
    for words in ({"He", "She"}, {"man", "woman"}, {"child", "children"}, {"is", "was"}, {"a", "no"}):
        assert words <= set().union(*changed), words
    assert any(b.endswith("?") and not a.endswith("?") for a, b in built_in)  # a question
    words = [(re.findall(r"\w+", a.lower()), re.findall(r"\w+", b.lower())) for a, b in built_in]
    assert any(sorted(a) == sorted(b) and a != b for a, b in words)  # the same words in another order


@needs_en_de
def test_every_built_in_pair_translates_to_its_german_and_lines_up_where_it_differs():
    """Each sentence gives exactly its reference, without unknown or byte pieces or a piece twice in a row;
    the two translations differ; source and translation pieces pair up one for one (`pair_positions`)."""
    model, problems = load_pretrained(EN_DE), []
    for en_a, en_b in pairs.EXAMPLES["text"].values():
        ta, tb = trace(model, en_a), trace(model, en_b)
        for en, t in ((en_a, ta), (en_b, tb)):
            pieces = [*t.src_tokens, *t.tgt_tokens]
            if t.tgt_text != GERMAN[en]:
                problems.append(f"{en!r} -> {t.tgt_text!r}, not {GERMAN[en]!r}")
            if "<unk>" in pieces or any(notices.BYTE_PIECE.fullmatch(p) for p in pieces):
                problems.append(f"{en!r}: unknown or byte pieces {pieces}")
            if any(a == b for a, b in zip(t.tgt_tokens, t.tgt_tokens[1:])):
                problems.append(f"{en!r} -> {t.tgt_tokens}: a piece twice in a row")
        if ta.tgt_text == tb.tgt_text:
            problems.append(f"{en_a!r} and {en_b!r} get one translation")
        for side in ("src_tokens", "tgt_tokens"):
            if not analysis.pair_positions(getattr(ta, side), getattr(tb, side)).lined_up:
                problems.append(f"{en_a!r} / {en_b!r}: {side} do not line up")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", list(TASKS))
def test_the_letter_pairs_do_each_toy_models_task(name):
    if name not in MODELS:
        pytest.skip(f"{name} not in assets/")
    model = load_pretrained(name)
    for pair in pairs.EXAMPLES["letters"].values():
        for text in pair:
            assert trace(model, text).tgt_text.split() == TASKS[name](text.split()), (name, text)


def _in_order(node) -> list:
    """The page's elements, depth first, in the order they are drawn."""
    children = getattr(node, "children", None)
    if not isinstance(children, dict):
        return [node]
    return [leaf for key in sorted(children) for leaf in _in_order(children[key])]


@needs_en_de
def test_one_translation_for_both_sentences_is_said_first_naming_it():
    """cat / cats get the same German: a warning naming it stands above both translations and every figure."""
    at = run_app(model=EN_DE, view="pairs", text="The cat sleeps.", text2="The cats sleep.")
    assert_clean(at)
    shared = load_pretrained(EN_DE).translate("The cat sleeps.", beam=registry.defaults()["beam"])
    same = [w for w in at.warning if "same translation" in w.value]
    assert len(same) == 1 and f"` {shared} `" in same[0].value, [w.value for w in at.warning]
    page = _in_order(at.main)
    kinds = [el.type for el in page]
    said = next(i for i, el in enumerate(page) if el.type == "warning" and "same translation" in el.value)
    assert said < kinds.index("code") and said < kinds.index("plotly_chart"), kinds
    assert not any("same translation" in c.value for c in at.caption)  # said once, up front
    assert len(figures(at)) == 5


@needs_en_de
def test_a_pair_with_two_translations_gets_no_such_warning():
    at = run_app(model=EN_DE, view="pairs", text="He has a dog.", text2="She has a dog.")
    assert_clean(at)
    assert not at.warning, [w.value for w in at.warning]  # a built-in pair needs no notice
    assert [c.value for c in at.code][:2] == ["Er hat einen Hund.", "Sie hat einen Hund."]
