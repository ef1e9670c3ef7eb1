"""Rewrite model directories written before W_Q, W_K and W_V became one stacked parameter.

    python -m tools.pack_qkv assets/en-de assets/reverse ...

Each attention's `w_q`, `w_k`, `w_v` tensors become its `w_qkv` (rows Q, K, V), in the file's own
dtype, the rest of the file unchanged; `transformer.checkpoint` reads the old layout too, so this
only saves the conversion on every load. The shipped models in assets/ were converted once with it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from safetensors.torch import save_file

from transformer.checkpoint import WEIGHTS, load_weights, pack_attention_projections


def pack_directory(directory: Path) -> bool:
    """Rewrite directory/model.safetensors in today's layout; False when it already was."""
    path = Path(directory) / WEIGHTS
    state = load_weights(path)
    packed = pack_attention_projections(state)
    if packed is state:
        return False
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.contiguous() for k, v in packed.items()}, str(tmp), metadata={"format": "pt"})
    tmp.chmod(path.stat().st_mode)
    tmp.replace(path)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directories", nargs="+", type=Path, help="model directories to rewrite in place")
    args = parser.parse_args(argv)
    for directory in args.directories:
        print(f"{directory}: {'packed' if pack_directory(directory) else 'already packed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
