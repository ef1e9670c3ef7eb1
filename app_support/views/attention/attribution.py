"""What the model used, beside what it attended to (the Attention view's "Attribution" panel, `panel=attribution`).

Cross-attention weights say how much a decoder row *reads* each source piece; whether the prediction
*depends* on that piece is another question (Jain & Wallace, 2019; Wiegreffe & Pinter, 2019). The panel
puts the weights of the chosen layer and head beside one of three other answers, all from
`transformer.attribution.attribute`: the weights × the norm of what each piece moves (Kobayashi et al.,
2020), gradient × input (Ding et al., 2019) and integrated gradients (Sundararajan et al., 2017). Each
figure's caption says what it is and what it is not; a line under them counts the rows where both put
their largest value on the same source piece. The method is in the URL as `attr`.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

import viz
from app_support import export, models, state
from app_support.safe_text import count
from app_support.state import MEAN
from app_support.views import Ctx, pick_one
from app_support.views.attention.draw import head_title, heatmap, shown
from transformer import attribution
from transformer.kinds import KINDS

METHODS = {  # what the panel compares the weights with: method -> its button
    "value_norm": "Weights × what moves",
    "grad_x_input": "Gradient × input",
    "integrated_gradients": "Integrated gradients",
}
ATTR = state.choice(
    "attr", "att_attr", "value_norm", tuple(METHODS),
    "value_norm | grad_x_input | integrated_gradients: what the Attention view's panel=attribution puts "
    "beside the cross-attention weights", "methods are",
)  # fmt: skip
PANEL = "attribution"
READS = "**The weights**: how much each row *reads* each source piece."  # above the left figure
IS = {  # under the figures: what each is, and what it is not
    "attention": "**The weights** say how much a row reads the encoder's output at each source piece, not how "
    "much the prediction depends on it (Jain & Wallace, 2019; Wiegreffe & Pinter, 2019).",
    "value_norm": "**Weights × what moves** (Kobayashi et al., 2020): each weight times the length of the "
    "vector that piece sends through this layer's heads; a piece read a lot but sending little counts little. "
    "Still one layer's reading, not the whole model's use.",
    "grad_x_input": "**Gradient × input** (Ding et al., 2019): how fast the predicted piece's log-probability "
    "changes with each source piece's embedding, times that embedding: the whole model, but a local, linear "
    "estimate, not what removing the piece would do.",
    "integrated_gradients": "**Integrated gradients** (Sundararajan et al., 2017): gradient × input summed "
    "along the way from an empty source (zero embeddings) to this one, so a row adds up to the change in "
    "log-probability along that way; another starting point gives other values.",
}
SHOWN = (
    "Each row shows the absolute values rescaled to sum to 1, so they read like attention weights; a "
    "negative gradient (a piece that makes the prediction *less* likely) counts as much as a positive one. "
    "Rows as in every cross-attention figure: row t predicts the piece after piece t."
)
DECODER_ONLY = (
    "Attribution is drawn for cross-attention: it asks which *source* piece each prediction uses. "
    "Pick **Cross** above."
)
PICKER_PX = 50  # the method picker above the figures


def agreement(weights: np.ndarray, other: np.ndarray) -> tuple[int, int]:
    """(rows whose largest value falls on the same source piece in both, rows): over the rows shown."""
    if weights.size == 0:
        return 0, 0
    return int((weights.argmax(-1) == other.argmax(-1)).sum()), weights.shape[0]


def render(ctx: Ctx, *, kind: str, layer: int, head: int, rows: str, zmax: float | None) -> None:
    """The weights of cross-attention (layer, head) beside the chosen attribution, special pieces hidden as
    the view's toggles say."""
    if kind != "cross":
        st.info(DECODER_ONLY)
        return
    ss = st.session_state
    left, right = st.columns([2, 3])  # the picker above the figure it changes, on one row at 1280 px
    left.markdown(READS)
    pick_one("Beside the weights", METHODS, "att_attr", right)
    method = ss["att_attr"]
    t = ctx.trace
    whole_model = method not in attribution.LAYERED  # gradients of the whole model: no layer, no head
    with st.spinner(f"Computing {METHODS[method].lower()}…"):
        # the whole-model methods take no layer or head: one result for every layer and head clicked
        where = (None, None) if whole_model else (layer, None if head == MEAN else head)
        other = models.get_attribution(ctx.run, method, *where)
    q_tok, k_tok = viz.side_tokens(t, kind)
    who = head_title(head)
    steps = f" ({models.ig_steps(ctx.run)} steps)" if method == "integrated_gradients" else ""
    panels = (
        ("attention", viz.head_weights(t.attention["cross"], layer, head), f"{KINDS[kind].title}: L{layer} {who}"),
        (method, viz.row_shares(other), f"{METHODS[method]}{steps}: " + ("whole model" if whole_model else f"L{layer} {who}")),
    )  # fmt: skip
    drawn_weights = []
    for col, (what, weights, title) in zip(ctx.columns(2), panels, strict=True):
        w, q_pos, k_pos = shown(weights, q_tok, k_tok, kind, rows)
        drawn_weights.append(w)
        with col:
            drawn = {"kind": kind, "rows": rows, "q_pos": q_pos, "k_pos": k_pos, "title": title,
                     "subtitle": export.quoted(ctx.text), "zmax": zmax, "font_size": ctx.font,
                     "scale_title": "weight" if what == "attention" else "share"}  # fmt: skip
            heatmap(
                ctx, f"fig_attr_{what}", (w, q_tok, k_tok), drawn, (kind, f"L{layer}", what), above=PICKER_PX
            )
    same, n = agreement(*drawn_weights)
    if n:
        st.markdown(
            f"In **{same} of {count(n, 'row')}** both figures put their largest value on the same source piece."
        )
    for what in ("attention", method):
        st.caption(IS[what])
    st.caption(SHOWN)
