"""Which checkpoint directories the app's "Custom checkpoint…" field may load: an allow-list.

A person at the page can type any path; only directories inside the repository's `assets/` and
`runs/` folders, or inside a folder named in the environment variable TRANSFORMER_MODEL_DIRS
(os.pathsep-separated), are loaded. Paths are compared after `Path.resolve()`, so `..` and symlinks
cannot lead outside an allowed folder. `discover` lists the model and run directories found in those
folders (besides assets/, whose models the picker names already), so a converted Marian model in
runs/ appears in the model picker. Pure functions: no Streamlit.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from transformer.checkpoint import CONFIG
from transformer.pretrained import LATEST, resolve_model_dir

ROOT = Path(__file__).resolve().parent.parent  # the app's root: app.py, assets/, runs/
ENV = "TRANSFORMER_MODEL_DIRS"
DISCOVER_DEPTH = 2  # runs/NAME and runs/NAME/SUB (tools.average writes runs/en-de/avg5)
DISCOVER_MAX = 50  # entries in the picker, at most


class ModelDirError(ValueError):
    """A typed checkpoint path that the app will not load; its message says why and what is allowed."""


def allowed_dirs(env: Mapping[str, str] | None = None, root: Path | None = None) -> list[Path]:
    """assets/ and runs/ under `root` (the app's), then every folder in env[TRANSFORMER_MODEL_DIRS], resolved."""
    env = os.environ if env is None else env
    root = ROOT if root is None else root
    extra = [p for p in env.get(ENV, "").split(os.pathsep) if p.strip()]
    dirs = []
    for p in [root / "assets", root / "runs", *extra]:
        try:
            dirs.append(Path(p).expanduser().resolve())
        except (OSError, RuntimeError):  # a loop in an allowed folder's own path: it allows nothing
            continue
    return list(dict.fromkeys(dirs))


def how_to_allow(allowed: Sequence[Path], quote: Callable[[str], str] = str) -> str:
    """Which folders are allowed and how to add one; `quote` formats each name (e.g. as markdown code)."""
    names = ", ".join(quote(str(p)) for p in allowed) or "none"
    example = quote(f"{ENV}=/path/to/models")
    return (
        f"Checkpoints are loaded only from these folders: {names}. To allow another, start the app with "
        f"the environment variable {example} (several folders separated by {quote(os.pathsep)})."
    )


def _inside(path: Path, allowed: Sequence[Path]) -> bool:
    return any(path == a or path.is_relative_to(a) for a in allowed)


def check_model_dir(raw: str, allowed: Sequence[Path], root: Path | None = None) -> Path:
    """A typed path -> the resolved checkpoint directory inside an allowed folder, or ModelDirError.

    Relative paths are taken from `root`. A training run directory is followed to its LATEST
    checkpoint, and that is checked again (LATEST could name a symlink leading outside).
    """
    shown = raw.strip()
    path = Path(shown).expanduser()
    if not path.is_absolute():
        path = (ROOT if root is None else root) / path
    outside = ModelDirError(f"{shown} is outside the folders this app may load checkpoints from.")
    try:
        if not _inside(path.resolve(), allowed):  # checked first: says nothing about what exists outside
            raise outside
        resolved = path.resolve(strict=True)
        if not _inside(resolved, allowed):
            raise outside
        target = resolve_model_dir(resolved).resolve(strict=True)
    except FileNotFoundError:
        raise ModelDirError(f"There is no checkpoint at {shown}: no such directory.") from None
    except RuntimeError:  # Python < 3.13: a symlink loop
        raise ModelDirError(f"{shown} is a symlink loop.") from None
    except OSError as e:  # ELOOP (3.13+), permission denied, a name too long, ...
        raise ModelDirError(f"{shown} cannot be opened: {e.strerror or e}.") from None
    if not _inside(target, allowed):
        raise outside
    return target


def _is_model_or_run(path: Path) -> bool:
    return (path / CONFIG).is_file() or (path / LATEST).is_file()


def discover(allowed: Sequence[Path], root: Path | None = None) -> dict[str, Path]:
    """Model directories (a config.json) and training runs (a LATEST) inside the allowed folders,
    by a picker label -> resolved directory (a run: its latest checkpoint).

    Labels are paths relative to the app's root ("runs/opus-mt-en-de"), or, for a folder outside it,
    that folder's name and the path inside ("models/opus-mt-en-de"): never an absolute path, since a
    label goes into shared links. assets/ is skipped (the picker names its models already), so are
    hidden entries and a run's checkpoints/ folder; each entry passes `check_model_dir` (symlinks
    cannot lead outside). Depth DISCOVER_DEPTH, at most DISCOVER_MAX entries, sorted by label.
    """
    root = (ROOT if root is None else root).resolve()
    assets = (root / "assets").resolve()
    found: dict[str, Path] = {}

    def walk(folder: Path, top: Path, depth: int) -> None:
        try:
            children = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
        except OSError:
            return
        for child in children:
            if len(found) >= DISCOVER_MAX or child.name == "checkpoints":
                continue
            try:
                if not child.is_dir():
                    continue
                if _is_model_or_run(child):
                    target = check_model_dir(str(child), allowed, root)
                    rel = child.relative_to(top)
                    label = (
                        str(child.relative_to(root)) if child.is_relative_to(root) else f"{top.name}/{rel}"
                    )
                    found.setdefault(label, target)
                elif depth < DISCOVER_DEPTH:
                    walk(child, top, depth + 1)
            except (ModelDirError, OSError, ValueError):  # unreadable, a loop, leads outside: not offered
                continue

    for top in allowed:
        if top == assets or not top.is_dir():
            continue
        walk(top, top, 1)
    return dict(sorted(found.items()))
