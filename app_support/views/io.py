"""Input & output: the translation, and the sentencepiece pieces and ids of both sides (paper §3, Figure 1)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_support.safe_text import md_code
from app_support.views import EXPERIMENT, Ctx, View


def token_table(tokens: list[str], ids: list[int], extra: dict | None = None) -> pd.DataFrame:
    """One row a piece: its position, the piece, its id, then the `extra` columns (name -> values)."""
    return pd.DataFrame({"position": range(len(tokens)), "piece": tokens, "id": ids, **(extra or {})})


def _two_columns(values: dict, what: str) -> pd.DataFrame:
    """{name: value} as a table; the values as text, since one column mixes numbers and words."""
    return pd.DataFrame({what: list(values), "value": [str(v) for v in values.values()]})


def render(ctx: Ctx) -> None:
    t = ctx.trace
    left, right = ctx.columns(2)
    with left:
        st.markdown("**Source**")
        st.code(t.src_text, language=None, wrap_lines=True)
    with right:
        st.markdown("**Translation**")
        empty = "(empty: the model ended the sentence at once)"
        st.code(t.tgt_text or empty, language=None, wrap_lines=True)
    a, b, c, d = st.columns(4)
    a.metric("Source pieces", len(t.src_tokens), help="including the end-of-sentence piece `</s>`")
    b.metric(
        "Generated pieces",
        max(0, len(t.tgt_tokens) - 1),
        help=f"without the start piece {md_code(t.tgt_tokens[0])}",
    )
    c.metric("Beam size", ctx.run.beam, help="1 = greedy: always the most likely next piece")
    d.metric("Time", f"{t.meta['seconds']:.2f} s", help="translate + trace on this machine's CPU")

    left, right = ctx.columns(2)
    with left:
        st.markdown("**Source: what the encoder reads**")
        st.dataframe(token_table(t.src_tokens, t.src_ids), hide_index=True, key="io_src_table")
    with right:
        st.markdown("**Target: what the decoder reads, and what it predicts next**")
        table = token_table(t.tgt_tokens, t.tgt_ids, {"most likely next piece": t.output_tokens})
        st.dataframe(table, hide_index=True, key="io_tgt_table")
    st.caption(
        "Pieces come from the model's sentencepiece tokenizer; ▁ marks the start of a word. "
        f"{md_code(t.tgt_tokens[0])} starts the decoder input and `</s>` ends a sentence. The decoder reads its own "
        "output shifted right: row t reads piece t and predicts piece t + 1."
    )
    cfg = ctx.model.config
    with st.expander("About this model"):
        info = {
            "d_model": cfg.d_model,
            "heads": cfg.n_heads,
            "d_head = d_model / heads": cfg.d_head,
            "encoder layers": cfg.n_encoder_layers,
            "decoder layers": cfg.n_decoder_layers,
            "d_ff": cfg.d_ff,
            "vocabulary": ctx.model.tokenizer.vocab_size,
            "max_len (pieces)": cfg.max_len,
            "positional encoding": cfg.positional,
            "LayerNorm placement": cfg.norm,
            "parameters": ctx.model.model.num_parameters(),
        }
        st.dataframe(_two_columns(info, "setting"), hide_index=True, key="io_config_table")
        metrics = ctx.model.metadata.get("metrics")
        if isinstance(metrics, dict) and metrics:
            st.dataframe(_two_columns(metrics, "metric"), hide_index=True, key="io_metrics_table")


VIEW = View(
    "io", "Input & output", "See", "§3 Model Architecture (Figure 1) and §6.1 (beam search)", render,
    follows=EXPERIMENT, on_its_own=True,  # it shows the translation its own way
)  # fmt: skip
