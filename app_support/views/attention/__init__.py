"""Attention heatmaps (paper §3.2, §3.2.3): one head and the head mean, the model view, the head view,
attention flow, and (a model with training snapshots) the time-lapse of training."""

from __future__ import annotations

import streamlit as st

import viz
from app_support import export, models, state
from app_support.state import KIND_LABELS, LIST, MEAN, PANELS, below, flag, numbers
from app_support.views import EXPERIMENT, Ctx, View, chart, controls, figure, pick_one, stem
from app_support.views.attention import attribution, flow, training
from app_support.views.attention.draw import (
    NOTHING_LEFT,
    above_px,
    head_label,
    head_title,
    heatmap,
    shown,
)
from transformer.kinds import KIND_NAMES, KINDS, ROW_LABELS

EXPLAIN = {
    "encoder": "Each source piece (row, the **query**) spreads one unit of attention over all source "
    "pieces (columns, the **keys**); every row sums to 1.",
    "decoder": "Each decoder position (row) attends to itself and the positions **before** it. The grey "
    "triangle is the causal mask (§3.2.3): a position may not look at the future, so those cells are "
    "not learned zeros but forbidden.",
    "cross": "Each decoder position (row) looks at the encoder's output for every source piece (columns): "
    "this is where the decoder reads the source sentence.",
}
ROW_CAPTION = (
    "Decoder rows: row t reads piece t of the translation so far (from the start piece: `<s>`, or `<pad>` "
    "in a converted Marian model) and predicts the next "
    "piece, t + 1 (`</s>` after the last)."
)
# The head view is an SVG in a frame of fixed height: the server fits it to the screen presentation mode is
# made for (CSS cannot size the frame from inside)
PROJECTOR_HEIGHT = 1080
HEAD_VIEW_ALT = "Head view: lines from each query piece to the key pieces it attends to"
ROWS_PICK = "rows_pick"  # the widget; the choice itself is st.session_state["rows"] (None = per-kind default)


def _rows_chosen() -> None:
    st.session_state["rows"] = st.session_state[ROWS_PICK]


def pick_rows(kind: str | None) -> None:
    """ "Label decoder rows by": one choice for every view (in the URL as `rows`), each kind's default until made.

    The widget shows what applies to `kind` (None: a decoding step); greyed out for the encoder,
    whose rows predict nothing.
    """
    ss = st.session_state
    ss[ROWS_PICK] = state.rows_for(ss, kind)  # before the widget exists: allowed, and shows the default
    encoder = kind is not None and not KINDS[kind].predicts
    st.segmented_control(
        "Label decoder rows by",
        list(ROW_LABELS),
        key=ROWS_PICK,
        required=True,
        format_func=ROW_LABELS.get,
        on_change=_rows_chosen,
        disabled=encoder,
        help="A decoder row t reads piece t (starting with the start piece) and predicts piece t + 1. "
        + ("Encoder rows predict nothing: each is the piece it reads. " if encoder else "")
        + "Until you choose: cross-attention rows by the piece predicted, decoder self-attention by both.",
    )


def pick_attention(
    ctx: Ctx, with_panel: bool = True, with_kind: bool = True, rows_kind: str | None = None, panels=PANELS
) -> None:
    """Kind, layer, head and row-label pickers (shared by the Attention and Anatomy views; values in the URL).
    with_kind=False: no kind picker, for a figure set that shows every kind of one layer (Anatomy's
    layers); the row labels then apply to `rows_kind` ("encoder": greyed out; None: every decoder row).
    `panels`: the panels offered (the time-lapse only for a model with training snapshots).

    Two rows, so the figure is on the first screen. A picker the chosen panel does not use is not
    drawn (a greyed-out "L0" would still look chosen): the model view shows every layer and head,
    and the head view picks its heads with "Heads to draw" in the head picker's place.
    """
    ss = st.session_state
    n_layers, n_heads = ctx.trace.n_layers, ctx.trace.n_heads
    panel = ss["panel"] if with_panel else "heatmaps"
    top = st.columns(2) if with_panel else st.columns(1)
    if with_kind:
        top[0].segmented_control(
            "Attention",
            KIND_NAMES,
            key="kind",
            required=True,
            format_func=KIND_LABELS.get,
            persist_state="session",
            label_visibility="collapsed",
        )
    if with_panel:
        # four panels are wider than half a page at 1280 px: a second row, never clipped
        pick_one("Show", panels, "panel", top[1])
    layer_col, head_col, rows_col = st.columns([2, 3, 4])
    if panel == "model":
        layer_col.markdown("**Layers:** all")
        head_col.markdown("**Heads:** all")
    else:
        layer_col.segmented_control(
            "Layer",
            range(n_layers[ss["kind"]]),
            key="layer",
            required=True,
            format_func=lambda i: f"L{i}",
            persist_state="session",
        )
    if panel not in ("model", "lines"):
        head_col.segmented_control(
            "Head",
            [*range(n_heads), MEAN],
            key="head",
            required=True,
            format_func=head_label,
            persist_state="session",
        )
    elif panel == "lines":
        if ss["att_lines_heads"] is None:
            ss["att_lines_heads"] = list(range(n_heads))
        head_col.multiselect(
            "Heads to draw",
            list(range(n_heads)),
            key="att_lines_heads",
            format_func=head_label,
            persist_state="session",
            help="Each head has its own colour. Fewer heads, fewer lines: one head at a time reads best.",
        )
    with rows_col:
        pick_rows(ss["kind"] if with_kind else rows_kind)


def _toggles() -> None:
    """Hide special pieces, renormalise, colour scale: above every panel."""
    ss = st.session_state
    a, b, c = st.columns(3)
    a.toggle(
        "Hide special pieces",
        key="att_hide_specials",
        persist_state="session",
        help="Drop the rows and columns of `<s>`, `</s>`, `<pad>` and `<unk>` (a decoder row goes when "
        "every piece its label names is special).",
    )
    renorm_help = "After hiding special pieces, rescale each row to sum to 1 again."
    if ss["att_hide_specials"]:
        b.toggle("Renormalise rows", key="att_renormalise", persist_state="session", help=renorm_help)
    else:  # nothing is hidden, so nothing is renormalised: shown off, the choice kept for later
        b.toggle(
            "Renormalise rows",
            value=False,
            disabled=True,  # no key: a stand-in, never a setting of its own
            help=renorm_help + " Applies once special pieces are hidden.",
        )
    c.toggle(
        "Colour scale to largest weight",
        key="att_autoscale",
        persist_state="session",
        help="Off: white = 0, dark = 1 in every figure. On: dark = the largest weight shown.",
    )


def _head_view(ctx: Ctx, attn, q_tok: list[str], k_tok: list[str], same: dict, layer: int) -> bool:
    """The head view of one layer (lines from each query to the keys it reads), as an SVG page; False when
    nothing is left to draw."""
    ss = st.session_state
    kind, rows = same["kind"], same["rows"]
    heads = list(range(ctx.trace.n_heads))
    chosen = ss["att_lines_heads"] or heads[:1]
    w, q_pos, k_pos = shown(attn[layer], q_tok, k_tok, kind, rows)
    if w.size == 0:
        st.info(NOTHING_LEFT)
        return False

    def draw(font: int) -> str:
        return models.figure(viz.head_view,
            w, q_tok, k_tok, **same, layer=layer, heads=chosen, q_pos=q_pos, k_pos=k_pos, font_size=font,
            subtitle=export.quoted(ctx.text, 300),  # a saved SVG says which sentence it shows (wrapped)
        )  # fmt: skip

    svg = draw(ctx.font)
    height, room = viz.svg_size(svg)[1], PROJECTOR_HEIGHT - above_px(ctx)
    if ctx.present and height > room:  # projected: on one screen, its font smaller (the figure scales
        svg = draw(int(ctx.font * room / height))  # with it; 11 px at least)
        height = viz.svg_size(svg)[1]
    # its own page under a policy that runs no script (st.iframe's height="content" would need one)
    st.iframe(viz.svg_page(svg), height=height, alt=HEAD_VIEW_ALT)
    st.download_button(
        "Download the head view (SVG, for slides)",
        lambda: svg,  # made when clicked, not sent with every rerun
        file_name=f"{stem(ctx, kind, f'L{layer}', 'head-view')}.svg",
        mime="image/svg+xml",
        on_click="ignore",
        key="dl_head_view",
    )
    return True


def render(ctx: Ctx) -> None:
    ss = st.session_state
    snapshots = training.snapshots(ctx)
    training.fit_step(ctx, snapshots)
    with controls(ctx):
        pick_attention(
            ctx, panels=PANELS if snapshots else {p: s for p, s in PANELS.items() if p != "training"}
        )
        _toggles()
    if snapshots and ss["panel"] != training.PANEL and not ctx.present:
        training.offer(ctx, snapshots)
    kind, layer, head, panel = ss["kind"], ss["layer"], ss["head"], ss["panel"]
    rows = state.rows_for(ss, kind)
    zmax = None if ss["att_autoscale"] else 1.0
    t = ctx.trace
    attn = t.attention[kind]  # (layers, heads, q_len, k_len)
    q_tok, k_tok = viz.side_tokens(t, kind)
    same = {"kind": kind, "rows": rows}
    notes = [EXPLAIN[kind]]  # said under the figures (folded away in presentation mode)

    if panel == "heatmaps":
        heads = [head] if head == MEAN else [head, MEAN]
        cols = ctx.columns(len(heads))
        for col, h in zip(cols, heads, strict=True):
            w, q_pos, k_pos = shown(viz.head_weights(attn, layer, h), q_tok, k_tok, kind, rows)
            who = head_title(h)
            if (kind, layer, h) in ctx.off:  # its weights are still computed; its output is zeroed
                who += " (switched off)"
            name = f"{KINDS[kind].title}: L{layer} {who}"
            drawn = {**same, "layer": layer, "head": h, "q_pos": q_pos, "k_pos": k_pos, "title": name,
                     "subtitle": export.quoted(ctx.text), "zmax": zmax, "font_size": ctx.font}  # fmt: skip
            key = f"fig_att_{'mean' if h == MEAN else 'head'}"
            with col:
                heatmap(ctx, key, (w, q_tok, k_tok), drawn, (kind, f"L{layer}", head_label(h)))
        notes.append(
            "Hover a cell for its weight: its row's and its column's pieces light up (hold the pointer on a "
            "piece for its position). Rows: queries; columns: keys; layers and heads from 0. On a long "
            "sentence every k-th piece is written on an axis; a hovered cell's pieces always are."
        )
    elif panel == "model":
        with st.spinner("Drawing every layer × head…"):
            w, q_pos, k_pos = shown(attn, q_tok, k_tok, kind, rows)
            fig = None
            if w.size:
                fig = figure(
                    ctx,
                    viz.model_view,
                    w,
                    q_tok,
                    k_tok,
                    **same,
                    q_pos=q_pos,
                    k_pos=k_pos,
                    zmax=zmax or 1.0,
                    font_size=ctx.small_font,
                )
        if fig is None:
            st.info(NOTHING_LEFT)
            return
        chart(ctx, fig, "fig_att_model", kind, "all-heads")
        with st.expander("Which head does what? (one row per head)"):
            summary = viz.head_summary_frame(w, kind=kind, q_pos=q_pos, k_pos=k_pos)
            st.dataframe(summary.round(4), hide_index=True, key="att_head_summary")
            st.caption(
                "entropy_bits: 0 = each query looks at one key, high = spread out; mean_distance: how "
                "far (in positions) a head looks; self_weight: attention to the query's own position."
            )
        notes.append("Hover a cell for the exact weight; every k-th piece is written on the outer axes.")
    elif panel == "flow":
        flow.render(ctx, kind=kind, layer=layer, head=head, rows=rows, zmax=zmax)
    elif panel == attribution.PANEL:
        attribution.render(ctx, kind=kind, layer=layer, head=head, rows=rows, zmax=zmax)
    elif panel == training.PANEL:
        training.render(ctx, snapshots)
    elif not _head_view(ctx, attn, q_tok, k_tok, same, layer):
        return
    else:
        notes.append(
            "**Hover a piece** (or tap it, or Tab to it) to keep only its lines: on the left, what that query "
            "reads; on the right, who reads that key. Hover a head in the colour key for only its lines. Line "
            "opacity is the weight (width grows with it); weights under 0.02 are not drawn. Hold the pointer "
            "on a piece for its strongest weights per head."
        )
    if KINDS[kind].predicts:
        notes.append(ROW_CAPTION)
    with st.expander("What am I looking at?") if ctx.present else st.container():
        for note in notes:
            st.caption(note)


VIEW = View(
    "attention", "Attention", "See", "§3.2 Attention and §3.2.3 Applications of Attention in our Model", render,
    params=(
        flag("hide", "att_hide_specials", False, "1 = hide special pieces"),
        flag("renorm", "att_renormalise", True, "0 = do not renormalise rows once specials are hidden"),
        flag("autoscale", "att_autoscale", False, "1 = colour scale to the largest weight shown"),
        numbers("heads", "att_lines_heads", 1_000, 1_000, "the head view's heads, e.g. 0,2 (absent: every head)",
                f"heads are {LIST}", shown=lambda m: list(range(m.n_heads)),
                fit_model=below(lambda ss, m: m.n_heads, "this model has heads")),
        attribution.ATTR,
        training.SNAP,
    ),
    says_translation=True, follows=EXPERIMENT, on_its_own=True,
)  # fmt: skip
