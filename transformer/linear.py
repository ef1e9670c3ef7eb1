"""The model's linear layers: nn.Linear, plus a faster weight layout for CPU inference.

Incremental decoding multiplies one new position per sentence by every weight matrix at each
step: a matrix-vector product whose time is the time to stream the weights from memory. On a
CPU, multiplying by a contiguous copy of Wᵀ (in, out) streams about twice as fast as
`F.linear`'s W (out, in) (benchmarks/benchmark.py: ~1.3× faster greedy decoding, ~1.2× beam search), and for the many-row
products of a whole sentence it is no slower. So without autograd on the CPU, each layer
multiplies by a cached Wᵀ; with autograd, or on a GPU, it is plain `F.linear`.

The parameter keeps nn.Linear's layout and name, so checkpoints and state dicts are unchanged.
The copy is remade whenever the weight changes (in-place update, new storage, new Parameter),
and costs one extra copy of the weights in memory.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

CACHED_TRANSPOSE = True  # False: always F.linear (benchmarks/benchmark.py compares the two)


def transposed(weight: torch.Tensor, cache: dict) -> torch.Tensor:
    """A contiguous (in, out) copy of weight (out, in), cached in `cache` while the weight is unchanged.

    The cache holds the weight itself, so its storage cannot be freed and reused by another
    tensor that would then pass for it.
    """
    # tensors made under torch.inference_mode keep no version counter
    state = (weight.data_ptr(), None if weight.is_inference() else weight._version)
    entry = cache.get("t")
    if entry is None or entry[0] is not weight or entry[1] != state:
        with torch.no_grad():
            entry = (weight, state, weight.t().contiguous())
        cache["t"] = entry  # one assignment: a thread reading concurrently sees the old or the new entry
    return entry[2]


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, cache: dict) -> torch.Tensor:
    """x (..., in) -> (..., out) = x Wᵀ + b, through the cached Wᵀ where that is faster (CPU, no autograd)."""
    if not CACHED_TRANSPOSE or torch.is_grad_enabled() or x.device.type != "cpu" or x.dtype != weight.dtype:
        return F.linear(x, weight, bias)
    x2 = x.reshape(-1, x.shape[-1])
    wt = transposed(weight, cache)
    y = torch.addmm(bias, x2, wt) if bias is not None else x2 @ wt
    return y.view(*x.shape[:-1], weight.shape[0])


class Linear(nn.Linear):
    """nn.Linear (same parameters, same state dict) whose CPU inference uses `linear` above."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__(in_features, out_features, bias)
        self._cache: dict = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias, self._cache)
