"""Embeddings and hidden states projected to 2-D (PCA, t-SNE), token paths, nearest neighbours.

The residual stream (paper §3.1: every sub-layer adds to it) has d_model dimensions; a
student sees it in 2-D. Each stage is first normalised on its own (every vector scaled to length
1, the stage centred: `normalise_stages`), so a few very long vectors cannot squeeze the rest into a dot.
Then two projections: each stage on its own (x, y: the structure of that stage,
`projection_scatter`), and all stages by ONE fit (path_x, path_y: a token's place after layer 2
can be compared with its place after layer 1, `token_path`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from viz.frames import array_of, as_array, token_labels
from viz.style import esc, finish, panel_title, panels

WRAP_AT = 24  # characters: a longer panel title is written on two lines when panels stand three a row


def stage_labels(n_stages: int) -> list[str]:
    """Names of hidden-state stages: index 0 is the embedding + PE input, index l the output of layer l-1.

    Layers are 0-based (L0, L1, …) as in the attention figures, so hidden[1] = "after L0".
    """
    return ["embedding + PE"] + [f"after L{layer}" for layer in range(n_stages - 1)]


def project_2d(
    points,
    method: str = "pca",
    *,
    seed: int = 0,
    perplexity: float | None = None,
    max_iter: int = 1000,
) -> np.ndarray:
    """(N, d) -> (N, 2) by PCA or t-SNE; tiny inputs (N = 1, 2, 3) still return (N, 2).

    t-SNE needs perplexity < N; the default is min(30, (N - 1) / 3) clipped to at least 1,
    and a too-large value is clipped to N - 1. A single point is placed at the origin.
    t-SNE costs seconds for ~1000 points (7 stages × 128 tokens); lower max_iter (≥ 250) to trade quality.
    """
    # local imports: sklearn is slow to import and only some pages need it
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    if method not in ("pca", "tsne"):
        raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")
    x = array_of(points, "(N, d)", "points")
    n, d = x.shape
    out = np.zeros((n, 2))
    if n < 2 or d == 0:
        return out
    if method == "pca":
        k = min(2, n, d)
        with np.errstate(invalid="ignore", divide="ignore"):  # identical points: 0/0 variance ratio
            out[:, :k] = PCA(n_components=k, random_state=seed).fit_transform(x)
        return out
    p = min(30.0, max(1.0, (n - 1) / 3)) if perplexity is None else float(perplexity)
    p = min(p, n - 1.0)  # sklearn requires perplexity < n_samples
    init = "pca" if d >= 2 else "random"
    tsne = TSNE(n_components=2, perplexity=p, init=init, random_state=seed, max_iter=max_iter)
    # One thread: for a sentence's few hundred points OpenMP workers only add overhead, and on a
    # busy machine (a server's other sessions) their spin-waiting turned 0.1 s fits into 5 s.
    with threadpool_limits(limits=1):
        return tsne.fit_transform(x)


def normalise_stages(h: np.ndarray) -> np.ndarray:
    """(stages, T, d) -> every vector scaled to length 1, then each stage centred (its mean subtracted).

    What is left is the direction a piece points in, compared with the other pieces of its stage. A
    few vectors of a trained model (the first position, ".", "</s>") are many times longer than the
    rest; unnormalised, they take PCA's two axes and squeeze every other piece into a dot. Scaling
    comes first: a mean taken over raw vectors would itself be pulled by the long ones.
    """
    norms = np.linalg.norm(h, axis=-1, keepdims=True)
    unit = np.divide(h, norms, out=np.zeros_like(h, dtype=np.float64), where=norms > 0)
    return unit - unit.mean(axis=1, keepdims=True)


def _align(y: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """y (N, 2) rotated or reflected (orthogonal Procrustes) to lie as close as it can to reference (N, 2),
    so stage after stage is drawn the same way up (PCA's signs and t-SNE's rotation are arbitrary)."""
    u, _, vt = np.linalg.svd(y.T @ reference)
    return y @ (u @ vt)


def projection_frame(
    states,
    tokens: Sequence[str],
    method: str = "pca",
    *,
    stage_names: Sequence[str] | None = None,
    normalise: bool = True,
    **fit,
) -> pd.DataFrame:
    """(T, d) embeddings or (stages, T, d) hidden states -> two 2-D points per stage × token.

    x, y: each stage projected on its own (its structure, drawn by `projection_scatter`), turned to
    match the stage before it; path_x, path_y: all stages projected together, so a piece's place can
    be compared from layer to layer (`token_path`). normalise (default): each vector scaled to length
    1 and every stage centred first (`normalise_stages`); False projects the raw vectors.
    stage_names: one name per stage (default `stage_labels`: embedding + PE, then after each layer).
    fit: `project_2d`'s seed, perplexity and max_iter, for every projection.
    Columns: stage, stage_label, position, token, label ("pos:piece"), x, y, path_x, path_y.
    """
    h = as_array(states, "states")
    if h.ndim == 2:
        h = h[None]  # one stage
    if h.ndim != 3 or h.shape[1] != len(tokens):
        raise ValueError(
            f"states must have shape (T, d) or (stages, T, d) with T = {len(tokens)} tokens, got {h.shape}"
        )
    n_stages, n_tok, _ = h.shape
    names = stage_labels(n_stages) if stage_names is None else list(stage_names)
    if len(names) != n_stages:
        raise ValueError(f"{len(names)} stage names for {n_stages} stages")
    if normalise:
        h = normalise_stages(h)
    own = []
    for s in range(n_stages):
        xy = project_2d(h[s], method, **fit)
        own.append(_align(xy, own[-1]) if own and n_tok > 1 else xy)
    joint = project_2d(h.reshape(n_stages * n_tok, -1), method, **fit)
    stage, position = (ix.ravel() for ix in np.indices((n_stages, n_tok)))
    own_xy = np.concatenate(own)
    out = pd.DataFrame(
        {
            "stage": stage,
            "stage_label": np.asarray(names, dtype=object)[stage],
            "position": position,
            "token": np.asarray(list(tokens), dtype=object)[position],
            "label": np.asarray(token_labels(tokens), dtype=object)[position],
            "x": own_xy[:, 0],
            "y": own_xy[:, 1],
            "path_x": joint[:, 0],
            "path_y": joint[:, 1],
        }
    )
    out.attrs["method"] = method  # for figure titles; pandas carries attrs through row selections
    out.attrs["normalised"] = normalise
    return out


def _method_name(frame: pd.DataFrame) -> str:
    return {"pca": " (PCA)", "tsne": " (t-SNE)"}.get(frame.attrs.get("method"), "")


def _padded(values, pad: float = 0.12) -> list[float]:
    """An axis range around the values with room for markers and their labels."""
    lo, hi = float(np.min(values)), float(np.max(values))
    span = (hi - lo) or 1.0
    return [lo - pad * span, hi + pad * span]


def _chosen(frame: pd.DataFrame, positions) -> list[int]:
    positions = [positions] if isinstance(positions, int | np.integer) else list(positions or [])
    known = set(frame["position"].unique().tolist())
    if any(p not in known for p in positions):
        raise ValueError(f"positions {positions} not all in frame (positions 0..{max(known)})")
    return [int(p) for p in positions]


def _color(n: int) -> str:
    return qualitative.Plotly[n % len(qualitative.Plotly)]


def projection_scatter(
    frame: pd.DataFrame,
    stage: int | None = None,
    *,
    chosen: int | Sequence[int] = (),
    title: str | None = None,
    font_size: int = 12,
    height: int | None = None,
) -> go.Figure:
    """Each stage's own projection (x, y): one panel per stage, or the one stage asked for.

    Every piece is a point with a hover ("pos:piece" and the stage); only the `chosen` positions are
    written on the figure, each in the colour `token_path` gives it, so the figure stays readable at
    any length. Projection axes have no units, so they carry no numbers.
    """
    known = sorted(frame["stage"].unique().tolist())
    if stage is not None and stage not in known:
        raise ValueError(f"stage {stage} not in frame (stages {known})")
    stages = known if stage is None else [stage]
    picked = _chosen(frame, chosen)
    n = len(stages)
    n_cols = n if n <= 4 else math.ceil(n / 2)
    n_rows = math.ceil(n / n_cols)
    gap_y = 0.12 / (n_rows - 1) if n_rows > 1 else 0.0
    # three or more panels a row leave a panel ~250 px on a laptop: a long stage name ("after L0 (residual
    # stream, not normalised)") goes on two lines instead of running into its neighbour's
    wrap = n_cols >= 3
    fig = go.Figure()
    layout: dict = {"annotations": []}
    for i, (s, (sfx, x_dom, y_dom)) in enumerate(zip(stages, panels(n, n_cols, 0.04, gap_y), strict=True)):
        pts = frame[frame["stage"] == s]
        stage_label = pts["stage_label"].iloc[0]
        name = esc(stage_label)
        others = pts[~pts["position"].isin(picked)]
        fig.add_trace(
            go.Scatter(
                x=others["x"],
                y=others["y"],
                mode="markers",
                marker={"size": 7, "color": "#9aa5b1"},
                customdata=[esc(t) for t in others["label"]],
                hovertemplate=f"%{{customdata}}<br>{name}<extra></extra>",
                xaxis=f"x{sfx}",
                yaxis=f"y{sfx}",
                showlegend=False,
            )
        )
        for k, pos in enumerate(picked):
            pt = pts[pts["position"] == pos]
            label = esc(pt["label"].iloc[0])
            fig.add_trace(
                go.Scatter(
                    x=pt["x"],
                    y=pt["y"],
                    mode="markers+text",
                    marker={"size": 12, "color": _color(k), "line": {"width": 1, "color": "white"}},
                    text=[label],
                    textposition="top center",
                    textfont={"color": _color(k)},
                    cliponaxis=False,
                    hovertemplate=f"{label}<br>{name}<extra></extra>",
                    xaxis=f"x{sfx}",
                    yaxis=f"y{sfx}",
                    name=label,
                    legendgroup=label,
                    showlegend=i == 0,
                )
            )
        axis = {"showticklabels": False, "zeroline": False, "showgrid": True}
        layout[f"xaxis{sfx}"] = dict(axis, domain=x_dom, anchor=f"y{sfx}", range=_padded(pts["x"]))
        layout[f"yaxis{sfx}"] = dict(axis, domain=y_dom, anchor=f"x{sfx}", range=_padded(pts["y"]))
        if n > 1:
            shown = name.replace(" (", "<br>(", 1) if wrap and len(name) > WRAP_AT else name
            layout["annotations"].append(panel_title(shown, sum(x_dom) / 2, y_dom[1], font_size))
    fig.update_layout(layout, legend={"orientation": "h", "x": 0, "y": -0.02, "yanchor": "top"})
    default = f"{'Each stage projected on its own' if n > 1 else stage_label}{_method_name(frame)}"
    auto = int(font_size * 9 + n_rows * max(220, font_size * 22))
    fig = finish(fig, title or default, font_size, height or auto)
    if any("<br>" in a["text"] for a in layout["annotations"]):  # two-line panel titles: room for the second
        fig.update_layout(margin={"t": fig.layout.margin.t + round(font_size * 1.2)})
    return fig


def token_path(
    frame: pd.DataFrame,
    positions: int | Sequence[int],
    *,
    font_size: int = 12,
    height: int | None = None,
) -> go.Figure:
    """How chosen tokens move through the layers: a path per token over the stages, in the joint
    projection (path_x, path_y) where every stage shares the axes.

    Points are numbered by stage (0 = the first) and arrows point along the path; the hover names the
    stage. Every other point of the joint projection is drawn faint grey for context. Nothing is
    clipped: labels may leave the plot area, and the axes leave room around the paths.
    """
    positions = _chosen(frame, positions)
    if not positions:
        raise ValueError("token_path needs at least one position")
    xs, ys = ("path_x", "path_y") if "path_x" in frame else ("x", "y")
    fig = go.Figure(
        go.Scatter(
            x=frame[xs],
            y=frame[ys],
            mode="markers",
            marker={"size": 6, "color": "#d0d0d0"},
            name="every piece, every stage",
            text=[esc(f"{s} | {t}") for s, t in zip(frame["stage_label"], frame["label"], strict=True)],
            hovertemplate="%{text}<extra></extra>",
        )
    )
    for n, pos in enumerate(positions):
        path = frame[frame["position"] == pos].sort_values("stage")
        name = esc(path["label"].iloc[0])
        k = len(path)
        fig.add_trace(
            go.Scatter(
                x=path[xs],
                y=path[ys],
                mode="lines+markers+text",
                text=[str(s) for s in path["stage"]],
                textposition="top center",
                textfont={"color": _color(n), "size": font_size},
                cliponaxis=False,
                customdata=[esc(s) for s in path["stage_label"]],
                name=name,
                line={"color": _color(n), "width": 2},
                marker={
                    "size": 12,
                    "symbol": ["circle"] + ["arrow"] * (k - 1),
                    "angleref": "previous",
                    "color": _color(n),
                },
                hovertemplate=f"{name}<br>stage %{{text}}: %{{customdata}}<extra></extra>",
            )
        )
    fig.update_xaxes(title_text="component 1", range=_padded(frame[xs], 0.1), showticklabels=False)
    fig.update_yaxes(title_text="component 2", range=_padded(frame[ys], 0.1), showticklabels=False)
    fig.update_layout(legend={"orientation": "h", "x": 0, "y": -0.12, "yanchor": "top"})
    return finish(
        fig,
        f"Path through the layers: all stages in one projection{_method_name(frame)}",
        font_size,
        height,
    )


def nearest_neighbours(
    vector,
    embedding_matrix,
    id_to_piece: Callable[[int], str],
    k: int = 10,
    exclude_ids: Sequence[int] = (),
) -> pd.DataFrame:
    """Vocabulary pieces whose embedding rows (V, d) are closest in cosine to a (d,) vector.

    Columns: rank (1 = closest), token_id, token, cosine.
    """
    v = as_array(vector, "vector").ravel()
    emb = as_array(embedding_matrix, "embedding_matrix")
    if emb.ndim != 2 or emb.shape[1] != v.size:
        raise ValueError(f"embedding_matrix must be (V, {v.size}), got {emb.shape}")
    norms = np.linalg.norm(emb, axis=1) * (np.linalg.norm(v) or 1.0)
    cos = np.divide(emb @ v, norms, out=np.zeros(len(emb)), where=norms > 0)
    cos[list(exclude_ids)] = -np.inf
    k = max(0, min(int(k), len(emb) - len(set(exclude_ids))))
    ids = np.argsort(-cos, kind="stable")[:k]
    return pd.DataFrame(
        {
            "rank": np.arange(1, k + 1),
            "token_id": ids,
            "token": [id_to_piece(int(i)) for i in ids],
            "cosine": cos[ids],
        }
    )
