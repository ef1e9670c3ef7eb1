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

from tests.support.browser import (
    SMALL_SCREEN,
    app_url,
    needs_en_de_default,
    wait_idle,
)
from tests.support.margins import PAGES, assert_margins_hold, open_link, page_id

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    needs_en_de_default,
]


@pytest.mark.parametrize("query", PAGES, ids=page_id)
def test_computed_margins_hold_every_label(app_server, browser, query):
    """At 1280 × 720, a laptop with the sidebar open (presentation mode: tests/browser/test_browser_projector.py)."""
    assert_margins_hold(app_server, browser, query, SMALL_SCREEN)


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
