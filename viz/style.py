"""Shared look of every viz figure: colour scales, the one measure of text, safe labels, font scaling.

Tokens come from user text, so any piece may contain `<`, `>` or `&`. Plotly renders
titles, tick labels and hover text as a small subset of HTML, so every string built
from data goes through `esc` before it enters a figure; the SVG and HTML drawings write data
through `xml`. Every width of text in viz is `text_px` (or `labels_px`, the widest of several).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import get_colorscale, unlabel_rgb

ATTENTION_COLORSCALE = "Blues"  # sequential: weights are in [0, 1]
DIVERGING_COLORSCALE = "RdBu_r"  # signed values (PE, embeddings): 0 is white
ONE_SIDED_COLORSCALE = "Reds"  # values that are never negative (ReLU activations): 0 is white
MASK_COLOR = "#d9d9d9"  # background that shows through masked (NaN) cells
TOP = 7  # × font size: the top margin, room for the title and one subtitle line (the app adds the sentence)
FONT = "Arial, Helvetica, 'DejaVu Sans', sans-serif"  # the SVG and HTML drawings' font


def wrap(text: str, width: int = 30) -> str:
    """A title longer than `width` characters broken once, at the space nearest its middle ("<br>"), for
    figures narrower than the title (Plotly never wraps a title). Only for titles the code writes: the
    text is not escaped here."""
    if len(text) <= width or " " not in text:
        return text
    middle = len(text) // 2
    cut = min((i for i, c in enumerate(text) if c == " "), key=lambda i: abs(i - middle))
    return f"{text[:cut]}<br>{text[cut + 1 :]}"


CHAR_EM = 0.62  # a character's width in font sizes (Plotly's default font); a wide one (CJK, emoji) is 1
WIDE_EM = 0.7  # the same on the wide side: digits and signs, and widths an underestimate would let overlap


def text_px(text: str, font_size: float, *, cap: int | None = None, wide: bool = False) -> float:
    """Roughly how many pixels a line of text takes at this font size: escaped text counted as shown, a wide
    character (CJK, emoji) as a full font size, at most `cap` characters; `wide`: on the wide side."""
    em = WIDE_EM if wide else CHAR_EM
    chars = html.unescape(str(text))[:cap]
    return font_size * sum(1.0 if unicodedata.east_asian_width(c) in "WF" else em for c in chars)


def labels_px(labels: Iterable[str], font_size: float, cap: int = 24) -> float:
    """Pixels the longest label takes on one line (`text_px`, at most `cap` characters)."""
    return max((text_px(t, font_size, cap=cap) for t in labels), default=0.0)


def wrap_lines(text: str, font_size: float, width: float) -> list[str]:
    """Text broken at spaces into lines of at most `width` px (a longer word gets a line of its own)."""
    most = max(1, int(width / text_px("x", font_size)))
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= most:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


# Axes whose margins are computed here (`labels_px`, `colorbar_px`) instead of measured by Plotly: with
# automargin Plotly measures every tick label in the browser and draws a figure again when a margin grows,
# about two thirds of the time Chromium spent drawing the Anatomy view; "allow" skips measuring every
# label once more to hide the ones past the figure's edge (there are none: the margins have room).
FIXED_AXIS = {"automargin": False, "ticklabeloverflow": "allow"}

# the colour bar right of the plot (Plotly's 1.02 grows with the width)
COLORBAR_AT = {"x": 1.0, "xanchor": "left"}


def colorbar_px(title: str, font_size: float, thickness: float = 30, tick_chars: int = 4) -> float:
    """The right margin a vertical colour bar at COLORBAR_AT needs (measured in Chromium): the bar 10 px right
    of the plot, its tick labels (`tick_chars` of them, e.g. "−0.5", digits and signs wider than letters)
    3 px right of the bar, its title above it from the bar's left edge, and 22 px right of the widest."""
    ticks = thickness + 3 + text_px("0" * tick_chars, font_size, wide=True)
    return 32 + max(ticks, 1.1 * text_px(title, font_size, cap=24))


def esc(text) -> str:
    """Escape <, > and & so Plotly shows the text instead of interpreting it.

    Quotes are left alone: Plotly decodes &lt; &gt; &amp; but would print &quot; literally.
    """
    return html.escape(str(text), quote=False)


def esc_all(texts: Iterable) -> list[str]:
    return [esc(t) for t in texts]


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml(s: object) -> str:
    """Data as XML/HTML text: <, >, &, quotes escaped; characters XML cannot hold (controls, lone surrogates) as �."""
    return html.escape(_NOT_XML.sub("\ufffd", str(s)), quote=True)


def xml_label(escaped: str) -> str:
    """A `viz.labels` label (escaped for Plotly, quotes left) as text for an HTML/XML element or attribute."""
    return xml(html.unescape(escaped))


def num(x: float) -> str:
    """A coordinate with at most one decimal, no trailing zeros: 97.5, 120."""
    return f"{x:.1f}".rstrip("0").rstrip(".")


def tick(x: float) -> str:
    """A colour bar's tick label: 0, 0.25, 0.5, 1."""
    return f"{x:.2f}".rstrip("0").rstrip(".") if x else "0"


def hex_colour(rgb) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in rgb))


# the Plotly heatmaps' scale (`ATTENTION_COLORSCALE`, Blues): its evenly spaced stops as RGB, read from Plotly,
# for the drawings Plotly does not make (HTML, SVG, PNG)
_SCALE = get_colorscale(ATTENTION_COLORSCALE)
assert np.allclose([at for at, _ in _SCALE], np.linspace(0.0, 1.0, len(_SCALE))), "blues() needs even stops"
BLUES = tuple(tuple(int(c) for c in unlabel_rgb(colour)) for _, colour in _SCALE)
LEVELS = 64  # colour steps (classes q0 … q63): 1/63 of the scale apart, finer than the eye tells


def blues(t: np.ndarray) -> np.ndarray:
    """Colours of the Blues scale at t in [0, 1], as (…, 3) uint8 RGB (linear between its 9 stops)."""
    stops = np.asarray(BLUES, dtype=np.float64)
    x = np.clip(np.asarray(t, dtype=np.float64), 0.0, 1.0) * (len(stops) - 1)
    lo = np.minimum(np.floor(x).astype(int), len(stops) - 2)
    f = (x - lo)[..., None]
    return np.rint(stops[lo] * (1 - f) + stops[lo + 1] * f).astype(np.uint8)


PALETTE = [hex_colour(c) for c in blues(np.linspace(0.0, 1.0, LEVELS))]  # level i's colour


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


def panels(
    n: int, n_cols: int, x_gap: float, y_gap: float = 0.0
) -> list[tuple[str, list[float], list[float]]]:
    """Where n subplots go on a grid n_cols wide, filled row by row: (axis suffix "", "2", …, x domain,
    y domain) in paper coordinates, x_gap and y_gap between them."""
    n_rows = -(-n // n_cols)
    w, h = (1 - x_gap * (n_cols - 1)) / n_cols, (1 - y_gap * (n_rows - 1)) / n_rows
    out = []
    for i in range(n):
        x0, y1 = (i % n_cols) * (w + x_gap), 1 - (i // n_cols) * (h + y_gap)
        out.append(("" if i == 0 else str(i + 1), [x0, x0 + w], [max(0.0, y1 - h), y1]))
    return out


def index_axis(
    ticks: Iterable[str],
    title: str | None = None,
    *,
    turn_after: int | None = None,
    reverse: bool = False,
    **more,
) -> dict:
    """An axis with a tick label (escaped by the caller) at each of 0 … n - 1, spanning [-0.5, n - 0.5] (0 on
    top when `reverse`); the labels turned 45° when there are more than `turn_after` of them; `more`: any
    other axis property."""
    ticks = list(ticks)
    span = [-0.5, len(ticks) - 0.5]
    axis = {
        "tickmode": "array",
        "tickvals": list(range(len(ticks))),
        "ticktext": ticks,
        "range": span[::-1] if reverse else span,
    }
    if title is not None:
        axis["title_text"] = title
    if turn_after is not None:
        axis["tickangle"] = -45 if len(ticks) > turn_after else 0
    return axis | more


def finish(fig: go.Figure, title: str, font_size: int = 12, height: int | None = None) -> go.Figure:
    """Title (escaped), font size and height; a bigger font_size gives the app's presentation mode."""
    fig.update_layout(
        title={"text": esc(title), "font": {"size": round(font_size * 1.3)}},
        font={"size": font_size},
        margin={"t": round(font_size * TOP)},
        height=height,
    )
    _white(fig)
    return fig


def layer_head_panels(
    grids: list[tuple[str, np.ndarray, dict]],
    title: str,
    font_size: int,
    height: int | None,
    plot_px: float,
    most_px: int = 700,
    shapes=(),
) -> go.Figure:
    """One layer × head heatmap per attention kind, side by side: grids = [(its panel's title (escaped by the
    caller), z (layers, heads), the go.Heatmap's other properties)], cells apart, "L0…" down and "H0…" across.
    height: the figure's, or None: plot_px for the panels and room for the title above and the labels
    below, at most most_px. shapes(i, x, y): the shapes of panel i on its axes x, y (a box around a head, …)."""
    traces, layout, titles, drawn = [], {}, [], []
    for i, ((name, z, more), (sfx, x_dom, _)) in enumerate(
        zip(grids, panels(len(grids), len(grids), 0.06), strict=True)
    ):
        n_l, n_h = z.shape
        x, y = f"x{sfx}", f"y{sfx}"  # panels side by side, axes of their own
        traces.append(
            go.Heatmap(z=z, x=np.arange(n_h), y=np.arange(n_l), xaxis=x, yaxis=y, xgap=2, ygap=2, **more)
        )
        bare = {"showgrid": False, "zeroline": False}
        layout[f"xaxis{sfx}"] = index_axis([f"H{h}" for h in range(n_h)], domain=x_dom, anchor=y, **bare)
        layout[f"yaxis{sfx}"] = index_axis([f"L{i}" for i in range(n_l)], reverse=True, anchor=x, **bare)
        titles.append(panel_title(name, sum(x_dom) / 2, 1.0))
        drawn += list(shapes(i, x, y)) if shapes else []
    fig = go.Figure(traces, layout={**layout, "annotations": titles, "shapes": drawn})
    top, bottom = round(font_size * (TOP + 1.5)), round(font_size * 3)  # a subtitle above the panels' titles
    fig = finish(fig, title, font_size, height or int(min(most_px, top + plot_px + bottom)))
    fig.update_layout(margin={"t": top, "b": bottom})
    return fig
