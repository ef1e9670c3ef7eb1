"""Options of the training script that the live Train view uses: the shift task, tokenizers that cut your own
pairs into characters or words, and the learning rate given as the schedule's peak."""

from __future__ import annotations

import pytest

from transformer import data as D
from transformer.tokenizer import UNK_ID
from transformer.train import build_parser, lr_factor_for_peak, noam_schedule, train_tokenizer


def test_shift_rotates_the_letters_left_by_one():
    pairs = D.synthetic_pairs("shift", 50, seed=3)
    for src, tgt in pairs:
        s = src.split()
        assert tgt.split() == s[1:] + s[:1]
    assert "shift" in build_parser().parse_args(["--task", "shift", "--out", "o"]).task


@pytest.mark.parametrize("warmup, d_model, peak", [(100, 16, 0.005), (4000, 512, 7e-4), (1, 8, 0.1)])
def test_peak_lr_is_where_the_schedule_peaks(warmup, d_model, peak):
    lr_at = noam_schedule(d_model, warmup, lr_factor_for_peak(peak, d_model, warmup))
    assert lr_at(warmup - 1) == pytest.approx(peak)  # LambdaLR's step s is the schedule's step s + 1
    assert max(lr_at(s) for s in range(0, 3 * warmup)) == pytest.approx(peak)
    with pytest.raises(SystemExit):  # one way of saying it, not two
        build_parser().parse_args(["--task", "copy", "--out", "o", "--peak-lr", "0.1", "--lr-factor", "2"])


def tokenizer(split: str, pairs):
    args = build_parser().parse_args(["--data", "D", "--out", "o", "--split", split])
    return train_tokenizer(args, pairs)


def test_split_char_gives_one_piece_per_character_and_knows_only_those_it_saw():
    tok = tokenizer("char", [("the cat", "die Katze"), ("a hat", "ein Hut")])
    assert tok.encode_pieces("the cat") == ["▁", "t", "h", "e", "▁", "c", "a", "t"]
    assert tok.decode(tok.encode("ein Hut")) == "ein Hut"
    assert UNK_ID in tok.encode("xyz")  # never seen: unknown
    assert tok.vocab_size == 4 + len(set("thecatdieKatzeahateinHut")) + 1  # and ▁, the word boundary


def test_split_word_gives_one_piece_per_word():
    tok = tokenizer("word", [("the big cat", "die große Katze"), ("a cat", "eine Katze")])
    assert tok.encode_pieces("the big cat") == ["▁the", "▁big", "▁cat"]
    assert tok.decode(tok.encode("die große Katze")) == "die große Katze"
    assert tok.encode("the dog")[1] == UNK_ID
    assert tok.vocab_size == 4 + 8  # the, big, cat, die, große, Katze, a, eine
