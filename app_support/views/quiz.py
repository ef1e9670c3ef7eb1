"""Predict, then reveal: a classroom quiz on cross-attention (the rules and words in app_support.quiz).

The view names one target word and hides every attention figure; students click the source word they think
the model reads most while writing it; then the model's cross-attention (one layer, heads averaged, over the
rows that write the word) and any hand alignment are revealed, and the session keeps score. Question, answers
and reveal share one screen (1280 × 720, or a projector's); settings and score follow. A round is a URL: text,
model, view=quiz, qpiece (a piece of the target word, counted from 1) and qlayer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

import viz
from app_support import models, state
from app_support import quiz as rules
from app_support.classroom import question
from app_support.safe_text import md_code
from app_support.views import Ctx, View, chart

ANSWERS = "_quiz_answers"  # session key: {round id: {"guess", "model_hit", "hand_hit", "layer"}}
PICK = "quiz_pick"  # the source words (st.pills); its value is an index into rules.words(src)
SENTENCE = "quiz_sentence"  # picker of the built-in sentences (rules.BUILT_IN)
# by presentation mode: question, answers and reveal on one screen of 1280 × 720, or of a projector
REVEAL_HEIGHT = {False: 250, True: 430}
# the target sentence and the answers in a type a class can read from the back (static CSS, no user text)
LARGER_CSS = "<style>.st-key-quiz_question p code, .st-key-quiz_pick code { font-size: 1rem; }</style>"


def _scored(rnd: rules.Round, guess: int, layer: int) -> dict:
    model_hit, hand_hit = rnd.score(int(guess))
    return {"guess": int(guess), "model_hit": model_hit, "hand_hit": hand_hit, "layer": layer}


def _answer(rid: str, rnd: rules.Round, layer: int) -> None:
    ss = st.session_state
    guess = ss.get(PICK)
    answers = ss.setdefault(ANSWERS, {})
    if guess is None or rid in answers:
        return
    answers[rid] = _scored(rnd, guess, layer)


def _pills(said: str, labels: list[str], picked: int | None, disabled: bool, **callback) -> None:
    """The source words to pick from (`picked`: the answer already given, shown chosen); `said`: its label."""
    st.session_state[PICK] = picked
    st.pills(
        said,
        list(range(len(labels))),
        key=PICK,
        format_func=lambda i: md_code(labels[i], 40),
        disabled=disabled,
        **callback,
    )


def _go(piece: int | None, text: str | None = None) -> None:
    ss = st.session_state
    if text is not None:
        ss["text"] = text
    ss["qpiece"] = piece
    ss[PICK] = None


def _pick_sentence() -> None:
    ss = st.session_state
    if ss.get(SENTENCE):
        _go(None, ss[SENTENCE])
    ss[SENTENCE] = None


def _what_is_asked(ctx: Ctx, sides: tuple[str, str]) -> tuple:
    """(the set item or None, source pieces, target pieces, cross-attention (layers, q, k) mean over heads,
    the hand alignment or None, where the target comes from)."""
    item = rules.find_item(ctx.text) if sides == rules.EN_DE else None
    if item is None:
        t = ctx.trace
        where = f"The {sides[1]} is the model's own translation."
        return None, list(t.src_tokens), list(t.tgt_tokens), t.attention["cross"].mean(1), None, where
    ref = models.get_trace(ctx.run.own.but(beam=1, maxlen=0, target=item["de"]))  # teacher-forced
    hand = rules.hand_alignment(item, ref.src_tokens, ref.tgt_tokens)
    where = (
        "The German is the reference translation of the hand-aligned set; the model is made to read it piece "
        "by piece (teacher forcing), so its attention can be compared with the hand alignment."
    )
    if hand is None:
        where += " Its pieces do not split into the set's words here, so there is no hand alignment."
    return item, ref.src_tokens, ref.tgt_tokens, ref.attention["cross"].mean(1), hand, where


def _sentence_line(tgt: list[str], word: list[int]) -> str:
    """The target sentence word by word, the asked word marked."""
    sentence = rules.words(tgt)[1:]  # [0] is <s>
    shown = [md_code(rules.label(tgt, w), 40) for w in sentence]
    shown[sentence.index(word)] = f"**→ {shown[sentence.index(word)]} ←**"
    return " ".join(shown)


def render(ctx: Ctx) -> None:
    ss = st.session_state
    sides = rules.sides(ctx.model.metadata)
    if refused := rules.refusal(ctx.trace.src_tokens, ctx.trace.tgt_tokens):
        st.info(refused)
        return
    item, src, tgt, cross, hand, where = _what_is_asked(ctx, sides)
    rounds = rules.rounds(tgt, hand)
    if not rounds:
        st.info(f"The {sides[1]} has no word to ask about: it is empty or only punctuation.")
        return

    here = (ctx.model_label, ctx.text)
    if ss.get("_quiz_for") not in (None, here):  # a new sentence or model: start at its first round
        ss["qpiece"] = None
    ss["_quiz_for"] = here
    word = None if ss.get("qpiece") is None else rules.word_at(tgt, ss["qpiece"])
    if ss.get("qpiece") is not None and word is None:
        st.warning(
            f"Ignored URL parameter `qpiece` = {md_code(ss['qpiece'], 20)}: this {sides[1]}'s pieces are "
            f"1–{len(tgt) - 1}, and a round asks about a word, not punctuation. Starting with the first one."
        )
    word = word or rounds[0]
    ss["qpiece"] = word[0]
    n_layers = cross.shape[0]
    if ss["qlayer"] is None:  # fitted to the model (VIEW below); none chosen: the last
        ss["qlayer"] = n_layers - 1

    rid = f"{ctx.model_label}\x1f{ctx.text}\x1f{word[0]}"  # a round: model, sentence, word
    answers = ss.setdefault(ANSWERS, {})
    rnd = rules.make_round(np.asarray(cross[ss["qlayer"]]), src, word, hand)
    labels = [rules.label(src, w) for w in rules.words(src)]
    seat = ctx.seat
    asked = question.asked_here(seat, ss, n_layers)  # a class question on this round: its number, else 0

    # the first screen: the question, the answers, the reveal
    st.html(LARGER_CSS)
    with st.container(key="quiz_question"):
        st.markdown("#### " + rules.question(sides[0], rules.label(tgt, word)))
        st.markdown(f"**{sides[1].capitalize()}:** {_sentence_line(tgt, word)}")
    revealed = True  # a class question's reveal (below); outside a class, an answer reveals at once
    said = (
        f"{rules.round_line(word, rounds)} · {sides[0].capitalize()}: click the word you think it reads most"
    )
    if seat is not None and seat.teacher and asked:  # the teacher does not guess: the class does
        question.teacher(ctx, seat, asked, rnd, labels, rules.label(tgt, word))
        answered = None
    elif asked:  # a student, on the class's question
        mine, revealed = question.student(seat, asked)
        answered = None if mine is None else _scored(rnd, mine, ss["qlayer"])
        if revealed and answered:
            answers[rid] = answered  # the session's score counts it, once revealed
        _pills(said, labels, answered["guess"] if answered else None, revealed or bool(answered),
               on_change=question.send, args=(seat, asked, PICK))  # fmt: skip
        if revealed:
            _reveal(ctx, rnd, answered, labels, rules.label(tgt, word), item is not None, sides)
            question.class_counts(ctx, seat, asked, labels, rnd)
        else:
            st.info(question.waiting_line(mine, labels))
    else:
        answered = answers.get(rid)
        _pills(said, labels, answered["guess"] if answered else None, bool(answered),
               on_change=_answer, args=(rid, rnd, ss["qlayer"]))  # fmt: skip
        if answered:
            _reveal(ctx, rnd, answered, labels, rules.label(tgt, word), item is not None, sides)
        else:
            st.caption("The model's attention stays hidden until you answer.")
        if seat is not None and seat.teacher:
            question.ask_button(seat)

    _navigation(ctx, rounds, word, sides)
    with st.expander(f"Quiz settings: layer {ss['qlayer']}"):
        st.segmented_control(
            "The model's attention: cross-attention layer (mean over heads)",
            list(range(n_layers)),
            key="qlayer",
            required=True,
            format_func=lambda i: f"L{i}",
            disabled=bool(answered) or bool(asked),
            help="Which layer's cross-attention counts as 'what the model reads' (fixed once you answer). "
            "In shared links as qlayer.",
        )
    st.caption(rules.how_written(tgt, word))
    st.caption(
        f"**Predict, then reveal.** The model writes its {sides[1]} one piece at a time, and while writing "
        f"each piece its cross-attention looks back at the {sides[0]}: guess where it looks before you see "
        f"it. {where}"
    )
    if answered and (not asked or revealed):  # a class's answer stays hidden until the teacher reveals it
        _every_layer(cross, src, word, labels)
    _scoreboard(answers)


def _reveal(
    ctx, rnd: rules.Round, answered: dict | None, labels: list[str], word: str, from_set: bool, sides
):
    """The model's answer, the student's pick (`answered`; None: revealed to a class before this page picked)."""
    if answered is None:
        answered = {"guess": None, "layer": st.session_state["qlayer"]}
        st.info(f"Revealed before you picked: the model reads {md_code(labels[rnd.model_word], 40)} most.")
    guess = answered["guess"]
    if guess is not None:
        said = rules.verdict(rnd, guess, labels, answered["layer"])
        (st.success if answered["model_hit"] else st.warning)(said)
    fig = viz.quiz_reveal(
        rnd.weights, labels, guess=guess, model_pick=[rnd.model_word],
        hand_pick=[] if rnd.hand_word is None else [rnd.hand_word],
        title=f"Layer {answered['layer']}, mean over heads: what the model reads while it writes “{word}”",
        font_size=ctx.font, height=REVEAL_HEIGHT[ctx.present],
    )  # fmt: skip
    chart(ctx, fig, "fig_quiz_reveal", "quiz", f"piece{rnd.word[0]}", f"L{answered['layer']}")
    if rnd.hand_word is not None or from_set:
        st.info(rules.hand_line(rnd, labels, guess, sides))


def _every_layer(cross, src: list[str], word: list[int], labels: list[str]) -> None:
    with st.expander("What every layer reads here"):
        each = [rules.make_round(np.asarray(layer), src, word) for layer in cross]
        st.dataframe(
            pd.DataFrame({"layer": [f"L{n}" for n in range(len(each))],
                          "reads most": [labels[r.model_word] for r in each],
                          "weight": [round(float(r.weights[r.model_word]), 3) for r in each]}),
            hide_index=True, key="quiz_layers",
        )  # fmt: skip
        st.caption(
            "A source word's weight adds up its pieces' weights; heads and the word's rows are averaged."
        )


def _navigation(ctx: Ctx, rounds: list[list[int]], word: list[int], sides) -> None:
    a, b = st.columns(2)
    i = rounds.index(word) if word in rounds else -1
    built_in = list(rules.BUILT_IN) if sides == rules.EN_DE else []
    forward = {"key": "quiz_next", "on_click": _go, "type": "primary", "icon": ":material/arrow_forward:"}
    if i + 1 < len(rounds):
        a.button("Next word", args=(rounds[i + 1][0],), **forward)
    elif built_in:
        following = built_in[(built_in.index(ctx.text) + 1) % len(built_in) if ctx.text in built_in else 0]
        a.button("Next sentence", args=(None, following), **forward)
    else:
        a.button("Start this sentence again", key="quiz_next", on_click=_go, args=(rounds[0][0],))
    if built_in:
        b.selectbox(
            "A quiz sentence with hand alignments", built_in, index=None, key=SENTENCE,
            on_change=_pick_sentence,
            placeholder=f"Or pick one of {rules.count(len(built_in), 'sentence')} with hand alignments…",
            label_visibility="collapsed",
        )  # fmt: skip


def _scoreboard(answers: dict) -> None:
    score = rules.tally(answers)
    a, b, c = st.columns(3)
    a.metric("Matched the model", f"{score.model_hits} / {score.rounds}")
    b.metric("Matched the hand alignment", f"{score.hand_hits} / {score.hand_rounds}",
             help="Only rounds whose target word the hand-aligned set marks.")  # fmt: skip
    c.button("Reset score", key="quiz_reset", on_click=st.session_state.pop, args=(ANSWERS,),
             disabled=not answers, help="The score lives in this tab's session, not in a link.")  # fmt: skip


VIEW = View(
    "quiz", "Quiz: predict, then reveal", "Experiment", "§3.2.3 (encoder–decoder attention), as a guessing game",
    render,
    params=(
        state.number("qpiece", "qpiece", None, 1, 100_000, "the round: a piece of the target word asked "
                     "about, 1 = the first piece", "a whole number from 1"),
        state.number("qlayer", "qlayer", None, 0, 1_000, "the cross-attention layer (absent: the last)",
                     shown=lambda m: m.n_layers["cross"] - 1,
                     fit_model=state.below(lambda ss, m: m.n_layers["cross"], "cross-attention has layers")),
    ),
)  # fmt: skip
