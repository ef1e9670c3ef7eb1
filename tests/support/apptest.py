"""Reading the app through Streamlit's `AppTest`: open a session with URL parameters, read back its
figures, HTML heatmaps and head views, and the models the app tests run on (the toy `reverse` model
and the default model, when they exist in assets/; tests that need one are skipped otherwise).

Used by the app tier (tests/app/); the figures' JSON is read with tests/support/figure_json.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app_support import state
from app_support.views import anatomy as anatomy_view

# the figure readers, re-exported (`x as x`): an app test imports its helpers from this one module
from tests.support.figure_json import heatmaps as heatmaps
from tests.support.figure_json import title as title
from tests.support.figure_json import z_of as z_of
from tests.support.heatmap_reader import HtmlHeatmap, read_heatmap
from transformer import available_models, load_pretrained

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TOY = "reverse"
MODELS = available_models()
needs_toy = pytest.mark.skipif(TOY not in MODELS, reason=f"toy model {TOY!r} not in assets/ yet")
needs_model = pytest.mark.skipif(not MODELS, reason="no model in assets/ yet")


def run_app(**params: str) -> AppTest:
    """A fresh session of the app opened with these URL parameters."""
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def figures(at: AppTest) -> list[dict]:
    """Every Plotly figure on the page, as the JSON sent to the browser."""
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def attention_html(at: AppTest) -> list[str]:
    """The HTML of every attention heatmap on the page (the Attention view draws them with st.html)."""
    return [e.proto.body for e in at.get("html") if "attn-hm" in e.proto.body]


def attention_maps(at: AppTest) -> list[HtmlHeatmap]:
    """Every HTML attention heatmap on the page, read back (tests/support/heatmap_reader.py)."""
    return [read_heatmap(body) for body in attention_html(at)]


def font_px(body: str) -> int:
    """The font size an HTML attention heatmap is drawn at (its root element's style): the largest it can be
    when the figure is fitted to a height (clamp(least, fitted, font_size))."""
    fitted = r"(?:clamp\(\d+px,calc\(.*?\),)?"
    found = re.search(rf'<div class="attn-hm[^"]*"[^>]*style="font-size:{fitted}(\d+)px', body)
    assert found, body[:300]
    return int(found.group(1))


def assert_clean(at: AppTest) -> None:
    """No exception and no error box."""
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def head_views(at: AppTest) -> list[str]:
    """The page of every iframe on the page (the head view's SVG, under its script-free policy)."""
    return [el.proto.srcdoc for el in at.get("iframe")]


def decoder_pieces(text: str) -> tuple[list[str], list[str]]:
    """(pieces the toy's decoder rows read, pieces they predict), as text: "</s>", not "&lt;/s&gt;"."""
    tgt = list(load_pretrained(TOY).trace(text).tgt_tokens)
    return tgt, [*tgt[1:], "</s>"]


def anatomy_sections(at: AppTest):
    """Open each Anatomy section in turn with its picker, as a person would; yields each section's number."""
    for number in anatomy_view.SECTION_TITLES:
        at.segmented_control(key="ana_section").set_value(number).run()
        yield number


def open_checkpoint(path: str) -> AppTest:
    """A fresh session with "Custom checkpoint…" picked and `path` typed into the directory field."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["model"] = state.CUSTOM
    at.session_state["ckpt"] = path
    at.session_state["text"] = "c a f b"
    return at.run()
