"""What an experiment computes, cached per `Run`: heads switched off, a translation typed by a person.

Teacher-forced scores (`transformer.analysis.piece_scores`): the decoder is given a translation piece by
piece and says how likely it finds each next piece (position t reads piece t and predicts piece t + 1,
`</s>` after the last); a translation's log-probability is their sum. "The translation changes" is never
read from them: it means the sentence translated again with the heads off (`Pretrained.decoder_inputs`,
as the views that follow the experiment trace it) differs, counted one way everywhere (`differ`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

import viz
from app_support import models
from app_support.experiment import heads_off
from app_support.run import Run
from transformer.analysis import piece_scores
from transformer.model import Transformer

TARGET_LIMIT = 2000  # characters of a typed translation (as the sentence's TEXT_LIMIT)
SURPRISING = 0.1  # a piece the model gives less than this probability is marked surprising
DECODED = 12  # the ranking's top rows translated again with their head off (one batched decode: 0.16 s on
# en-de at beam 4, all 36 heads 0.46 s; a Marian model has 144 heads of a larger model)


def differ(a: Sequence[str], b: Sequence[str]) -> tuple[int, int]:
    """(slots that differ, slots) when two translations' pieces are lined up (`viz.align_pieces`): the one
    count of "pieces that differ" the ranking, the metric and the side-by-side diff all show."""
    slots = viz.align_pieces(list(a), list(b))
    return sum(tag != "same" for tag, _, _ in slots), len(slots)


def head_effects(
    model: Transformer, src_ids, tgt_ids, n_layers: Mapping[str, int], n_heads: int
) -> pd.DataFrame:
    """Every single head switched off in turn: how much the translation's log-probability drops.

    One row per head, most harmful first: rank, head ("cross L2 H0"), kind, layer, head_index,
    logp_change (after − before, natural log; negative = the translation became less likely), logp_after.
    """
    every = heads_off.every_head(n_layers, n_heads)
    s = piece_scores(model, src_ids, tgt_ids, [(), *((h,) for h in every)])
    before = float(s.logp[0].sum())
    after = s.logp[1:].sum(1)
    frame = pd.DataFrame(every, columns=["kind", "layer", "head_index"])
    frame.insert(0, "head", [heads_off.label(h) for h in every])
    frame["logp_change"], frame["logp_after"] = after - before, after
    frame = frame.sort_values(["logp_change", "kind", "layer", "head_index"], kind="stable")
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame.reset_index(drop=True)


@dataclass(frozen=True)
class Comparison:
    """The model's own translation scored with and without heads off, and what it becomes with them off."""

    pieces: list[str]  # the pieces the original translation's decoder positions predict (…, </s>)
    before: np.ndarray  # (T,) their log-probabilities, model as trained
    after: np.ndarray  # (T,) with the heads off (teacher-forced on the same translation)
    original: list[str]  # the two translations' pieces, without <s> (for the diff)
    ablated: list[str]
    original_text: str
    ablated_text: str
    differ: int  # pieces that differ (`differ`), of
    slots: int  # the slots the two translations line up in


@st.cache_data(show_spinner=False, max_entries=64)
def compare(run: Run) -> Comparison:
    """The sentence translated again with `run.off` switched off, beside the model's own translation."""
    original = models.get_trace(run.own)
    m = models.load_model(run.path, run.stamp)
    (ablated,) = m.decoder_inputs(original.src_ids, [run.off], run.beam, run.maxlen or None)
    s = piece_scores(m.model, original.src_ids, original.tgt_ids, [(), run.off])
    pieces = m.tokenizer.pieces(ablated[1:])
    changed, slots = differ(original.tgt_tokens[1:], pieces)
    return Comparison(
        pieces=list(viz.predicted_pieces(original.tgt_tokens)),
        before=s.logp[0],
        after=s.logp[1],
        original=list(original.tgt_tokens[1:]),
        ablated=pieces,
        original_text=original.tgt_text,
        ablated_text=m.tokenizer.decode(ablated),
        differ=changed,
        slots=slots,
    )


@st.cache_data(show_spinner=False, max_entries=32)
def heads_table(run: Run) -> pd.DataFrame:
    """`head_effects` on the model's own translation of the sentence (every head of the model), its top
    DECODED rows translated again with that head off, as `compare` does, in one batched decode: translation
    (its text) and differ (pieces that differ from the model's own; missing below the top rows)."""
    td = models.get_trace(run.own)
    m = models.load_model(run.path, run.stamp)
    table = head_effects(m.model, td.src_ids, td.tgt_ids, td.n_layers, td.n_heads)
    heads = table[["kind", "layer", "head_index"]].to_numpy()[:DECODED]
    top = [((kind, int(layer), int(h)),) for kind, layer, h in heads]
    ablated = m.decoder_inputs(td.src_ids, top, run.beam, run.maxlen or None)
    rest = [None] * (len(table) - len(top))
    table["translation"] = [m.tokenizer.decode(ids) for ids in ablated] + rest
    counts = [differ(td.tgt_tokens[1:], m.tokenizer.pieces(ids[1:]))[0] for ids in ablated]
    table["differ"] = pd.array(counts + rest, dtype="Int64")
    return table


@dataclass(frozen=True)
class TargetScore:
    """A typed translation read by the model, piece by piece, beside the model's own translation."""

    frame: pd.DataFrame  # viz.piece_score_frame of the typed translation
    total: float  # its log-probability (natural log, </s> included)
    own_total: float  # the model's own translation's
    own_tokens: list[str]  # its pieces (without <s>; it predicts these and </s>)
    own_text: str
    truncated: bool  # the typed translation had more pieces than the model's max_len allows


@st.cache_data(show_spinner=False, max_entries=64)
def score_target(run: Run) -> TargetScore:
    """Trace the model on `run.target` (teacher-forced; with `run.off` switched off, if any) and score each
    piece; no target scores the model's own translation the same way."""
    m = models.load_model(run.path, run.stamp)
    own = models.get_trace(run.but(target=None))
    typed = own if run.target is None else models.get_trace(run)
    s = piece_scores(m.model, typed.src_ids, typed.tgt_ids, [run.off])
    o = s if run.target is None else piece_scores(m.model, own.src_ids, own.tgt_ids, [run.off])
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
        own_tokens=list(own.tgt_tokens[1:]),
        own_text=own.tgt_text,
        truncated=run.target is not None and len(m.tokenizer.encode_target(run.target)) > room,
    )
