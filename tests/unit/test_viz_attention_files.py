"""viz.attention_files: the Attention view's heatmap as a file for slides, SVG (vector) or PNG (Pillow).

The SVG must hold the HTML figure's labels, one named cell per weight and token text only as text. The PNG
is read back pixel by pixel: it is `scale` × the SVG's size (one layout, `file_layout`), each cell's centre is
the colour of its level on the Blues palette (`viz.attention_html.PALETTE`), the causal mask is hatched
grey and never blue, and hostile or non-Latin pieces never break it. (Bad input is refused alike by the
HTML, SVG and PNG: tests/unit/test_viz_attention_html.py.)
"""

from __future__ import annotations

import io
import re
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from tests.support.heatmap_reader import read_heatmap
from tests.support.heatmap_samples import AS_SHOWN, HOSTILE, SRC, TGT, weights
from viz.attention import MASK_LEGEND
from viz.attention_files import MASK_GREY, MASK_LINE, attention_png, attention_svg, file_layout
from viz.attention_html import BAR_PX, attention_html
from viz.heatmap import attention_map, levels
from viz.style import LEVELS, PALETTE

SVG = "{http://www.w3.org/2000/svg}"
DEFAULTS = {"kind": None, "layer": None, "head": None, "rows": None, "q_pos": None, "k_pos": None,
            "title": None, "zmax": 1.0, "font_size": 12}  # fmt: skip


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))


def png_pixels(data: bytes) -> np.ndarray:
    """The PNG as an (h, w, 3) array, after checking it is an RGB PNG."""
    image = Image.open(io.BytesIO(data))
    assert (image.format, image.mode) == ("PNG", "RGB")
    return np.asarray(image)


def svg_size(svg: str) -> tuple[float, float]:
    root = ET.fromstring(svg)
    return float(root.get("width")), float(root.get("height"))


class Drawn:
    """One heatmap drawn as a PNG, with its `attention_map` and `file_layout` to find each cell in the pixels."""

    def __init__(self, w, q, k, *, scale: int = 2, subtitle: str = "", **kw) -> None:
        args = {**DEFAULTS, **kw}
        self.scale = scale
        self.p = attention_map(w, q, k, subtitle=subtitle, **args)
        self.g = file_layout(self.p)
        self.level = levels(self.p, LEVELS)
        self.pixels = png_pixels(attention_png(w, q, k, scale=scale, subtitle=subtitle, **kw))

    def centre(self, i: int, j: int) -> tuple[int, ...]:
        g, s = self.g, self.scale
        x, y = (g.x0 + (j + 0.5) * g.cell) * s, (g.y0 + (i + 0.5) * g.row_h) * s
        return tuple(int(c) for c in self.pixels[int(y), int(x)])

    def cell(self, i: int, j: int, inset: int = 2) -> np.ndarray:
        """Every pixel of cell (i, j) but an `inset`-px border (where the neighbours' edges round), (n, 3)."""
        g, s = self.g, self.scale
        x_a, x_b = round((g.x0 + j * g.cell) * s), round((g.x0 + (j + 1) * g.cell) * s)
        y_a, y_b = round((g.y0 + i * g.row_h) * s), round((g.y0 + (i + 1) * g.row_h) * s)
        return self.pixels[y_a + inset : y_b - inset, x_a + inset : x_b - inset].reshape(-1, 3)


# --- SVG -------------------------------------------------------------------------------------------------


def test_hostile_pieces_appear_only_as_text_in_the_svg():
    n = len(HOSTILE)
    svg = attention_svg(weights(n, n), HOSTILE, HOSTILE, kind="encoder", title="<script>t</script>",
                        subtitle="<img src=y onerror=alert(2)>")  # fmt: skip
    svg.encode("utf-8")
    root = ET.fromstring(svg)  # well-formed XML: controls and surrogates were replaced
    names = {el.tag.removeprefix(SVG) for el in root.iter()}
    assert names <= {"svg", "title", "defs", "pattern", "rect", "linearGradient", "stop", "text"}, names
    assert not names & {"script", "foreignObject", "image", "a", "use"}
    assert not any(a.startswith("on") or "href" in a for el in root.iter() for a in el.attrib)
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert set(AS_SHOWN) <= set(texts)
    assert "<script>t</script>" in texts and root.find(f"{SVG}title").text == "<script>t</script>"
    assert "<img src=y onerror=alert(2)>" in texts


def test_the_svg_has_the_html_figures_labels_and_one_cell_per_weight():
    w = weights(5, 5, kind="decoder")
    hm = read_heatmap(attention_html(w, TGT, TGT, kind="decoder", layer=0, head=3, subtitle="“x”"))
    root = ET.fromstring(attention_svg(w, TGT, TGT, kind="decoder", layer=0, head=3, subtitle="“x”"))
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert root.find(f"{SVG}title").text == hm.title and hm.title in texts and "“x”" in texts
    assert hm.y_title in texts and hm.x_title in texts and MASK_LEGEND in texts
    assert set(hm.y_shown) <= set(texts) and set(hm.x_labels) <= set(texts)
    cells = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert len(cells) == w.size
    tips = [c.find(f"{SVG}title").text for c in cells]
    assert tips[1].endswith(": masked") and tips[0].endswith(f": {w[0, 0]:.3f}")
    assert cells[1].get("fill") == "url(#mask)"


def test_the_svg_cells_sit_where_the_layout_says_in_their_levels_colour():
    """The PNG tests below find cells through `file_layout`; the SVG must put them at the same place."""
    w = weights(6, 6, seed=4)
    p = attention_map(w, SRC, SRC, **{**DEFAULTS, "kind": "encoder"}, subtitle="“x”")
    g, level = file_layout(p), levels(p, LEVELS)
    root = ET.fromstring(attention_svg(w, SRC, SRC, kind="encoder", subtitle="“x”"))
    assert svg_size(ET.tostring(root, encoding="unicode")) == pytest.approx((g.width, g.height), abs=0.05)
    cells = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    for n, rect in enumerate(cells):
        i, j = divmod(n, p.n_k)
        assert float(rect.get("x")) == pytest.approx(g.x0 + j * g.cell, abs=0.05)
        assert float(rect.get("y")) == pytest.approx(g.y0 + i * g.row_h, abs=0.05)
        assert rect.get("fill") == PALETTE[level[i, j]]


# --- PNG: the file and its size --------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [1, 2, 3])
@pytest.mark.parametrize("kind", ["encoder", "decoder", "cross"])
def test_the_png_is_scale_times_the_svgs_size(kind, scale):
    q, k = {"encoder": (SRC, SRC), "decoder": (TGT, TGT), "cross": (TGT, SRC)}[kind]
    w = weights(len(q), len(k), kind=kind)
    kw = {"kind": kind, "layer": 1, "head": 2, "subtitle": "“The old man is here, and tired.”"}
    pixels = png_pixels(attention_png(w, q, k, scale=scale, **kw))
    width, height = svg_size(attention_svg(w, q, k, **kw))
    assert abs(pixels.shape[1] - width * scale) <= 1 and abs(pixels.shape[0] - height * scale) <= 1


def test_the_default_scale_is_2():
    w = weights(6, 6)
    assert attention_png(w, SRC, SRC, kind="encoder") == attention_png(w, SRC, SRC, kind="encoder", scale=2)
    assert png_pixels(attention_png(w, SRC, SRC, kind="encoder")).shape[1] >= 2 * 12 * 1.6 * 6  # readable


# --- PNG: colours ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [1, 2])
def test_every_cells_centre_is_its_levels_colour_darkest_and_lightest_included(scale):
    w = weights(6, 6, seed=8).astype(np.float64)
    w[0] = [1.0, 0, 0, 0, 0, 0]  # the darkest (level 63) and the lightest (level 0)
    w[3, 2] = 0.5  # the middle of the scale
    d = Drawn(w, SRC, SRC, kind="encoder", scale=scale, subtitle="“x”")
    assert d.level[0, 0] == LEVELS - 1 and d.level[0, 1] == 0 and d.level[3, 2] in (31, 32)
    for i in range(6):
        for j in range(6):
            assert d.centre(i, j) == rgb(PALETTE[d.level[i, j]]), (i, j, d.level[i, j])
    assert d.centre(0, 0) == rgb("#08306b") and d.centre(0, 1) == rgb("#f7fbff")
    assert {tuple(c) for c in d.cell(0, 0)} == {rgb(PALETTE[-1])}  # a cell is one colour edge to edge


def test_the_decoders_masked_cells_are_hatched_grey_never_blue():
    w = weights(5, 5, kind="decoder", seed=2)
    d = Drawn(w, TGT, TGT, kind="decoder", layer=0, head=1)
    future = np.triu(np.ones((5, 5), dtype=bool), 1)
    np.testing.assert_array_equal(d.level == -1, future)
    seen: set[tuple] = set()
    for i, j in zip(*np.nonzero(future), strict=True):
        colours = {tuple(int(v) for v in c) for c in d.cell(i, j)}
        assert colours <= {MASK_GREY, MASK_LINE}, (i, j, colours - {MASK_GREY, MASK_LINE})
        assert d.centre(i, j) in (MASK_GREY, MASK_LINE)
        seen |= colours
    assert seen == {MASK_GREY, MASK_LINE}  # hatched: grey and its lines
    for i, j in zip(*np.nonzero(~future), strict=True):
        assert d.centre(i, j) == rgb(PALETTE[d.level[i, j]])


def test_a_weight_not_captured_is_white():
    w = weights(6, 6).astype(np.float64)
    w[2, 3] = np.nan
    d = Drawn(w, SRC, SRC, kind="encoder")
    assert d.level[2, 3] == -2 and {tuple(c) for c in d.cell(2, 3)} == {(255, 255, 255)}
    assert d.centre(2, 4) == rgb(PALETTE[d.level[2, 4]])


def test_zmax_none_makes_the_largest_weight_the_darkest():
    w = weights(6, 6, seed=6) * np.float32(0.5)
    i, j = np.unravel_index(w.argmax(), w.shape)
    fixed, auto = Drawn(w, SRC, SRC, kind="encoder"), Drawn(w, SRC, SRC, kind="encoder", zmax=None)
    assert fixed.centre(i, j) != rgb(PALETTE[-1])  # on a 0 – 1 scale half a weight is not the darkest
    assert auto.centre(i, j) == rgb(PALETTE[-1])
    for a in range(6):
        for b in range(6):
            assert auto.centre(a, b) == rgb(PALETTE[auto.level[a, b]])


def test_the_colour_bar_runs_from_the_darkest_at_the_top_to_the_lightest():
    d = Drawn(weights(6, 6), SRC, SRC, kind="encoder")
    g, s = d.g, d.scale
    x = int((g.x0 + g.cell * d.p.n_k + 10 + BAR_PX / 2) * s)
    top, bottom = (g.y0 + g.font * 0.6) * s, (g.y0 + g.row_h * d.p.n_q - g.font * 0.6) * s
    assert tuple(d.pixels[int(top) + 2, x]) == rgb(PALETTE[-1])
    assert tuple(d.pixels[int(bottom) - 2, x]) == rgb(PALETTE[0])


def test_labels_and_titles_are_drawn():
    """Ink (the text colour's dark pixels) left of every labelled row, under every key and in the title."""
    d = Drawn(weights(6, 6), SRC, SRC, kind="encoder", subtitle="“The old man”")
    g, s, dark = d.g, d.scale, d.pixels.max(axis=2) < 120
    left, right = int(g.font * 1.8 * s) + 2, int(g.x0 * s) - 2  # right of the axis title, left of the cells
    for i in range(d.p.n_q):
        band = dark[int((g.y0 + i * g.row_h) * s) : int((g.y0 + (i + 1) * g.row_h) * s), left:right]
        assert band.any(), f"row {i} has no label"
    under = int((g.y0 + g.row_h * d.p.n_q) * s) + 2
    for j in range(d.p.n_k):
        x_a, x_b = int((g.x0 + j * g.cell) * s), int((g.x0 + (j + 1) * g.cell) * s)
        column = dark[under : under + int(d.p.label_px * s), x_a:x_b]
        assert column.any(), f"key {j} has no label"
    assert dark[: int(g.y0 * s) - 4].any()  # the title


# --- PNG: hostile pieces, long inputs --------------------------------------------------------------------

PIECES = ["<script>alert(1)</script>", "a&b", "\ud800", "日本語", "🙂"]


@pytest.mark.parametrize("kind, rows", [("encoder", None), ("cross", "both"), ("decoder", "read")])
def test_hostile_and_non_latin_pieces_do_not_break_the_png(kind, rows):
    for pieces in (PIECES, HOSTILE):
        n = len(pieces)
        d = Drawn(weights(n, n, kind=kind), pieces, pieces, kind=kind, rows=rows,
                  title="<script>t</script> \ud800 🙂", subtitle="“日本語 🙂 \ud800 a&b”")  # fmt: skip
        for i in range(n):
            for j in range(n):
                lv = d.level[i, j]
                assert d.centre(i, j) in ((MASK_GREY, MASK_LINE) if lv == -1 else (rgb(PALETTE[lv]),))


def test_a_128_piece_png_is_drawn_and_grows_with_the_sentence():
    sizes = {}
    for n in (16, 128):
        pieces = [f"▁w{i}" for i in range(n - 1)] + ["</s>"]
        w = weights(n, n, seed=7)
        start = time.perf_counter()
        data = attention_png(w, pieces, pieces, kind="encoder")
        took = time.perf_counter() - start
        sizes[n] = png_pixels(data).shape[:2]
        assert took < 30, f"{n} pieces took {took:.1f} s"  # ~1 s here; only a hang or a blow-up fails
    assert sizes[128][0] > sizes[16][0] and sizes[128][1] > sizes[16][1]
    d = Drawn(weights(128, 128, seed=7), [f"▁w{i}" for i in range(128)], [f"▁w{i}" for i in range(128)],
              kind="encoder")  # fmt: skip
    for i, j in ((0, 0), (64, 3), (127, 127)):
        assert d.centre(i, j) == rgb(PALETTE[d.level[i, j]])


def test_the_svg_and_png_are_the_same_layout_for_a_long_subtitle():
    """A subtitle wrapped over several lines moves the cells down alike in both."""
    w, long = weights(6, 6), "“" + " ".join(["word"] * 80) + "”"
    svg = attention_svg(w, SRC, SRC, kind="encoder", subtitle=long)
    assert len(re.findall(r'fill="#555"', svg)) >= 2  # wrapped
    d = Drawn(w, SRC, SRC, kind="encoder", subtitle=long)
    width, height = svg_size(svg)
    assert abs(d.pixels.shape[1] - 2 * width) <= 1 and abs(d.pixels.shape[0] - 2 * height) <= 1
    assert d.centre(0, 0) == rgb(PALETTE[d.level[0, 0]])
