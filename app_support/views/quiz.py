"""Predict, then reveal: a classroom quiz on cross-attention (rules in app_support.quiz).

The view highlights one German piece and hides every attention figure; students click the English
piece they think the model reads while writing it; then the model's cross-attention row (one layer,
heads averaged) and, where the sentence is in the hand-aligned set, the hand alignment are revealed,
and the session keeps score. A round is a URL: text, model, view=quiz, qpiece (the German piece,
counted from 1) and qlayer. Nothing needs a network.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import streamlit as st

import viz
from app_support import models, state
from app_support import quiz as rules
from app_support.safe_text import md_code
from app_support.views import Ctx, View, chart, controls

log = logging.getLogger(__name__)

ANSWERS = "_quiz_answers"  # session key: {round id: {"guess", "model_hit", "hand_hit", "layer"}}
PICK = "quiz_pick"  # the English pieces (st.pills); its value is a source position
SENTENCE = "quiz_sentence"  # picker of the hand-aligned set's sentences
INTRO = (
    "**Predict, then reveal.** The model writes its German translation one piece at a time, and while "
    "writing each piece its cross-attention looks back at the English. Guess where it looks before "
    "you see it."
)


def round_id(ctx: Ctx, piece: int) -> str:
    return f"{ctx.model_label}\x1f{ctx.text}\x1f{piece}"


def _answer(rid: str, rnd: rules.Round, layer: int) -> None:
    ss = st.session_state
    guess = ss.get(PICK)
    answers = ss.setdefault(ANSWERS, {})
    if guess is None or rid in answers:
        return
    model_hit, hand_hit = rnd.score(int(guess))
    answers[rid] = {"guess": int(guess), "model_hit": model_hit, "hand_hit": hand_hit, "layer": layer}


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


def _reset() -> None:
    st.session_state[ANSWERS] = {}


def _is_letters(ctx: Ctx) -> bool:
    """A toy model of single letters: the hand-aligned English set means nothing to it."""
    return all(len(p.lstrip("\u2581")) <= 1 for p in ctx.trace.src_tokens if p != "</s>")


def _german_line(tgt: list[str], piece: int) -> str:
    before = " ".join(md_code(p, 40) for p in tgt[1:piece])
    after = " ".join(md_code(p, 40) for p in tgt[piece + 1 :])
    return " ".join(x for x in (before, f"**→ {md_code(tgt[piece], 40)} ←**", after) if x)


def _what_is_asked(ctx: Ctx) -> tuple | None:
    """(the set item or None, English pieces, German pieces, cross-attention (layers, q, k) mean over heads,
    the hand alignment or None, where the German comes from); None when it could not be read."""
    item = rules.find_item(ctx.text)
    hand = None
    if item is not None:
        try:
            ref = models.get_trace(ctx.run.own.but(beam=1, maxlen=0, target=item["de"]))  # teacher-forced
        except Exception as e:  # never a traceback in class
            log.exception("quiz reference trace failed")
            st.error(f"The model could not read the reference translation ({type(e).__name__}): {md_code(e)}")
            return None
        src, tgt, cross = ref.src_tokens, ref.tgt_tokens, ref.attention["cross"].mean(1)
        hand = rules.hand_alignment(item, src, tgt)
        where = (
            "German: the reference translation of the hand-aligned set; the model is made to read it piece "
            "by piece (teacher forcing), so its attention can be compared with the hand alignment."
        )
        if hand is None:
            where += " Its pieces do not split into the set's words here, so there is no hand alignment."
    else:
        t = ctx.trace
        src, tgt, cross = list(t.src_tokens), list(t.tgt_tokens), t.attention["cross"].mean(1)
        where = (
            "German: the model's own translation. This sentence is not in the hand-aligned set, so only "
            "the model's attention is revealed"
            + ("" if _is_letters(ctx) else "; pick a set sentence below for a hand alignment too.")
        )
    return item, src, tgt, cross, hand, where


def render(ctx: Ctx) -> None:
    ss = st.session_state
    st.markdown(INTRO)
    asked = _what_is_asked(ctx)
    if asked is None:
        return
    item, src, tgt, cross, hand, where = asked
    pieces = rules.round_pieces(tgt, hand)
    if not pieces:
        st.info(
            "The translation has no word to ask about (it is empty or only punctuation): try another sentence."
        )
        return

    here = (ctx.model_label, ctx.text)
    if ss.get("_quiz_for") not in (None, here):  # a new sentence or model: start at its first round
        ss["qpiece"] = None
    ss["_quiz_for"] = here
    piece = ss.get("qpiece")
    if piece is not None and not rules.valid_piece(tgt, piece):
        st.warning(
            f"Ignored URL parameter `qpiece` = {md_code(piece, 20)}: this translation's German pieces are "
            f"1–{len(tgt) - 1} (not punctuation alone). Starting with the first round."
        )
        piece = None
    piece = pieces[0] if piece is None else piece
    ss["qpiece"] = piece
    n_layers = cross.shape[0]
    if ss["qlayer"] is None:  # fitted to the model (VIEW below); none chosen: the last
        ss["qlayer"] = n_layers - 1

    rid = round_id(ctx, piece)
    answers = ss.setdefault(ANSWERS, {})
    answered = answers.get(rid)
    ss[PICK] = answered["guess"] if answered else None
    rnd = rules.make_round(np.asarray(cross[ss["qlayer"]]), src, piece, hand)

    with controls(ctx, "Quiz settings"):
        st.segmented_control(
            "The model's attention: cross-attention layer (mean over heads)",
            list(range(n_layers)),
            key="qlayer",
            required=True,
            format_func=lambda i: f"L{i}",
            disabled=bool(answered),
            help="Which layer's cross-attention counts as 'what the model reads' (fixed once you answer). "
            "In shared links as qlayer.",
        )
    target = tgt[piece]
    n_round = pieces.index(piece) + 1 if piece in pieces else None
    of = f"Round {n_round} of {len(pieces)}" if n_round else "A round from a shared link"
    st.caption(f"{of} for this sentence. {where}")
    st.markdown(f"**English:** {md_code(ctx.text)}")
    st.markdown(f"**German:** {_german_line(tgt, piece)}")
    st.subheader(f"Which English piece does the model read most while it writes {md_code(target, 40)}?")
    st.caption(
        f"Decoder row {rnd.row} reads {md_code(tgt[rnd.row], 40)} (the piece before) and predicts "
        f"{md_code(target, 40)}: its cross-attention is what the model reads while writing it. Click an "
        "English piece; any piece of the right English word counts."
    )
    st.pills(
        "English pieces",
        list(range(len(src))),
        key=PICK,
        format_func=lambda i: md_code(src[i], 40),
        on_change=_answer,
        args=(rid, rnd, ss["qlayer"]),
        disabled=bool(answered),
    )

    if answered:
        _reveal(ctx, rnd, answered, src, tgt, cross, hand is not None or item is not None)
    else:
        st.caption("The model's attention stays hidden until you answer.")

    _navigation(ctx, pieces, piece, item)
    _scoreboard(answers)


def _words(src: list[str], unit: list[int]) -> str:
    return " ".join(md_code(src[p], 40) for p in unit)


def _reveal(ctx, rnd: rules.Round, answered: dict, src, tgt, cross, from_set: bool) -> None:
    guess = answered["guess"]
    weights = rnd.unit_weights
    model_words = _words(src, rnd.model_pieces())
    share = f"{weights[rnd.model_unit]:.0%} of this row in layer {answered['layer']}"
    if answered["model_hit"]:
        st.success(
            f"Yes: you picked {md_code(src[guess], 40)}, and the model reads {model_words} most ({share})."
        )
    else:
        st.warning(
            f"Not quite: you picked {md_code(src[guess], 40)}; the model reads {model_words} most ({share}); your word "
            f"gets {weights[rules.unit_of(rnd.units, guess)]:.0%}."
        )
    if rnd.hand_unit is not None:
        verdict = "you matched it" if answered["hand_hit"] else "you did not"
        agree = "agrees" if rnd.hand_unit == rnd.model_unit else "does not agree"
        st.info(
            f"Hand alignment: {_words(src, rnd.hand_pieces())} ({verdict}; the model's attention {agree} with it)."
        )
    elif from_set:
        st.info("The hand alignment marks no English word for this German word (articles, prepositions, "
                "conjunctions and words without a counterpart are not aligned).")  # fmt: skip
    fig = viz.quiz_reveal(
        rnd.weights, src, guess=guess, model_pick=rnd.model_pieces(), hand_pick=rnd.hand_pieces(),
        title=f"Cross-attention layer {answered['layer']}, mean over heads: the row that writes {tgt[rnd.piece]}",
        font_size=ctx.font, height=ctx.height(380) if ctx.present else None,
    )  # fmt: skip
    chart(ctx, fig, "fig_quiz_reveal", "quiz", f"piece{rnd.piece}", f"L{answered['layer']}")
    with st.expander("What every layer reads here"):
        rows = []
        for layer in range(cross.shape[0]):
            r = rules.make_round(np.asarray(cross[layer]), src, rnd.piece)
            rows.append(
                {
                    "layer": f"L{layer}",
                    "reads most": " ".join(src[p] for p in r.model_pieces()),
                    "weight": round(float(r.unit_weights[r.model_unit]), 3),
                }
            )
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="quiz_layers")
        st.caption("Weights of an English word add up its pieces' weights; heads are averaged.")


def _navigation(ctx: Ctx, pieces: list[int], piece: int, item: dict | None) -> None:
    a, b = st.columns(2)
    i = pieces.index(piece) if piece in pieces else -1
    items = rules.hand_aligned_set()
    if i + 1 < len(pieces):
        a.button("Next piece ▶", key="quiz_next", on_click=_go, args=(pieces[i + 1],), type="primary")
    elif item is not None and items:
        following = items[(items.index(item) + 1) % len(items)]["en"]
        a.button("Next sentence ▶", key="quiz_next", on_click=_go, args=(None, following), type="primary")
    else:
        a.button("Start this sentence again", key="quiz_next", on_click=_go, args=(pieces[0],))
    if items and not _is_letters(ctx):
        b.selectbox(
            "A sentence with hand alignments",
            [it["en"] for it in items],
            index=None,
            key=SENTENCE,
            on_change=_pick_sentence,
            placeholder=f"Pick one of the set's {len(items)} sentences…",
        )


def _scoreboard(answers: dict) -> None:
    score = rules.tally(answers)
    st.subheader("Score this session")
    a, b, c = st.columns(3)
    a.metric("Matched the model", f"{score.model_hits} / {score.rounds}")
    b.metric("Matched the hand alignment", f"{score.hand_hits} / {score.hand_rounds}",
             help="Only rounds whose German word the hand-aligned set marks.")  # fmt: skip
    c.button("Reset score", key="quiz_reset", on_click=_reset, disabled=not answers)
    st.caption(
        "The score lives in this browser tab's session; a shared link carries the round, not the score."
    )


VIEW = View(
    "quiz", "Quiz: predict, then reveal", "Experiment", "§3.2.3 (encoder–decoder attention), as a guessing game",
    render,
    params=(
        state.number("qpiece", "qpiece", None, 1, 100_000, "the round: the German piece asked about, 1 = the first",
                     "a whole number from 1"),
        state.number("qlayer", "qlayer", None, 0, 1_000, "the cross-attention layer (absent: the last)",
                     shown=lambda m: m.n_layers["cross"] - 1,
                     fit_model=state.below(lambda ss, m: m.n_layers["cross"], "cross-attention has layers")),
    ),
)  # fmt: skip
