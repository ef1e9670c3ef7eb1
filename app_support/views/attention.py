"""Attention heatmaps (paper §3.2, §3.2.3): one head and the head mean, the model view, the head view."""

from __future__ import annotations

import streamlit as st

import viz
from app_support import slices
from app_support.state import KIND_LABELS, KINDS, MEAN, PANELS
from app_support.views import Ctx, chart, controls

EXPLAIN = {
    "encoder": "Each source piece (row, the **query**) spreads one unit of attention over all source "
    "pieces (columns, the **keys**); every row sums to 1.",
    "decoder": "Each target piece (row) attends to itself and the pieces **before** it. The grey "
    "triangle is the causal mask (§3.2.3): a position may not look at the future, so those cells are "
    "not learned zeros but forbidden.",
    "cross": "Each target piece (row) looks at the encoder's output for every source piece (columns): "
    "this is where the decoder reads the source sentence.",
}
SHORT_NAMES = {
    "encoder": "Encoder self-attention",
    "decoder": "Decoder self-attention",
    "cross": "Cross-attention",
}
NOTHING_LEFT = "Nothing left to show once the special pieces are hidden."


def head_label(h: int) -> str:
    return "mean" if h == MEAN else f"H{h}"


def pick_attention(ctx: Ctx, with_panel: bool = True) -> None:
    """Kind, layer and head pickers (shared by the Attention and Anatomy views; their values are in the URL).

    With the panel picker, layer and head are greyed out where the chosen panel does not use them.
    """
    n_layers, n_heads = ctx.trace.n_layers, ctx.trace.n_heads
    panel = st.session_state["panel"] if with_panel else "heatmaps"
    top, bottom = st.columns(2), st.columns(2)
    top[0].segmented_control(
        "Attention", KINDS, key="kind", required=True, format_func=KIND_LABELS.get, persist_state="session"
    )
    if with_panel:
        top[1].segmented_control(
            "Show", list(PANELS), key="panel", required=True, format_func=PANELS.get, persist_state="session"
        )
    layers = range(n_layers[st.session_state["kind"]])
    bottom[0].segmented_control(
        "Layer",
        layers,
        key="layer",
        required=True,
        format_func=lambda i: f"L{i}",
        persist_state="session",
        disabled=panel == "model",
    )
    bottom[1].segmented_control(
        "Head",
        [*range(n_heads), MEAN],
        key="head",
        required=True,
        format_func=head_label,
        persist_state="session",
        disabled=panel != "heatmaps",  # the head view picks its heads below; the model view shows all
    )


def _prepare(frame, hide: bool, renormalise: bool):
    return viz.hide_specials(frame, renormalize=renormalise) if hide else frame


def render(ctx: Ctx) -> None:
    with controls(ctx):
        pick_attention(ctx)
        a, b, c = st.columns(3)
        a.toggle(
            "Hide special pieces",
            key="att_hide_specials",
            persist_state="session",
            help="Drop the rows and columns of `<s>`, `</s>`, `<pad>` and `<unk>`.",
        )
        b.toggle(
            "Renormalise rows",
            key="att_renormalise",
            persist_state="session",
            disabled=not st.session_state["att_hide_specials"],
            help="After hiding special pieces, rescale each row to sum to 1 again.",
        )
        c.toggle(
            "Colour scale to largest weight",
            key="att_autoscale",
            persist_state="session",
            help="Off: white = 0, dark = 1 in every figure. On: dark = the largest weight shown.",
        )
    ss = st.session_state
    kind, layer, head, panel = ss["kind"], ss["layer"], ss["head"], ss["panel"]
    hide, renorm = ss["att_hide_specials"], ss["att_renormalise"]
    zmax = None if ss["att_autoscale"] else 1.0
    st.markdown(EXPLAIN[kind])
    t = ctx.trace

    if panel == "heatmaps":
        frames = [(head, slices.head_frame(t, kind, layer, head))]
        if head != MEAN:
            frames.append((MEAN, slices.head_frame(t, kind, layer, MEAN)))
        cols = ctx.columns(len(frames))
        for col, (h, frame) in zip(cols, frames, strict=True):
            frame = _prepare(frame, hide, renorm)
            if frame.empty:
                col.info(NOTHING_LEFT)
                continue
            who = "mean over heads" if h == MEAN else f"head {h}"
            name = f"{SHORT_NAMES[kind]}: layer {layer}, {who}"  # viz's own title is too long for half a page
            fig = viz.attention_heatmap(
                frame, name, zmax=zmax, font_size=ctx.font, height=_height(ctx, frame)
            )
            with col:
                chart(
                    ctx, fig, f"fig_att_{'mean' if h == MEAN else 'head'}", kind, f"L{layer}", head_label(h)
                )
        st.caption(
            "Hover a cell for the exact weight. Rows: queries; columns: keys; layers and heads from 0."
        )
    elif panel == "model":
        with st.spinner("Drawing every layer × head…"):
            frame = _prepare(slices.kind_frame(t, kind), hide, renorm)
            fig = None if frame.empty else viz.model_view(frame, zmax=zmax or 1.0, font_size=ctx.small_font)
        if fig is None:
            st.info(NOTHING_LEFT)
            return
        chart(ctx, fig, "fig_att_model", kind, "all-heads")
        with st.expander("Which head does what? (one row per head)"):
            st.dataframe(viz.head_summary_frame(frame).round(4), hide_index=True, key="att_head_summary")
            st.caption(
                "entropy_bits: 0 = each query looks at one key, high = spread out; mean_distance: how "
                "far (in positions) a head looks; self_weight: attention to the query's own position."
            )
    else:
        heads = list(range(t.n_heads))
        if ss["att_lines_heads"] is None:
            ss["att_lines_heads"] = heads
        with controls(ctx, "Heads"):
            st.multiselect(
                "Heads to draw",
                heads,
                key="att_lines_heads",
                format_func=head_label,
                persist_state="session",
                help="Click a head in the legend to hide it too.",
            )
        chosen = ss["att_lines_heads"] or heads[:1]
        frame = _prepare(slices.layer_frame(t, kind, layer), hide, renorm)
        if frame.empty:
            st.info(NOTHING_LEFT)
            return
        fig = viz.head_view(frame, layer, chosen, font_size=ctx.font)
        chart(ctx, fig, "fig_att_lines", kind, f"L{layer}", "head-view")
        st.caption("Line width and opacity grow with the weight; weights under 0.02 are not drawn.")


def _height(ctx: Ctx, frame) -> int | None:
    n = frame["q_pos"].nunique()
    return None if not ctx.present else int(min(1600, max(500, 200 + n * ctx.font * 2)))
