"""What a person sees, in a real browser: Playwright drives the system Chromium against `streamlit run app.py`.

UPDATE_SCREENSHOT=1 pytest -m browser tests/browser/test_browser.py  also rewrites docs/screenshot.png.
"""

from __future__ import annotations

import html
import json

import pytest

from tests.support.browser import (
    LONG_SENTENCE,
    PROJECTOR,
    SMALL_SCREEN,
    VIEWPORT,
    app_url,
    decoder_pieces,
    default_model,
    dialogs_dismissed,
    docs_screenshot,
    good_sentence,
    heatmap_rows,
    needs_en_de_default,
    overlapping,
    plot_area,
    save_readme_screenshot,
    sentence_box,
    set_text,
    source_pieces,
    tick_boxes,
    visible_y_ticks,
    wait_for_heatmaps,
    wait_for_link,
    wait_for_y_ticks,
    wait_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EVIL = "<img src=x onerror=alert(1)>"
OLD_MAN = "The old man saw the old dog near the river."  # the sentence of the row-label issue
HEATMAP = ".attn-hm"  # the Attention view's heatmaps (viz.attention_html: HTML and CSS, no Plotly)
HEATMAP_KEYS = ("fig_att_head", "fig_att_mean")  # their containers (class st-key-<key>), head then mean


def test_typed_sentence_redraws_heatmaps_with_one_row_per_piece(app_server, page, tmp_path):
    """Typing a sentence redraws the head and head-mean heatmaps with one row per source piece."""
    page.goto(app_url(app_server, view="attention"))
    page.wait_for_selector(HEATMAP, timeout=90_000)
    text = good_sentence()
    set_text(page, text)
    pieces = source_pieces(text)
    wait_for_heatmaps(page, rows=len(pieces), count=2, labels=pieces)
    assert heatmap_rows(page) == [len(pieces), len(pieces)]
    page.screenshot(path=str(tmp_path / "attention.png"))
    assert (tmp_path / "attention.png").stat().st_size > 10_000
    save_readme_screenshot(page)


@needs_en_de_default
def test_cross_attention_rows_show_the_piece_each_row_predicts(app_server, page):
    """On en-de, the cross-attention heatmaps' visible row labels are the pieces predicted: the first row is
    the first German piece, not <s>; choosing "piece read" in the control brings <s> back to the top."""
    page.goto(app_url(app_server, view="attention", kind="cross", layer="2", head="0", text=OLD_MAN))
    read, predicted = decoder_pieces(OLD_MAN)
    wait_for_y_ticks(page, predicted, timeout=90_000)
    wait_for_y_ticks(page, predicted, n=1)  # the mean over heads is drawn after the head: wait for it too
    wait_idle(page)
    ticks = visible_y_ticks(page)
    assert ticks == predicted == visible_y_ticks(page, 1)  # the head and the head mean
    assert ticks[0] == read[1] != "<s>" and ticks[-1] == "</s>"
    titles = page.locator(f"{HEATMAP} .yt").all_text_contents()  # the y axis titles of head and mean
    assert titles == ["decoder row: piece predicted (next piece)"] * 2
    page.locator(".st-key-rows_pick").get_by_role("radio", name="piece read").click()
    wait_for_y_ticks(page, read)
    assert visible_y_ticks(page)[0] == "<s>"
    wait_for_link(page, "rows=read")
    assert "rows=read" in page.url


def test_html_in_the_sentence_is_shown_as_text(app_server, page):
    """A sentence that is an HTML tag with a script opens no dialog, adds no <img>, and is shown literally."""
    with dialogs_dismissed(page) as dialogs:
        page.goto(app_url(app_server, view="io"))
        page.wait_for_selector("[data-testid='stCode']", timeout=90_000)
        set_text(page, EVIL)
        shown = page.locator("[data-testid='stCode']").filter(has_text=EVIL)
        shown.first.wait_for(timeout=60_000)
        wait_idle(page)
        assert shown.first.inner_text().strip() == EVIL
        assert sentence_box(page).input_value() == EVIL
        assert page.locator("img[src='x']").count() == 0
    assert dialogs == []


def test_two_sessions_see_only_their_own_attention(app_server, browser):
    """Two browser sessions submitting different sentences at once each get heatmaps of their own sentence."""
    texts = [good_sentence(), "b a"]
    contexts = [browser.new_context(viewport=VIEWPORT) for _ in texts]
    try:
        pages = [c.new_page() for c in contexts]
        for p in pages:
            p.goto(app_url(app_server, view="attention"))
        for p in pages:
            p.wait_for_selector(HEATMAP, timeout=90_000)
        for p, text in zip(pages, texts, strict=True):
            sentence_box(p).fill(text)
        for p in pages:  # submit both before waiting for either: the two scripts run concurrently
            sentence_box(p).press("Enter")
        for p, text in zip(pages, texts, strict=True):
            pieces = source_pieces(text)
            wait_for_heatmaps(p, rows=len(pieces), count=2, labels=pieces)
            assert heatmap_rows(p) == [len(pieces), len(pieces)]
    finally:
        for c in contexts:
            c.close()


def test_exports_download_the_attention_csv_and_the_trace_json(app_server, page, tmp_path):
    """The sidebar's buttons download the tidy attention CSV and the trace JSON of the current sentence."""
    page.goto(app_url(app_server, view="io", text="c a f b"))
    page.wait_for_selector(".st-key-dl_csv button", timeout=90_000)
    wait_idle(page)
    files = {}
    for key in ("dl_csv", "dl_json"):
        with page.expect_download(timeout=60_000) as info:
            page.locator(f".st-key-{key} button:visible").first.click()
        files[key] = tmp_path / info.value.suggested_filename
        info.value.save_as(files[key])
    header = files["dl_csv"].read_text().splitlines()[0]
    assert header == "layer,head,q_pos,k_pos,query,key,weight,kind,query_read,query_predicted"
    trace = json.loads(files["dl_json"].read_text())
    assert trace["src_text"] == "c a f b" and set(trace["attention"]) == {"encoder", "decoder", "cross"}


# --- issue 12: the first screen, the projector, long sentences ------------------------------------------


def open_page(tab, url: str, viewport: dict):
    """A fresh session (the app loaded into the run's tab afresh) at this window size, on `url`, once its heatmaps
    are drawn."""
    page = tab.open(viewport)
    page.goto(url)
    page.wait_for_selector(f"{HEATMAP}, .js-plotly-plot .nsewdrag", timeout=90_000)  # HTML or Plotly
    wait_idle(page)
    page.wait_for_timeout(500)  # Plotly's responsive resize after the first draw
    return page


@pytest.mark.parametrize("present", ["0", "1"])
def test_the_first_screen_shows_a_heatmap_at_1280x720(app_server, tab, present):
    """A plain link (no view in it) opens on attention, and the first heatmap is on screen without scrolling:
    its plot area starts inside the window with room to see it (normal and presentation mode)."""
    url = app_url(app_server) if present == "0" else app_url(app_server, present="1")
    page = open_page(tab, url, SMALL_SCREEN)
    try:
        assert "view=attention" in page.url
        area = plot_area(page)
        assert area is not None and area["y"] >= 0
        assert area["y"] + 150 <= SMALL_SCREEN["height"], f"heatmap starts at {area['y']:.0f} px"
        if present == "0":
            docs_screenshot(page, "app-first-screen")
    finally:
        tab.leave()


def test_presentation_mode_puts_head_and_mean_side_by_side_and_labels_every_row(app_server, tab):
    """At 1920 × 1080 in presentation mode: nothing but the sentence, the view picker and folded controls
    above the figures (no title, no example sentences, no captions), the head beside the mean, every row
    labelled."""
    text = good_sentence()
    page = open_page(tab, app_url(app_server, present="1", text=text), PROJECTOR)
    try:
        pieces = source_pieces(text)
        wait_for_heatmaps(page, rows=len(pieces), count=2, labels=pieces)
        head, mean = (page.locator(f".st-key-{key}").bounding_box() for key in HEATMAP_KEYS)
        assert abs(head["y"] - mean["y"]) < 5 and mean["x"] >= head["x"] + head["width"] - 1  # side by side
        assert head["width"] > 700  # each half of the projector, not a column of the normal layout
        for n in (0, 1):
            area = plot_area(page, n)
            assert 0 <= area["y"] < PROJECTOR["height"] - 300
            assert visible_y_ticks(page, n) == [html.unescape(p) for p in pieces]  # every row labelled
            box = page.evaluate(HEATMAP_BOX_JS, n)  # whole on the screen, at the full presentation font
            assert box["font"] == 20 and box["bottom"] <= PROJECTOR["height"], box
        title = page.get_by_role("heading", name="Transformer, live").bounding_box()  # in the folded sidebar
        assert title is None or title["x"] + title["width"] <= 0 or title["y"] >= PROJECTOR["height"]
        assert not page.locator(".st-key-example").is_visible()  # examples folded into a popover
        assert not page.get_by_text("spreads one unit of attention").is_visible()  # notes folded away
        docs_screenshot(page, "app-presentation")
    finally:
        tab.leave()


# the n-th heatmap's box (title to x title) and its computed font size, in px
HEATMAP_BOX_JS = """(n) => { const el = document.querySelectorAll('.attn-hm')[n], r = el.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, font: parseFloat(getComputedStyle(el).fontSize)}; }"""


@needs_en_de_default
@pytest.mark.parametrize("kind", ["encoder", "cross"])
def test_a_projected_35_piece_heatmap_fits_the_screen_with_every_row_labelled(app_server, tab, kind):
    """Presentation mode at 1920 × 1080: both heatmaps of a 35-piece sentence lie wholly on the screen, from
    title to key labels, with every row labelled (their font shrinks to fit, not below FIT_FONT_MIN); a
    short sentence keeps the full presentation font."""
    from viz.attention_html import FIT_FONT_MIN

    page = open_page(tab, app_url(app_server, present="1", text=LONG_SENTENCE, kind=kind), PROJECTOR)
    try:
        rows = heatmap_rows(page)[0]
        assert rows >= 25  # 35 source pieces; their translation, 25 or more
        wait_for_heatmaps(page, rows=rows, count=2)
        for n in (0, 1):
            box = page.evaluate(HEATMAP_BOX_JS, n)
            assert 0 <= box["top"] and box["bottom"] <= PROJECTOR["height"], box
            assert FIT_FONT_MIN <= box["font"] < 20, box
            assert len(visible_y_ticks(page, n)) == rows
            assert not overlapping(tick_boxes(page, n, "y")) and not overlapping(tick_boxes(page, n, "x"))
        assert page.evaluate(LABELS_CUT_JS) == [[], []]
        if kind == "cross":
            docs_screenshot(page, "app-projected-long")
    finally:
        tab.leave()


@needs_en_de_default
def test_a_35_piece_sentence_labels_every_row_and_never_piles_up_key_labels(app_server, tab):
    """25 English words: each heatmap writes all 35 row labels and as many key labels as fit, none on
    another; the hover still names every piece."""
    page = open_page(tab, app_url(app_server, text=LONG_SENTENCE), VIEWPORT)
    try:
        pieces = source_pieces(LONG_SENTENCE)
        assert len(pieces) == 35
        wait_for_heatmaps(page, rows=35, count=2, labels=pieces)
        named = [f"{i}: {html.unescape(p)}" for i, p in enumerate(pieces)]  # "pos: piece", as hovered
        for n in (0, 1):
            assert visible_y_ticks(page, n) == [html.unescape(p) for p in pieces]
            keys = tick_boxes(page, n, "x")
            assert 35 // 3 <= len(keys) <= 35 and not overlapping(keys)
            assert not overlapping(tick_boxes(page, n, "y"))
            assert page.evaluate(HOVER_TITLES_JS, n) == {"rows": named, "keys": named}
        docs_screenshot(page, "app-long-heatmaps", elements=", ".join(f".st-key-{k}" for k in HEATMAP_KEYS))
    finally:
        tab.leave()


# --- the Attention view's heatmaps are HTML (viz.attention_html): what a teacher sees of them ------------

# what hovering tells: the title (a tooltip) of every row label and every key label of the n-th heatmap
HOVER_TITLES_JS = """(n) => { const el = document.querySelectorAll('.attn-hm')[n];
    const titles = sel => Array.from(el.querySelectorAll(sel)).map(e => e.getAttribute('title'));
    return {rows: titles('.r>.yl'), keys: titles('.x>span:not(:first-child)')}; }"""
# cell (i, j) of the n-th heatmap: its weight, the text its ::after shows, and every row label's and key
# label's computed background and visibility (row i's label is .r[i]>.yl, key j's is .x>span[j + 1])
CELL_JS = """([n, i, j]) => { const el = document.querySelectorAll('.attn-hm')[n];
    const cell = el.querySelectorAll('.r')[i].querySelectorAll('i')[j];
    const look = e => { const s = getComputedStyle(e); return {bg: s.backgroundColor, visibility: s.visibility}; };
    return {v: cell.dataset.v, after: getComputedStyle(cell, '::after').content,
            rows: Array.from(el.querySelectorAll('.r>.yl')).map(look),
            keys: Array.from(el.querySelectorAll('.x>span:not(:first-child)')).map(look)}; }"""
# each shown key label of the n-th heatmap that its own box cuts short (an ellipsis) or that lies outside
# the figure
KEY_LABELS_CUT_JS = """(n) => { const el = document.querySelectorAll('.attn-hm')[n], box = el.getBoundingClientRect();
    return Array.from(el.querySelectorAll('.x>span:not(:first-child)'))
        .filter(s => getComputedStyle(s).visibility !== 'hidden')
        .filter(s => { const r = s.getBoundingClientRect();
            return s.scrollHeight > s.clientHeight || s.scrollWidth > s.clientWidth || r.left < box.left - 0.5
                || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5; })
        .map(s => s.textContent); }"""

TEACHER_SCREENS = pytest.mark.parametrize(
    "viewport, present", [(SMALL_SCREEN, "0"), (PROJECTOR, "1")], ids=["1280x720", "projector"]
)


def _unquoted(content: str) -> str:
    """A computed `content` value as text: attr(data-v) computes to the quoted string, '"0.834"'."""
    return content[1:-1] if len(content) >= 2 and content[0] == content[-1] == '"' else content


def _lit(looks: list[dict]) -> list[int]:
    """Indices of the labels whose background differs from the most common one (the unlit labels')."""
    backgrounds = [x["bg"] for x in looks]
    plain = max(set(backgrounds), key=backgrounds.count)
    return [i for i, bg in enumerate(backgrounds) if bg != plain]


# every label a heatmap writes (row labels, key labels) that its box cuts short with an ellipsis
LABELS_CUT_JS = """() => Array.from(document.querySelectorAll('.attn-hm')).map(el =>
    Array.from(el.querySelectorAll('.r>.yl, .x>span:not(:first-child)'))
        .filter(s => getComputedStyle(s).visibility !== 'hidden')
        .filter(s => s.scrollWidth > s.clientWidth || s.scrollHeight > s.clientHeight)
        .map(s => `${s.textContent}: ${s.scrollWidth}x${s.scrollHeight} in ${s.clientWidth}x${s.clientHeight}`))"""


@TEACHER_SCREENS
def test_every_label_written_on_a_heatmap_is_whole(app_server, tab, viewport, present):
    """On the sentence a teacher starts with, encoder self-attention and then (the kind picked in the same
    session) cross-attention: no row or key label is cut short (an ellipsis in the label column or the label
    row): each is the whole piece, whatever font the browser draws "Arial" in (the label column and row are
    as wide as their longest label, not estimated)."""
    query = {"present": "1"} if present == "1" else {}
    page = open_page(tab, app_url(app_server, text=good_sentence(), kind="encoder", **query), viewport)
    try:
        wait_for_heatmaps(page, rows=heatmap_rows(page)[0], count=2)
        assert page.evaluate(LABELS_CUT_JS) == [[], []], "encoder"
        controls = page.locator("[data-testid='stExpander'] summary").filter(has_text="Controls")
        if present == "1":  # presentation mode folds the pickers
            controls.click()
        page.locator(".st-key-kind").get_by_text("Cross").click()
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('.attn-hm')).filter("
            "el => el.getAttribute('aria-label').startsWith('Cross-attention')).length === 2",
            timeout=60_000,
        )
        wait_idle(page)
        if present == "1":
            controls.click()
        wait_for_heatmaps(page, rows=heatmap_rows(page)[0], count=2)
        assert page.evaluate(LABELS_CUT_JS) == [[], []], "cross"
    finally:
        tab.leave()


def _fills_its_column_and_writes_key_labels_apart(page) -> None:
    """On a 35-piece sentence each heatmap's cells take most of its column (at least 60 % of it), and the key
    labels it writes stand apart: none on another, none cut short or outside the figure."""
    for n, key in enumerate(HEATMAP_KEYS):
        keys = tick_boxes(page, n, "x")
        assert len(keys) >= 2 and not overlapping(keys), overlapping(keys)
        assert page.evaluate(KEY_LABELS_CUT_JS, n) == []
        column = page.locator(f".st-key-{key}").bounding_box()
        area = plot_area(page, n)
        assert area["width"] >= 0.6 * column["width"], (area, column)
        assert column["x"] <= area["x"] and area["x"] + area["width"] <= column["x"] + column["width"]


def _key_labels_are_thinned_no_further_than_they_must(page) -> None:
    """The key labels written are about as many as fit: when some are thinned away, two written neighbours
    lie less than two label pitches (LABEL_PITCH × the font) apart, else a label would fit between them."""
    from viz.heatmap import LABEL_PITCH

    for n in (0, 1):
        font = page.evaluate(  # computed: a projected figure's font is fitted to the screen (a clamp())
            "(n) => parseFloat(getComputedStyle(document.querySelectorAll('.attn-hm')[n]).fontSize)", n
        )
        keys = tick_boxes(page, n, "x")
        if len(keys) == 35:  # none thinned
            continue
        centres = [k["x"] + k["width"] / 2 for k in keys]
        gaps = [b - a for a, b in zip(centres, centres[1:])]
        assert gaps and max(gaps) < 2 * LABEL_PITCH * font, (len(keys), gaps, LABEL_PITCH * font)


def _hovering_a_cell_shows_its_weight_and_lights_its_row_and_key(page, present: str) -> None:
    """35 pieces, so key labels are thinned at 1280 × 720 (projected, the figure's font shrinks to fit the
    screen, and all may be written): hovering a cell in a column whose label is not written shows the cell's
    weight (its ::after reads data-v), lights up its row's label and its key's label (that one only while
    hovered: it comes back, then goes again), and no other label; in both heatmaps."""
    for n in (0, 1):
        before = page.evaluate(CELL_JS, [n, 0, 0])
        assert before["after"] in ("none", "normal")  # no weight shown while nothing is hovered
        assert _lit(before["rows"]) == [] and _lit(before["keys"]) == []
        thinned = [j for j, k in enumerate(before["keys"]) if k["visibility"] == "hidden"]
        # projected, the figure's font shrinks to fit the screen: all 35 may be written
        if present == "0":
            assert thinned, "35 key labels should not all be written at this size"
        # a row mid-figure, a key whose label is thinned away (if any is)
        i, j = 17, thinned[len(thinned) // 2] if thinned else 20
        page.locator(HEATMAP).nth(n).locator(".r").nth(i).locator("i").nth(j).hover()
        hovered = page.evaluate(CELL_JS, [n, i, j])
        assert _unquoted(hovered["after"]) == hovered["v"] and float(hovered["v"]) >= 0, hovered["after"]
        assert _lit(hovered["rows"]) == [i] and _lit(hovered["keys"]) == [j]
        assert hovered["rows"][i]["bg"] != before["rows"][i]["bg"]
        assert hovered["keys"][j]["bg"] != before["keys"][j]["bg"]
        assert hovered["keys"][j]["visibility"] == "visible"  # a thinned key label, written while hovered
        others = [x for x in range(len(before["keys"])) if x != j]  # every other key label as before
        assert [hovered["keys"][x]["visibility"] for x in others] == [
            before["keys"][x]["visibility"] for x in others
        ]
        label = page.locator(HEATMAP).nth(n).locator(".x>span").nth(j + 1).bounding_box()
        assert label and label["width"] > 0 and label["height"] > 0
        page.mouse.move(2, 2)  # off the figure: back as it was
        page.wait_for_function(
            "([n, j, v]) => getComputedStyle(document.querySelectorAll('.attn-hm')[n]"
            ".querySelectorAll('.x>span')[j + 1]).visibility === v",
            arg=[n, j, before["keys"][j]["visibility"]],
            timeout=5_000,
        )
        after = page.evaluate(CELL_JS, [n, i, j])
        assert after["after"] in ("none", "normal") and _lit(after["rows"]) == [] == _lit(after["keys"])


@needs_en_de_default
@TEACHER_SCREENS
def test_a_35_piece_heatmap_on_a_teachers_screen(app_server, tab, viewport, present):
    """One load of the 35-piece sentence at 1280 × 720 and projected, three checks (each below): the heatmaps
    fill their columns with key labels apart, key labels are thinned no further than they must, and hovering
    a cell shows its weight and lights its row and key (last: it hovers)."""
    url = app_url(app_server, text=LONG_SENTENCE, **({"present": "1"} if present == "1" else {}))
    page = open_page(tab, url, viewport)
    try:
        wait_for_heatmaps(page, rows=35, count=2)
        _fills_its_column_and_writes_key_labels_apart(page)
        _key_labels_are_thinned_no_further_than_they_must(page)
        _hovering_a_cell_shows_its_weight_and_lights_its_row_and_key(page, present)
    finally:
        tab.leave()


@TEACHER_SCREENS
def test_the_heatmaps_are_drawn_before_any_plotly_script_is_asked_for(app_server, browser, viewport, present):
    """A fresh browser (no cache) on the Attention view: the first heatmap is on the page before the browser
    has asked for Plotly's script chunk (PlotlyChart.*.js, 4.6 MB): the heatmaps wait for no chart library."""
    context = browser.new_context(viewport=viewport)
    try:
        page = context.new_page()
        asked: list[str] = []
        page.on("request", lambda request: asked.append(request.url))
        page.goto(app_url(app_server, view="attention", **({"present": "1"} if present == "1" else {})))
        page.wait_for_selector(HEATMAP, timeout=90_000)
        before = list(asked)  # every request the page made until the heatmap was in it
        assert any("/static/js/" in u for u in before)  # the listener heard the app's own scripts load
        assert [u for u in before if "PlotlyChart" in u] == []
        assert page.locator(HEATMAP).first.get_attribute("data-rows") not in (None, "0")
        wait_idle(page)
    finally:
        context.close()


@needs_en_de_default
def test_the_model_view_keeps_token_labels_on_a_35_piece_sentence(app_server, tab):
    """Every layer × head, and still the pieces: every k-th on the rows of the first head and the keys of
    the last layer, none on another."""
    page = open_page(tab, app_url(app_server, text=LONG_SENTENCE, panel="model"), VIEWPORT)
    try:
        rows, keys = tick_boxes(page, 0, "y"), tick_boxes(page, 0, "x")
        layers = 3  # en-de: 3 encoder layers, each labels its rows on its first head
        assert len(rows) >= layers * 35 // 3 and len(keys) >= 4 * 35 // 4
        assert not overlapping(rows) and not overlapping(keys)
        docs_screenshot(page, "app-long-model-view", elements=".stPlotlyChart")
    finally:
        tab.leave()


HEAD_VIEW = 'iframe[title^="Head view"]'
LINE_OPACITY_JS = """(cls) => { const out = {on: [], off: []};  // computed opacity of its lines and the others
    for (const p of document.querySelectorAll('.lines path'))
        (p.classList.contains(cls) ? out.on : out.off).push(getComputedStyle(p).opacity);
    return out; }"""


def head_view_frame(tab, url: str, viewport: dict):
    """A fresh session on `url` (the head view panel), and the head view's frame once its SVG is in."""
    page = tab.open(viewport)
    page.goto(url)
    page.wait_for_selector(HEAD_VIEW, timeout=90_000)
    wait_idle(page)
    frame = page.locator(HEAD_VIEW).element_handle().content_frame()
    frame.wait_for_selector("svg .lines path", state="attached", timeout=30_000)
    return page, frame


def lines_shown(frame, cls: str, dim: float) -> dict:
    """Wait until only the lines of class `cls` keep their opacity (1) and every other is at `dim`."""
    frame.wait_for_function(
        f"""([cls, dim]) => {{ const o = ({LINE_OPACITY_JS})(cls);
            return o.on.length > 0 && o.on.every(v => v === '1') && o.off.every(v => Number(v) === dim); }}""",
        arg=[cls, dim],
        timeout=10_000,
    )
    return frame.evaluate(LINE_OPACITY_JS, cls)


@needs_en_de_default
def test_hovering_a_piece_in_the_head_view_keeps_its_lines_and_dims_the_others(app_server, tab):
    """At 1280 × 720, a 35-piece sentence: every piece labelled on both sides, outside the lines' span.
    Hovering a query piece keeps its lines (opacity 1) and dims every other line (DIM), hovering a key piece
    keeps the lines to it, focusing a piece (Tab, a tap) with nothing hovered does the same; all of it CSS in
    a page that runs no script."""
    from viz.head_view import DIM

    url = app_url(app_server, text=LONG_SENTENCE, panel="lines")
    page, frame = head_view_frame(tab, url, SMALL_SCREEN)
    try:
        pieces = [html.unescape(p) for p in source_pieces(LONG_SENTENCE)]
        for side in ("q", "k"):
            labels = frame.eval_on_selector_all(
                f".tok[class*=' t{side}'] text", "ts => ts.map(t => t.textContent)"
            )
            assert labels == pieces
        span = frame.evaluate(
            """() => { const xs = Array.from(document.querySelectorAll('.lines path')).map(p => {
                const r = p.getBoundingClientRect(); return [r.left, r.right]; });
                return [Math.min(...xs.map(x => x[0])), Math.max(...xs.map(x => x[1]))]; }"""
        )
        boxes = frame.evaluate(
            """() => Array.from(document.querySelectorAll('.tok text')).map(t => {
                const r = t.getBoundingClientRect(); return {left: r.left, right: r.right}; })"""
        )
        assert len(boxes) == 2 * 35
        for box in boxes:  # each label wholly left of the lines or wholly right of them (2 px: round caps)
            assert box["right"] <= span[0] + 2 or box["left"] >= span[1] - 2, (box, span)
        assert set(frame.evaluate(LINE_OPACITY_JS, "q3")["off"]) == {"1"}  # nothing hovered: every line

        she = frame.locator(".tq3")
        assert she.locator("text").text_content() == "▁she"
        she.hover()
        shown = lines_shown(frame, "q3", DIM)
        assert len(shown["on"]) >= 4 and len(shown["off"]) > 10 * len(shown["on"])  # her lines, every head
        frame.locator(".tk11").hover()  # a key: who reads "▁brother"
        lines_shown(frame, "k11", DIM)
        page.mouse.move(2, 2)  # nothing hovered: the lines come back
        frame.wait_for_function(
            "() => getComputedStyle(document.querySelector('.lines path')).opacity === '1'"
        )
        frame.locator(".tq3").focus()  # the keyboard, a tap, a presenter's clicker
        lines_shown(frame, "q3", DIM)
        assert page.locator(HEAD_VIEW).bounding_box()["width"] >= 600
        docs_screenshot(page, "app-long-head-view", elements=HEAD_VIEW, method="FASTOCTREE")  # "▁she" focused
    finally:
        tab.leave()


def test_the_head_view_writes_html_in_a_piece_as_text_and_downloads_as_svg(app_server, tab, tmp_path):
    """A sentence that is an HTML tag: the head view's labels are that text, no <img> exists in its frame,
    no dialog opens; its SVG download is named after the model, view and sentence and holds the sentence."""
    page, frame = head_view_frame(tab, app_url(app_server, text=EVIL, panel="lines"), VIEWPORT)
    try:
        with dialogs_dismissed(page) as dialogs:
            labels = "".join(frame.eval_on_selector_all(".tok text", "ts => ts.map(t => t.textContent)"))
            assert "<img" in labels or "img" in labels
            assert frame.locator("img").count() == 0 and frame.locator("script").count() == 0
            with page.expect_download(timeout=60_000) as info:
                page.locator(".st-key-dl_head_view button").click()
            name = info.value.suggested_filename
            assert name.startswith(f"{default_model()}_attention_encoder_L0_head-view_") and name.endswith(
                ".svg"
            )
            info.value.save_as(tmp_path / name)
            svg = (tmp_path / name).read_text(encoding="utf-8")
            assert (
                svg.startswith("<svg") and "&lt;img src=x onerror=alert(1)&gt;" in svg and "<img" not in svg
            )
        assert dialogs == []
    finally:
        tab.leave()


@needs_en_de_default
def test_embeddings_write_only_the_chosen_pieces_and_clip_nothing(app_server, tab):
    """Each stage in its own panel with every piece as a point; only the chosen pieces written, and every
    written label inside its figure."""
    url = app_url(app_server, text=LONG_SENTENCE, view="embeddings", emb_paths="0,3,10,21")
    page = open_page(tab, url, VIEWPORT)
    try:
        page.wait_for_function(
            "() => document.querySelectorAll('.js-plotly-plot').length >= 2", timeout=60_000
        )
        wait_idle(page)
        texts = page.evaluate(
            """() => Array.from(document.querySelectorAll('.js-plotly-plot')).slice(0, 2).map(el => {
                const box = el.getBoundingClientRect();
                return Array.from(el.querySelectorAll('.textpoint text')).map(t => {
                    const r = t.getBoundingClientRect();
                    return {text: t.textContent, inside: r.x >= box.x && r.x + r.width <= box.x + box.width
                            && r.y >= box.y && r.y + r.height <= box.y + box.height}; }); })"""
        )
        scatter, path = texts
        assert {t["text"] for t in scatter} == {"0:▁I", "3:▁she", "10:▁brother", "21:▁still"}
        assert all(t["inside"] for t in scatter + path), [t for t in scatter + path if not t["inside"]]
        docs_screenshot(page, "app-long-embeddings", elements=".stPlotlyChart")
    finally:
        tab.leave()
