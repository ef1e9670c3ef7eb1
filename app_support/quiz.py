"""Predict, then reveal: the rules and the words of the classroom quiz on cross-attention (no streamlit).

Words, as a reader sees them. Pieces are grouped into whitespace words (tools.alignment.word_spans), and
the pieces at either end of a word that hold no letter or digit are split off as a word of their own
("▁apple" "." -> apple, .); a special piece (`</s>`) is a word of its own. A round asks about one whole
target word that holds a letter or digit, never about punctuation; the student answers with a source word.

The round's attention. Decoder row t reads piece t and predicts piece t + 1, so a target word of pieces
j..k is written by rows j - 1..k - 1. The round takes the mean of those rows, and a source word's weight is
the sum of its pieces' columns: the convention of `tools.alignment.word_attention`, which scores the same
rows against the hand alignments (only its word boundaries differ: there punctuation stays in the
whitespace word it is glued to). The model's answer is the source word with the most weight.

Where the sentence is in the hand-aligned set (eval/everyday_en_de.json) and marks the round's target word,
the source word marked there (its letters, without glued punctuation) is revealed and scored too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from app_support.notices import BYTE_PIECE
from app_support.safe_text import count, md_code
from tools.alignment import SPECIALS, load_set, word_spans

EN_DE = ("English", "German")  # the languages of the hand-aligned set
# Sentences of the set that the shipped en-de model translates as their reference (at beam 4): the ones the
# quiz offers. tests/app/test_app_quiz.py translates each.
BUILT_IN = (
    "I know that she speaks German.",
    "We have bought a new car.",
    "The children play in the garden.",
    "Can you help me, please?",
)


def sides(metadata: dict) -> tuple[str, str]:
    """What the quiz calls a model's source and target: ("input", "output") for a synthetic task (its
    metadata's source.task, as models.examples reads it), else English and German (the project's text corpus,
    tools.freedict, and its hand-aligned set are English → German)."""
    source = metadata.get("source")
    return ("input", "output") if isinstance(source, dict) and source.get("task") else EN_DE


@lru_cache(maxsize=64)
def find_item(text: str) -> dict | None:
    """The hand-aligned set's item ({"en", "de", "pairs"}: tools.alignment.load_set) whose English sentence is
    `text` (spaces at the ends ignored), or None. Cached: never change what it returns."""
    return next((item for item in load_set() if item["en"].strip() == text.strip()), None)


def has_letters(piece: str) -> bool:
    """Not a special piece (`<unk>` stands for part of a word: tools.alignment.SPECIALS) and holding a
    letter or digit ("▁", "." or "▁," alone do not)."""
    return piece not in SPECIALS and any(ch.isalnum() for ch in piece)


def words(pieces: list[str]) -> list[list[int]]:
    """Positions of `pieces` grouped into words as a reader sees them, in order: each whitespace word
    (tools.alignment.word_spans) with the pieces at either end that hold no letter or digit split off as a
    word of punctuation (a bare "▁" stays with the letters after it), and each special piece alone."""
    out = []
    for span in word_spans(list(pieces)):
        inner = [n for n, p in enumerate(span) if has_letters(pieces[p])]
        if not inner:
            out.append(span)
            continue
        a, b = inner[0], inner[-1] + 1
        while a and pieces[span[a - 1]].strip("\u2581") == "":
            a -= 1
        out += [part for part in (span[:a], span[a:b], span[b:]) if part]
    covered = {p for word in out for p in word}
    return sorted(out + [[p] for p in range(len(pieces)) if p not in covered])


def label(pieces: list[str], word: list[int]) -> str:
    """A word as a reader writes it: its pieces joined without their "▁" ("▁eat" "s" -> "eats")."""
    return "".join(pieces[p] for p in word).replace("\u2581", "") or "\u2581"


def target_words(tgt_tokens: list[str]) -> list[list[int]]:
    """The words of the decoder input a round can ask about: those holding a letter or digit."""
    return [w for w in words(tgt_tokens) if any(has_letters(tgt_tokens[p]) for p in w)]


def rounds(tgt_tokens: list[str], hand: dict[int, int | None] | None = None) -> list[list[int]]:
    """The target words the quiz asks about, in order: with a hand alignment only those it marks (if any)."""
    asked = target_words(tgt_tokens)
    marked = [w for w in asked if hand and hand.get(w[0]) is not None]
    return marked or asked


def word_at(tgt_tokens: list[str], piece: int) -> list[int] | None:
    """The askable target word that holds tgt_tokens[piece] (e.g. a piece from a shared URL), or None."""
    return next((w for w in target_words(tgt_tokens) if piece in w), None)


def hand_alignment(item: dict, src_tokens: list[str], tgt_tokens: list[str]) -> dict[int, int | None] | None:
    """Target piece position (in tgt_tokens, the decoder input) -> the source word (an index into
    `words(src_tokens)`: the letters of the whitespace word the set marks for the piece's whitespace word),
    or None where it marks none (articles, ...); None instead of a dict when the pieces miss its words."""
    tgt_spans, src_spans = word_spans(list(tgt_tokens)), word_spans(list(src_tokens))
    if len(tgt_spans) != len(item["de"].split()) or len(src_spans) != len(item["en"].split()):
        return None
    src_words = words(src_tokens)
    lettered = [n for n, w in enumerate(src_words) if any(has_letters(src_tokens[p]) for p in w)]
    marked = {pair["de"]: pair["en"] for pair in item["pairs"]}
    out: dict[int, int | None] = {}
    for w, span in enumerate(tgt_spans):
        english = src_spans[marked[w]] if marked.get(w) is not None else []
        out |= dict.fromkeys(span, next((n for n in lettered if src_words[n][0] in english), None))
    return out


@dataclass(frozen=True)
class Round:
    """One question: which source word does the model read most while writing the target word `word`?"""

    word: tuple[int, ...]  # the target word's pieces: positions in tgt_tokens (>= 1)
    weights: np.ndarray  # (n source words,) the mean of the word's rows, summed over each word's pieces
    model_word: int  # the source word with the most weight (an index into words(src_tokens))
    hand_word: int | None  # the hand-aligned source word, where the set marks one

    def score(self, guess: int) -> tuple[bool, bool | None]:
        """(the guessed source word is the model's, it is the hand-aligned one or None without one)."""
        return guess == self.model_word, None if self.hand_word is None else guess == self.hand_word


def make_round(cross, src_tokens: list[str], word, hand: dict[int, int | None] | None = None) -> Round:
    """A round from one layer's cross-attention (T, S) (heads averaged, or one head) for the target word whose
    pieces are `word` (positions 1..T - 1 of the decoder input)."""
    weights = np.asarray(cross, dtype=np.float64)
    if weights.ndim != 2 or weights.shape[1] != len(src_tokens):
        raise ValueError(f"cross-attention must be (T, {len(src_tokens)}), got {weights.shape}")
    word = tuple(int(p) for p in word)
    if not word or not all(1 <= p <= weights.shape[0] - 1 for p in word):
        raise ValueError(f"a word's pieces must be in 1..{weights.shape[0] - 1}, got {word}")
    row = weights[[p - 1 for p in word]].mean(0)  # (S,) the rows that write the word's pieces
    per_word = np.array([row[w].sum() for w in words(src_tokens)])
    return Round(word, per_word, int(np.argmax(per_word)), None if hand is None else hand.get(word[0]))


@dataclass(frozen=True)
class Score:
    rounds: int
    model_hits: int
    hand_rounds: int  # rounds whose target word has a hand alignment
    hand_hits: int


def tally(answers: dict) -> Score:
    """Answers {round id: {"model_hit": bool, "hand_hit": bool | None, ...}} -> the session's score."""
    values = list(answers.values())
    hand = [a["hand_hit"] for a in values if a["hand_hit"] is not None]
    return Score(len(values), sum(bool(a["model_hit"]) for a in values), len(hand), sum(map(bool, hand)))


# --- what the quiz says: every sentence from its numbers (tests/unit/test_quiz_rules.py) -----------------


def _shares(a: float, b: float) -> tuple[str, str]:
    """Two weights as percentages with the fewest decimals (up to 2) that tell them apart, else whole."""
    for digits in (0, 1, 2):
        if f"{a:.{digits}%}" != f"{b:.{digits}%}":
            return f"{a:.{digits}%}", f"{b:.{digits}%}"
    return f"{a:.0%}", f"{b:.0%}"


def question(src_side: str, word: str) -> str:
    return f"Which {src_side} word does the model read most while it writes {md_code(word, 40)}?"


def round_line(word: list[int], asked: list[list[int]]) -> str:
    """ "Round 2 of 3", or what a round from a shared link is."""
    if word in asked:
        return f"Round {asked.index(word) + 1} of {len(asked)}"
    return f"A round from a shared link, besides this sentence's {count(len(asked), 'round')}"


def how_written(tgt_tokens: list[str], word: list[int]) -> str:
    """Which decoder rows write the word (each reads the piece before), and what the round does with them."""
    rows = [p - 1 for p in word]  # consecutive: "row 6", "rows 3 and 4", "rows 3–5"
    one = len(rows) == 1
    listed = f"row {rows[0]}" if one else f"rows {rows[0]}{' and ' if len(rows) == 2 else '–'}{rows[-1]}"
    return (
        f"{md_code(label(tgt_tokens, word), 40)} is written as {count(len(word), 'piece')} "
        f"({', '.join(md_code(tgt_tokens[p], 40) for p in word)}) by decoder {listed}, which "
        f"{'reads' if one else 'read'} {', '.join(md_code(tgt_tokens[r], 40) for r in rows)}: "
        + ("its cross-attention is what the model reads while writing it." if one else "the round takes the "
           "mean of their cross-attention.")
    )  # fmt: skip


def verdict(rnd: Round, guess: int, labels: list[str], layer: int) -> str:
    """The answer to a guess (an index into the source words), with the weights that decide it."""
    model = md_code(labels[rnd.model_word], 40)
    mine, theirs = _shares(rnd.weights[guess], rnd.weights[rnd.model_word])
    where = f"of its attention in layer {layer}"
    if guess == rnd.model_word:
        return f"Yes: the model reads {model} most, {theirs} {where}."
    yours = md_code(labels[guess], 40)
    return f"Not quite: the model reads {model} most, {theirs} {where}; your {yours} gets {mine}."


def hand_line(rnd: Round, labels: list[str], guess: int | None, sides_: tuple[str, str]) -> str:
    """What the hand alignment marks for the round's word, beside the guess (None: no pick) and the model's
    answer."""
    if rnd.hand_word is None:
        return (
            f"The hand alignment marks no {sides_[0]} word for this {sides_[1]} word (articles, prepositions "
            "and words without a counterpart are not aligned)."
        )
    verdict_ = "" if guess is None else "you matched it; " if guess == rnd.hand_word else "you did not; "
    agree = "agrees" if rnd.hand_word == rnd.model_word else "does not agree"
    marked = md_code(labels[rnd.hand_word], 40)
    return f"Hand alignment: {marked} ({verdict_}the model's attention {agree} with it)."


def refusal(src_tokens: list[str], tgt_tokens: list[str]) -> str | None:
    """Why there is no quiz, else None: the model reads a quarter or more of the sentence's pieces as byte pieces
    (notices.BYTE_PIECE: another script), or writes any in its translation. A stray symbol read as one byte
    piece leaves the other words to ask about."""
    read = [p for p in src_tokens if BYTE_PIECE.fullmatch(p)]
    written = [p for p in tgt_tokens if BYTE_PIECE.fullmatch(p)]
    if read and 4 * len(read) >= len([p for p in src_tokens if p not in SPECIALS]):
        side, found = "reads part of this sentence", read
    elif written:
        side, found = "writes part of its translation", written
    else:
        return None
    return (
        f"No quiz for this sentence: the model {side} as raw UTF-8 bytes ({count(len(found), 'byte piece')} "
        f"such as {md_code(found[0])}), not as words, so there is no word to ask about. Type a sentence "
        "without the characters it cannot read."
    )
