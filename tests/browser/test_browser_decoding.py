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


def open_decoding(tab, url: str, viewport: dict, present: str, step: int, **query: str):
    """A fresh session at this window size on the Decoding view of TEACHER (or `text=`) at `step`, once its
    charts are drawn."""
    page = tab.open(viewport)
    page.goto(app_url(url, view="decoding", **({"text": TEACHER} | query), step=str(step), present=present))
    page.wait_for_selector(f"{TOPK} .nsewdrag", timeout=90_000)
    page.wait_for_selector(".st-key-fig_dec_self .nsewdrag", timeout=90_000)
    wait_idle(page)
    page.wait_for_timeout(500)  # Plotly's responsive resize after the first draw
    return page


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


def _top_k_on_the_first_screen(page, viewport: dict, present: str) -> None:
    """The bars of the top-k chart (Plotly's plot area, not just the title) start inside the window, below the
    statement's first line and beside its listing; at 1280 × 720 half of them show, on the projector all."""
    area = page.locator(f"{TOPK} .nsewdrag").bounding_box()  # Plotly's drag layer covers the plot area
    height = viewport["height"]
    assert 0 <= area["y"] < height, f"the bars start at {area['y']:.0f} px"
    if present == "1":
        assert area["y"] + area["height"] <= height, f"the bars end at {area['y'] + area['height']:.0f} px"
    else:
        assert area["y"] + area["height"] / 2 <= height, f"the bars start at {area['y']:.0f} px"
    listing = page.locator("[data-testid='stCode'] pre").filter(has_text="← predicts").bounding_box()
    assert listing["x"] + listing["width"] <= area["x"]  # side by side: the listing left of the chart
    assert listing["y"] < height


def _step_figures_keep_their_labels(page, step: int) -> None:
    """The cross- and self-attention figures of a step, their key labels upright: none under the x-axis title
    (a short bottom margin put the title on the longest), none outside the figure, none on another; Plotly
    grew no margin the figure computed from its labels."""
    figures = page.evaluate(MARGINS_JS)
    titles = [f["title"] for f in figures]  # the top-k chart, cross-attention, self-attention
    assert len(titles) == 3 and all(t.startswith(f"Step {step}") for t in titles), titles
    for n, fig in enumerate(figures[1:], start=1):
        assert not fig["under"] and not fig["outside"], fig
        assert fig["drawn"] == fig["asked"], fig  # nothing was wider than computed
        keys = tick_boxes(page, n, "x")
        # Plotly writes every k-th key, 1.2 font sizes apart (LABEL_PITCH); an accented capital ("Ö")
        # makes a label's box 2 px taller than the line, not its letters wider: that much may touch
        assert len(keys) >= 6 and not overlapping(keys, slack=2.5), overlapping(keys, slack=2.5)


def _to_the_last_step(page, step: int, present: str) -> None:
    """The step slider to its end (the keyboard, as a person without a mouse would), in the same session:
    presentation mode folds the controls, so they are unfolded for it and folded again."""
    controls = page.locator("[data-testid='stExpander'] summary").filter(has_text="Controls")
    if present == "1":
        controls.click()
    page.locator(".st-key-step input").focus()  # react-aria's range input, visually hidden
    page.keyboard.press("End")
    page.wait_for_function(
        "s => Array.from(document.querySelectorAll('.js-plotly-plot')).length === 3 && Array.from("
        "document.querySelectorAll('.js-plotly-plot')).every(el => (el.layout.title.text || '').startsWith(s))",
        arg=f"Step {step}",
        timeout=60_000,
    )
    wait_idle(page)
    if present == "1":
        controls.click()
    page.wait_for_timeout(500)  # Plotly's responsive resize after a redraw


@SCREENS
def test_the_top_k_chart_starts_on_the_first_screen_at_the_first_and_last_step(
    app_server, tab, viewport, present
):
    """With the 30-piece sentence, at its first step and, in the same session, its last (28 pieces read): the
    top-k chart on the first screen (`_top_k_on_the_first_screen`); at step 0 at 1280 × 720 the listing's pieces
    are text; at the last step the step figures keep their labels (`_step_figures_keep_their_labels`: the longest
    self-attention keys of the sentence, its 30 source pieces with "▁afternoon" the longest)."""
    read, _ = decoder_pieces(TEACHER)
    page = open_decoding(tab, app_server, viewport, present, 0)
    mode = "present" if present == "1" else "normal"
    try:
        _top_k_on_the_first_screen(page, viewport, present)
        _shot(page, f"decoding_{mode}_{viewport['width']}_step0.png")
        if present == "0":  # the listing's pieces, checked on this same page
            _the_pieces_of_the_listing_are_text(page)
        last = len(read) - 1
        _to_the_last_step(page, last, present)
        _top_k_on_the_first_screen(page, viewport, present)
        _step_figures_keep_their_labels(page, last)
        _shot(page, f"decoding_{mode}_{viewport['width']}_step{last}.png")
    finally:
        tab.leave()


@SCREENS
def test_the_step_figures_key_labels_stand_apart_above_their_axis_title(app_server, tab, viewport, present):
    """35 pieces of up to 15 characters a side, the last step (`_step_figures_keep_their_labels`)."""
    page = open_decoding(tab, app_server, viewport, present, 34, text=LONG_SOURCE, target=LONG_TARGET)
    try:
        _step_figures_keep_their_labels(page, 34)
        _shot(
            page, f"decoding_steps_{'present' if present == '1' else 'normal'}_{viewport['width']}_step34.png"
        )
    finally:
        tab.leave()
