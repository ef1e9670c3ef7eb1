"""What the Attention view's panels share to draw one head: its name, the hide-specials toggles applied, and
the HTML heatmap with its download, fitted to a projector's height in presentation mode. The heatmaps panel
(`app_support.views.attention`), attention flow (`flow`) and the training time-lapse (`training`) use it.
"""

from __future__ import annotations

import streamlit as st

import viz
from app_support import models
from app_support.state import MEAN
from app_support.views import Ctx, stem

NOTHING_LEFT = "Nothing left to show once the special pieces are hidden."
# In presentation mode a heatmap fits the screen's height less what is above the figures (sentence box, view
# picker (one row at 1920 px), the translation, folded controls: 332 px at 1920 × 1080 in Chromium), the download
# button under them (55 px), and each warning shown above the view (a one-line warning: 90 px there, with its gap).
FIT_TOP_PX = 397
FIT_NOTICE_PX = 90


def head_label(h: int) -> str:
    """What the head picker says: "H1", or "mean"."""
    return "mean" if h == MEAN else f"H{h}"


def head_title(h: int) -> str:
    """A head in a figure's title, as the picker says it but whole: "H1", or "mean of heads" (fits half a page)."""
    return "mean of heads" if h == MEAN else head_label(h)


def above_px(ctx: Ctx, more: int = 0) -> int:
    """What a projected figure leaves of the screen's height: the page above it (`more`: what a panel adds
    above its figures) and the button under it."""
    return FIT_TOP_PX + FIT_NOTICE_PX * ctx.notices + more


def shown(weights, q_tok, k_tok, kind: str, rows: str) -> tuple:
    """(weights to draw, positions of their rows, of their columns): specials hidden when asked.

    Positions None = every position, as the figures take them.
    """
    ss = st.session_state
    if not ss["att_hide_specials"]:
        return weights, None, None
    return viz.hide_specials(weights, q_tok, k_tok, kind=kind, rows=rows, renormalize=ss["att_renormalise"])


def heatmap(ctx: Ctx, key: str, data: tuple, drawn: dict, name: tuple, above: int = 0) -> None:
    """One attention heatmap as HTML (`viz.attention_html`: drawn without loading Plotly, so a fresh browser
    session shows it at once), in a container keyed `key`, with a download under it in the format the
    sidebar's Export chooses (`viz.attention_png` at 2× or `viz.attention_svg`), made when clicked.
    In presentation mode the page's figure fits the screen's height (the file keeps its own size); `above`:
    what the panel draws above its figures, in px. Weights with nothing left to show (every piece hidden) say so
    instead."""
    if data[0].size == 0:
        st.info(NOTHING_LEFT)
        return
    fit = {"fit_height": f"calc(100vh - {above_px(ctx, above)}px)"} if ctx.present else {}
    with st.container(key=key):
        st.html(models.figure(viz.attention_html, *data, **drawn, **fit))
    fmt = st.session_state.get("fig_format", "png")
    if fmt == "svg":
        label, build, mime = "Download (SVG, for slides)", viz.attention_svg, "image/svg+xml"
    else:
        fmt, label, build, mime = "png", "Download (PNG)", viz.attention_png, "image/png"
    st.download_button(
        label,
        lambda: models.figure(build, *data, **drawn),
        file_name=f"{stem(ctx, *name)}.{fmt}",
        mime=mime,
        on_click="ignore",
        key=f"dl_{key}",
        help="The figure as a file named after the model, view and sentence; the sidebar's Export "
        "switches between PNG and SVG.",
    )
