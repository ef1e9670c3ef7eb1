"""Exports for slides: every figure saves as PNG or SVG, named after the model, view and sentence, and
says in its subtitle which sentence it shows; the CSV and JSON downloads are named the same way.

The Attention view's two heatmaps (head and mean) are HTML (`viz.attention_html`), not Plotly: each has
its own download button under it, which follows the sidebar's "Figures save as" as Plotly's camera icon
does: a PNG (`viz.attention_png`, 2×) by default, an SVG (`viz.attention_svg`) once SVG is chosen."""

from __future__ import annotations

import inspect
import io
import json
import xml.etree.ElementTree as ET

import plotly.graph_objects as go
import pytest
from PIL import Image
from streamlit.runtime.media_file_manager import MediaFileManager

from app_support import export, registry
from tests.support.apptest import (
    TOY,
    anatomy_sections,
    assert_clean,
    attention_maps,
    figures,
    needs_toy,
    run_app,
)

TEXT = "c a f b"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The house is old.", "the-house-is-old"),
        ("Größe über alles", "grosse-uber-alles"),
        ("../../etc/passwd <script>alert(1)</script>", "etc-passwd-script-alert-1-script"),
        (
            "The animal did not cross the street because it was too tired.",
            "the-animal-did-not-cross-the-street",
        ),
        ("a" * 100, "a" * export.SLUG_LIMIT),
        ("", ""),
        ("  \t ", ""),
    ],
)
def test_slug_keeps_safe_characters_and_cuts_at_a_word(text, expected):
    assert export.slug(text) == expected


def test_slug_of_a_sentence_without_ascii_letters_is_a_short_hash():
    """日本語 or emoji: "text-" and 8 hex digits, different for different sentences."""
    a, b = export.slug("日本語のテキスト"), export.slug("🙂🙂")
    assert a.startswith("text-") and len(a) == 13 and a != b
    assert export.slug("c \ud800 a") == "c-a"  # a lone surrogate does not break it


def test_with_sentence_puts_the_escaped_sentence_in_the_subtitle_and_keeps_one():
    fig = export.with_sentence(go.Figure(layout={"title": {"text": "short"}}), "<b>bold</b>\nnext  line")
    assert fig.layout.title.text == "short"
    assert fig.layout.title.subtitle.text == "“&lt;b&gt;bold&lt;/b&gt; next line”"
    fig = go.Figure(layout={"title": {"text": "t", "subtitle": {"text": "y: rows"}}})
    assert export.with_sentence(fig, "x" * 500).layout.title.subtitle.text == f"y: rows · “{'x' * 89}…”"
    assert export.with_sentence(fig, "x" * 500) is fig and fig.layout.title.subtitle.text.count("“") == 1


def test_plotly_config_saves_png_or_svg():
    png = export.plotly_config("a/b c", fmt="png")["toImageButtonOptions"]
    assert png == {"format": "png", "filename": "a-b-c", "scale": 2}
    assert export.plotly_config("x", fmt="svg")["toImageButtonOptions"] == {"format": "svg", "filename": "x"}
    assert export.plotly_config("x", fmt="<bad>")["toImageButtonOptions"]["format"] == "png"


def chart_configs(at) -> list[dict]:
    return [json.loads(el.proto.config) for el in at.get("plotly_chart")]


HTML_FIGURES = ("fig_att_head", "fig_att_mean")  # the Attention view's HTML heatmaps (container keys)
LABELS = {"png": "Download (PNG)", "svg": "Download (SVG, for slides)"}
MIMES = {"png": "image/png", "svg": "image/svg+xml"}


@pytest.fixture
def deferred(monkeypatch) -> dict:
    """Every deferred download the app registers (data made when clicked), by file id: (file name, mime,
    the callable). AppTest's media file manager is gone once a run ends, so it is recorded on the way in."""
    made: dict[str, tuple] = {}
    real = MediaFileManager.add_deferred
    signature = inspect.signature(real)

    def add_deferred(self, *args, **kwargs):
        file_id = real(self, *args, **kwargs)
        bound = signature.bind(self, *args, **kwargs).arguments
        made[file_id] = (bound.get("file_name"), bound.get("mimetype"), bound["data_callable"])
        return file_id

    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)
    return made


def heatmap_downloads(at, deferred: dict, fmt: str = "png") -> list[tuple[str, str, object]]:
    """(file name, mime, data callable) of each HTML heatmap's download button, in page order, after
    checking each button says the format `fmt` the sidebar has chosen."""
    buttons = [
        b for b in at.get("download_button") if b.proto.id.endswith(tuple(f"dl_{k}" for k in HTML_FIGURES))
    ]
    assert all(b.proto.label == LABELS[fmt] for b in buttons), [b.proto.label for b in buttons]
    return [deferred[b.proto.deferred_file_id] for b in buttons]


@needs_toy
@pytest.mark.parametrize(  # a view that stands alone shows no sentence (Train live: test_app_train.py)
    "view", [v for v in registry.titles() if v != "io" and not registry.view(v).stands_alone]
)
def test_every_figure_names_the_model_view_and_sentence_and_shows_the_sentence(view, deferred):
    at = run_app(model=TOY, view=view, text=TEXT)
    assert_clean(at)
    figs, configs, hms, downloads = (
        figures(at),
        chart_configs(at),
        attention_maps(at),
        heatmap_downloads(at, deferred),
    )
    if view == "anatomy":  # one section at a time: every figure of the walk
        for _ in anatomy_sections(at):
            assert_clean(at)
            figs, configs = figs + figures(at), configs + chart_configs(at)
            hms, downloads = hms + attention_maps(at), downloads + heatmap_downloads(at, deferred)
    assert figs or hms or view not in ("attention", "positional", "embeddings", "decoding", "anatomy")
    if view == "attention":  # the one-head-and-mean panel, the view's default: HTML, two heatmaps
        assert len(hms) == len(downloads) == 2
    for fig, config in zip(figs, configs, strict=True):
        name = config["toImageButtonOptions"]["filename"]
        assert name.startswith(f"{TOY}_{view}_") and name.endswith("_c-a-f-b"), name
        assert "“c a f b”" in fig["layout"]["title"]["subtitle"]["text"], fig["layout"]["title"]
    for hm, (name, mime, _) in zip(hms, downloads, strict=True):  # an HTML heatmap and the button under it
        assert hm.subtitle == "“c a f b”", hm.subtitle
        assert name.startswith(f"{TOY}_{view}_") and name.endswith("_c-a-f-b.png"), name  # PNG by default
        assert mime == "image/png"
    names = [c["toImageButtonOptions"]["filename"] for c in configs] + [
        name.removesuffix(".png") for name, *_ in downloads
    ]
    assert len(set(names)) == len(names), names  # one name each


@needs_toy
def test_the_html_heatmaps_png_and_svg_are_named_after_the_figure_and_show_it(deferred):
    """PNG by default, SVG once the sidebar says so: the model, view, kind, layer, head and sentence in each
    file's name. The PNG is a picture big enough to read (2× the SVG, at least as big as the page's
    figure); the SVG is standalone with the same title, pieces and sentence as the heatmap on the page."""
    at = run_app(model=TOY, view="attention", text=TEXT, layer="1", head="2")
    assert_clean(at)
    (head, mean), pngs = attention_maps(at), heatmap_downloads(at, deferred, "png")
    assert "H2" in head.title and "mean" in mean.title and mean.subtitle == head.subtitle == "“c a f b”"
    assert [(name, mime) for name, mime, _ in pngs] == [
        (f"{TOY}_attention_encoder_L1_H2_c-a-f-b.png", "image/png"),
        (f"{TOY}_attention_encoder_L1_mean_c-a-f-b.png", "image/png"),
    ]
    images = [Image.open(io.BytesIO(make())) for *_, make in pngs]
    assert all((im.format, im.mode) == ("PNG", "RGB") for im in images)

    at.radio(key="fig_format").set_value("svg").run()
    assert_clean(at)
    assert [hm.title for hm in attention_maps(at)] == [head.title, mean.title]  # the same figures
    svgs = heatmap_downloads(at, deferred, "svg")
    assert [(name, mime) for name, mime, _ in svgs] == [
        (f"{TOY}_attention_encoder_L1_H2_c-a-f-b.svg", "image/svg+xml"),
        (f"{TOY}_attention_encoder_L1_mean_c-a-f-b.svg", "image/svg+xml"),
    ]
    for hm, image, (*_, make) in zip((head, mean), images, svgs, strict=True):
        svg = ET.fromstring(make())
        texts = ["".join(t.itertext()) for t in svg.iter("{http://www.w3.org/2000/svg}text")]
        assert svg.find("{http://www.w3.org/2000/svg}title").text == hm.title
        assert "“c a f b”" in texts and hm.title in texts
        assert set(hm.y_shown + hm.x_labels) <= set(texts)
        width, height = float(svg.get("width")), float(svg.get("height"))
        assert abs(image.width - 2 * width) <= 1 and abs(image.height - 2 * height) <= 1  # the PNG at 2×
        assert image.width >= 600 and image.height >= 600  # 5 × 5 cells, 24 px text: readable on a slide


@needs_toy
def test_the_sidebar_switches_every_figure_and_both_html_heatmaps_between_png_and_svg(deferred):
    """The sidebar's "Figures save as" sets the format of Plotly's camera icon and of the download button
    under each of the Attention view's HTML heatmaps, in every view, until it is changed back."""

    def html_formats(fmt: str) -> set[tuple[str, str]]:
        found = heatmap_downloads(at, deferred, fmt)
        assert len(found) == 2
        return {(name.rsplit(".", 1)[-1], mime) for name, mime, _ in found}

    at = run_app(model=TOY, view="attention", text=TEXT)
    assert html_formats("png") == {("png", "image/png")}
    at.segmented_control(key="panel").set_value("model").run()  # the model view is Plotly
    assert {c["toImageButtonOptions"]["format"] for c in chart_configs(at)} == {"png"}
    at.radio(key="fig_format").set_value("svg").run()
    assert_clean(at)
    assert {c["toImageButtonOptions"]["format"] for c in chart_configs(at)} == {"svg"}
    at.segmented_control(key="panel").set_value("heatmaps").run()
    assert html_formats("svg") == {("svg", "image/svg+xml")}
    at.segmented_control(key=registry.picker_key("positional")).set_value(
        "positional"
    ).run()  # the choice holds across views
    assert {c["toImageButtonOptions"]["format"] for c in chart_configs(at)} == {"svg"}
    at.segmented_control(key=registry.picker_key("attention")).set_value("attention").run()
    assert html_formats("svg") == {("svg", "image/svg+xml")}
    at.radio(key="fig_format").set_value("png").run()
    assert_clean(at)
    assert html_formats("png") == {("png", "image/png")}  # and back
