"""app_support.quiz: which German pieces a round asks about, which cross-attention row it reads (the one
before: tools.alignment's convention), word-level scoring and the hand alignment of the set."""

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


def test_source_units_are_words_and_each_special_alone():
    assert quiz.source_units(SRC) == [[0], [1], [2, 3], [4], [5, 6], [7]]


def test_hand_alignment_maps_every_piece_of_a_marked_word_to_its_english_word():
    hand = quiz.hand_alignment(ITEM, SRC, TGT)
    assert hand == {1: None, 2: 1, 3: 1, 4: 2, 5: 2, 6: None, 7: 4, 8: 4}
    assert quiz.hand_alignment(ITEM, SRC[:-3] + ["</s>"], TGT) is None  # words do not match the set


def test_rounds_ask_the_first_piece_of_each_marked_word_else_of_every_word():
    hand = quiz.hand_alignment(ITEM, SRC, TGT)
    assert quiz.round_pieces(TGT, hand) == [2, 4, 7]  # Jung, is, Apfel
    assert quiz.round_pieces(TGT) == [1, 2, 4, 6, 7]
    assert quiz.round_pieces(["<s>", "▁", ".", "▁!"]) == []
    assert quiz.valid_piece(TGT, 8) is False and quiz.valid_piece(TGT, 0) is False and quiz.valid_piece(TGT, 3)


def test_a_round_reads_the_row_before_its_piece_and_scores_whole_words():
    cross = np.full((len(TGT), len(SRC)), 0.01)
    cross[6, 5] = 0.5  # row 6 reads ▁einen and predicts ▁Apfel: it looks at ▁apple
    cross[7, 1] = 0.9  # row 7 (predicts "."): a distractor the round must not use
    cross /= cross.sum(-1, keepdims=True)
    hand = quiz.hand_alignment(ITEM, SRC, TGT)
    rnd = quiz.make_round(cross, SRC, 7, hand)
    assert rnd.row == 6 and rnd.model_pieces() == [5, 6] and rnd.hand_pieces() == [5, 6]
    assert rnd.score(6) == (True, True)  # "." is a piece of "apple.": the same word
    assert rnd.score(1) == (False, False)
    assert quiz.make_round(cross, SRC, 7).score(5) == (True, None)  # no hand alignment
    with pytest.raises(ValueError):
        quiz.make_round(cross, SRC, 0)


def test_tally_counts_hand_rounds_only_where_one_exists():
    answers = {
        "a": {"model_hit": True, "hand_hit": True},
        "b": {"model_hit": False, "hand_hit": None},
        "c": {"model_hit": True, "hand_hit": False},
    }
    assert quiz.tally(answers) == quiz.Score(rounds=3, model_hits=2, hand_rounds=2, hand_hits=1)


def test_the_shipped_set_is_found_by_its_english_sentence():
    item = quiz.find_item("  The boy eats an apple. ")
    assert item is not None and item["de"] == "Der Junge isst einen Apfel."
    assert quiz.find_item("Not in the set.") is None
