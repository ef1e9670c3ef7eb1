"""What the app and a notebook compute *about* a model's run, beyond the run itself.

Tensor and array maths only, defined once here and tested here: the views call these functions and
draw what they return (`viz` draws, `app_support` shows). Each section names the idea it serves.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from transformer.arrays import as_array
from transformer.capture import HookFn, hooks
from transformer.kinds import KINDS
from transformer.model import Transformer

# --- attention flow and the residual stream ------------------------------------------------------------
# (rollout through the encoder, cross-attention composed with it, how far the residual stream moved
# between two sentences)


def attention_rollout(attn, residual: float = 0.5) -> np.ndarray:
    """Encoder self-attention (L, H, S, S) -> cumulative rollout after each layer (L, S, S).

    Attention flow, not only attention (Abnar & Zuidema, 2020): a row of cross-attention says how much the
    decoder reads each position of the encoder's *output*, but each of those positions has already mixed
    in the other source pieces. Rollout treats every layer as attention plus the residual connection,
    Â = residual·I + (1 − residual)·A with A the head-averaged pattern, renormalises the rows and multiplies
    the layers' matrices in order. Row i of result[l] is how much each input piece j has flowed into
    position i by the output of layer l; every row sums to 1. It is an estimate: it ignores the values,
    W_O, the feed-forward networks and the LayerNorms.
    """
    a = as_array(attn, "encoder attention")
    if a.ndim != 4 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"encoder attention must have shape (layers, heads, S, S), got {a.shape}")
    if not 0.0 <= residual <= 1.0:
        raise ValueError(f"residual must be in [0, 1], got {residual}")
    n = a.shape[-1]
    flow = np.eye(n)
    out = []
    for layer in a.mean(axis=1):  # (S, S) heads averaged
        step = residual * np.eye(n) + (1.0 - residual) * layer
        step = step / step.sum(axis=-1, keepdims=True)
        flow = step @ flow  # this layer mixes what the previous layers already mixed
        out.append(flow)
    return np.stack(out)


def cross_relevance(cross, rollout) -> np.ndarray:
    """Cross-attention of one layer (T, S) or (heads, T, S), heads averaged, composed with the encoder's
    final rollout (S, S): (T, S), how much each source *input* piece reaches each decoder row."""
    c = as_array(cross, "cross-attention")
    if c.ndim == 3:
        c = c.mean(axis=0)
    r = as_array(rollout, "rollout")
    if c.ndim != 2 or r.shape != (c.shape[1], c.shape[1]):
        raise ValueError(f"need cross (T, S) and rollout (S, S), got {c.shape} and {r.shape}")
    return c @ r


@dataclass(frozen=True)
class Pairing:
    """Which position of sentence b partners each paired position of sentence a (same order), for minimal
    pairs ("The cat sleeps." / "The cats sleep."). a, b: int arrays of equal length; unpaired_a, unpaired_b:
    positions with no partner; lined_up: every position of both sides is paired."""

    a: np.ndarray
    b: np.ndarray
    unpaired_a: list[int]
    unpaired_b: list[int]

    @property
    def lined_up(self) -> bool:
        return not self.unpaired_a and not self.unpaired_b

    def __len__(self) -> int:
        return len(self.a)

    def labels(self, a_labels: Sequence[str], b_labels: Sequence[str]) -> list[str]:
        """One label per pair (unescaped): the piece when both are the same, else "a / b" ("▁cat / ▁dog")."""
        out = []
        for i, j in zip(self.a.tolist(), self.b.tolist(), strict=True):
            x, y = str(a_labels[i]), str(b_labels[j])
            out.append(x if x == y else f"{x} / {y}")
        return out


def pair_positions(a: Sequence[str], b: Sequence[str]) -> Pairing:
    """Pair the positions of two piece lists: equal pieces in order (`difflib`), and same-length replacements
    one for one. "▁The ▁cat ▁sleep s ." / "▁The ▁cat s ▁sleep ." pairs ▁The, ▁cat, ▁sleep and "." and leaves
    each "s" unpaired; "▁The ▁cat …" / "▁The ▁dog …" pairs ▁cat with ▁dog."""
    a, b = [str(t) for t in a], [str(t) for t in b]
    pa: list[int] = []
    pb: list[int] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            pa += range(i1, i2)
            pb += range(j1, j2)
    seen_a, seen_b = set(pa), set(pb)
    return Pairing(
        a=np.asarray(pa, dtype=np.int64),
        b=np.asarray(pb, dtype=np.int64),
        unpaired_a=[i for i in range(len(a)) if i not in seen_a],
        unpaired_b=[j for j in range(len(b)) if j not in seen_b],
    )


def attention_difference(wa, wb, rows: Pairing, cols: Pairing) -> np.ndarray:
    """b − a of two (q_len, k_len) attention maps on their paired rows and columns: (len(rows), len(cols))."""
    a = as_array(wa, "first attention")
    b = as_array(wb, "second attention")
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"need two (q_len, k_len) maps, got {a.shape} and {b.shape}")
    return b[np.ix_(rows.b, cols.b)] - a[np.ix_(rows.a, cols.a)]


def stream_shift(ha, hb, pairing: Pairing) -> np.ndarray:
    """How far each paired position's residual stream moved: (stages, len(pairing)).

    ha, hb: (stages, len, d_model) hidden states of the two sentences (Trace.hidden["encoder"] etc.).
    The value is ‖b − a‖ / ‖a‖, the distance as a share of the first sentence's vector length (0 = the
    same vector, 1 = moved as far as the vector is long).
    """
    a = as_array(ha, "first hidden states")
    b = as_array(hb, "second hidden states")
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[2]:
        raise ValueError(
            f"need (stages, len, d_model) for both with equal stages and d, got {a.shape}, {b.shape}"
        )
    va, vb = a[:, pairing.a], b[:, pairing.b]
    return np.linalg.norm(vb - va, axis=-1) / np.maximum(np.linalg.norm(va, axis=-1), 1e-12)


def most_moved_layer(shift) -> tuple[int, float, float] | None:
    """The layer that moves the paired positions furthest apart, from `stream_shift` (stages, positions):
    the largest rise of their mean shift from a layer's input (stage L) to its output (stage L + 1).
    (layer, mean shift into it, mean shift after it); None without layers or positions, and None when no
    layer raises the mean (each keeps or shrinks the distance: none "moves" the positions apart)."""
    z = as_array(shift, "shift")
    if z.ndim != 2 or z.shape[0] < 2 or z.shape[1] == 0:
        return None
    mean = z.mean(axis=1)
    rise = np.diff(mean)
    layer = int(np.argmax(rise))
    return (layer, float(mean[layer]), float(mean[layer + 1])) if rise[layer] > 0 else None


# --- experiments: teacher-forced scores, heads switched off ----------------------------------------------
# (the decoder input rebuilt from generated ids, per-piece log-probabilities and ranks, batched per-row
# ablation of attention heads)

Head = tuple[
    str, int, int
]  # (kind, layer, head), 0-based as in the figures: ("cross", 2, 0) is "cross L2 H0"
CHUNK = 16  # teacher-forced variants per batched forward pass (bounds memory on long sentences)


def decoder_input(generated: Sequence[int], pad_id: int | None, eos_id: int) -> list[int]:
    """Generated ids (start id, pieces, `</s>`, padding) -> the decoder input a trace reads.

    The start id and the pieces; no padding (after the start id, which in a Marian model *is* the pad id)
    and no `</s>`: the last decoder position is the one that predicts it.
    """
    ids = list(generated[:1]) + [i for i in generated[1:] if i != pad_id]
    return ids[:-1] if len(ids) > 1 and ids[-1] == eos_id else ids


def predicted_ids(tgt_ids: Sequence[int], eos_id: int) -> list[int]:
    """The piece each decoder position predicts (teacher forcing, §5): the next piece of the input, then `</s>`."""
    return [*list(tgt_ids)[1:], eos_id]


def zero_heads(variants: Sequence[Iterable[Head]]) -> list[tuple[str, HookFn]]:
    """Hooks that switch attention heads off: each head's output, hook_z (B, H, T_q, d_head), set to zero
    before W_O, as if the head were cut out of the model.

    The batch is read as len(variants) equal blocks of rows, variants[b] applied to block b. One set
    (`[off]`) applies to every row: a beam, one sentence. n sets apply one per row of a batch of n (many
    ablations of one sentence in one forward pass), or one per block of `beam` rows in a beam search over
    n copies of a sentence, whose encoder reads one row per set (`decoding.beam_search_batch`).
    """
    n = len(variants)
    where: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for b, off in enumerate(variants):
        for kind, layer, head in off:
            where.setdefault((kind, layer), []).append((b, int(head)))
    result = []
    for (kind, layer), pairs in where.items():
        blocks = torch.tensor([b for b, _ in pairs])
        heads = torch.tensor([h for _, h in pairs])

        def zero(module, inputs, z, blocks=blocks, heads=heads):
            k, rest = divmod(z.shape[0], n)
            if rest:
                raise ValueError(f"{n} sets of heads off need a batch of whole blocks, got {z.shape[0]} rows")
            rows = (blocks[:, None] * k + torch.arange(k)).flatten()  # (pairs * k,) each block's rows
            z = z.clone()
            z[rows, heads.repeat_interleave(k)] = 0.0
            return z

        result.append((KINDS[kind].path(layer) + ".hook_z", zero))
    return result


@dataclass(frozen=True)
class PieceScores:
    """Per variant (a set of heads off) and per decoder position t, about the piece t predicts."""

    logp: np.ndarray  # (n, T) natural log-probability of the piece predicted
    rank: np.ndarray  # (n, T) its rank among all pieces (1 = the model's first choice)
    top_id: np.ndarray  # (n, T) the model's first choice there
    top_logp: np.ndarray  # (n, T) and its log-probability


@torch.no_grad()
def piece_scores(
    model: Transformer,
    src_ids: Sequence[int],
    tgt_ids: Sequence[int],
    variants: Sequence[Iterable[Head]] = ((),),
) -> PieceScores:
    """Teacher-forced scores of the pieces `tgt_ids` predicts (tgt_ids[1:] + `</s>`), once per variant.

    tgt_ids is the decoder input (starting with the start id). A variant is a set of heads switched off;
    () is the model as trained. Variants run as rows of one batch, each row with its own heads zeroed
    (`zero_heads`), CHUNK rows per forward pass.
    """
    if model.training:
        raise RuntimeError("piece_scores needs the model in eval mode")
    device = next(model.parameters()).device
    target = torch.tensor(predicted_ids(tgt_ids, model.config.eos_id), device=device)
    src = torch.tensor([list(src_ids)], dtype=torch.long, device=device)
    tgt = torch.tensor([list(tgt_ids)], dtype=torch.long, device=device)
    parts = []
    for start in range(0, len(variants), CHUNK):
        chunk = [tuple(v) for v in variants[start : start + CHUNK]]
        n = len(chunk)
        with hooks(model, zero_heads(chunk)):
            logits = model(src.expand(n, -1), tgt.expand(n, -1)).float()  # (n, T, V)
        logp = logits.log_softmax(-1)
        mine = logp.gather(-1, target.expand(n, -1)[..., None])[..., 0]  # (n, T)
        top = logp.max(-1)
        rank = (logp > mine[..., None]).sum(-1) + 1
        parts.append((mine, rank, top.indices, top.values))
    logp, rank, top_id, top_logp = (torch.cat(p).cpu().numpy() for p in zip(*parts, strict=True))
    return PieceScores(logp=logp, rank=rank, top_id=top_id, top_logp=top_logp)
