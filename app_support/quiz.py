"""Predict, then reveal: the rules of the classroom quiz on cross-attention. Pure Python (no streamlit).

A round names one German piece of the translation and asks which English piece the model reads while
it *writes* that piece. The decoder writes piece j from the row that reads piece j - 1 (row t reads
piece t and predicts piece t + 1), so the round's attention is cross-attention row j - 1: the
convention of `tools.alignment.word_attention`, which scores the same rows against the hand alignments.

Answers are compared word by word, as `tools.alignment` does: the row's weights are added up over the
pieces of each English word (a special piece such as `</s>` counts as a word of its own), the model's
answer is the word with the most, and a click on any piece of that word is right. Where the sentence is
in the hand-aligned set (eval/everyday_en_de.json) and marks the round's German word, the English word
marked there is revealed and scored too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from tools.alignment import DEFAULT_SET, word_spans
from transformer.tokenizer import SPECIAL_PIECES

SPECIALS = frozenset(SPECIAL_PIECES)


@lru_cache(maxsize=4)
def hand_aligned_set(path: str = str(DEFAULT_SET)) -> tuple[dict, ...]:
    """The items of a hand-aligned set ({"en", "de", "pairs"}), read once; () when the file is missing."""
    try:
        items = json.loads(Path(path).read_text(encoding="utf-8"))["items"]
    except (OSError, ValueError, KeyError, TypeError):
        return ()
    return tuple(items)


def find_item(text: str, items=None) -> dict | None:
    """The set's item whose English sentence is `text` (spaces at the ends ignored), or None."""
    items = hand_aligned_set() if items is None else items
    wanted = text.strip()
    return next((item for item in items if item["en"].strip() == wanted), None)


def source_units(src_tokens: list[str]) -> list[list[int]]:
    """Source positions grouped into whitespace words (tools.alignment.word_spans), each special piece
    (`</s>`) a unit of its own, in order of position."""
    spans = word_spans(list(src_tokens))
    covered = {p for span in spans for p in span}
    alone = [[p] for p in range(len(src_tokens)) if p not in covered]
    return sorted(spans + alone, key=lambda unit: unit[0])


def unit_of(units: list[list[int]], position: int) -> int:
    """Index of the unit that holds a source position."""
    for n, unit in enumerate(units):
        if position in unit:
            return n
    raise ValueError(f"source position {position} is in no unit")


def hand_alignment(item: dict, src_tokens: list[str], tgt_tokens: list[str]) -> dict[int, int | None] | None:
    """German piece position (in tgt_tokens, the decoder input) -> the English unit (`source_units`) the
    set marks for that piece's word, or None where it marks none (articles, prepositions, ...). None
    instead of a dict when the pieces do not split into the set's whitespace words."""
    tgt_words, src_words = word_spans(list(tgt_tokens)), word_spans(list(src_tokens))
    if len(tgt_words) != len(item["de"].split()) or len(src_words) != len(item["en"].split()):
        return None
    units = source_units(src_tokens)
    marked = {pair["de"]: pair["en"] for pair in item["pairs"]}
    out: dict[int, int | None] = {}
    for w, span in enumerate(tgt_words):
        english = marked.get(w)
        unit = None if english is None else units.index(src_words[english])
        for p in span:
            out[p] = unit
    return out


def askable(piece: str) -> bool:
    """A piece worth a round: not special and holding a letter or digit ("▁" or "." alone are not)."""
    return piece not in SPECIALS and any(ch.isalnum() for ch in piece.replace("\u2581", ""))


def round_pieces(tgt_tokens: list[str], hand: dict[int, int | None] | None = None) -> list[int]:
    """The German pieces the quiz asks about, in order: the first askable piece of each word, and with a
    hand alignment only the words it marks (if it marks any). Positions index tgt_tokens (>= 1)."""
    firsts = []
    for span in word_spans(list(tgt_tokens)):
        first = next((p for p in span if askable(tgt_tokens[p])), None)
        if first is not None:
            firsts.append(first)
    if hand:
        marked = [p for p in firsts if hand.get(p) is not None]
        if marked:
            return marked
    return firsts


def valid_piece(tgt_tokens: list[str], piece: int) -> bool:
    """Can a round ask about tgt_tokens[piece] (e.g. a piece from a shared URL)?"""
    return 1 <= piece < len(tgt_tokens) and askable(tgt_tokens[piece])


@dataclass(frozen=True)
class Round:
    """One question: which English piece does the model read while writing tgt_tokens[piece]?"""

    piece: int  # the German piece, a position in tgt_tokens (>= 1)
    weights: np.ndarray  # (S,) cross-attention row piece - 1 over the source pieces
    units: list[list[int]]  # source_units
    model_unit: int  # the unit with the most weight (summed over its pieces)
    hand_unit: int | None  # the hand-aligned English word, where the set marks one

    @property
    def row(self) -> int:
        """The cross-attention row that writes the piece: it reads the piece before."""
        return self.piece - 1

    @property
    def unit_weights(self) -> np.ndarray:
        return np.array([self.weights[unit].sum() for unit in self.units])

    def model_pieces(self) -> list[int]:
        return list(self.units[self.model_unit])

    def hand_pieces(self) -> list[int]:
        return [] if self.hand_unit is None else list(self.units[self.hand_unit])

    def score(self, guess: int) -> tuple[bool, bool | None]:
        """(the click is in the model's word, the click is in the hand-aligned word or None without one)."""
        unit = unit_of(self.units, guess)
        return unit == self.model_unit, None if self.hand_unit is None else unit == self.hand_unit


def make_round(cross, src_tokens: list[str], piece: int, hand: dict[int, int | None] | None = None) -> Round:
    """A round from one layer's cross-attention (T, S) (heads averaged, or one head) for German piece `piece`."""
    weights = np.asarray(cross, dtype=np.float64)
    if weights.ndim != 2 or weights.shape[1] != len(src_tokens):
        raise ValueError(f"cross-attention must be (T, {len(src_tokens)}), got {weights.shape}")
    if not 1 <= piece <= weights.shape[0] - 1:
        raise ValueError(f"piece must be 1..{weights.shape[0] - 1}, got {piece}")
    row = weights[piece - 1]
    units = source_units(src_tokens)
    model_unit = int(np.argmax([row[unit].sum() for unit in units]))
    return Round(piece, row, units, model_unit, None if hand is None else hand.get(piece))


@dataclass(frozen=True)
class Score:
    rounds: int
    model_hits: int
    hand_rounds: int  # rounds whose German word has a hand alignment
    hand_hits: int


def tally(answers: dict) -> Score:
    """Answers {round id: {"model_hit": bool, "hand_hit": bool | None, ...}} -> the session's score."""
    values = list(answers.values())
    hand = [a["hand_hit"] for a in values if a["hand_hit"] is not None]
    return Score(len(values), sum(bool(a["model_hit"]) for a in values), len(hand), sum(map(bool, hand)))


__all__ = [
    "Round",
    "Score",
    "askable",
    "find_item",
    "hand_aligned_set",
    "hand_alignment",
    "make_round",
    "round_pieces",
    "source_units",
    "tally",
    "unit_of",
    "valid_piece",
]
