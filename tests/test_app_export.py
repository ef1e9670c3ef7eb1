"""Exports for slides: every figure saves as PNG or SVG, named after the model, view and sentence, and
says in its subtitle which sentence it shows; the CSV and JSON downloads are named the same way."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import pytest

from app_support import export, state
from tests.test_app import TOY, anatomy_sections, assert_clean, figures, needs_toy, run_app

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


@needs_toy
@pytest.mark.parametrize("view", [v for v in state.VIEWS if v != "io"])
def test_every_figure_names_the_model_view_and_sentence_and_shows_the_sentence(view):
    at = run_app(model=TOY, view=view, text=TEXT)
    assert_clean(at)
    figs, configs = figures(at), chart_configs(at)
    if view == "anatomy":  # one section at a time: every figure of the walk
        for _ in anatomy_sections(at):
            assert_clean(at)
            figs, configs = figs + figures(at), configs + chart_configs(at)
    assert figs or view not in ("attention", "positional", "embeddings", "decoding", "anatomy")
    for fig, config in zip(figs, configs, strict=True):
        name = config["toImageButtonOptions"]["filename"]
        assert name.startswith(f"{TOY}_{view}_") and name.endswith("_c-a-f-b"), name
        assert "“c a f b”" in fig["layout"]["title"]["subtitle"]["text"], fig["layout"]["title"]
    assert len({c["toImageButtonOptions"]["filename"] for c in configs}) == len(configs)  # one name each


@needs_toy
def test_the_sidebar_switches_every_figure_to_svg():
    at = run_app(model=TOY, view="attention", text=TEXT)
    assert {c["toImageButtonOptions"]["format"] for c in chart_configs(at)} == {"png"}
    at.radio(key="fig_format").set_value("svg").run()
    assert_clean(at)
    assert {c["toImageButtonOptions"]["format"] for c in chart_configs(at)} == {"svg"}
    at.segmented_control(key="view").set_value("positional").run()  # the choice holds across views
    assert {c["toImageButtonOptions"]["format"] for c in chart_configs(at)} == {"svg"}
