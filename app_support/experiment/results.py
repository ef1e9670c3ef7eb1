"""Experiments on one sentence: attention heads switched off, a translation typed by a person.

Both read the model teacher-forced: the decoder is given a translation piece by piece and says how
likely it finds each next piece. Decoder position t reads piece t and predicts piece t + 1 (`</s>`
after the last), so a translation's log-probability is the sum over the pieces it predicts.

The plain functions (`piece_scores`, `head_effects`) take a `Transformer` and ids and work in a
notebook; the `st.cache_data` wrappers below them take the app's cache key (model path and file
stamp, sentence, beam, max length) plus the heads switched off and the typed target, so two
sessions or two experiments never share a result they should not. Heads are switched off with
hooks that act only for the calling thread (transformer.capture), as the library's are.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st
import torch

import viz
from app_support import heads_off, models
from app_support.heads_off import Off
from transformer.capture import hooks
from transformer.kinds import KINDS
from transformer.model import Transformer
from transformer.pretrained import Pretrained

TARGET_LIMIT = 2000  # characters of a typed translation (as the sentence's TEXT_LIMIT)
SURPRISING = 0.1  # a piece the model gives less than this probability is marked surprising
CHUNK = 16  # teacher-forced variants per batched forward pass (bounds memory on long sentences)


# --- teacher-forced scores under several sets of heads off, in one batched pass ---------------------


@dataclass(frozen=True)
class Scores:
    """Per variant (a set of heads off) and per decoder position t, about the piece t predicts."""

    logp: np.ndarray  # (n, T) natural log-probability of the piece predicted
    rank: np.ndarray  # (n, T) its rank among all pieces (1 = the model's first choice)
    top_id: np.ndarray  # (n, T) the model's first choice there
    top_logp: np.ndarray  # (n, T) and its log-probability


def predicted_ids(tgt_ids: Sequence[int], eos_id: int) -> list[int]:
    """The piece each decoder position predicts: the next piece of the decoder input, then </s>."""
    return [*list(tgt_ids)[1:], eos_id]


def _zeroing_hooks(variants: Sequence[Off]) -> list:
    """One hook per attention module that zeroes, in batch row b, the heads variants[b] switches off."""
    where: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for b, off in enumerate(variants):
        for kind, layer, h in off:
            where.setdefault((kind, layer), []).append((b, h))
    result = []
    for (kind, layer), pairs in where.items():
        rows = torch.tensor([b for b, _ in pairs])
        cols = torch.tensor([h for _, h in pairs])

        def zero(module, inputs, z, rows=rows, cols=cols):
            z = z.clone()
            z[rows, cols] = 0.0  # (pairs, T_q, d_head): those heads' outputs, before W_O
            return z

        result.append((KINDS[kind].path(layer) + ".hook_z", zero))
    return result


@torch.no_grad()
def piece_scores(
    model: Transformer, src_ids: Sequence[int], tgt_ids: Sequence[int], variants: Sequence[Off] = ((),)
) -> Scores:
    """Teacher-forced scores of the pieces `tgt_ids` predicts (tgt_ids[1:] + </s>), once per variant.

    tgt_ids is the decoder input (starting with the start id). A variant is a set of heads off
    (app_support.heads_off.Off); () is the model as trained. Variants run as rows of one batch, each
    row with its own heads zeroed at hook_z, `CHUNK` rows per forward pass.
    """
    if model.training:
        raise RuntimeError("piece_scores needs the model in eval mode")
    device = next(model.parameters()).device
    target = torch.tensor(predicted_ids(tgt_ids, model.config.eos_id), device=device)
    src = torch.tensor([list(src_ids)], dtype=torch.long, device=device)
    tgt = torch.tensor([list(tgt_ids)], dtype=torch.long, device=device)
    parts = []
    for start in range(0, len(variants), CHUNK):
        chunk = list(variants[start : start + CHUNK])
        n = len(chunk)
        with hooks(model, _zeroing_hooks(chunk)):
            logits = model(src.expand(n, -1), tgt.expand(n, -1)).float()  # (n, T, V)
        logp = logits.log_softmax(-1)
        mine = logp.gather(-1, target.expand(n, -1)[..., None])[..., 0]  # (n, T)
        top = logp.max(-1)
        rank = (logp > mine[..., None]).sum(-1) + 1
        parts.append((mine, rank, top.indices, top.values))
    logp, rank, top_id, top_logp = (torch.cat(p).cpu().numpy() for p in zip(*parts, strict=True))
    return Scores(logp=logp, rank=rank, top_id=top_id, top_logp=top_logp)


def head_effects(
    model: Transformer,
    src_ids: Sequence[int],
    tgt_ids: Sequence[int],
    n_layers: Mapping[str, int],
    n_heads: int,
) -> pd.DataFrame:
    """Every single head switched off in turn: how much the translation's log-probability drops.

    One row per head, most harmful first: rank, head ("cross L2 H0"), kind, layer, head_index,
    logp_change (after − before, natural log; negative = the translation became less likely),
    logp_after, top_changes (decoder positions whose first choice is no longer the same piece).
    """
    heads = heads_off.every_head(n_layers, n_heads)
    s = piece_scores(model, src_ids, tgt_ids, [(), *((h,) for h in heads)])
    before = float(s.logp[0].sum())
    after = s.logp[1:].sum(1)
    frame = pd.DataFrame(
        {
            "head": [heads_off.label(h) for h in heads],
            "kind": [h[0] for h in heads],
            "layer": [h[1] for h in heads],
            "head_index": [h[2] for h in heads],
            "logp_change": after - before,
            "logp_after": after,
            "top_changes": (s.top_id[1:] != s.top_id[0]).sum(1),
        }
    )
    frame = frame.sort_values(["logp_change", "kind", "layer", "head_index"], kind="stable")
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame.reset_index(drop=True)


# --- cached for the app: everything a result depends on is an argument ------------------------------


@dataclass(frozen=True)
class Comparison:
    """The model's own translation scored with and without heads off, and what it becomes with them off."""

    pieces: list[str]  # the pieces the original translation's decoder positions predict (…, </s>)
    before: np.ndarray  # (T,) their log-probabilities, model as trained
    after: np.ndarray  # (T,) with the heads off (teacher-forced on the same translation)
    rank_after: np.ndarray  # (T,) their rank with the heads off
    original: list[str]  # the two translations' pieces, without <s> (for the diff)
    ablated: list[str]
    original_text: str
    ablated_text: str
    seconds: float  # to re-translate with the heads off and score both


def translate_off(m: Pretrained, src_ids: Sequence[int], beam: int, maxlen: int, off: Off) -> list[int]:
    """The decoder input of the translation the model makes with `off` switched off (start id, pieces; no
    padding, no </s>), exactly as `Pretrained.trace(..., interventions=...)` decodes it, without capturing."""
    with hooks(m.model, heads_off.hooks(off) or []):
        out = m.translate_ids(list(src_ids), beam=beam, max_len=maxlen or None)
    ids = out[:1] + [i for i in out[1:] if i != m.config.pad_id]
    return ids[:-1] if len(ids) > 1 and ids[-1] == m.config.eos_id else ids


@st.cache_data(show_spinner=False, max_entries=64)
def compare(path: str, stamp: float, text: str, beam: int, maxlen: int, off: Off) -> Comparison:
    """The sentence translated again with `off` switched off, beside the model's own translation."""
    start = time.perf_counter()
    original = models.get_trace(path, stamp, text, beam, maxlen)
    m = models.load_model(path, stamp)
    ablated = translate_off(m, original.src_ids, beam, maxlen, off)  # decoding only: no capture needed here
    s = piece_scores(m.model, original.src_ids, original.tgt_ids, [(), off])
    return Comparison(
        pieces=list(viz.predicted_pieces(original.tgt_tokens)),
        before=s.logp[0],
        after=s.logp[1],
        rank_after=s.rank[1],
        original=list(original.tgt_tokens[1:]),
        ablated=m.tokenizer.pieces(ablated[1:]),
        original_text=original.tgt_text,
        ablated_text=m.tokenizer.decode(ablated),
        seconds=time.perf_counter() - start,
    )


@st.cache_data(show_spinner=False, max_entries=32)
def heads_table(path: str, stamp: float, text: str, beam: int, maxlen: int) -> pd.DataFrame:
    """`head_effects` on the model's own translation of the sentence (every head of the model)."""
    td = models.get_trace(path, stamp, text, beam, maxlen)
    m = models.load_model(path, stamp)
    return head_effects(m.model, td.src_ids, td.tgt_ids, td.n_layers, td.n_heads)


@dataclass(frozen=True)
class TargetScore:
    """A typed translation read by the model, piece by piece, beside the model's own translation."""

    frame: pd.DataFrame  # viz.piece_score_frame of the typed translation
    total: float  # its log-probability (natural log, </s> included)
    own_total: float  # the model's own translation's
    own_pieces: int  # how many pieces that one predicts (with </s>)
    own_text: str
    truncated: bool  # the typed translation had more pieces than the model's max_len allows


@st.cache_data(show_spinner=False, max_entries=64)
def score_target(
    path: str, stamp: float, text: str, beam: int, maxlen: int, off: Off, target: str | None
) -> TargetScore:
    """Trace the model on `target` (teacher-forced; with `off` switched off, if any) and score each piece;
    target None scores the model's own translation the same way."""
    m = models.load_model(path, stamp)
    own = models.get_trace(path, stamp, text, beam, maxlen, off)
    typed = own if target is None else models.get_trace(path, stamp, text, beam, maxlen, off, target)
    s = piece_scores(m.model, typed.src_ids, typed.tgt_ids, [off])
    o = s if target is None else piece_scores(m.model, own.src_ids, own.tgt_ids, [off])
    frame = viz.piece_score_frame(
        viz.predicted_pieces(typed.tgt_tokens),
        s.logp[0],
        s.rank[0],
        m.tokenizer.pieces(s.top_id[0].tolist()),
        s.top_logp[0],
        surprising=SURPRISING,
    )
    room = m.config.max_len - 1
    return TargetScore(
        frame=frame,
        total=float(s.logp[0].sum()),
        own_total=float(o.logp[0].sum()),
        own_pieces=len(own.tgt_ids),
        own_text=own.tgt_text,
        truncated=target is not None and len(m.tokenizer.encode_target(target)) > room,
    )
