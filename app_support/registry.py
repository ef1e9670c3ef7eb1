"""The views of the app, in the picker's order: the one list the app, the URL codec and the tests read.

Adding a view is one module under app_support/views/ that ends with `VIEW = View(...)` (its name, title,
group, paper section, render function, URL parameters, ...; app_support.views.View) and one line in
`VIEWS` below. Everything else (the picker, the URL, the notices, the export names) follows from the
declarations. The URL scheme they make:

    python -m app_support.registry
"""

from __future__ import annotations

from collections.abc import Sequence

from app_support import state
from app_support.classroom import page as classroom
from app_support.state import Param
from app_support.views import (
    View,
    anatomy,
    attention,
    decoding,
    embeddings,
    heads,
    io,
    pairs,
    positional,
    quiz,
    roles,
    score,
    train,
)

VIEWS: list[View] = [
    io.VIEW,
    attention.VIEW,
    positional.VIEW,
    embeddings.VIEW,
    decoding.VIEW,
    anatomy.VIEW,
    roles.VIEW,
    heads.VIEW,
    score.VIEW,
    pairs.VIEW,
    quiz.VIEW,
    train.VIEW,
]
GROUPS = {  # the picker's rows: group -> what the row is called
    "See": "See what the model does",
    "Experiment": "Experiment with it",
}


def view(name: str) -> View:
    """The view called `name` in the URL."""
    return next(v for v in VIEWS if v.name == name)


def titles() -> dict[str, str]:
    """URL name -> title, in the picker's order."""
    return {v.name: v.title for v in VIEWS}


def grouped() -> dict[str, list[View]]:
    """The picker's rows: group -> its views, in GROUPS' order."""
    return {group: [v for v in VIEWS if v.group == group] for group in GROUPS}


def picker_key(name: str) -> str:
    """The widget key of the picker's row that holds the view called `name` ("view_see", ...)."""
    return f"view_{view(name).group.lower()}"


def view_params() -> dict[str, Param]:
    """URL name -> parameter, of every view's own controls (in the registry's order)."""
    return {p.url: p for v in VIEWS for p in v.params}


def params(models: Sequence[str] = (), private: Sequence[str] = ()) -> list[Param]:
    """Every URL parameter: the shared ones (`models`: the model names a link may name; `private`: names of
    this session's own models, which a link never names), then each view's."""
    return [*state.shared(models, list(titles()), private), *view_params().values(), *classroom.PARAMS]


def session_models() -> dict:
    """The models the views add to this session's picker (a model trained live): name -> directory."""
    found = {}
    for v in VIEWS:
        if v.models is not None:
            found.update(v.models())
    return found


def defaults() -> dict:
    """Session key -> default, of every URL parameter with a fixed default and of the session-only keys."""
    fixed = {p.key: p.default for p in params() if p.key not in state.FOUND_AT_RUN_TIME}
    return {**fixed, **state.SESSION_DEFAULTS}


def url_scheme() -> str:
    """The URL parameters, one a line with its session key: the documentation of a shared link."""
    lines = ["Shared by every view:"]
    lines += [f"    {p.url:<10} {p.doc}  [{p.key}]" for p in state.shared((), list(titles()))]
    lines.append("Class mode (app_support.classroom):")
    lines += [f"    {p.url:<10} {p.doc}  [{p.key}]" for p in classroom.PARAMS]
    for v in VIEWS:
        lines.append(f"{v.title} (view={v.name}):" + ("" if v.params else " no parameters of its own"))
        lines += [f"    {p.url:<10} {p.doc}  [{p.key}]" for p in v.params]
    return "\n".join(lines)


if __name__ == "__main__":
    print(url_scheme())
