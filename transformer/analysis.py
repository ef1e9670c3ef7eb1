"""What the app and a notebook compute *about* a model's run, beyond the run itself.

Tensor and array maths only, defined once here and tested here: the views call these functions and
draw what they return (`viz` draws, `app_support` shows). Each section names the idea it serves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from transformer.capture import HookFn, hooks
from transformer.kinds import KINDS
from transformer.model import Transformer

# --- attention flow and the residual stream ------------------------------------------------------------
# (rollout through the encoder, cross-attention composed with it, how far the residual stream moved
# between two sentences)


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

    One set of heads (`[off]`) applies to every batch row: the rows of a beam, one sentence. Several sets
    apply one per batch row, variants[b] to row b: many ablations of one sentence in one forward pass.
    """
    every_row = len(variants) == 1
    where: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for b, off in enumerate(variants):
        for kind, layer, head in off:
            where.setdefault((kind, layer), []).append((b, int(head)))
    result = []
    for (kind, layer), pairs in where.items():
        rows = torch.tensor([b for b, _ in pairs])
        heads = torch.tensor([h for _, h in pairs])

        def zero(module, inputs, z, rows=rows, heads=heads):
            z = z.clone()
            if every_row:
                z[:, heads] = 0.0
            else:
                z[rows, heads] = 0.0  # (pairs, T_q, d_head): row b's heads only
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
