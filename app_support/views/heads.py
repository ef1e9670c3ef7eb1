"""Switch heads off: a layer × head grid of toggles per attention kind, the sentence translated again
with those heads off beside the model's own translation, and which single heads matter most.

A head is switched off by zeroing its output (hook_z, before W_O) while decoding and while tracing
(transformer.analysis.zero_heads). The set is st.session_state["off"] (app_support.experiment.heads_off),
in the URL as `off`; the other views show the run with it (app_support.experiment.session).
"""

from __future__ import annotations

import functools

import streamlit as st

import viz
from app_support import state
from app_support.experiment import heads_off, results
from app_support.safe_text import md_code
from app_support.views import Ctx, View, chart, controls
from transformer.kinds import KINDS

EXPLAIN = (
    "Switch attention heads off and the sentence is translated again without them: each head's output "
    "is set to zero (as if it were cut out of the model) while the model decodes. Below, the model's own "
    "translation beside the new one, and how likely the changed model still finds the original "
    "translation, piece by piece."
)
TABLE = "heads_rank"  # container of the "which heads matter" table (its widget key changes with the set)


def pills_key(kind: str, layer: int) -> str:
    return f"off_{kind}_{layer}"


def _picked(kind: str, layer: int) -> None:
    """A row of the grid changed: replace that layer's heads in the set."""
    ss = st.session_state
    chosen = ss.get(pills_key(kind, layer)) or []
    rest = [h for h in ss["off"] if (h[0], h[1]) != (kind, layer)]
    ss["off"] = heads_off.normalise([*rest, *((kind, layer, int(h)) for h in chosen)])


def _row_clicked(key: str, heads: list[tuple[str, int, int]], ss=None) -> None:
    """A row of the ranking was clicked: switch that head off (alone). `ss`: the session (tests)."""
    ss = st.session_state if ss is None else ss
    rows = ss[key]["selection"]["rows"]
    if rows:
        ss["off"] = (heads[rows[0]],)


def grid(ctx: Ctx) -> None:
    """One row of head toggles per layer, one column per attention kind (highlighted = off)."""
    ss, t = st.session_state, ctx.trace
    off = set(ss["off"])
    heads = list(range(t.n_heads))
    for col, (kind, n) in zip(st.columns(len(t.n_layers)), t.n_layers.items(), strict=True):
        with col:
            st.markdown(f"**{KINDS[kind].label}**")
            for layer in range(n):
                key = pills_key(kind, layer)
                ss[key] = [h for h in heads if (kind, layer, h) in off]  # before the widget: follows the set
                st.pills(
                    f"Layer {layer}",
                    heads,
                    selection_mode="multi",
                    key=key,
                    format_func=lambda h: f"H{h}",
                    on_change=_picked,
                    args=(kind, layer),
                )
    a, b = st.columns([1, 3])
    a.button("All heads on", key="heads_all_on", on_click=ss.update, kwargs={"off": ()}, disabled=not off)
    b.caption("Click a head to switch it off (highlighted = off); click again to switch it back on.")


EMPTY = "(empty: the model ended the sentence at once)"


def own(text: str) -> None:
    st.markdown("**The model's translation**")
    st.code(text or EMPTY, language=None, wrap_lines=True)


def differ_value(changed: int, slots: int) -> str:
    """The metric's value, short enough for a third of a 1280 px page: "unchanged" or "1 of 8"."""
    return "unchanged" if changed == 0 else f"{changed} of {slots}"


def comparison(ctx: Ctx, off: heads_off.Off) -> None:
    """The two translations side by side (changed pieces marked) and the original's log-probability."""
    with st.spinner("Translating again with the heads off…"):
        c = results.compare(ctx.run.but(off=off))
    name = heads_off.describe(off, limit=3).split(":")[0]  # "3 heads off"
    left, right = ctx.columns(2)
    with left:
        own(c.original_text)
    with right:
        st.markdown(f"**With {name}**")
        st.code(c.ablated_text or EMPTY, language=None, wrap_lines=True)
    fig = viz.translation_diff(c.original, c.ablated, names=("the model", name), font_size=ctx.font)
    chart(ctx, fig, "fig_heads_diff", "translations", heads_off.to_url(off))
    before, after = float(c.before.sum()), float(c.after.sum())
    a, b = st.columns(2)
    a.metric(
        "Pieces that differ",
        differ_value(c.differ, c.slots),
        help="Pieces of the new translation that differ from the model's own, the two lined up by their "
        "longest common runs (difflib): the count the ranking below gives each head.",
    )
    b.metric(
        "log p of the original translation",
        f"{after:.2f}",
        delta=f"{after - before:+.2f} (was {before:.2f})",
        delta_color="normal",
        help="Natural log of the probability the model, with the heads off, gives the original translation, "
        "read teacher-forced: the sum over its pieces (`</s>` included). 0 = certain.",
    )
    title = "Log-probability of the original translation, piece by piece (teacher-forced)"
    fig = viz.piece_logprob_bars(
        c.pieces, c.before, c.after, names=("the model", name), title=title, font_size=ctx.font
    )
    chart(ctx, fig, "fig_heads_logp", "logp", heads_off.to_url(off))
    st.caption(
        "Teacher-forced: the decoder is given the original translation piece by piece, with and without the "
        "heads; each bar is the log-probability of the piece it predicts there."
    )


def ranking_caption(n_heads: int, decoded: int) -> str:
    return (
        f"Each of the {n_heads} heads switched off alone, ranked by how much less likely the model then "
        f"finds its own translation (teacher-forced). The top {decoded} are translated again with that head "
        "off, as above: *pieces that differ* from the model's own. **Click a row to switch that head off** "
        "(alone; combine heads in the grid). A small change does not mean a head is useless: others may do "
        "its work."
    )


def ranking(ctx: Ctx, off: heads_off.Off) -> None:
    """Every single head switched off in turn, ranked by how much less likely the translation becomes."""
    st.subheader("Which heads matter")
    with st.spinner("Switching every head off in turn…"):
        table = results.heads_table(ctx.run)
    fig = viz.head_effect_grid(table, off=off, font_size=ctx.font)
    chart(ctx, fig, "fig_heads_grid", "which-heads-matter")
    heads = list(zip(table["kind"], table["layer"].astype(int), table["head_index"].astype(int), strict=True))
    key = f"heads_rank_{heads_off.to_url(off) or 'none'}"  # a new table when the set changes: no stale selection
    shown = table[["rank", "head", "logp_change", "logp_after", "differ", "translation"]].copy()
    shown.loc[shown["differ"] == 0, "translation"] = "(unchanged)"  # the rows that change it stand out
    with st.container(key=TABLE):
        st.dataframe(
            shown,
            hide_index=True,
            key=key,
            on_select=functools.partial(_row_clicked, key, heads),
            selection_mode="single-row",
            column_config={
                "rank": st.column_config.NumberColumn("rank", width="small"),
                "logp_change": st.column_config.NumberColumn(
                    "change in log p", format="%.3f", help="With only this head off; negative = less likely"
                ),
                "logp_after": st.column_config.NumberColumn("log p with it off", format="%.3f"),
                "differ": st.column_config.NumberColumn(
                    "pieces that differ", help="0 = the same translation"
                ),
                "translation": st.column_config.TextColumn("translation with it off", width="large"),
            },
        )
    st.caption(ranking_caption(len(table), min(results.DECODED, len(table))))


def render(ctx: Ctx) -> None:
    ss = st.session_state
    t = ctx.trace  # the model as trained (this view follows no experiment: it sets it)
    st.markdown(EXPLAIN)
    with controls(ctx, "Heads"):
        grid(ctx)
    off = tuple(ss["off"])
    for warning in heads_off.warnings(off, t.n_layers, t.n_heads):
        st.warning(warning)
    if off:
        st.markdown(f"**{md_code(heads_off.describe(off, limit=12))}**")
        comparison(ctx, off)
    else:
        st.info(
            "Every head is on: this is the model as trained. Click heads in the grid, or a row of the table "
            "below, to switch them off."
        )
        own(t.tgt_text)
    ranking(ctx, off)


VIEW = View(
    "heads", "Switch heads off", "Experiment", "§3.2.2 Multi-Head Attention, one head at a time switched off",
    render,
    params=(
        state.Param(
            "off", "off", (), lambda r: None if (parsed := heads_off.parse(r))[1] else parsed[0],
            "write heads as kind.layer.head separated by commas, e.g. cross.1.0,encoder.0.3",
            "heads switched off, kind.layer.head separated by commas, e.g. cross.1.0,cross.1.3 (every view)",
            write=heads_off.to_url,
        ),
        state.flag("apply", "exp_apply", True, "0 = the views show the model as trained although an experiment is set"),
    ),
    sets_experiment=True,
)  # fmt: skip
