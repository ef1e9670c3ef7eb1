"""Checkpoint averaging (paper §6.1): the mean of the weights, as a loadable model directory."""

import json

import pytest
import torch

from tools.average import average_checkpoints, average_models, run_checkpoints
from transformer.checkpoint import CheckpointError, load_model
from transformer.config import TransformerConfig
from transformer.model import Transformer
from transformer.train import train

TINY = (
    "--task reverse --d-model 32 --heads 4 --enc-layers 1 --dec-layers 1 --d-ff 64 --max-len 24 "
    "--task-max-len 6 --task-size 500 --max-tokens 256 --warmup 20 --valid-every 1000 --valid-samples 20 "
    "--quiet --threads 1 --save-every 5 --keep 3 --steps 15"
).split()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("avg") / "run"
    train([*TINY, "--out", str(out)])
    return out


def test_average_is_the_elementwise_mean_and_loads(run, tmp_path):
    dirs = run_checkpoints(run)
    assert [d.name for d in dirs] == ["step-00000005", "step-00000010", "step-00000015"]
    out = average_checkpoints(dirs, tmp_path / "avg")
    averaged, _, meta = load_model(out)
    models = [load_model(d)[0] for d in dirs]
    for name, value in averaged.state_dict().items():
        expected = sum(m.state_dict()[name] for m in models) / 3
        assert torch.allclose(value, expected, atol=1e-7), name
    # the checkpoints differ, so the mean is none of them
    first = models[0].state_dict()["encoder.layers.0.ff.linear1.weight"]
    assert not torch.equal(averaged.state_dict()["encoder.layers.0.ff.linear1.weight"], first)
    assert meta["averaged"] == [d.name for d in dirs]
    assert meta["step"] == 15
    # tied embeddings stay tied after averaging
    assert averaged.generator.weight.data_ptr() == averaged.encoder.embed.token.weight.data_ptr()


def test_cli_averages_the_newest_checkpoints_of_a_run(python_m, run, tmp_path):
    out = tmp_path / "avg2"
    done = python_m.run("tools.average", str(run), "--last", "2", "--out", str(out))
    assert done.returncode == 0, done.stderr
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["averaged"] == ["step-00000010", "step-00000015"]


def test_models_of_different_configs_are_refused():
    a = Transformer(TransformerConfig(src_vocab_size=20, tgt_vocab_size=20, d_model=16, n_heads=2, d_ff=32))
    b = Transformer(TransformerConfig(src_vocab_size=20, tgt_vocab_size=20, d_model=16, n_heads=4, d_ff=32))
    with pytest.raises(CheckpointError, match="share one config"):
        average_models([a, b])


def test_cli_reports_a_broken_checkpoint_without_a_traceback(python_m, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    done = python_m.run("tools.average", str(bad), "--out", str(tmp_path / "o"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "error:" in done.stderr


def test_float16_storage_halves_the_file_and_loads_as_float32(run, tmp_path):
    dirs = run_checkpoints(run)
    full = average_checkpoints(dirs, tmp_path / "f32")
    half = average_checkpoints(dirs, tmp_path / "f16", dtype="float16")
    size = lambda d: (d / "model.safetensors").stat().st_size  # noqa: E731
    assert size(half) < 0.55 * size(full)
    a, b = load_model(full)[0], load_model(half)[0]
    for name, value in b.state_dict().items():
        assert value.dtype == torch.float32, name
        assert torch.allclose(value, a.state_dict()[name], rtol=1e-3, atol=1e-4), name
    assert json.loads((half / "metadata.json").read_text())["stored_as"] == "float16"
