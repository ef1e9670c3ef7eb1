"""Transformer, live: type a sentence and see what every part of the Transformer does with it.

    streamlit run app.py

Widgets -> cached calls (app_support.models) -> figures from `viz` -> st.plotly_chart. The URL
holds what a person may want to share (text, model, view, kind, layer, head, ...; see
app_support.state), so a link restores the exact view.
"""

from __future__ import annotations

import dataclasses
import functools
import logging

import plotly.graph_objects as go
import streamlit as st

from app_support import examples, export, model_dirs, models, state
from app_support.experiment import session as experiment
from app_support.notices import input_notices
from app_support.run import Run
from app_support.safe_text import md_code
from app_support.views import Ctx, anatomy, attention, decoding, embeddings, heads, io, positional, score
from app_support.views import pairs as pairs_view
from app_support.views import quiz as quiz_view
from tools.card import describe_generation
from transformer import CheckpointError
from transformer.kinds import KINDS

log = logging.getLogger(__name__)

PAPER = "https://arxiv.org/abs/1706.03762"
# views that say the translation in a line above them (Input & output, Switch heads off, Score, Minimal pairs and
# the quiz show it their own way)
SAYS_TRANSLATION = ("attention", "positional", "embeddings", "decoding", "anatomy")
SECTIONS = {  # view -> where it is in the paper
    "io": "§3 Model Architecture (Figure 1) and §6.1 (beam search)",
    "attention": "§3.2 Attention and §3.2.3 Applications of Attention in our Model",
    "positional": "§3.5 Positional Encoding",
    "embeddings": "§3.4 Embeddings and Softmax, and the residual stream of §3.1",
    "decoding": "§3.1 (the auto-regressive decoder) and §3.4 (the output softmax)",
    "anatomy": "§3.1–§3.5, in the order of the walk-through",
    "heads": "§3.2.2 Multi-Head Attention, one head at a time switched off",
    "score": "§3.4 (the output softmax), read teacher-forced as in training (§5.4)",
    "pairs": "§3.1 (the residual stream, layer by layer) and §3.2 (attention), for two sentences at once",
    "quiz": "§3.2.3 (encoder–decoder attention), as a guessing game",
}
RENDER = {
    "io": io.render,
    "attention": attention.render,
    "positional": positional.render,
    "embeddings": embeddings.render,
    "decoding": decoding.render,
    "anatomy": anatomy.render,
    "heads": heads.render,
    "score": score.render,
    "pairs": pairs_view.render,
    "quiz": quiz_view.render,
}
# Views whose controls change nothing the page above them reads (sentence, model, decoding, the heads
# switched off or the typed translation): each runs as a fragment, so a click in it reruns the view
# alone (a layer or head click cost 0.25 s of server CPU as a whole run, 0.04 s as a fragment).
ON_THEIR_OWN = {"io", "attention", "positional", "embeddings", "decoding", "anatomy"}
COMPACT_CSS = """<style>
.stMainBlockContainer { padding-top: 3.75rem; }
</style>"""  # the figure on the first screen: less empty space above the sentence (Streamlit's is 6rem)
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


URL_DEFAULTS: dict = {}  # what the view controls without a fixed default show for this model (state.to_query)


def sync_url() -> None:
    ss = st.session_state
    st.query_params.from_dict(state.to_query(ss, ss["model"] != state.CUSTOM, URL_DEFAULTS))


def stop(message: str, kind: str = "info") -> None:
    """Show why there is nothing to draw, keep the URL in step, and end this run."""
    plotly_early.empty()
    getattr(st, kind)(message)
    sync_url()
    st.stop()


found = models.available_models()  # looked up once a run (it walks runs/): the picker and model_path read it
names = list(found)
default_model = models.default_model_name(names) or state.CUSTOM
notices = state.init_session(st.session_state, st.query_params, names, default_model, first_example)
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
    st.html(PRESENTATION_CSS)
else:
    st.html(COMPACT_CSS)

with (
    st.sidebar
):  # the title lives here: the main page starts with the sentence, and presentation mode folds it away
    # a new browser session loads Plotly (4.6 MB of script) while the script runs, unless the view draws
    # none (Attention's heatmaps are HTML: the chunk's evaluation would only delay them)
    plotly_early = st.empty()
    plotly_first = not (ss["view"] == "attention" and ss["panel"] in ("heatmaps", "lines"))
    if (
        "_plotly_early" not in ss and ss["text"].strip() and plotly_first
    ):  # emptied after the trace or by stop()
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
st.segmented_control(
    "View",
    list(state.VIEWS),
    key="view",
    persist_state="session",
    required=True,
    format_func=state.VIEWS.get,
    label_visibility="collapsed",
)

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
n_layers = {name: getattr(cfg, f"n_{kind.stack}_layers") for name, kind in KINDS.items()}
for notice in state.fit_to_model(ss, n_layers, cfg.n_heads, cfg.max_len, cfg.d_model):
    st.warning(notice)
for notice in experiment.fit(ss, n_layers, cfg.n_heads):
    st.warning(notice)
URL_DEFAULTS.update(
    att_lines_heads=list(range(cfg.n_heads)), pe_dims=positional.default_dims(cfg.d_model), emb_paths=[0]
)
URL_DEFAULTS["qlayer"] = n_layers["cross"] - 1  # the quiz's layer when none is chosen: the last
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
    described = describe_generation(
        model.generation
    )  # a checkpoint's own metadata: shown as code unless numbers
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
ctx = Ctx(model, model_label, own, trace, ss["present"])
ctx = experiment.run(ctx, ss["view"])  # heads off / a typed translation, for a view that follows them
# the step and positions fit the translation their views draw: a typed one may be longer than the model's own
shown = experiment.positions_trace(ctx, ss["view"], trace)
warnings = [
    *input_notices(text, trace, model.tokenizer, cfg.unk_id, specials),
    *state.fit_to_trace(ss, shown),
]
if ss["view"] in SAYS_TRANSLATION:  # the other views show the translation in their own way
    who = "Your translation" if ctx.target is not None else "Translation"
    who += ", heads off" if ctx.off and ctx.target is None else ""
    st.markdown(f"**{who}:** {md_code(ctx.trace.tgt_text or '(empty)', 600)}", width="stretch")
for notice in warnings:
    st.warning(notice)
ctx = dataclasses.replace(ctx, notices=len(warnings))
experiment.banner(ctx, ss["view"])  # says which run the figures below show
with export_box:
    st.header("Export")
    st.download_button(
        "Attention (CSV)",
        functools.partial(export.attention_csv, ctx.run),
        file_name=f"{export.file_stem(model_label, 'attention', export.slug(text))}.csv",
        mime="text/csv",
        on_click="ignore",
        key="dl_csv",
        help="Every layer, head and kind as one tidy table: layer, head, q_pos, k_pos, query, key, weight, "
        "kind, and for each decoder row the piece it reads and the piece it predicts (query_read, query_predicted).",
    )
    st.download_button(
        "Whole trace (JSON)",
        functools.partial(export.trace_json, ctx.run),
        file_name=f"{export.file_stem(model_label, 'trace', export.slug(text))}.json",
        mime="application/json",
        on_click="ignore",
        key="dl_json",
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


def draw_view(ctx: Ctx) -> None:
    try:
        RENDER[ss["view"]](ctx)
    except Exception as e:  # a bug in one view should not hide the rest of the app behind a traceback
        log.exception("view %s failed", ss["view"])
        st.error(f"This view could not be drawn ({type(e).__name__}): {md_code(e)}")
    if not ss["present"]:  # under the figures: the first screen is for them
        st.caption(f"Shows: {SECTIONS[ss['view']]} of the [paper]({PAPER}).")
    sync_url()  # after the view: it may have fitted its controls to the sentence


@st.fragment
def view_alone(ctx: Ctx) -> None:
    """A view in ON_THEIR_OWN: a click on its own controls (a layer, a head) reruns it, not the page."""
    for notice in state.fit_to_model(ss, n_layers, cfg.n_heads, cfg.max_len, cfg.d_model):  # a kind picked
        st.warning(notice)  # here may have fewer layers than the last; on a whole run this changes nothing
    draw_view(ctx)


if ss["view"] in ON_THEIR_OWN:
    view_alone(ctx)
else:
    draw_view(ctx)
