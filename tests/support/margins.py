"""What the margin tests of the Anatomy walk and the Attention view share (tests/browser/test_browser_anatomy.py
at 1280 × 720, tests/browser/test_browser_projector.py in presentation mode): the pages, and one check that
every figure on a page kept the margins the app computed for its labels."""

from __future__ import annotations

from app_support.views import anatomy as anatomy_view
from tests.support.browser import (
    LONG_SENTENCE,
    MARGINS_JS,
    PROJECTOR,
    app_url,
    docs_screenshot,
    wait_idle,
)

# every HTML heatmap on the page (the Attention view's, viz.attention_html): its labels are laid out by the
# browser in a label column and a label row sized in Python (`label_px`). The written row and key labels cut
# short by an ellipsis or outside the figure, those under an axis title, whether the figure is wider than its
# column; the colour bar's tick labels outside the figure, and the bar's width (as asked, as drawn).
HTML_LABELS_JS = """() => Array.from(document.querySelectorAll('.attn-hm')).map(el => {
    const box = el.getBoundingClientRect(), column = el.closest('[class*="st-key-fig_"]') || el.parentElement;
    const written = sel => Array.from(el.querySelectorAll(sel)).filter(e => getComputedStyle(e).visibility !== 'hidden');
    const rows = written('.r>.yl'), keys = written('.x>span:not(:first-child)');
    const ticks = written('.bar span'), bar = el.querySelector('.bar');
    const overlap = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
    const cut = [...rows, ...keys].filter(t => t.scrollWidth > t.clientWidth || t.scrollHeight > t.clientHeight)
        .map(t => t.textContent);
    const out = t => { const r = t.getBoundingClientRect();
        return r.width > 0 && (r.left < box.left - 0.5 || r.right > box.right + 0.5
                               || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5); };
    const outside = [...rows, ...keys].filter(out).map(t => t.textContent);
    const barOutside = ticks.filter(out).map(t => t.textContent);
    const under = [];
    for (const [title, ticks] of [['.yt', rows], ['.xt', keys]]) {
        const a = el.querySelector(title).getBoundingClientRect();
        ticks.forEach(t => { if (overlap(a, t.getBoundingClientRect())) under.push(t.textContent); }); }
    const flat = keys.filter(t => getComputedStyle(t).writingMode === 'horizontal-tb').length;
    const piled = keys.filter((t, i) => i && overlap(keys[i - 1].getBoundingClientRect(), t.getBoundingClientRect()))
        .map(t => t.textContent);
    return {title: el.getAttribute('aria-label'), rows: rows.length, keys: keys.length, flat, piled, cut, outside, under,
            wider: box.left < column.getBoundingClientRect().left - 0.5 || box.right > column.getBoundingClientRect().right + 0.5,
            bar_outside: barOutside, bar_px: [parseFloat(bar.style.width), bar.getBoundingClientRect().width]}; })"""

SECTIONS = [n for n in anatomy_view.SECTION_TITLES if n]  # the Anatomy sections with figures
# the walk's link: decoder-side rows labelled by both pieces (the longest labels); "Next" walks on from it
WALK = {"view": "anatomy", "section": "0", "kind": "cross", "rows": "both"}
PAGES = [  # the Attention view's heatmaps and model view share the figure functions: one link each
    {"view": "attention", "kind": "decoder", "rows": "both"},
    {"view": "attention", "kind": "cross", "panel": "model"},
    {"view": "attention", "kind": "cross", "panel": "flow"},  # raw beside flow, each under a caveat
    # the training time-lapse of a toy model with snapshots: a step beside the trained model, under a slider
    {
        "view": "attention",
        "model": "reverse",
        "kind": "cross",
        "layer": "1",
        "head": "mean",
        "panel": "training",
        "snap": "442",
        "text": "c a f b h e d g a b c d e f",
    },
]


def page_id(query: dict) -> str:
    """A test id for a page: its query without the sentence."""
    return "-".join(v for k, v in query.items() if k != "text")


def open_link(tab, url: str, viewport: dict, **query: str):
    """A fresh session at this window size on a link (with the 35-piece sentence unless it names its own text),
    once its figures are drawn."""
    page = tab.open(viewport)
    page.goto(app_url(url, **({"text": LONG_SENTENCE} | query)))
    page.wait_for_selector(".js-plotly-plot .nsewdrag, .attn-hm", timeout=90_000)  # Plotly or HTML
    wait_idle(page)
    page.wait_for_timeout(500)  # Plotly's responsive resize after the first draw
    return page


def check_margins(page, query: dict) -> None:
    """Every Plotly figure and HTML heatmap on the page: labels written, none cut, outside its figure or
    under an axis title, none on another."""
    figures, heatmaps = page.evaluate(MARGINS_JS), page.evaluate(HTML_LABELS_JS)
    assert figures or heatmaps, query
    if query["view"] == "attention" and query.get("panel", "heatmaps") in ("heatmaps", "flow", "training"):
        assert len(heatmaps) == 2 and not figures  # head and mean, raw and flow, a step and trained: HTML
    for hm in heatmaps:
        assert hm["rows"] >= 35 // 3 and hm["keys"] >= 2, (query, hm)  # labels are written
        assert not hm["cut"] and not hm["outside"] and not hm["under"] and not hm["wider"], (query, hm)
        assert hm["flat"] in (0, hm["keys"]) and not hm["piled"], (
            query,
            hm,
        )  # upright or flat, none on another
    for fig in figures:
        if fig["asked"] != [None, None, None]:  # computed here (a PE or top-k bar still asks Plotly)
            assert fig["drawn"] == fig["asked"], (query, fig)  # Plotly grew no margin: nothing was wider
        assert not fig["outside"], (query, fig)
        assert not fig["under"], (query, fig)
    assert not [(hm["title"], hm["bar_outside"], hm["bar_px"]) for hm in heatmaps if hm["bar_outside"]], query


def assert_margins_hold(app_server, tab, query: dict, viewport: dict) -> None:
    """Open `query` with the 35-piece sentence at `viewport` (PROJECTOR: presentation mode) and check it."""
    present = {"present": "1"} if viewport is PROJECTOR else {}
    page = open_link(tab, app_server, viewport, **query, **present)
    try:
        check_margins(page, query)
        if present and query.get("panel") == "training":
            docs_screenshot(page, "app-time-lapse")  # the README's picture, with UPDATE_SCREENSHOT=1
    finally:
        tab.leave()


def walk_sections(app_server, tab, viewport: dict):
    """The Anatomy walk with the 35-piece sentence at `viewport` in one session, as a teacher takes it: yields
    (section number, page) at the whole model (no figure), then after each "Next", once that section's
    heading, link and figures are there (a rerun costs a quarter of a fresh page)."""
    present = {"present": "1"} if viewport is PROJECTOR else {}
    page = tab.open(viewport)
    try:
        page.goto(app_url(app_server, **{"text": LONG_SENTENCE, **WALK, **present}))
        page.get_by_role("heading", name="0. The whole model").wait_for(timeout=90_000)
        wait_idle(page)
        yield 0, page
        for number in SECTIONS:
            page.locator(".st-key-ana_next button").click()
            page.get_by_role("heading", name=f"{number}. ").first.wait_for(timeout=60_000)
            page.wait_for_function(
                "n => location.search.includes('section=' + n)", arg=number, timeout=30_000
            )
            page.wait_for_selector(".js-plotly-plot .nsewdrag, .attn-hm", timeout=60_000)
            wait_idle(page)
            page.wait_for_timeout(500)  # Plotly's responsive resize after the first draw
            yield number, page
    finally:
        tab.leave()


def assert_the_walk_keeps_margins(app_server, tab, viewport: dict, also: dict | None = None) -> None:
    """`walk_sections` at `viewport`: no figure at the whole model, then every section's figures keep their
    margins (`check_margins`); `also`: section number -> one more check of that section's page."""
    seen, present = [], {"present": "1"} if viewport is PROJECTOR else {}
    for number, page in walk_sections(app_server, tab, viewport):
        seen.append(number)
        if number == 0:
            assert page.locator(".js-plotly-plot").count() == 0
            continue
        check_margins(page, {**WALK, "section": str(number), **present})
        if also and number in also:
            also[number](page)
    assert seen == [0, *SECTIONS]
