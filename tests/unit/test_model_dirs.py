"""`app_support.model_dirs`: the allow-list of folders the app's custom checkpoint field may load from."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app_support.model_dirs import ENV, ModelDirError, allowed_dirs, check_model_dir, how_to_allow


@pytest.fixture
def root(tmp_path) -> Path:
    """An app root with assets/model and runs/run (a training run whose LATEST names a checkpoint)."""
    (tmp_path / "app" / "assets" / "model").mkdir(parents=True)
    (tmp_path / "app" / "runs" / "run" / "checkpoints" / "step-1").mkdir(parents=True)
    (tmp_path / "app" / "runs" / "run" / "LATEST").write_text("step-1")
    (tmp_path / "outside" / "model").mkdir(parents=True)
    return tmp_path / "app"


def test_assets_and_runs_are_allowed_by_default(root):
    """With no environment variable the allow-list is the app's assets/ and runs/."""
    assert allowed_dirs({}, root) == [(root / "assets").resolve(), (root / "runs").resolve()]


def test_the_environment_variable_adds_folders(root, tmp_path):
    """TRANSFORMER_MODEL_DIRS adds os.pathsep-separated folders; empty entries are skipped."""
    extra = os.pathsep.join([str(tmp_path / "outside"), "", str(tmp_path / "more")])
    assert allowed_dirs({ENV: extra}, root)[2:] == [(tmp_path / "outside").resolve(), (tmp_path / "more")]


def test_a_directory_inside_assets_is_returned_resolved(root):
    """An allowed directory comes back absolute and resolved, also when typed relative to the root."""
    allowed = allowed_dirs({}, root)
    assert check_model_dir(str(root / "assets" / "model"), allowed, root) == (root / "assets" / "model")
    assert check_model_dir(" assets/model ", allowed, root) == (root / "assets" / "model")


def test_a_run_directory_is_followed_to_its_latest_checkpoint(root):
    assert check_model_dir("runs/run", allowed_dirs({}, root), root) == root / "runs/run/checkpoints/step-1"


@pytest.mark.parametrize("typed", ["/etc", "assets/../..", "assets/../../outside/model", "/"])
def test_a_path_outside_the_allowed_folders_is_refused(root, typed):
    with pytest.raises(ModelDirError, match="outside the folders"):
        check_model_dir(typed, allowed_dirs({}, root), root)


def test_a_missing_path_outside_is_refused_without_saying_whether_it_exists(root):
    """Outside the allow-list the answer is the same whether or not the path exists."""
    with pytest.raises(ModelDirError, match="outside the folders"):
        check_model_dir("/no/such/dir", allowed_dirs({}, root), root)


def test_a_missing_path_inside_is_named(root):
    with pytest.raises(ModelDirError, match="no checkpoint at assets/nowhere"):
        check_model_dir("assets/nowhere", allowed_dirs({}, root), root)


def test_a_symlink_inside_runs_leading_outside_is_refused(root, tmp_path):
    (root / "runs" / "link").symlink_to(tmp_path / "outside" / "model")
    with pytest.raises(ModelDirError, match="outside the folders"):
        check_model_dir("runs/link", allowed_dirs({}, root), root)


def test_a_latest_file_naming_a_symlink_outside_is_refused(root, tmp_path):
    """A run whose LATEST checkpoint is a symlink to a directory outside is refused after following it."""
    (root / "runs" / "run" / "checkpoints" / "step-2").symlink_to(tmp_path / "outside" / "model")
    (root / "runs" / "run" / "LATEST").write_text("step-2")
    with pytest.raises(ModelDirError, match="outside the folders"):
        check_model_dir("runs/run", allowed_dirs({}, root), root)


def test_a_symlink_loop_is_named(root):
    (root / "runs" / "a").symlink_to(root / "runs" / "b")
    (root / "runs" / "b").symlink_to(root / "runs" / "a")
    with pytest.raises(ModelDirError, match="symlink loop|symbolic links"):
        check_model_dir("runs/a", allowed_dirs({}, root), root)


def test_a_folder_added_by_the_environment_is_allowed(root, tmp_path):
    allowed = allowed_dirs({ENV: str(tmp_path / "outside")}, root)
    assert check_model_dir(str(tmp_path / "outside" / "model"), allowed, root) == tmp_path / "outside/model"


def test_a_prefix_of_an_allowed_name_is_not_inside_it(root):
    """assets-old/ is not inside assets/ although its name starts with it."""
    (root / "assets-old" / "model").mkdir(parents=True)
    with pytest.raises(ModelDirError, match="outside the folders"):
        check_model_dir("assets-old/model", allowed_dirs({}, root), root)


def test_the_refusal_says_which_folders_are_allowed_and_how_to_add_one(root):
    text = how_to_allow(allowed_dirs({}, root), quote=lambda s: f"`{s}`")
    assert f"`{root / 'assets'}`, `{root / 'runs'}`" in text
    assert f"`{ENV}=/path/to/models`" in text
