"""What keeps one server fast enough for a class: no file watcher, a frozen heap, figures built once.

benchmarks/app_benchmark.py measures the server's CPU per click in a browser; these check the parts
that make it cheap, and that sharing built figures between sessions is safe.
"""

from __future__ import annotations

import gc
import json
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

import viz
from app_support import models
from app_support.views import _with_sentence
from app_support.views import anatomy as anatomy_view
from transformer import available_models

ROOT = Path(__file__).resolve().parents[2]


def test_the_served_configuration_runs_no_file_watcher():
    """A watcher walks the script's folder (and a .venv in it) on every file event: the app serves without one."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["fileWatcherType"] == "none"
    assert config["server"]["runOnSave"] is False
    assert "fileWatcherType auto" in (ROOT / "README.md").read_text(encoding="utf-8")  # how to turn it on


def test_finish_sets_the_same_template_as_plotly_would():
    """The template set without Plotly re-validating it gives the figure Plotly's own validated path gives."""
    w = np.random.default_rng(0).random((5, 5))
    pieces = ["▁a", "▁b", "<c>", "▁d", "</s>"]
    fig = viz.attention_heatmap(w, pieces, pieces, kind="decoder")
    validated = go.Figure(fig).update_layout(template="plotly_white")
    assert json.loads(fig.to_json()) == json.loads(validated.to_json())
    assert fig.layout.template.layout.plot_bgcolor == "white"


def build(values, labels, *, title="", scale=1.0) -> go.Figure:
    return go.Figure(go.Heatmap(z=np.asarray(values) * scale, y=labels), layout={"title": {"text": title}})


def test_figure_is_built_once_for_the_same_inputs_and_again_when_one_changes():
    models._figure.clear()
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    first = models.figure(build, a, ["x", "y"], title="t")
    assert models.figure(build, a.copy(), ["x", "y"], title="t") is first  # same bytes: the same figure
    b = a.copy()
    b[1, 2] = 7.5  # one value
    changed = [
        models.figure(build, b, ["x", "y"], title="t"),
        models.figure(build, a, ["x", "z"], title="t"),  # a label
        models.figure(build, a, ("x", "y"), title="t"),  # a tuple is not a list
        models.figure(build, a, ["x", "y"], title="u"),  # a keyword
        models.figure(build, a, ["x", "y"], title="t", scale=1),  # an int is not the float 1.0
        models.figure(build, a.astype(np.float64), ["x", "y"], title="t"),  # a dtype
        models.figure(build, a.reshape(3, 2), ["x", "y"], title="t"),  # a shape
    ]
    assert all(fig is not first for fig in changed)
    assert len({id(fig) for fig in changed}) == len(changed)


def test_figure_of_an_argument_without_a_key_is_built_every_time():
    """A lambda, or an object the key cannot describe, is never mistaken for another: no cache."""
    a = np.ones((2, 2))
    labels = pd.Series(["x", "y"])
    assert models.figure(build, a, labels) is not models.figure(build, a, labels)
    one, two = (lambda v, lab: build(v, lab)), (lambda v, lab: build(v, lab, scale=2.0))
    assert models.figure(one, a, ["x", "y"]) is not models.figure(two, a, ["x", "y"])


def test_a_figure_with_the_sentence_is_marked_so_chart_adds_nothing():
    fig = _with_sentence("The house is old.", build, np.ones((2, 2)), ["a", "b"], title="t")
    assert fig._with_sentence and "The house is old." in fig.layout.title.subtitle.text


def test_loading_a_model_freezes_the_heap():
    """Streamlit collects garbage after every run; what lives as long as the process is frozen out of it."""
    name = next(iter(available_models()))
    path = str(available_models()[name])
    models.load_model.clear()
    gc.unfreeze()
    models.load_model(path, models.stamp(path))
    assert gc.get_freeze_count() > 10_000


@pytest.mark.slow
@pytest.mark.skipif("en-de" not in available_models(), reason="needs the shipped en-de model")
def test_no_view_changes_a_figure_it_shares(monkeypatch):
    """Every figure models.figure hands out is exactly as built after every view has drawn twice, in two
    sessions with different sentences: nothing a session shows can be changed by another's view. The
    Attention view's heatmaps are HTML strings (`viz.attention_html`), immutable: counted, never a Plotly
    figure a view could change."""
    handed: list[tuple[go.Figure, str]] = []
    html: list[str] = []
    real = models.figure

    def recording(build_, *args, **kwargs):
        fig = real(build_, *args, **kwargs)
        if isinstance(fig, str):
            html.append(fig)
        else:
            handed.append((fig, fig.to_json()))
        return fig

    monkeypatch.setattr(models, "figure", recording)
    pages = [{"view": "attention"}] + [
        {"view": "anatomy", "section": str(n)} for n in anatomy_view.SECTION_TITLES
    ]
    for text in ("The house is old.", "The old man saw the old dog near the river."):
        for page in pages:
            at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
            at.query_params.update(text=text, model="en-de", kind="cross", **page)
            at.run()
            assert not at.exception, [e.value for e in at.exception]
            assert not at.error, [e.value for e in at.error]
            if any(w.key == "head" for w in at.segmented_control):  # the sections that dissect one head
                at.segmented_control(key="head").set_value(1).run()
            at.run()
            assert not at.exception, [e.value for e in at.exception]
            assert not at.error, [e.value for e in at.error]
    assert len(handed) > 40 and html and all("attn-hm" in h for h in html)
    changed = [fig.layout.title.text for fig, before in handed if fig.to_json() != before]
    assert changed == []
