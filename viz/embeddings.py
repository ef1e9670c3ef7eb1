"""Embeddings and hidden states projected to 2-D (PCA, t-SNE), token paths, nearest neighbours.

The residual stream (paper §3.1: every sub-layer adds to it) has d_model dimensions; a
student sees it in 2-D. All stages of a sentence are projected by ONE fit, so a token's
position after layer 2 can be compared with its position after layer 1.

Frame contract of `projection_frame`: stage, stage_label, position, token, label, x, y.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from viz._style import esc, finish
from viz.frames import as_array, token_labels


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
    x = as_array(points, "points")
    if x.ndim != 2:
        raise ValueError(f"points must have shape (N, d), got {x.shape}")
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


def projection_frame(
    states,
    tokens: Sequence[str],
    method: str = "pca",
    *,
    seed: int = 0,
    perplexity: float | None = None,
    max_iter: int = 1000,
    stage_names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """(T, d) embeddings or (stages, T, d) hidden states -> one 2-D point per stage × token.

    All stages are fitted jointly so coordinates are comparable across layers.
    stage_names: one name per stage (default `stage_labels`: embedding + PE, then after each layer).
    Columns: stage, stage_label, position, token, label ("pos:piece"), x, y.
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
    xy = project_2d(
        h.reshape(n_stages * n_tok, -1), method, seed=seed, perplexity=perplexity, max_iter=max_iter
    )
    stage, position = (ix.ravel() for ix in np.indices((n_stages, n_tok)))
    out = pd.DataFrame(
        {
            "stage": stage,
            "stage_label": np.asarray(names, dtype=object)[stage],
            "position": position,
            "token": np.asarray(list(tokens), dtype=object)[position],
            "label": np.asarray(token_labels(tokens), dtype=object)[position],
            "x": xy[:, 0],
            "y": xy[:, 1],
        }
    )
    out.attrs["method"] = method  # for figure titles; pandas carries attrs through row selections
    return out


def _method_name(frame: pd.DataFrame) -> str:
    return {"pca": " (PCA)", "tsne": " (t-SNE)"}.get(frame.attrs.get("method"), "")


def projection_scatter(
    frame: pd.DataFrame,
    stage: int | None = None,
    *,
    title: str | None = None,
    font_size: int = 12,
    height: int | None = None,
) -> go.Figure:
    """Points of a projection frame, labelled "pos:piece", one colour per stage (or one chosen stage)."""
    rows = frame if stage is None else frame[frame["stage"] == stage]
    if rows.empty:
        raise ValueError(f"stage {stage} not in frame (stages {sorted(frame['stage'].unique().tolist())})")
    fig = go.Figure()
    for n, (_, pts) in enumerate(rows.groupby("stage", sort=True)):
        name = esc(pts["stage_label"].iloc[0])
        fig.add_trace(
            go.Scatter(
                x=pts["x"],
                y=pts["y"],
                mode="markers+text",
                text=[esc(t) for t in pts["label"]],
                textposition="top center",
                name=name,
                marker={"size": 9, "color": qualitative.Plotly[n % len(qualitative.Plotly)]},
                hovertemplate=f"{name}<br>%{{text}}<br>x %{{x:.4f}}, y %{{y:.4f}}<extra></extra>",
            )
        )
    fig.update_xaxes(title_text="component 1")
    fig.update_yaxes(title_text="component 2")
    return finish(fig, title or f"Token vectors projected to 2-D{_method_name(frame)}", font_size, height)


def token_path(
    frame: pd.DataFrame,
    positions: int | Sequence[int],
    *,
    font_size: int = 12,
    height: int | None = None,
) -> go.Figure:
    """How chosen tokens move through the layers: a lines+markers path per token over the stages.

    Every other point of the joint projection is drawn faint grey for context.
    """
    positions = [positions] if isinstance(positions, int | np.integer) else list(positions)
    known = set(frame["position"].unique().tolist())
    if not positions or any(p not in known for p in positions):
        raise ValueError(f"positions {positions} not all in frame (positions 0..{max(known)})")
    fig = go.Figure(
        go.Scatter(
            x=frame["x"],
            y=frame["y"],
            mode="markers",
            marker={"size": 6, "color": "#c8c8c8"},
            name="all tokens, all stages",
            text=[esc(f"{s} | {t}") for s, t in zip(frame["stage_label"], frame["label"], strict=True)],
            hovertemplate="%{text}<extra></extra>",
        )
    )
    for n, pos in enumerate(positions):
        path = frame[frame["position"] == pos].sort_values("stage")
        name = esc(path["label"].iloc[0])
        fig.add_trace(
            go.Scatter(
                x=path["x"],
                y=path["y"],
                mode="lines+markers+text",
                text=[esc(s) for s in path["stage_label"]],
                textposition="top center",
                name=name,
                line={"color": qualitative.Plotly[n % len(qualitative.Plotly)], "width": 2},
                marker={"size": 10},
                hovertemplate=f"{name}<br>%{{text}}<br>x %{{x:.4f}}, y %{{y:.4f}}<extra></extra>",
            )
        )
    fig.update_xaxes(title_text="component 1")
    fig.update_yaxes(title_text="component 2")
    return finish(
        fig,
        f"Path of a token through the layers: one joint projection{_method_name(frame)}",
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
