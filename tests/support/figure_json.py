"""Reading a Plotly figure back from its JSON (what the app sends the browser, or `fig.to_dict()`):
a heatmap's z (decoding Plotly's base64 typed arrays), its title, and every string it carries."""

from __future__ import annotations

import base64

import numpy as np


def z_of(trace: dict) -> np.ndarray:
    """A heatmap's z, decoding Plotly's base64 typed arrays when present."""
    z = trace["z"]
    if isinstance(z, dict):
        flat = np.frombuffer(base64.b64decode(z["bdata"]), dtype=np.dtype(z["dtype"]))
        shape = z.get("shape")
        if isinstance(shape, str):
            shape = [int(n) for n in shape.split(",")]
        return flat.reshape(shape) if shape else flat
    return np.asarray(z, dtype=float)


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
