"""The Minimal pairs view's generated sentences say what their numbers say (issue 24): a rise is called a
rise and a fall a fall, with the numbers shown, and counts take the right plural."""

from __future__ import annotations

import re

import numpy as np
import pytest

from app_support.views.pairs import EXAMPLE_SEP, count, lined_up_note, shift_sentence
from transformer.analysis import pair_positions


def shift_of(means) -> np.ndarray:
    """A (stages, 2 positions) shift whose mean over positions is `means` (stage by stage)."""
    m = np.asarray(means, dtype=np.float64)[:, None]
    return np.hstack([m - 0.01, m + 0.01])


def numbers(sentence: str) -> list[float]:
    return [float(x) for x in re.findall(r"\d+\.\d+", sentence)]


def test_a_rise_names_the_layer_with_the_largest_rise_and_its_numbers():
    s = shift_of([0.10, 0.15, 0.45, 0.50])  # L0 +0.05, L1 +0.30, L2 +0.05
    said = shift_sentence("encoder", s)
    assert said.startswith("Encoder: layer L1 ") and "rises from 0.15 to 0.45" in said, said
    assert numbers(said) == [0.15, 0.45]


def test_a_fall_at_every_layer_is_called_a_fall_from_input_to_last_layer():
    """The reverse model's "moves most, on average from 0.19 to 0.15" said a decrease was the most movement."""
    said = shift_sentence("decoder", shift_of([0.19, 0.15, 0.12]))
    assert said.startswith("Decoder: no layer moves the paired positions further apart"), said
    assert "to the output of the last layer, L1, their mean distance falls from 0.19 to 0.12." in said
    assert "rises" not in said
    assert numbers(said) == [0.19, 0.12]


def test_no_change_is_called_no_change():
    said = shift_sentence("encoder", shift_of([0.25, 0.25, 0.25]))
    assert "stays at 0.25" in said and "rises" not in said and "falls" not in said, said


def test_a_rise_too_small_to_show_is_not_called_a_rise():
    """+0.001 shows as 0.30 → 0.30 at two decimals: no layer is said to move the positions apart."""
    said = shift_sentence("encoder", shift_of([0.300, 0.301, 0.296]))
    assert "no layer moves the paired positions further apart by 0.01:" in said, said
    assert "falls from 0.30 to 0.30" not in said and "stays at 0.30" in said


def test_no_layers_or_no_positions_say_nothing():
    assert shift_sentence("encoder", np.zeros((1, 3))) is None
    assert shift_sentence("encoder", np.zeros((3, 0))) is None


@pytest.mark.parametrize("n, said", [(0, "0 pieces"), (1, "1 piece"), (2, "2 pieces")])
def test_count_takes_the_plural_of_its_number(n, said):
    assert count(n, "piece") == said


def test_the_lined_up_note_counts_each_side_and_the_pairs_compared():
    a, b = ["▁The", "▁cat", "▁sleep", "s", "."], ["▁The", "▁cat", "s", "▁sleep", "."]
    p = pair_positions(a, b)
    note = lined_up_note("columns", p, a, b)
    assert note.startswith("The columns do not line up one for one (5 pieces in the first sentence, 5 pieces")
    assert f"compares {len(p)} pairs" in note and len(p) == 4
    assert "first ` s `" in note and "second ` s `" in note
    one = pair_positions(["x", "y"], ["x", "z", "w"])  # x pairs, y / z / w do not
    assert "compares 1 pair (" in lined_up_note("rows", one, ["x", "y"], ["x", "z", "w"])
    assert "(2 pieces in the first sentence, 3 pieces in the second)" in lined_up_note(
        "rows", one, ["x", "y"], ["x", "z", "w"]
    )
    assert lined_up_note("rows", pair_positions(a, a), a, a) is None


def test_the_example_separator_is_a_character_common_fonts_have():
    """U+2194 (Arial, Helvetica, DejaVu, Segoe UI have it), not U+27F7, which showed as a box."""
    assert EXAMPLE_SEP.strip() == "\u2194"
