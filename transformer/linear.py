"""The model's linear layers: nn.Linear, plus a faster weight layout for CPU inference.

Incremental decoding multiplies one new position per sentence by every weight matrix at each
step: a matrix-vector product whose time is the time to stream the weights from memory. On a
CPU, reading a contiguous copy of Wᵀ (in, out) streams faster than `F.linear`'s W (out, in):
one decoding step's products run up to 1.8× faster, whole greedy decoding ~1.3× and beam search
~1.2× (benchmarks/benchmark.py), and the many-row products of a whole sentence are no slower.
So without autograd on the CPU, each layer reads a cached Wᵀ; with autograd, or on a GPU, it is
plain `F.linear`.

The parameter keeps nn.Linear's layout and name, so checkpoints and state dicts are unchanged.
The copy is remade whenever the weight changes (in-place update, new storage, new Parameter),
and costs one extra copy of the weights in memory.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

CACHED_TRANSPOSE = True  # False: always F.linear (benchmarks/benchmark.py compares the two)


def derived(cache: dict, sources: tuple[torch.Tensor, ...], make) -> torch.Tensor | tuple:
    """make() -- tensor(s) computed from `sources` -- cached in `cache` while every source is unchanged:
    the same object, the same storage, the same version (so in-place updates, `.data =`, new
    Parameters and dtype or device moves all remake it).

    The cache holds the sources themselves, so neither their ids nor their storage can be reused by
    another tensor that would then pass for one of them.
    """
    # identity, storage and version of each source (tensors made under torch.inference_mode keep no
    # version counter); ids stay unique because the entry keeps the sources alive
    key = [(id(t), t.data_ptr(), None if t.is_inference() else t._version) for t in sources]
    entry = cache.get("entry")
    if entry is None or entry[1] != key:
        with torch.no_grad():
            entry = (sources, key, make())
        cache["entry"] = entry  # one assignment: a thread reading concurrently sees the old or the new entry
    return entry[2]


def transposed(weight: torch.Tensor, cache: dict) -> torch.Tensor:
    """weight (out, in) with its values laid out as a contiguous Wᵀ (in, out): a transposed view of a copy."""
    return derived(cache, (weight,), lambda: weight.t().contiguous().t())


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, cache: dict) -> torch.Tensor:
    """x (..., in) -> (..., out) = x Wᵀ + b, reading W in the cached layout where that is faster (CPU, no autograd)."""
    if not CACHED_TRANSPOSE or torch.is_grad_enabled() or not x.is_cpu:
        return F.linear(x, weight, bias)
    return F.linear(x, transposed(weight, cache), bias)


class Linear(nn.Linear):
    """nn.Linear (same parameters, same state dict) whose CPU inference uses `linear` above."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__(in_features, out_features, bias)
        self._cache: dict = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias, self._cache)
