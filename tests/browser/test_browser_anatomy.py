"""The Anatomy walk in a real browser (Playwright + Chromium): one section at a time, "Next" walks on,
and every figure keeps the margins the app computed for its labels.

The heatmaps' margins are computed in Python from their longest labels (`viz.style.FIXED_AXIS`): Plotly
measures no tick label. Here Chromium checks that the computed margins were enough: Plotly grew none of
them (a colour bar wider than planned would), no tick label is drawn outside its figure, and no axis
title lies on the tick labels, at 1280 × 720 (a laptop, sidebar open) and in presentation mode. The
Attention view's heatmaps are HTML (`viz.attention_html`) with label columns sized the same way: no label
written there is cut short, outside its figure or under an axis title, and no figure is wider than its column.
"""

from __future__ import annotations

import pytest

from app_support.views import anatomy as anatomy_view
from tests.support.browser import (
    LONG_SENTENCE,
    MARGINS_JS,
    PROJECTOR,
    SMALL_SCREEN,
    app_url,
    needs_en_de_default,
    wait_idle,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    needs_en_de_default,
]

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
    return {title: el.getAttribute('aria-label'), rows: rows.length, keys: keys.length, cut, outside, under,
            wider: box.left < column.getBoundingClientRect().left - 0.5 || box.right > column.getBoundingClientRect().right + 0.5,
            bar_outside: barOutside, bar_px: [parseFloat(bar.style.width), bar.getBoundingClientRect().width]}; })"""

PAGES = [  # the Anatomy sections with figures (decoder-side rows labelled by both pieces: the longest labels)
    {"view": "anatomy", "section": str(n), "kind": "cross", "rows": "both"}
    for n in anatomy_view.SECTION_TITLES
    if n
] + [  # the Attention view's heatmaps and model view share the figure functions
    {"view": "attention", "kind": "decoder", "rows": "both"},
    {"view": "attention", "kind": "cross", "panel": "model"},
]


def open_link(browser, url: str, viewport: dict, **query: str):
    """A fresh session at this window size on a link with the 35-piece sentence, once its figures are drawn."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(app_url(url, text=LONG_SENTENCE, **query))
    page.wait_for_selector(".js-plotly-plot .nsewdrag, .attn-hm", timeout=90_000)  # Plotly or HTML
    wait_idle(page)
    page.wait_for_timeout(500)  # Plotly's responsive resize after the first draw
    return context, page


@pytest.mark.parametrize("viewport", [SMALL_SCREEN, PROJECTOR], ids=["1280x720", "projector"])
@pytest.mark.parametrize("query", PAGES, ids=lambda q: "-".join(q.values()))
def test_computed_margins_hold_every_label(app_server, browser, query, viewport):
    present = {"present": "1"} if viewport is PROJECTOR else {}
    context, page = open_link(browser, app_server, viewport, **query, **present)
    try:
        figures, heatmaps = page.evaluate(MARGINS_JS), page.evaluate(HTML_LABELS_JS)
        assert figures or heatmaps
        if query["view"] == "attention" and query.get("panel", "heatmaps") == "heatmaps":
            assert len(heatmaps) == 2 and not figures  # the head and the mean, HTML
        for hm in heatmaps:
            assert hm["rows"] >= 35 // 3 and hm["keys"] >= 2, hm  # labels are written
            assert not hm["cut"] and not hm["outside"] and not hm["under"] and not hm["wider"], hm
        for fig in figures:
            if fig["asked"] != [None, None, None]:  # computed here (a PE or top-k bar still asks Plotly)
                assert fig["drawn"] == fig["asked"], (
                    fig
                )  # Plotly grew no margin: nothing was wider than computed
            assert not fig["outside"], fig
            assert not fig["under"], fig
        assert not [(hm["title"], hm["bar_outside"], hm["bar_px"]) for hm in heatmaps if hm["bar_outside"]]
    finally:
        context.close()


def test_next_walks_the_sections_in_order_and_the_link_follows(app_server, browser):
    """From the whole model, Next opens section 1, 2, …, each drawing its own figures; the URL says which."""
    context = browser.new_context(viewport=SMALL_SCREEN)
    page = context.new_page()
    try:
        page.goto(app_url(app_server, view="anatomy", text="The house is old."))
        page.get_by_role("heading", name="0. The whole model").wait_for(timeout=90_000)
        assert page.locator(".js-plotly-plot").count() == 0
        for number in (1, 2, 3):
            page.locator(".st-key-ana_next button").click()
            page.get_by_role("heading", name=f"{number}. ").first.wait_for(timeout=60_000)
            page.wait_for_function(
                "n => location.search.includes('section=' + n)", arg=number, timeout=30_000
            )
            page.wait_for_selector(".js-plotly-plot .nsewdrag", timeout=60_000)
            wait_idle(page)
    finally:
        context.close()


# each Plotly figure's title and the width of its plot area (its drag layer), in px
PLOT_WIDTHS_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(el => ({
    title: el.layout.title.text, width: el.querySelector('.nsewdrag').getBoundingClientRect().width}))"""


def test_q_k_and_v_are_wide_enough_to_read_on_a_laptop(app_server, browser):
    """At 1280 × 720 (sidebar open) Section 3 draws Q beside K and V under them: each matrix's 64 columns get
    a plot area at least 150 px wide (three a row left each a strip ~50 px wide)."""
    context, page = open_link(browser, app_server, SMALL_SCREEN, view="anatomy", section="3", kind="encoder")
    try:
        widths = {f["title"].split(" (")[0]: f["width"] for f in page.evaluate(PLOT_WIDTHS_JS)}
        assert {"Q", "K", "V"} <= set(widths), widths
        assert all(widths[m] >= 150 for m in "QKV"), widths
    finally:
        context.close()
