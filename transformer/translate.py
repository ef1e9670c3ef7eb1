"""Translate from the command line.

python -m transformer.translate --model assets/en-de "The house is old."
echo "The house is old." | python -m transformer.translate --model assets/en-de
"""

from __future__ import annotations

import argparse
import sys

from .checkpoint import CheckpointError
from .pretrained import load_pretrained


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m transformer.translate", description="Translate sentences.")
    p.add_argument(
        "text", nargs="*", help="sentences to translate (default: one per line from standard input)"
    )
    p.add_argument(
        "--model", help="model directory, a name in assets/, or a training run (default: the shipped one)"
    )
    p.add_argument("--beam", type=int, default=4, help="beam size (1 = greedy)")
    p.add_argument(
        "--max-len", type=int, default=None, help="longest output in pieces (default: 2 × source + 10)"
    )
    args = p.parse_args(argv)
    try:
        model = load_pretrained(args.model)
    except (CheckpointError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    lines = args.text or (line.rstrip("\n") for line in sys.stdin)
    for line in lines:
        print(model.translate(line, beam=args.beam, max_len=args.max_len) if line.strip() else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
