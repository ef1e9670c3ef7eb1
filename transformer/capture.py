"""Capture: forward hooks on the model's hook points, for one call, by one thread.

In the style of TransformerLens: hook points are named identity modules, hooks are named by
their `named_modules()` path, and a context manager removes every hook in `finally:`, so no
hook outlives the call, even one that raised.

Hooks are global state on a shared module: while one thread captures, another thread's
forward through the same model also passes the hook. Each hook therefore acts only for the
thread that registered it; other threads' calls pass through untouched (and get their own
results). A hook may also *change* what passes through it by returning a new tensor:
`transformer.analysis.zero_heads` uses that to switch attention heads off.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from .kinds import KINDS

HookFn = Callable[[nn.Module, tuple, torch.Tensor], torch.Tensor | None]


class HookPoint(nn.Module):
    """A named place in the forward pass where a hook may read or replace the tensor passing by.

    An identity module: every hook point is always called, hooked or not. Unhooked, it returns its
    input without `nn.Module.__call__`'s bookkeeping (a model has about 120 of them, so that is
    ~1 % of a forward pass); hooked, it runs the normal call, so `register_forward_hook` works as on
    any module. (Global hooks from `torch.nn.modules.module.register_module_forward_hook` do not
    see unhooked points.)
    """

    @property
    def hooked(self) -> bool:
        return bool(self._forward_hooks or self._forward_pre_hooks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return super().__call__(x) if self.hooked else x


def count_hooks(model: nn.Module) -> int:
    """How many forward (pre-)hooks are registered anywhere in the model."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def attention_path(kind: str, layer: int) -> str:
    """Module path of one attention block, e.g. ("cross", 1) -> "decoder.layers.1.cross_attn"."""
    return KINDS[kind].path(layer)


def hook_points(model: nn.Module) -> dict[str, nn.Module]:
    """Every HookPoint of the model by its module path, e.g. "encoder.layers.0.hook_resid_pre"
    (embeddings.py, attention.py, layers.py and model.py say what each holds)."""
    return {name: module for name, module in model.named_modules() if isinstance(module, HookPoint)}


def _this_thread_only(fn: HookFn) -> HookFn:
    owner = threading.get_ident()

    def hook(module, inputs, output):
        if threading.get_ident() != owner:
            return None
        return fn(module, inputs, output)

    return hook


@contextmanager
def hooks(model: nn.Module, fwd_hooks: Iterable[tuple[str, HookFn]]) -> Iterator[None]:
    """Register `(module path, hook)` pairs for the duration of the block, for this thread only.

    A hook is called as hook(module, inputs, output); returning a tensor replaces the output.
    """
    handles = []
    try:
        for path, fn in fwd_hooks:
            handles.append(model.get_submodule(path).register_forward_hook(_this_thread_only(fn)))
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def record(model: nn.Module, paths: Iterable[str]) -> Iterator[dict[str, list[torch.Tensor]]]:
    """Record the outputs of the named modules: {path: [output of each call, detached]}."""
    store: dict[str, list[torch.Tensor]] = {}

    def recorder(path: str) -> HookFn:
        def fn(module, inputs, output):
            store.setdefault(path, []).append(output.detach())

        return fn

    with hooks(model, [(p, recorder(p)) for p in paths]):
        yield store
