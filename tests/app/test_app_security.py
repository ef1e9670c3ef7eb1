"""The app under hostile input, through `AppTest`: custom checkpoint paths outside the allowed folders,
and sentences no one should type. Each gives one clear message or a literal display, never a traceback,
and the app keeps working: a normal sentence typed next still draws its heatmaps.
"""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app_support import export, model_dirs, models, registry, state
from app_support.run import Run
from app_support.safe_text import without_lone_surrogates
from tests.support.apptest import (
    APP,
    MODELS,
    TOY,
    attention_maps,
    figures,
    needs_toy,
    open_checkpoint,
    run_app,
)
from tests.support.heatmap_reader import HtmlHeatmap


def assert_drawn(at: AppTest) -> list[HtmlHeatmap]:
    """The head's and the mean's heatmaps, with weights."""
    hms = attention_maps(at)
    assert len(hms) == 2 and all(hm.rows and hm.cols and np.isfinite(hm.z).any() for hm in hms)
    return hms


# --- custom checkpoint directories: only from the allowed folders ---------------------------------------


def assert_refused(at: AppTest, why: str) -> None:
    """One error that says why and names the allowed folders and the variable; nothing loaded or drawn."""
    assert not at.exception, [e.message for e in at.exception]
    assert len(at.error) == 1, [e.value for e in at.error]
    message = at.error[0].value
    assert why in message and model_dirs.ENV in message, message
    assert str(model_dirs.ROOT / "assets") in message, message
    assert not figures(at) and not attention_maps(at) and not at.code and not at.dataframe


@pytest.fixture
def app_root(tmp_path, monkeypatch):
    """The allow-list's app root moved to tmp_path (with an empty runs/), and a valid model outside it."""
    (tmp_path / "app" / "runs").mkdir(parents=True)
    shutil.copytree(MODELS[TOY], tmp_path / "outside" / TOY)
    monkeypatch.setattr(model_dirs, "ROOT", tmp_path / "app")
    monkeypatch.delenv(model_dirs.ENV, raising=False)
    return tmp_path / "app"


@needs_toy
@pytest.mark.parametrize("where", ["/etc", "tmp_path", "assets/../..", "/no/such/directory"])
def test_a_checkpoint_path_outside_the_allowed_folders_is_refused(where, tmp_path, monkeypatch):
    """/etc, a valid model in a temporary folder, `..` out of assets/ and a missing path: one error each."""
    monkeypatch.delenv(model_dirs.ENV, raising=False)
    if where == "tmp_path":
        shutil.copytree(MODELS[TOY], tmp_path / TOY)
        where = str(tmp_path / TOY)
    assert_refused(open_checkpoint(where), "outside the folders")


@needs_toy
def test_a_symlink_in_runs_leading_outside_is_refused(app_root):
    """runs/link -> a valid model outside the allowed folders: refused, because the link is resolved."""
    (app_root / "runs" / "link").symlink_to(app_root.parent / "outside" / TOY)
    assert_refused(open_checkpoint(str(app_root / "runs" / "link")), "outside the folders")


@needs_toy
def test_a_symlink_loop_in_runs_is_refused(app_root):
    (app_root / "runs" / "a").symlink_to(app_root / "runs" / "b")
    (app_root / "runs" / "b").symlink_to(app_root / "runs" / "a")
    assert_refused(open_checkpoint(str(app_root / "runs" / "a")), "symlink loop")


@needs_toy
def test_a_missing_directory_inside_an_allowed_folder_is_named(app_root):
    assert_refused(open_checkpoint(str(app_root / "runs" / "nowhere")), "no checkpoint at")


@needs_toy
def test_a_folder_named_in_the_environment_variable_loads(app_root, monkeypatch):
    """TRANSFORMER_MODEL_DIRS=<folder> lets a model in that folder load and draw."""
    monkeypatch.setenv(model_dirs.ENV, str(app_root.parent / "outside"))
    at = open_checkpoint(str(app_root.parent / "outside" / TOY))
    assert not at.exception and not at.error, [e.value for e in at.error]
    drawn = at.code or figures(at) or attention_maps(at)  # whichever view opens first
    assert drawn and "model" not in at.query_params


@needs_toy
def test_the_app_works_again_after_a_refused_path():
    """After a refusal, picking a shipped model draws as usual."""
    at = open_checkpoint("/etc")
    at.selectbox(key="model").set_value(TOY).run()
    at.segmented_control(key=registry.picker_key("attention")).set_value("attention").run()
    assert not at.exception and not at.error
    assert_drawn(at)


# --- bad text ---------------------------------------------------------------------------------------------

TEN_K = "abcdefghij" * 1000
BAD_TEXT = {  # name -> (text, how it arrives: typed into the widget, the URL's text=, or session state)
    "whitespace_tabs_nbsp_ideographic": (" \t\u00a0\u3000 ", "typed"),
    "10k_chars_typed": (TEN_K, "typed"),  # the browser and Streamlit's server both cut it to max_chars
    "10k_chars_url": (TEN_K, "url"),
    "one_char_repeated": ("a" * 1500, "typed"),
    "emoji": ("👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 ❤️‍🔥", "typed"),
    "cjk": ("我爱你。日本語のテキスト、한국어 문장", "typed"),
    "rtl": ("\u202eمرحبا بالعالم\u202c \u200fעברית\u200e", "typed"),
    "zero_width_and_control": ("a\u200bb\u200c\u200d\ufeff\u2060c\x01\x07\x1b[31mred\x1b[0m\x7f", "typed"),
    "nul": ("a\x00b\x00\x00 c", "url"),
    "unpaired_surrogate": ("c \ud800 a \udfff f", "session"),  # no URL or browser can carry one
    "script_tag": ("<script>alert(1)</script>", "typed"),
    "img_onerror": ("<img src=x onerror=alert(1)>", "typed"),
    "markdown": ("**bold** [x](javascript:alert(1)) :red[x] $x^2$", "typed"),
}
MARKUP = ("<script", "<img", "**bold**", "](javascript", ":red[", "$x^2$")  # never rendered as markdown
HTML_MARKUP = re.compile(r"<\s*(script|img)\b", re.I)  # never written into the page's HTML as markup
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")  # shown as U+FFFD
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)", re.S)


def outside_code(markdown: str) -> str:
    """Markdown with its inline code spans removed: what Streamlit would render as formatting."""
    return CODE_SPAN.sub("", markdown)


def assert_not_rendered(at: AppTest, text: str) -> None:
    """User text appears in markdown only inside code spans."""
    for m in [*at.markdown, *at.caption, *at.warning, *at.info, *at.error]:
        rest = outside_code(m.value)
        assert not any(part in rest for part in MARKUP if part in text), m.value
        if len(text.strip()) >= 4:
            assert text.strip() not in rest, m.value


@needs_toy
@pytest.mark.parametrize("name", list(BAD_TEXT))
def test_bad_text_is_shown_literally_and_the_app_stays_usable(name):
    """Bad text: no exception, no error box, no markup rendered; the next normal sentence draws as usual."""
    text, how = BAD_TEXT[name]
    if how == "url":
        at = run_app(model=TOY, view="attention", text=text)
    elif how == "session":
        at = AppTest.from_file(APP, default_timeout=60)
        at.session_state["text"] = text
        at.query_params.update(model=TOY, view="attention")
        at.run()
    else:
        at = run_app(model=TOY, view="attention", text="c a f")
        at.text_input(key="text").set_value(text).run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert_not_rendered(at, text)
    if not text.strip():
        assert any("Type a sentence" in i.value for i in at.info)
    elif len(text) > state.TEXT_LIMIT:
        assert len(at.session_state["text"]) == state.TEXT_LIMIT  # Streamlit cuts a typed value to max_chars
        if how == "url":
            assert any(f"first {state.TEXT_LIMIT} characters" in w.value for w in at.warning)
    if how == "session":
        assert any("not valid Unicode" in w.value for w in at.warning)
    assert_only_text_in_html(at)
    if text.strip():
        assert_pieces_shown_as_text(at)

    at.text_input(key="text").set_value("c a f b").run()
    assert not at.exception and not at.error
    head, mean = assert_drawn(at)
    assert head.y_labels == mean.y_labels == head.x_labels == ["▁c", "▁a", "▁f", "▁b", "</s>"]
    assert head.subtitle == "“c a f b”"


def assert_only_text_in_html(at: AppTest) -> None:
    """No st.html body on the page (the heatmaps, the app's CSS) holds a script or img tag: user text
    in it is escaped."""
    for e in at.get("html"):
        assert not HTML_MARKUP.search(e.proto.body), e.proto.body[:500]


def assert_pieces_shown_as_text(at: AppTest) -> None:
    """Both heatmaps draw the sentence's pieces and the sentence itself as text (read back from the HTML
    as the browser gets it): the encoder's keys are exactly the pieces the model read, the subtitle the
    sentence; characters HTML cannot hold (controls, NUL) shown as U+FFFD."""
    ss, path = at.session_state, str(MODELS[TOY])
    text = ss["text"]
    pieces = models.get_trace(Run(path, models.stamp(path), text, ss["beam"], ss["maxlen"])).src_tokens
    for hm in assert_drawn(at):
        assert hm.x_labels == [NOT_XML.sub("\ufffd", p) for p in pieces], hm.x_labels
        assert hm.y_labels == hm.x_labels  # encoder self-attention: every row is the piece it reads
        assert hm.subtitle == NOT_XML.sub("\ufffd", export.quoted(text)), hm.subtitle


def test_lone_surrogates_become_replacement_characters_and_pairs_join():
    assert without_lone_surrogates("a\ud800b\udfff") == "a\ufffdb\ufffd"
    assert without_lone_surrogates("\ud83d\ude00 ok") == "😀 ok"
