"""Paths as a model directory's metadata records them."""

from __future__ import annotations

from pathlib import Path


def portable(path: str | None) -> str | None:
    """A path as metadata may record it: relative to the working directory, never an absolute machine path."""
    if path is None:
        return None
    p = Path(path)
    if not p.is_absolute():
        return str(p)
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return f"<{p.name}>"
