"""Figures for experiments on the model: heads switched off, a translation typed by a person.

Pure, like the rest of viz: arrays, token lists and frames in, Plotly figures out::

    frame = viz.piece_score_frame(pieces, logp, rank, top_pieces, top_logp)   # one row per piece
    viz.piece_scores_bar(frame).show()                  # probability of each piece, surprising ones marked
    viz.piece_logprob_bars(pieces, before, after).show()   # log p of each piece, before / after heads off
    viz.translation_diff(original, ablated).show()      # two translations, the changed pieces marked
    viz.head_effect_grid(table).show()                  # layer × head of each kind: how much a head matters

A piece's score belongs to the piece predicted: decoder position t reads piece t and predicts
piece t + 1 (`</s>` after the last), so `pieces` are the predicted pieces (viz.predicted_pieces).
Log-probabilities are natural logs; every string from data is escaped.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from transformer.kinds import KIND_NAMES, KINDS
from viz.style import (
    TOP,
    esc,
    esc_all,
    finish,
    index_axis,
    labels_px,
    layer_head_panels,
    text_px,
)

SURPRISING = 0.1  # default threshold: a piece given less probability than this is "surprising"
BEFORE_COLOR, AFTER_COLOR = "#4c78a8", "#e4572e"
SAME_COLOR, CHANGED_COLOR, GAP_COLOR = "#e8eef6", "#f4a259", "#ffffff"
DROP_COLORSCALE = "RdBu"  # a drop (negative change) in red, a rise in blue, no change white


def piece_score_frame(
    pieces: Sequence[str],
    logp,
    rank,
    top_pieces: Sequence[str],
    top_logp,
    *,
    surprising: float = SURPRISING,
) -> pd.DataFrame:
    """One row per predicted piece: position, piece, prob, logp, rank (1 = the model's first choice),
    model_top (that first choice) and its probability, surprising (prob < `surprising`)."""
    logp = np.asarray(logp, dtype=np.float64)
    n = len(pieces)
    if logp.shape != (n,) or len(np.asarray(rank)) != n or len(top_pieces) != n or len(top_logp) != n:
        raise ValueError(f"piece_score_frame needs one value per piece ({n}), got logp {logp.shape}")
    prob = np.exp(logp)
    return pd.DataFrame(
        {
            "position": np.arange(n),
            "piece": list(pieces),
            "prob": prob,
            "logp": logp,
            "rank": np.asarray(rank, dtype=np.int64),
            "model_top": list(top_pieces),
            "model_top_prob": np.exp(np.asarray(top_logp, dtype=np.float64)),
            "surprising": prob < surprising,
        }
    )


def score_notes(frame: pd.DataFrame) -> list[str]:
    """What stands beside each piece of `piece_score_frame` (unescaped): its rank, and where the model's first
    choice is another piece, that piece and its probability ("#3 · the model prefers ▁spricht (0.34)")."""
    return [
        f"#{rank}" if rank == 1 else f"#{rank} · the model prefers {top} ({p:.2f})"
        for rank, top, p in zip(frame["rank"], frame["model_top"], frame["model_top_prob"], strict=True)
    ]


def piece_scores_bar(
    frame: pd.DataFrame,
    *,
    title: str = "How likely the model finds each piece of this translation",
    surprising: float = SURPRISING,
    font_size: int = 12,
    height: int | None = None,
) -> go.Figure:
    """Each piece's probability as a bar (teacher-forced), one row per piece read top to bottom, surprising
    pieces (bar and label) in orange; beside each bar, right of the plot, `score_notes`.

    `frame` comes from `piece_score_frame`. Rows and labels are flat at any length (a row per piece);
    the right margin is as wide as the longest note. Hover: probability, log-probability, rank and
    the model's first choice.
    """
    if frame.empty:
        raise ValueError("piece_scores_bar needs at least one piece")
    pieces = esc_all(frame["piece"])
    bad = frame["surprising"].to_numpy(bool)
    notes = esc_all(score_notes(frame))
    custom = np.column_stack([pieces, frame["logp"].to_numpy(), notes]).astype(object)
    fig = go.Figure(
        go.Bar(
            x=frame["prob"].to_numpy(),
            y=np.arange(len(frame)),
            orientation="h",
            marker={"color": [AFTER_COLOR if b else BEFORE_COLOR for b in bad]},
            customdata=custom,
            hovertemplate="piece %{customdata[0]}<br>p = %{x:.4f} (log p %{customdata[1]:.3f})"
            "<br>%{customdata[2]}<extra></extra>",
        )
    )
    fig.add_vline(x=surprising, line={"dash": "dot", "color": "#888"})
    marked = f'<span style="color:{AFTER_COLOR}"><b>{{}}</b></span>'
    ticks = [marked.format(p) if b else p for p, b in zip(pieces, bad, strict=True)]
    fig.update_yaxes(index_axis(ticks, reverse=True, automargin=True, showgrid=False))
    fig.update_xaxes(
        title_text=f"probability (teacher-forced); dotted: surprising, below p = {surprising:g}", range=[0, 1]
    )
    beside = {"x": 1.0, "xref": "paper", "yref": "y", "xanchor": "left", "xshift": 6, "showarrow": False}
    fig.update_layout(
        showlegend=False,
        bargap=0.3,
        margin={"r": round(labels_px(notes, font_size, cap=80) + font_size), "b": round(font_size * 4)},
        annotations=[
            {**beside, "text": note, "y": i, "font": {"color": AFTER_COLOR if r > 1 else "#444"}}
            for i, (note, r) in enumerate(zip(notes, frame["rank"], strict=True))
        ],
    )
    row = 2.2 * font_size  # a flat label per row, and room between them
    return finish(fig, title, font_size, height or round(font_size * (TOP + 4) + len(frame) * row))


def piece_logprob_bars(
    pieces: Sequence[str],
    before,
    after=None,
    *,
    names: tuple[str, str] = ("the model", "heads off"),
    title: str = "Log-probability of each piece of the translation (teacher-forced)",
    font_size: int = 12,
    height: int | None = None,
) -> go.Figure:
    """Log-probability of each predicted piece as bars: one series, or before / after side by side.

    Piece labels lie flat where they fit (Plotly turns them only when they would overlap); the plot is tall
    enough for its axis title at any font size, and for turned labels below it."""
    before = np.asarray(before, dtype=np.float64)
    if before.shape != (len(pieces),):
        raise ValueError(f"{len(pieces)} pieces but {before.shape} log-probabilities")
    series = [(names[0], before, BEFORE_COLOR)]
    if after is not None:
        after = np.asarray(after, dtype=np.float64)
        if after.shape != before.shape:
            raise ValueError(f"before {before.shape} and after {after.shape} differ")
        series.append((names[1], after, AFTER_COLOR))
    labels = np.array(esc_all(pieces), dtype=object)
    fig = go.Figure()
    for name, values, color in series:
        fig.add_trace(
            go.Bar(
                x=np.arange(len(pieces)),
                y=values,
                name=esc(name),
                marker={"color": color},
                customdata=np.column_stack([labels, np.exp(values)]),
                hovertemplate=f"{esc(name)}<br>piece %{{customdata[0]}}<br>log p %{{y:.3f}} "
                "(p = %{customdata[1]:.4f})<extra></extra>",
            )
        )
    y_title = "log p (0 = certain)"
    fig.update_xaxes(index_axis(labels, "piece predicted (position t predicts piece t + 1)", automargin=True))
    fig.update_yaxes(title_text=y_title)
    fig.update_layout(barmode="group")
    plot = max(220, text_px(y_title, font_size) + 2 * font_size)  # the axis title never longer than the plot
    below = 4 * font_size + labels_px(labels, font_size) / 2  # ticks, title; half a label turned 30°
    return finish(fig, title, font_size, height or round(font_size * TOP + plot + below))


def align_pieces(a: Sequence[str], b: Sequence[str]) -> list[tuple[str, str | None, str | None]]:
    """Line two piece sequences up: [(tag, piece of a or None, piece of b or None)], tag one of
    "same", "changed", "removed" (only in a), "added" (only in b) (difflib's longest matches)."""
    out: list[tuple[str, str | None, str | None]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=list(a), b=list(b), autojunk=False).get_opcodes():
        for pa, pb in itertools.zip_longest(
            a[i1:i2], b[j1:j2]
        ):  # a replacement's longer side: None beside it
            tag = (
                "same" if op == "equal" else "removed" if pb is None else "added" if pa is None else "changed"
            )
            out.append((tag, pa, pb))
    return out


def translation_diff(
    a: Sequence[str],
    b: Sequence[str],
    *,
    names: tuple[str, str] = ("the model", "heads off"),
    per_line: int = 12,
    title: str = "The two translations, piece by piece (changed pieces in orange)",
    font_size: int = 12,
    height: int | None = None,
) -> go.Figure:
    """Two translations (their pieces) lined up, two rows per line of at most `per_line` slots:
    pieces both share in pale blue, changed, removed or added ones in orange, a gap where one has none."""
    slots = align_pieces(a, b)
    if not slots:
        slots = [("same", "", "")]
    n_lines = -(-len(slots) // per_line)
    n_rows = 3 * n_lines - 1  # two rows per line, a blank row between lines
    width = min(per_line, len(slots))
    z = np.full((n_rows, width), np.nan)
    text = np.full((n_rows, width), "", dtype=object)
    hover = np.full((n_rows, width), "", dtype=object)
    for i, (tag, pa, pb) in enumerate(slots):
        line, col = divmod(i, per_line)
        for r, piece in ((3 * line, pa), (3 * line + 1, pb)):
            changed = tag != "same"
            z[r, col] = 0.0 if piece is None else (1.0 if changed else 0.5)
            text[r, col] = "—" if piece is None else esc(piece)
            who = names[0] if r == 3 * line else names[1]
            hover[r, col] = f"{esc(who)}: {text[r, col]} ({tag})"
    ticks = ([esc(names[0]), esc(names[1]), ""] * n_lines)[:-1]  # a blank row between lines
    fig = go.Figure(
        go.Heatmap(
            z=z,
            text=text,
            texttemplate="%{text}",
            textfont={"size": font_size},
            customdata=hover,
            hovertemplate="%{customdata}<extra></extra>",
            colorscale=[[0.0, GAP_COLOR], [0.5, SAME_COLOR], [1.0, CHANGED_COLOR]],
            zmin=0.0,
            zmax=1.0,
            showscale=False,
            xgap=3,
            ygap=3,
        )
    )
    fig.update_xaxes(visible=False, range=[-0.5, width - 0.5])
    fig.update_yaxes(index_axis(ticks, reverse=True, showgrid=False, zeroline=False, automargin=True))
    fig = finish(fig, title, font_size, height or int(font_size * TOP + 30 + n_rows * font_size * 2.4))
    fig.update_layout(plot_bgcolor="white", margin={"b": 20})  # no x axis below: the rows are the figure
    return fig


def _change(v: float) -> str:
    """A cell's change to 2 decimals, "0.00" for one that rounds to zero (never "-0.00": a class asks what a
    negative zero is)."""
    text = f"{v:.2f}"
    return "0.00" if float(text) == 0 else text


def head_effect_grid(
    table: pd.DataFrame,
    *,
    value: str = "logp_change",
    off: Sequence[tuple[str, int, int]] = (),
    title: str = "How much switching one head off lowers the translation's log-probability",
    font_size: int = 12,
    height: int | None = None,
) -> go.Figure:
    """A layer × head heatmap per attention kind of one column of a heads table (`value`, by default
    the log-probability change: red = the translation became less likely, blue = more likely). Heads in
    `off` are boxed."""
    kinds = [k for k in KIND_NAMES if k in set(table["kind"])]
    if not kinds:
        raise ValueError("head_effect_grid needs a table with at least one head")
    limit = float(np.abs(table[value]).max()) or 1.0
    # three ticks (−limit, 0, +limit) and the title beside the bar: at the projector's font, Plotly's own
    # ticks and a title on top left a 3-layer grid's bar too short for its numbers
    colorbar = {
        "title": {"text": "change in log p", "side": "right"},
        "tickvals": [-limit, 0.0, limit],
        "ticktext": [_change(-limit), "0", _change(limit)],
    }
    grids = []
    for i, kind in enumerate(kinds):
        part = table[table["kind"] == kind]
        n_l, n_h = int(part["layer"].max()) + 1, int(part["head_index"].max()) + 1
        z = np.full((n_l, n_h), np.nan)
        z[part["layer"].to_numpy(), part["head_index"].to_numpy()] = part[value].to_numpy()
        grids.append((esc(KINDS[kind].title), z, {
            "customdata": z, "colorscale": DROP_COLORSCALE, "zmid": 0.0, "zmin": -limit, "zmax": limit,
            "showscale": i == len(kinds) - 1, "colorbar": colorbar, "texttemplate": "%{text}",
            "text": [["" if np.isnan(v) else _change(v) for v in row] for row in z],
            "hovertemplate": f"{esc(kind)} L%{{y}} H%{{x}}<br>{esc(value)} %{{customdata:.3f}}<extra></extra>",
        }))  # fmt: skip

    def boxes(i: int, x: str, y: str) -> list[dict]:
        box = {"type": "rect", "xref": x, "yref": y, "line": {"color": "black", "width": 3}}
        return [{**box, "x0": h - 0.5, "x1": h + 0.5, "y0": layer - 0.5, "y1": layer + 0.5}
                for k, layer, h in off if k == kinds[i]]  # fmt: skip

    plot = max(int(table["layer"].max() + 1) * font_size * 2.4, font_size * 9)  # room for the bar's 3 ticks
    return layer_head_panels(grids, title, font_size, height, plot, 700, boxes)
