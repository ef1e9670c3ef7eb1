"""A training run's curves: loss (training and held-out) and exact match against the step, one panel each,
sharing the step axis, with a line at the step the attention beside them shows (the Train view's rewind).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from viz.style import finish

CURVE_COLUMNS = ("step", "loss", "valid_loss", "exact", "trained")
COLOURS = {"loss": "#1f77b4", "valid_loss": "#ff7f0e", "exact": "#2ca02c"}


def training_frame(curve: Sequence[dict]) -> pd.DataFrame:
    """A run's reports as a tidy table: step, loss (training, since the report before), valid_loss and exact
    (held-out pairs), trained (seconds of training so far). For the CSV download and notebooks."""
    return pd.DataFrame(
        [{k: point.get(k) for k in CURVE_COLUMNS} for point in curve], columns=list(CURVE_COLUMNS)
    )


def training_curves(
    curve: Sequence[dict],
    at: int | None = None,
    *,
    title: str = "",
    font_size: int = 12,
    height: int | None = 360,
    target: float | None = None,
) -> go.Figure:
    """Loss above, exact match below, against the step. `curve`: dicts with step, loss, valid_loss, exact
    (training_frame's columns); `at`: the step drawn as a dashed line (the snapshot shown beside); `target`:
    an exact match drawn as a dotted goal line (e.g. 0.9)."""
    frame = training_frame(curve)
    fig = go.Figure()
    names = {"loss": "training loss", "valid_loss": "held-out loss", "exact": "exact match"}
    for col, axis in (("loss", "y"), ("valid_loss", "y"), ("exact", "y2")):
        fig.add_trace(
            go.Scatter(
                x=frame["step"], y=frame[col], name=names[col], yaxis=axis, mode="lines",
                line={"color": COLOURS[col], "width": 2},
                hovertemplate=f"step %{{x}}<br>{names[col]} %{{y:.3f}}<extra></extra>",
            )
        )  # fmt: skip
    top = max(1.0, float(frame[["loss", "valid_loss"]].max().max())) if len(frame) else 1.0
    fig.update_layout(
        xaxis={"title_text": "step", "domain": [0, 1], "anchor": "y2", "rangemode": "tozero"},
        yaxis={"title_text": "loss", "domain": [0.5, 1], "range": [0, top * 1.05], "automargin": True},
        yaxis2={
            "title_text": "exact match",
            "domain": [0, 0.4],
            "range": [0, 1.02],
            "tickformat": ".0%",
            "automargin": True,
        },  # fmt: skip
        legend={
            "orientation": "h",
            "yanchor": "bottom",
            "y": 1.0,
            "x": 0,
            "font": {"size": round(font_size * 0.9)},
        },
        margin={"l": font_size * 6, "r": font_size, "b": font_size * 3},
        hovermode="x unified",
    )
    if target is not None:
        fig.add_shape(type="line", xref="paper", x0=0, x1=1, yref="y2", y0=target, y1=target,
                      line={"color": "#999", "dash": "dot", "width": 1})  # fmt: skip
    if at is not None and len(frame):
        for yref in ("y", "y2"):
            fig.add_shape(type="line", xref="x", x0=at, x1=at, yref=f"{yref} domain", y0=0, y1=1,
                          line={"color": "#555", "dash": "dash", "width": 1})  # fmt: skip
    fig = finish(fig, title, font_size, height)
    fig.update_layout(
        margin={"t": round(font_size * (6 if title else 3))}
    )  # a legend, no subtitle: less room
    return fig
