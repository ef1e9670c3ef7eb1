"""Reading a Plotly figure back from its JSON (what the app sends the browser, or `fig.to_dict()`):
a heatmap's z (decoding Plotly's base64 typed arrays), its title, and every string it carries."""

from __future__ import annotations

import base64

import numpy as np


def array_of(value) -> np.ndarray:
    """A figure's array (a heatmap's z, a line's y), decoding Plotly's base64 typed arrays when present."""
    if isinstance(value, dict):
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        if isinstance(shape, str):
            shape = [int(n) for n in shape.split(",")]
        return flat.reshape(shape) if shape else flat
    return np.asarray(value, dtype=float)


def z_of(trace: dict) -> np.ndarray:
    """A heatmap's z."""
    return array_of(trace["z"])


def heatmaps(fig: dict) -> list[np.ndarray]:
    return [z_of(t) for t in fig["data"] if t.get("type") == "heatmap"]


def title(fig: dict) -> str:
    return fig["layout"]["title"]["text"]


def strings_in(obj) -> list[str]:
    """Every string in a figure dict, including those inside numpy object arrays (customdata)."""
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in strings_in(v)]
    if isinstance(obj, np.ndarray):
        return [s for v in obj.ravel().tolist() for s in strings_in(v)] if obj.dtype == object else []
    if isinstance(obj, list | tuple):
        return [s for v in obj for s in strings_in(v)]
    return []
