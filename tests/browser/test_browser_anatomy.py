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

from tests.support.browser import SMALL_SCREEN, needs_en_de_default
from tests.support.margins import PAGES, assert_margins_hold, assert_the_walk_keeps_margins, page_id

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    needs_en_de_default,
]


@pytest.mark.parametrize("query", PAGES, ids=page_id)
def test_computed_margins_hold_every_label(app_server, tab, query):
    """The Attention view's pages at 1280 × 720, a laptop with the sidebar open (presentation mode:
    tests/browser/test_browser_projector.py)."""
    assert_margins_hold(app_server, tab, query, SMALL_SCREEN)


# each Plotly figure's title and the width of its plot area (its drag layer), in px
PLOT_WIDTHS_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(el => ({
    title: el.layout.title.text, width: el.querySelector('.nsewdrag').getBoundingClientRect().width}))"""


def _q_k_and_v_are_wide_enough_to_read(page) -> None:
    """Each matrix's 64 columns in a plot area at least 150 px wide (three a row left each a strip ~50 px)."""
    widths = {f["title"].split(" (")[0]: f["width"] for f in page.evaluate(PLOT_WIDTHS_JS)}
    assert {"Q", "K", "V"} <= set(widths), widths
    assert all(widths[m] >= 150 for m in "QKV"), widths


def test_next_walks_the_sections_in_order_and_every_figure_keeps_its_margins(app_server, tab):
    """At 1280 × 720 (sidebar open), from the whole model (no figure), Next opens section 1, 2, …, 8, each
    drawing its own figures, the URL saying which (`walk_sections`); every figure keeps the margins computed
    for its labels (`check_margins`); section 3 draws Q beside K and V under them, each wide enough to read."""
    assert_the_walk_keeps_margins(app_server, tab, SMALL_SCREEN, also={3: _q_k_and_v_are_wide_enough_to_read})
