"""Ask the class: the quiz's round as a question to every student, their picks counted, then one reveal.

The teacher asks from the Quiz view ("Ask the class"): the round (sentence, model, word, layer) is shown to the
class and opened as a question. A student page on that round sends its pick to the store (one per student per
question: app_support.classroom.store) and sees the model's answer only when the teacher reveals it; the
teacher's page counts the picks as they arrive and draws how they spread, then, after "Reveal", beside the
model's answer and the hand alignment. A student never sees another's pick, only the class's counts after the
reveal.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

import viz
from app_support import quiz as rules
from app_support.classroom import page
from app_support.classroom.lesson import Seat, lesson
from app_support.classroom.store import AGAIN, CLOSED, COUNTED, LATE
from app_support.safe_text import count, md_code
from app_support.views import chart

HEIGHT = {False: 260, True: 430}  # the picks' chart, by presentation mode: with the question on one screen
SAID = "_class_said"  # session key: what became of the last answer sent, said once
OUTCOMES = {
    COUNTED: None,
    AGAIN: "You had answered this question already: your first answer counts.",
    LATE: "Your teacher had already revealed the answer: this pick was not counted.",
    CLOSED: "This question is closed: your teacher asked another one.",
    "limited": "Too many answers from this page: wait a minute.",
}


def asked_here(seat: Seat | None, ss, n_layers: int) -> int:
    """The open question's number when this page shows its round (sentence, model, word, layer), else 0."""
    asked = seat.state.asked if seat is not None and seat.state.question else None
    if not asked or asked.get("view") != "quiz":
        return 0
    here = {
        "text": ss["text"],
        "model": ss["model"],
        "qpiece": str(ss["qpiece"]),
        "qlayer": str(ss["qlayer"]),
    }
    theirs = {k: asked.get(k) for k in ("text", "model", "qpiece")} | {
        "qlayer": asked.get("qlayer", str(n_layers - 1))  # absent from a link: the last layer
    }
    return seat.state.question if here == theirs else 0


def ask_button(seat: Seat) -> None:
    st.button("Ask the class", key="class_ask", type="primary", icon=":material/how_to_vote:",
              on_click=_ask, args=(seat,), help="Every student page that follows the class shows this round; "
              "their picks come back here, and the answer stays hidden until you reveal it.")  # fmt: skip


def _ask(seat: Seat) -> None:
    lesson().push(seat, page.pushed_query(), ask=True)


# --- the teacher's page ---------------------------------------------------------------------------------------


def teacher(ctx, seat: Seat, question: int, rnd: rules.Round, labels: list[str], word: str) -> None:
    """The class's picks, live until the reveal; after it, beside the model's answer and the hand alignment."""
    if not seat.state.revealed:
        _spread(seat, question, tuple(labels), ctx.font, HEIGHT[ctx.present])
        return
    counts = picks(seat.code, question, len(labels))
    total = int(counts.sum())
    hand = [] if rnd.hand_word is None else [rnd.hand_word]
    model_word = md_code(labels[rnd.model_word], 40)
    said = f"{count(total, 'answer')}: {int(counts[rnd.model_word])} picked {model_word}, what the model reads most"
    if rnd.hand_word == rnd.model_word:
        said += " and the hand alignment marks"
    elif rnd.hand_word is not None:
        hand_word = md_code(labels[rnd.hand_word], 40)
        said += f"; {int(counts[rnd.hand_word])} picked {hand_word}, the word the hand alignment marks"
    st.success(said + ".")
    fig = viz.class_picks(counts, labels, weights=rnd.weights, model_pick=[rnd.model_word], hand_pick=hand,
                          title=f"The class's picks and the model's attention while it writes “{word}”",
                          font_size=ctx.font, height=HEIGHT[ctx.present])  # fmt: skip
    page_chart(ctx, fig, "fig_class_picks")


def picks(code: str, question: int, n_words: int) -> np.ndarray:
    """(n_words,) how many students picked each source word."""
    counted = lesson().store.answers(code, question)
    return np.array([counted.get(i, 0) for i in range(n_words)])


def page_chart(ctx, fig, key: str) -> None:
    chart(ctx, fig, key, "class", key.removeprefix("fig_class_"))


@st.fragment(run_every=1.0)
def _spread(seat: Seat, question: int, labels: tuple[str, ...], font: int, height: int) -> None:
    """The picks as they arrive (no answer marked: the teacher has not revealed it), and the reveal button."""
    now = lesson().state(seat.code)
    if now is None or now.revealed or now.question != question:  # revealed (here or in another tab), or ended
        st.rerun()
    counts = picks(seat.code, question, len(labels))
    following, _ = lesson().presence(seat.code)
    with st.container(horizontal=True, vertical_alignment="center"):
        st.markdown(f"**{int(counts.sum())} answered** · {following} following the class", width="content")
        st.button("Reveal the answer", key="class_reveal", type="primary", icon=":material/visibility:",
                  on_click=lesson().reveal, args=(seat, question),
                  help="Every student page shows the model's answer beside its own pick.")  # fmt: skip
    fig = viz.class_picks(
        counts, list(labels), title="How the class's picks spread", font_size=font, height=height
    )
    st.plotly_chart(fig, key="fig_class_spread", theme=None, config={"displayModeBar": False})


# --- a student's page -----------------------------------------------------------------------------------------


def student(seat: Seat, question: int) -> tuple[int | None, bool]:
    """(this student's pick or None, whether the teacher has revealed), and what became of a pick just sent."""
    ss = st.session_state
    mine = lesson().store.my_answer(seat.code, question, page.student(ss, seat.code))
    if (said := ss.pop(SAID, None)) is not None:
        st.warning(said)
    return mine, seat.state.revealed


def send(seat: Seat, question: int, pick_key: str) -> None:
    """The pills' callback: the pick to the store."""
    ss = st.session_state
    pick = ss.get(pick_key)
    if pick is None:
        return
    outcome = lesson().answer(seat, question, page.student(ss, seat.code), int(pick))
    if OUTCOMES.get(outcome):
        ss[SAID] = OUTCOMES[outcome]


def waiting_line(mine: int | None, labels: list[str]) -> str:
    if mine is None:
        return "Pick a word: your teacher sees how the class's picks spread, then reveals the model's answer."
    return f"Your answer is in: {md_code(labels[mine], 40)}. Your teacher reveals the model's answer."


def class_counts(ctx, seat: Seat, question: int, labels: list[str], rnd: rules.Round) -> None:
    """After the reveal: how the class picked (counts only), under the student's own reveal."""
    counts = picks(seat.code, question, len(labels))
    hand = [] if rnd.hand_word is None else [rnd.hand_word]
    fig = viz.class_picks(counts, labels, weights=rnd.weights, model_pick=[rnd.model_word], hand_pick=hand,
                          title="How the class picked, beside the model's attention", font_size=ctx.font,
                          height=HEIGHT[ctx.present])  # fmt: skip
    page_chart(ctx, fig, "fig_class_picks")
