"""Sentencepiece pieces -> whitespace words: which pieces make up each word of a sentence.

Sentencepiece (Kudo & Richardson 2018) marks the start of a word with "▁"; the pieces up to the next
such piece belong to the same word. What pools piece-level attention into word-level attention
(`tools.alignment`, `transformer.head_roles`) starts here.
"""

from __future__ import annotations

import re

from .tokenizer import SPECIAL_PIECES

SPECIALS = frozenset(SPECIAL_PIECES) - {"<unk>"}  # <unk> stands for part of a word the vocabulary lacks
WORD_START = "\u2581"  # "▁"
_BYTE = re.compile(r"<0x[0-9A-Fa-f]{2}>")
_START_BYTES = ["<0xE2>", "<0x96>", "<0x81>"]  # "▁" itself spelled as byte-fallback pieces


def word_spans(pieces: list[str]) -> list[list[int]]:
    """Sentencepiece pieces -> for each whitespace word, the positions (into `pieces`) it covers.

    A word starts at a piece beginning with "▁" (or at "▁" spelled as bytes <0xE2><0x96><0x81>);
    other pieces, byte-fallback ones included, continue the current word. Specials (<s>, </s>, <pad>)
    belong to no word. A lone "▁" opens a word that the following pieces fill, so a word made only of
    "▁" pieces is joined to the next word (and dropped at the end), as str.split() would do.
    """
    spans: list[list[int]] = []
    empty = False  # the open word so far holds only "▁" pieces
    for i, piece in enumerate(pieces):
        if piece in SPECIALS:
            continue
        starts = piece.startswith(WORD_START) or (
            piece == _START_BYTES[0] and pieces[i : i + 3] == _START_BYTES
        )
        content = piece.lstrip(WORD_START) != "" and not (
            _BYTE.fullmatch(piece) and _in_start_bytes(pieces, i)
        )
        if (starts and not empty) or not spans:
            spans.append([])
        spans[-1].append(i)
        empty = (starts or empty) and not content
    if spans and empty:
        spans.pop()
    return spans


def _in_start_bytes(pieces: list[str], i: int) -> bool:
    """Is pieces[i] one of the three byte pieces that spell "▁"?"""
    return any(pieces[j : j + 3] == _START_BYTES for j in range(max(0, i - 2), i + 1))
