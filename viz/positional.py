"""Sinusoidal positional encoding (paper §3.5) and the embedding + PE sum (§3.4) as figures.

`sinusoidal_pe` recomputes the paper's formula with numpy, so these figures can be drawn
without a model. The figure functions accept any (positions, d_model) array: the formula's
output, or the `src_position` embedding captured from a real model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from viz.frames import embedding_parts, pe_frame, pe_matrix, pe_similarity_matrix
from viz.style import DIVERGING_COLORSCALE, esc, esc_all, finish, index_axis, panels


def sinusoidal_pe(max_len: int, d_model: int) -> np.ndarray:
    """(max_len, d_model) with PE(pos, 2i) = sin(pos / 10000^(2i/d_model)), PE(pos, 2i+1) = cos(same)."""
    if max_len < 1 or d_model < 1:
        raise ValueError(f"max_len and d_model must be positive, got {max_len}, {d_model}")
    pos = np.arange(max_len, dtype=np.float64)[:, None]  # (max_len, 1)
    two_i = np.arange(0, d_model, 2, dtype=np.float64)  # (ceil(d/2),) = 2i for each sin/cos pair
    angle = pos / 10000.0 ** (two_i / d_model)  # (max_len, ceil(d/2))
    pe = np.empty((max_len, d_model))
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle[:, : d_model // 2])  # odd d_model: the last pair has no cos
    return pe


def sinusoid_curves(
    pe, dims: Sequence[int] | None = None, *, font_size: int = 12, height: int | None = None
) -> go.Figure:
    """PE value against position, one line per chosen dimension (default: 0, 1 and two slow ones).

    Low dimensions oscillate fast, high ones slowly: each position gets a unique pattern.
    """
    frame = pe_frame(pe)
    d = int(frame["dim"].max()) + 1
    dims = sorted({0, 1, min(4, d - 1), min(d // 2, d - 1)}) if dims is None else list(dims)
    bad = [k for k in dims if not 0 <= k < d]
    if bad:
        raise ValueError(f"dims {bad} outside 0..{d - 1}")
    fig = go.Figure()
    for n, k in enumerate(dims):
        rows = frame[frame["dim"] == k]
        wave, wavelength = rows["wave"].iloc[0], rows["wavelength"].iloc[0]
        name = f"dim {k} ({wave}, wavelength {wavelength:.4g})"
        fig.add_trace(
            go.Scatter(
                x=rows["position"],
                y=rows["value"],
                mode="lines+markers" if len(rows) <= 64 else "lines",
                name=name,
                line={"color": qualitative.Plotly[n % len(qualitative.Plotly)]},
                hovertemplate=f"{name}<br>position %{{x}}<br>PE %{{y:.6f}}<extra></extra>",
            )
        )
    fig.update_xaxes(title_text="position in the sentence")
    fig.update_yaxes(title_text="PE value", range=[-1.1, 1.1])
    return finish(fig, "Positional encoding: one sinusoid per dimension", font_size, height)


def pe_heatmap(
    pe,
    *,
    font_size: int = 12,
    height: int | None = None,
    dim_title: str = "dimension (even = sin, odd = cos)",
) -> go.Figure:
    """Position (rows, 0 on top) × dimension (columns) heatmap of the encoding, colour in [-1, 1]."""
    m = pe_matrix(pe)
    fig = go.Figure(
        go.Heatmap(
            z=m,
            colorscale=DIVERGING_COLORSCALE,
            zmin=-1.0,
            zmax=1.0,
            colorbar={"title": {"text": "PE"}},
            hovertemplate="position %{y}<br>dim %{x}<br>PE %{z:.6f}<extra></extra>",
        )
    )
    n, d = m.shape
    fig.update_xaxes(title_text=dim_title, showgrid=False, range=[-0.5, d - 0.5])
    fig.update_yaxes(title_text="position", range=[n - 0.5, -0.5], showgrid=False)  # position 0 on top
    return finish(fig, "Positional encoding: position × dimension", font_size, height)


def pe_similarity(pe, metric: str = "dot", *, font_size: int = 12, height: int | None = None) -> go.Figure:
    """Position × position matrix of PE(i)·PE(j) ("dot") or cosine: nearby positions look alike."""
    s = pe_similarity_matrix(pe, metric)
    label = "PE(i)·PE(j)" if metric == "dot" else "cos(PE(i), PE(j))"
    fig = go.Figure(
        go.Heatmap(
            z=s,
            colorscale="Viridis",
            colorbar={"title": {"text": label}},
            hovertemplate=f"i %{{y}}, j %{{x}}<br>{label} %{{z:.6f}}<extra></extra>",
        )
    )
    n = s.shape[0]
    # square cells, and both axes end at the last position: `constrain="domain"` shrinks the plot to keep
    # the cells square instead of stretching an axis past the data (which drew empty rows up to 70 for 64);
    # position 0 on top
    fig.update_xaxes(title_text="position j", showgrid=False, range=[-0.5, n - 0.5], constrain="domain")
    fig.update_yaxes(
        title_text="position i", range=[n - 0.5, -0.5], showgrid=False, scaleanchor="x", constrain="domain"
    )
    return finish(fig, f"Similarity of positional encodings: {label}", font_size, height)


def embedding_sum_view(
    token_emb,
    pe,
    total,
    tokens: Sequence[str],
    *,
    max_dims: int | None = None,
    font_size: int = 12,
    height: int | None = None,
) -> go.Figure:
    """Token embedding·√d_model, positional encoding and their sum, each (S, d_model), side by side.

    Rows are tokens (positions, pieces as tick labels); one symmetric colour scale across the
    three panels so "sum = token + position" can be read off the colours. `max_dims` keeps the
    first dimensions only, for wide models.
    """
    parts = {name: a[:, :max_dims] for name, a in embedding_parts(token_emb, pe, total, tokens).items()}
    names = {
        "token": "token embedding × √d_model",
        "position": "positional encoding",
        "sum": "sum = encoder input",
    }
    limit = max(float(np.abs(a).max()) for a in parts.values()) or 1.0
    n_tok, n_dim = parts["token"].shape
    labels = np.array([f"{p}: {esc(t)}" for p, t in enumerate(tokens)], dtype=object)
    custom = np.broadcast_to(labels[:, None], (n_tok, n_dim))
    data, layout = [], {}
    for (component, name), (sfx, x_dom, _) in zip(names.items(), panels(3, 3, 0.03), strict=True):
        hover = f"{name}<br>token %{{customdata}}<br>dim %{{x}}<br>value %{{z:.6f}}<extra></extra>"
        data.append(go.Heatmap(z=parts[component], customdata=custom, xaxis=f"x{sfx}", yaxis="y",
                               coloraxis="coloraxis", name=name, hovertemplate=hover))  # fmt: skip
        title = {"text": f"{name}<br>dimension"}
        layout[f"xaxis{sfx}"] = {"domain": x_dom, "anchor": "y", "title": title, "showgrid": False}
    fig = go.Figure(data, layout)
    fig.update_layout(
        yaxis=index_axis(esc_all(tokens), "token (position)", reverse=True, showgrid=False, automargin=True),
        coloraxis={
            "colorscale": DIVERGING_COLORSCALE,
            "cmin": -limit,
            "cmax": limit,
            "colorbar": {"title": "value"},
        },
    )
    auto = int(min(1200, max(300, 200 + n_tok * font_size * 1.8)))
    return finish(fig, "Encoder input = token embedding + positional encoding", font_size, height or auto)
