"""The Decoding view in a real browser: on a laptop and on a projector, a 30-piece sentence's top-k chart starts
on the first screen, beside the step statement, whose pieces stay text. SCREENSHOTS=DIR also saves each screen."""

from __future__ import annotations

import os
from pathlib import Path

import browser_support
import pytest
from browser_support import PROJECTOR, SMALL_SCREEN, app_url, decoder_pieces, default_model, wait_idle

app_server, browser, page = browser_support.app_server, browser_support.browser, browser_support.page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(default_model() != "en-de", reason="needs the shipped en-de model as the default"),
]

TEACHER = (  # 30 source pieces on en-de (with </s>)
    "When the old teacher finally arrived at the small station near the river, the children who had waited "
    "all afternoon ran to meet her."
)
TOPK = ".st-key-fig_dec_topk"  # the top-k chart's container (Streamlit's class for a keyed element)
SCREENS = pytest.mark.parametrize(
    "viewport, present", [(SMALL_SCREEN, "0"), (PROJECTOR, "1")], ids=["1280x720", "projector"]
)


def open_decoding(browser, url: str, viewport: dict, present: str, step: int):
    """A fresh session at this window size on the Decoding view of TEACHER at `step`, once its chart is drawn."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(app_url(url, view="decoding", text=TEACHER, step=str(step), present=present))
    page.wait_for_selector(f"{TOPK} .nsewdrag", timeout=90_000)
    wait_idle(page)
    page.wait_for_timeout(500)  # Plotly's responsive resize after the first draw
    return context, page


def _shot(page, name: str) -> None:
    where = os.environ.get("SCREENSHOTS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(where) / name))


@SCREENS
@pytest.mark.parametrize("last", [False, True], ids=["step0", "last-step"])
def test_the_top_k_chart_starts_on_the_first_screen(app_server, browser, viewport, present, last):
    """With the 30-piece sentence, at its first and its last step (28 pieces read): the bars of the top-k chart
    (Plotly's plot area, not just the title) start inside the window, below the statement's first line and
    beside its listing; at 1280 × 720 half of them show, on the projector all of them."""
    read, _ = decoder_pieces(TEACHER)
    step = len(read) - 1 if last else 0
    context, page = open_decoding(browser, app_server, viewport, present, step)
    try:
        area = page.locator(f"{TOPK} .nsewdrag").bounding_box()  # Plotly's drag layer covers the plot area
        height = viewport["height"]
        assert 0 <= area["y"] < height, f"the bars start at {area['y']:.0f} px"
        if present == "1":
            assert area["y"] + area["height"] <= height, (
                f"the bars end at {area['y'] + area['height']:.0f} px"
            )
        else:
            assert area["y"] + area["height"] / 2 <= height, f"the bars start at {area['y']:.0f} px"
        listing = page.locator("[data-testid='stCode'] pre").filter(has_text="← predicts").bounding_box()
        assert listing["x"] + listing["width"] <= area["x"]  # side by side: the listing left of the chart
        assert listing["y"] < height
        _shot(
            page, f"decoding_{'present' if present == '1' else 'normal'}_{viewport['width']}_step{step}.png"
        )
    finally:
        context.close()


def test_the_pieces_of_the_listing_are_text(app_server, browser):
    """At step 0 the listing shows "<s>" as written: the page gains no <s> (strikethrough) element."""
    context, page = open_decoding(browser, app_server, SMALL_SCREEN, "0", 0)
    try:
        listing = page.locator("[data-testid='stCode'] pre").filter(has_text="← predicts")
        first = listing.inner_text().splitlines()[0].split()
        assert first == ["0", "<s>", "←", "reads"]
        assert page.locator(".stMain s").count() == 0
    finally:
        context.close()
