"""`import viz` draws without the model: it reads the attention kinds (transformer.kinds, pure Python) but
never imports torch (the package's names load lazily, transformer/__init__.py)."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("statement", ["import viz", "from transformer.kinds import KINDS"])
def test_importing_viz_or_the_kinds_imports_no_torch(statement):
    probe = f"import sys; {statement}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_package_names_still_load_on_first_use():
    probe = "import sys, transformer; assert 'torch' not in sys.modules; transformer.Transformer; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"
    import transformer

    assert set(transformer.__all__) <= set(dir(transformer))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        transformer.nope  # noqa: B018
