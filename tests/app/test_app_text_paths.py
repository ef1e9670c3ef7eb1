"""Hostile text stays text: every path by which URL-, user- or checkpoint-provided text reaches
st.markdown / st.warning / st.caption / st.error / st.info shows it only inside a code span.

Each test puts HOSTILE (bold, a javascript: link, an <img onerror>, a Streamlit colour directive and
math) into one path and parses every markdown element of the page with a CommonMark parser: the
hostile fragments may appear only in inline code, never in text, HTML or a link, and they must appear
in code at least once (the path was really taken). Breaking `safe_text.md_code` (e.g. returning its
input) makes these tests fail. The sentence also reaches the Attention view's HTML heatmaps
(`viz.attention_html`, through st.html): there it must be escaped text, read back as the sentence itself.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from app_support import export, model_dirs, models, registry, state
from tests.support.apptest import APP, MODELS, TOY, needs_toy, open_checkpoint, run_app
from tests.support.heatmap_reader import read_heatmap
from tests.support.hostile_markdown import (
    HOSTILE,
    MD,
    assert_only_in_code,
    where_fragments_are,
)


def assert_html_keeps_the_sentence_as_text(at: AppTest, text: str, heatmaps: bool) -> None:
    """No st.html body holds an <img> tag (the hostile text's); every HTML heatmap reads back the sentence
    as its subtitle, in text. heatmaps: the page must draw them (the Attention view: head and mean)."""
    bodies = [e.proto.body for e in at.get("html")]
    assert not any(re.search(r"<\s*img\b", b, re.I) for b in bodies)
    hms = [read_heatmap(b) for b in bodies if "attn-hm" in b]
    assert len(hms) == 2 or not heatmaps  # the Attention view's head and mean
    assert all(hm.subtitle == export.quoted(text) for hm in hms), [hm.subtitle for hm in hms]


# --- URL parameters ---------------------------------------------------------------------------------

URL_PARAMS = [p.url for p in registry.params() if p.url != "text"]


@needs_toy
@pytest.mark.parametrize("name", URL_PARAMS)
def test_a_hostile_url_parameter_is_named_only_as_code(name):
    """?<name>=<HOSTILE>: the notice that ignores it shows the value as code; nothing else renders it."""
    rejected = bool(state.parse_query({name: HOSTILE}, registry.params(models.model_names()))[1])
    at = run_app(**({"model": TOY, "text": "c a f b", "view": "attention"} | {name: HOSTILE}))
    assert_only_in_code(at, must_show=rejected)
    if rejected:
        assert any(f"`{name}`" in w.value and "pwned" in w.value for w in at.warning), [
            w.value for w in at.warning
        ]


@needs_toy
def test_the_reported_view_link_renders_no_markup():
    """The link of the issue, ?view=**bold** [x](javascript:alert(1)): no bold, no link, the value as code."""
    at = run_app(view="**bold** [x](javascript:alert(1))", model=TOY)
    warning = next(w.value for w in at.warning if "`view`" in w.value)
    tokens = [t for block in MD.parse(warning) for t in block.children or []]
    assert not any(t.type in ("strong_open", "link_open", "html_inline") for t in tokens), warning
    assert any(t.type == "code_inline" and t.content == "**bold** [x](javascript:alert(1))" for t in tokens)


@needs_toy
def test_a_hostile_sentence_in_the_url_is_shown_only_as_code():
    """The sentence reaches markdown only through the toy model's notice of what it cannot read."""
    at = run_app(model=TOY, view="attention", text=HOSTILE)
    assert_only_in_code(at)
    assert any("cannot read" in w.value for w in at.warning)
    assert_html_keeps_the_sentence_as_text(at, HOSTILE, heatmaps=True)


@pytest.mark.skipif("en-de" not in MODELS, reason="en-de not in assets/")
@pytest.mark.parametrize("view", list(registry.titles()))
def test_a_hostile_sentence_is_rendered_nowhere_in_any_view(view):
    at = run_app(model="en-de", view=view, text=HOSTILE + " 🙂")
    assert_only_in_code(at, must_show=False)
    assert_html_keeps_the_sentence_as_text(at, HOSTILE + " 🙂", heatmaps=view == "attention")


@pytest.mark.skipif("en-de" not in MODELS, reason="en-de not in assets/")
def test_a_hostile_typed_translation_is_said_above_the_view_only_as_code():
    """A typed translation (Score a translation) is traced in every view, and the line above the view says
    it: as code, on the Attention view as in the banner."""
    at = run_app(model="en-de", view="attention", text="The house is old.", target=HOSTILE)
    assert_only_in_code(at)
    assert any(m.value.startswith("**Your translation:** `") for m in at.markdown)


# --- names from the file system: model picker labels ---------------------------------------------------


@needs_toy
def test_a_hostile_model_directory_name_is_listed_only_as_code(tmp_path, monkeypatch):
    """A model found in a TRANSFORMER_MODEL_DIRS folder under a hostile name: the notice that lists the
    available models (after a bad ?model=) shows every name as code."""
    shutil.copytree(MODELS[TOY], tmp_path / HOSTILE.replace("/", "_"))
    monkeypatch.setenv(model_dirs.ENV, str(tmp_path))
    assert any("pwned" in name for name in models.model_names())
    at = run_app(model="no-such-model", text="c a f b")
    assert_only_in_code(at)


# --- checkpoint paths and checkpoint contents ------------------------------------------------------------


def test_a_hostile_checkpoint_path_outside_the_allowed_folders_is_shown_as_code(monkeypatch):
    monkeypatch.delenv(model_dirs.ENV, raising=False)
    at = open_checkpoint("/tmp/" + HOSTILE)
    assert at.error and "outside the folders" in at.error[0].value
    assert_only_in_code(at)


def test_a_missing_hostile_checkpoint_inside_an_allowed_folder_is_shown_as_code(tmp_path, monkeypatch):
    monkeypatch.setenv(model_dirs.ENV, str(tmp_path))
    at = open_checkpoint(str(tmp_path / HOSTILE.replace("/", "_")))
    assert at.error and "no checkpoint at" in at.error[0].value
    assert_only_in_code(at)


def test_a_broken_checkpoint_with_a_hostile_name_is_shown_as_code(tmp_path, monkeypatch):
    """The CheckpointError names the directory: as code."""
    bad = tmp_path / HOSTILE.replace("/", "_")
    bad.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.model"):
        (bad / name).write_bytes(b"\x00garbage")
    monkeypatch.setenv(model_dirs.ENV, str(tmp_path))
    at = open_checkpoint(str(bad))
    assert at.error and "Could not load this checkpoint" in at.error[0].value
    assert_only_in_code(at)


def test_a_hostile_allowed_folder_is_named_only_as_code(tmp_path, monkeypatch):
    """The refusal lists the allowed folders, one of them named by the environment variable."""
    folder = tmp_path / HOSTILE.replace("/", "_")
    folder.mkdir()
    monkeypatch.setenv(model_dirs.ENV, str(folder))
    at = open_checkpoint("/etc")
    assert at.error and model_dirs.ENV in at.error[0].value
    assert_only_in_code(at)


@needs_toy
def test_hostile_decoding_settings_in_a_checkpoints_metadata_are_shown_as_code(tmp_path, monkeypatch):
    """metadata.json → generation is the checkpoint's own text; the sidebar caption shows it as code."""
    model = tmp_path / "model"
    shutil.copytree(MODELS[TOY], model)
    meta = json.loads((model / "metadata.json").read_text(encoding="utf-8"))
    meta["generation"] = {**meta.get("generation", {}), "alpha": HOSTILE}
    (model / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    monkeypatch.setenv(model_dirs.ENV, str(tmp_path))
    at = open_checkpoint(str(model))
    assert any("decodes with" in c.value and "pwned" in c.value for c in at.caption)
    assert_only_in_code(at)


# --- exceptions: their messages may carry user text -----------------------------------------------------


@needs_toy
def test_a_failing_trace_shows_its_message_as_code(monkeypatch):
    def fail(*args, **kwargs):
        raise ValueError(HOSTILE)

    monkeypatch.setattr(models, "get_trace", fail)
    at = run_app(model=TOY, text="c a f b", view="attention")
    assert at.error and "could not process this sentence" in at.error[0].value
    assert_only_in_code(at)


@needs_toy
def test_a_failing_view_shows_its_message_as_code(monkeypatch):
    def fail(ctx):
        raise RuntimeError(HOSTILE)

    failing = [dataclasses.replace(v, render=fail) if v.name == "attention" else v for v in registry.VIEWS]
    monkeypatch.setattr(registry, "VIEWS", failing)
    at = run_app(model=TOY, text="c a f b", view="attention")
    assert at.error and "could not be drawn" in at.error[0].value
    assert_only_in_code(at)


def test_the_check_sees_markup_when_it_is_not_in_code():
    """The checker itself: raw HOSTILE outside code is caught; inside code it is not."""
    assert where_fragments_are(HOSTILE)[1]
    assert not where_fragments_are(f"Ignored `{HOSTILE}`")[1]
    assert where_fragments_are(f"Ignored `{HOSTILE}`")[0]
    assert APP.endswith("app.py")
