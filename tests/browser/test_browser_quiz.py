"""The quiz in a real browser (issue 11, item 5): open a quiz round's URL, click an English word, see the
reveal and the score; question, answers and reveal on one screen of a laptop (1280 × 720) and of a projector
(1920 × 1080, presentation mode) (issue 24, item 4). SCREENSHOTS=DIR also saves what the page looked like."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app_support.quiz import BUILT_IN
from tests.support import browser as bs

pytestmark = [pytest.mark.browser, pytest.mark.slow]

APPLE = "The boy eats an apple."  # in eval/everyday_en_de.json: "Der Junge isst einen Apfel."


def _shot(page, name: str, full_page: bool = True) -> None:
    where = os.environ.get("SCREENSHOTS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(where) / name), full_page=full_page)


@bs.needs_en_de_default
def test_quiz_round_url_click_reveals_attention_and_keeps_score(app_server, page):
    """qpiece=7 asks about Apfel; nothing is drawn until "apple" is clicked; then the model's attention row,
    the hand alignment and a score of 1 / 1 appear, and the next round keeps the score."""
    page.goto(bs.app_url(app_server, view="quiz", text=APPLE, qpiece="7", qlayer="2"))
    pills = page.locator(".st-key-quiz_pick")
    pills.wait_for(timeout=90_000)
    bs.wait_idle(page)
    assert "Apfel" in page.get_by_role("heading", name="Which English word").inner_text()
    assert page.locator(".js-plotly-plot").count() == 0  # the attention stays hidden
    _shot(page, "quiz-question.png")

    pills.get_by_role("radio", name="apple", exact=True).click()
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    bs.wait_idle(page)
    assert page.get_by_text("Yes: the model reads").count() == 1
    assert page.get_by_text("Hand alignment:").count() == 1
    metrics = page.locator("[data-testid='stMetricValue']").all_inner_texts()
    assert metrics[:2] == ["1 / 1", "1 / 1"]
    bs.wait_for_link(page, "qpiece=7", "view=quiz")
    assert "qpiece=7" in page.url and "view=quiz" in page.url
    _shot(page, "quiz-reveal.png")

    page.locator(".st-key-quiz_next button").click()  # ▁Apfel was the last marked word: the next sentence
    page.wait_for_function("() => !location.href.includes('qpiece=7')", timeout=60_000)
    bs.wait_idle(page)
    assert page.locator(".js-plotly-plot").count() == 0
    metrics = page.locator("[data-testid='stMetricValue']").all_inner_texts()
    assert metrics[:2] == ["1 / 1", "1 / 1"]


def _on_screen(box: dict | None, viewport: dict) -> bool:
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"]


@bs.needs_en_de_default
@pytest.mark.parametrize("viewport", [bs.SMALL_SCREEN, bs.PROJECTOR], ids=["1280x720", "1920x1080-present"])
def test_question_answers_and_reveal_fit_one_screen(app_server, tab, viewport):
    """A built-in sentence's first round: the question and every answer button on the first screen; after a
    click, the reveal chart too, its word labels neither bs.overlapping nor outside the figure."""
    page = tab.open(viewport)
    present = {"present": "1"} if viewport is bs.PROJECTOR else {}
    try:
        page.goto(bs.app_url(app_server, view="quiz", text=BUILT_IN[0], **present))
        pills = page.locator(".st-key-quiz_pick")
        pills.wait_for(timeout=90_000)
        bs.wait_idle(page)
        question = page.get_by_role("heading", name="Which English word")
        pills.get_by_role("radio").first.wait_for(timeout=60_000)
        buttons = pills.get_by_role("radio").all()
        assert len(buttons) >= 7  # I know that she speaks German . </s>
        for element in [question, *buttons]:
            assert _on_screen(element.bounding_box(), viewport), element
        buttons[0].click()
        page.locator(".js-plotly-plot .nsewdrag").first.wait_for(timeout=60_000)
        bs.wait_idle(page)
        page.wait_for_timeout(500)  # Plotly's responsive resize after the first draw
        for element in [question, *buttons, page.locator(".js-plotly-plot")]:
            assert _on_screen(element.bounding_box(), viewport), element
        assert not bs.overlapping(bs.tick_boxes(page, 0, "x"))
        (fig,) = page.evaluate(bs.MARGINS_JS)
        assert not fig["outside"] and not fig["under"], fig
        _shot(page, f"quiz-one-screen-{viewport['width']}.png", full_page=False)
    finally:
        tab.leave()
