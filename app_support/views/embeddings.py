"""Embedding projections (paper §3.4, and the residual stream of §3.1): PCA / t-SNE, token paths, neighbours."""

from __future__ import annotations

import streamlit as st

import viz
from app_support import models
from app_support.stages import stream_stages
from app_support.state import Param, below, choice, number, numbers, position, whole
from app_support.views import EXPERIMENT, Ctx, View, chart, controls

METHODS = {"pca": "PCA (fast)", "tsne": "t-SNE (slow on long inputs)"}
SIDES = {"encoder": "Encoder (source)", "decoder": "Decoder (translation)"}
ALL = -1  # emb_stage value: every stage
MAX_PATHS = 6  # token paths drawn at once


def render(ctx: Ctx) -> None:
    ss, t = st.session_state, ctx.trace
    side = ss["emb_side"]
    tokens, ids = (t.src_tokens, t.src_ids) if side == "encoder" else (t.tgt_tokens, t.tgt_ids)
    stages = stream_stages(side, t.hidden[side].shape[0] - 1, t.norm)
    n_stages = len(stages)  # the stage and positions are fitted to this side (state.fit_to_trace)
    if ss["emb_paths"] is None:
        ss["emb_paths"] = [0]
    labels = viz.token_labels(tokens)
    with controls(ctx):
        a, b, c = st.columns(3)
        a.radio("Side", list(SIDES), key="emb_side", format_func=SIDES.get, persist_state="session")
        b.radio(
            "Projection", list(METHODS), key="emb_method", format_func=METHODS.get, persist_state="session"
        )
        c.selectbox(
            "Stage",
            [ALL, *range(n_stages)],
            key="emb_stage",
            format_func=lambda s: "all stages" if s == ALL else stages[s],
            persist_state="session",
        )
        st.multiselect(
            "Pieces to label and follow through the layers",
            list(range(len(tokens))),
            key="emb_paths",
            format_func=lambda p: labels[p],
            max_selections=MAX_PATHS,
            persist_state="session",
            help="Every piece is a point (hover for its name); these are written on the figures, each in its "
            "own colour, and their paths drawn.",
        )
    intro = st.expander("What am I looking at?") if ctx.present else st.container()  # folded on a projector
    intro.markdown(
        "Each piece is a vector of d_model numbers. The embedding + positional encoding is stage 0; every "
        "layer then adds to it (the residual stream). "
        + (
            "In this post-norm model each layer ends with a LayerNorm, so every later stage is a LayerNorm output."
            if t.norm == "post"
            else "In this pre-norm model the stream is never normalised between layers; the last stage is the "
            "final LayerNorm's output, which is what the "
            + ("cross-attention reads." if side == "encoder" else "output projection reads.")
        )
    )
    label = METHODS[ss["emb_method"]].split(" ")[0]
    with st.spinner(f"Projecting {len(tokens) * n_stages} vectors with {label}…"):
        frame = models.get_projection(ctx.run, side, ss["emb_method"])
    chosen = ss["emb_paths"] or [0]
    stage = None if ss["emb_stage"] == ALL else ss["emb_stage"]
    fig = viz.projection_scatter(frame, stage, chosen=chosen, font_size=ctx.font)
    chart(ctx, fig, "fig_emb_scatter", "projection", side, ss["emb_method"])
    left, right = st.columns([3, 2])
    with left:
        fig = viz.token_path(frame, chosen, font_size=ctx.font, height=ctx.height(460))
        chart(ctx, fig, "fig_emb_path", "token-path", side, ss["emb_method"])
    with right, st.expander("How the points are placed") if ctx.present else st.container():
        st.caption(
            "**How the points are placed.** Each stage is normalised on its own before projecting: every "
            "vector is scaled to length 1 and the stage's mean subtracted. A piece's place then says which way "
            "its vector points compared with the other pieces of that stage, not how long it is: a few "
            "vectors (often the first position, `.` or `</s>`) are many times longer than the rest and "
            "would otherwise squeeze every other piece into one dot. Above, each stage has its own "
            f"projection ({label}), turned to match the stage before it, so the panels show each stage's "
            "structure; the axes have no units. The path uses one projection of every stage together, so "
            "its steps can be compared from layer to layer."
        )
        st.caption(
            "Points on a path are numbered by stage: "
            + "; ".join(f"{n} {name}" for n, name in enumerate(stages))
            + "."
        )
    with st.expander("Nearest pieces in the vocabulary"):
        st.selectbox("Piece", list(range(len(tokens))), key="emb_nn_token", format_func=lambda p: labels[p])
        neighbours = models.get_neighbours(ctx.path, ctx.run.stamp, int(ids[ss["emb_nn_token"]]), 10)
        st.dataframe(neighbours.round(4), hide_index=True, key="emb_nn_table")
        st.caption(
            "Cosine similarity between rows of the (shared) embedding matrix, before the √d_model scale."
        )


# positions on the side shown; a browser may send a widget's values back as text after its options changed
# (`clean`: "3" is position 3): anything else resets the choice
_fit_positions = below(
    lambda ss, t: len(t.src_tokens if ss["emb_side"] == "encoder" else t.tgt_tokens),
    lambda ss: f"the {ss['emb_side']} side has positions",
)


def _fit_stage(stage, ss, trace) -> str | None:
    side = ss["emb_side"]
    n = len(stream_stages(side, trace.hidden[side].shape[0] - 1, trace.norm))
    return None if ALL <= stage < n else f"the {side} has stages 0–{n - 1} (or all)"


VIEW = View(
    "embeddings", "Embeddings", "See", "§3.4 Embeddings and Softmax, and the residual stream of §3.1", render,
    params=(
        choice("emb_side", "emb_side", "encoder", tuple(SIDES), "encoder | decoder: the side projected", "sides are"),
        choice("emb_method", "emb_method", "pca", tuple(METHODS), "pca | tsne: the projection", "projections are"),
        Param("emb_stage", "emb_stage", ALL, lambda r: ALL if r.strip().lower() == "all" else whole(r, 0, 1_000),
              "a stage is all or a whole number", "all | 0-based stage of the residual stream",
              write=lambda v: "all" if v == ALL else str(v), fit_trace=_fit_stage),
        numbers("emb_paths", "emb_paths", 100_000, MAX_PATHS, "positions whose path through the layers is drawn, "
                "e.g. 0,3", shown=lambda m: [0], fit_trace=_fit_positions,
                clean=lambda v: v if v is None else [position(p) for p in v]),
        number("emb_nn", "emb_nn_token", 0, 0, 100_000, "position whose nearest vocabulary pieces are listed",
               fit_trace=_fit_positions, clean=position),
    ),
    says_translation=True, follows=EXPERIMENT, on_its_own=True,
)  # fmt: skip
