"""Exports in a real browser: what a teacher downloads is named after the model, view and sentence; an
attention heatmap's download (the button under it) and a Plotly figure's (its camera icon) follow the
sidebar's "Figures save as": a PNG, or an SVG, a vector file that names the sentence."""

from __future__ import annotations

import io
from xml.etree import ElementTree

import pytest
from PIL import Image

from tests.support.browser import app_url, wait_idle

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
    page.wait_for_selector(".attn-hm", timeout=90_000)  # the Attention view's heatmaps: HTML, no Plotly
    wait_idle(page)
    names = {}
    for key in ("dl_csv", "dl_json"):
        names[key], _ = download(page, page.locator(f".st-key-{key} button:visible").first.click)
    assert names == {"dl_csv": f"{TOY}_attention_c-a-f-b.csv", "dl_json": f"{TOY}_trace_c-a-f-b.json"}

    # each heatmap has a download under it, in the format the sidebar's "Figures save as" says: PNG at first
    name, data = download(page, page.locator(".st-key-dl_fig_att_head button:visible").first.click)
    assert name == f"{TOY}_attention_encoder_L0_H0_c-a-f-b.png"
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.width >= 400 and image.height >= 300, (image.format, image.size)

    page.locator(".st-key-fig_format").get_by_text("SVG").click()
    for key in ("dl_fig_att_head", "dl_fig_att_mean"):  # the rerun has drawn the SVG buttons (a busy machine
        page.locator(f".st-key-{key} button:visible", has_text="SVG").first.wait_for(
            timeout=60_000
        )  # is slow)
    wait_idle(page)
    for key, head in (("dl_fig_att_head", "H0"), ("dl_fig_att_mean", "mean")):  # a vector file, for slides
        name, data = download(page, page.locator(f".st-key-{key} button:visible").first.click)
        assert name == f"{TOY}_attention_encoder_L0_{head}_c-a-f-b.svg"
        svg = data.decode("utf-8")
        assert svg.lstrip().startswith("<svg") and "“c a f b”" in svg
        root = ElementTree.fromstring(svg)  # well-formed XML
        cells = root.findall(".//{http://www.w3.org/2000/svg}rect/{http://www.w3.org/2000/svg}title")
        assert len(cells) == 5 * 5  # one per query × key: 4 pieces and </s>

    # a Plotly figure (the model view) saves as SVG too: its camera icon follows the same choice
    page.locator(".st-key-panel").get_by_text("Model view").click()
    page.wait_for_selector(".js-plotly-plot .nsewdrag", timeout=60_000)
    wait_idle(page)
    plot = page.locator(".js-plotly-plot").first
    plot.hover()
    name, data = download(page, plot.locator('.modebar-btn[data-title^="Download plot"]').first.click)
    assert name == f"{TOY}_attention_encoder_all-heads_c-a-f-b.svg"
    svg = data.decode("utf-8")
    assert svg.lstrip().startswith("<svg") and "“c a f b”" in svg
