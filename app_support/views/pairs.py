"""Minimal pairs: a second sentence beside the first ("He has a dog." / "She has a dog."): both
translations, the same attention of both side by side, their difference where the pieces pair up, and
how far each position's residual stream moved after every layer (`viz.pairs`).

The second sentence is `text2` in the URL; kind, layer, head and row labels are the Attention view's.
"""

from __future__ import annotations

import dataclasses
import logging
import unicodedata
from collections import Counter

import numpy as np
import streamlit as st

import viz
from app_support import models, state
from app_support.safe_text import count, md_code, without_lone_surrogates
from app_support.views import Ctx, View, attention, chart, controls
from transformer import analysis
from transformer.kinds import KINDS, key_title, query_title
from viz.heatmap import head_name

log = logging.getLogger(__name__)

EXAMPLES = {  # what changes -> (first, second): pieces lined up; each checked on its model (test_app_pairs.py)
    "text": {
        "He / she": ("He has a dog.", "She has a dog."),  # Er / Sie
        "Gender": ("The man is old.", "The woman is old."),  # der Mann / die Frau
        "Plural": ("The child is tired.", "The children are tired."),  # Kind ist / Kinder sind
        "Tense": ("The house is old.", "The house was old."),  # ist / war
        "Negation": ("I have a car.", "I have no car."),  # ein / kein
        "Word order": ("The man calls the mother.", "The mother calls the man."),  # subject and object swap
        "Question": ("He can speak German.", "Can he speak German?"),  # the verb first
    },
    "letters": {
        "One letter changed": ("c a f b", "c a g b"),
        "The last letter changed": ("a b c d", "a b c e"),
        "One letter added": ("d a d b", "d a d b e"),
    },
}
EXAMPLE_SEP = "  ↔  "  # an arrow every common font has (⟷ was a box in some)
INTRO = (
    "Change one thing in the sentence and see what changes inside the model: both translations, the "
    "same attention side by side, their difference, and how far each position's residual stream moved "
    "after every layer."
)


def script_of(text: str) -> str | None:
    """The writing system most of the text's letters belong to ("LATIN", "CYRILLIC", "CJK", …), or None
    without letters; from the first word of each letter's Unicode name."""
    names = Counter(unicodedata.name(ch, "").split(" ")[0] for ch in text if ch.isalpha())
    names.pop("", None)  # letters without a name
    return names.most_common(1)[0][0] if names else None


def _examples(ctx: Ctx) -> dict[str, tuple[str, str]]:
    letters = all(len(p.lstrip("\u2581")) <= 1 for p in ctx.trace.src_tokens if p != "</s>")
    return EXAMPLES["letters" if letters and ctx.text.strip() else "text"]


def _on_example() -> None:
    ss = st.session_state
    choice = ss.get("pair_example")
    if choice:
        ss["text"], ss["text2"] = {**EXAMPLES["text"], **EXAMPLES["letters"]}[choice]
    ss["pair_example"] = None


def lined_up_note(what: str, p: analysis.Pairing, a_labels, b_labels) -> str | None:
    """None when every piece pairs up, else one sentence saying what the difference leaves out."""
    if p.lined_up:
        return None
    lone = [f"first {md_code(a_labels[i], 40)}" for i in p.unpaired_a] + [
        f"second {md_code(b_labels[j], 40)}" for j in p.unpaired_b
    ]
    shown = ", ".join(lone[:8]) + (f" and {len(lone) - 8} more" if len(lone) > 8 else "")
    return (
        f"The {what} do not line up one for one ({count(len(a_labels), 'piece')} in the first sentence, "
        f"{count(len(b_labels), 'piece')} in the second): the difference compares {count(len(p), 'pair')} "
        f"(the same piece in the same order, or one piece replaced by one). Without a partner: {shown}."
    )


def shift_sentence(side: str, shift) -> str | None:
    """What `stream_shift` (stages, positions) says about the layers, in words that follow its numbers as
    shown (2 decimals): the layer that moves the paired positions furthest apart (`analysis.most_moved_layer`,
    the largest rise of their mean distance), else how that distance changes from the input to the last
    layer. None without layers or positions."""
    z = np.asarray(shift, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] < 2 or z.shape[1] == 0:
        return None
    most, (first, last) = analysis.most_moved_layer(z), np.round(z.mean(axis=1)[[0, -1]], 2)
    if most is not None and round(most[1], 2) != round(most[2], 2):
        return (
            f"{side.title()}: layer L{most[0]} moves the paired positions furthest apart: their mean distance "
            f"rises from {most[1]:.2f} to {most[2]:.2f}."
        )
    trend = f"{'falls' if last < first else 'rises'} from {first:.2f} to {last:.2f}"
    trend = f"stays at {first:.2f}" if first == last else trend
    return (
        f"{side.title()}: no layer moves the paired positions further apart{'' if most is None else ' by 0.01'}: "
        f"from the input to the output of the last layer, L{len(z) - 2}, their mean distance {trend}."
    )


def render(ctx: Ctx) -> None:
    ss = st.session_state
    if isinstance(ss.get("text2"), str):
        ss["text2"] = without_lone_surrogates(ss["text2"])
    st.markdown(INTRO)
    with controls(ctx, "Second sentence"):
        st.text_input(
            "Second sentence",
            key="text2",
            max_chars=state.TEXT_LIMIT,
            placeholder="The first sentence with one thing changed, e.g. one word",
            help="Compared with the sentence above. In shared links as text2.",
            persist_state="session",
        )
        pairs = _examples(ctx)
        st.pills(
            "Example pairs",
            list(pairs),
            format_func=lambda what: f"{what}: {pairs[what][0]}{EXAMPLE_SEP}{pairs[what][1]}",
            key="pair_example",
            on_change=_on_example,
        )
    first, second = ctx.text, ss.get("text2", "")
    if not second.strip():
        a, b = next(iter(_examples(ctx).values()))
        st.info(
            f"Type a second sentence that changes one thing in the first, e.g. {md_code(a)} → {md_code(b)}, "
            "or pick an example pair."
        )
        return
    if second.strip() == first.strip():
        st.info(
            "The second sentence is the same as the first: change one thing (a word, an ending) to compare."
        )
        return
    try:
        with st.spinner("Translating and tracing the second sentence…"):
            tb = models.get_trace(ctx.run.but(text=second))
    except Exception as e:  # never a traceback in class
        log.exception("second sentence failed")
        st.error(f"The model could not process the second sentence ({type(e).__name__}): {md_code(e)}")
        return
    ta = ctx.trace
    if ta.tgt_text == tb.tgt_text:  # the first thing a class should hear: the change never reached the output
        st.warning(
            f"Both sentences get the same translation: {md_code(ta.tgt_text or '(empty)')} The change does not "
            "reach the output; the model's insides can still differ, and the figures below show where."
        )
    script_a, script_b = script_of(first), script_of(second)
    if script_a and script_b and script_a != script_b:
        st.warning(
            f"The first sentence is in {script_a.title()} script, the second in {script_b.title()}: a "
            "minimal pair changes one thing, and a model trained on one script splits another into "
            "unknown or single-byte pieces, so almost nothing lines up below."
        )
    ctx_b = dataclasses.replace(ctx, run=ctx.run.but(text=second))  # a figure's subtitle: its sentence
    both = dataclasses.replace(ctx, run=ctx.run.but(text=f"{first}” → “{second}"))
    if tb.truncated:
        st.warning("The second sentence is longer than this model's max_len: only its first pieces are used.")

    for col, (name, t) in zip(ctx.columns(2), (("First", ta), ("Second", tb)), strict=True):
        with col:
            st.markdown(f"**{name}:** {md_code(t.src_text)}")
            st.code(
                t.tgt_text or "(empty: the model ended the sentence at once)", language=None, wrap_lines=True
            )

    st.subheader("Attention, side by side")
    with controls(ctx, "Attention"):
        attention.pick_attention(ctx, with_panel=False)
    kind, layer, head = ss["kind"], ss["layer"], ss["head"]
    rows = state.rows_for(ss, kind)
    sides = [(viz.head_weights(t.attention[kind], layer, head), *viz.side_tokens(t, kind)) for t in (ta, tb)]
    columns = zip(ctx.columns(2), ("First", "Second"), (ctx, ctx_b), sides, strict=True)
    for col, name, shown, (w, q_tok, k_tok) in columns:
        fig = viz.attention_heatmap(
            w, q_tok, k_tok, kind=kind, rows=rows, title=f"{name}: {KINDS[kind].title}, L{layer}, {head_name(head)}",
            font_size=ctx.font, height=ctx.height(450) if ctx.present else None,
        )  # fmt: skip
        with col:
            chart(shown, fig, f"fig_pair_{name.lower()}", "pair", name.lower(), kind, f"L{layer}")

    _difference(both, kind, rows, layer, head, sides)
    _stream_shift(ctx, both, ta, tb)


def _difference(both: Ctx, kind: str, rows: str, layer: int, head: int, sides: list) -> None:
    """Second − first attention, where rows and columns pair up (`sides`: weights, queries, keys of each)."""
    st.subheader("Difference: second − first")
    (wa, qa, ka), (wb, qb, kb) = sides
    q_la, q_lb = viz.query_labels(kind, qa, rows), viz.query_labels(kind, qb, rows)
    row_pairs, col_pairs = analysis.pair_positions(q_la, q_lb), analysis.pair_positions(ka, kb)
    for what, p, la, lb in (("rows", row_pairs, q_la, q_lb), ("columns", col_pairs, ka, kb)):
        if note := lined_up_note(what, p, la, lb):
            st.info(note)
    if not len(row_pairs) or not len(col_pairs):
        st.info("No rows or no columns pair up, so there is no difference to draw.")
    else:
        diff = analysis.attention_difference(wa, wb, row_pairs, col_pairs)
        fig = viz.difference_heatmap(
            diff, row_pairs.labels(q_la, q_lb), col_pairs.labels(ka, kb),
            title=f"{KINDS[kind].title}, L{layer}, {head_name(head)}: second − first",
            y_title=query_title(kind, rows), x_title=key_title(kind),
            font_size=both.font,
        )  # fmt: skip
        chart(both, fig, "fig_pair_diff", "pair", "difference", kind, f"L{layer}")
        st.caption(
            "Red: the second sentence attends more, blue: less, white: the same. A label “a / b” is a "
            "piece that differs between the two sentences at a paired position."
        )


def _stream_shift(ctx: Ctx, both: Ctx, ta, tb) -> None:
    """How far each paired position's residual stream moved, layer by layer, on both sides."""
    st.subheader("Which layers react to the change")
    st.markdown(
        "For every position whose piece pairs up: how far its residual stream (the vector each layer "
        "reads and adds to) is from the same position's in the first sentence, as a share of the first "
        "one's length. Row 0 is the input (embedding + position), each row below the output of one more layer"
        + (
            " (the residual stream itself, not normalised: this model is pre-norm)."
            if ctx.trace.norm == "pre"
            else " (the stream after the layer's last LayerNorm: this model is post-norm)."
        )
    )
    for side in ("encoder", "decoder"):
        pieces = "src_tokens" if side == "encoder" else "tgt_tokens"
        tokens_a, tokens_b = getattr(ta, pieces), getattr(tb, pieces)
        p = analysis.pair_positions(tokens_a, tokens_b)
        with st.container():
            if not len(p):
                st.info(f"No {side} position pairs up.")
                continue
            shift = analysis.stream_shift(ta.hidden[side], tb.hidden[side], p)
            fig = viz.stream_shift_heatmap(
                shift, p.labels(tokens_a, tokens_b),
                title=f"{side.title()}: how far each position moved",
                x_title="source piece" if side == "encoder" else "decoder position: piece read",
                font_size=ctx.font,
            )  # fmt: skip
            chart(both, fig, f"fig_pair_shift_{side}", "pair", "stream", side)
            if words := shift_sentence(side, shift):
                st.caption(words)
    st.caption(
        "At the input only the changed pieces differ (and pieces whose position shifted); every layer "
        "that mixes positions spreads the change. On the decoder side each position reads its own "
        "translation's piece, so where the translations differ the pieces themselves differ too."
    )


VIEW = View(
    "pairs", "Minimal pairs", "Experiment",
    "§3.1 (the residual stream, layer by layer) and §3.2 (attention), for two sentences at once", render,
    params=(
        state.Param("text2", "text2", "", lambda r: without_lone_surrogates(r) if len(r) <= state.TEXT_LIMIT else None,
                    f"the second sentence has at most {state.TEXT_LIMIT} characters",
                    "the second sentence of a minimal pair"),
    ),
    follows=("off",),  # a typed translation belongs to the first sentence only: not traced here
)  # fmt: skip
