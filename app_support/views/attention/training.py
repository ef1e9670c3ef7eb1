"""Watch attention form during training: a slider over the snapshots a model directory carries
(`python -m transformer.train --snapshots N`), showing the chosen kind / layer / head traced with the
weights of that training step. The Attention view calls `render_snapshots` below its figures.

Each snapshot is loaded into a model object of its own (`st.cache_resource`, keyed by path, file times
and step); the shared model is never touched. The snapshot reads the same sentence and the same
translation as the figures above (teacher-forced), so rows and columns stay put while the weights change.
The step shown is in the URL as `snap`; the section is open exactly when it is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

import viz
from app_support import models, state
from app_support.run import Run
from app_support.safe_text import md_code
from app_support.views import Ctx, chart
from transformer import CheckpointError, Pretrained, Transformer
from transformer.checkpoint import list_snapshots, load_snapshot
from transformer.kinds import KINDS, MEAN_HEAD
from transformer.pretrained import resolve_model_dir
from transformer.trace import capture_trace

SNAP = state.number(
    "snap", "snap", None, 0, 999_999_999, "training step of the snapshot shown (a model with snapshots; "
    'absent: "Watch attention form during training" closed)', "a training step is a whole number",
)  # fmt: skip
SNAP_OPEN = "snap_open"  # the expander's open state; the step itself is st.session_state["snap"]
TITLE = "Watch attention form during training"


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


def _toggled(first: int) -> None:
    """Opening the section shows the first snapshot; closing it takes `snap` out of the URL."""
    ss = st.session_state
    ss["snap"] = (ss["snap"] if ss["snap"] is not None else first) if ss[SNAP_OPEN] else None


def render_snapshots(ctx: Ctx) -> None:
    """The section, when the model has snapshots: a slider over them and the chosen head at that step."""
    ss = st.session_state
    try:
        directory = resolve_model_dir(ctx.path)
        entries = list_snapshots(directory)
    except CheckpointError as e:
        st.warning(f"This model's training snapshots cannot be shown: {md_code(e, 600)}")
        return
    steps = [e["step"] for e in entries]
    notices: list[str] = []
    have = (
        f"this model has snapshots of steps {', '.join(map(str, steps))}"
        if steps
        else "this model has no training snapshots"
    )
    state.check(ss, SNAP, None if ss["snap"] is None or ss["snap"] in steps else have, notices)
    ss["_from_url"].discard("snap")
    for notice in notices:
        st.warning(notice)
    if not entries:
        return
    section = st.expander(
        f"{TITLE} ({len(entries)} snapshots)",
        expanded=ss["snap"] is not None,
        key=SNAP_OPEN,
        on_change=_toggled,
        args=(steps[0],),
    )
    if not section.open:
        return
    with section:
        _draw(ctx, directory, entries)


def _draw(ctx: Ctx, directory: Path, entries: list[dict]) -> None:
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
    step = ss["snap"]
    kind, layer, head = ss["kind"], ss["layer"], ss["head"]
    t = ctx.trace
    try:
        with st.spinner(f"Loading the weights of step {step}…"):
            run = snapshot_run(ctx.run.but(snapshot=step))
    except CheckpointError as e:
        st.warning(f"The snapshot of step {step} cannot be loaded: {md_code(e, 600)}")
        return
    rows = state.rows_for(ss, kind)
    q_tok, k_tok = viz.side_tokens(t, kind)
    w, q_pos, k_pos = viz.head_weights(run.attention[kind], layer, head), None, None
    if ss["att_hide_specials"]:
        w, q_pos, k_pos = viz.hide_specials(
            w, q_tok, k_tok, kind=kind, rows=rows, renormalize=ss["att_renormalise"]
        )
    who = "mean of heads" if head == MEAN_HEAD else f"H{head}"
    left, right = ctx.columns(2)
    with left:
        if w.size == 0:
            st.info("Nothing left to show once the special pieces are hidden.")
        else:
            fig = viz.attention_heatmap(
                w, q_tok, k_tok, kind=kind, rows=rows, layer=layer, head=head, q_pos=q_pos, k_pos=k_pos,
                title=f"{KINDS[kind].title}: layer {layer}, {who}, step {step}",
                zmax=None if ss["att_autoscale"] else 1.0, font_size=ctx.font,
            )  # fmt: skip
            chart(ctx, fig, "fig_snap", kind, f"L{layer}", who, f"step-{step}")
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
    right.markdown("\n\n".join(said))
    right.caption(
        "The figure traces the sentence and translation above with the weights of this step "
        "(teacher-forced), so its rows and columns stay the same while you move the slider; "
        "kind, layer and head are the ones picked above."
        + (" Every head is on here: the snapshots show the model as it was trained." if ctx.off else "")
    )
