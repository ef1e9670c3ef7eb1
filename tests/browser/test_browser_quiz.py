"""The quiz in a real browser (issue 11, item 5): open a quiz round's URL, click an English piece, see the
reveal and the score. SCREENSHOTS=DIR also saves what the page looked like before and after the click."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.browser import app_url, needs_en_de_default, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

APPLE = "The boy eats an apple."  # in eval/everyday_en_de.json: "Der Junge isst einen Apfel."


def _shot(page, name: str) -> None:
    where = os.environ.get("SCREENSHOTS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(where) / name), full_page=True)


@needs_en_de_default
def test_quiz_round_url_click_reveals_attention_and_keeps_score(app_server, page):
    """qpiece=7 asks about ▁Apfel; nothing is drawn until ▁apple is clicked; then the model's attention row,
    the hand alignment and a score of 1 / 1 appear, and the next round keeps the score."""
    page.goto(app_url(app_server, view="quiz", text=APPLE, qpiece="7", qlayer="2"))
    pills = page.locator(".st-key-quiz_pick")
    pills.wait_for(timeout=90_000)
    wait_idle(page)
    assert "Apfel" in page.get_by_role("heading", name="Which English piece").inner_text()
    assert page.locator(".js-plotly-plot").count() == 0  # the attention stays hidden
    _shot(page, "quiz-question.png")

    pills.get_by_role("radio", name="▁apple", exact=True).click()
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    wait_idle(page)
    assert page.get_by_text("Yes: you picked").count() == 1
    assert page.get_by_text("Hand alignment:").count() == 1
    metrics = page.locator("[data-testid='stMetricValue']").all_inner_texts()
    assert metrics[:2] == ["1 / 1", "1 / 1"]
    assert "qpiece=7" in page.url and "view=quiz" in page.url
    _shot(page, "quiz-reveal.png")

    page.locator(".st-key-quiz_next button").click()  # ▁Apfel was the last marked word: the next sentence
    page.wait_for_function("() => !location.href.includes('qpiece=7')", timeout=60_000)
    wait_idle(page)
    assert page.locator(".js-plotly-plot").count() == 0
    metrics = page.locator("[data-testid='stMetricValue']").all_inner_texts()
    assert metrics[:2] == ["1 / 1", "1 / 1"]
