"""Exports in a real browser: what a teacher downloads is named after the model, view and sentence, and
a figure saved as SVG (the sidebar's "Figures save as") is a vector file that names the sentence."""

from __future__ import annotations

import browser_support
import pytest
from browser_support import app_url, wait_idle

app_server, browser, page = browser_support.app_server, browser_support.browser, browser_support.page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TOY = "reverse"
TEXT = "c a f b"


def download(page, click) -> tuple[str, bytes]:
    with page.expect_download(timeout=60_000) as info:
        click()
    path = info.value.path()
    return info.value.suggested_filename, open(path, "rb").read()


def test_downloads_are_named_after_model_view_and_sentence(app_server, page):
    page.goto(app_url(app_server, model=TOY, view="attention", text=TEXT))
    page.wait_for_selector(".js-plotly-plot", timeout=90_000)
    wait_idle(page)
    names = {}
    for key in ("dl_csv", "dl_json"):
        names[key], _ = download(page, page.locator(f".st-key-{key} button:visible").first.click)
    assert names == {"dl_csv": f"{TOY}_attention_c-a-f-b.csv", "dl_json": f"{TOY}_trace_c-a-f-b.json"}

    page.locator(".st-key-fig_format").get_by_text("SVG").click()
    wait_idle(page)
    plot = page.locator(".js-plotly-plot").first
    plot.hover()
    name, data = download(page, plot.locator('.modebar-btn[data-title^="Download plot"]').first.click)
    assert name == f"{TOY}_attention_encoder_L0_H0_c-a-f-b.svg"
    svg = data.decode("utf-8")
    assert svg.lstrip().startswith("<svg") and "“c a f b”" in svg
