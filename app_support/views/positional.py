"""Positional encoding (paper §3.5): sinusoids, position × dimension, PE similarity, token + PE for the sentence."""

from __future__ import annotations

import numpy as np
import streamlit as st

import viz
from app_support.state import below, choice, number, numbers
from app_support.views import EXPERIMENT, Ctx, View, chart, controls
from transformer.embeddings import POSITIONAL_FORMULAS

MAX_POSITIONS = 512  # the sinusoid formula has no end; show up to this many positions
MAX_DIMS = 8  # sinusoids drawn at once
WIDE = 64  # models wider than this show the first WIDE dimensions of the sentence's embeddings
METRICS = {"dot": "dot product PE(i)·PE(j)", "cosine": "cosine"}
SIDES = {"src": "source (encoder input)", "tgt": "translation (decoder input)"}


def default_dims(d_model: int) -> list[int]:
    """Sine dimensions 0, d/8, d/4, d/2: wavelengths from 2π to ~600 positions, fast to slow (§3.5)."""
    return sorted({min(2 * (d_model // k // 2), d_model - 1) for k in (8, 4, 2)} | {0})


def pe_table(ctx: Ctx, n: int) -> np.ndarray:
    """(n, d_model): the paper's formula for a sinusoidal model (any length), else the learned table."""
    cfg = ctx.model.config
    if cfg.positional == "sinusoidal":
        return viz.sinusoidal_pe(n, cfg.d_model)  # equals the model's own table on its first max_len rows
    return ctx.model.model.encoder.embed.position.table[:n].detach().cpu().float().numpy()


def _choice(label: str, key: str, names: dict[str, str]) -> None:
    """A row of radio buttons over `names` (value -> what it says), kept in the session."""
    st.radio(label, list(names), key=key, horizontal=True, persist_state="session", format_func=names.get)


def render(ctx: Ctx) -> None:
    cfg, ss = ctx.model.config, st.session_state
    if ss["pe_dims"] is None:  # what the model shows by default (fitted to the model: state.fit_to_model)
        ss["pe_dims"] = default_dims(cfg.d_model)
    most = MAX_POSITIONS if cfg.positional == "sinusoidal" else cfg.max_len
    ss["pe_positions"] = min(ss["pe_positions"], most)
    with controls(ctx):
        a, b = st.columns(2)
        a.slider(
            "Positions",
            2,
            most,
            key="pe_positions",
            persist_state="session",
            help=f"This model reads at most {cfg.max_len} positions; the formula goes on for ever.",
        )
        b.multiselect(
            "Dimensions to plot",
            list(range(cfg.d_model)),
            key="pe_dims",
            max_selections=MAX_DIMS,
            persist_state="session",
            help="Even dimensions are sines, odd ones cosines (Marian's layout: the first half sines, the second "
            "cosines); higher dimensions change more slowly.",
        )
    if cfg.positional == "learned":
        st.info(
            "This model learned its positional encoding (§3.5's alternative); the figures show its table."
        )
    else:
        st.markdown(
            "The encoder cannot tell word order from attention alone, so a fixed pattern is added to "
            f"each position: {POSITIONAL_FORMULAS[cfg.positional]}."
        )
    pe = pe_table(ctx, ss["pe_positions"])
    fig = viz.sinusoid_curves(pe, ss["pe_dims"] or [0], font_size=ctx.font, height=ctx.height(380))
    chart(ctx, fig, "fig_pe_curves", "pe-curves")
    left, right = ctx.columns(2)
    with left:
        split = cfg.positional == "sinusoidal_split"
        layout = "first half sin, second half cos" if split else "even = sin, odd = cos"
        fig = viz.pe_heatmap(
            pe, font_size=ctx.font, height=ctx.height(480), dim_title=f"dimension ({layout})"
        )
        chart(ctx, fig, "fig_pe_heatmap", "pe")
    with right:
        fig = viz.pe_similarity(pe, ss["pe_metric"], font_size=ctx.font, height=ctx.height(480))
        chart(ctx, fig, "fig_pe_similarity", "pe-similarity", ss["pe_metric"])
        _choice("Similarity", "pe_metric", METRICS)
    st.markdown(
        "**Reading the similarity:** nearby positions have similar encodings (the bright band along the "
        "diagonal), and the similarity depends only on the distance |i − j|, not on where in the sentence "
        "the pair is: that is what lets attention find *relative* positions (§3.5)."
    )
    st.divider()
    _choice("Sentence side", "pe_side", SIDES)
    side, t = ss["pe_side"], ctx.trace
    wide = cfg.d_model > WIDE
    parts = [t.embeddings[f"{side}_{part}"] for part in ("token", "position", "input")]  # each (T, d_model)
    tokens = t.src_tokens if side == "src" else t.tgt_tokens
    fig = viz.embedding_sum_view(*parts, tokens, max_dims=WIDE if wide else None, font_size=ctx.font)
    chart(ctx, fig, "fig_pe_sum", "embedding-plus-pe", side)
    if wide:
        st.caption(
            f"First {WIDE} of {cfg.d_model} dimensions. Token embeddings are scaled by √d_model (§3.4)."
        )


VIEW = View(
    "positional", "Positional encoding", "See", "§3.5 Positional Encoding", render,
    params=(
        number("pe_pos", "pe_positions", 64, 2, MAX_POSITIONS, f"positions drawn, 2..{MAX_POSITIONS}",
               f"a whole number from 2 to {MAX_POSITIONS}"),
        numbers("pe_dims", "pe_dims", 100_000, MAX_DIMS, f"the dimensions whose sinusoids are drawn, e.g. 0,16 "
                f"(at most {MAX_DIMS})", shown=lambda m: default_dims(m.d_model),
                fit_model=below(lambda ss, m: m.d_model, "this model has dimensions")),
        choice("pe_metric", "pe_metric", "dot", tuple(METRICS), "dot | cosine: PE similarity", "metrics are"),
        choice("pe_side", "pe_side", "src", tuple(SIDES), "src | tgt: whose embedding + PE is shown", "sides are"),
    ),
    says_translation=True, follows=EXPERIMENT, on_its_own=True,
)  # fmt: skip
