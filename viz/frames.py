"""Captured tensors -> dense arrays for the figures, and tidy pandas DataFrames for CSV and notebooks.

The figures in `viz` take attention as dense arrays (numpy, torch or nested lists, read by
`as_array`; torch is never imported here) in one of three shapes:

    one head (or the head mean)  (q_len, k_len)                 `head_weights(attn, layer, head)`
    one layer                    (heads, q_len, k_len)          `attn[layer]`
    one kind                     (layers, heads, q_len, k_len)  `trace.attention[kind]`

plus the pieces of each side (`viz.labels.side_tokens`). `hide_specials` drops the rows and
columns of special pieces from such an array and says which positions are left. The tidy
frames below hold the same numbers one row per observation, for a CSV export or a pandas
session. They cover scaled dot-product attention (paper §3.2), the output softmax (§3.4) and
the sinusoidal positional encoding (§3.5). Layer and head numbers are the tensor indices
(0-based), as in bertviz; the head mean is head MEAN_HEAD (-1).

Frame contracts (columns, in order):
    attention_frame      layer, head, q_pos, k_pos, query, key, weight, kind, query_read, query_predicted
    topk_frame           step, rank, token_id, token, prob
    pe_frame             position, dim, wave, wavelength, value
    pe_similarity_frame  pos_i, pos_j, similarity
    embedding_sum_frame  component, position, token, dim, value
    head_summary_frame   layer, head, kind, entropy_bits, max_weight, mean_distance, self_weight
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from transformer.arrays import as_array
from transformer.kinds import KIND_NAMES, KINDS, MEAN_HEAD
from transformer.tokenizer import SPECIAL_PIECES
from viz.labels import predicted_pieces, row_pieces, side_tokens

SPECIAL_TOKENS = frozenset(SPECIAL_PIECES)
LAYERS_SHAPE = "(layers, heads, q_len, k_len)"  # one kind's attention, as captured
ATTENTION_COLUMNS = [
    "layer", "head", "q_pos", "k_pos", "query", "key", "weight", "kind", "query_read", "query_predicted",
]  # fmt: skip


def array_of(x, shape: str, what: str) -> np.ndarray:
    """`as_array` that refuses any number of axes but the one `shape` names, e.g. "(q_len, k_len)"."""
    a = as_array(x, what)
    if a.ndim != shape.count(",") + 1:
        raise ValueError(f"{what} must have shape {shape}, got shape {a.shape}")
    return a


def token_labels(tokens: Sequence[str]) -> list[str]:
    """["▁the", "▁cat", "▁the"] -> ["0:▁the", "1:▁cat", "2:▁the"] (repeated words stay distinct)."""
    return [f"{i}:{t}" for i, t in enumerate(tokens)]


# --- attention (§3.2) as arrays ---------------------------------------------------------------


def head_weights(attn, layer: int, head: int) -> np.ndarray:
    """One head of one layer of a kind's attention (layers, heads, q_len, k_len) -> (q_len, k_len).

    head == MEAN_HEAD (-1) averages the layer's heads.
    """
    a = array_of(attn, LAYERS_SHAPE, "attention")
    n_layers, n_heads = a.shape[:2]
    if not 0 <= layer < n_layers:
        raise ValueError(f"layer {layer} outside 0..{n_layers - 1}")
    if head == MEAN_HEAD:
        return a[layer].mean(0)
    if not 0 <= head < n_heads:
        raise ValueError(f"head {head!r} outside 0..{n_heads - 1} (or MEAN_HEAD = {MEAN_HEAD} for the mean)")
    return a[layer, head]


def row_shares(values) -> np.ndarray:
    """(q_len, k_len) values of any sign (an attribution) -> |values| with each row rescaled to sum to 1, so it
    reads like attention weights; a row of zeros stays zero."""
    a = np.abs(array_of(values, "(q_len, k_len)", "values").astype(np.float64))
    total = a.sum(axis=-1, keepdims=True)
    return np.divide(a, total, out=np.zeros_like(a), where=total > 0).astype(np.float32)


class Shown(NamedTuple):
    """What is left of an attention array once special pieces are hidden, and where it sits."""

    weights: np.ndarray  # (..., n_q, n_k)
    q_pos: np.ndarray  # (n_q,) original query positions kept
    k_pos: np.ndarray  # (n_k,) original key positions kept


def hide_specials(
    weights,
    q_tokens: Sequence[str],
    k_tokens: Sequence[str],
    *,
    kind: str | None = None,
    rows: str | None = None,
    renormalize: bool = True,
) -> Shown:
    """Drop query rows and key columns of special pieces from (..., q_len, k_len); rows rescaled to sum to 1.

    A key column goes when its piece is special. A query row goes when every piece its label names
    is special (`viz.labels.row_pieces` with `kind` and `rows`): by default an encoder row by its
    piece, a cross-attention row by the piece it predicts (so the row that reads "<s>" and predicts
    the first word stays, and the row that predicts "</s>" goes). Pass the result's q_pos and k_pos
    to the figure, which labels what is left by its original positions. A row whose visible
    weights sum to 0 stays all-zero instead of dividing by 0.
    """
    a = as_array(weights, "attention")
    if a.ndim < 2 or a.shape[-2:] != (len(q_tokens), len(k_tokens)):
        raise ValueError(
            f"hide_specials: weights of shape {a.shape} do not end in "
            f"(q_len, k_len) = ({len(q_tokens)}, {len(k_tokens)})"
        )
    q_keep = np.array([not set(p) <= SPECIAL_TOKENS for p in row_pieces(kind, q_tokens, rows)], dtype=bool)
    k_keep = np.array([t not in SPECIAL_TOKENS for t in k_tokens], dtype=bool)
    out = a[..., q_keep, :][..., k_keep]
    if renormalize and out.size:
        total = out.sum(-1, keepdims=True)
        out = np.divide(out, total, out=np.zeros_like(out), where=total > 0)
    return Shown(out, np.flatnonzero(q_keep), np.flatnonzero(k_keep))


def head_summary_frame(
    weights,
    *,
    kind: str | None = None,
    layers: Sequence[int] | None = None,
    heads: Sequence[int] | None = None,
    q_pos=None,
    k_pos=None,
) -> pd.DataFrame:
    """One row per (layer, head) of a kind's attention (layers, heads, q_len, k_len): its pattern.

    layers, heads: the numbers of the array's layers and heads (default 0, 1, ...); q_pos, k_pos:
    the positions of its rows and columns (default all; pass `hide_specials`'s when specials are hidden).
    entropy_bits: mean over query rows of -Σ w·log2 w (0 = one key, log2 n = uniform);
    max_weight: mean of each row's largest weight; mean_distance: mean of Σ w·|q_pos − k_pos|
    (for "cross" the positions are in different sentences, so read it as alignment);
    self_weight: mean weight on k_pos == q_pos (NaN for cross-attention).
    """
    z = np.nan_to_num(array_of(weights, LAYERS_SHAPE, "attention"))  # (L, H, Q, K); NaN cells weigh 0
    n_l, n_h, n_q, n_k = z.shape
    q = np.arange(n_q) if q_pos is None else np.asarray(q_pos)
    k = np.arange(n_k) if k_pos is None else np.asarray(k_pos)
    layer_no = np.arange(n_l) if layers is None else np.asarray(layers)
    head_no = np.arange(n_h) if heads is None else np.asarray(heads)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(z > 0, z * np.log2(z), 0.0)
    dist = np.abs(q[:, None] - k[None, :])  # (Q, K)
    same = q[:, None] == k[None, :]
    layer, head = (ix.ravel() for ix in np.indices((n_l, n_h)))
    return pd.DataFrame(
        {
            "layer": layer_no[layer],
            "head": head_no[head],
            "kind": kind,
            "entropy_bits": -plogp.sum(-1).mean(-1).ravel(),
            "max_weight": z.max(-1).mean(-1).ravel(),
            "mean_distance": (z * dist).sum(-1).mean(-1).ravel(),
            "self_weight": (
                np.full(layer.size, np.nan) if kind == "cross" else (z * same).sum(-1).mean(-1).ravel()
            ),
        }
    )


# --- attention (§3.2) as tidy frames: CSV and notebooks ---------------------------------------


def attention_frame(attn, q_tokens: Sequence[str], k_tokens: Sequence[str], kind: str) -> pd.DataFrame:
    """Attention weights (L, H, T_q, T_k) + one token list per side -> tidy frame of L·H·T_q·T_k rows.

    `kind` is "encoder" (T_q = T_k = S), "decoder" (T_q = T_k = T, zero above the diagonal)
    or "cross" (queries from the decoder, keys from the encoder: T_q = T, T_k = S).
    `query` is the piece at the query position; `query_read` the same, and `query_predicted` the
    piece a decoder row predicts (the next piece, "</s>" after the last; empty for encoder rows).
    Rows are ordered by layer, head, q_pos, k_pos. Raises one ValueError naming every problem.
    """
    a = as_array(attn, f"{kind} attention")
    tq, tk = a.shape[2:] if a.ndim == 4 else (len(q_tokens), len(k_tokens))  # no shape: no length to check
    checks = {
        f"kind must be one of {KIND_NAMES}, got {kind!r}": kind not in KIND_NAMES,
        f"attention must have shape {LAYERS_SHAPE}, got shape {a.shape}": a.ndim != 4,
        f"{len(q_tokens)} query tokens for q_len={tq}": len(q_tokens) != tq,
        f"{len(k_tokens)} key tokens for k_len={tk}": len(k_tokens) != tk,
        f"{kind} self-attention must be square, got q_len={tq}, k_len={tk}": kind in ("encoder", "decoder")
        and tq != tk,
    }
    problems = [problem for problem, failed in checks.items() if failed]
    if problems:
        raise ValueError(f"attention_frame({kind!r}): " + "; ".join(problems))

    layer, head, q, k = (ix.ravel() for ix in np.indices(a.shape))  # C order = row order
    read = np.asarray(list(q_tokens), dtype=object)
    predicted = np.asarray(
        predicted_pieces(q_tokens) if KINDS[kind].predicts else [""] * len(read), dtype=object
    )
    return pd.DataFrame(
        {
            "layer": layer,
            "head": head,
            "q_pos": q,
            "k_pos": k,
            "query": read[q],
            "key": np.asarray(list(k_tokens), dtype=object)[k],
            "weight": a.ravel(),
            "kind": kind,
            "query_read": read[q],
            "query_predicted": predicted[q],
        }
    )


def trace_attention_frames(trace) -> dict[str, pd.DataFrame]:
    """All attention of a trace (duck-typed: .src_tokens, .tgt_tokens, .attention) -> {kind: frame}.

    Decoder and cross rows use the decoder INPUT pieces (row t reads piece t, predicts piece t+1).
    """
    return {
        kind: attention_frame(trace.attention[kind], *side_tokens(trace, kind), kind)
        for kind in KIND_NAMES
        if kind in trace.attention
    }


def average_heads(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean over heads of each layer of a tidy frame; the result's `head` column is MEAN_HEAD (-1)."""
    pieces = {c: (c, "first") for c in ("query", "key", "query_read", "query_predicted") if c in frame}
    out = frame.groupby(["layer", "q_pos", "k_pos"], sort=True, as_index=False).agg(
        **pieces, weight=("weight", "mean")
    )
    out.insert(1, "head", MEAN_HEAD)
    if "kind" in frame:
        out["kind"] = frame["kind"].iloc[0]
    return out[[c for c in ATTENTION_COLUMNS if c in out]]


def select_head(frame: pd.DataFrame, layer: int, head: int | str) -> pd.DataFrame:
    """Rows of one layer and one head; head="mean" or -1 averages that layer's heads (head column -1)."""
    if layer not in set(frame["layer"].unique().tolist()):
        raise ValueError(f"layer {layer} not in frame (layers {sorted(frame['layer'].unique().tolist())})")
    rows = frame[frame["layer"] == layer]
    if head == "mean" or head == MEAN_HEAD:
        return average_heads(rows)
    if head not in set(rows["head"].unique().tolist()):
        raise ValueError(
            f"head {head!r} not in frame (heads {sorted(rows['head'].unique().tolist())}, or 'mean')"
        )
    return rows[rows["head"] == head].reset_index(drop=True)


# --- output distribution (§3.4) ---------------------------------------------------------------


def topk_frame(
    probs,
    k: int = 10,
    id_to_piece: Callable[[int], str] | None = None,
    steps: int | Sequence[int] | None = None,
) -> pd.DataFrame:
    """Output distribution (T, V) -> the k most likely next tokens at each chosen step.

    Row t of `probs` is the prediction made at decoder input position t, i.e. for token t+1.
    `steps`: one step, several, or None for all. Rank 1 is the most likely token.
    Columns: step, rank, token_id, token, prob.
    """
    p = array_of(probs, "(T, vocab_size)", "probs")
    n_steps, vocab = p.shape
    chosen = np.arange(n_steps) if steps is None else np.atleast_1d(np.asarray(steps, dtype=int))
    if chosen.size and (chosen.min() < 0 or chosen.max() >= n_steps):
        raise ValueError(f"steps {chosen.tolist()} outside 0..{n_steps - 1}")
    k = max(1, min(int(k), vocab))
    rows = p[chosen]  # (n, V)
    if hasattr(probs, "topk"):  # a torch tensor (duck-typed): its topk is 6× numpy's argpartition here
        ids = as_array(probs[chosen.tolist()].topk(k, dim=-1).indices).astype(np.int64)  # (n, k), best first
    else:
        top = np.argpartition(rows, vocab - k, axis=1)[:, vocab - k :]  # O(V) instead of a full sort
        order = np.argsort(-np.take_along_axis(rows, top, 1), axis=1, kind="stable")
        ids = np.take_along_axis(top, order, 1)  # (n, k), best first
    to_piece = id_to_piece or str
    return pd.DataFrame(
        {
            "step": np.repeat(chosen, k),
            "rank": np.tile(np.arange(1, k + 1), len(chosen)),
            "token_id": ids.ravel(),
            "token": [to_piece(int(i)) for i in ids.ravel()],
            "prob": np.take_along_axis(rows, ids, 1).ravel(),
        }
    )


# --- positional encoding (§3.5) ---------------------------------------------------------------


def pe_matrix(pe) -> np.ndarray:
    return array_of(pe, "(positions, d_model)", "positional encoding")


def pe_frame(pe) -> pd.DataFrame:
    """PE (positions, d_model) -> columns position, dim, wave ("sin"/"cos"), wavelength, value.

    wavelength is the paper's 2π·10000^(2i/d_model) for the pair i = dim // 2.
    """
    m = pe_matrix(pe)
    d = m.shape[1]
    position, dim = (ix.ravel() for ix in np.indices(m.shape))
    return pd.DataFrame(
        {
            "position": position,
            "dim": dim,
            "wave": np.where(dim % 2 == 0, "sin", "cos"),
            "wavelength": 2 * np.pi * 10000.0 ** (2 * (dim // 2) / d),
            "value": m.ravel(),
        }
    )


def pe_similarity_matrix(pe, metric: str = "dot") -> np.ndarray:
    """(positions, d_model) -> (positions, positions) of PE(i)·PE(j), or their cosine."""
    m = pe_matrix(pe)
    if metric == "cosine":
        norm = np.linalg.norm(m, axis=1, keepdims=True)
        m = m / np.where(norm > 0, norm, 1.0)
    elif metric != "dot":
        raise ValueError(f"metric must be 'dot' or 'cosine', got {metric!r}")
    return m @ m.T


def pe_similarity_frame(pe, metric: str = "dot") -> pd.DataFrame:
    """Columns pos_i, pos_j, similarity (dot product or cosine of the two PE vectors)."""
    s = pe_similarity_matrix(pe, metric)
    i, j = (ix.ravel() for ix in np.indices(s.shape))
    return pd.DataFrame({"pos_i": i, "pos_j": j, "similarity": s.ravel()})


def embedding_parts(token_emb, pe, total, tokens: Sequence[str]) -> dict[str, np.ndarray]:
    """{"token": token embedding·√d_model, "position": positional encoding, "sum": their sum}, each checked to
    be (S, d_model) for the S tokens."""
    arrays = {name: as_array(x, name) for name, x in (("token", token_emb), ("position", pe), ("sum", total))}
    shapes = {name: a.shape for name, a in arrays.items()}
    first = shapes["token"]
    if len(first) != 2 or set(shapes.values()) != {first} or len(tokens) != first[0]:
        raise ValueError(
            f"embedding_sum_frame needs three (S, d_model) arrays and S tokens; "
            f"got shapes {shapes} and {len(tokens)} tokens"
        )
    return arrays


def embedding_sum_frame(token_emb, pe, total, tokens: Sequence[str]) -> pd.DataFrame:
    """Token embedding·√d_model, positional encoding and their sum, each (S, d_model), side by side.

    Columns: component ("token", "position", "sum"), position, token, dim, value.
    """
    arrays = embedding_parts(token_emb, pe, total, tokens)
    position, dim = (ix.ravel() for ix in np.indices(arrays["token"].shape))
    token = np.asarray(list(tokens), dtype=object)[position]
    return pd.concat(
        [
            pd.DataFrame(
                {"component": name, "position": position, "token": token, "dim": dim, "value": a.ravel()}
            )
            for name, a in arrays.items()
        ],
        ignore_index=True,
    )
