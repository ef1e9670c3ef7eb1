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
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from transformer.kinds import KIND_NAMES, KINDS
from viz.style import TOP, esc, esc_all, finish, index_axis, panel_title, panels

SURPRISING = 0.1  # default threshold: a piece given less probability than this is "surprising"
BEFORE_COLOR, AFTER_COLOR = "#4c78a8", "#e4572e"
SAME_COLOR, CHANGED_COLOR, GAP_COLOR = "#e8eef6", "#f4a259", "#ffffff"
DROP_COLORSCALE = "RdBu"  # a drop (negative change) in red, a rise in blue, no change white
SCORE_COLUMNS = ["position", "piece", "prob", "logp", "rank", "model_top", "model_top_prob", "surprising"]


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
        },
        columns=SCORE_COLUMNS,
    )


def _piece_axis(fig: go.Figure, pieces: Sequence[str], marked: Sequence[bool] | None = None) -> None:
    """Pieces as x tick labels (escaped); `marked` ones bold in the highlight colour."""
    marked = marked if marked is not None else [False] * len(pieces)
    ticks = [f'<span style="color:{AFTER_COLOR}"><b>{esc(p)}</b></span>' if m else esc(p)
             for p, m in zip(pieces, marked, strict=True)]  # fmt: skip
    title = "piece predicted (decoder position t predicts piece t + 1)"
    fig.update_xaxes(index_axis(ticks, title, turn_after=6, automargin=True))


def piece_scores_bar(
    frame: pd.DataFrame,
    *,
    title: str = "How likely the model finds each piece of this translation",
    surprising: float = SURPRISING,
    font_size: int = 12,
    height: int | None = None,
) -> go.Figure:
    """Each piece's probability as a bar (teacher-forced), surprising pieces (bar and label) in orange,
    the rank above.

    `frame` comes from `piece_score_frame`. Hover: probability, log-probability, rank and what the
    model would have put there instead.
    """
    if frame.empty:
        raise ValueError("piece_scores_bar needs at least one piece")
    pieces = esc_all(frame["piece"])
    top = esc_all(frame["model_top"])
    bad = frame["surprising"].to_numpy(bool)
    custom = np.column_stack(
        [
            np.array(pieces, dtype=object),
            frame["logp"].to_numpy(),
            frame["rank"].to_numpy(),
            np.array(top, dtype=object),
            frame["model_top_prob"].to_numpy(),
        ]
    )
    fig = go.Figure(
        go.Bar(
            x=np.arange(len(frame)),
            y=frame["prob"].to_numpy(),
            marker={"color": [AFTER_COLOR if b else BEFORE_COLOR for b in bad]},
            text=[f"#{r}" for r in frame["rank"]],
            textposition="outside",
            customdata=custom,
            name="probability",
            hovertemplate="piece %{customdata[0]}<br>p = %{y:.4f} (log p %{customdata[1]:.3f})"
            "<br>rank %{customdata[2]}<br>the model's first choice: %{customdata[3]} "
            "(p = %{customdata[4]:.4f})<extra></extra>",
        )
    )
    fig.add_hline(  # its label right of the plot, in a margin of its own: over the bars it hid their tops
        y=surprising,
        line={"dash": "dot", "color": "#888"},
        annotation_text=f"surprising<br>below p = {surprising:g}",
        annotation_position="right",
        annotation_align="left",
    )
    _piece_axis(fig, frame["piece"].tolist(), bad.tolist())
    fig.update_yaxes(title_text="probability (teacher-forced)", range=[0, 1.12])
    fig.update_layout(showlegend=False, bargap=0.25, margin={"r": round(font_size * 8)})
    # 30 × the font tall: the rotated piece labels and the title grow with the font, so must the whole
    # (at 360 + 3 × font the presentation font left the bars 110 px)
    return finish(fig, title, font_size, height or 30 * font_size)


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
    """Log-probability of each predicted piece as bars: one series, or before / after side by side."""
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
    _piece_axis(fig, pieces)
    fig.update_yaxes(title_text="log-probability (0 = certain)")
    fig.update_layout(barmode="group")
    return finish(fig, title, font_size, height or 360 + 3 * font_size)


def align_pieces(a: Sequence[str], b: Sequence[str]) -> list[tuple[str, str | None, str | None]]:
    """Line two piece sequences up: [(tag, piece of a or None, piece of b or None)], tag one of
    "same", "changed", "removed" (only in a), "added" (only in b) (difflib's longest matches)."""
    out: list[tuple[str, str | None, str | None]] = []
    matcher = difflib.SequenceMatcher(a=list(a), b=list(b), autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out += [("same", a[i], b[j]) for i, j in zip(range(i1, i2), range(j1, j2), strict=True)]
        elif op == "replace":
            n = max(i2 - i1, j2 - j1)
            for k in range(n):
                pa = a[i1 + k] if i1 + k < i2 else None
                pb = b[j1 + k] if j1 + k < j2 else None
                tag = "changed" if pa is not None and pb is not None else "removed" if pb is None else "added"
                out.append((tag, pa, pb))
        elif op == "delete":
            out += [("removed", a[i], None) for i in range(i1, i2)]
        else:
            out += [("added", None, b[j]) for j in range(j1, j2)]
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
    ticks = []
    for line in range(n_lines):
        ticks += [esc(names[0]), esc(names[1])] + ([""] if line < n_lines - 1 else [])
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
    fig.update_yaxes(
        tickmode="array",
        tickvals=list(range(n_rows)),
        ticktext=ticks,
        autorange="reversed",
        showgrid=False,
        zeroline=False,
        automargin=True,
    )
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
    traces, layout, shapes, titles = [], {}, [], []
    for i, (kind, (sfx, x_dom, _)) in enumerate(
        zip(kinds, panels(len(kinds), len(kinds), 0.06), strict=True)
    ):
        part = table[table["kind"] == kind]
        n_l, n_h = int(part["layer"].max()) + 1, int(part["head_index"].max()) + 1
        z = np.full((n_l, n_h), np.nan)
        z[part["layer"].to_numpy(), part["head_index"].to_numpy()] = part[value].to_numpy()
        x, y = f"x{sfx}", f"y{sfx}"  # panels side by side, axes of their own
        traces.append(
            go.Heatmap(
                z=z,
                x=np.arange(n_h),
                y=np.arange(n_l),
                xaxis=x,
                yaxis=y,
                customdata=z,
                colorscale=DROP_COLORSCALE,
                zmid=0.0,
                zmin=-limit,
                zmax=limit,
                showscale=i == len(kinds) - 1,
                colorbar={"title": {"text": "change in log p"}},
                text=[["" if np.isnan(v) else _change(v) for v in row] for row in z],
                texttemplate="%{text}",
                hovertemplate=f"{esc(kind)} L%{{y}} H%{{x}}<br>{esc(value)} %{{customdata:.3f}}<extra></extra>",
                xgap=2,
                ygap=2,
            )
        )
        bare = {"showgrid": False, "zeroline": False}
        layout[f"xaxis{sfx}"] = index_axis([f"H{h}" for h in range(n_h)], domain=x_dom, anchor=y, **bare)
        layout[f"yaxis{sfx}"] = index_axis(
            [f"L{layer}" for layer in range(n_l)], reverse=True, anchor=x, **bare
        )
        titles.append(panel_title(esc(KINDS[kind].title), sum(x_dom) / 2, 1.0))
        shapes += [
            {
                "type": "rect",
                "xref": x,
                "yref": y,
                "x0": h - 0.5,
                "x1": h + 0.5,
                "y0": layer - 0.5,
                "y1": layer + 0.5,
                "line": {"color": "black", "width": 3},
            }
            for k, layer, h in off
            if k == kind
        ]
    fig = go.Figure(traces, layout={**layout, "annotations": titles, "shapes": shapes})
    auto = int(min(700, max(260, 190 + int(table["layer"].max() + 1) * font_size * 3.2)))
    fig = finish(fig, title, font_size, height or auto)
    fig.update_layout(margin={"t": round(font_size * (TOP + 1.5))})  # a subtitle above the panels' titles
    return fig
