"""One head's attention as an HTML heatmap that needs no script (paper §3.2.2): the Attention view's figure.

    attention_html(w, q_tokens, k_tokens, kind=..., layer=..., head=...)   w: (q_len, k_len) -> str
    (viz.attention_files: the same figure as an SVG or PNG file, for slides)

The HTML is a CSS grid of cells, one per query × key, for `st.html` (or a notebook's
`IPython.display.HTML`): the browser lays it out like text, so a fresh browser session draws it
without first loading and evaluating a charting library (Plotly's 4.6 MB bundle took as long as a
blank Streamlit app's whole first render), and it fills the width it is given. Everything
interactive is CSS: hovering a cell shows its weight and lights up its row's and its column's
labels (a label thinned away on a narrow figure comes back while its column is hovered); key
labels are thinned to every k-th by container queries as the figure narrows, never piled up.
Rows are `ROW_PITCH` × the font tall, every row labelled, until the figure would pass
`HEIGHT_MAX`; then rows get shorter and every k-th is labelled. Every size is in em of the figure's one
font, so `fit_height` (a projected page) can fit the whole figure to the screen by shrinking that font.

Colours are the Blues scale quantised to `LEVELS` steps (one CSS class each, so a 128-piece
heatmap is ~0.5 MB, not 1.5); the weight shown on hover is the exact value to 3 decimals.
Decoder self-attention's future cells are hatched grey and say "masked", so the causal mask is
not mistaken for a learned zero.

Labels follow `viz.labels` (decoder rows by the piece read, predicted or both) and the positions
`hide_specials` kept. Tokens are user text: every string from data is escaped, and `st.html` runs
the result through DOMPurify as well (no script, no SVG: this is plain HTML and CSS).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from plotly.colors import get_colorscale, unlabel_rgb

from viz._style import ATTENTION_COLORSCALE, CHAR_EM, label_px
from viz.attention import HEIGHT_MAX, LABEL_PITCH, MASK_LEGEND, ROW_PITCH, _default_title
from viz.frames import attention_array
from viz.head_view import FONT, _text
from viz.labels import axes

# the Plotly heatmaps' scale (`ATTENTION_COLORSCALE`, Blues): its evenly spaced stops as RGB, read from Plotly
_SCALE = get_colorscale(ATTENTION_COLORSCALE)
assert np.allclose([at for at, _ in _SCALE], np.linspace(0.0, 1.0, len(_SCALE))), "blues() needs even stops"
BLUES = tuple(tuple(int(c) for c in unlabel_rgb(colour)) for _, colour in _SCALE)
LEVELS = 64  # colour steps (classes q0 … q63): 1/63 of the scale apart, finer than the eye tells
MASK_BG = "repeating-linear-gradient(45deg,#d9d9d9 0 5px,#8c8c8c 5px 6px)"
BAR_PX = 12  # the colour bar's thickness
TICKS = 5  # colour bar tick labels: 0, ¼, ½, ¾ and 1 of the scale's top


def blues(t: np.ndarray) -> np.ndarray:
    """Colours of the Blues scale at t in [0, 1], as (…, 3) uint8 RGB (linear between its 9 stops)."""
    stops = np.asarray(BLUES, dtype=np.float64)
    x = np.clip(np.asarray(t, dtype=np.float64), 0.0, 1.0) * (len(stops) - 1)
    lo = np.minimum(np.floor(x).astype(int), len(stops) - 2)
    f = (x - lo)[..., None]
    return np.rint(stops[lo] * (1 - f) + stops[lo + 1] * f).astype(np.uint8)


def _hex(rgb) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in rgb))


PALETTE = [_hex(c) for c in blues(np.linspace(0.0, 1.0, LEVELS))]


@dataclass(frozen=True)
class Prepared:
    """What both drawings of one heatmap need: labels, levels, weights as text, sizes in px."""

    n_q: int
    n_k: int
    level: np.ndarray  # (n_q, n_k) int colour level; -1 masked, -2 not captured
    value: list[list[str]]  # (n_q, n_k): "0.834", "masked", "not captured"
    q_ticks: list[str]  # escaped (viz.labels); shown every `step`-th row
    k_ticks: list[str]
    q_hover: list[str]
    k_hover: list[str]
    y_title: str
    x_title: str
    title: str
    scale_top: float
    step: int
    row_px: float
    left_px: float  # the row labels' column
    label_px: float  # the key labels' row (they stand upright)
    masked: bool


def prepare(
    weights, q_tokens, k_tokens, *, kind, layer, head, rows, q_pos, k_pos, title, zmax, font_size
) -> Prepared:
    """Weights (q_len, k_len) and their pieces -> what the HTML, SVG and PNG drawings share (`Prepared`)."""
    z = attention_array(weights, 2, "attention_html weights (one head: use head_weights)").astype(np.float64)
    ax = axes(kind, q_tokens, k_tokens, z.shape, rows, q_pos, k_pos)
    n_q, n_k = z.shape
    lost = np.isnan(z) & ~ax.mask
    finite = z[~ax.mask & ~lost]
    top = float(finite.max()) if zmax is None and finite.size and finite.max() > 0 else (zmax or 1.0)
    level = np.rint(np.clip(np.nan_to_num(z) / top, 0.0, 1.0) * (LEVELS - 1)).astype(int)
    level[ax.mask], level[lost] = -1, -2
    value = [[f"{v:.3f}" for v in row] for row in np.nan_to_num(z).tolist()]  # np.char.mod: 5× slower
    for i, j in zip(*np.nonzero(ax.mask | lost), strict=True):
        value[i][j] = "masked" if ax.mask[i, j] else "not captured"
    # rows ROW_PITCH × font tall while the figure stays under HEIGHT_MAX, then shorter, labelled every k-th
    least = max(font_size * 20, len(ax.y_title) * font_size * 0.6)  # as tall as the axis title needs
    row_px = min(max(font_size * ROW_PITCH, least / max(n_q, 1)), HEIGHT_MAX / max(n_q, 1))
    step = max(1, math.ceil(font_size * LABEL_PITCH / row_px - 1e-9))
    return Prepared(
        n_q=n_q,
        n_k=n_k,
        level=level,
        value=value,
        q_ticks=ax.q_ticks,
        k_ticks=ax.k_ticks,
        q_hover=ax.q_hover,
        k_hover=ax.k_hover,
        y_title=ax.y_title,
        x_title=ax.x_title,
        title=title or _default_title(kind, layer, head),
        scale_top=top,
        step=step,
        row_px=row_px,
        left_px=max(label_px(ax.q_ticks[::step], font_size), font_size) + 6,
        label_px=max(label_px(ax.k_ticks, font_size), font_size) + 6,
        masked=bool(ax.mask.any()),
    )


def _raw(escaped: str) -> str:
    """A `viz.labels` label (escaped for Plotly, quotes left) as text for an HTML/XML element or attribute."""
    return _text(html.unescape(escaped))


def _tick(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".") if x else "0"


# --- HTML ------------------------------------------------------------------------------------------

# Rules every heatmap shares (scoped to .attn-hm): the layout, the colour levels, the hover. One grid holds
# the row labels (a column as wide as the longest: no font guess can cut one), the cells, the colour bar
# beside the rows and the key labels under them (a row as tall as the longest); rows are `display:
# contents`, so each cell is a grid item and `.r:hover` still means "the pointer is on this row".
LIT = "background:#ffe08a;font-weight:600;visibility:visible;position:relative;z-index:3"
_BASE = (
    ".attn-hm{container-type:inline-size;color:#262730;line-height:1.2;margin:0 0 .5em}"
    ".attn-hm .t{font-weight:600}.attn-hm .s{opacity:.75;margin-bottom:.3em}"
    ".attn-hm .leg{display:flex;align-items:center;gap:.4em;margin-bottom:.3em}"
    f".attn-hm .leg i{{display:inline-block;width:1.6em;height:1em;background:{MASK_BG}}}"
    ".attn-hm .fig{display:flex;align-items:stretch}"
    ".attn-hm .yt{writing-mode:vertical-rl;transform:rotate(180deg);text-align:center;white-space:nowrap;"
    "flex:0 0 auto;padding-left:.3em}"
    ".attn-hm .m{flex:1 1 auto;min-width:0;display:grid}"
    ".attn-hm .r,.attn-hm .x{display:contents}"
    ".attn-hm .yl{text-align:right;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;max-width:16em;"
    "padding-right:4px;align-self:center}"
    ".attn-hm .r>i{display:block;position:relative;font-style:normal}"
    ".attn-hm .x>span{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;overflow:hidden;"
    "text-overflow:ellipsis;max-height:16em;justify-self:center;align-self:start;padding-bottom:3px}"
    ".attn-hm .xt{text-align:center}"
    f".attn-hm .r>i.qm{{background:{MASK_BG}}}.attn-hm .r>i.qn{{background:#fff}}"
    ".attn-hm .r>i:hover{outline:2px solid #ff7f0e;z-index:2}"
    ".attn-hm .r>i:hover::after{content:attr(data-v);position:absolute;bottom:100%;left:50%;"
    "transform:translateX(-50%);background:#262730;color:#fff;padding:0 .3em;border-radius:3px;"
    "white-space:nowrap;pointer-events:none;font-weight:600}"
    f".attn-hm .r:hover>.yl{{{LIT}}}"
    ".attn-hm .bar{display:flex;flex-direction:column;align-items:flex-start;padding-left:10px}"
    f".attn-hm .bar .g{{position:relative;width:{BAR_PX}px;flex:1 1 auto;margin:.6em 0;"
    "background:linear-gradient(to top," + ",".join(map(_hex, BLUES)) + ")}"
    f".attn-hm .bar .g span{{position:absolute;left:{BAR_PX + 3}px;transform:translateY(50%);white-space:nowrap}}"
    + "".join(f".attn-hm .q{i}{{background:{c}}}" for i, c in enumerate(PALETTE))
)
LABEL_EM = 0.7  # a label character's width in font sizes, for the key-label thinning only: on the wide side
FIT_FONT_MIN = 11  # px: the smallest font a figure fitted to a height (fit_height) gets
FIT_HEIGHT_OK = re.compile(r"[0-9a-z%.+\-*/() ]+")  # a CSS length or calc(): no quote, no ';', no '<'


def _height_em(p: Prepared, subtitle: str, font_size: float) -> float:
    """The figure's height in em of its font, from the top of its title to the bottom of its x title: what
    `fit_height` divides (a little on the tall side, so the fitted figure is never cut). p: prepared at
    font_size px."""
    rows = p.n_q * p.row_px / font_size
    labels = min(p.label_px / font_size, 16) + 0.3  # the key labels stand upright, at most 16em
    title = 1.3 * 1.2 + (2 * 1.2 + 0.3 if len(subtitle) > 40 else 1.5 if subtitle else 0)
    legend = 1.5 if p.masked else 0
    return title + legend + rows + labels + 1.2 + 0.5  # the x title, the margin under the figure


def _column_rules(cls: str, n_k: int, fixed: tuple[float, float], font_size: float) -> str:
    """This figure's own rules: its key labels thinned to every k-th while the container is between the widths
    where k - 1 no longer fit and k still do (each label needs LABEL_PITCH em), and the hovered cell's
    key label lit up (shown even when thinned). fixed: the figure's width besides its cells, (px, em).
    Widths are in em of the figure's own font (the container's), so they hold when a fitted figure's
    font shrinks; font_size is the largest it can be."""
    px, em = fixed
    rules = []
    for k in range(2, n_k + 1):
        below, above = em + n_k * LABEL_PITCH / (k - 1), em + n_k * LABEL_PITCH / k
        last = px + above * font_size < 160 or k == n_k  # narrower containers than this do not happen
        band = f"(width <= calc({px:.0f}px + {below:.3f}em))" + (
            "" if last else f" and (width > calc({px:.0f}px + {above:.3f}em))"
        )
        rules.append(f"@container {band}{{.{cls} .x>span:not(:nth-child({k}n+2)){{visibility:hidden}}}}")
        if last:
            break
    for j in range(n_k):  # a row's children: its label is child 1, cell j is child j + 2
        rules.append(f".{cls}:has(.r>i:nth-child({j + 2}):hover) .x>span:nth-child({j + 2}){{{LIT}}}")
    return "".join(rules)


def attention_html(
    weights,
    q_tokens: Sequence[str],
    k_tokens: Sequence[str],
    *,
    kind: str | None = None,
    layer: int | None = None,
    head: int | None = None,
    rows: str | None = None,
    q_pos=None,
    k_pos=None,
    title: str | None = None,
    subtitle: str = "",
    zmax: float | None = 1.0,
    font_size: int = 12,
    fit_height: str | None = None,
) -> str:
    """One head (or the head mean) as an HTML query × key heatmap; weights (q_len, k_len). See the module doc.

    Rows are queries (row 0 on top), columns keys. zmax=None scales colours to the largest weight.
    subtitle: a line under the title (the app puts the sentence there). The root element carries
    data-rows, data-cols and the title, and every cell its weight in data-v, for tests and tools.
    fit_height: a CSS length the whole figure should fit in, e.g. "calc(100vh - 360px)" (a projected
    page: the figure on one screen). Every size in the figure is in em of its font, so the browser
    shrinks that one font, never below FIT_FONT_MIN px (a taller figure then scrolls), never above
    font_size.
    """
    p = prepare(weights, q_tokens, k_tokens, kind=kind, layer=layer, head=head, rows=rows, q_pos=q_pos,
                k_pos=k_pos, title=title, zmax=zmax, font_size=font_size)  # fmt: skip
    f = font_size
    # widths beside the cells, as (px, em): the rotated y title (a line and its padding), the row labels'
    # column (on the wide side), the colour bar's column (its ticks are up to 4 characters)
    bar_px, bar_em = 10 + BAR_PX + 3 + 6, 0.7 * 4
    fixed = (4 + bar_px, 1.5 + p.left_px * LABEL_EM / CHAR_EM / f + bar_em)
    cls = f"hm{p.n_k}-{round(fixed[0] + fixed[1] * f)}-{f}"
    grid = (
        f"grid-template-columns:max-content repeat({p.n_k},minmax(0,1fr)) calc({bar_px}px + {bar_em:.1f}em);"
        f"grid-template-rows:repeat({p.n_q},{p.row_px / f:.4f}em) auto auto"
    )
    size = f"{f}px"
    if fit_height and not FIT_HEIGHT_OK.fullmatch(fit_height):  # it goes into a style attribute as it is
        raise ValueError(f"fit_height must be a CSS length such as 'calc(100vh - 360px)', got {fit_height!r}")
    if fit_height:
        fitted = f"calc(({fit_height}) / {_height_em(p, subtitle, f):.2f})"
        size = f"clamp({min(FIT_FONT_MIN, f)}px,{fitted},{f}px)"
    out = [
        f'<div class="attn-hm {cls}" role="img" aria-label="{_text(p.title)}" data-rows="{p.n_q}" '
        f'data-cols="{p.n_k}" style="font-size:{size};font-family:{_text(FONT)}">',
        f"<style>{_BASE}{_column_rules(cls, p.n_k, fixed, f)}</style>",
        f'<div class="t" style="font-size:1.3em">{_text(p.title)}</div>',
    ]
    if subtitle:
        out.append(f'<div class="s">{_text(subtitle)}</div>')
    if p.masked:
        out.append(f'<div class="leg"><i></i>{_text(MASK_LEGEND)}</div>')
    out.append(f'<div class="fig"><div class="yt">{_text(p.y_title)}</div><div class="m" style="{grid}">')
    ticks = "".join(
        f'<span style="bottom:{100 * i / (TICKS - 1):.0f}%">{_tick(p.scale_top * i / (TICKS - 1))}</span>'
        for i in range(TICKS)
    )
    out.append(  # placed first: the rows then fill the columns left of it, one grid row each
        f'<div class="bar" style="grid-column:{p.n_k + 2};grid-row:1/span {p.n_q}">'
        f'<span>weight</span><div class="g">{ticks}</div></div>'
    )
    for i in range(p.n_q):
        hide = "" if i % p.step == 0 else ' style="visibility:hidden"'
        cells = "".join(
            f'<i class="{"qm" if lv == -1 else "qn" if lv == -2 else f"q{lv}"}" data-v="{v}"></i>'
            for lv, v in zip(p.level[i].tolist(), p.value[i], strict=True)
        )
        # a thinned row's label is still there, hidden until the row is hovered
        out.append(
            f'<div class="r"><span class="yl" title="{_raw(p.q_hover[i])}"{hide}>'
            f"{_raw(p.q_ticks[i])}</span>{cells}</div>"
        )
    out.append('<div class="x"><span></span>')
    out.extend(f'<span title="{_raw(h)}">{_raw(t)}</span>' for t, h in zip(p.k_ticks, p.k_hover, strict=True))
    out.append(
        f'</div><div class="xt" style="grid-column:2/span {p.n_k}">{_text(p.x_title)}</div></div></div>'
    )
    return "".join(out)
