"""Array-likes to numpy, without importing torch: what `transformer.analysis` and `viz` both accept."""

from __future__ import annotations

import numpy as np


def as_array(x, name: str = "array") -> np.ndarray:
    """Any tensor-like (torch, numpy, nested list) -> float64 numpy array."""
    if hasattr(x, "detach"):  # a torch tensor: duck-typed so that viz, which reads this, never imports torch
        x = x.detach().to("cpu").float().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be numeric array-like, got {type(x).__name__}") from err
