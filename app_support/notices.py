"""What the class should know before trusting a translation: notices about the input and the model's certainty.

* a toy model reads only its own alphabet ("sort" reads the letters a–j, one at a time with spaces
  between them): everything else reaches it as `<unk>`;
* a text model has no piece for some characters: `<unk>`, or byte-fallback pieces (`<0xE6>`) that it
  hardly saw in training;
* the translation's mean log-probability per piece is below `UNSURE_BELOW`: the model is unsure.

Pure functions of the tokenizer, the text and a `Trace` (no Streamlit); every piece
of the sentence is shown with `md_code`.
"""

from __future__ import annotations

import math
import re
import string

from app_support.safe_text import md_code

# Mean log-probability per piece (the pieces of the translation and its </s>, teacher-forced) under which
# the model counts as unsure. Chosen with en-de at beam 4 on the 30 everyday sentences of
# eval/everyday_en_de.json (min −1.03, median −0.50; only "Today I go to school." → "Zutag habe ich die
# Schule gehen." falls below) against the 30 nonsense inputs of eval/nonsense_en.json (median −1.12; 26
# of 30 below): −0.9 maximises (everyday above) + (nonsense below). tests/app/test_examples.py recomputes both.
UNSURE_BELOW = -0.9
BYTE_PIECE = re.compile(r"<0x[0-9A-Fa-f]{2}>")
SHOWN = 8  # unreadable words or characters named in a notice, at most


def alphabet(tokenizer, special_ids) -> list[str] | None:
    """A symbol model's alphabet (a toy task: every piece but the specials is "▁" + one character),
    sorted; None for a model that reads text."""
    special, symbols = set(special_ids), []
    for i in range(tokenizer.vocab_size):  # stops at the first other piece: a text model costs a few look-ups
        if i in special:
            continue
        piece = tokenizer.id_to_piece(i)
        if len(piece) != 2 or piece[0] != "▁":
            return None
        symbols.append(piece[1])
    return sorted(symbols) or None


def describe_alphabet(symbols: list[str]) -> str:
    """["a", ..., "j"] -> "the letters a–j"; anything else listed."""
    if len(symbols) > 2 and "".join(symbols) in string.ascii_lowercase:
        return f"the letters {symbols[0]}–{symbols[-1]}"
    return "the symbols " + " ".join(symbols)


def _names(items: list[str]) -> str:
    shown = ", ".join(md_code(x, 40) for x in items[:SHOWN])
    return shown + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


def toy_notice(text: str, symbols: list[str], src_tokens: list[str], tgt_text: str) -> str | None:
    """When a symbol model meets words outside its alphabet: what it reads, what it could not read."""
    unreadable = [w for w in dict.fromkeys(text.split()) if w not in symbols]
    if not unreadable:
        return None
    n_unk = src_tokens.count("<unk>")
    example = " ".join(symbols[2::-1] + symbols[3:4])  # "c b a d"
    outcome = "Its output is empty." if not tgt_text.strip() else "Its output says nothing about them."
    return (
        f"This model reads only {describe_alphabet(symbols)}, one at a time with spaces between them "
        f"(e.g. {md_code(example)}). It cannot read {_names(unreadable)}: the encoder got "
        f"{n_unk} `<unk>` (unknown) piece{'s' if n_unk != 1 else ''} instead. {outcome}"
    )


def unreadable_characters(text: str, tokenizer, unk_id: int) -> tuple[list[str], list[str]]:
    """(characters the tokenizer turns into <unk>, characters it spells as byte-fallback pieces)."""
    unknown, as_bytes = [], []
    for ch in dict.fromkeys(text):
        if ch.isspace():
            continue
        ids = tokenizer.encode(ch)
        if unk_id in ids:
            unknown.append(ch)
        elif any(BYTE_PIECE.fullmatch(tokenizer.id_to_piece(i)) for i in ids):
            as_bytes.append(ch)
    return unknown, as_bytes


def text_notices(text: str, src_tokens: list[str], tokenizer, unk_id: int) -> list[str]:
    """When the input of a text model has <unk> or byte-fallback pieces: which characters, and what it means."""
    if "<unk>" not in src_tokens and not any(BYTE_PIECE.fullmatch(p) for p in src_tokens):
        return []
    unknown, as_bytes = unreadable_characters(text, tokenizer, unk_id)
    notices = []
    if unknown or "<unk>" in src_tokens:
        which = f"for {_names(unknown)}" if unknown else "for part of this sentence"
        notices.append(
            f"This model has no piece {which}: the encoder reads `<unk>` (unknown) there and cannot tell "
            "what it was, so the translation cannot carry it over."
        )
    if as_bytes:
        example = next(p for p in src_tokens if BYTE_PIECE.fullmatch(p))
        notices.append(
            f"This model has no piece for {_names(as_bytes)}: it spells each as raw UTF-8 bytes "
            f"({md_code(example)} …), which it hardly saw in training. Expect the translation to go wrong "
            "around them."
        )
    return notices


def unsure_notice(mean_logprob: float, threshold: float = UNSURE_BELOW) -> str | None:
    """When the model's mean log-probability per piece of its own translation is below `threshold`."""
    if mean_logprob >= threshold:
        return None
    # one line on a projected page: every view shows it above its figures
    return (
        f"The model is unsure of this translation: a typical piece of it was only {math.exp(mean_logprob):.0%} "
        f"likely (mean log-probability of {mean_logprob:.2f}, below {threshold}, as for nonsense input). "
        "Read it with care."
    )


def input_notices(text: str, trace, tokenizer, unk_id: int, special_ids) -> list[str]:
    """Every notice for one sentence and its trace, in the order to show them."""
    symbols = alphabet(tokenizer, special_ids)
    if symbols is None:
        found = text_notices(text, list(trace.src_tokens), tokenizer, unk_id)
    else:
        found = [toy_notice(text, symbols, list(trace.src_tokens), trace.tgt_text)]
    return [notice for notice in [*found, unsure_notice(trace.mean_logprob)] if notice]
