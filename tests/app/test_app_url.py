"""Every control is in the URL: a shared link restores what the person saw.

`test_every_widget_is_restored_from_the_link_or_exempt` walks every view and panel of the app (AppTest),
collects every widget with a key, and fails on one that is neither in `CHANGE` (a control that a
link restores, checked by `test_a_link_restores_the_control`) nor in `EXEMPT` (with the reason it is
not in links). A new control that changes a figure therefore needs a URL parameter
(`app_support.registry.view_params()`) and a line in CHANGE.
"""

from __future__ import annotations

import json
import re

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Button, DownloadButton, Widget

from app_support import registry, state
from app_support.views import anatomy as anatomy_view
from app_support.views import attention as attention_view
from app_support.views import embeddings as embeddings_view
from tests.support.apptest import MODELS, TOY, assert_clean, figures, head_views, needs_toy, run_app
from tests.support.heatmap_reader import read_heatmap
from transformer.checkpoint import list_snapshots

TEXT = "c a f b d"
BASE = {"model": TOY, "text": TEXT}
CONTEXTS = {  # a page of the app: the URL that opens it (on top of BASE); every view and every panel
    **{view: {"view": view} for view in registry.titles()},
    **{f"attention_{panel}": {"view": "attention", "panel": panel} for panel in attention_view.PANELS},
    "attention_cross": {"view": "attention", "kind": "cross"},
    "attention_hidden": {"view": "attention", "hide": "1"},
    "attention_attribution_cross": {"view": "attention", "panel": "attribution", "kind": "cross"},
    "attention_snapshots": {"view": "attention", "kind": "cross", "snap": "0"},  # training snapshots shown
    **{f"anatomy_{n}": {"view": "anatomy", "section": str(n)} for n in anatomy_view.SECTION_TITLES},
}
SNAPSHOTS = [e["step"] for e in list_snapshots(MODELS[TOY])] if TOY in MODELS else []
OTHER_MODEL = next((name for name in MODELS if name != TOY), None)
CHANGE = {  # widget key -> (the page it is changed on, a value other than the default)
    "text": ("attention", "b a d"),
    "model": ("attention", OTHER_MODEL),
    "view_see": ("io", "decoding"),  # the picker's rows (registry.picker_key); the choice is `view`
    "view_experiment": ("io", "heads"),
    "kind": ("attention", "cross"),
    "layer": ("attention", 1),
    "head": ("attention", 2),
    "rows_pick": ("attention_cross", "read"),  # the widget of the `rows` setting
    "panel": ("attention", "model"),
    "step": ("decoding", 2),
    "beam": ("attention", 1),
    "maxlen": ("attention", 3),
    "present": ("attention", True),
    "att_hide_specials": ("attention", True),
    "att_renormalise": ("attention_hidden", False),
    "att_autoscale": ("attention", True),
    "att_lines_heads": ("attention_lines", [3, 1]),
    "att_attr": ("attention_attribution_cross", "grad_x_input"),
    "roles_over": ("roles", "set"),
    "pe_positions": ("positional", 40),
    "pe_dims": ("positional", [1, 6, 3]),
    "pe_metric": ("positional", "cosine"),
    "pe_side": ("positional", "tgt"),
    "emb_side": ("embeddings", "decoder"),
    "emb_method": ("embeddings", "tsne"),
    "emb_stage": ("embeddings", 1),
    "emb_paths": ("embeddings", [2, 4]),
    "emb_nn_token": ("embeddings", 2),
    "dec_k": ("decoding", 5),
    "ana_section": ("anatomy", 3),
    "ana_step": ("anatomy_8", 2),  # the output section's position
    "off_encoder_0": ("heads", [1]),  # the heads switched off, `off`: one row of pills per kind and layer
    "target": ("score", "d b f a c"),  # a typed translation, `target`
    "text2": ("pairs", "c a g b d"),
    "qlayer": ("quiz", 0),
    "snap": ("attention_snapshots", SNAPSHOTS[-1] if SNAPSHOTS else None),  # the last training snapshot
    "train_task": ("train", "sort"),
    "train_enc": ("train", 3),  # a whole number: the model's other sizes, the warm-up, seed and steps alike
    "train_lr": ("train", 0.002),  # a decimal
}
MIRRORED = {  # widget keys of one pattern, covered by the round trip of one of them
    re.compile(r"off_(encoder|decoder|cross)_\d+"): "off_encoder_0",
    re.compile(r"train_(dec|heads|dmodel|dff|warmup|seed|steps)"): "train_enc",  # state.number, as train_enc
}
EXEMPT = {  # widget key -> why a link does not carry it
    "example": "a one-shot picker: it writes the chosen sentence into `text`, which the link carries",
    "example_group": "which example sentences are offered; it changes no figure",
    "ckpt": "a directory on the server: never put in a link (README, Serving a classroom)",
    "fig_format": "whether the toolbar saves PNG or SVG: how a figure is saved, not what it shows",
    "pair_example": "a one-shot picker: it writes the chosen pair into `text` and `text2`, which the link carries",
    "quiz_pick": "the student's answer: a link carries the quiz round (`qpiece`), never its answer",
    "quiz_sentence": "a one-shot picker: it writes the chosen sentence into `text`, which the link carries",
    "train_try": "an input typed to the model being trained: that model lives in the session, not in a link",
    "class_join": "a one-shot box: the code typed into it becomes `class`, which the link carries",
}  # buttons (st.button, st.download_button) hold no state of their own: what they change is checked here


def covered(key: str) -> bool:
    return (
        key in CHANGE or key in EXEMPT or any(p.fullmatch(key) and m in CHANGE for p, m in MIRRORED.items())
    )


def open_page(context: str, **extra: str) -> AppTest:
    return run_app(**(BASE | CONTEXTS[context] | extra))


def widgets(at: AppTest) -> dict[str, Widget]:
    """Every widget with a key on the page (sidebar, expanders and popovers included), by key."""
    found: dict[str, Widget] = {}

    def walk(node) -> None:
        children = getattr(node, "children", None)
        for child in children.values() if isinstance(children, dict) else []:
            if isinstance(child, Widget) and getattr(child, "key", None):
                found[child.key] = child
            walk(child)

    walk(at._tree)
    return found


def attention_heatmaps(at: AppTest) -> list[str]:
    """The Attention view's HTML heatmaps (`viz.attention_html`), as sent to the browser; each read back
    (`read_heatmap`) so a page whose heatmap HTML would not parse fails here rather than compare equal."""
    bodies = [e.proto.body for e in at.get("html") if "attn-hm" in e.proto.body]
    for body in bodies:
        read_heatmap(body)
    return bodies


def page_content(at: AppTest) -> tuple:
    """What the page shows: every Plotly figure and HTML heatmap (as sent to the browser), every table,
    the head view's SVG page."""
    tables = [d.value.to_json() for d in at.dataframe]
    plotly = [json.dumps(f, sort_keys=True) for f in figures(at)]
    return plotly, attention_heatmaps(at), tables, head_views(at)


@needs_toy
def test_every_widget_is_restored_from_the_link_or_exempt():
    seen: dict[str, str] = {}
    for context in CONTEXTS:
        at = open_page(context, present="0")
        assert_clean(at)
        for key, widget in widgets(at).items():
            if not isinstance(widget, Button | DownloadButton):
                seen.setdefault(key, context)
    missing = {key: where for key, where in seen.items() if not covered(key)}
    assert not missing, (
        f"widgets not restored from a shared link: {missing} (page where each is). Give each a URL parameter "
        "in app_support.registry.view_params() and a line in CHANGE, or say in EXEMPT why a link need not carry it."
    )
    unseen = {key for key, (context, _) in CHANGE.items() if context in CONTEXTS} - set(seen)
    assert not unseen, f"CHANGE names widgets the app no longer has: {unseen}"


@needs_toy
@pytest.mark.parametrize("key", list(CHANGE))
def test_a_link_restores_the_control(key):
    """Change the control, take the URL, open it in a fresh session: same control value, same figures and tables."""
    context, value = CHANGE[key]
    if value is None:
        pytest.skip("needs a second model in assets/")
    if context not in CONTEXTS:
        pytest.skip(f"the app has no {context!r} view")
    at = open_page(context)
    assert_clean(at)
    before, before_code = page_content(at), [c.value for c in at.code]
    widget = widgets(at)[key]
    assert widget.value != value, f"{key}: pick a value other than the default in CHANGE"
    widget.set_value(value).run()
    assert_clean(at)
    assert widgets(at)[key].value == value
    link = dict(at.query_params)
    again = AppTest.from_file(at._script_path, default_timeout=60)
    for name, raw in link.items():
        again.query_params[name] = raw
    again.run()
    assert_clean(again)
    assert not again.warning or all("Ignored URL" not in w.value for w in again.warning), [
        w.value for w in again.warning
    ]
    assert widgets(again)[key].value == value, (key, link)
    after = page_content(at)
    assert page_content(again) == after, f"{key}: the link {link} does not draw what the person saw"
    # these change tables or text; the quiz's layer shows only once a student has answered
    if key not in (
        "emb_nn_token",
        "text",
        "model",
        "view_see",
        "view_experiment",
        "beam",
        "maxlen",
        "qlayer",
        *("train_task", "train_enc", "train_lr"),  # the figures change once it trains; the run's command now
    ):
        assert after != before, f"{key} changed nothing on its page: is CHANGE's page the right one?"
    if key.startswith("train_"):  # the same run: the command line the Train view shows
        commands = [c.value for c in at.code]
        assert commands and [c.value for c in again.code] == commands and commands != before_code, key


@needs_toy
def test_defaults_stay_out_of_the_link():
    """A page opened without view parameters writes none of them back (clean links), and neither do
    controls set back to what the model shows by default (the head view's heads, the PE dimensions)."""
    for context in ("attention_lines", "positional", "embeddings", "decoding", "anatomy"):
        at = open_page(context)
        at.run()  # a second run: the view has filled in the controls it defaults per model
        assert not set(at.query_params) & set(registry.view_params()), (context, dict(at.query_params))


@needs_toy
@pytest.mark.parametrize(
    "name, raw",
    [
        ("hide", "maybe"),
        ("renorm", "2"),
        ("autoscale", "<b>x</b>"),
        ("heads", "0,0"),
        ("heads", "9"),  # the toy has 4 heads: checked against the model
        ("pe_pos", "1"),
        ("pe_pos", "100000"),
        ("pe_dims", "0,1,2,3,4,5,6,7,8"),
        ("pe_dims", "64"),  # the toy's d_model is 64
        ("pe_metric", "euclid"),
        ("pe_side", "left"),
        ("emb_side", "both"),
        ("emb_method", "umap"),
        ("emb_stage", "99"),  # checked against the sentence's stages
        ("emb_paths", "1,,2"),
        ("emb_paths", "40"),  # past the sentence's end
        ("emb_nn", "-1"),
        ("topk", "50"),
        ("out_pos", "40"),
        ("section", "9"),
        ("section", "walk"),
        ("snap", "early"),
        ("snap", "7"),  # checked against the model's snapshots
    ],
)
def test_a_bad_view_parameter_is_ignored_with_a_notice(name, raw):
    """An invalid value is named in a warning, the control keeps its default, and the link drops it."""
    at = run_app(**(BASE | {"view": "attention", name: raw}))
    assert_clean(at)
    assert any(f"`{name}`" in w.value and "Ignored URL parameter" in w.value for w in at.warning), [
        w.value for w in at.warning
    ]
    key = registry.view_params()[name].key
    assert at.session_state[key] == registry.defaults()[key]
    assert name not in at.query_params


SAMPLES = {  # URL name -> a value other than the default, as a link writes it
    "hide": "1", "renorm": "0", "autoscale": "1", "heads": "2,0", "pe_pos": "100", "pe_dims": "0,5",
    "pe_metric": "cosine", "pe_side": "tgt", "emb_side": "decoder", "emb_method": "tsne", "emb_stage": "3",
    "emb_paths": "1", "emb_nn": "4", "topk": "20", "section": "3", "out_pos": "7",
    "off": "encoder.0.3,cross.1.0", "target": "Das Haus ist alt.", "apply": "0", "snap": "213",
}  # fmt: skip


def test_view_parameters_round_trip_through_parse_and_write():
    """Each sampled view parameter value parses, and to_query writes it back as it was (the widgets' own
    round trip through the app is test_a_link_restores_the_control)."""
    query = {name: raw for name, raw in SAMPLES.items() if name in registry.view_params()}
    assert len(query) >= 15
    values, notices = state.parse_query(query, registry.params([TOY]))
    assert not notices, notices
    ss = {**registry.defaults(), "text": "x", "model": TOY, **values}
    written = state.to_query(ss, registry.params())
    assert {name: written.get(name) for name in query} == query
    assert state.parse_query({"emb_stage": "all"}, registry.params([TOY]))[0] == {
        "emb_stage": embeddings_view.ALL
    }
