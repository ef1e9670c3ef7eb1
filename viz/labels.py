"""Which piece labels each row and column of an attention figure (paper §3.2.3, §3.4).

An encoder row is a source position: it reads its piece and predicts nothing. A decoder row
(decoder self-attention or cross-attention) is a decoder position t: it *reads* piece t of the
decoder input (starting with "<s>") and its output *predicts* piece t + 1 ("</s>" after the
last). Labelling such a row by the piece it reads makes cross-attention look shifted by one
("▁Der" peaking on "▁old" when the row that reads "▁Der" is the one predicting "▁alt"), so every
figure builds its row labels here, by one of `ROW_LABELS`:

    "read"       ▁Der
    "predicted"  ▁alt
    "both"       ▁Der → ▁alt

`None` means the kind's default (`transformer.kinds.AttentionKind.rows`: predicted for
cross-attention, both for decoder self-attention). Keys are always the piece at their position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from transformer.kinds import KINDS, check_rows, key_title, query_title
from viz.style import esc

END = "</s>"  # what the last decoder row predicts: the end of the sentence


def side_tokens(trace, kind: str) -> tuple[list[str], list[str]]:
    """(query pieces, key pieces) of a kind from a trace (duck-typed: .src_tokens, .tgt_tokens).

    Decoder-side pieces are the decoder INPUT (the pieces read), from "<s>" on.
    """
    sides = {"src": list(trace.src_tokens), "tgt": list(trace.tgt_tokens)}
    k = KINDS[kind]
    return sides[k.query_side], sides[k.key_side]


def predicted_pieces(tokens_read: Sequence[str]) -> list[str]:
    """The piece each decoder position predicts: the next piece read, and "</s>" after the last."""
    return [*list(tokens_read)[1:], END]


def row_mode(kind: str | None, rows: str | None = None) -> str:
    """The label mode that applies: always "read" for encoder rows (they predict nothing)."""
    if kind not in KINDS or not KINDS[kind].predicts:
        return "read"
    return check_rows(rows or KINDS[kind].rows)


def row_pieces(
    kind: str | None, tokens_read: Sequence[str], rows: str | None = None
) -> list[tuple[str, ...]]:
    """The pieces each query row's label names: (read,), (predicted,) or (read, predicted)."""
    read = [str(t) for t in tokens_read]
    named = {"read": (read,), "predicted": (predicted_pieces(read),), "both": (read, predicted_pieces(read))}
    return list(zip(*named[row_mode(kind, rows)], strict=True))


def query_labels(kind: str | None, tokens_read: Sequence[str], rows: str | None = None) -> list[str]:
    """Row labels of a kind's queries (unescaped): "▁Der", "▁alt" or "▁Der → ▁alt" (see module doc).

    Encoder rows are their pieces whatever `rows` says. One label per position of `tokens_read`.
    """
    return [" → ".join(pieces) for pieces in row_pieces(kind, tokens_read, rows)]


def query_hover(kind: str | None, tokens_read: Sequence[str]) -> list[str]:
    """Hover text of each query row, escaped: "3: ▁old", or for a decoder row "3: reads ▁e, predicts ▁Mann"."""
    if kind not in KINDS or not KINDS[kind].predicts:
        return [f"{p}: {esc(t)}" for p, t in enumerate(tokens_read)]
    predicted = predicted_pieces(tokens_read)
    return [f"{p}: reads {esc(r)}, predicts {esc(n)}" for p, (r, n) in enumerate(zip(tokens_read, predicted))]


@dataclass(frozen=True)
class Axes:
    """Everything a figure writes on its query (y) and key (x) axes, for the rows and columns it draws.

    q_pos, k_pos: the original positions drawn (all, or what `hide_specials` kept), int arrays.
    q_ticks, k_ticks: tick labels (escaped); q_hover, k_hover: hover text "pos: ..." (escaped).
    y_title, x_title: axis titles; mask: (n_q, n_k) bool, True where the causal mask forbids looking.
    """

    q_pos: np.ndarray
    k_pos: np.ndarray
    q_ticks: list[str]
    k_ticks: list[str]
    q_hover: list[str]
    k_hover: list[str]
    y_title: str
    x_title: str
    mask: np.ndarray


def _positions(pos, n: int, n_tokens: int, side: str) -> np.ndarray:
    out = np.arange(n) if pos is None else np.asarray(pos, dtype=np.int64).ravel()
    if len(out) != n:
        raise ValueError(f"{len(out)} {side} positions for {n} {side} rows/columns of weights")
    if len(out) and (out.min() < 0 or out.max() >= n_tokens):
        raise ValueError(f"{side} positions {out.tolist()} outside the {n_tokens} {side} pieces")
    return out


def axes(
    kind: str | None,
    q_tokens: Sequence[str],
    k_tokens: Sequence[str],
    shape: tuple[int, int],
    rows: str | None = None,
    q_pos=None,
    k_pos=None,
) -> Axes:
    """Labels and titles of a (n_q, n_k) block of a kind's attention whose rows/columns sit at q_pos/k_pos.

    q_tokens, k_tokens: the pieces read at every position of each side (the whole sentence, so a
    decoder row can name the piece after it even when that piece's own row is hidden).
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {tuple(KINDS)} or None, got {kind!r}")
    rows = None if rows is None else check_rows(rows)
    q = _positions(q_pos, shape[0], len(q_tokens), "query")
    k = _positions(k_pos, shape[1], len(k_tokens), "key")
    q_lab, q_hov = query_labels(kind, q_tokens, rows), query_hover(kind, q_tokens)
    k_hov = query_hover(None, k_tokens)  # a key is its piece, on either side
    is_causal = kind == "decoder"
    return Axes(
        q_pos=q,
        k_pos=k,
        q_ticks=[esc(q_lab[p]) for p in q],
        k_ticks=[esc(k_tokens[p]) for p in k],
        q_hover=[q_hov[p] for p in q],
        k_hover=[k_hov[p] for p in k],
        y_title=query_title(kind, rows),
        x_title=key_title(kind),
        mask=(k[None, :] > q[:, None]) if is_causal else np.zeros((len(q), len(k)), dtype=bool),
    )
