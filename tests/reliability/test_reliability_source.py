"""No code execution from data and no raw HTML from user text anywhere in the project's Python source.

The source is scanned as syntax trees, not as text: `model.eval()` (a method) and `re.compile`
are fine, while the builtins eval/exec/compile/__import__, any pickle-family loader and
torch.load are not. Raw HTML (`unsafe_allow_html=True`, `st.html`, `components.html`, `st.iframe`) is
allowed only for a string literal or a module-level name bound once to a string literal (such as
app.py's PRESENTATION_CSS): then no user text can reach it; or for a page made by one of
`SCRIPT_FREE_PAGES`, whose Content-Security-Policy runs no script and fetches nothing whatever it holds
(the head view's iframe: `viz.svg_page`); or, in `st.html` only, for a figure made by one of
`ESCAPED_FIGURES`, called directly or through the app's figure cache (`models.figure(builder, ...)`):
builders that escape every string from data (their tests feed them hostile pieces), shown by st.html,
which sanitises with DOMPurify and runs no script unless `unsafe_allow_javascript` is passed, and that is
never allowed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("transformer", "viz", "app.py", "app_support")

CODE_BUILTINS = {"eval", "exec", "compile", "__import__"}
PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle", "joblib"}
LOADERS = {("torch", "load"), ("yaml", "load"), ("numpy", "load"), ("np", "load")}  # np: allow_pickle
HTML_FUNCTIONS = {"html", "iframe"}  # st.html, components.html, components.v1.html, st.iframe
SCRIPT_FREE_PAGES = {"svg_page"}  # viz.svg_page: a page under a CSP that allows inline CSS only
# viz.attention_html: tests/unit/test_viz_attention_html.py (hostile pieces)
ESCAPED_FIGURES = {"attention_html"}


def python_files() -> list[Path]:
    files = []
    for name in SOURCES:
        path = ROOT / name
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return files


def constant_strings(tree: ast.Module) -> set[str]:
    """Module-level names assigned exactly once, to a string literal."""
    assigned: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, []).append(node.value)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(node.target, ast.Name):
            assigned.setdefault(node.target.id, []).append(node.value)
    top = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    return {
        name
        for name, values in assigned.items()
        if name in top
        and len(values) == 1
        and isinstance(values[0], ast.Constant)
        and isinstance(values[0].value, str)
    }


def dotted(node: ast.expr) -> str:
    """`st.components.v1.html` -> "st.components.v1.html"; "" for anything that is not a plain name chain."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = dotted(node.value)
        return f"{head}.{node.attr}" if head else ""
    return ""


def is_escaped_figure(node: ast.expr) -> bool:
    """`viz.attention_html(...)`, or `models.figure(viz.attention_html, ...)` (the app's figure cache)."""
    if not isinstance(node, ast.Call):
        return False
    if dotted(node.func).split(".")[-1] in ESCAPED_FIGURES:
        return True
    return (
        dotted(node.func).split(".")[-1] == "figure"
        and bool(node.args)
        and dotted(node.args[0]).split(".")[-1] in ESCAPED_FIGURES
    )


def is_safe_html_argument(node: ast.expr, constants: set[str], sanitised: bool = False) -> bool:
    """sanitised: the call is st.html (DOMPurify, no script), where an escaped figure may go too."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return True
    if isinstance(node, ast.Call) and dotted(node.func).split(".")[-1] in SCRIPT_FREE_PAGES:
        return True
    if sanitised and is_escaped_figure(node):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):  # constants joined stay constant
        return all(is_safe_html_argument(side, constants, sanitised) for side in (node.left, node.right))
    return isinstance(node, ast.Name) and node.id in constants


def violations(source: str, filename: str = "<source>") -> list[str]:
    """Every forbidden construct in `source`, as "file:line: what"."""
    tree = ast.parse(source, filename)
    constants = constant_strings(tree)
    found = []

    def report(node: ast.AST, what: str) -> None:
        found.append(f"{filename}:{node.lineno}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PICKLE_MODULES:
                    report(node, f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module.split(".")[0]
            for alias in node.names:
                if base in PICKLE_MODULES or (base, alias.name) in LOADERS:
                    report(node, f"from {node.module} import {alias.name}")
        elif isinstance(node, ast.Call):
            name = dotted(node.func)
            parts = name.split(".")
            if name in CODE_BUILTINS:
                report(node, f"{name}(...)")
            elif len(parts) >= 2 and (parts[0] in PICKLE_MODULES or (parts[0], parts[-1]) in LOADERS):
                report(node, f"{name}(...)")
            html_keyword = any(
                k.arg == "unsafe_allow_html"
                and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                for k in node.keywords
            )
            if any(k.arg == "unsafe_allow_javascript" for k in node.keywords):
                report(node, f"{name}(..., unsafe_allow_javascript=...)")
            if html_keyword or (len(parts) >= 2 and parts[-1] in HTML_FUNCTIONS):
                args = [*node.args, *(k.value for k in node.keywords if k.arg in ("body", "html", "src"))]
                sanitised = name in ("st.html", "html") and not html_keyword  # st.html: DOMPurify, no script
                unsafe = [a for a in args if not is_safe_html_argument(a, constants, sanitised)]
                if unsafe:
                    report(node, f"raw HTML from a non-constant: {name}({ast.unparse(unsafe[0])}, ...)")
    return found


def test_the_project_has_python_files_to_scan():
    files = python_files()
    assert ROOT / "transformer" / "checkpoint.py" in files and ROOT / "viz" / "attention.py" in files
    assert len(files) > 20


def test_no_eval_exec_unpickling_or_raw_html_from_user_text():
    found = [v for f in python_files() for v in violations(f.read_text(), str(f.relative_to(ROOT)))]
    assert found == []


@pytest.mark.parametrize(
    "snippet",
    [
        "eval(text)",
        "exec(code)",
        "compile(src, 'x', 'exec')",
        "__import__(name)",
        "import pickle",
        "import dill as d",
        "from pickle import loads",
        "import torch\ntorch.load(path)",
        "from torch import load",
        "import numpy as np\nnp.load(path, allow_pickle=True)",
        "st.markdown(user_text, unsafe_allow_html=True)",
        "st.markdown(f'<b>{text}</b>', unsafe_allow_html=True)",
        "st.html(text)",
        "CSS = '<style>'\nst.html(CSS + user_text)",  # a constant joined with user text is not one
        "CSS = '<style>'\nCSS = CSS + user\nst.html(CSS)",  # rebound: no longer a constant
        "def page():\n    CSS = '<b>'\n    st.html(CSS)",  # local, not module level
        "components.v1.html(make_page(text))",
        "st.iframe(page)",
        "st.iframe(src=f'<p>{text}</p>')",
        "st.html(viz.attention_html(w, q, k), unsafe_allow_javascript=True)",  # never a script
        "st.html(models.figure(make_page, text))",  # the cache, but not an escaping builder
        "st.iframe(viz.attention_html(w, q, k))",  # an iframe does not sanitise
        "components.v1.html(viz.attention_html(w, q, k))",
        "st.markdown(viz.attention_html(w, q, k), unsafe_allow_html=True)",
    ],
)
def test_the_scanner_finds_each_forbidden_construct(snippet):
    assert violations(snippet), snippet


@pytest.mark.parametrize(
    "snippet",
    [
        "model.eval()",
        "import re\nPATTERN = re.compile('x')",
        "CSS = '<style>x</style>'\nst.html(CSS)",
        "A = '<style>a</style>'\nB = '<style>b</style>'\nst.html(A + B)",  # constants joined
        "st.markdown('**static**', unsafe_allow_html=True)",
        "st.markdown(user_text)",
        "st.markdown(user_text, unsafe_allow_html=False)",
        "from safetensors.torch import load_file",
        "st.iframe(viz.svg_page(svg), height=400)",
        "st.html(viz.attention_html(w, q_tok, k_tok, kind='encoder'))",
        "st.html(models.figure(viz.attention_html, *data, **drawn))",
    ],
)
def test_the_scanner_allows_safe_constructs(snippet):
    assert violations(snippet) == [], snippet
