"""Attention flow beside raw attention (the Attention view's "Attention flow" panel).

Rollout (Abnar & Zuidema, 2020; `transformer.analysis`) follows attention through the encoder's layers, counting
the residual connection, so its columns are the *input* pieces rather than the encoder's mixed
outputs. For cross-attention it is composed with the chosen cross-attention row; for the encoder it
is shown up to the chosen layer. Raw and flow stand side by side, each with one line on what it is.
"""

from __future__ import annotations

import streamlit as st

import viz
from app_support import export
from app_support.views import Ctx
from app_support.views.attention.draw import head_title, heatmap, shown
from transformer import analysis
from transformer.kinds import KINDS

CAVEAT = {  # one line each, above its figure
    ("cross", "raw"): "**Raw cross-attention**: exactly what this row reads, the encoder's *outputs*, "
    "each already a mix of the whole sentence.",
    ("cross", "flow"): "**Attention flow**: an estimate of how much each *input* piece reaches this row "
    "through the encoder's layers.",
    ("encoder", "raw"): "**Raw self-attention**: exactly what each position reads from this layer's input, "
    "already mixed by the layers below.",
    ("encoder", "flow"): "**Rollout**: an estimate of how much of each *input* piece has reached each "
    "position by this layer's output.",
}
HOW = (
    "Rollout (Abnar & Zuidema, 2020) averages each encoder layer's heads, counts the residual connection "
    "as half of every row (½A + ½I), and multiplies the layers in order; it ignores the values, W_O, the "
    "feed-forward layers and the LayerNorms."
)
DECODER = (
    "Attention flow is drawn for the encoder (rollout through its layers) and for cross-attention "
    "(that rollout composed with it). Pick **Encoder self** or **Cross** above."
)
CAVEAT_PX = 60  # the caveat above each figure: two lines at 1920 px in presentation mode
SCORES = (
    "Which is closer to a word alignment? `python -m tools.alignment --model …` scores both against "
    "hand-marked alignments (README, *Attention flow*): on `en-de` raw cross-attention finds the marked "
    "English word for 80 % of German words, attention flow for at most 29 %."
)


def render(ctx: Ctx, *, kind: str, layer: int, head: int, rows: str, zmax: float | None) -> None:
    """Raw attention of (kind, layer, head) beside its attention flow, drawn as the Attention view draws its
    heatmaps, special pieces hidden as its toggles say (`app_support.views.attention.draw`)."""
    if kind == "decoder":
        st.info(DECODER)
        return
    t = ctx.trace
    rollout = analysis.attention_rollout(t.attention["encoder"])  # (encoder layers, S, S)
    raw = viz.head_weights(t.attention[kind], layer, head)
    who = head_title(head)
    if kind == "cross":
        flow = analysis.cross_relevance(raw, rollout[-1])
        flow_title = f"Attention flow: L{layer} {who}"
    else:
        flow = rollout[layer]
        flow_title = f"Rollout: encoder L0–L{layer}, heads averaged"
    q_tok, k_tok = viz.side_tokens(t, kind)
    panels = (
        ("raw", raw, f"{KINDS[kind].title}: L{layer} {who}", None),
        ("flow", flow, flow_title, "source piece (input, through the encoder's layers)"),
    )
    for col, (what, weights, title, x_title) in zip(ctx.columns(2), panels, strict=True):
        w, q_pos, k_pos = shown(weights, q_tok, k_tok, kind, rows)
        with col:
            st.markdown(CAVEAT[kind, what])
            drawn = {"kind": kind, "rows": rows, "q_pos": q_pos, "k_pos": k_pos, "title": title, "x_title": x_title,
                     "subtitle": export.quoted(ctx.text), "zmax": zmax, "font_size": ctx.font}  # fmt: skip
            heatmap(
                ctx, f"fig_flow_{what}", (w, q_tok, k_tok), drawn, (kind, f"L{layer}", what), above=CAVEAT_PX
            )
    st.caption(HOW)
    st.caption(SCORES)
