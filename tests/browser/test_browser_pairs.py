"""Minimal pairs in Chromium at 1280 × 720 and in presentation mode at 1920 × 1080 (issue 24): the difference
heatmap and the two stream-shift heatmaps of a built-in pair keep every tick label apart and inside the
figure, their computed side margins hold, and each row is as tall as the other heatmaps' rows (ROW_PITCH × the
font, more than the font itself). One page load per window size.

SCREENSHOTS=DIR also saves what the pages looked like.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app_support.views.pairs import EXAMPLES
from tests.support.browser import (
    MARGINS_JS,
    PROJECTOR,
    SMALL_SCREEN,
    app_url,
    needs_en_de_default,
    overlapping,
    plot_area,
    tick_boxes,
    wait_idle,
)
from viz.heatmap import ROW_PITCH

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_en_de_default]

# the word-order pair: 8 source pieces, two of them "▁man / ▁mother", the widest built-in difference
PAIR = EXAMPLES["text"]["Word order"]
FIGURES = ("second − first", "Encoder: how far", "Decoder: how far")  # (part of) the titles checked
TITLES_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .map(el => ((el._fullLayout || {}).title || {}).text || '')"""


@pytest.mark.parametrize("viewport", [SMALL_SCREEN, PROJECTOR], ids=["1280x720", "1920x1080-present"])
def test_pair_figures_keep_their_labels_apart_and_rows_font_tall(app_server, tab, viewport):
    present = viewport is PROJECTOR
    font = 20 if present else 12  # Ctx.font
    page = tab.open(viewport)
    try:
        query = {"view": "pairs", "text": PAIR[0], "text2": PAIR[1], **({"present": "1"} if present else {})}
        page.goto(app_url(app_server, **query))
        page.wait_for_function(  # both attention maps, the difference, both stream shifts: drawn
            "() => document.querySelectorAll('.js-plotly-plot .nsewdrag').length >= 5", timeout=90_000
        )
        wait_idle(page)
        page.wait_for_timeout(500)  # Plotly's responsive resize after the first draw
        if os.environ.get("SCREENSHOTS"):
            Path(os.environ["SCREENSHOTS"]).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(os.environ["SCREENSHOTS"]) / f"pairs-{viewport['width']}.png"))
        titles, margins = page.evaluate(TITLES_JS), page.evaluate(MARGINS_JS)
        for part in FIGURES:
            n = next(i for i, t in enumerate(titles) if part in t)
            xs, ys = tick_boxes(page, n, "x"), tick_boxes(page, n, "y")
            assert len(xs) >= 5 and len(ys) >= 4, (part, xs, ys)  # every label written
            assert not overlapping(xs) and not overlapping(ys), (part, overlapping(xs), overlapping(ys))
            row_px = plot_area(page, n)["height"] / len(
                ys
            )  # the other heatmaps' row pitch, at least the font
            assert row_px >= font * ROW_PITCH - 0.5, (part, row_px, len(ys))
            fig = margins[n]
            assert not fig["outside"] and not fig["under"], fig  # none cut at the edge or under a title
            assert fig["drawn"][:2] == fig["asked"][:2], fig  # the computed left and right margins hold
    finally:
        tab.leave()
