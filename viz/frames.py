"""Captured tensors -> tidy pandas DataFrames, one row per observation.

Every figure in `viz` is drawn from one of these frames, so what a student sees can
also be exported as CSV. The frames cover scaled dot-product attention (paper §3.2),
the output softmax (§3.4) and the sinusoidal positional encoding (§3.5).

Inputs are plain arrays: torch tensors, numpy arrays or nested lists; torch is never
imported. Layer and head numbers are the tensor indices (0-based), as in bertviz.

Frame contracts (columns, in order):
    attention_frame      layer, head, q_pos, k_pos, query, key, weight, kind
    topk_frame           step, rank, token_id, token, prob
    pe_frame             position, dim, wave, wavelength, value
    pe_similarity_frame  pos_i, pos_j, similarity
    embedding_sum_frame  component, position, token, dim, value
    head_summary_frame   layer, head, kind, entropy_bits, max_weight, mean_distance, self_weight
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

SPECIAL_TOKENS = frozenset({"<s>", "</s>", "<pad>", "<unk>"})
ATTENTION_KINDS = ("encoder", "decoder", "cross")
ATTENTION_COLUMNS = ["layer", "head", "q_pos", "k_pos", "query", "key", "weight", "kind"]
MEAN_HEAD = -1  # `head` value of rows averaged over heads; keeps the column integer


def as_array(x, name: str = "array") -> np.ndarray:
    """Any tensor-like (torch, numpy, nested list) -> float64 numpy array."""
    if hasattr(x, "detach"):  # a torch tensor: duck-typed so viz never imports torch
        x = x.detach().to("cpu").float().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be numeric array-like, got {type(x).__name__}") from err


def token_labels(tokens: Sequence[str]) -> list[str]:
    """["▁the", "▁cat", "▁the"] -> ["0:▁the", "1:▁cat", "2:▁the"] (repeated words stay distinct)."""
    return [f"{i}:{t}" for i, t in enumerate(tokens)]


# --- attention (§3.2) -------------------------------------------------------------------------


def attention_frame(attn, q_tokens: Sequence[str], k_tokens: Sequence[str], kind: str) -> pd.DataFrame:
    """Attention weights (L, H, T_q, T_k) + one token list per side -> tidy frame of L·H·T_q·T_k rows.

    `kind` is "encoder" (T_q = T_k = S), "decoder" (T_q = T_k = T, zero above the diagonal)
    or "cross" (queries from the decoder, keys from the encoder: T_q = T, T_k = S).
    Rows are ordered by layer, head, q_pos, k_pos. Raises one ValueError naming every problem.
    """
    a = as_array(attn, f"{kind} attention")
    problems = []
    if kind not in ATTENTION_KINDS:
        problems.append(f"kind must be one of {ATTENTION_KINDS}, got {kind!r}")
    if a.ndim != 4:
        problems.append(f"attention must have shape (layers, heads, q_len, k_len), got shape {a.shape}")
    else:
        _, _, tq, tk = a.shape
        if len(q_tokens) != tq:
            problems.append(f"{len(q_tokens)} query tokens for q_len={tq}")
        if len(k_tokens) != tk:
            problems.append(f"{len(k_tokens)} key tokens for k_len={tk}")
        if kind in ("encoder", "decoder") and tq != tk:
            problems.append(f"{kind} self-attention must be square, got q_len={tq}, k_len={tk}")
    if problems:
        raise ValueError(f"attention_frame({kind!r}): " + "; ".join(problems))

    layer, head, q, k = (ix.ravel() for ix in np.indices(a.shape))  # C order = row order
    return pd.DataFrame(
        {
            "layer": layer,
            "head": head,
            "q_pos": q,
            "k_pos": k,
            "query": np.asarray(list(q_tokens), dtype=object)[q],
            "key": np.asarray(list(k_tokens), dtype=object)[k],
            "weight": a.ravel(),
            "kind": kind,
        }
    )


def trace_attention_frames(trace) -> dict[str, pd.DataFrame]:
    """All attention of a trace (duck-typed: .src_tokens, .tgt_tokens, .attention) -> {kind: frame}.

    Decoder and cross rows use the decoder INPUT pieces (row t predicts token t+1).
    """
    sides = {
        "encoder": (trace.src_tokens, trace.src_tokens),
        "decoder": (trace.tgt_tokens, trace.tgt_tokens),
        "cross": (trace.tgt_tokens, trace.src_tokens),
    }
    return {
        kind: attention_frame(trace.attention[kind], q, k, kind)
        for kind, (q, k) in sides.items()
        if kind in trace.attention
    }


def average_heads(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean over heads of each layer; the result's `head` column is MEAN_HEAD (-1)."""
    out = frame.groupby(["layer", "q_pos", "k_pos"], sort=True, as_index=False).agg(
        query=("query", "first"), key=("key", "first"), weight=("weight", "mean")
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


def hide_specials(
    frame: pd.DataFrame, specials: Sequence[str] = SPECIAL_TOKENS, renormalize: bool = True
) -> pd.DataFrame:
    """Drop query rows and key columns whose token is special; optionally rescale rows to sum to 1.

    Positions (q_pos, k_pos) keep their original values. A query row whose visible
    weights sum to 0 (it attended only to specials) stays all-zero instead of dividing by 0.
    """
    specials = set(specials)
    keep = ~frame["query"].isin(specials) & ~frame["key"].isin(specials)
    out = frame[keep].reset_index(drop=True)
    if renormalize and len(out):
        total = out.groupby(["layer", "head", "q_pos"])["weight"].transform("sum").to_numpy()
        w = out["weight"].to_numpy()
        out["weight"] = np.divide(w, total, out=np.zeros_like(w), where=total > 0)
    return out


@dataclass(frozen=True)
class AttentionGrid:
    """A tidy attention frame back as dense arrays, for drawing.

    z: (n_layers, n_heads, n_q, n_k); cells missing from the frame are NaN.
    layers, heads, q_pos, k_pos: the original indices along each axis (sorted).
    queries, keys: the token at each q_pos / k_pos.
    """

    z: np.ndarray
    layers: np.ndarray
    heads: np.ndarray
    q_pos: np.ndarray
    k_pos: np.ndarray
    queries: list[str]
    keys: list[str]
    kind: str | None

    @property
    def causal_mask(self) -> np.ndarray:
        """(n_q, n_k) bool, True where the decoder may NOT look (key after query); all False otherwise."""
        if self.kind != "decoder":
            return np.zeros((len(self.q_pos), len(self.k_pos)), dtype=bool)
        return self.k_pos[None, :] > self.q_pos[:, None]


def _first_rows(inverse: np.ndarray, n: int) -> np.ndarray:
    """Row number of the first occurrence of each of n codes (reverse assignment: the first write wins)."""
    first = np.empty(n, dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(inverse) - 1, -1, -1)
    return first


def attention_grid(frame: pd.DataFrame) -> AttentionGrid:
    """Tidy attention frame (any subset of rows) -> AttentionGrid of dense arrays."""
    missing = [c for c in ATTENTION_COLUMNS[:7] if c not in frame]
    if missing or frame.empty:
        raise ValueError(f"expected a non-empty attention frame with columns {ATTENTION_COLUMNS[:7]}")
    axes, index = [], []
    for col in ("layer", "head", "q_pos", "k_pos"):
        inverse, values = pd.factorize(frame[col].to_numpy(), sort=True)  # hashing: O(n), unlike np.unique
        axes.append(np.asarray(values))
        index.append(inverse)
    z = np.full([len(v) for v in axes], np.nan)
    z[tuple(index)] = frame["weight"].to_numpy()
    queries = frame["query"].iloc[_first_rows(index[2], len(axes[2]))].tolist()  # one token per q_pos
    keys = frame["key"].iloc[_first_rows(index[3], len(axes[3]))].tolist()
    kinds = frame["kind"].unique() if "kind" in frame else [None]
    if len(kinds) > 1:
        raise ValueError(f"frame mixes attention kinds {list(kinds)}; select one first")
    return AttentionGrid(z, *axes, [str(t) for t in queries], [str(t) for t in keys], kinds[0])


def head_summary_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (layer, head): what kind of pattern the head has.

    entropy_bits: mean over query rows of -Σ w·log2 w (0 = one key, log2 n = uniform);
    max_weight: mean of each row's largest weight; mean_distance: mean of Σ w·|q_pos − k_pos|
    (for "cross" the positions are in different sentences, so read it as alignment);
    self_weight: mean weight on k_pos == q_pos (NaN for cross-attention).
    """
    g = attention_grid(frame)
    z = np.nan_to_num(g.z)  # (L, H, Q, K); missing cells weigh 0
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(z > 0, z * np.log2(z), 0.0)
    dist = np.abs(g.q_pos[:, None] - g.k_pos[None, :])  # (Q, K)
    same = g.q_pos[:, None] == g.k_pos[None, :]
    layer, head = (ix.ravel() for ix in np.indices(z.shape[:2]))
    return pd.DataFrame(
        {
            "layer": g.layers[layer],
            "head": g.heads[head],
            "kind": g.kind,
            "entropy_bits": -plogp.sum(-1).mean(-1).ravel(),
            "max_weight": z.max(-1).mean(-1).ravel(),
            "mean_distance": (z * dist).sum(-1).mean(-1).ravel(),
            "self_weight": (
                np.full(layer.size, np.nan) if g.kind == "cross" else (z * same).sum(-1).mean(-1).ravel()
            ),
        }
    )


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
    p = as_array(probs, "probs")
    if p.ndim != 2:
        raise ValueError(f"probs must have shape (T, vocab_size), got {p.shape}")
    n_steps, vocab = p.shape
    chosen = np.arange(n_steps) if steps is None else np.atleast_1d(np.asarray(steps, dtype=int))
    if chosen.size and (chosen.min() < 0 or chosen.max() >= n_steps):
        raise ValueError(f"steps {chosen.tolist()} outside 0..{n_steps - 1}")
    k = max(1, min(int(k), vocab))
    rows = p[chosen]  # (n, V)
    top = np.argpartition(-rows, k - 1, axis=1)[:, :k]  # O(V) instead of a full sort
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


def _pe_matrix(pe) -> np.ndarray:
    m = as_array(pe, "positional encoding")
    if m.ndim != 2:
        raise ValueError(f"positional encoding must have shape (positions, d_model), got {m.shape}")
    return m


def pe_frame(pe) -> pd.DataFrame:
    """PE (positions, d_model) -> columns position, dim, wave ("sin"/"cos"), wavelength, value.

    wavelength is the paper's 2π·10000^(2i/d_model) for the pair i = dim // 2.
    """
    m = _pe_matrix(pe)
    n, d = m.shape
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
    m = _pe_matrix(pe)
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


def embedding_sum_frame(token_emb, pe, total, tokens: Sequence[str]) -> pd.DataFrame:
    """Token embedding·√d_model, positional encoding and their sum, each (S, d_model), side by side.

    Columns: component ("token", "position", "sum"), position, token, dim, value.
    """
    parts = {"token": token_emb, "position": pe, "sum": total}
    arrays = {name: as_array(x, name) for name, x in parts.items()}
    shapes = {name: a.shape for name, a in arrays.items()}
    first = arrays["token"].shape
    if any(a.ndim != 2 or a.shape != first for a in arrays.values()) or len(tokens) != first[0]:
        raise ValueError(
            f"embedding_sum_frame needs three (S, d_model) arrays and S tokens; "
            f"got shapes {shapes} and {len(tokens)} tokens"
        )
    position, dim = (ix.ravel() for ix in np.indices(first))
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
