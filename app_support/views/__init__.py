"""One module per view; each declares itself in one `VIEW = View(...)` and draws only with figures
built by viz functions. The app knows the views through app_support.registry alone.

`View` is everything the app needs to know about a view; `Ctx` carries what every view needs to draw:
the model, the `Run` it draws (the key of every cached call), its trace, and the look (font sizes) of
normal or presentation mode.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from app_support import export, models
from app_support.classroom.lesson import Seat
from app_support.run import Run
from app_support.state import Param
from transformer import Pretrained, Trace

EXPERIMENT = ("off", "target")  # the parts of an experiment a view can follow (app_support.experiment)


@dataclass(frozen=True)
class View:
    """A view, declared once in its module as `VIEW` and listed once in app_support.registry."""

    name: str  # its name in the URL (`view=...`) and in exported file names
    title: str  # its button in the view picker
    group: str  # the picker's row it sits in (registry.GROUPS)
    section: str  # where it is in the paper, said under it
    render: Callable[[Ctx], None]
    params: tuple[Param, ...] = ()  # its own URL parameters (app_support.state.Param)
    says_translation: bool = False  # the translation is said above it (others show it their own way)
    follows: tuple[str, ...] = ()  # the parts of the experiment it draws: EXPERIMENT, a part of it or none
    sets_experiment: bool = False  # it sets the experiment and says itself what it shows (no banner)
    on_its_own: bool = False  # runs as a fragment: a click on its controls reruns it alone, not the page
    stands_alone: bool = False  # draws without the chosen model and sentence: render gets None (Train live)
    models: Callable[[], dict[str, Path]] | None = (
        None  # models it adds to this session's picker: name -> dir
    )


@dataclass(frozen=True)
class Ctx:
    model: Pretrained
    model_label: str  # a name in assets/ or the checkpoint directory's name
    run: Run  # what `trace` is a run of: the model as trained, or the experiment this view follows
    trace: Trace  # float32 numpy arrays (models.get_trace)
    present: bool
    notices: int = 0  # warnings shown above the view (a projected figure leaves room for them)
    seat: Seat | None = None  # this page's seat in a class (app_support.classroom), or None

    # the run's parts, as the views read them
    path = property(lambda self: self.run.path)
    text = property(lambda self: self.run.text)
    off = property(lambda self: self.run.off)  # heads switched off in `trace`; () = the model as trained
    target = property(lambda self: self.run.target)  # the typed translation `trace` is traced on, or None
    # the look: font sizes in px, bigger on a projector
    font = property(lambda self: 20 if self.present else 12)
    small_font = property(lambda self: 16 if self.present else 10)

    def height(self, normal: int) -> int:
        return int(normal * 1.4) if self.present else normal

    def columns(self, n: int = 2):
        """Side by side, in presentation mode too: a head beside the mean over heads is a comparison the
        class makes at a glance (Streamlit stacks columns by itself on a narrow screen)."""
        return st.columns(n)


def chart(ctx: Ctx, fig: go.Figure, key: str, *name: object) -> None:
    """Show a Plotly figure, the sentence in its subtitle, with an image download (PNG or SVG, as the
    sidebar's Export says) named after the model, the view, what it shows and the sentence."""
    config = export.plotly_config(stem(ctx, *name), fmt=st.session_state.get("fig_format", "png"))
    shown = fig if getattr(fig, "_with_sentence", False) else export.with_sentence(fig, ctx.text)
    st.plotly_chart(shown, key=key, config=config, theme=None)


def show(ctx: Ctx, key: str, name: tuple, build: Callable[..., go.Figure], *args, **kwargs) -> None:
    """`chart` of `figure(ctx, build, *args, **kwargs)`: `key` its widget key, `name` what it shows."""
    chart(ctx, figure(ctx, build, *args, **kwargs), key, *name)


def stem(ctx: Ctx, *name: object) -> str:
    """An exported file's name without its extension: the model, the view, what it shows, the sentence."""
    return export.file_stem(ctx.model_label, st.session_state.get("view", ""), *name, export.slug(ctx.text))


def figure(ctx: Ctx, build: Callable[..., go.Figure], *args, **kwargs) -> go.Figure:
    """`build(*args, **kwargs)` with the sentence in its subtitle, for `chart`: built once per server and
    shared by every session that shows the same figure (models.figure), so never change what it returns."""
    return models.figure(_with_sentence, ctx.text, build, *args, **kwargs)


def _with_sentence(text: str, build: Callable[..., go.Figure], *args, **kwargs) -> go.Figure:
    fig = export.with_sentence(build(*args, **kwargs), text)
    fig._with_sentence = True  # chart() adds nothing more
    return fig


def controls(ctx: Ctx, label: str = "Controls"):
    """Where a view's widgets go: in place normally, in a collapsed expander in presentation mode."""
    return st.expander(label, expanded=False) if ctx.present else st.container()


def pick_one(label: str, options: dict, key: str, where=st) -> None:
    """A row of buttons over `options` (value -> what it says), one always chosen, kept in the session and
    wrapped onto a second row rather than clipped; `where`: a column, or the page."""
    where.segmented_control(
        label, list(options), key=key, required=True, format_func=options.get, persist_state="session",
        label_visibility="collapsed", wrap=True,
    )  # fmt: skip
