"""Decoding step by step (paper §3.1 "auto-regressive", §3.4 softmax): what the decoder sees and predicts at step t."""

from __future__ import annotations

import re
from collections.abc import Sequence

import streamlit as st

import viz
from app_support import models, state
from app_support.safe_text import count
from app_support.views import EXPERIMENT, Ctx, View, chart, controls
from app_support.views.attention import ROW_CAPTION, pick_rows

SHOWN = 8  # pieces read that the step statement lists, the last ones: a long prefix stays beside its chart
TOPK_MIN, TOPK_MAX = 3, models.TOPK  # next-piece candidates shown (models.get_topk keeps TOPK)


def step_summary(step: int) -> str:
    """Markdown (numbers only, no piece text): how many pieces decoder step `step` has read, which it predicts."""
    read = "" if step == 0 else f" (0–{step})"
    return f"**Step {step}**: the decoder has read {count(step + 1, 'piece')}{read} and predicts piece {step + 1}:"


def step_listing(tokens: Sequence[str], step: int, chosen: str, shown: int = SHOWN) -> str:
    """Plain text for st.code, one piece a line with its position: the last `shown` pieces read (0..step; a
    first line says how many earlier ones are hidden), the one read at this step and the one predicted marked.
    """
    first = max(0, step + 1 - shown)
    rows = [(i, _one_line(tokens[i])) for i in range(first, step + 1)] + [(step + 1, _one_line(chosen))]
    digits = len(str(step + 1))
    width = digits + 2 + min(16, max(len(p) for _, p in rows))  # a very long piece pushes only its own mark
    lines = [f"{i:>{digits}}  {p}" for i, p in rows]
    lines[-2] = f"{lines[-2]:<{width}}  ← reads"
    lines[-1] = f"{lines[-1]:<{width}}  ← predicts"
    if first:  # short enough for the narrow column beside the chart
        lines.insert(0, f"{'…':>{digits}}  {count(first, 'piece')} hidden")
    return "\n".join(lines)


def _one_line(piece: str) -> str:
    """A piece with its line breaks and control characters written as escapes: one piece, one line."""
    return re.sub(r"[\x00-\x1f\x7f\u2028\u2029]", lambda m: f"\\u{ord(m.group()):04x}", piece)


def render(ctx: Ctx) -> None:
    ss, t = st.session_state, ctx.trace
    n_steps = len(t.tgt_tokens)
    with controls(ctx):
        a, b = st.columns([3, 1])
        if n_steps > 1:
            a.slider(
                "Decoder step t",
                0,
                n_steps - 1,
                key="step",
                persist_state="session",
                help="The decoder has read pieces 0..t of its input and predicts piece t + 1.",
            )
        else:
            a.caption("The translation is empty: there is only step 0 (reading `<s>`).")
        b.number_input("Top k", TOPK_MIN, TOPK_MAX, key="dec_k", persist_state="session")
    step = ss["step"]
    chosen = t.next_token(step)
    said, drawn = st.columns([1, 2])  # the step beside its chart: the chart starts on the first screen
    with said:
        st.markdown(step_summary(step))
        st.code(step_listing(t.tgt_tokens, step, chosen), language=None)  # pieces are text, never markdown
        st.caption(
            "Orange bar: the piece the translation actually used (with beam search, or where a repeat guard of "
            "the model forbade a repetition, it need not be the top one). "
            "Probabilities come from the final linear layer and softmax (§3.4)."
        )
    with drawn:
        topk = models.get_topk(ctx.run)
        top = topk[topk["rank"] <= ss["dec_k"]]
        fig = viz.topk_bar(top, step, chosen=chosen, context=t.tgt_tokens[step], font_size=ctx.font)
        chart(ctx, fig, "fig_dec_topk", "next-token", f"step{step}")
    with controls(ctx, "Row labels"), st.columns(2)[0]:  # above the figures it labels, not above the chart
        pick_rows(None)
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


VIEW = View(
    "decoding", "Decoding", "See", "§3.1 (the auto-regressive decoder) and §3.4 (the output softmax)", render,
    params=(
        state.number("topk", "dec_k", 10, TOPK_MIN, TOPK_MAX, f"{TOPK_MIN}..{TOPK_MAX} next-piece candidates",
                     f"a whole number from {TOPK_MIN} to {TOPK_MAX}"),
    ),
    says_translation=True, follows=EXPERIMENT, on_its_own=True,
)  # fmt: skip
