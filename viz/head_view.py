"""The head view (paper §3.2.2, as bertviz draws it): lines from query pieces to key pieces, as SVG.

    head_view(w, q_tokens, k_tokens, kind=..., layer=..., heads=...)       w: (heads, q_len, k_len)

returns one self-contained SVG string: the query pieces in a left column, the key pieces in a right
column, one line per query → key pair whose opacity is the weight (width grows with it too), one
colour per head. Hovering a piece, or focusing it (a tap on a touch screen, Tab on a keyboard), keeps
only its lines and dims the others; hovering a head in the colour key keeps only that head. All of it is CSS in
the SVG's own `<style>` (`:has()`, `:hover`, `:focus`): no script, no network, so it works offline in
the app (`svg_page`, shown in an iframe), in a notebook (`IPython.display.HTML(svg)`) and as a
file for slides (the sentence goes in `subtitle`). Static viewers (PowerPoint, Inkscape) draw the same
lines without the hover: every look is an attribute, the CSS only adds the interaction.

Labels sit outside the lines' span, one per row at any length: rows are `ROW_PITCH` × the font apart
and the figure grows with the pieces (128 pieces at 12 px: about 2,100 px tall) rather than thinning
or shrinking its labels. Tokens are user text: every string from data is escaped, so "<script>" is
drawn as text.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
from collections.abc import Sequence

import numpy as np
from plotly.colors import qualitative

from viz.frames import array_of
from viz.heatmap import ROW_PITCH, kind_label  # the heatmaps' row pitch (× font size)
from viz.labels import axes, query_labels
from viz.style import FONT, num, text_px, wrap_lines, xml

MIN_FONT = 11  # px: the smallest label font
MIN_WIDTH = 56  # × font size: the narrowest figure (the lines widen to it; longer texts wrap)
SPAN = 24  # × font size: the lines' least horizontal span
GAP = 0.6  # × font size between a label and the end of its lines
LABEL_CHARS = 24  # a longer label is cut with "…" (the whole piece is in its tooltip)
DIM = 0.05  # opacity of the lines that are not the hovered piece's
PALETTE = qualitative.D3  # bertviz's colours (d3 category10): dark enough at low opacity on white
PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'"  # svg_page: CSS only, no script, no request


def _cut(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def _strongest(row: np.ndarray, labels: Sequence[str], n: int = 3) -> str:
    """The n largest weights of a row as "▁know 0.41, ▁she 0.20" (unescaped)."""
    top = np.argsort(-row, kind="stable")[:n]
    return ", ".join(f"{labels[j]} {row[j]:.2f}" for j in top if row[j] > 0)


def _check_heads(heads: Sequence[int] | None, n_heads: int) -> list[int]:
    available = list(range(n_heads))
    chosen = available if heads is None else [int(h) for h in heads]
    unknown = [h for h in chosen if h not in available]
    if unknown or not chosen:
        raise ValueError(f"heads {unknown or chosen} not in this layer (heads {available})")
    return chosen


def head_view(
    weights,
    q_tokens: Sequence[str],
    k_tokens: Sequence[str],
    *,
    kind: str | None = None,
    layer: int | None = None,
    heads: Sequence[int] | None = None,
    rows: str | None = None,
    q_pos=None,
    k_pos=None,
    threshold: float = 0.02,
    font_size: int = 12,
    title: str | None = None,
    subtitle: str | None = None,
) -> str:
    """bertviz's head view of one layer as an SVG string; weights (heads, q_len, k_len).

    Args:
        weights: one layer's attention, (heads, q_len, k_len), or the rows/columns `hide_specials` kept.
        q_tokens, k_tokens: the pieces read at every position of each side (the whole sentence).
        kind, rows: label the rows as the other figures do (`viz.labels`); layer names the figure.
        heads: which heads of `weights` to draw (their indices; default all), each in its own colour.
        q_pos, k_pos: the positions of the rows/columns given (`hide_specials`), None = all.
        threshold: weights below it get no line (they would be invisible, and cost the browser time).
        font_size: the labels' size (at least MIN_FONT); the figure grows with it and with the pieces.
        title, subtitle: the first lines (default title from kind and layer; the app's subtitle is the
            sentence, so a saved SVG says what it shows). Both are escaped.

    Shape: the SVG is width × height px (attributes of its root), one row per query or key piece.
    Every element says what it is in its class: each line a path `q{pos} k{pos}` (positions in the
    sentence) inside a group `h h{head}` (stroke = the head's colour; its stroke-opacity = the weight);
    the labels `tok tq{pos}` / `tok tk{pos}` (a `<title>` tooltip names the strongest keys / queries
    per head); the colour key `hk hk{head}`.
    """
    w_all = np.nan_to_num(array_of(weights, "(heads, q_len, k_len)", "head_view weights (one layer)"))
    heads = _check_heads(heads, w_all.shape[0])
    n_q, n_k = w_all.shape[1:]
    ax = axes(kind, q_tokens, k_tokens, (n_q, n_k), rows, q_pos, k_pos)
    q_all = query_labels(kind, q_tokens, rows)  # unescaped: cut first, escape once
    q_lab, k_lab = [q_all[p] for p in ax.q_pos], [str(k_tokens[p]) for p in ax.k_pos]
    qn, kn = ax.q_pos.tolist(), ax.k_pos.tolist()
    colour = {h: PALETTE[h % len(PALETTE)] for h in heads}
    title = title or f"{kind_label(kind)}{'' if layer is None else f', layer {layer}'}"
    sides = f"left: {ax.y_title} · right: {ax.x_title} · a line for each weight ≥ {threshold:g}"

    f = max(float(font_size), MIN_FONT)
    pitch, gap, pad = f * ROW_PITCH, f * GAP, f
    small = round(f * 0.9, 1)  # the colour key and the sides' description
    left_w = max(max((text_px(_cut(t), f) for t in q_lab), default=0), text_px("query", f))
    right_w = max(max((text_px(_cut(t), f) for t in k_lab), default=0), text_px("key", f))
    key_w = sum(text_px(f"head {h}", small) + 3.5 * small for h in heads)
    labels_w = pad + left_w + 2 * gap + right_w + pad
    width = math.ceil(max(labels_w + SPAN * f, pad + key_w + pad, MIN_WIDTH * f))
    x_left = pad + left_w  # the left labels end here (anchored at their end)
    x1, x2 = x_left + gap, x_left + gap + (width - labels_w)  # the lines fill the width the labels leave
    x_right = x2 + gap  # the right labels start here
    texts = [
        (title, f * 1.2, ' font-weight="bold"'),
        (subtitle or "", f, ' fill="#555"'),
        (sides, small, ' fill="#555"'),
    ]
    header, y = _text_lines(texts, pad, width - 2 * pad)
    y += f * 2
    if key_w > x2 - x1:  # the colour key on a line of its own, else between the column headings
        header.append(_colour_key(heads, colour, pad, y, small))
        y += f * 1.8
    else:
        header.append(_colour_key(heads, colour, (x1 + x2 - key_w) / 2, y, small))
    header.append(
        f'<g font-weight="bold"><text x="{num(x_left)}" y="{num(y)}" text-anchor="end">query</text>'
        f'<text x="{num(x_right)}" y="{num(y)}">key</text></g>'
    )
    top = y + f * 0.6  # the first row's top
    height = math.ceil(top + max(n_q, n_k) * pitch + pad)
    row_y = (top + (np.arange(max(n_q, n_k)) + 0.5) * pitch).tolist()  # each row's middle
    lines = _lines(w_all, heads, colour, qn, kn, (x1, x2), row_y, threshold)
    labels = _labels(w_all, heads, ax, q_lab, k_lab, (x_left, x_right), (left_w, right_w), row_y, pitch)

    # the CSS's id, from everything drawn: two head views on one page keep their own rules
    drawn = repr((title, subtitle, q_lab, k_lab, qn, kn, heads, f)).encode("utf-8", "surrogatepass")
    uid = "hv" + hashlib.blake2b(drawn + w_all.tobytes(), digest_size=5).hexdigest()
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{uid}" class="head-view" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="{num(f)}">'
        f"<title>{xml(title)}{xml(' — ' + subtitle) if subtitle else ''}</title>"
        f"<style>{_css(uid, qn, kn, heads)}</style>"
        f'<rect width="{width}" height="{height}" fill="#fff"/>'
        + "".join(header)
        + f'<g class="lines" fill="none" stroke-linecap="round">{lines}</g>'
        + f'<g class="labels" fill="#222">{labels}</g></svg>'
    )


def _text_lines(texts: list[tuple[str, float, str]], pad: float, width: float) -> tuple[list[str], float]:
    """(text, font size, attributes) each wrapped to `width` (not widening the figure), one `<text>` a line from
    `pad` down: the lines and the baseline of the last."""
    out, y = [], pad
    for text, size, attrs in texts:
        for line in wrap_lines(text, size, width):
            y += size * 1.3
            out.append(f'<text x="{num(pad)}" y="{num(y)}" font-size="{num(size)}"{attrs}>{xml(line)}</text>')
    return out, y


def _lines(w_all: np.ndarray, heads, colour: dict, qn, kn, xs: tuple, row_y, threshold: float) -> str:
    """One path per query → key weight ≥ threshold, grouped by head: opacity and width grow with the weight;
    row_y: the middle of each row."""
    (x1, x2), groups = xs, []
    for h in heads:
        paths = []
        for a in range(w_all.shape[1]):
            row = w_all[h, a]
            for b in np.flatnonzero(row >= threshold):
                wt = min(float(row[b]), 1.0)
                paths.append(
                    f'<path class="q{qn[a]} k{kn[b]}" d="M{num(x1)} {num(row_y[a])}L{num(x2)} '
                    f'{num(row_y[b])}" stroke-opacity="{wt:.3f}" stroke-width="{num(1 + 3 * wt)}"/>'
                )
        groups.append(f'<g class="h h{h}" stroke="{colour[h]}">{"".join(paths)}</g>')
    return "".join(groups)


def _labels(w_all: np.ndarray, heads, ax, q_lab, k_lab, xs: tuple, widths: tuple, row_y, pitch: float) -> str:
    """The query labels (left) and key labels (right), each with a tooltip naming its strongest partners."""

    def tips(matrix: np.ndarray, other: Sequence[str], verb: str) -> list[str]:
        return ["; ".join(f"head {h} {verb} {_strongest(matrix[h, i], other)}" for h in heads)
                for i in range(matrix.shape[1])]  # fmt: skip

    sides = [
        ("tq", ax.q_pos, q_lab, ax.q_hover, tips(w_all, k_lab, "reads"), "end"),
        ("tk", ax.k_pos, k_lab, ax.k_hover, tips(w_all.transpose(0, 2, 1), q_lab, "is read by"), "start"),
    ]
    # the hover "3: reads ▁e, predicts ▁Mann" back to raw text: escaped once, in _token
    return "".join(
        _token(f"{cls}{int(pos[i])}", lab[i], f"{html.unescape(hover[i])} — {tip[i]}", x, row_y[i], pitch, w,
               anchor)
        for (cls, pos, lab, hover, tip, anchor), x, w in zip(sides, xs, widths)
        for i in range(len(lab))
    )  # fmt: skip


def _colour_key(heads: list[int], colour: dict, x: float, y: float, font: float) -> str:
    """One swatch and "head h" per head: hovering (or focusing) one keeps only its lines."""
    items = []
    for h in heads:
        name = f"head {h}"
        items.append(
            f'<g class="hk hk{h}" tabindex="0"><title>{name}: hover or tap to see only its lines</title>'
            f'<rect x="{num(x - 2)}" y="{num(y - font * 1.1)}" width="{num(text_px(name, font) + 2.4 * font + 4)}"'
            f' height="{num(font * 1.5)}" rx="3"/>'
            f'<path d="M{num(x)} {num(y - font * 0.35)}h{num(1.8 * font)}" stroke="{colour[h]}" '
            f'stroke-width="4"/><text x="{num(x + 2.4 * font)}" y="{num(y)}">{name}</text></g>'
        )
        x += text_px(name, font) + 3.5 * font
    return f'<g class="key" font-size="{num(font)}" fill="#222">{"".join(items)}</g>'


def _token(cls: str, label: str, tip: str, x: float, y: float, pitch: float, w: float, anchor: str) -> str:
    """A label at the row's middle, on a row-high box that takes the hover (and the focus: tabindex)."""
    x0 = x - w - 2 if anchor == "end" else x - 2
    return (
        f'<g class="tok {cls}" tabindex="0"><title>{xml(tip)}</title>'
        f'<rect x="{num(x0)}" y="{num(y - pitch / 2)}" width="{num(w + 4)}" height="{num(pitch)}" rx="2"/>'
        f'<text x="{num(x)}" y="{num(y)}" dominant-baseline="central" text-anchor="{anchor}">'
        f"{xml(_cut(label))}</text></g>"
    )


def _css(uid: str, qn: Sequence[int], kn: Sequence[int], heads: Sequence[int]) -> str:
    """Hover and focus, in CSS only: one rule per piece and head ("keep these lines, dim the rest").

    A hovered piece wins over a focused one (a piece tapped earlier keeps its lines until another is
    hovered or tapped).
    """
    s = f"#{uid}"
    rules = [
        f"{s} .tok,{s} .hk{{cursor:pointer;outline:none}}",
        f"{s} .tok rect,{s} .hk rect{{fill:#ffd54f;fill-opacity:0}}",
        f"{s} .tok:hover rect,{s} .tok:focus rect,{s} .hk:hover rect,{s} .hk:focus rect{{fill-opacity:.55}}",
        f"{s} .tok:focus-visible rect,{s} .hk:focus-visible rect{{stroke:#222;stroke-width:1.5}}",
    ]
    picks = [(f"tq{p}", f"path:not(.q{p})") for p in qn] + [(f"tk{p}", f"path:not(.k{p})") for p in kn]
    picks += [(f"hk{h}", f".h:not(.h{h})") for h in heads]
    free = f"{s}:not(:has(.tok:hover,.hk:hover))"  # nothing hovered: a focused piece decides
    dimmed = [f"{s}:has(.{t}:hover) .lines {sel},{free}:has(.{t}:focus) .lines {sel}" for t, sel in picks]
    rules.append(",".join(dimmed) + f"{{opacity:{DIM}}}")
    return "".join(rules)


def svg_size(svg: str) -> tuple[int, int]:
    """(width, height) in px of the first `<svg>` of a string: `head_view`'s, or a page holding it."""
    root = re.search(r"<svg\b[^>]*>", svg)
    size = root and re.search(r'\swidth="(\d+)"[^>]*\sheight="(\d+)"', root.group(0))
    if not size:
        raise ValueError("no <svg> with a width and a height in pixels")
    return int(size.group(1)), int(size.group(2))


def svg_page(svg: str) -> str:
    """An SVG (`head_view`'s) as an HTML page for an iframe (the app's `st.iframe`), under a
    Content-Security-Policy that allows inline CSS and nothing else: no script runs and nothing is
    fetched, whatever the SVG holds. The SVG shrinks to a narrower frame, never grows."""
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{PAGE_POLICY}">'
        "<style>body{margin:0}svg{display:block;max-width:100%;height:auto}</style></head>"
        f"<body>{svg}</body></html>"
    )
