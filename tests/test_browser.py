"""What a person sees, in a real browser: Playwright drives the system Chromium against `streamlit run app.py`.

UPDATE_SCREENSHOT=1 pytest -m browser tests/test_browser.py  also rewrites docs/screenshot.png.
"""

from __future__ import annotations

import json

import browser_support
import pytest
from browser_support import (
    VIEWPORT,
    app_url,
    decoder_pieces,
    default_model,
    good_sentence,
    heatmap_rows,
    save_readme_screenshot,
    sentence_box,
    set_text,
    source_pieces,
    visible_y_ticks,
    wait_for_heatmaps,
    wait_for_y_ticks,
    wait_idle,
)

# pytest fixtures shared with the load test: one server per module, one Chromium, a fresh context per test
app_server, browser, page = browser_support.app_server, browser_support.browser, browser_support.page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EVIL = "<img src=x onerror=alert(1)>"
OLD_MAN = "The old man saw the old dog near the river."  # the sentence of the row-label issue


def test_typed_sentence_redraws_heatmaps_with_one_row_per_piece(app_server, page, tmp_path):
    """Typing a sentence redraws the head and head-mean heatmaps with one row per source piece."""
    page.goto(app_url(app_server, view="attention"))
    page.wait_for_selector(".js-plotly-plot", timeout=90_000)
    text = good_sentence()
    set_text(page, text)
    pieces = source_pieces(text)
    wait_for_heatmaps(page, rows=len(pieces), count=2, labels=pieces)
    assert heatmap_rows(page) == [len(pieces), len(pieces)]
    page.screenshot(path=str(tmp_path / "attention.png"))
    assert (tmp_path / "attention.png").stat().st_size > 10_000
    save_readme_screenshot(page)


@pytest.mark.skipif(default_model() != "en-de", reason="needs the shipped en-de model as the default")
def test_cross_attention_rows_show_the_piece_each_row_predicts(app_server, page):
    """On en-de, the cross-attention heatmaps' visible row labels are the pieces predicted: the first row is
    the first German piece, not <s>; choosing "piece read" in the control brings <s> back to the top."""
    page.goto(app_url(app_server, view="attention", kind="cross", layer="2", head="0", text=OLD_MAN))
    read, predicted = decoder_pieces(OLD_MAN)
    wait_for_y_ticks(page, predicted, timeout=90_000)
    wait_idle(page)
    ticks = visible_y_ticks(page)
    assert ticks == predicted == visible_y_ticks(page, 1)  # the head and the head mean
    assert ticks[0] == read[1] != "<s>" and ticks[-1] == "</s>"
    title = page.locator(".js-plotly-plot .g-ytitle").first.text_content()
    assert title == "decoder row: piece predicted (next piece)"
    page.locator(".st-key-rows_pick").get_by_role("radio", name="piece read").click()
    wait_for_y_ticks(page, read)
    assert visible_y_ticks(page)[0] == "<s>"
    assert "rows=read" in page.url


def test_html_in_the_sentence_is_shown_as_text(app_server, page):
    """A sentence that is an HTML tag with a script opens no dialog, adds no <img>, and is shown literally."""
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(app_url(app_server, view="io"))
    page.wait_for_selector("[data-testid='stCode']", timeout=90_000)
    set_text(page, EVIL)
    shown = page.locator("[data-testid='stCode']").filter(has_text=EVIL)
    shown.first.wait_for(timeout=60_000)
    wait_idle(page)
    assert shown.first.inner_text().strip() == EVIL
    assert sentence_box(page).input_value() == EVIL
    assert page.locator("img[src='x']").count() == 0
    assert dialogs == []


def test_two_sessions_see_only_their_own_attention(app_server, browser):
    """Two browser sessions submitting different sentences at once each get heatmaps of their own sentence."""
    texts = [good_sentence(), "b a"]
    contexts = [browser.new_context(viewport=VIEWPORT) for _ in texts]
    try:
        pages = [c.new_page() for c in contexts]
        for p in pages:
            p.goto(app_url(app_server, view="attention"))
        for p in pages:
            p.wait_for_selector(".js-plotly-plot", timeout=90_000)
        for p, text in zip(pages, texts, strict=True):
            sentence_box(p).fill(text)
        for p in pages:  # submit both before waiting for either: the two scripts run concurrently
            sentence_box(p).press("Enter")
        for p, text in zip(pages, texts, strict=True):
            pieces = source_pieces(text)
            wait_for_heatmaps(p, rows=len(pieces), count=2, labels=pieces)
            assert heatmap_rows(p) == [len(pieces), len(pieces)]
    finally:
        for c in contexts:
            c.close()


def test_exports_download_the_attention_csv_and_the_trace_json(app_server, page, tmp_path):
    """The sidebar's buttons download the tidy attention CSV and the trace JSON of the current sentence."""
    page.goto(app_url(app_server, view="io", text="c a f b"))
    page.wait_for_selector(".st-key-dl_csv button", timeout=90_000)
    wait_idle(page)
    files = {}
    for key in ("dl_csv", "dl_json"):
        with page.expect_download(timeout=60_000) as info:
            page.locator(f".st-key-{key} button:visible").first.click()
        files[key] = tmp_path / info.value.suggested_filename
        info.value.save_as(files[key])
    header = files["dl_csv"].read_text().splitlines()[0]
    assert header == "layer,head,q_pos,k_pos,query,key,weight,kind,query_read,query_predicted"
    trace = json.loads(files["dl_json"].read_text())
    assert trace["src_text"] == "c a f b" and set(trace["attention"]) == {"encoder", "decoder", "cross"}
