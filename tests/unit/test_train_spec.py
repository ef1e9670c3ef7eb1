"""What a live training run is (app_support.training.spec): pairs typed by a person, the checks that say what
to change, the command line it runs, and the probe's measure of cross-attention."""

from __future__ import annotations

import numpy as np
import pytest

from app_support.training import spec as S
from transformer.train import build_parser


def test_pairs_read_arrows_and_tabs_and_skip_blank_and_comment_lines():
    pairs, problems = S.parse_pairs(
        "# greetings\nhello ->  hallo \n\nthe  cat\tdie Katze\ndog->Hund\na -> b\n"
    )
    assert problems == []
    assert pairs == [("hello", "hallo"), ("the cat", "die Katze"), ("dog", "Hund"), ("a", "b")]


@pytest.mark.parametrize(
    "text, says",
    [
        ("", "at least 4 pairs"),
        ("a -> b\nc -> d", "there are 2"),
        ("a -> b\nno arrow here\nc -> d\nalso none", "Lines 2, 4 have no `->`"),
        ("a -> b\n -> d\nc -> d\ne ->", "Lines 2, 4: one side of the `->` is empty"),
        ("a -> " + "b" * (S.MAX_SIDE + 1) + "\nc -> d\ne -> f\ng -> h", "Line 1: a side is longer"),
        ("\n".join(f"a{i} -> b{i}" for i in range(S.MAX_PAIRS + 1)), f"at most {S.MAX_PAIRS:,}"),
    ],
)
def test_bad_pairs_say_which_lines_and_what_to_change(text, says):
    pairs, problems = S.parse_pairs(text)
    assert problems and says in " ".join(problems)
    assert S.TrainSpec(task="own", pairs=text).problems() == problems


def test_a_spec_says_every_setting_out_of_range_and_heads_that_do_not_divide_d_model():
    assert S.TrainSpec().problems() == []
    bad = S.TrainSpec(enc_layers=4, lr=0.5, d_model=20, heads=3, steps=5, task="juggle").problems()
    text = " ".join(bad)
    assert "no task called 'juggle'" in text
    assert "Encoder layers must be between 1 and 3, not 4" in text
    assert "learning rate must be between 0.0001 and 0.1, not 0.5" in text
    assert "Steps must be between 20 and 20000" in text
    assert "d_model (20) must divide evenly among the heads (3)" in text and "use 1, 2 or 4 heads" in text
    assert S.TrainSpec(task="own", pairs="a -> b\nc -> d\ne -> f\ng -> h", split="bytes").problems() == [
        "Split the text by char or word, not 'bytes'."
    ]


def test_own_pairs_hold_out_a_tenth_chosen_by_the_seed_and_the_probe_is_the_first_held_out_pair():
    text = "\n".join(f"in{i} -> out{i}" for i in range(30))
    a = S.TrainSpec(task="own", pairs=text, seed=1)
    train, valid = a.data()
    assert len(valid) == 3 and len(train) == 27 and not set(train) & set(valid)
    assert a.probe() == valid[0]
    assert (
        S.TrainSpec(task="own", pairs=text, seed=2).data()[1] != valid
    )  # another seed, another held-out set
    assert S.TrainSpec(task="own", pairs=text, seed=1).data() == (train, valid)  # and the same seed, the same


@pytest.mark.parametrize(
    "task, want", [("reverse", "g f e d c b a"), ("copy", "a b c d e f g"), ("shift", "b c d e f g a")]
)
def test_the_probe_of_a_built_in_task_is_its_correct_answer(task, want):
    assert S.TrainSpec(task=task).probe() == ("a b c d e f g", want)
    src, out = S.TrainSpec(task="sort").probe()
    assert out == " ".join(sorted(src.split())) and len(set(src.split())) == 7


def test_the_command_line_is_one_the_training_script_accepts():
    for spec in (
        S.TrainSpec(),
        S.TrainSpec(task="own", pairs="a -> b\nc -> d\ne -> f\ng -> h", split="word"),
    ):
        args = build_parser().parse_args(spec.argv("OUT", "DATA"))
        assert (args.d_model, args.heads, args.enc_layers, args.dec_layers) == (16, 4, 2, 2)
        assert args.peak_lr == spec.lr and args.threads == 1 and args.dropout == 0
        assert args.steps == spec.steps and args.seed == spec.seed
    assert (
        build_parser()
        .parse_args(S.TrainSpec(task="own", pairs="ab -> c\nd -> e\nf -> g\nh -> i").argv("O", "D"))
        .max_len
        == 4
    )
    assert S.TrainSpec().command().startswith("python -m transformer.train --task reverse ")


def test_a_typed_input_is_one_the_model_can_read_letters_a_to_j_or_the_pieces_of_your_pairs():
    spec = S.TrainSpec()
    assert S.task_input(spec, " dcba ") == ("d c b a", None)
    assert S.task_input(spec, "d c b a") == ("d c b a", None)
    fed, problem = S.task_input(spec, "abz<b>")
    assert fed == "" and problem.endswith("only the letters a–j; '<', '>', 'z' are not among them.")
    assert "at most 10" in S.task_input(spec, "abcdefghija")[1]
    pairs = "the dog -> der Hund\nthe cat -> die Katze\na dog -> ein Hund\na cat -> eine Katze"
    words, chars = S.TrainSpec(task="own", pairs=pairs, split="word"), S.TrainSpec(task="own", pairs=pairs)
    assert S.task_input(words, "  the  cat ") == ("the cat", None)
    assert S.task_input(words, "the bird") == ("", "The model knows only the words of your pairs; 'bird' is not "
                                                   "among them.")  # fmt: skip
    assert S.task_input(chars, "the cat") == ("the cat", None)
    assert S.task_input(chars, "the bird!")[1] == (
        "The model knows only the characters of your pairs; '!', 'b' are not among them."
    )


def test_reads_what_it_writes_counts_the_rows_on_the_letter_they_write():
    src = ["▁a", "▁b", "▁c", "</s>"]
    tgt = ["<s>", "▁c", "▁b", "▁a"]  # reversing: row 0 writes c, row 1 b, row 2 a, row 3 </s>
    mirrored = np.zeros((2, 2, 4, 4), dtype=np.float32)
    for row, col in ((0, 2), (1, 1), (2, 0), (3, 3)):
        mirrored[-1, :, row, col] = 1.0
    assert S.reads_what_it_writes(mirrored, src, tgt) == (3, 3)
    diagonal = np.zeros_like(mirrored)
    diagonal[-1, :, np.arange(4), np.arange(4)] = 1.0
    assert S.reads_what_it_writes(diagonal, src, tgt) == (1, 3)  # only the middle row is on its letter
    diagonal[-1, 0] = mirrored[-1, 0] * 3  # one head mirrored strongly enough outweighs the other in the mean
    assert S.reads_what_it_writes(diagonal, src, tgt) == (3, 3)


def test_the_example_pairs_are_dates_turned_round_and_parse_without_a_problem():
    text = S.example_pairs()
    pairs, problems = S.parse_pairs(text)
    assert problems == [] and len(pairs) == 400 and S.example_pairs() == text  # the same every time
    for src, tgt in pairs:
        y, m, d = src.split("-")
        assert tgt == f"{d}.{m}.{y}"
    spec = S.TrainSpec(task="own", pairs=text)
    assert spec.problems() == [] and spec.max_len() == 12  # 10 characters, the ▁ before them and </s>
