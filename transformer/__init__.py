"""A from-scratch PyTorch Transformer ("Attention Is All You Need", Vaswani et al. 2017), hookable for inspection."""

from .analysis import zero_heads
from .capture import count_hooks, hooks, record
from .checkpoint import CheckpointError, load_model, save_model
from .config import ConfigError, TransformerConfig
from .model import Transformer
from .pretrained import Pretrained, available_models, load_pretrained
from .tokenizer import Tokenizer
from .trace import Trace

__all__ = [
    "CheckpointError",
    "ConfigError",
    "Pretrained",
    "Tokenizer",
    "Trace",
    "Transformer",
    "TransformerConfig",
    "available_models",
    "count_hooks",
    "hooks",
    "load_model",
    "load_pretrained",
    "record",
    "save_model",
    "zero_heads",
]
