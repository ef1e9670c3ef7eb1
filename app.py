"""Transformer, live: type a sentence and see what every part of the Transformer does with it.

    streamlit run app.py

Widgets -> cached calls (app_support.models) -> figures from `viz` -> st.plotly_chart. The URL
holds what a person may want to share (text, model, view, kind, layer, head, ...; `python -m
app_support.registry` lists them), so a link restores the exact view. The views are app_support.registry's:
this script knows none by name.
"""

from __future__ import annotations

import dataclasses
import functools
import logging

import plotly.graph_objects as go
import streamlit as st

from app_support import examples, export, model_dirs, models, registry, state
from app_support.classroom import page as classroom
from app_support.experiment import session as experiment
from app_support.notices import input_notices
from app_support.run import Run
from app_support.safe_text import md_code
from app_support.views import Ctx
from tools.card import describe_generation
from transformer import CheckpointError

log = logging.getLogger(__name__)

PAPER = "https://arxiv.org/abs/1706.03762"
COMPACT_CSS = """<style>
.stMainBlockContainer { padding-top: 3.75rem; }
</style>"""  # the figure on the first screen: less empty space above the sentence (Streamlit's is 6rem)
# the view picker: narrower buttons, so that a row of eight views fits beside its name at 1280 px wide; groups
# side by side (a wide screen) keep a space between them
PICKER_CSS = """<style>
.st-key-view { column-gap: 1.5rem !important; }
.st-key-view button { padding: 0 0.4rem; }
.st-key-view p { font-size: 0.9rem; }
</style>"""
PRESENTATION_CSS = """<style>
html { font-size: 20px; }
.stMainBlockContainer { max-width: 100%; padding-left: 2.5rem; padding-right: 2.5rem; padding-top: 4rem; }
</style>"""


def model_path(name: str) -> str:
    """What to load for a picker entry: the assets/ directory, or the directory typed by the user."""
    if name == state.CUSTOM:
        return st.session_state["ckpt"].strip()
    return str(found[name])


def first_example(name: str) -> str:
    if name == state.CUSTOM:
        return ""
    path = model_path(name)
    return models.examples(path, models.stamp(path))[0]


def on_model_change() -> None:
    """Switching models: replace the sentence if it was one of the old model's examples."""
    ss = st.session_state
    if ss["model"] != state.CUSTOM and (not ss["text"].strip() or ss["text"] in ss["_examples"]):
        ss["text"] = first_example(ss["model"])


def on_example() -> None:
    ss = st.session_state
    if ss["example"]:
        ss["text"] = ss["example"]
    ss["example"] = None


facts: state.ModelFacts | None = None  # the loaded model's sizes, once known: what controls are fitted to


def sync_url() -> None:
    st.query_params.from_dict(state.to_query(st.session_state, params, facts))


def on_view_picked(key: str) -> None:
    """A click in one row of the picker: that row's view (a click on the chosen one unpicks it: kept)."""
    ss = st.session_state
    if ss[key] is not None:
        ss["view"] = ss[key]


def view_picker() -> None:
    """One row of buttons per group of views (registry.GROUPS), the chosen view lit in its row; the choice
    is st.session_state["view"] (`view` in the URL)."""
    ss = st.session_state
    titles = registry.titles()
    # a row per group, side by side where the screen is wide enough (a projector: the figures keep their room)
    with st.container(key="view", horizontal=True, gap=None):
        for group, views in registry.grouped().items():
            names = [v.name for v in views]
            key = registry.picker_key(names[0])
            ss[key] = ss["view"] if ss["view"] in names else None  # before the widget: shows the choice
            with st.container(horizontal=True, vertical_alignment="center", wrap=False, width="content"):
                st.markdown(
                    f"**{group}**", width="content" if ss["present"] else 85
                )  # rows line up on a laptop
                st.segmented_control(
                    registry.GROUPS[group],
                    names,
                    key=key,
                    format_func=titles.get,
                    on_change=on_view_picked,
                    args=(key,),
                    label_visibility="collapsed",
                )


def stop(message: str, kind: str = "info") -> None:
    """Show why there is nothing to draw, keep the URL in step, and end this run."""
    plotly_early.empty()
    getattr(st, kind)(message)
    sync_url()
    st.stop()


def draw_view(ctx: Ctx | None) -> None:
    try:
        view.render(ctx)
    except Exception as e:  # a bug in one view should not hide the rest of the app behind a traceback
        log.exception("view %s failed", view.name)
        st.error(f"This view could not be drawn ({type(e).__name__}): {md_code(e)}")
    if not ss["present"]:  # under the figures: the first screen is for them
        st.caption(f"Shows: {view.section} of the [paper]({PAPER}).")
    sync_url()  # after the view: it may have fitted its controls to the sentence


found = models.available_models()  # looked up once a run (it walks runs/): the picker and model_path read it
trained_here = registry.session_models()  # a model this session trained live (Train live view)
found.update(trained_here)
names = list(found)
# every URL parameter: the shared ones and each view's own (a model trained here never goes into a link)
params = registry.params(names, list(trained_here))
default_model = models.default_model_name(names) or state.CUSTOM
notices = state.init_session(st.session_state, st.query_params, params, default_model, first_example)
ss = st.session_state
if ss["model"] not in [*names, state.CUSTOM]:  # a model that disappeared from assets/
    ss["model"] = default_model

st.set_page_config(
    page_title="Transformer, live",
    page_icon="🔍",
    layout="wide",
    initial_sidebar_state="collapsed" if ss["present"] else "expanded",
)
if ss["present"]:  # static CSS only; user text never goes through HTML
    st.html(PRESENTATION_CSS + PICKER_CSS)
else:
    st.html(COMPACT_CSS + PICKER_CSS)
# a class: start one, find it, and on a student page that follows it, take what the teacher shows (before any
# widget: it sets their values)
seat, class_notices = classroom.join(ss, params)
notices = [*notices, *class_notices]

# the title lives in the sidebar: the main page starts with the sentence, and presentation mode folds it away
with st.sidebar:
    # a new browser session loads Plotly (4.6 MB of script) while the script runs, unless the view draws
    # none (Attention's heatmaps are HTML: the chunk's evaluation would only delay them)
    plotly_early = st.empty()
    plotly_first = not (ss["view"] == "attention" and ss["panel"] in ("heatmaps", "lines", "training"))
    # emptied after the trace or by stop()
    if "_plotly_early" not in ss and ss["text"].strip() and plotly_first:
        ss["_plotly_early"] = True
        empty = go.Figure(layout={"height": 10, "margin": dict.fromkeys("tblr", 0)})
        plotly_early.plotly_chart(empty, key="plotly_early")
    st.title("Transformer, live")
    st.caption(
        "Type a sentence and see, live, what every part of an encoder–decoder Transformer "
        f"([Attention Is All You Need]({PAPER}), Vaswani et al. 2017) does with it."
    )
    st.header("Model")
    st.selectbox(
        "Model", [*names, state.CUSTOM], key="model", on_change=on_model_change, persist_state="session"
    )
    if ss["model"] == state.CUSTOM:
        st.text_input(
            "Checkpoint directory",
            key="ckpt",
            persist_state="session",
            placeholder="/path/to/run/model",
            help="A directory with config.json, model.safetensors and tokenizer.model, or a training run "
            "directory (its newest checkpoint). Not put in shared links.",
        )
    decoding_box = st.container()  # filled once the model (and so its max_len) is known
    st.header("Classroom")
    st.toggle(
        "Presentation mode",
        key="present",
        persist_state="session",
        help="Bigger fonts and figures, controls folded away. Reopen this sidebar (top left) to leave it.",
    )
    classroom.sidebar(seat)
    export_box = st.container()

for notice in notices:
    st.warning(notice)

path = model_path(ss["model"])
path_error = None
if path and ss["model"] == state.CUSTOM:  # a typed directory: only inside the allowed folders
    allowed = model_dirs.allowed_dirs()
    try:
        path = str(model_dirs.check_model_dir(path, allowed))
    except model_dirs.ModelDirError as e:
        path, path_error = "", f"{md_code(e, 600)} {model_dirs.how_to_allow(allowed, md_code)}"
stamp = models.stamp(path) if path else 0.0
own_examples = models.examples(path, stamp) if path and ss["model"] != state.CUSTOM else []
grouped_examples = examples.groups(ss["model"], own_examples) if own_examples else {}
ss["_examples"] = list(dict.fromkeys([*own_examples, *examples.flat(grouped_examples)]))
if seat is not None:
    classroom.bar(seat)
alone = registry.view(ss["view"]).stands_alone  # a view that draws without the model and the sentence
if not alone:
    sentence_col, examples_col = st.columns([5, 1], vertical_alignment="bottom")
    sentence_col.text_input(
        "Sentence",
        key="text",
        persist_state="session",
        max_chars=state.TEXT_LIMIT,
        placeholder="Type a sentence and press Enter",
        help="Pieces beyond the model's max_len are cut off (with a notice).",
        label_visibility="collapsed" if ss["present"] else "visible",
    )
    if grouped_examples:  # folded into a button beside the sentence, so the figure makes the first screen
        with examples_col.popover("Examples", icon=":material/list:", width="stretch"):
            examples.picker(ss, ss["model"], grouped_examples, on_example)
view_picker()
view = registry.view(ss["view"])
if view.stands_alone:
    plotly_early.empty()  # it drew Plotly's script in; the view draws its own figures
    draw_view(None)
    st.stop()

if path_error:
    stop(f"Could not load this checkpoint: {path_error}", "error")
if not path:
    stop("Type the path of a checkpoint directory in the sidebar, or pick a model there.")
try:
    with st.spinner("Loading the model…"):
        model = models.load_model(path, stamp)
except CheckpointError as e:
    stop(f"Could not load this checkpoint: {md_code(e, 600)}", "error")
except (OSError, ValueError) as e:  # e.g. a path the server may not read
    stop(f"Could not load this checkpoint ({type(e).__name__}): {md_code(e, 600)}", "error")
cfg = model.config
facts = state.ModelFacts.of(cfg)
for notice in state.fit_to_model(ss, params, facts):
    st.warning(notice)
for notice in experiment.fit(ss, facts.n_layers, cfg.n_heads):
    st.warning(notice)
model_label = ss["model"] if ss["model"] != state.CUSTOM else model.name
with decoding_box:
    st.header("Decoding")
    st.slider(
        "Beam size",
        1,
        state.BEAM_MAX,
        key="beam",
        persist_state="session",
        help="1 = greedy; the paper used 4 (§6.1).",
    )
    st.number_input(
        "Max length (pieces; 0 = automatic)",
        0,
        cfg.max_len - 1,
        key="maxlen",
        persist_state="session",
        help="Longest translation; 0 = automatic (2 × source + 10).",
    )
    # a checkpoint's own metadata: shown as code unless numbers
    described = describe_generation(model.generation)
    numbers = all(
        v is None
        or isinstance(v, int | float)
        or (isinstance(v, list) and all(isinstance(i, int) for i in v))
        for v in model.generation.values()
    )
    st.caption(
        f"This model decodes with {described if numbers else md_code(described)} (its `metadata.json`)."
    )

text = ss["text"]
if not text.strip():
    stop("Type a sentence above (or click an example) to see what the model does with it.")
own = Run(path, stamp, text, ss["beam"], ss["maxlen"])  # the model as trained on this sentence
try:
    with st.spinner("Translating and tracing the sentence…"):
        trace = models.get_trace(own)
except Exception as e:  # never a traceback in class
    log.exception("trace failed")
    stop(f"The model could not process this sentence ({type(e).__name__}): {md_code(e)}", "error")
finally:
    plotly_early.empty()
if trace.truncated:
    st.warning(
        f"The sentence is longer than this model's max_len: only its first {cfg.max_len - 1} pieces "
        "(and `</s>`) are used."
    )
specials = [i for i in (cfg.pad_id, cfg.unk_id, cfg.bos_id, cfg.eos_id) if i is not None]
ctx = Ctx(model, model_label, own, trace, ss["present"], seat=seat)
ctx = experiment.run(ctx, view)  # heads off / a typed translation, for a view that follows them
# the step and positions fit the translation their views draw: a typed one may be longer than the model's own
shown = experiment.positions_trace(ctx, view, trace)
warnings = [
    *input_notices(text, trace, model.tokenizer, cfg.unk_id, specials),
    *state.fit_to_trace(ss, params, shown),
]
if view.says_translation:  # the other views show the translation in their own way
    who = "Your translation" if ctx.target is not None else "Translation"
    who += ", heads off" if ctx.off and ctx.target is None else ""
    st.markdown(f"**{who}:** {md_code(ctx.trace.tgt_text or '(empty)', 600)}", width="stretch")
for notice in warnings:
    st.warning(notice)
ctx = dataclasses.replace(ctx, notices=len(warnings))
experiment.banner(ctx, view)  # says which run the figures below show
with export_box:
    st.header("Export")
    downloads = (  # (label, what the file holds, its extension and type, key, help)
        ("Attention (CSV)", export.attention_csv, "attention", "csv", "text/csv", "dl_csv",
         "Every layer, head and kind as one tidy table: layer, head, q_pos, k_pos, query, key, weight, kind, and "
         "for each decoder row the piece it reads and the piece it predicts (query_read, query_predicted)."),
        ("Whole trace (JSON)", export.trace_json, "trace", "json", "application/json", "dl_json", None),
    )  # fmt: skip
    for label, make, what, ext, mime, key, about in downloads:
        st.download_button(
            label,
            functools.partial(make, ctx.run),  # made only when clicked
            file_name=f"{export.file_stem(model_label, what, export.slug(text))}.{ext}",
            mime=mime,
            on_click="ignore",
            key=key,
            help=about,
        )
    st.radio(
        "Figures save as",
        list(export.FORMATS),
        key="fig_format",
        format_func=export.FORMATS.get,
        persist_state="session",
        help="What the camera icon above each figure saves (the Attention view's heatmaps: the button "
        "under each). SVG stays sharp at any size on a slide.",
    )
    st.caption(
        "The camera icon above each figure saves it, named after the model, view and sentence; the "
        "Attention view's heatmaps have a download button under them."
    )


@st.fragment
def view_alone(ctx: Ctx) -> None:
    """A view `on_its_own`: a click on its own controls (a layer, a head) reruns it, not the page (a layer or
    head click cost 0.25 s of server CPU as a whole run, 0.04 s as a fragment). Such a view follows the whole
    experiment, so ctx.trace is the run its positions are fitted to."""
    # a kind or side picked here may have fewer layers or positions than the last; on a whole run: no change
    for notice in [*state.fit_to_model(ss, params, facts), *state.fit_to_trace(ss, params, ctx.trace)]:
        st.warning(notice)
    draw_view(ctx)


if view.on_its_own:
    view_alone(ctx)
else:
    draw_view(ctx)
