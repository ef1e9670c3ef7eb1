"""The model package stays a model package: `transformer/` imports only torch, numpy, sentencepiece,
safetensors, tqdm and the standard library, and nothing but the tests and the live training job (which runs
the training script's loop, so the app has one) imports the training script."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "transformer"
ALLOWED = frozenset({"torch", "numpy", "sentencepiece", "safetensors", "tqdm", PACKAGE}) | frozenset(
    sys.stdlib_module_names
)
TRAINING_SCRIPT = "transformer.train"
# code that must not import the training script (tests may: they test it)
NOT_THE_TRAINER = ("tools", "app_support", "viz", "benchmarks", "app.py")
RUN_THE_TRAINER = (  # code that runs the training script's own loop
    "app_support/training/worker.py",  # the Train live view's job
    "benchmarks/train_live_benchmark.py",  # that job timed against the bare loop
)


def imports(path: Path) -> list[tuple[int, str, int]]:
    """(line, absolute-or-relative module name, relative level) of every import in a file, nested ones too.

    `import a.b` gives "a.b"; `from a import b` gives "a.b" as well (b may be a module); relative
    imports keep their level (`from .x import y` -> ("x.y", 1)).
    """
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            found += [(node.lineno, f"{base}.{a.name}".strip("."), node.level) for a in node.names]
    return found


def resolve(path: Path, module: str, level: int) -> str:
    """A relative import as an absolute module name (package = the file's folder under ROOT)."""
    if not level:
        return module
    package = list(path.relative_to(ROOT).parent.parts)
    package = package[: len(package) - (level - 1)]
    return ".".join([*package, module]).strip(".")


def foreign_imports(directory: Path) -> list[str]:
    """`file:line: module` for every import in `directory` of a top-level module outside ALLOWED."""
    bad = []
    for path in sorted(directory.rglob("*.py")):
        for line, module, level in imports(path):
            top = resolve(path, module, level).split(".")[0]
            entry = f"{path.relative_to(ROOT)}:{line}: {top}"
            if top not in ALLOWED and entry not in bad:  # `from viz.x import a, b`: once
                bad.append(entry)
    return bad


def trainer_imports(paths: list[Path]) -> list[str]:
    """`file:line` for every import of the training script under `paths`."""
    bad = []
    for root in paths:
        for path in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
            for line, module, level in imports(path):
                name = resolve(path, module, level)
                if name == TRAINING_SCRIPT or name.startswith(TRAINING_SCRIPT + "."):
                    bad.append(f"{path.relative_to(ROOT)}:{line}")
    return bad


def test_model_package_imports_only_torch_numpy_sentencepiece_safetensors_tqdm_and_stdlib():
    assert (ROOT / PACKAGE / "model.py").is_file()
    assert foreign_imports(ROOT / PACKAGE) == []


def test_nothing_but_the_tests_imports_the_training_script():
    paths = [ROOT / p for p in NOT_THE_TRAINER if (ROOT / p).exists()]
    assert ROOT / "tools" in paths
    found = trainer_imports(paths)
    assert [f for f in found if not f.startswith(tuple(f"{p}:" for p in RUN_THE_TRAINER))] == []
    assert found, "the live job runs the training script's loop: it imports it"


def test_the_walk_sees_what_the_package_must_not_import(tmp_path, monkeypatch):
    """The checks can fail: imports at top level and inside functions, absolute and relative, are found."""
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    pkg = tmp_path / PACKAGE
    pkg.mkdir()
    (pkg / "card.py").write_text(
        "import os\nimport plotly.graph_objects as go\nfrom pandas import DataFrame\n\n"
        "def f():\n    from viz.frames import attention_frame, select_head\n    import sacrebleu\n"
        "    from .train import portable\n    from . import model\n    import torch.nn\n"
    )
    assert foreign_imports(pkg) == [
        f"{PACKAGE}/card.py:2: plotly",
        f"{PACKAGE}/card.py:3: pandas",
        f"{PACKAGE}/card.py:6: viz",
        f"{PACKAGE}/card.py:7: sacrebleu",
    ]
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "a.py").write_text("from transformer.train import portable\nimport transformer.train_state\n")
    (tools / "b.py").write_text("def g():\n    from transformer import train\n")
    assert trainer_imports([tools, pkg]) == ["tools/a.py:1", "tools/b.py:2", f"{PACKAGE}/card.py:8"]
