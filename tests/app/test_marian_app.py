"""A converted Marian model in the app: found in an allowed folder, offered in the picker, every view
drawn (AppTest, on the tiny random model of tests/support/marian.py), and what `discover` lists."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

pytest.importorskip("transformers")

from app_support import models, registry  # noqa: E402
from app_support.model_dirs import ENV, allowed_dirs, discover  # noqa: E402
from tests.support.apptest import attention_maps, z_of  # noqa: E402
from tests.support.marian import tiny_marian_dir  # noqa: E402
from transformer.embeddings import split_sinusoidal_table  # noqa: E402
from transformer.marian import convert  # noqa: E402

APP = str(Path(__file__).resolve().parents[2] / "app.py")
LABEL = "allowed/tiny-marian"  # the allowed folder's name, then the path inside it


@pytest.fixture(scope="module")
def allowed(tmp_path_factory) -> Path:
    """A folder for TRANSFORMER_MODEL_DIRS holding one converted tiny Marian model."""
    tmp = tmp_path_factory.mktemp("marian-app")
    convert(tiny_marian_dir(tmp / "src"), tmp / "allowed" / "tiny-marian")
    return tmp / "allowed"


@pytest.fixture
def app_env(allowed, monkeypatch):
    monkeypatch.setenv(ENV, str(allowed))
    return allowed


def run_app(**params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_the_converted_model_is_in_the_picker(app_env):
    assert LABEL in models.model_names()
    assert models.available_models()[LABEL] == (app_env / "tiny-marian").resolve()
    at = run_app(model=LABEL, text="The house is old.")
    assert_clean(at)
    assert LABEL in at.selectbox(key="model").options and at.selectbox(key="model").value == LABEL


def test_every_view_renders_with_the_converted_model(app_env):
    at = run_app(model=LABEL, text="The house is old.", kind="cross", layer="1", head="1")
    assert_clean(at)
    for view in registry.titles():
        at.segmented_control(key=registry.picker_key(view)).set_value(view).run()
        assert_clean(at)
        if view == "attention":  # its heatmaps are HTML (viz.attention_html): the head's and the mean's
            hms = attention_maps(at)
            assert [hm.title for hm in hms] == ["Cross-attention: L1 H1", "Cross-attention: L1 mean of heads"]
            assert all(np.isfinite(hm.z).all() and hm.rows > 1 and hm.cols > 1 for hm in hms)
    for panel in ("model", "lines"):  # the attention view's other panels
        at = run_app(model=LABEL, text="The house is old.", view="attention", panel=panel)
        assert_clean(at)


@pytest.mark.parametrize("method", ["value_norm", "grad_x_input", "integrated_gradients"])
def test_attribution_and_head_roles_work_on_the_converted_model(app_env, method):
    """Issue 23, item 6: the Attribution panel (each method) and the Head roles view over the example set."""
    at = run_app(model=LABEL, text="The house is old.", view="attention", panel="attribution", kind="cross",
                 attr=method)  # fmt: skip
    assert_clean(at)
    weights, used = attention_maps(at)
    assert used.z.shape == weights.z.shape and np.isfinite(used.z).all()
    np.testing.assert_allclose(used.z.sum(-1), 1.0, atol=0.01)  # each row's shares (3 decimals each)
    if method == "value_norm":
        at = run_app(model=LABEL, text="The house is old.", view="roles", kind="cross", over="set")
        assert_clean(at)
        assert sum(bool(b.key and b.key.startswith("roles_cell")) for b in at.button) == 2 * 2


def test_the_positional_view_draws_what_the_model_adds(app_env):
    """Marian's table (every sine, then every cosine), not the paper's interleaved formula."""
    at = run_app(model=LABEL, text="The house is old.", view="positional")
    assert_clean(at)
    figs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    tables = [z_of(t) for f in figs for t in f["data"] if t.get("type") == "heatmap"]
    table = split_sinusoidal_table(64, 16).numpy()
    n = at.session_state["pe_positions"]
    assert any(z.shape == (n, 16) and np.allclose(z, table[:n], atol=1e-6) for z in tables)


# --- discover ---------------------------------------------------------------------------------------


@pytest.fixture
def root(tmp_path) -> Path:
    """An app root with assets/shipped, runs/model, runs/run (LATEST), runs/group/avg, and noise."""
    app = tmp_path / "app"
    for d in (
        "assets/shipped",
        "runs/model",
        "runs/run/checkpoints/step-1",
        "runs/group/avg",
        "runs/.hidden",
    ):
        (app / d).mkdir(parents=True)
        (app / d / "config.json").write_text("{}")
    (app / "runs/run/LATEST").write_text("step-1")
    (app / "runs/empty").mkdir()
    (tmp_path / "outside/model").mkdir(parents=True)
    (tmp_path / "outside/model/config.json").write_text("{}")
    (app / "runs/escape").symlink_to(tmp_path / "outside/model")
    return app


def test_discover_lists_models_and_runs_inside_the_allowed_folders(root, tmp_path):
    found = discover(allowed_dirs({}, root), root)
    assert found == {
        "runs/group/avg": root / "runs/group/avg",
        "runs/model": root / "runs/model",
        "runs/run": root / "runs/run/checkpoints/step-1",  # a run: its newest checkpoint
    }  # not assets/ (named already), hidden entries, an empty folder, or a symlink leading outside
    extra = discover(allowed_dirs({ENV: str(tmp_path / "outside")}, root), root)
    assert extra["outside/model"] == tmp_path / "outside/model"  # the folder's name, never an absolute path
    assert "runs/escape" in extra  # once its target is allowed too
