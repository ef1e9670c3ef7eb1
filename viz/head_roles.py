"""What each head does: a layer × head grid per attention kind, each cell naming the head's strongest role.

Arrays in (from `transformer.head_roles`: per kind, the role names and scores as (layers, heads) arrays, and
every measure), a Plotly figure or a tidy frame out::

    roles = head_roles.trace_roles(model, trace)
    names = {k: r.strongest()[0] for k, r in roles.items()}; scores = {k: r.strongest()[1] for ...}
    viz.head_roles_grid(names, scores, head_roles.ROLES).show()
    viz.head_roles_frame(names, scores, {k: r.scores for k, r in roles.items()})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from transformer.kinds import KIND_NAMES, KINDS
from viz.style import esc, layer_head_panels

# light colours, one a role, dark text on each (a projector washes out dark fills); the last roles (broad) grey
PALETTE = ("#a6cee3", "#b2df8a", "#fdbf6f", "#cab2d6", "#fb9a99", "#ffff99", "#8dd3c7", "#d9d9d9", "#bebada")


def role_colours(roles: Sequence[str]) -> dict[str, str]:
    """Role -> its fill, in the order `roles` lists them (the same role has the same colour in every figure)."""
    return {role: PALETTE[i % len(PALETTE)] for i, role in enumerate(roles)}


def _kinds(names: Mapping[str, np.ndarray]) -> list[str]:
    kinds = [k for k in KIND_NAMES if k in names]
    if not kinds:
        raise ValueError(f"no attention kind among {sorted(names)}: expected some of {KIND_NAMES}")
    return kinds


def head_roles_grid(
    names: Mapping[str, np.ndarray],
    scores: Mapping[str, np.ndarray],
    roles: Sequence[str],
    *,
    title: str = "What each head does: its strongest role",
    font_size: int = 12,
    height: int | None = None,
) -> go.Figure:
    """One panel per kind (`names`, `scores`: kind -> (layers, heads) arrays), a cell per head coloured by
    its role (`roles`: every role, in the order of the colours) and saying the role and its score."""
    kinds = _kinds(names)
    colours = role_colours(roles)
    n = len(roles)
    # a stepped scale: role i fills [i, i + 1) / n
    scale = [[edge / n, colours[r]] for i, r in enumerate(roles) for edge in (i, i + 1)]
    grids = []
    for kind in kinds:
        who, score = np.asarray(names[kind]), np.asarray(scores[kind], dtype=float)
        if who.shape != score.shape or who.ndim != 2:
            raise ValueError(
                f"{kind}: names {who.shape} and scores {score.shape} must be one (layers, heads)"
            )
        unknown = set(who.flat) - set(roles)
        if unknown:
            raise ValueError(f"{kind}: roles {sorted(unknown)} are not among {list(roles)}")
        z = np.vectorize(lambda r: list(roles).index(r) + 0.5)(who) if who.size else who.astype(float)
        text = [[f"{esc(r)}<br>{s:.2f}" for r, s in zip(row_r, row_s, strict=True)] for row_r, row_s in
                zip(who, score, strict=True)]  # fmt: skip
        grids.append((esc(KINDS[kind].title), z, {
            "zmin": 0, "zmax": n, "colorscale": scale, "showscale": False, "text": text, "texttemplate": "%{text}",
            "textfont": {"color": "black"},
            "hovertemplate": f"{esc(KINDS[kind].title)} L%{{y}} H%{{x}}: %{{text}}<extra></extra>",
        }))  # fmt: skip
    layers = max(np.asarray(names[k]).shape[0] for k in kinds)
    return layer_head_panels(grids, title, font_size, height, layers * font_size * 4.5, 900)


def head_roles_frame(
    names: Mapping[str, np.ndarray],
    scores: Mapping[str, np.ndarray],
    measures: Mapping[str, Mapping[str, np.ndarray]],
) -> pd.DataFrame:
    """One row per head: kind, layer, head, role, score, then every measure (`measures`: kind -> measure ->
    (layers, heads)); NaN where a measure does not apply to a kind."""
    rows = []
    for kind in _kinds(names):
        who, score = np.asarray(names[kind]), np.asarray(scores[kind], dtype=float)
        for layer, head in np.ndindex(who.shape):
            row = {"kind": kind, "layer": layer, "head": head, "role": str(who[layer, head]),
                   "score": float(score[layer, head])}  # fmt: skip
            row |= {m: float(np.asarray(v)[layer, head]) for m, v in measures.get(kind, {}).items()}
            rows.append(row)
    return pd.DataFrame(rows)
