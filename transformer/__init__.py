"""A from-scratch PyTorch Transformer ("Attention Is All You Need", Vaswani et al. 2017), hookable for inspection.

The names below load their module on first use (PEP 562), so `from transformer.kinds import KINDS` (pure
Python, what `viz` reads) does not import torch.
"""

from importlib import import_module

_WHERE = {
    "count_hooks": "capture", "hooks": "capture", "record": "capture",
    "CheckpointError": "checkpoint", "load_model": "checkpoint", "save_model": "checkpoint",
    "ConfigError": "config", "TransformerConfig": "config", "Transformer": "model",
    "Pretrained": "pretrained", "available_models": "pretrained", "load_pretrained": "pretrained",
    "Tokenizer": "tokenizer", "Trace": "trace", "zero_heads": "analysis",
}  # fmt: skip
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'transformer' has no attribute {name!r}")
    value = getattr(import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value  # once: later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
