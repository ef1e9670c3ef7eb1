"""The experiment the views show: attention heads switched off, a translation typed by a person.

Set in the "Switch heads off" and "Score a translation" views, kept in the session and the URL
(`off`, `target`, `apply`). While one is set, every view that follows it (`View.follows`) draws the run with those
heads off and / or traced on the typed translation, under a banner that says so, so nobody takes
an ablated run for the model; "Show the experiment in every view" (`apply=0`) switches back to the
model as trained without forgetting the experiment.

A view whose `follows` names part of it follows only that part (Minimal pairs: the heads off, for both
sentences). A view that follows none gets the model's own run (its `ctx.run` is the model as trained); it
can follow too by passing `ctx.run` to every cached call it makes beyond `ctx.trace` and declaring
`follows=EXPERIMENT`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, MutableMapping

import streamlit as st

from app_support import models
from app_support.experiment import heads_off
from app_support.experiment.results import TARGET_LIMIT
from app_support.safe_text import md_code
from app_support.views import EXPERIMENT, Ctx, View
from transformer import Trace

SCIENCE = ":material/science:"  # the experiment's icon: Streamlit's icon font (an emoji showed as a box)


def typed_target(ss: Mapping) -> str | None:
    """The typed translation, or None when the box is empty (or only spaces)."""
    target = ss.get("target") or ""
    return target if target.strip() else None


def experiment(ss: Mapping) -> dict:
    """What the views show: {"off": ..., "target": ...} for what is set and applied; {} for the model's own run."""
    if not ss.get("exp_apply", True):
        return {}
    out: dict = {"off": tuple(ss["off"])} if ss.get("off") else {}
    if typed_target(ss) is not None:
        out["target"] = ss["target"]
    return out


def shown_experiment(ss: Mapping, view: View) -> dict:
    """The part of the experiment `view` draws: the parts it follows (View.follows)."""
    return {k: v for k, v in experiment(ss).items() if k in view.follows}


def fit(ss: MutableMapping, n_layers: Mapping[str, int], n_heads: int) -> list[str]:
    """Before anything is drawn: heads this model lacks switched back on, a typed translation cut to
    TARGET_LIMIT characters, and cleared when the sentence it was typed for changed. Notices for each."""
    notices: list[str] = []
    off, gone = heads_off.fit(heads_off.normalise(ss.get("off", ())), n_layers, n_heads)
    ss["off"] = off
    notices += gone
    target = ss.get("target") or ""
    if len(target) > TARGET_LIMIT:
        ss["target"] = target[:TARGET_LIMIT]
        notices.append(
            f"Your translation had {len(target):,} characters: only its first {TARGET_LIMIT:,} are scored."
        )
    typed_for = ss.get("_target_for")
    if typed_target(ss) is not None and typed_for is not None and typed_for != ss["text"]:
        ss["target"] = ""
        notices.append("The sentence changed, so the translation typed for the old one was cleared.")
    ss["_target_for"] = ss["text"]
    return notices


def describe(off, target: str | None) -> str:
    """One line naming the experiment: "3 heads off: cross L2 H0, … · traced on your translation: `…`"."""
    parts = [heads_off.describe(off)] if off else []
    if target is not None:
        parts.append(f"traced on your translation: {md_code(target, 120)}")
    return " · ".join(parts)


def banner_text(off, target: str | None, left_out: bool) -> str:
    """The warning above a view that draws the experiment: what it is, on a line of its own (it may end in a
    typed translation's own full stop), then what the figures show. `left_out`: the view cannot follow the
    typed translation (Minimal pairs)."""
    shows = "Every figure below shows this run"
    if left_out:
        shows = (
            "Every figure below, for both sentences, shows this run; your typed translation belongs to the "
            "first sentence only and is not traced here"
        )
    if off:
        shows += (
            ". A head switched off still computes its attention weights (drawn as before); its output is "
            "zeroed, so what changes is everything after it"
        )
    return f"**Experiment, not the model as trained:** {describe(off, target)}\n\n{shows}."


def banner(ctx: Ctx, view: View) -> None:
    """Say, above the view, which experiment its figures show (or that they show the model as trained)."""
    ss = st.session_state
    off, target = tuple(ss.get("off", ())), typed_target(ss)
    if (not off and target is None) or view.sets_experiment:  # it says itself what it shows
        return
    shown = ctx.run.is_experiment
    with st.container(key="experiment_banner"):
        if shown:
            left_out = target is not None and ctx.target is None  # a translation this view cannot follow
            st.warning(banner_text(ctx.off, ctx.target, left_out), icon=SCIENCE)
        elif shown_experiment({**ss, "exp_apply": True}, view):  # it would follow, but the toggle is off
            st.info(
                f"Experiment set but not shown ({describe(off, target)}): these figures are the model as trained."
            )
        else:
            st.info(
                f"This view shows the model as trained; the experiment ({describe(off, target)}) is not applied here."
            )
        a, b = st.columns([3, 1])
        a.toggle(
            "Show the experiment in every view",
            key="exp_apply",
            persist_state="session",
            help="Off: the views show the model as trained; the experiment stays set (and in the URL).",
        )
        b.button(
            "End the experiment",
            key="exp_end",
            on_click=ss.update,
            kwargs={"off": (), "target": ""},
            help="All heads on, typed translation cleared.",
        )


def run(ctx: Ctx, view: View) -> Ctx:
    """The context `view` draws: the run with the parts of the experiment it follows, else ctx unchanged. A failure to compute the experiment is shown as an error and the
    model's own run is drawn instead (never a traceback). `banner` says, above the view, which it is."""
    exp = shown_experiment(st.session_state, view)
    if exp:
        try:
            with st.spinner("Running the experiment…"):
                run = ctx.run.but(**exp)
                trace = models.get_trace(run)
            ctx = dataclasses.replace(ctx, run=run, trace=trace)
        except Exception as e:  # never a traceback in class
            st.error(
                f"The experiment could not be run ({type(e).__name__}): {md_code(e)}. Showing the model as trained."
            )
    return ctx


def positions_trace(ctx: Ctx, view: View, own: Trace) -> Trace:
    """The run the views with positions in the translation draw (Decoding, Anatomy, Embeddings: all in
    follow the whole experiment), which their step and positions are fitted to (state.fit_to_trace).

    `ctx` is `run(ctx, view)`; `own` the model's own run. With a typed translation or heads off that run
    is the experiment's, whose translation may be longer or shorter than the model's: a step past the
    model's own translation is kept, and kept while another view is open too.
    """
    if view.follows == EXPERIMENT:
        return ctx.trace  # what `run` gave: the experiment's run, or the model's own if it failed
    exp = experiment(st.session_state)
    if not exp:
        return own
    try:
        return models.get_trace(ctx.run.but(**exp))  # cached: the run the next view that follows draws
    except Exception:  # that view will say why when it is opened; until then it would draw the model's own
        return own
