"""viz.attention_html: one head's attention as a script-free HTML heatmap. Read back with
tests/support/heatmap_reader.py, the way a browser is given it. (The same figure as an SVG or PNG file for slides,
viz.attention_files: tests/unit/test_viz_attention_files.py; bad input is refused alike by all three, here.)

Labels and titles must be the Plotly heatmap's (`viz.attention_heatmap`, which it replaced in the app's
Attention view), weights exact to 3 decimals, the causal mask marked, token text only ever text, colours
on the Blues scale, and long sentences labelled every k-th row without losing a row.
"""

from __future__ import annotations

import html
import math
import re
from html.parser import HTMLParser

import numpy as np
import pytest

import viz
from tests.support.heatmap_reader import read_heatmap
from tests.support.heatmap_samples import AS_SHOWN, HOSTILE, SRC, TGT, weights
from viz.attention_files import attention_png, attention_svg
from viz.attention_html import attention_html
from viz.heatmap import HEIGHT_MAX, LABEL_PITCH, MASK_LEGEND, ROW_PITCH, attention_map
from viz.style import BLUES, LEVELS, PALETTE, blues

SIDES = {"encoder": (SRC, SRC), "decoder": (TGT, TGT), "cross": (TGT, SRC)}
ROWS = ["read", "predicted", "both", None]


def both(w, q, k, **kw):
    """The HTML heatmap (read back) and the Plotly figure of the same inputs."""
    return read_heatmap(attention_html(w, q, k, **kw)), viz.attention_heatmap(w, q, k, **kw)


class Tags(HTMLParser):
    """Every start tag's name, every attribute name, and the classes of the cells (<i> in a row) in order."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attrs: set[str] = set()
        self.cells: list[str] = []
        self.ticks: list[str] = []  # the colour bar's tick labels
        self._in_bar = self._in_tick = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        self.attrs.update(a)
        if tag == "i" and "data-v" in a:
            self.cells.append(a["class"])
        if a.get("class") == "g":
            self._in_bar = True
        elif self._in_bar and tag == "span":
            self._in_tick = True
            self.ticks.append("")

    def handle_endtag(self, tag):
        if self._in_tick:
            self._in_tick = False
        elif self._in_bar and tag == "div":
            self._in_bar = False

    def handle_data(self, data):
        if self._in_tick:
            self.ticks[-1] += data


def levels(text: str, shape: tuple[int, int]) -> np.ndarray:
    """Each cell's colour level from its class (q0 … q63); -1 masked (qm), -2 not captured (qn)."""
    named = {"qm": -1, "qn": -2}
    cells = Tags(text).cells
    return np.array([named[c] if c in named else int(c[1:]) for c in cells]).reshape(shape)


# --- (a) labels and titles: the Plotly heatmap's -------------------------------------------------------


@pytest.mark.parametrize("hide", [False, True], ids=["all", "specials_hidden"])
@pytest.mark.parametrize("rows", ROWS)
@pytest.mark.parametrize("kind", list(SIDES))
def test_labels_and_titles_are_the_plotly_heatmaps(kind, rows, hide):
    q, k = SIDES[kind]
    w, q_pos, k_pos = weights(len(q), len(k), kind=kind), None, None
    if hide:
        w, q_pos, k_pos = viz.hide_specials(w, q, k, kind=kind, rows=rows)
        assert w.shape != (len(q), len(k))  # something was hidden
    hm, fig = both(w, q, k, kind=kind, rows=rows, q_pos=q_pos, k_pos=k_pos, layer=1, head=2)
    y, x = fig.layout.yaxis, fig.layout.xaxis
    assert list(y.tickvals) == list(range(w.shape[0]))  # short: Plotly labels every row too
    assert hm.y_labels == hm.y_shown == [html.unescape(t) for t in y.ticktext]
    assert hm.x_labels == [html.unescape(x.labelalias[c]) for c in x.categoryarray]
    assert hm.x_hover == [html.unescape(c) for c in x.categoryarray]  # "3: ▁old"
    assert hm.y_hover == [html.unescape(h) for h in np.asarray(fig.data[0].customdata)[:, 0, 0]]
    assert (
        hm.title
        == html.unescape(fig.layout.title.text)
        == f"{viz.attention.kind_label(kind)} — layer 1, head 2"
    )
    assert hm.y_title == html.unescape(y.title.text) and hm.x_title == html.unescape(x.title.text)
    assert (hm.rows, hm.cols) == w.shape
    assert any("<" in label for label in hm.x_labels)  # markup in a piece is read back as its text


def test_labels_name_the_pieces_each_row_reads_and_predicts():
    """Independently of Plotly: decoder rows by the piece read, predicted (the next; </s> after the last)
    or both; encoder rows are their pieces whatever `rows` says; keys are always the pieces."""
    w = weights(5, 5, kind="decoder")
    by = {
        rows: read_heatmap(attention_html(w, TGT, TGT, kind="decoder", rows=rows)).y_labels
        for rows in ROWS[:3]
    }
    assert by["read"] == TGT
    assert by["predicted"] == [*TGT[1:], "</s>"]
    assert by["both"] == [f"{r} → {p}" for r, p in zip(TGT, [*TGT[1:], "</s>"], strict=True)]
    enc = read_heatmap(attention_html(weights(6, 6), SRC, SRC, kind="encoder", rows="predicted"))
    assert enc.y_labels == enc.x_labels == SRC


def test_title_and_subtitle_are_the_ones_given():
    hm = read_heatmap(attention_html(weights(6, 6), SRC, SRC, kind="encoder", title="Encoder: L0 H1",
                                     subtitle="“The <b>old</b> man”"))  # fmt: skip
    assert (hm.title, hm.subtitle) == ("Encoder: L0 H1", "“The <b>old</b> man”")
    assert read_heatmap(attention_html(weights(6, 6), SRC, SRC)).subtitle == ""  # none unless given


# --- (b) values and the causal mask ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(SIDES))
def test_weights_are_exact_to_3_decimals_and_only_the_decoders_future_is_masked(kind):
    q, k = SIDES[kind]
    w = weights(len(q), len(k), kind=kind, seed=3)
    hm, fig = both(w, q, k, kind=kind)
    future = np.triu(np.ones(w.shape, dtype=bool), 1) if kind == "decoder" else np.zeros(w.shape, dtype=bool)
    np.testing.assert_array_equal(hm.masked, future)
    np.testing.assert_array_equal(np.isnan(hm.z), future)
    np.testing.assert_array_equal(hm.z[~future], np.round(w.astype(np.float64), 3)[~future])
    assert all(v == "masked" for row, m in zip(hm.values, future, strict=True) for v, f in zip(row, m) if f)
    assert all(re.fullmatch(r"[01]\.\d{3}", v) for row in hm.values for v in row if v != "masked")
    np.testing.assert_array_equal(np.isnan(np.asarray(fig.data[0].z, dtype=float)), future)  # Plotly's mask
    assert hm.mask_legend is (kind == "decoder")
    assert (MASK_LEGEND in attention_html(w, q, k, kind=kind)) is (kind == "decoder")


def test_the_mask_follows_the_positions_kept():
    """Specials hidden: the mask is still "key after query" by the original positions."""
    w, q_pos, k_pos = viz.hide_specials(weights(5, 5, kind="decoder"), TGT, TGT, kind="decoder", rows="read")
    hm = read_heatmap(attention_html(w, TGT, TGT, kind="decoder", rows="read", q_pos=q_pos, k_pos=k_pos))
    np.testing.assert_array_equal(hm.masked, k_pos[None, :] > q_pos[:, None])
    assert hm.masked.any() and hm.mask_legend


def test_a_weight_not_captured_is_not_mistaken_for_the_mask_or_a_zero():
    w = weights(6, 6).astype(np.float64)
    w[2, 3] = np.nan
    hm = read_heatmap(attention_html(w, SRC, SRC, kind="encoder"))
    assert hm.values[2][3] == "not captured" and np.isnan(hm.z[2, 3]) and not hm.masked.any()
    assert not hm.mask_legend and levels(attention_html(w, SRC, SRC, kind="encoder"), w.shape)[2, 3] == -2


# --- (c) hostile pieces are text -------------------------------------------------------------------------

ATTRS = {"class", "style", "title", "data-v", "data-rows", "data-cols", "role", "aria-label"}


@pytest.mark.parametrize("kind, rows", [("encoder", None), ("cross", "both"), ("decoder", "read")])
def test_hostile_pieces_appear_only_as_text_in_the_html(kind, rows):
    n = len(HOSTILE)
    out = attention_html(weights(n, n, kind=kind), HOSTILE, HOSTILE, kind=kind, rows=rows,
                         title="<script>t</script>", subtitle="<img src=y onerror=alert(2)>")  # fmt: skip
    out.encode("utf-8")  # sendable: no lone surrogate left
    assert not re.search(r"<\s*(script|img)\b", out, re.I)
    tags = Tags(out)
    assert tags.tags <= {"div", "span", "i", "style"}, tags.tags
    assert tags.attrs <= ATTRS, tags.attrs  # no attribute was broken out of (no src, no onerror)
    assert out.count("<style>") == 1  # only the figure's own
    hm = read_heatmap(out)
    assert hm.x_labels == AS_SHOWN
    assert (
        hm.y_labels
        == read_heatmap(attention_html(weights(n, n), AS_SHOWN, AS_SHOWN, kind=kind, rows=rows)).y_labels
    )
    assert hm.title == "<script>t</script>" and hm.subtitle == "<img src=y onerror=alert(2)>"
    assert all(label in hm.x_hover[j] for j, label in enumerate(AS_SHOWN))


# --- (d) colour ------------------------------------------------------------------------------------------


def test_a_cells_colour_level_is_its_weight_over_the_scale_top_in_63_steps():
    w = weights(6, 6, seed=5)
    out = attention_html(w, SRC, SRC, kind="encoder")  # zmax 1.0: the scale's top is weight 1
    expected = np.rint(w.astype(np.float64) / 1.0 * (LEVELS - 1)).astype(int)
    np.testing.assert_array_equal(levels(out, w.shape), expected)
    assert LEVELS - 1 == 63
    half = attention_html(w, SRC, SRC, kind="encoder", zmax=0.25)  # above the top: the top colour
    np.testing.assert_array_equal(levels(half, w.shape), np.rint(np.clip(w / 0.25, 0, 1) * 63).astype(int))
    assert (levels(half, w.shape) == 63).any()


def test_zmax_none_scales_to_the_largest_weight_and_the_colour_bar_says_so():
    w = weights(6, 6, seed=6) * np.float32(0.5)
    top = float(w.max())
    fixed, auto = (
        attention_html(w, SRC, SRC, kind="encoder"),
        attention_html(w, SRC, SRC, kind="encoder", zmax=None),
    )
    assert levels(fixed, w.shape).max() < 63
    lv = levels(auto, w.shape)
    np.testing.assert_array_equal(lv, np.rint(w.astype(np.float64) / top * 63).astype(int))
    assert lv.max() == 63 and lv[np.unravel_index(w.argmax(), w.shape)] == 63
    assert Tags(fixed).ticks == ["0", "0.25", "0.5", "0.75", "1"]
    ticks = Tags(auto).ticks
    assert ticks[0] == "0" and ticks[-1] == f"{top:.2f}".rstrip("0").rstrip(".") and ticks[-1] != "1"
    assert attention_map(w, SRC, SRC, kind="encoder", zmax=None, font_size=12).zmax == pytest.approx(top)


def test_the_colours_are_plotlys_blues_and_every_level_has_its_rule():
    assert tuple(map(tuple, blues(np.array([0.0, 0.5, 1.0])))) == (BLUES[0], BLUES[4], BLUES[-1])
    assert PALETTE[0] == "#f7fbff" and PALETTE[-1] == "#08306b" and len(PALETTE) == LEVELS
    styles = read_heatmap(attention_html(weights(3, 3), SRC[:3], SRC[:3])).styles
    for i in (0, 31, 63):
        assert f".attn-hm .q{i}{{background:{PALETTE[i]}}}" in styles


# --- (e) long inputs -------------------------------------------------------------------------------------


def test_a_128_piece_heatmap_keeps_every_row_and_labels_every_kth():
    n, font = 128, 12
    pieces = [f"▁w{i}" for i in range(n - 1)] + ["</s>"]
    w = weights(n, n, seed=7)
    out = attention_html(w, pieces, pieces, kind="encoder", font_size=font)
    hm = read_heatmap(out)
    assert (hm.rows, hm.cols) == (n, n) and hm.z.shape == (n, n)
    assert hm.y_labels == hm.x_labels == pieces  # every row and column, thinned or not
    assert n * font * 1.3 > HEIGHT_MAX  # a row per label would pass the height limit
    p = attention_map(w, pieces, pieces, kind="encoder", zmax=1.0, font_size=font)
    k = math.ceil(font * LABEL_PITCH / (HEIGHT_MAX / n))
    assert p.step == k > 1 and p.row_px * n <= HEIGHT_MAX + 1e-6
    assert hm.y_shown == pieces[::k]
    # the key labels: thinned by the figure's width with container queries, never by their number here
    cls = re.search(r'class="attn-hm (hm[^"]+)"', out).group(1)
    assert "container-type:inline-size" in hm.styles
    # widths are calc(px + em) of the figure's own font (a fitted figure shrinks it): read at font px
    width = r"calc\(([\d.]+)px \+ ([\d.]+)em\)"
    rules = re.findall(rf"@container \(width <= {width}\)(?: and \(width > {width}\))?\{{\."
                       + re.escape(cls) + r" \.x>span:not\(:nth-child\((\d+)n\+2\)\)\{visibility:hidden\}\}",
                       hm.styles)  # fmt: skip
    below = [float(b_px) + float(b_em) * font for b_px, b_em, _, _, _ in rules]
    above = [float(a_px) + float(a_em) * font if a_px else None for _, _, a_px, a_em, _ in rules]
    steps = [int(k) for *_, k in rules]
    assert steps[:3] == [2, 3, 4] and steps == list(range(2, len(steps) + 2))
    assert below == sorted(below, reverse=True)  # narrower: sparser
    assert below[0] > n * font * LABEL_PITCH  # all 128 labels need that much width
    # each k applies in a band of widths of its own, the bands touching: two rules never add up (every
    # 2nd and every 3rd hidden together would leave every 6th)
    assert above[-1] is None and all(a is not None for a in above[:-1])
    for k in range(len(steps) - 1):
        assert above[k] == below[k + 1]  # "width > a" ends where the next band's "width <= a" starts
    assert len(out) < 1_000_000  # a 128 × 128 figure stays under 1 MB


def test_a_heatmap_fitted_to_a_height_shrinks_its_one_font_and_sizes_all_else_in_em():
    """fit_height: the root's font is clamp(FIT_FONT_MIN, height / the figure's height in em, font_size), and
    the rows, the title and the key-label bands are in em of that font, so the whole figure scales with it."""
    from viz.attention_html import FIT_FONT_MIN, height_em

    def fitted(n: int) -> tuple[str, float]:
        pieces = [f"▁w{i}" for i in range(n)]
        out = attention_html(weights(n, n), pieces, pieces, kind="encoder", font_size=20, subtitle="“A s.”",
                             fit_height="calc(100vh - 345px)")  # fmt: skip
        found = re.search(
            r'style="font-size:clamp\((\d+)px,calc\(\(calc\(100vh - 345px\)\) / ([\d.]+)\),(\d+)px\)', out
        )
        assert found, out[:400]
        assert int(found.group(1)) == FIT_FONT_MIN and int(found.group(3)) == 20
        return out, float(found.group(2))

    short, short_em = fitted(20)
    long, long_em = fitted(35)
    assert long_em - short_em == pytest.approx(15 * ROW_PITCH)  # 15 more rows, ROW_PITCH em each
    assert 35 * ROW_PITCH < long_em < 35 * ROW_PITCH + 15  # the rows, plus title, key labels and x title
    p = attention_map(weights(35, 35), [f"▁w{i}" for i in range(35)], [f"▁w{i}" for i in range(35)],
                      kind="encoder", zmax=1.0, font_size=20, subtitle="“A s.”")  # fmt: skip
    assert height_em(p) == pytest.approx(long_em, abs=0.01)
    assert f"grid-template-rows:repeat(35,{ROW_PITCH:.4f}em)" in long  # rows in em, not px
    assert '<div class="t" style="font-size:1.3em">' in long
    assert re.search(r"@container \(width <= calc\([\d.]+px \+ [\d.]+em\)\)", long)
    plain = attention_html(weights(5, 5), SRC[:5], SRC[:5], kind="encoder", font_size=20)
    assert 'style="font-size:20px;' in plain and "clamp(" not in plain  # unfitted: the font as given
    # fit_height goes into a style attribute
    for bad in ('100vh" onmouseover="x', "100vh;background:url(x)", "100vh</style>"):
        with pytest.raises(ValueError, match="fit_height must be a CSS length"):
            attention_html(weights(5, 5), SRC[:5], SRC[:5], kind="encoder", fit_height=bad)


def test_a_short_heatmap_labels_every_row():
    pieces = [f"▁w{i}" for i in range(10)]
    hm = read_heatmap(attention_html(weights(10, 10), pieces, pieces, kind="encoder"))
    assert hm.y_shown == hm.y_labels == pieces


# --- (f) shapes and bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("draw", [attention_html, attention_svg, attention_png])
def test_a_3d_array_is_refused_with_a_clear_message(draw):
    with pytest.raises(ValueError, match=r"\(q_len, k_len\).*got shape \(2, 6, 6\)"):
        draw(np.ones((2, 6, 6)), SRC, SRC, kind="encoder")
    with pytest.raises(ValueError, match="got shape"):
        draw(np.ones(6), SRC, SRC, kind="encoder")


@pytest.mark.parametrize("draw", [attention_html, attention_svg, attention_png])
def test_labels_that_do_not_fit_the_weights_are_refused(draw):
    with pytest.raises(ValueError, match="outside the 6 query pieces"):
        draw(np.ones((7, 6)) / 6, SRC, SRC, kind="encoder")  # more rows than pieces
    with pytest.raises(ValueError, match="3 query positions for 4"):
        draw(np.ones((4, 6)) / 6, SRC, SRC, kind="encoder", q_pos=[0, 1, 2])
    with pytest.raises(ValueError, match="kind must be one of"):
        draw(np.ones((6, 6)) / 6, SRC, SRC, kind="self")
    with pytest.raises(ValueError):
        draw(np.ones((5, 5)) / 5, TGT, TGT, kind="decoder", rows="sideways")


FLAT_RULE = re.compile(
    r"@container \(width > calc\((\d+)px \+ ([\d.]+)em\)\)\{\.(hm[\w-]+) \.x>span\{writing-mode:horizontal-tb"
)


def test_key_labels_lie_flat_only_where_every_column_holds_the_longest():
    """Upright key labels by default; a container query lays them flat once the figure is wide enough that every
    column holds the longest label (on the wide side) with room to spare, and never while labels are thinned
    (each column then has at least LABEL_PITCH em)."""
    w = np.full((3, 3), 1 / 3)
    short = attention_html(w, ["a", "b", "c"], ["a", "b", "c"], kind="encoder")
    long = attention_html(w, ["a", "b", "c"], ["a", "b", "▁Bundesverfassungsgericht"], kind="encoder")
    (px_s, em_s, cls_s), (px_l, em_l, cls_l) = (
        FLAT_RULE.search(short).groups(),
        FLAT_RULE.search(long).groups(),
    )
    assert cls_s != cls_l  # each figure's rule applies to its own labels only
    assert px_s == px_l
    label_em = len("▁Bundesverfassungsgericht") * 0.7  # viz.style.WIDE_EM per character
    assert float(em_l) - float(em_s) >= 3 * (label_em - max(0.7 + 0.6, LABEL_PITCH)) - 0.01
    assert float(em_s) >= 3 * LABEL_PITCH  # flat only where no label is thinned away
