"""Shared look of every viz figure: colour scales, axis wording, safe labels, font scaling.

Tokens come from user text, so any piece may contain `<`, `>` or `&`. Plotly renders
titles, tick labels and hover text as a small subset of HTML, so every string built
from data goes through `esc` before it enters a figure.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Iterable

import plotly.graph_objects as go
import plotly.io as pio

ATTENTION_COLORSCALE = "Blues"  # sequential: weights are in [0, 1]
DIVERGING_COLORSCALE = "RdBu_r"  # signed values (PE, embeddings): 0 is white
ONE_SIDED_COLORSCALE = "Reds"  # values that are never negative (ReLU activations): 0 is white
MASK_COLOR = "#d9d9d9"  # background that shows through masked (NaN) cells
TOP = 7  # × font size: the top margin, room for the title and one subtitle line (the app adds the sentence)


def wrap(text: str, width: int = 30) -> str:
    """A title longer than `width` characters broken once, at the space nearest its middle ("<br>"), for
    figures narrower than the title (Plotly never wraps a title). Only for titles the code writes: the
    text is not escaped here."""
    if len(text) <= width or " " not in text:
        return text
    middle = len(text) // 2
    cut = min((i for i, c in enumerate(text) if c == " "), key=lambda i: abs(i - middle))
    return f"{text[:cut]}<br>{text[cut + 1 :]}"


def text_px(text: str, font_size: float) -> float:
    """Roughly how many pixels a line of text takes at this font size (Plotly's default font)."""
    return len(text) * font_size * 0.6


CHAR_EM = 0.62  # a label character's width in font sizes (Plotly's default font); a wide character is 1
# Axes whose margins are computed here (`label_px`, `colorbar_px`) instead of measured by Plotly: with
# automargin Plotly measures every tick label in the browser and draws a figure again when a margin grows,
# about two thirds of the time Chromium spent drawing the Anatomy view; "allow" skips measuring every
# label once more to hide the ones past the figure's edge (there are none: the margins have room).
FIXED_AXIS = {"automargin": False, "ticklabeloverflow": "allow"}


def label_px(labels: Iterable[str], font_size: float, cap: int = 24) -> float:
    """Pixels the longest label takes on one line (escaped text counted as shown; a wide character, CJK or
    emoji, as a full font size; at most `cap` characters)."""

    def width(text: str) -> float:
        chars = html.unescape(str(text))[:cap]
        return sum(1.0 if unicodedata.east_asian_width(c) in "WF" else CHAR_EM for c in chars)

    return font_size * max(map(width, labels), default=0.0)


COLORBAR_AT = {
    "x": 1.0,
    "xanchor": "left",
}  # the colour bar right of the plot (Plotly's 1.02 grows with the width)


def colorbar_px(title: str, font_size: float, thickness: float = 30, tick_chars: int = 4) -> float:
    """The right margin a vertical colour bar at COLORBAR_AT needs (measured in Chromium): the bar 10 px right
    of the plot, its tick labels (`tick_chars` of them, e.g. "−0.5", digits and signs wider than letters)
    3 px right of the bar, its title above it from the bar's left edge, and 22 px right of the widest."""
    ticks = thickness + 3 + font_size * 0.7 * tick_chars
    return 32 + max(ticks, 1.1 * label_px([title], font_size))


def esc(text) -> str:
    """Escape <, > and & so Plotly shows the text instead of interpreting it.

    Quotes are left alone: Plotly decodes &lt; &gt; &amp; but would print &quot; literally.
    """
    return html.escape(str(text), quote=False)


def esc_all(texts: Iterable) -> list[str]:
    return [esc(t) for t in texts]


def _white(fig: go.Figure) -> None:
    """fig.layout.template = "plotly_white", set the way Plotly sets its default template: without
    validating Plotly's own template once more, which took 8 ms a figure, a third of a heatmap's build."""
    layout = fig.layout
    checked, layout._validate = layout._validate, False
    try:
        layout.template = pio.templates["plotly_white"]
    finally:
        layout._validate = checked


def panel_title(text: str, x: float, y: float, font_size: int | None = None) -> dict:
    """A subplot's title as a layout annotation, centred above its panel (x, y in paper coordinates)."""
    note = {
        "text": text, "x": x, "y": y, "xref": "paper", "yref": "paper",
        "xanchor": "center", "yanchor": "bottom", "showarrow": False,
    }  # fmt: skip
    if font_size is not None:
        note["font"] = {"size": font_size}
    return note


def finish(fig: go.Figure, title: str, font_size: int = 12, height: int | None = None) -> go.Figure:
    """Title (escaped), font size and height; a bigger font_size gives the app's presentation mode."""
    fig.update_layout(
        title={"text": esc(title), "font": {"size": round(font_size * 1.3)}},
        font={"size": font_size},
        margin={"t": round(font_size * TOP)},
    )
    _white(fig)
    if height is not None:
        fig.update_layout(height=height)
    return fig
