"""What each head does: for one attention kind, a layer × head grid in which every head is named by its
strongest role (previous piece, end of sentence, rare word, word alignment, …) with its score, measured on
the sentence on screen or over the model's example set (`transformer.head_roles`, which defines and cites
every measure). A click on a head opens it in the Attention view.
"""

from __future__ import annotations

import streamlit as st

import viz
from app_support import models
from app_support.safe_text import count, md_code
from app_support.state import KIND_LABELS, choice
from app_support.views import Ctx, View, controls, pick_one, stem
from transformer import head_roles
from transformer.kinds import KIND_NAMES, KINDS

OVER = {"sentence": "This sentence", "set": "The example set"}
SAYS = {  # each role in one line, for the legend (the measures' definitions: transformer.head_roles.MEASURES)
    "previous": "its weight goes to the piece just before the one it reads",
    "same": "its weight goes to the piece it reads itself",
    "next": "its weight goes to the piece just after the one it reads",
    "parked": "its weight is parked on `</s>`, the start piece or punctuation: a way of reading nothing "
    "(Clark et al., 2019)",
    "rare": "its largest weight falls on the sentence's rarest piece (Voita et al., 2019)",
    "aligned": "the source word it reads most is the one a person marked as the translated word",
    "focused": "no role reaches 1/3, yet its largest weight takes at least half of a row: it reads one piece, "
    "but one the roles do not name (the score is that largest weight, averaged)",
    "broad": "no role reaches 1/3 and it spreads its weight (the score is the entropy, 1 = even spread)",
}
POSITIONAL = "its largest weight on one fixed relative position in at least 90 % of rows (Voita et al., 2019)"
NAMING = (
    "A head is named by the largest of its mean weight on the previous, same or next piece, its parked weight, "
    "and its rare-word and alignment shares (at least 1/3; else focused or broad); a positional head by that "
    "position. The table below has every measure, each defined in `transformer/head_roles.py` with its paper."
)
# each role's fill on its heads' buttons (a button's key names its role), as viz.role_colours(ROLES) says
# (tests/app/test_app_roles.py checks they agree); a literal, as every raw HTML the app sends
ROLE_CSS = """<style>
[class*="st-key-roles_cell-previous-"] button { background: #a6cee3; color: black; }
[class*="st-key-roles_cell-same-"] button { background: #b2df8a; color: black; }
[class*="st-key-roles_cell-next-"] button { background: #fdbf6f; color: black; }
[class*="st-key-roles_cell-parked-"] button { background: #cab2d6; color: black; }
[class*="st-key-roles_cell-rare-"] button { background: #fb9a99; color: black; }
[class*="st-key-roles_cell-aligned-"] button { background: #ffff99; color: black; }
[class*="st-key-roles_cell-focused-"] button { background: #8dd3c7; color: black; }
[class*="st-key-roles_cell-broad-"] button { background: #d9d9d9; color: black; }
</style>"""
CELL = "roles_cell"  # key prefix of a head's button: roles_cell-<role>-<kind>-<layer>-<head>


def _open(kind: str, layer: int, head: int) -> None:
    """A head was clicked: the Attention view, that head's heatmap."""
    st.session_state.update(view="attention", kind=kind, layer=layer, head=head, panel="heatmaps")


def grid(kind: str, roles: head_roles.HeadRoles, names, scores, fixed) -> None:
    """One row of buttons a layer, one button a head: its role and score (`names`, `scores`: (L, H), as
    roles.strongest() gives them; `fixed`: (L, H) a positional head, starred); a click opens it."""
    n_layers, n_heads = names.shape
    st.html(ROLE_CSS)
    head_cols = st.columns([1] + [3] * n_heads, vertical_alignment="center")
    for h, col in enumerate(head_cols[1:]):
        col.markdown(f"**H{h}**", text_alignment="center")
    for layer in range(n_layers):
        cols = st.columns([1] + [3] * n_heads, vertical_alignment="center")
        cols[0].markdown(f"**L{layer}**")
        for h, col in enumerate(cols[1:]):
            role = str(names[layer, h])
            col.button(
                f"{role}{' ★' if fixed[layer, h] else ''} {scores[layer, h]:.2f}",
                key=f"{CELL}-{role}-{kind}-{layer}-{h}",
                on_click=_open,
                args=(kind, layer, h),
                width="stretch",
                help="\n\n".join(
                    f"{m}: {roles.scores[m][layer, h]:.2f}" for m in head_roles.MEASURES if m in roles.scores
                )
                + "\n\nClick to open this head in the Attention view.",
            )


def render(ctx: Ctx) -> None:
    ss = st.session_state
    with controls(ctx):
        a, b = st.columns(2)
        a.segmented_control(
            "Attention", KIND_NAMES, key="kind", required=True, format_func=KIND_LABELS.get,
            persist_state="session", label_visibility="collapsed",
        )  # fmt: skip
        pick_one("Measured over", OVER, "roles_over", b)
    kind, over = ss["kind"], ss["roles_over"]
    if over == "set":
        with st.spinner("Measuring every head over the example set (once per model)…"):
            found = models.get_set_roles(ctx.run.path, ctx.run.stamp)
        what = f"over {found.source}"
        roles = found.roles[kind]
    else:
        roles = models.get_roles(ctx.run)[kind]
        what = "on this sentence"
    st.markdown(
        f"**{KINDS[kind].title}**: each head's strongest role {what}. Click a head to see its attention."
    )
    names, scores = roles.strongest()
    fixed = roles.positional()[0] != ""  # (L, H)
    grid(kind, roles, names, scores, fixed)
    found = list(names.flat)
    tally = ", ".join(f"{found.count(r)} {r}" for r in head_roles.ROLES if r in found)
    st.markdown(f"{count(len(found), 'head')}: {tally}.")  # what a class counts first
    with st.expander("What am I looking at?") if ctx.present else st.container():
        for role in (
            r for r in head_roles.ROLES if r in found
        ):  # the roles on screen (folded on a projector)
            st.caption(f"**{role}**: {SAYS[role]}")
        st.caption(
            f"★ positional: {POSITIONAL}." if fixed.any() else f"No head is positional here ({POSITIONAL})."
        )
        st.caption(NAMING)
    with st.expander("Every measure of every head (table)"):
        frame = viz.head_roles_frame({kind: names}, {kind: scores}, {kind: roles.scores})
        st.dataframe(frame.round(3), hide_index=True, key="roles_table")
        st.download_button(
            "Download (CSV)", frame.to_csv(index=False), file_name=f"{stem(ctx, kind, 'head-roles', over)}.csv",
            mime="text/csv", on_click="ignore", key="dl_roles",
        )  # fmt: skip
    if kind == "cross" and over == "sentence" and roles.counts.get("aligned", 0) == 0:
        st.caption(
            "Word alignment is measured on a sentence of the hand-aligned set "
            f"({md_code('eval/everyday_en_de.json')}) that the model translates exactly as its reference, and "
            "over the example set."
        )


VIEW = View(
    "roles", "Head roles", "See", "§3.2.2 Multi-Head Attention", render,
    says_translation=True,
    params=(choice("over", "roles_over", "sentence", tuple(OVER), "sentence | set: measure the heads on the "
                   "sentence on screen or over the model's example set", "choices are"),),
)  # fmt: skip
