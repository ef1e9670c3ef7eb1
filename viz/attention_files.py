"""The figure `viz.attention_html` draws, as a file for slides: SVG (vector) or PNG (pixels).

    m = attention_map(w, q_tokens, k_tokens, kind=..., layer=..., head=..., subtitle=...)   w: (q_len, k_len)
    attention_svg(m) -> str
    attention_png(m, scale=2) -> bytes

Both draw the same heatmap at a fixed size from one layout (`file_layout`), its cells square-ish and at least
1.6 × the font wide, so every key label stands upright beside its neighbours. The SVG runs no script; each
cell's `<title>` names both pieces and the weight (a tooltip in a browser). The PNG is drawn with Pillow
(installed with Streamlit) in the first of `FONTS` the machine has; a piece whose characters that font lacks
(CJK, emoji) shows boxes there, never in the SVG.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from functools import lru_cache

from viz.attention_html import BAR_PX, TICKS
from viz.heatmap import MASK_LEGEND, AttentionMap, as_map, cell_text, levels
from viz.style import BLUES, FONT, LEVELS, PALETTE, hex_colour, num, text_px, tick, wrap_lines, xml, xml_label

# the PNG's font: the first Pillow finds (it looks in the system's font folders: Linux, macOS, Windows)
FONTS = ("DejaVuSans.ttf", "Arial.ttf", "arial.ttf", "Helvetica.ttc", "LiberationSans-Regular.ttf")
MASK_GREY, MASK_LINE = (217, 217, 217), (140, 140, 140)


@dataclass(frozen=True)
class FileLayout:
    """Where everything goes, in px (the PNG multiplies by its scale)."""

    width: float
    height: float
    font: float
    lines: list[str]  # the subtitle, wrapped
    legend_y: float | None  # the mask legend's baseline
    x0: float  # the cells' left edge
    y0: float  # their top
    cell: float  # a column's width
    row_h: float


def file_layout(p: AttentionMap) -> FileLayout:
    """Where the SVG and the PNG put everything (px at the map's font size)."""
    f, subtitle = p.font_size, p.subtitle
    cell = max(f * 1.6, min(48.0, 640.0 / max(p.n_k, 1)))
    row_h = max(p.row_px, min(cell, 900.0 / max(p.n_q, 1)))
    x0 = f * 1.8 + p.left_px
    width = max(x0 + cell * p.n_k + 10 + BAR_PX + 3 + f * 3 + 10, text_px(p.title, f * 1.3) + 20)
    lines = wrap_lines(subtitle, f, width - 20) if subtitle else []
    legend_y = f * 1.5 + len(lines) * f * 1.3 + f * 1.6 if p.masked else None
    y0 = f * 2.2 + len(lines) * f * 1.3 + (f * 1.6 if p.masked else 0) + f * 0.6
    height = y0 + row_h * p.n_q + p.label_px + f * 2.2
    return FileLayout(width, height, f, lines, legend_y, x0, y0, cell, row_h)


def attention_svg(m: AttentionMap, *args, **kwargs) -> str:
    """One head's `AttentionMap` (or `attention_map`'s arguments) as one self-contained SVG file (no script)."""
    p = as_map(m, args, kwargs)
    g = file_layout(p)
    f, x0, y0, cell, row_h = g.font, g.x0, g.y0, g.cell, g.row_h
    grid_w, grid_h = cell * p.n_k, row_h * p.n_q
    stops = "".join(
        f'<stop offset="{i / (len(BLUES) - 1):.3f}" stop-color="{hex_colour(c)}"/>'
        for i, c in enumerate(BLUES)
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{num(g.width)}" height="{num(g.height)}" '
        f'viewBox="0 0 {num(g.width)} {num(g.height)}" font-family="{xml(FONT)}" font-size="{f}">',
        f"<title>{xml(p.title)}</title>",
        '<defs><pattern id="mask" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{hex_colour(MASK_GREY)}"/>'
        f'<rect width="1" height="6" fill="{hex_colour(MASK_LINE)}"/></pattern>'
        f'<linearGradient id="bar" x1="0" y1="1" x2="0" y2="0">{stops}</linearGradient></defs>',
        '<rect width="100%" height="100%" fill="#fff"/>',
        f'<text x="10" y="{f * 1.5:.1f}" font-size="{f * 1.3:.0f}" font-weight="600">{xml(p.title)}</text>',
    ]
    for n, line in enumerate(g.lines, 1):
        out.append(f'<text x="10" y="{f * 1.5 + n * f * 1.3:.1f}" fill="#555">{xml(line)}</text>')
    if g.legend_y is not None:
        y = g.legend_y
        out.append(f'<rect x="10" y="{y - f:.1f}" width="{f * 1.6:.1f}" height="{f:.1f}" fill="url(#mask)"/>'
                   f'<text x="{10 + f * 2:.1f}" y="{y - 1:.1f}">{xml(MASK_LEGEND)}</text>')  # fmt: skip
    level, value = levels(p, LEVELS), cell_text(p)
    for i in range(p.n_q):
        top = y0 + i * row_h
        if i % p.step == 0:
            out.append(f'<text x="{x0 - 4:.1f}" y="{top + row_h / 2:.1f}" text-anchor="end" '
                       f'dominant-baseline="central">{xml_label(p.ax.q_ticks[i])}</text>')  # fmt: skip
        for j in range(p.n_k):
            lv = int(level[i, j])
            fill = "url(#mask)" if lv == -1 else "#fff" if lv == -2 else PALETTE[lv]
            out.append(
                f'<rect x="{x0 + j * cell:.1f}" y="{top:.1f}" width="{cell + 0.3:.1f}" '
                f'height="{row_h + 0.3:.1f}" fill="{fill}"><title>{xml_label(p.ax.q_hover[i])} · key '
                f"{xml_label(p.ax.k_hover[j])}: {value[i][j]}</title></rect>"
            )
    for j, t in enumerate(p.ax.k_ticks):
        cx, ty = x0 + (j + 0.5) * cell, y0 + grid_h + 4
        out.append(f'<text transform="translate({cx:.1f},{ty:.1f}) rotate(-90)" text-anchor="end" '
                   f'dominant-baseline="central">{xml_label(t)}</text>')  # fmt: skip
    out.append(f'<text x="{x0 + grid_w / 2:.1f}" y="{g.height - f * 0.6:.1f}" text-anchor="middle">'
               f"{xml(p.ax.x_title)}</text>")  # fmt: skip
    out.append(f'<text transform="translate({f * 1.1:.1f},{y0 + grid_h / 2:.1f}) rotate(-90)" '
               f'text-anchor="middle">{xml(p.ax.y_title)}</text>')  # fmt: skip
    bx = x0 + grid_w + 10
    out.append(f'<text x="{bx:.1f}" y="{y0 - 4:.1f}">{xml(p.scale_title)}</text>'
               f'<rect x="{bx:.1f}" y="{y0 + f * 0.6:.1f}" width="{BAR_PX}" height="{grid_h - f * 1.2:.1f}" '
               'fill="url(#bar)"/>')  # fmt: skip
    for i in range(TICKS):
        ty = y0 + grid_h - f * 0.6 - (grid_h - f * 1.2) * i / (TICKS - 1)
        out.append(f'<text x="{bx + BAR_PX + 3:.1f}" y="{ty:.1f}" dominant-baseline="central">'
                   f"{tick(p.zmax * i / (TICKS - 1))}</text>")  # fmt: skip
    out.append("</svg>")
    return "".join(out)


@lru_cache(maxsize=16)
def _font(px: int):
    from PIL import ImageFont  # installed with streamlit; only the PNG needs it

    for name in FONTS:
        try:
            return ImageFont.truetype(name, px)
        except OSError:
            continue
    return ImageFont.load_default(px)


def attention_png(m: AttentionMap, *args, scale: int = 2, **kwargs) -> bytes:
    """One head's `AttentionMap` (or `attention_map`'s arguments) as PNG bytes, `scale` × the SVG's size
    (2: sharp on a projector), drawn from the same layout as `attention_svg`."""
    from PIL import Image, ImageDraw

    p = as_map(m, args, kwargs)
    g = file_layout(p)
    s = float(scale)
    f, x0, y0, cell, row_h = g.font * s, g.x0 * s, g.y0 * s, g.cell * s, g.row_h * s
    grid_w, grid_h = cell * p.n_k, row_h * p.n_q
    image = Image.new("RGB", (round(g.width * s), round(g.height * s)), "white")
    draw = ImageDraw.Draw(image)
    text, small, big = "#262730", _font(round(f)), _font(round(f * 1.3))

    def hatched(w: int, h: int) -> Image.Image:
        """The causal mask's grey with 45° lines, as the SVG's pattern."""
        tile = Image.new("RGB", (max(1, w), max(1, h)), MASK_GREY)
        lines, step, k = ImageDraw.Draw(tile), 6 * s, -max(1, h)
        while k < tile.width:  # Pillow clips each line to the tile
            lines.line([(k, tile.height), (k + tile.height, 0)], fill=MASK_LINE, width=max(1, round(s)))
            k += step
        return tile

    def upright(label: str, cx: float, top: float) -> None:
        """A key label turned 90°, reading upwards, its end at `top` (under the cells)."""
        box = draw.textbbox((0, 0), label, font=small)
        w = max(1, box[2] - box[0])
        tile = Image.new("RGBA", (w + 2, round(f * 1.6)), (255, 255, 255, 0))  # room for "▁" under the line
        ImageDraw.Draw(tile).text((1 - box[0], round(f * 0.8)), label, font=small, fill=text, anchor="lm")
        turned = tile.rotate(90, expand=True)
        image.paste(turned, (round(cx - turned.width / 2), round(top)), turned)

    draw.text((10 * s, f * 1.5), p.title, font=big, fill=text, anchor="ls")
    for n, line in enumerate(g.lines, 1):
        draw.text((10 * s, f * 1.5 + n * f * 1.3), line, font=small, fill="#555555", anchor="ls")
    if g.legend_y is not None:
        y = g.legend_y * s
        image.paste(hatched(round(f * 1.6), round(f)), (round(10 * s), round(y - f)))
        draw.text((10 * s + f * 2, y - s), MASK_LEGEND, font=small, fill=text, anchor="ls")
    gx, gy = round(x0), round(y0)
    where = Image.new("L", (round(x0 + grid_w) - gx + 1, round(y0 + grid_h) - gy + 1), 0)  # masked cells
    masked, level = ImageDraw.Draw(where), levels(p, LEVELS)
    for i in range(p.n_q):
        top = y0 + i * row_h
        if i % p.step == 0:
            label = html.unescape(p.ax.q_ticks[i])
            draw.text((x0 - 4 * s, top + row_h / 2), label, font=small, fill=text, anchor="rm")
        y_a, y_b = round(top), round(top + row_h)  # whole pixels, so no seam shows between cells
        for j in range(p.n_k):
            lv, x_a, x_b = int(level[i, j]), round(x0 + j * cell), round(x0 + (j + 1) * cell)
            if lv == -1:  # masked: hatched below, one pattern over the whole grid as in the SVG
                masked.rectangle([x_a - gx, y_a - gy, x_b - 1 - gx, y_b - 1 - gy], fill=255)
            else:
                colour = "#ffffff" if lv == -2 else PALETTE[lv]
                draw.rectangle([x_a, y_a, x_b - 1, y_b - 1], fill=colour)
    if p.masked:
        image.paste(hatched(*where.size), (gx, gy), where)
    for j, t in enumerate(p.ax.k_ticks):
        upright(html.unescape(t), x0 + (j + 0.5) * cell, y0 + grid_h + 4 * s)
    draw.text((x0 + grid_w / 2, g.height * s - f * 0.6), p.ax.x_title, font=small, fill=text, anchor="ms")
    size = (round(draw.textlength(p.ax.y_title, font=small)) + 4, round(f * 1.4))
    tile = Image.new("RGBA", size, (255, 255, 255, 0))
    ImageDraw.Draw(tile).text((2, round(f * 0.7)), p.ax.y_title, font=small, fill=text, anchor="lm")
    turned = tile.rotate(90, expand=True)
    image.paste(turned, (round(f * 0.4), round(y0 + grid_h / 2 - turned.height / 2)), turned)
    bx, top, bottom = x0 + grid_w + 10 * s, y0 + f * 0.6, y0 + grid_h - f * 0.6
    draw.text((bx, y0 - 4 * s), p.scale_title, font=small, fill=text, anchor="ls")
    n = max(1, round(bottom - top))
    for k in range(n):  # the gradient, a line of pixels at a time
        colour = PALETTE[round((1 - k / max(n - 1, 1)) * (len(PALETTE) - 1))]
        draw.line([(bx, top + k), (bx + BAR_PX * s, top + k)], fill=colour)
    for i in range(TICKS):
        ty = bottom - (bottom - top) * i / (TICKS - 1)
        label = tick(p.zmax * i / (TICKS - 1))
        draw.text((bx + (BAR_PX + 3) * s, ty), label, font=small, fill=text, anchor="lm")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()
