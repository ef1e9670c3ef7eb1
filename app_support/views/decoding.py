"""Decoding step by step (paper §3.1 "auto-regressive", §3.4 softmax): what the decoder sees and predicts at step t."""

from __future__ import annotations

import streamlit as st

import viz
from app_support import state
from app_support.views import Ctx, chart, controls
from app_support.views.attention import ROW_CAPTION, pick_rows


def render(ctx: Ctx) -> None:
    ss, t = st.session_state, ctx.trace
    n_steps = len(t.tgt_tokens)
    with controls(ctx):
        a, b = st.columns([3, 1])
        if n_steps > 1:
            with a:
                st.slider(
                    "Decoder step t",
                    0,
                    n_steps - 1,
                    key="step",
                    persist_state="session",
                    help="The decoder has read pieces 0..t of its input and predicts piece t + 1.",
                )
        else:
            a.caption("The translation is empty: there is only step 0 (reading `<s>`).")
        b.number_input("Top k", 3, 20, key="dec_k", persist_state="session")
        with st.columns(2)[0]:
            pick_rows(None)
    step = ss["step"]
    chosen = t.next_token(step)
    st.markdown(f"**Step {step}** reads piece {step} and predicts piece {step + 1}:")
    st.code(f"reads     {t.tgt_tokens[step]}\npredicts  {chosen}", language=None)
    st.markdown(f"The decoder has read {step + 1} piece(s) so far:")
    st.code(" ".join(t.tgt_tokens[: step + 1]), language=None)
    top = t.topk[t.topk["rank"] <= ss["dec_k"]]
    fig = viz.topk_bar(top, step, chosen=chosen, context=t.tgt_tokens[step], font_size=ctx.font)
    chart(ctx, fig, "fig_dec_topk", "next-token", f"step{step}")
    st.caption(
        "Orange: the piece the translation actually used (with beam search, or where a repeat guard of the model "
        "forbade a repetition, it need not be the top one). "
        "Probabilities come from the final linear layer and softmax (§3.4)."
    )
    rows = state.rows_for(ss, None)
    left, right = ctx.columns(2)
    with left:
        fig = viz.cross_attention_step(
            t.attention["cross"], t.tgt_tokens, t.src_tokens, step, rows=rows, font_size=ctx.font
        )
        chart(ctx, fig, "fig_dec_cross", "cross-attention", f"step{step}")
    with right:
        fig = viz.self_attention_step(
            t.attention["decoder"], t.tgt_tokens, step, rows=rows, font_size=ctx.font
        )
        chart(ctx, fig, "fig_dec_self", "decoder-self-attention", f"step{step}")
    st.caption(
        "One row per layer and head: left, which source pieces step t looks at; right, which earlier "
        "target pieces. " + ROW_CAPTION
    )
