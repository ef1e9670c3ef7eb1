"""app_support.quiz: words as a reader sees them (punctuation its own word), which target words a round asks
about, which cross-attention rows it reads (those that write the word's pieces: tools.alignment's
convention), word-level scoring, the hand alignment of the set, and every sentence the quiz says."""

import json
from pathlib import Path

import numpy as np
import pytest

from app_support import quiz

SRC = ["▁The", "▁boy", "▁eat", "s", "▁an", "▁apple", ".", "</s>"]
TGT = ["<s>", "▁Der", "▁Jung", "e", "▁is", "st", "▁einen", "▁Apfel", "."]  # decoder input
ITEM = {
    "en": "The boy eats an apple.",
    "de": "Der Junge isst einen Apfel.",
    "pairs": [{"de": 1, "en": 1, "moved": False}, {"de": 2, "en": 2, "moved": False}, {"de": 4, "en": 4}],
}
LABELS = ["The", "boy", "eats", "an", "apple", ".", "</s>"]
ASSETS = Path(__file__).resolve().parents[2] / "assets"


def test_words_split_punctuation_off_and_keep_pieces_of_a_word_together():
    assert quiz.words(SRC) == [[0], [1], [2, 3], [4], [5], [6], [7]]  # "apple" and "." apart, eat+s one
    assert [quiz.label(SRC, w) for w in quiz.words(SRC)] == LABELS
    assert quiz.words(["▁(", "Haus", ")", ","]) == [[0], [1], [2, 3]]  # punctuation at both ends
    assert quiz.words(["▁don", "'", "t", "."]) == [[0, 1, 2], [3]]  # inside a word it stays
    assert quiz.words(["▁", "Apfel", "."]) == [[0, 1], [2]]  # a bare "▁" stays with its letters
    assert quiz.target_words(TGT) == [[1], [2, 3], [4, 5], [6], [7]]  # <s> and "." are never asked


def test_hand_alignment_maps_every_piece_of_a_marked_word_to_the_letters_of_its_english_word():
    hand = quiz.hand_alignment(ITEM, SRC, TGT)
    assert hand == {1: None, 2: 1, 3: 1, 4: 2, 5: 2, 6: None, 7: 4, 8: 4}  # 4 = "apple", not "."
    assert quiz.hand_alignment(ITEM, SRC[:-3] + ["</s>"], TGT) is None  # words do not match the set


def test_rounds_ask_whole_marked_words_else_every_word_and_a_link_may_name_any_piece_of_one():
    hand = quiz.hand_alignment(ITEM, SRC, TGT)
    assert quiz.rounds(TGT, hand) == [[2, 3], [4, 5], [7]]  # Junge, isst, Apfel
    assert quiz.rounds(TGT) == [[1], [2, 3], [4, 5], [6], [7]]
    assert quiz.rounds(["<s>", "▁", ".", "▁!"]) == []
    assert quiz.word_at(TGT, 5) == [4, 5]  # "st" asks about "isst"
    assert quiz.word_at(TGT, 8) is None and quiz.word_at(TGT, 0) is None and quiz.word_at(TGT, 99) is None


def _cross(rows: dict[int, dict[int, float]]) -> np.ndarray:
    cross = np.full((len(TGT), len(SRC)), 0.01)
    for r, cols in rows.items():
        for c, v in cols.items():
            cross[r, c] = v
    return cross / cross.sum(-1, keepdims=True)


def test_a_round_on_a_word_of_two_pieces_takes_the_mean_of_the_rows_that_write_them():
    """isst = ▁is + st, written by rows 3 and 4. Row 3 alone would answer "boy"; the mean answers "eats"."""
    cross = _cross({3: {1: 0.5, 2: 0.3}, 4: {3: 0.9}, 5: {0: 0.9}})  # row 5 writes ▁einen: a distractor
    rnd = quiz.make_round(cross, SRC, [4, 5], quiz.hand_alignment(ITEM, SRC, TGT))
    assert rnd.word == (4, 5)
    expected = [cross[[3, 4]].mean(0)[w].sum() for w in quiz.words(SRC)]
    np.testing.assert_allclose(rnd.weights, expected)
    assert rnd.weights.sum() == pytest.approx(1.0)
    assert LABELS[rnd.model_word] == "eats" and LABELS[rnd.hand_word] == "eats"
    assert LABELS[quiz.make_round(cross, SRC, [4]).model_word] == "boy"  # the first piece alone


def test_a_click_on_the_full_stop_is_not_the_word_before_it():
    cross = _cross({6: {5: 0.5, 6: 0.2}, 7: {1: 0.9}})  # row 6 writes ▁Apfel; row 7 (writes ".") a distractor
    rnd = quiz.make_round(cross, SRC, [7], quiz.hand_alignment(ITEM, SRC, TGT))
    assert LABELS[rnd.model_word] == "apple" and LABELS[rnd.hand_word] == "apple"  # row 6, not row 7
    assert rnd.score(4) == (True, True)
    assert rnd.score(5) == (False, False)  # "."
    assert quiz.make_round(cross, SRC, [7]).score(4) == (True, None)  # no hand alignment
    for bad in ([0], [9], []):
        with pytest.raises(ValueError):
            quiz.make_round(cross, SRC, bad)


def test_tally_counts_hand_rounds_only_where_one_exists():
    answers = {
        "a": {"model_hit": True, "hand_hit": True},
        "b": {"model_hit": False, "hand_hit": None},
        "c": {"model_hit": True, "hand_hit": False},
    }
    assert quiz.tally(answers) == quiz.Score(rounds=3, model_hits=2, hand_rounds=2, hand_hits=1)


def test_the_shipped_set_is_found_by_its_english_sentence_and_holds_the_built_in_sentences():
    item = quiz.find_item("  The boy eats an apple. ")
    assert item is not None and item["de"] == "Der Junge isst einen Apfel."
    assert quiz.find_item("Not in the set.") is None
    assert all(quiz.find_item(s) is not None for s in quiz.BUILT_IN) and len(set(quiz.BUILT_IN)) >= 4


def test_sides_come_from_the_model_metadata_not_its_name():
    assert quiz.sides({"source": {"task": "reverse"}}) == ("input", "output")
    assert quiz.sides({"source": {"data": "data/freedict"}}) == ("English", "German")
    assert quiz.sides({"source": "freedict"}) == ("English", "German")
    for model in ("reverse", "sort", "copy", "en-de"):
        if (ASSETS / model / "metadata.json").exists():
            meta = json.loads((ASSETS / model / "metadata.json").read_text())
            toy = model != "en-de"
            assert quiz.sides(meta) == (("input", "output") if toy else ("English", "German")), model


# --- what the quiz says -----------------------------------------------------------------------------------


def test_counts_and_rounds_say_their_numbers():
    assert [quiz.count(n, "round") for n in (0, 1, 2)] == ["0 rounds", "1 round", "2 rounds"]
    asked = quiz.rounds(TGT)
    assert quiz.round_line([4, 5], asked) == "Round 3 of 5"
    assert quiz.round_line([9], [[2]]) == "A round from a shared link, besides this sentence's 1 round"
    assert quiz.round_line([9], asked).endswith("besides this sentence's 5 rounds")


def test_the_question_and_how_a_word_is_written():
    assert quiz.question("input", "b") == "Which input word does the model read most while it writes ` b `?"
    assert quiz.how_written(TGT, [7]) == (
        "` Apfel ` is written as 1 piece (` ▁Apfel `) by decoder row 6, which reads ` ▁einen `: its "
        "cross-attention is what the model reads while writing it."
    )
    assert quiz.how_written(TGT, [4, 5]) == (
        "` isst ` is written as 2 pieces (` ▁is `, ` st `) by decoder rows 3 and 4, which read ` e `, "
        "` ▁is `: the round takes the mean of their cross-attention."
    )
    three = quiz.how_written(["<s>", "▁Ha", "us", "tür"], [1, 2, 3])
    assert "3 pieces" in three and "rows 0–2" in three


def _round(weights, model_word, hand_word=None):
    return quiz.Round((1,), np.array(weights), model_word, hand_word)


def test_the_verdict_says_the_weights_that_decide_it():
    rnd = _round([0.1, 0.6, 0.3], 1)
    labels = ["a", "b", "c"]
    assert (
        quiz.verdict(rnd, 1, labels, 2) == "Yes: the model reads ` b ` most, 60% of its attention in layer 2."
    )
    assert quiz.verdict(rnd, 2, labels, 0) == (
        "Not quite: the model reads ` b ` most, 60% of its attention in layer 0; your ` c ` gets 30%."
    )
    close = _round([0.493, 0.491, 0.016], 0)  # both "49%" at 0 decimals: one more tells them apart
    assert quiz.verdict(close, 1, labels, 1).endswith(
        "most, 49.3% of its attention in layer 1; your ` b ` gets 49.1%."
    )


def test_the_hand_line_says_whether_the_guess_and_the_model_match_it():
    labels, sides = ["a", "b", "c"], ("English", "German")
    assert quiz.hand_line(_round([0.2, 0.7, 0.1], 1, 1), labels, 1, sides) == (
        "Hand alignment: ` b ` (you matched it; the model's attention agrees with it)."
    )
    assert quiz.hand_line(_round([0.2, 0.7, 0.1], 1, 2), labels, 0, sides) == (
        "Hand alignment: ` c ` (you did not; the model's attention does not agree with it)."
    )
    assert quiz.hand_line(_round([0.2, 0.7, 0.1], 1), labels, 0, sides).startswith(
        "The hand alignment marks no English word for this German word"
    )


def test_byte_pieces_are_refused_and_counted():
    cyrillic = ["▁", *["<0xD0>", "<0x9F>"] * 13, "<0xD1>", "▁Berlin", "</s>"]  # 27 byte pieces
    said = quiz.refusal(cyrillic, ["<s>", "▁Hallo"])
    assert said.startswith(
        "No quiz for this sentence: the model reads part of this sentence as raw UTF-8 bytes"
    )
    assert "(27 byte pieces such as ` <0xD0> `)" in said
    written = quiz.refusal(["▁Hi", "</s>"], ["<s>", "<0xF0>"])
    assert "writes part of its translation" in written and "(1 byte piece such as ` <0xF0> `)" in written
    assert quiz.refusal(SRC, TGT) is None
    stray = [
        "▁I",
        "▁like",
        "▁app",
        "les",
        "▁",
        "<0x28>",
        "yes",
        "<0x29>",
        ".",
        "</s>",
    ]  # "I like apples (yes)."
    assert quiz.refusal(stray, ["<s>", "▁Ich"]) is None  # 2 of 9 pieces: the other words are still asked
    assert quiz.refusal(stray[:3] + ["<0x28>"] * 2 + ["</s>"], ["<s>", "▁Ich"]).startswith(
        "No quiz"
    )  # 2 of 5
