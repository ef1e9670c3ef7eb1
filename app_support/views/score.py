"""Score a translation: the model reads a typed translation (a student's, say) piece by piece,
teacher-forced, and says how likely it finds each piece, its rank, and the whole translation's
log-probability beside that of its own translation.

The typed translation is st.session_state["target"] (in the URL as `target`); while it is set every
view that follows the experiment (`View.follows`) is traced on it.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import viz
from app_support import notices, state
from app_support.experiment import heads_off, results
from app_support.experiment.results import SURPRISING
from app_support.experiment.session import SCIENCE, experiment, typed_target
from app_support.safe_text import count, md_code, without_lone_surrogates
from app_support.views import Ctx, View, chart

EXPLAIN = (
    "Type a translation of the sentence, a student's say, and press Enter: the model reads it piece by piece "
    "(teacher-forced) and says how likely it finds each one. Every other view then shows it traced on yours."
)
NOT_A_CHECKER = (
    "The model is not a grammar checker: it says how likely each piece is after the pieces before it, as "
    "it learned from the sentences it was trained on. A piece it ranks first can still be wrong, and a right "
    "one can surprise it."
)


def summary(frame: pd.DataFrame) -> str:
    """How many pieces surprise the model and how many are not its first choice, as the chart shows."""
    n, bad, other = len(frame), int(frame["surprising"].sum()), int((frame["rank"] > 1).sum())
    if bad == 0:
        every = "its one piece has" if n == 1 else f"each of its {n} pieces has"
        said = f"No piece surprises the model: {every} probability {SURPRISING:g} or more."
    else:
        said = (
            f"{bad} of {count(n, 'piece')} {'surprises' if bad == 1 else 'surprise'} the model (orange: "
            f"probability below {SURPRISING:g})."
        )
    if other == 0:
        return f"{said} The model ranks every piece first (#1 beside its bar: its rank among all pieces)."
    return f"{said} At {other} of them the model's first choice is another piece, named beside its bar."


def preferred(frame: pd.DataFrame, own_tokens: list[str]) -> str | None:
    """A plain sentence naming the typed pieces (rows of `frame`, then `</s>`) that the model's own
    translation does not have there (`viz.align_pieces`), yet the model ranks first: it prefers what it did
    not write. Each with its probability and the model's own piece there; None when there are none."""
    named, j = [], 0
    for tag, mine, piece in viz.align_pieces(own_tokens, frame["piece"].tolist()[:-1]):
        if piece is not None:
            if tag != "same" and frame["rank"][j] == 1:
                own = "" if mine is None else f"; its own translation has {md_code(mine, 40)}"
                named.append(f"{md_code(piece, 40)} (p = {frame['prob'][j]:.2f}{own})")
            j += 1
    if not named:
        return None
    one = len(named) == 1
    is_, each, stands = ("it is", "it", "it stands") if one else ("they are", "each", "they stand")
    return (
        f"The model itself prefers {', '.join(named)}: {is_} not in the model's own translation, yet the "
        f"model ranks {each} first where {stands}. {NOT_A_CHECKER}"
    )


def unreadable(target: str, model, pieces: list[str]) -> str | None:
    """The notice for a typed translation (its `pieces`) with characters the model has no piece for (another
    script, say), found as the main sentence's are (`notices.unreadable_characters`)."""
    unknown, as_bytes = notices.unreadable_characters(target, model.tokenizer, model.config.unk_id)
    if not unknown and not as_bytes:
        return None
    example = next((p for p in pieces if notices.BYTE_PIECE.fullmatch(p)), "<0xD0>")
    reads = f"as raw UTF-8 bytes ({md_code(example)} …)" if as_bytes else "as `<unk>` (unknown)"
    chars = md_code(" ".join(unknown + as_bytes), 40)
    return (
        f"Your translation has characters this model has no piece for: {chars}. It reads each {reads}, "
        "pieces it hardly saw in training, so their low scores say the model cannot read them, not that the "
        "translation is wrong."
    )


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
    with st.container(horizontal=True):  # each button as wide as its words: none cut at 1280 px
        st.button(
            "Start from the model's translation", key="score_copy", on_click=ss.update, kwargs={"target": own}
        )
        st.button(
            "Clear", key="score_clear", on_click=ss.update, kwargs={"target": ""}, disabled=not ss["target"]
        )
    target = typed_target(ss)
    if target is None:
        if ss["target"]:
            st.warning("Your translation is only spaces: type some words to score.")
        else:
            st.info("The box is empty: until you type one, here is the model's own translation, read alike.")
    off = experiment(ss).get("off", ())
    if off:
        st.warning(f"Scored with {heads_off.describe(off)} (set in *Switch heads off*).", icon=SCIENCE)
    with st.spinner("Reading your translation…"):
        s = results.score_target(ctx.run.but(off=off, target=target))
    if s.truncated:
        st.warning(
            f"Your translation has more pieces than this model reads at once: only its first "
            f"{ctx.model.config.max_len - 1} pieces are scored."
        )
    frame = s.frame
    if target is not None and (notice := unreadable(target, ctx.model, frame["piece"].tolist())):
        st.warning(notice)
    title = f"How likely the model finds each piece of {'its own' if target is None else 'this'} translation"
    fig = viz.piece_scores_bar(frame, title=title, surprising=SURPRISING, font_size=ctx.font)
    chart(ctx, fig, "fig_score_pieces", "your-translation" if target else "own-translation")
    st.markdown(summary(frame))
    if target is None:
        return
    said = preferred(frame, s.own_tokens)  # a box where the model prefers a piece it did not write
    (st.info if said else st.caption)(said or NOT_A_CHECKER)
    n, own_n = len(frame), len(s.own_tokens) + 1  # pieces predicted, </s> included
    left, right = st.columns(2)
    left.metric(
        "Your translation: log p",
        f"{s.total:.2f}",
        delta=f"{s.total - s.own_total:+.2f} vs the model's",
        delta_color="normal",
        help=f"Natural log of the probability of the whole translation: the sum over its {count(n, 'piece')} "
        f"(`</s>` included); {s.total / n:.2f} per piece. 0 = certain.",
    )
    right.metric(
        "The model's own translation: log p",
        f"{s.own_total:.2f}",
        help=f"{count(own_n, 'piece')}, {s.own_total / own_n:.2f} per piece. Longer translations have lower "
        "totals: compare per piece too.",
    )
    st.markdown("**The model's own translation**")
    st.code(s.own_text or "(empty)", language=None, wrap_lines=True)


VIEW = View(
    "score", "Score a translation", "Experiment",
    "§3.4 (the output softmax), read teacher-forced as in training (§5.4)", render,
    params=(
        state.Param("target", "target", "", without_lone_surrogates, "not text",
                    "a typed translation: every view is traced on it"),
    ),
    sets_experiment=True,
)  # fmt: skip
