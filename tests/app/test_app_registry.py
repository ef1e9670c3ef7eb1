"""Adding a view is one module and one line in the registry (app_support.registry, issue 20 item 1).

A small view is written to a temporary module, imported, and added to `registry.VIEWS` (the one line a
new view adds); the app then offers it in the picker, reads and writes its own URL parameter, and names
its exported figures after it, with nothing else changed. The registry's own rules (one name each, a
group the picker has, parameters that do not collide) are checked on the shipped views.
"""

from __future__ import annotations

import importlib
import json
import sys

import pytest

from app_support import registry, state
from tests.support.apptest import TOY, assert_clean, needs_toy, run_app

PROBE = '''
"""A view for the registry test: one figure and one URL parameter of its own."""

import plotly.graph_objects as go
import streamlit as st

from app_support.state import number
from app_support.views import Ctx, View, chart


def render(ctx: Ctx) -> None:
    st.markdown(f"Probe number {st.session_state['probe_n']}")
    chart(ctx, go.Figure(go.Bar(y=[1, st.session_state["probe_n"]])), "fig_probe", "bars")


VIEW = View(
    "probe", "Probe", "Experiment", "§0, a test", render,
    params=(number("probe_n", "probe_n", 1, 1, 9, "a number from 1 to 9 (the registry test)"),),
)
'''
TEXT = "c a f b d"


@pytest.fixture
def probe(tmp_path, monkeypatch):
    """The probe view, registered the way a new view is: its module, and one more entry in registry.VIEWS."""
    (tmp_path / "probe_view.py").write_text(PROBE)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("probe_view")
    monkeypatch.setattr(registry, "VIEWS", [*registry.VIEWS, module.VIEW])
    yield module.VIEW
    sys.modules.pop("probe_view", None)


def test_a_new_view_brings_its_parameter_into_the_url_codec(probe):
    params = registry.params([TOY])
    values, notices = state.parse_query({"view": "probe", "probe_n": "7"}, params)
    assert values == {"view": "probe", "probe_n": 7} and not notices
    ss = {**registry.defaults(), "text": "x", "model": TOY, **values}
    assert state.to_query(ss, params)["probe_n"] == "7"
    assert "probe_n" not in state.to_query({**ss, "probe_n": 1}, params)  # its default stays out of links
    _, notices = state.parse_query({"probe_n": "12"}, params)
    assert notices and "`probe_n`" in notices[0]
    assert "probe_n" in registry.url_scheme() and "view=probe" in registry.url_scheme()


@needs_toy
def test_a_new_view_is_in_the_picker_the_link_and_the_export_names(probe):
    at = run_app(model=TOY, text=TEXT, view="probe", probe_n="7")
    assert_clean(at)
    picker = at.segmented_control(key=registry.picker_key("probe"))
    assert picker.value == "probe" and "Probe" in picker.options
    assert any("Probe number 7" in m.value for m in at.markdown)
    assert at.query_params["view"] == "probe" and at.query_params["probe_n"] == "7"  # written back
    config = json.loads(at.get("plotly_chart")[0].proto.config)
    assert config["toImageButtonOptions"]["filename"] == f"{TOY}_probe_bars_c-a-f-b-d"
    at.segmented_control(key=registry.picker_key("attention")).set_value("attention").run()
    assert_clean(at)
    assert at.session_state["view"] == "attention" and picker.key not in dict(at.query_params)
    assert at.segmented_control(key=registry.picker_key("probe")).value is None  # its row shows no choice


def test_the_registry_names_each_view_once_in_a_group_of_the_picker():
    names = [v.name for v in registry.VIEWS]
    assert len(names) == len(set(names))
    assert {v.group for v in registry.VIEWS} <= set(registry.GROUPS)
    assert registry.defaults()["view"] in names  # the first screen's view


def test_every_url_parameter_is_declared_once():
    params = registry.params()
    for field in ("url", "key"):
        seen = [getattr(p, field) for p in params]
        assert len(seen) == len(set(seen)), sorted(x for x in seen if seen.count(x) > 1)
    assert all(p.doc for p in params)  # `python -m app_support.registry` documents each


def test_views_that_follow_the_experiment_name_parts_of_it():
    from app_support.views import EXPERIMENT

    for v in registry.VIEWS:
        assert set(v.follows) <= set(EXPERIMENT), v.name
        assert not (v.sets_experiment and v.follows), v.name  # a view that sets it draws the model as trained
        assert not v.on_its_own or v.follows == EXPERIMENT, v.name  # a fragment's trace is the one fitted
