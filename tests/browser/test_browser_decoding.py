"""The Decoding view in a real browser: on a laptop and on a projector, a 30-piece sentence's top-k chart starts
on the first screen, beside the step statement, whose pieces stay text; the step figures' key labels, upright,
stand apart and above their axis title, inside the figure. SCREENSHOTS=DIR also saves each screen."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.browser import (
    MARGINS_JS,
    PROJECTOR,
    SMALL_SCREEN,
    app_url,
    decoder_pieces,
    needs_en_de_default,
    overlapping,
    tick_boxes,
    wait_idle,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    needs_en_de_default,
]

TEACHER = (  # 30 source pieces on en-de (with </s>)
    "When the old teacher finally arrived at the small station near the river, the children who had waited "
    "all afternoon ran to meet her."
)
LONG_SOURCE = (  # 35 source pieces of 13-15 characters on en-de (with </s>)
    "international construction distribution circumstances environmental investigation relationship "
    "responsibility conversation differential registration communication professional contribution "
    "installation consideration accommodation constitution transmission intelligence negotiations "
    "consolidation identification organization depreciation determination interpretation characteristic "
    "jurisdiction surveillance qualification interlocking entschuldigen comprehensive"
)
LONG_TARGET = (  # typed, 34 pieces of 13-16 characters: its last step (34) reads 35 pieces
    "Entscheidung Versicherung Gesellschaft Wohnimmobilie Untersuchung Schwierigkeiten Wissenschaft "
    "Lebensmittel International Öffentlichkeit Arbeitsplatz Verpflichtung Abschreibung Veranstaltung "
    "Vereinbarung Vorschriften Arzneimittel Freundschaft Schauspieler Verantwortung Angelegenheit "
    "Wahrscheinlich Unterstützung Verbesserung Organisation Differential Auswirkungen Lochstreifen "
    "Ermittlungen Zusammenarbeit Persönlichkeit Aufmerksamkeit Inanspruchnahme Verlängerung"
)
TOPK = ".st-key-fig_dec_topk"  # the top-k chart's container (Streamlit's class for a keyed element)
SCREENS = pytest.mark.parametrize(
    "viewport, present", [(SMALL_SCREEN, "0"), (PROJECTOR, "1")], ids=["1280x720", "projector"]
)


def open_decoding(browser, url: str, viewport: dict, present: str, step: int, **query: str):
    """A fresh session at this window size on the Decoding view of TEACHER (or `text=`) at `step`, once its
    charts are drawn."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(app_url(url, view="decoding", **({"text": TEACHER} | query), step=str(step), present=present))
    page.wait_for_selector(f"{TOPK} .nsewdrag", timeout=90_000)
    page.wait_for_selector(".st-key-fig_dec_self .nsewdrag", timeout=90_000)
    wait_idle(page)
    page.wait_for_timeout(500)  # Plotly's responsive resize after the first draw
    return context, page


def _shot(page, name: str) -> None:
    where = os.environ.get("SCREENSHOTS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(where) / name))


def _the_pieces_of_the_listing_are_text(page) -> None:
    """At step 0 the listing shows "<s>" as written: the page gains no <s> (strikethrough) element."""
    listing = page.locator("[data-testid='stCode'] pre").filter(has_text="← predicts")
    first = listing.inner_text().splitlines()[0].split()
    assert first == ["0", "<s>", "←", "reads"]
    assert page.locator(".stMain s").count() == 0


@SCREENS
@pytest.mark.parametrize("last", [False, True], ids=["step0", "last-step"])
def test_the_top_k_chart_starts_on_the_first_screen(app_server, browser, viewport, present, last):
    """With the 30-piece sentence, at its first and its last step (28 pieces read): the bars of the top-k chart
    (Plotly's plot area, not just the title) start inside the window, below the statement's first line and
    beside its listing; at 1280 × 720 half of them show, on the projector all of them. At step 0 at 1280 × 720
    the listing's pieces are text (`_the_pieces_of_the_listing_are_text`)."""
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
        if step == 0 and present == "0":  # the listing's pieces, checked on this same page
            _the_pieces_of_the_listing_are_text(page)
    finally:
        context.close()


@SCREENS
@pytest.mark.parametrize(
    "query",
    [
        {"step": 5},  # the teacher's sentence: 30 source pieces, "▁afternoon" the longest
        {"step": 34, "text": LONG_SOURCE, "target": LONG_TARGET},  # 35 pieces of up to 15 characters a side
    ],
    ids=["teacher", "long-pieces"],
)
def test_the_step_figures_key_labels_stand_apart_above_their_axis_title(
    app_server, browser, viewport, present, query
):
    """The cross- and self-attention figures of a step, their key labels upright: none under the x-axis title
    (a short bottom margin put the title on the longest), none outside the figure, none on another; Plotly
    grew no margin the figure computed from its labels."""
    context, page = open_decoding(browser, app_server, viewport, present, **query)
    try:
        figures = page.evaluate(MARGINS_JS)
        titles = [f["title"] for f in figures]  # the top-k chart, cross-attention, self-attention
        assert len(titles) == 3 and all(t.startswith(f"Step {query['step']}") for t in titles), titles
        for n, fig in enumerate(figures[1:], start=1):
            assert not fig["under"] and not fig["outside"], fig
            assert fig["drawn"] == fig["asked"], fig  # nothing was wider than computed
            keys = tick_boxes(page, n, "x")
            # Plotly writes every k-th key, 1.2 font sizes apart (LABEL_PITCH); an accented capital ("Ö")
            # makes a label's box 2 px taller than the line, not its letters wider: that much may touch
            assert len(keys) >= 6 and not overlapping(keys, slack=2.5), overlapping(keys, slack=2.5)
        mode = "present" if present == "1" else "normal"
        _shot(page, f"decoding_steps_{mode}_{viewport['width']}_step{query['step']}.png")
    finally:
        context.close()
