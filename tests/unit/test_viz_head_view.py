"""viz.head_view: one layer's attention (heads, q_len, k_len) -> an SVG string whose hover is CSS only.

The SVG is parsed as XML here (a file saved for slides must be well-formed): its lines, labels and
style rules are read back as a browser would find them. tests/browser/test_browser.py hovers it in Chromium.
"""

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import viz
from viz.head_view import DIM, GAP, MIN_FONT, PAGE_POLICY, PALETTE, head_view, svg_page, svg_size

NS = {"s": "http://www.w3.org/2000/svg"}
SRC = ["▁The", "▁house", "▁is", "▁old", ".", "</s>"]
TGT = ["<s>", "▁Das", "▁Haus", "▁ist", "▁alt"]
PREDICTED = ["▁Das", "▁Haus", "▁ist", "▁alt", "</s>"]


def attention(n_heads, n_q, n_k, seed=0) -> np.ndarray:
    """Softmaxed random scores, (heads, n_q, n_k): rows sum to 1, a few weights large, most small."""
    e = np.exp(np.random.default_rng(seed).normal(size=(n_heads, n_q, n_k)) * 2)
    return e / e.sum(-1, keepdims=True)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def lines(root: ET.Element) -> dict[tuple[int, int, int], ET.Element]:
    """Every line by (head, query position, key position)."""
    found = {}
    for group in root.iterfind(".//s:g[@class='lines']/s:g", NS):
        head = int(group.get("class").split()[1][1:])  # "h h2" -> 2
        for path in group.iterfind("s:path", NS):
            q, k = (int(c[1:]) for c in path.get("class").split())  # "q3 k5"
            found[head, q, k] = path
    return found


def tokens(root: ET.Element, side: str) -> dict[int, ET.Element]:
    """The label groups of one side ("q" or "k") by position."""
    out = {}
    for g in root.iterfind(".//s:g", NS):
        cls = (g.get("class") or "").split()
        if cls[:1] == ["tok"] and cls[1].startswith(f"t{side}"):
            out[int(cls[1][2:])] = g
    return out


def label_texts(root: ET.Element, side: str) -> list[str]:
    return [g.find("s:text", NS).text for _, g in sorted(tokens(root, side).items())]


def line_span(root: ET.Element) -> tuple[float, float]:
    """(x where the lines start, x where they end), read from the paths' "M x1 y1 L x2 y2"."""
    xs = {
        (float(m[0]), float(m[2]))
        for p in root.iterfind(".//s:g[@class='lines']//s:path", NS)
        for m in [re.findall(r"[-\d.]+", p.get("d"))]
    }
    assert len(xs) == 1, xs  # every line spans the same two x
    return xs.pop()


# --- lines ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("heads", [None, [2, 0]])
def test_every_weight_above_the_threshold_is_one_line_whose_opacity_is_the_weight(heads):
    w = attention(3, len(TGT), len(SRC))
    root = parse(head_view(w, TGT, SRC, kind="cross", layer=1, heads=heads, threshold=0.05))
    drawn = lines(root)
    chosen = [0, 1, 2] if heads is None else heads
    expected = {(h, q, k) for h in chosen for q, k in zip(*np.nonzero(w[h] >= 0.05), strict=True)}
    assert set(drawn) == expected and len(expected) > 10
    for (h, q, k), path in drawn.items():
        assert float(path.get("stroke-opacity")) == pytest.approx(w[h, q, k], abs=5e-4)
        assert float(path.get("stroke-width")) == pytest.approx(1 + 3 * w[h, q, k], abs=0.05)


def test_a_stronger_weight_draws_a_more_opaque_and_wider_line():
    w = np.array([[[0.05, 0.2, 0.75]]])
    drawn = lines(parse(head_view(w, ["a"], ["x", "y", "z"], kind="cross", layer=0)))
    looks = [
        (float(drawn[0, 0, k].get("stroke-opacity")), float(drawn[0, 0, k].get("stroke-width")))
        for k in range(3)
    ]
    assert looks == sorted(looks) and looks[0][0] == 0.05 and looks[2][0] == 0.75


def test_weights_below_the_threshold_get_no_line():
    w = attention(2, 4, 4)
    assert lines(parse(head_view(w, SRC[:4], SRC[:4], kind="encoder", threshold=1.01))) == {}


@pytest.mark.parametrize("heads", [[0, 1, 2, 3], [3, 1]])
def test_each_head_keeps_its_own_colour_in_the_lines_and_the_key(heads):
    root = parse(head_view(attention(4, 5, 5), SRC[:5], SRC[:5], kind="encoder", heads=heads))
    strokes = {g.get("class"): g.get("stroke") for g in root.iterfind(".//s:g[@class='lines']/s:g", NS)}
    assert strokes == {f"h h{h}": PALETTE[h] for h in heads}
    key = [t.text for t in root.iterfind(".//s:g[@class='key']//s:text", NS)]
    assert key == [f"head {h}" for h in heads]


def test_unknown_heads_and_wrong_shapes_are_refused():
    w = attention(2, 3, 3)
    with pytest.raises(ValueError, match="heads"):
        head_view(w, SRC[:3], SRC[:3], heads=[5])
    with pytest.raises(ValueError, match=r"\(heads, q_len, k_len\)"):
        head_view(w[0], SRC[:3], SRC[:3])


# --- labels --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rows, first",
    [("read", ["<s>", "▁Das"]), ("predicted", ["▁Das", "▁Haus"]), ("both", ["<s> → ▁Das", "▁Das → ▁Haus"])],
)
def test_decoder_rows_are_labelled_as_the_row_label_mode_says(rows, first):
    root = parse(head_view(attention(1, 5, 6), TGT, SRC, kind="cross", rows=rows))
    assert label_texts(root, "q")[:2] == first
    assert label_texts(root, "k") == SRC  # keys are always the piece at their position
    assert viz.labels.query_title("cross", rows) in "".join(t.text for t in root.iterfind("s:text", NS))


def test_hidden_special_pieces_have_neither_a_label_nor_a_line():
    shown = viz.hide_specials(attention(2, 5, 6), TGT, SRC, kind="cross")  # predicted: the </s> row goes
    root = parse(head_view(shown.weights, TGT, SRC, kind="cross", q_pos=shown.q_pos, k_pos=shown.k_pos))
    assert label_texts(root, "q") == PREDICTED[:-1]
    assert label_texts(root, "k") == SRC[:-1]
    assert {q for _, q, _ in lines(root)} <= {0, 1, 2, 3} and {k for *_, k in lines(root)} <= {0, 1, 2, 3, 4}
    assert "</s>" not in "".join(label_texts(root, "q") + label_texts(root, "k"))


def test_labels_sit_outside_the_lines_span():
    """Query labels (and the boxes that take the hover) end left of where the lines start, key labels
    begin right of where they end: no label ever sits on a line."""
    root = parse(head_view(attention(2, 6, 6), SRC, SRC, kind="encoder", font_size=12))
    x1, x2 = line_span(root)
    gap = GAP * 12
    for side, anchor in (("q", "end"), ("k", "start")):
        for g in tokens(root, side).values():
            text, box = g.find("s:text", NS), g.find("s:rect", NS)
            left, right = float(box.get("x")), float(box.get("x")) + float(box.get("width"))
            assert text.get("text-anchor") == anchor
            if side == "q":
                assert (
                    float(text.get("x")) <= x1 - gap + 0.1 and right < x1
                )  # 0.1: coordinates keep one decimal
            else:
                assert float(text.get("x")) >= x2 + gap - 0.1 and left > x2


def test_128_pieces_keep_every_label_at_a_readable_size():
    """Every row keeps its label at 12 px or more, one row at least a font size below the last: the
    figure grows to about 2,000 px instead of thinning or shrinking its labels."""
    pieces = [f"▁w{i}" for i in range(128)]
    svg = head_view(attention(4, 128, 128), pieces, pieces, kind="encoder", font_size=12)
    root = parse(svg)
    assert label_texts(root, "q") == pieces and label_texts(root, "k") == pieces
    assert float(root.get("font-size")) == 12
    ys = [float(g.find("s:text", NS).get("y")) for _, g in sorted(tokens(root, "q").items())]
    assert min(np.diff(ys)) >= 12 * 1.2
    assert svg_size(svg)[1] >= 128 * 12 * 1.2 and len(svg) < 2_000_000
    tiny = parse(head_view(attention(1, 3, 3), pieces[:3], pieces[:3], font_size=6))
    assert float(tiny.get("font-size")) == MIN_FONT  # never below a readable size


def test_a_long_piece_is_cut_in_its_label_and_whole_in_its_tooltip():
    long = "▁" + "x" * 60
    root = parse(head_view(attention(1, 2, 2), [long, "▁a"], [long, "▁a"], kind="encoder"))
    label = tokens(root, "q")[0]
    assert label.find("s:text", NS).text.endswith("…") and len(label.find("s:text", NS).text) < 30
    assert long in label.find("s:title", NS).text


def test_a_piece_tooltip_names_its_strongest_keys_per_head():
    w = np.zeros((2, 2, 3))
    w[:, :, 2] = 1.0
    root = parse(head_view(w, ["a", "b"], ["x", "y", "z"], kind="cross", rows="read"))
    tip = tokens(root, "q")[0].find("s:title", NS).text
    assert "head 0 reads z 1.00" in tip and "head 1 reads z 1.00" in tip


# --- hover and focus: CSS only -------------------------------------------------------------------


def test_hovering_or_focusing_any_piece_or_head_dims_every_other_line():
    """One rule per query piece, key piece and head: "hovered (or, with nothing hovered, focused):
    every line not of it at DIM". Every piece and head takes the keyboard focus (tabindex)."""
    root = parse(head_view(attention(2, 5, 6), TGT, SRC, kind="cross", heads=[0, 1]))
    css = root.find("s:style", NS).text
    uid = root.get("id")
    for pos, cls in [(p, f"tq{p}") for p in range(5)] + [(p, f"tk{p}") for p in range(6)]:
        sel = f"path:not(.{cls[1]}{pos})"
        assert f"#{uid}:has(.{cls}:hover) .lines {sel}" in css
        assert f":has(.{cls}:focus) .lines {sel}" in css
    for h in (0, 1):
        assert f"#{uid}:has(.hk{h}:hover) .lines .h:not(.h{h})" in css
    assert css.endswith(f"{{opacity:{DIM}}}")
    focusable = [g for g in root.iterfind(".//s:g", NS) if g.get("tabindex") == "0"]
    assert len(focusable) == 5 + 6 + 2
    assert "<script" not in ET.tostring(root, encoding="unicode")


def test_the_same_view_gives_the_same_svg_and_another_view_another_id():
    w = attention(2, 4, 4)
    a, b = (head_view(w, SRC[:4], SRC[:4], kind="encoder") for _ in range(2))
    assert a == b  # built once, shared by everyone who shows it
    assert parse(head_view(w, SRC[:4], SRC[:4], kind="encoder", heads=[1])).get("id") != parse(a).get("id")


# --- user text ------------------------------------------------------------------------------------

EVIL = ["<script>x()</script>", "&amp;", '"><img src=x>', "a\x00b"]  # each short enough to be whole


def test_html_in_pieces_title_and_subtitle_is_text():
    """Pieces are user text: the SVG is well-formed XML whose labels are the pieces as written, and no
    tag made of them exists (an XML control character becomes �)."""
    svg = head_view(attention(1, 4, 4), EVIL, EVIL, kind="encoder", title="<b>t</b>", subtitle="“<i>s</i>”")
    root = parse(svg)
    assert label_texts(root, "q") == EVIL[:3] + ["a\ufffdb"]
    assert label_texts(root, "k") == EVIL[:3] + ["a\ufffdb"]
    assert "<script" not in svg and "<img" not in svg and "<b>" not in svg and "<i>" not in svg
    assert {e.tag.split("}")[1] for e in root.iter()} <= {
        "svg",
        "title",
        "style",
        "rect",
        "text",
        "g",
        "path",
    }
    texts = [t.text for t in root.iterfind("s:text", NS)]
    assert texts[:2] == ["<b>t</b>", "“<i>s</i>”"]


def test_the_page_runs_no_script_and_fetches_nothing():
    """svg_page: the SVG under a Content-Security-Policy, before anything else in the page, that allows
    inline CSS only."""
    svg = head_view(attention(1, 4, 4), EVIL, EVIL, kind="encoder")
    page = svg_page(svg)
    assert PAGE_POLICY == "default-src 'none'; style-src 'unsafe-inline'"
    policy = page.index(f'http-equiv="Content-Security-Policy" content="{PAGE_POLICY}"')
    assert policy < page.index("<style>") < page.index("<svg")
    assert page.endswith(f"<body>{svg}</body></html>")
    assert svg_size(page) == svg_size(svg) == (int(parse(svg).get("width")), int(parse(svg).get("height")))
