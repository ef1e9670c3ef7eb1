"""One head's attention as an HTML heatmap that needs no script (paper §3.2.2): the Attention view's figure.

    attention_html(attention_map(w, q_tokens, k_tokens, kind=..., layer=..., head=...)) -> str   w: (q_len, k_len)
    (`viz.heatmap`: the description; viz.attention_files: the same figure as an SVG or PNG file, for slides)

The HTML is a CSS grid of cells, one per query × key, for `st.html` (or a notebook's
`IPython.display.HTML`): the browser lays it out like text, so a fresh browser session draws it
without first loading and evaluating a charting library (Plotly's 4.6 MB bundle took as long as a
blank Streamlit app's whole first render), and it fills the width it is given. Everything
interactive is CSS: hovering a cell shows its weight and lights up its row's and its column's
labels (a label thinned away on a narrow figure comes back while its column is hovered); key
labels are thinned to every k-th by container queries as the figure narrows, never piled up.
Every size is in em of the figure's one font, so `fit_height` (a projected page) can fit the whole
figure to the screen by shrinking that font. Colours are the Blues scale quantised to `LEVELS` steps
(one CSS class each, so a 128-piece heatmap is ~0.5 MB, not 1.5); the hover shows the weight to 3
decimals. Tokens are user text: every string from data is escaped, and `st.html` runs the result
through DOMPurify as well (no script, no SVG: this is plain HTML and CSS).
"""

from __future__ import annotations

import re

from viz.heatmap import LABEL_PITCH, MASK_LEGEND, AttentionMap, as_map, cell_text, levels
from viz.style import BLUES, FONT, LEVELS, PALETTE, hex_colour, text_px, tick, xml, xml_label

MASK_BG = "repeating-linear-gradient(45deg,#d9d9d9 0 5px,#8c8c8c 5px 6px)"
BAR_PX = 12  # the colour bar's thickness
TICKS = 5  # colour bar tick labels: 0, ¼, ½, ¾ and 1 of the scale's top


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
    "background:linear-gradient(to top," + ",".join(map(hex_colour, BLUES)) + ")}"
    f".attn-hm .bar .g span{{position:absolute;left:{BAR_PX + 3}px;transform:translateY(50%);white-space:nowrap}}"
    + "".join(f".attn-hm .q{i}{{background:{c}}}" for i, c in enumerate(PALETTE))
)
FIT_FONT_MIN = 11  # px: the smallest font a figure fitted to a height (fit_height) gets
FIT_HEIGHT_OK = re.compile(r"[0-9a-z%.+\-*/() ]+")  # a CSS length or calc(): no quote, no ';', no '<'


def height_em(m: AttentionMap) -> float:
    """The figure's height in em of its font, from the top of its title to the bottom of its x title: what
    `fit_height` divides (a little on the tall side, so the fitted figure is never cut)."""
    rows = m.n_q * m.row_px / m.font_size
    labels = min(m.label_px / m.font_size, 16) + 0.3  # upright key labels, at most 16em (flat: shorter)
    title = 1.3 * 1.2 + (2 * 1.2 + 0.3 if len(m.subtitle) > 40 else 1.5 if m.subtitle else 0)
    legend = 1.5 if m.masked else 0
    return title + legend + rows + labels + 1.2 + 0.5  # the x title, the margin under the figure


def _column_rules(cls: str, n_k: int, fixed: tuple[float, float], font_size: float, label_em: float) -> str:
    """This figure's own rules: its key labels thinned to every k-th while the container is between the widths
    where k - 1 no longer fit and k still do (each label needs LABEL_PITCH em), written flat once every
    column is wider than the longest label (label_em, in em) and its padding, and the hovered cell's key
    label lit up (shown even when thinned). fixed: the figure's width besides its cells, (px, em).
    Widths are in em of the figure's own font (the container's), so they hold when a fitted figure's
    font shrinks; font_size is the largest it can be."""
    px, em = fixed
    flat = em + n_k * max(label_em + 0.6, LABEL_PITCH)  # never while thinned: a flat label needs its column
    rules = [
        f"@container (width > calc({px:.0f}px + {flat:.3f}em)){{.{cls} .x>span{{writing-mode:horizontal-tb;"
        "transform:none;max-height:none;max-width:100%;padding:3px 0 0}}"
    ]
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


def attention_html(m: AttentionMap, *args, fit_height: str | None = None, **kwargs) -> str:
    """One head's `AttentionMap` (or `attention_map`'s arguments) as an HTML heatmap. See the module doc.

    The root element carries data-rows, data-cols and the title, and every cell its weight in data-v, for
    tests and tools. fit_height: a CSS length the whole figure should fit in, e.g. "calc(100vh - 360px)"
    (a projected page: the figure on one screen). Every size in the figure is in em of its font, so the
    browser shrinks that one font, never below FIT_FONT_MIN px (a taller figure then scrolls), never
    above the map's font_size.
    """
    p = as_map(m, args, kwargs)
    f = p.font_size
    # widths beside the cells, as (px, em): the rotated y title (a line and its padding), the row labels'
    # column (on the wide side), the colour bar's column (its ticks are up to 4 characters)
    bar_px, bar_em = 10 + BAR_PX + 3 + 6, text_px("0000", 1, wide=True)
    fixed = (4 + bar_px, 1.5 + p.left_px * text_px("x", 1, wide=True) / text_px("x", f) + bar_em)
    label_em = max((text_px(t, 1, wide=True) for t in p.ax.k_ticks), default=0.0)  # the longest key label
    cls = f"hm{p.n_k}-{round(fixed[0] + fixed[1] * f)}-{f}-{round(label_em * 10)}"
    grid = (
        f"grid-template-columns:max-content repeat({p.n_k},minmax(0,1fr)) calc({bar_px}px + {bar_em:.1f}em);"
        f"grid-template-rows:repeat({p.n_q},{p.row_px / f:.4f}em) auto auto"
    )
    size = f"{f}px"
    if fit_height:
        if not FIT_HEIGHT_OK.fullmatch(fit_height):  # it goes into a style attribute as it is
            raise ValueError(
                f"fit_height must be a CSS length such as 'calc(100vh - 360px)', got {fit_height!r}"
            )
        size = f"clamp({min(FIT_FONT_MIN, f)}px,calc(({fit_height}) / {height_em(p):.2f}),{f}px)"
    out = [
        f'<div class="attn-hm {cls}" role="img" aria-label="{xml(p.title)}" data-rows="{p.n_q}" '
        f'data-cols="{p.n_k}" style="font-size:{size};font-family:{xml(FONT)}">',
        f"<style>{_BASE}{_column_rules(cls, p.n_k, fixed, f, label_em)}</style>",
        f'<div class="t" style="font-size:1.3em">{xml(p.title)}</div>',
    ]
    if p.subtitle:
        out.append(f'<div class="s">{xml(p.subtitle)}</div>')
    if p.masked:
        out.append(f'<div class="leg"><i></i>{xml(MASK_LEGEND)}</div>')
    out.append(f'<div class="fig"><div class="yt">{xml(p.ax.y_title)}</div><div class="m" style="{grid}">')
    ticks = "".join(
        f'<span style="bottom:{100 * i / (TICKS - 1):.0f}%">{tick(p.zmax * i / (TICKS - 1))}</span>'
        for i in range(TICKS)
    )
    out.append(  # placed first: the rows then fill the columns left of it, one grid row each
        f'<div class="bar" style="grid-column:{p.n_k + 2};grid-row:1/span {p.n_q}">'
        f'<span>{xml(p.scale_title)}</span><div class="g">{ticks}</div></div>'
    )
    level, value = levels(p, LEVELS), cell_text(p)
    for i in range(p.n_q):
        hide = "" if i % p.step == 0 else ' style="visibility:hidden"'
        cells = "".join(
            f'<i class="{"qm" if lv == -1 else "qn" if lv == -2 else f"q{lv}"}" data-v="{v}"></i>'
            for lv, v in zip(level[i].tolist(), value[i], strict=True)
        )
        # a thinned row's label is still there, hidden until the row is hovered
        out.append(
            f'<div class="r"><span class="yl" title="{xml_label(p.ax.q_hover[i])}"{hide}>'
            f"{xml_label(p.ax.q_ticks[i])}</span>{cells}</div>"
        )
    out.append('<div class="x"><span></span>')
    out.extend(
        f'<span title="{xml_label(h)}">{xml_label(t)}</span>'
        for t, h in zip(p.ax.k_ticks, p.ax.k_hover, strict=True)
    )
    out.append(
        f'</div><div class="xt" style="grid-column:2/span {p.n_k}">{xml(p.ax.x_title)}</div></div></div>'
    )
    return "".join(out)
