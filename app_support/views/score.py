"""Score a translation: the model reads a typed translation (a student's, say) piece by piece,
teacher-forced, and says how likely it finds each piece, its rank, and the whole translation's
log-probability beside that of its own translation.

The typed translation is st.session_state["target"] (in the URL as `target`); while it is set every
view that follows the experiment (`View.follows`) is traced on it.
"""

from __future__ import annotations

import streamlit as st

import viz
from app_support import state
from app_support.experiment import heads_off, results
from app_support.experiment.results import SURPRISING
from app_support.experiment.session import experiment, typed_target
from app_support.safe_text import without_lone_surrogates
from app_support.views import Ctx, View, chart

EXPLAIN = (
    "Type a translation of the sentence, for example a student's, and press Enter. The model reads it "
    "piece by piece (teacher-forced: at each position it is given the pieces before and asked for the "
    "next) and says how likely it finds each piece. Every other view then shows the model traced on "
    "your translation."
)


def _copy_own(text: str) -> None:
    st.session_state["target"] = text


def render(ctx: Ctx) -> None:
    ss = st.session_state
    own = ctx.trace.tgt_text  # the model's own translation (this view gets the model as trained)
    st.markdown(EXPLAIN)
    st.text_input(
        "Your translation",
        key="target",  # no max_chars: a longer paste is cut with a notice (experiment.fit), not silently
        persist_state="session",
        placeholder="Type a translation and press Enter",
        help="Scored as typed: the model's tokenizer cuts it into pieces; spelling and punctuation count.",
    )
    a, b = st.columns([1, 3])
    a.button("Start from the model's translation", key="score_copy", on_click=_copy_own, args=(own,))
    b.button("Clear", key="score_clear", on_click=_copy_own, args=("",), disabled=not ss["target"])
    target = typed_target(ss)
    if target is None:
        if ss["target"]:
            st.warning("Your translation is only spaces: type some words to score.")
        else:
            st.info(
                "The box is empty: type a translation above (or start from the model's) to score it. Until "
                "then, here is the model's own translation, read the same way."
            )
    off = experiment(ss).get("off", ())
    if off:
        st.warning(f"Scored with {heads_off.describe(off)} (set in *Switch heads off*).", icon="🧪")
    with st.spinner("Reading your translation…"):
        s = results.score_target(ctx.run.but(off=off, target=target))
    if s.truncated:
        st.warning(
            f"Your translation has more pieces than this model reads at once: only its first "
            f"{ctx.model.config.max_len - 1} pieces are scored."
        )
    frame = s.frame
    n = len(frame)
    if target is None:
        st.metric(
            "The model's own translation: log p",
            f"{s.own_total:.2f}",
            help=f"Natural log of its probability: the sum over its {n} pieces (`</s>` included); "
            f"{s.own_total / n:.2f} per piece. 0 = certain.",
        )
    else:
        left, right = st.columns(2)
        left.metric(
            "Your translation: log p",
            f"{s.total:.2f}",
            delta=f"{s.total - s.own_total:+.2f} vs the model's",
            delta_color="normal",
            help=f"Natural log of the probability of the whole translation: the sum over its {n} pieces "
            f"(`</s>` included); {s.total / n:.2f} per piece. 0 = certain.",
        )
        right.metric(
            "The model's own translation: log p",
            f"{s.own_total:.2f}",
            help=f"{s.own_pieces} pieces, {s.own_total / s.own_pieces:.2f} per piece. Longer translations have "
            "lower totals: compare per piece too.",
        )
    st.markdown("**The model's own translation**")
    st.code(s.own_text or "(empty)", language=None, wrap_lines=True)
    bad = int(frame["surprising"].sum())
    title = (
        "How likely the model finds each piece of its own translation"
        if target is None
        else "How likely the model finds each piece of this translation"
    )
    fig = viz.piece_scores_bar(frame, title=title, surprising=SURPRISING, font_size=ctx.font)
    chart(ctx, fig, "fig_score_pieces", "your-translation" if target else "own-translation")
    st.caption(
        f"{bad} of {n} pieces surprise the model (orange: probability below {SURPRISING:g}). Above each bar its "
        "rank among all pieces (#1 = the model's first choice there); hover for what the model would have "
        "put there instead. Position t reads piece t and predicts piece t + 1, so each bar belongs to the "
        "piece predicted."
    )
    table = frame.rename(
        columns={"model_top": "model's first choice", "model_top_prob": "its probability", "logp": "log p"}
    )
    st.dataframe(
        table.style.format({"prob": "{:.4f}", "log p": "{:.3f}", "its probability": "{:.4f}"}).apply(
            lambda row: ["background-color: #fde2d4" if row["surprising"] else "" for _ in row], axis=1
        ),
        hide_index=True,
        key="score_table",
    )


VIEW = View(
    "score", "Score a translation", "Experiment",
    "§3.4 (the output softmax), read teacher-forced as in training (§5.4)", render,
    params=(
        state.Param("target", "target", "", without_lone_surrogates, "not text",
                    "a typed translation: every view is traced on it"),
    ),
    sets_experiment=True,
)  # fmt: skip
