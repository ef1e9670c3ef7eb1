"""Anatomy: the paper's parts in the walk-through's order (SEED.md), each with live values for the sentence.

Overall architecture (§3) → input embeddings (§3.4) → positional encoding (§3.5) → scaled
dot-product attention (§3.2.1) → multi-head attention (§3.2.2) → feed-forward (§3.3) →
encoder layer → decoder layer (§3.1) → output softmax (§3.4).

One section at a time (`SECTION_TITLES`, `section` in the URL), as a teacher walks a class
through it, with "Next" under each: a page of all 31 figures took Chromium 3–5 s to draw after every
new sentence, one section at most 13.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import streamlit as st

import viz
from app_support import models, state
from app_support.safe_text import md_code
from app_support.stages import Stage, layer_stages
from app_support.views import EXPERIMENT, Ctx, View, chart, controls, pick_one, show
from app_support.views.attention import ROW_CAPTION, pick_attention
from transformer.kinds import KINDS, MEAN_HEAD, key_title, query_title
from transformer.layers import ACTIVATION_FORMULAS
from viz.matrix import masked_scores, matrix_heatmap
from viz.style import DIVERGING_COLORSCALE, ONE_SIDED_COLORSCALE

WIDE = 64  # show at most this many dimensions of d_model-wide vectors


def _matrix(
    ctx: Ctx, key: str, name: tuple, x: np.ndarray, rows: list[str], title: str, row_title: str,
    what: str = "dimension", **kwargs,
) -> None:  # fmt: skip
    """A (T, width) matrix as a heatmap, one row a piece: its first WIDE columns, and its column title
    says so; `key`: the chart's key after "fig_ana_", `name`: what it shows (views.chart)."""
    width = x.shape[-1]
    show(ctx, f"fig_ana_{key}", name, matrix_heatmap,
        x[:, :WIDE], rows, title=title, row_title=row_title, font_size=ctx.font,
        col_title=f"{what} (first {WIDE} of {width})" if width > WIDE else what, **kwargs,
    )  # fmt: skip


def _stats(parts: dict[str, np.ndarray], tokens: list[str]) -> pd.DataFrame:
    """Per-piece mean and standard deviation over d_model of each named (T, d_model) stage."""
    frame = pd.DataFrame({"position": range(len(tokens)), "piece": tokens})
    for name, x in parts.items():
        frame[f"{name}: mean"] = x.mean(-1).round(3)
        frame[f"{name}: std"] = x.std(-1).round(3)
    return frame


def section(title: str, text: str) -> None:
    st.subheader(title)
    st.markdown(text)


def render(ctx: Ctx) -> None:
    """The chosen section of the walk (the picker and "Next" keep the paper's order; `section` in the URL)."""
    ss = st.session_state
    pick_one("Section", SECTION_TITLES, "ana_section")
    number = ss["ana_section"]
    _, draw, dissects = SECTIONS[number]
    if dissects:  # the sections that dissect one attention: which one
        with controls(ctx, "Which attention (layer, head) to dissect"):
            # a whole layer shows each of its attentions: a kind picker there would look chosen and do nothing
            pick_attention(
                ctx, with_panel=False, with_kind=number not in WHOLE_LAYER, rows_kind=WHOLE_LAYER.get(number)
            )
    draw(ctx)
    _next_previous(number)


def _go(number: int) -> None:
    st.session_state["ana_section"] = number


def _next_previous(number: int) -> None:
    """A teacher walks on with "Next" under the section (and back with "Previous")."""
    names = SECTION_TITLES
    back, on = st.columns(2)
    if number > 0:
        back.button(f"◀ Previous: {names[number - 1]}", key="ana_previous", on_click=_go, args=(number - 1,))
    if number + 1 in names:
        on.button(
            f"Next: {names[number + 1]} ▶", key="ana_next", on_click=_go, args=(number + 1,), type="primary"
        )


def _anatomy(ctx: Ctx):
    """Every hook point of the sentence (models.get_anatomy): only the sections inside a layer need it."""
    with st.spinner("Capturing Q, K, V and every sub-layer…"):
        return models.get_anatomy(ctx.run)


def _head() -> int:
    """The head dissected: the one picked, or head 0 when the mean is picked (Q, K and V belong to one head)."""
    ss = st.session_state
    if ss["head"] == MEAN_HEAD:
        st.info("Q, K and V belong to one head each: showing head 0 (pick a head above).")
        return 0
    return ss["head"]


def _whole_model(ctx: Ctx) -> None:
    t, cfg = ctx.trace, ctx.model.config
    section(
        "0. The whole model (§3, Figure 1)",
        f"The encoder reads the {len(t.src_tokens)} source pieces through {cfg.n_encoder_layers} identical "
        f"layers and hands the decoder one vector of d_model = {cfg.d_model} numbers per source piece (the "
        f"*memory*). The decoder, {cfg.n_decoder_layers} layers, reads the translation so far "
        f"({len(t.tgt_tokens)} pieces starting with {md_code(ctx.model.tokenizer.id_to_piece(cfg.start_id))}) "
        f"and, at every position, outputs a probability for each of the {ctx.model.tokenizer.vocab_size} "
        "vocabulary pieces.",
    )
    st.markdown(
        "The sections follow the paper's order, each with this sentence's live values: the embeddings (1) "
        "and the positional encoding (2) that make the input, attention inside one head (3) and across "
        "heads (4), the feed-forward network (5), a whole encoder layer (6) and decoder layer (7), and the "
        "output softmax (8). **Next** walks on."
    )


def _embeddings(ctx: Ctx) -> None:
    t, cfg = ctx.trace, ctx.model.config
    section(
        "1. Input embeddings (§3.4)",
        f"Each piece id selects one row of a learned {ctx.model.tokenizer.vocab_size} × {cfg.d_model} "
        f"matrix, multiplied by √d_model = {math.sqrt(cfg.d_model):.2f} so it is not drowned out by the "
        "positional encoding. Rows below: this sentence's pieces.",
    )
    title = "Token embedding × √d_model of each source piece"
    _matrix(ctx, "embed", ("anatomy-embedding",), t.embeddings["src_token"], t.src_tokens, title, "piece")


def _positional(ctx: Ctx) -> None:
    t = ctx.trace
    section(
        "2. Positional encoding (§3.5)",
        "Attention by itself ignores order, so a position-dependent vector is added to each embedding. "
        "Left: the embedding, middle: the encoding, right: their sum, which is what layer 0 reads.",
    )
    e = t.embeddings
    show(ctx, "fig_ana_pe", ("anatomy-positional",), viz.embedding_sum_view,
        e["src_token"], e["src_position"], e["src_input"], t.src_tokens, max_dims=WIDE, font_size=ctx.font
    )  # fmt: skip


def _sides(ctx: Ctx, kind: str) -> tuple[str, list[str], list[str], list[str], str, str]:
    """(rows, query pieces read, key pieces, query labels, query axis title, key axis title) of `kind`:
    decoder rows read piece t and predict t + 1, labelled as chosen."""
    rows = state.rows_for(st.session_state, kind)
    q_read, k_tok = viz.side_tokens(ctx.trace, kind)
    return rows, q_read, k_tok, viz.query_labels(kind, q_read, rows), query_title(kind, rows), key_title(kind)


def _scaled_dot_product(ctx: Ctx) -> None:
    t, ss, f = ctx.trace, st.session_state, ctx.font
    kind, layer, head = ss["kind"], ss["layer"], _head()
    rows, q_read, k_tok, q_tok, q_title, k_title = _sides(ctx, kind)
    parts = _anatomy(ctx).qkv[kind]
    q, k, v = (parts[p][layer, head] for p in ("q", "k", "v"))
    d_head = q.shape[-1]
    raw = q @ k.T / math.sqrt(d_head)  # (T_q, T_k) the same sum the model computed, before any mask
    scores, mask = masked_scores(parts["scores"][layer, head])
    where = {
        "encoder": "the encoder",
        "decoder": "the decoder",
        "cross": "the decoder (Q) and, for K and V, the encoder's memory (its final output, what every "
        "cross-attention reads)",
    }
    section(
        f"3. Scaled dot-product attention (§3.2.1): {kind}, layer {layer}, head {head}",
        f"Every piece is projected three times: a **query** (what am I looking for?), a **key** (what do I "
        f"offer?) and a **value** (what do I pass on?), each {d_head} numbers for this head, computed in "
        f"{where[kind]}. A query's score for each key is their dot product divided by √d_k = "
        f"{math.sqrt(d_head):.2f}; a softmax turns each row of scores into weights that sum to 1.",
    )
    st.latex(r"\mathrm{Attention}(Q,K,V)=\mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right)V")
    # Q beside K (their dot products are the scores), V under them; three a row only on a projector's
    # width: at 1280 × 720 a third of the page left each matrix a strip ~50 px wide
    cols = ctx.columns(3) if ctx.present else [*ctx.columns(2), *ctx.columns(2)]
    qkv = (("Q", q, q_tok, q_title), ("K", k, k_tok, k_title), ("V", v, k_tok, k_title))
    name = ("anatomy", kind, f"L{layer}", f"H{head}")  # what every figure of this section shows
    for col, (n, x, toks, side) in zip(cols, qkv, strict=False):
        with col:
            show(ctx, f"fig_ana_{n.lower()}", (*name, n), matrix_heatmap,
                x, toks, title=f"{n} (layer {layer}, head {head})", row_title=side,
                col_title="d_head dimension", value_name=n, font_size=f,
            )  # fmt: skip
    if not ctx.present:
        cols[3].markdown(
            f"**V** is what each key passes on: the weights of step 3 mix its rows, one mix per query, into "
            f"the head's output ({d_head} numbers per query)."
        )
    cols = [*ctx.columns(2), *ctx.columns(2)]  # two a row: a third of the page is too narrow for token axes
    axes = {"cols": k_tok, "row_title": q_title, "col_title": k_title, "value_name": "score", "font_size": f}
    with cols[0]:
        show(ctx, "fig_ana_scores", (*name, "scores"), matrix_heatmap, raw, q_tok, title="1. scores QKᵀ/√d_k",
            **axes,
        )  # fmt: skip
    with cols[1]:
        if mask.any():
            show(ctx, "fig_ana_masked", (*name, "masked"), matrix_heatmap,
                scores, q_tok, title="2. masked: grey = −∞", masked=mask, **axes,
            )  # fmt: skip
        else:  # the same scores again would look like a step that changed something
            st.info(
                "**2. Nothing masked.** Every query may look at every key here, so the scores go to the "
                "softmax as they are. (The decoder's own self-attention masks the future; in a batch of "
                "sentences, padding keys would be masked too.)"
            )
    with cols[2]:
        show(ctx, "fig_ana_softmax", (*name, "softmax"), viz.attention_heatmap,
            viz.head_weights(t.attention[kind], layer, head), q_read, k_tok, kind=kind, layer=layer, head=head,
            rows=rows, title="3. softmax: weights", font_size=f,
        )  # fmt: skip
    with cols[3]:
        st.markdown(
            "**3.** Softmax turns each row of scores into weights between 0 and 1 that sum to 1: the "
            "largest score gets most of the weight, a score of −∞ gets exactly 0."
        )
        if KINDS[kind].predicts:
            st.caption(ROW_CAPTION)
        if kind == "decoder":
            st.caption(
                "The decoder may not look ahead: scores of later positions become −∞, so softmax gives them 0."
            )


def _multi_head(ctx: Ctx) -> None:
    t, cfg, ss = ctx.trace, ctx.model.config, st.session_state
    kind, layer = ss["kind"], ss["layer"]
    rows, q_read, k_tok, q_tok, q_title, _ = _sides(ctx, kind)
    d_head = cfg.d_model // cfg.n_heads
    section(
        f"4. Multi-head attention (§3.2.2): all {cfg.n_heads} heads of {kind} layer {layer}",
        f"The model runs {cfg.n_heads} attentions side by side, each on its own {d_head}-number slice "
        f"(d_k = d_model / h = {cfg.d_model} / {cfg.n_heads}), so different heads can follow different "
        "relations. Their outputs are concatenated and mixed by one more matrix W_O.",
    )
    name = ("anatomy", kind, f"L{layer}")
    show(ctx, "fig_ana_heads", (*name, "all-heads"), viz.model_view,
        t.attention[kind][layer : layer + 1], q_read, k_tok, kind=kind, layers=[layer], rows=rows,
        font_size=ctx.small_font,
    )  # fmt: skip
    out = _anatomy(ctx).activations[f"{KINDS[kind].stack}.layers.{layer}.hook_{KINDS[kind].module}_out"]
    title = "Multi-head output Concat(heads)·W_O"
    _matrix(ctx, "mha_out", (*name, "multi-head-output"), out, q_tok, title, q_title)


def _feed_forward(ctx: Ctx) -> None:
    cfg, ss = ctx.model.config, st.session_state
    stack = KINDS[ss["kind"]].stack
    lay = min(ss["layer"], getattr(cfg, f"n_{stack}_layers") - 1)
    acts = _anatomy(ctx).activations
    hidden = acts[f"{stack}.layers.{lay}.ff.hook_activation"]
    relu = cfg.activation == "relu"
    tokens, row_title = _row_labels(ctx, stack)
    section(
        f"5. Position-wise feed-forward network (§3.3): {stack} layer {lay}",
        f"The same two-layer network runs on every position separately: FFN(x) = act(xW₁ + b₁)W₂ + b₂ with "
        f"act(x) = {ACTIVATION_FORMULAS[cfg.activation]}"
        + (" (the paper's ReLU)" if relu else "")
        + f", widening d_model = {cfg.d_model} to d_ff = {cfg.d_ff} and back. "
        + (
            f"Here {(hidden <= 0).mean():.0%} of the ReLU units are off (exactly 0) for this sentence."
            if relu
            else f"Unlike ReLU it lets small negative values through: {(hidden < 0).mean():.0%} of the units "
            "are negative for this sentence."
        ),
    )
    left, right = ctx.columns(2)
    name = ("anatomy", stack, f"L{lay}")
    with left:
        _matrix(ctx, "ffn_hidden", (*name, "ffn-hidden"), hidden, tokens,
            "ReLU activations max(0, xW₁ + b₁)" if relu
            else f"{cfg.activation.upper()} activations act(xW₁ + b₁)",
            row_title, what="hidden unit", value_name="activation",
            # ReLU is never negative: a one-sided scale, 0 white; SiLU/GELU dip below 0: centred on 0
            colorscale=ONE_SIDED_COLORSCALE if relu else DIVERGING_COLORSCALE, symmetric=not relu,
        )  # fmt: skip
    with right:
        ff_out = acts[f"{stack}.layers.{lay}.hook_ff_out"]
        _matrix(ctx, "ffn_out", (*name, "ffn-output"), ff_out, tokens, "FFN output", row_title)


def _add_norm(norm: str) -> str:
    if norm == "post":
        return (
            "Each sub-layer's output is added to its input (the residual connection) and the sum is normalised: "
            "LayerNorm(x + Sublayer(x)). In this post-norm model (the paper's placement) the residual stream "
            "itself is a LayerNorm output after every sub-layer."
        )
    return (
        "This model normalises *before* each sub-layer (pre-norm): x + Sublayer(LayerNorm(x)). Each "
        "sub-layer reads a LayerNorm output, and adds its result to the residual stream, which is never "
        "normalised inside the stack: only the stack's final LayerNorm normalises it."
    )


def _layer(ctx: Ctx, stack: str) -> None:
    """One encoder or decoder layer (§3.1), the one picked: its attention (decoder) and every stage."""
    t, cfg, ss = ctx.trace, ctx.model.config, st.session_state
    n = getattr(cfg, f"n_{stack}_layers")
    layer = min(ss["layer"], n - 1)
    if stack == "encoder":
        section(
            f"6. Encoder layer (§3.1): layer {layer}",
            "Self-attention, then the feed-forward network. " + _add_norm(cfg.norm),
        )
    else:
        head = _head()
        section(
            f"7. Decoder layer (§3.1): layer {layer}",
            "Three sub-layers: masked self-attention over the translation so far, attention over the encoder's "
            "output (cross-attention: its keys and values are computed from the memory, the encoder's final "
            "output), and the feed-forward network. " + _add_norm(cfg.norm),
        )
        # titles that fit half a page
        names = {"decoder": "masked self-attention", "cross": "cross-attention"}
        for col, k2 in zip(ctx.columns(2), ("decoder", "cross"), strict=True):
            with col:
                name = ("anatomy", k2, f"L{layer}", f"H{head}")
                show(ctx, f"fig_ana_dec_{k2}", name, viz.attention_heatmap,
                    viz.head_weights(t.attention[k2], layer, head), *viz.side_tokens(t, k2), kind=k2,
                    layer=layer, head=head, rows=state.rows_for(ss, k2), font_size=ctx.font,
                    title=f"{names[k2]}: layer {layer}, head {head}",
                )  # fmt: skip
    _stages(ctx, layer_stages(stack, layer, cfg.norm, layer == n - 1), stack, layer)


def _output(ctx: Ctx) -> None:
    t, cfg, ss = ctx.trace, ctx.model.config, st.session_state
    section(
        "8. Output: linear layer and softmax (§3.4)",
        "The decoder's last vector at each position goes through one linear layer"
        + (" (sharing its weights with the embedding matrix)" if cfg.tie_embeddings else "")
        + ", giving one score per vocabulary piece; softmax turns the scores into next-piece probabilities.",
    )
    n_steps = len(t.tgt_tokens)
    if n_steps > 1:
        st.slider("Position", 0, n_steps - 1, key="ana_step", persist_state="session")
    step = ss["ana_step"]
    topk = models.get_topk(ctx.run)
    top = topk[topk["rank"] <= 10]
    fig = viz.topk_bar(top, step, chosen=t.next_token(step), context=t.tgt_tokens[step], font_size=ctx.font)
    chart(ctx, fig, "fig_ana_softmax_out", "anatomy", "output", f"step{step}")
    best = topk[topk["rank"] == 1]
    table = {
        "position": range(n_steps),
        "decoder reads": t.tgt_tokens,
        "most likely next": best["token"].tolist(),
        "probability": best["prob"].round(4).tolist(),
    }
    st.dataframe(pd.DataFrame(table), hide_index=True, key="ana_output_table")


# sections that draw every attention of one layer: they pick a layer and a head, not a kind (number -> the
# kind whose rows they label: the encoder's rows predict nothing, None = the decoder's two attentions)
WHOLE_LAYER: dict[int, str | None] = {6: "encoder", 7: None}
SECTIONS = (  # the walk, one section at a time (paper §3.1–§3.5, SEED.md's order): `section` in the URL
    # (its name in the picker, draw it, whether it dissects the attention picked above it)
    ("The whole model", _whole_model, False),
    ("Embeddings", _embeddings, False),
    ("Positions", _positional, False),
    ("Attention", _scaled_dot_product, True),
    ("Multi-head", _multi_head, True),
    ("Feed-forward", _feed_forward, True),
    ("Encoder layer", lambda ctx: _layer(ctx, "encoder"), True),
    ("Decoder layer", lambda ctx: _layer(ctx, "decoder"), True),
    ("Output", _output, False),
)
SECTION_TITLES = {n: f"{n} · {name}" for n, (name, _, _) in enumerate(SECTIONS)}  # "3 · Attention"


def _row_labels(ctx: Ctx, stack: str) -> tuple[list[str], str]:
    """Row labels and their axis title for one stack's positions (`_sides` of its self-attention)."""
    return _sides(ctx, stack)[3:5]


def _stages(ctx: Ctx, stages: list[Stage], stack: str, layer: int) -> None:
    """Heatmaps of one layer's vectors at each stage (stages.layer_stages), and each piece's mean / std there."""
    acts = _anatomy(ctx).activations
    tokens, row_title = _row_labels(ctx, stack)
    for n, stage in enumerate(stages):
        if n % 2 == 0:
            cols = ctx.columns(2)
        with cols[n % 2]:
            name = ("anatomy", stack, f"L{layer}", f"stage{n}")
            _matrix(ctx, f"{stack}_stage{n}", name, acts[stage.path], tokens, stage.label, row_title)
    with st.expander("Mean and spread of each piece's vector at each stage"):
        st.dataframe(
            _stats({s.label: acts[s.path] for s in stages}, tokens), hide_index=True, key=f"ana_{stack}_stats"
        )
        st.caption(
            "A LayerNorm output has mean ≈ 0 and spread ≈ 1 for every piece before its learned scale and shift; "
            "a residual stream that is not normalised grows from layer to layer."
        )


VIEW = View(
    "anatomy", "Anatomy", "See", "§3.1–§3.5, in the order of the walk-through", render,
    params=(
        state.number("section", "ana_section", 0, 0, len(SECTION_TITLES) - 1,
                     f"the section, 0..{len(SECTION_TITLES) - 1} in the paper's order (SECTION_TITLES)",
                     f"sections are 0 to {len(SECTION_TITLES) - 1}"),
        state.number("out_pos", "ana_step", 0, 0, 100_000, "decoder position of the output softmax",
                     fit_trace=state.below(lambda ss, t: len(t.tgt_tokens), "this translation has positions")),
    ),
    says_translation=True, follows=EXPERIMENT, on_its_own=True,
)  # fmt: skip
