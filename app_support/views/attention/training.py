"""Watch attention form during training: the Attention view's time-lapse panel, a slider over the snapshots
a model directory carries (`python -m transformer.train --snapshots N`), showing the chosen kind / layer /
head traced with the weights of that training step beside the same head trained. Near the top of the view,
`offer` says the model has snapshots, with a button to the panel.

Each snapshot is loaded into a model object of its own (`st.cache_resource`, keyed by path, file times
and step); the shared model is never touched. The snapshot reads the same sentence and the same
translation as the figures above (teacher-forced), so rows and columns stay put while the weights change.
The step shown is in the URL as `snap`, set exactly when the panel is shown (`panel=training`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

import viz
from app_support import export, models, state
from app_support.run import Run
from app_support.safe_text import md_code
from app_support.views import Ctx
from app_support.views.attention.draw import head_title, heatmap, shown
from transformer import CheckpointError, Pretrained, Transformer
from transformer.checkpoint import list_snapshots, load_snapshot
from transformer.kinds import KINDS
from transformer.pretrained import resolve_model_dir
from transformer.trace import capture_trace

SNAP = state.number(
    "snap", "snap", None, 0, 999_999_999, "training step of the snapshot shown (a model with snapshots, "
    "panel=training; a link with snap and no panel opens the time-lapse)", "a training step is a whole number",
)  # fmt: skip
PANEL = "training"  # the Attention view's panel that shows the snapshots
SLIDER_PX = 80  # the step slider above the figures (label, value and track, in Chromium)


@st.cache_resource(show_spinner=False, max_entries=8)
def snapshot_model(path: str, stamp: float, step: int) -> Pretrained:
    """The model as it was at training step `step`: its own weights, the shared model's tokenizer.
    Raises CheckpointError for a broken or missing snapshot."""
    shared = models.load_model(path, stamp)
    net = Transformer(shared.config)
    load_snapshot(resolve_model_dir(path), step, net)
    return Pretrained(
        model=net.eval(), tokenizer=shared.tokenizer, metadata=shared.metadata, name=shared.name
    )


@dataclass(frozen=True)
class SnapshotRun:
    attention: dict[str, np.ndarray]  # kind -> (layers, heads, q_len, k_len), as Trace.attention
    own: str  # what the model at this step writes itself (greedy)


@st.cache_data(show_spinner=False, max_entries=64)
def snapshot_run(run: Run) -> SnapshotRun:
    """Attention of the weights of step `run.snapshot`, every head on, on the source and decoder input of the
    same run with the final weights (so rows and columns stay put while the step moves), and what those
    weights write themselves (greedy)."""
    t = models.get_trace(run.final)
    m = snapshot_model(run.path, run.stamp, run.snapshot)
    captured = capture_trace(m.model, t.src_ids, t.tgt_ids)
    attention = {k: v.detach().cpu().float().numpy() for k, v in captured.attention.items()}
    ids = m.translate_ids(t.src_ids, beam=1)
    # an untrained model may write only special pieces (<s> <s> ...), which decode to nothing: show those
    own = m.tokenizer.decode(ids) or " ".join(m.tokenizer.pieces(ids[1:]))
    return SnapshotRun(attention, own)


def step_label(entry: dict) -> str:
    """ "step 213 (loss 0.764)": what the slider says of a snapshot."""
    loss = entry.get("valid_loss")
    return f"step {entry['step']}" + (f" (loss {loss:.3g})" if loss is not None else "")


def snapshots(ctx: Ctx) -> list[dict]:
    """The model's training snapshots (oldest first); [] with a warning when their index is broken."""
    try:
        return list_snapshots(resolve_model_dir(ctx.path))
    except CheckpointError as e:
        st.warning(f"This model's training snapshots cannot be shown: {md_code(e, 600)}")
        return []


def fit_step(ctx: Ctx, entries: list[dict]) -> None:
    """`snap` fitted to the model's snapshots and to the panel: a link's step that is not a snapshot is
    ignored with a notice; an old link with `snap` but no `panel` opens the time-lapse; another panel
    takes `snap` out of the URL."""
    ss = st.session_state
    steps = [e["step"] for e in entries]
    have = (
        f"this model has snapshots of steps {', '.join(map(str, steps))}"
        if steps
        else ("this model has no training snapshots")
    )
    notices: list[str] = []
    from_url = "snap" in ss["_from_url"]
    state.check(ss, SNAP, None if ss["snap"] is None or ss["snap"] in steps else have, notices)
    if from_url and ss["snap"] is not None and "panel" not in ss["_from_url"]:
        ss["panel"] = PANEL
    ss["_from_url"].discard("snap")
    if ss["panel"] == PANEL and not steps:
        state.check(ss, state.shared_param("panel"), have, notices)
    if ss["panel"] != PANEL:
        ss["snap"] = None
    for notice in notices:
        st.warning(notice)


def _open() -> None:
    st.session_state["panel"] = PANEL


def offer(ctx: Ctx, entries: list[dict]) -> None:
    """One line near the top of the Attention view: this model kept snapshots, and a button to watch them."""
    text, button = st.columns([3, 1], vertical_alignment="center")
    text.markdown(
        f"**This model kept {len(entries)} snapshots of its training**, from step {entries[0]['step']} to "
        f"{entries[-1]['step']}: watch its attention form."
    )
    button.button("Watch it learn ▶", key="snap_offer", on_click=_open, type="primary")


def render(ctx: Ctx, entries: list[dict]) -> None:
    """The time-lapse panel: a slider over the snapshots, the chosen head at that step beside the same
    head fully trained, drawn as the Attention view draws its own (`app_support.views.attention.draw`)."""
    ss = st.session_state
    steps = [e["step"] for e in entries]
    by_step = {e["step"]: e for e in entries}
    if ss["snap"] is None:
        ss["snap"] = steps[0]  # before the widget exists: allowed
    st.select_slider(
        "Training step",
        steps,
        key="snap",
        format_func=lambda s: step_label(by_step[s]),
        persist_state="session",
        help="The weights kept at this step of the training run (python -m transformer.train --snapshots N), "
        "with the validation loss then. Step 0 is the initialisation: random weights.",
    )
    step, kind, layer, head = ss["snap"], ss["kind"], ss["layer"], ss["head"]
    try:
        with st.spinner(f"Loading the weights of step {step}…"):
            run = snapshot_run(ctx.run.but(snapshot=step))
    except CheckpointError as e:
        st.warning(f"The snapshot of step {step} cannot be loaded: {md_code(e, 600)}")
        return
    q_tok, k_tok = viz.side_tokens(ctx.trace, kind)
    rows = state.rows_for(ss, kind)
    who = head_title(head)
    sides = (
        (run.attention[kind], f"step {step}", "fig_snap", f"step-{step}"),
        (ctx.trace.attention[kind], "trained", "fig_snap_trained", "trained"),
    )
    for col, (attention, when, key, name) in zip(ctx.columns(2), sides, strict=True):
        w, q_pos, k_pos = shown(viz.head_weights(attention, layer, head), q_tok, k_tok, kind, rows)
        with col:
            drawn = {"kind": kind, "rows": rows, "layer": layer, "head": head, "q_pos": q_pos, "k_pos": k_pos,
                     "title": f"{KINDS[kind].title}: L{layer} {who}, {when}", "subtitle": export.quoted(ctx.text),
                     "zmax": None if ss["att_autoscale"] else 1.0, "font_size": ctx.font}  # fmt: skip
            heatmap(ctx, key, (w, q_tok, k_tok), drawn, (kind, f"L{layer}", who, name), above=SLIDER_PX)
    entry, last = by_step[step], steps[-1]
    said = [
        f"**Step {step}** of {last}" + (" — the initialisation, before any training." if step == 0 else ".")
    ]
    metrics = []
    if entry.get("valid_loss") is not None:
        metrics.append(f"validation loss {entry['valid_loss']:.3g}")
    if entry.get("exact") is not None:
        metrics.append(f"{entry['exact']:.0%} of validation pairs exactly right")
    if metrics:
        said.append("Then: " + ", ".join(metrics) + ".")
    said.append(f"With these weights the model itself writes: {md_code(run.own or '(nothing)', 120)}")
    st.markdown("\n\n".join(said))
    st.caption(
        "Left: the weights of this step; right: the trained model. Both trace the sentence and translation "
        "above (teacher-forced), so rows and columns stay the same while you move the slider; kind, layer "
        "and head are the ones picked above."
        + (" Every head is on here: the snapshots show the model as it was trained." if ctx.off else "")
    )
