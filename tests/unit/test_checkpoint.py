"""Checkpoints: exact round trip; one clear error for every broken or foreign file; nothing unpickled."""

import json
import pickle
import shutil

import pytest
import torch

from tests.support.tiny import tiny_config
from transformer import CheckpointError, Transformer, load_model, load_pretrained, save_model


@pytest.fixture
def saved(tmp_path, tiny_pretrained):
    return save_model(tmp_path / "model", tiny_pretrained.model, tiny_pretrained.tokenizer, {"note": "test"})


def test_round_trip_is_exact(saved, tiny_pretrained):
    model, tok, meta = load_model(saved)
    assert model.config == tiny_pretrained.config
    for (name, a), (_, b) in zip(model.state_dict().items(), tiny_pretrained.model.state_dict().items()):
        assert torch.equal(a, b), name
    assert model.generator.weight is model.encoder.embed.token.weight  # ties survive the trip
    assert meta == {"note": "test"}
    assert tok.encode("The house") == tiny_pretrained.tokenizer.encode("The house")
    assert not model.training


def test_load_pretrained_translates_like_the_original(saved, tiny_pretrained):
    m = load_pretrained(saved)
    assert m.translate("The house is old.", beam=1) == tiny_pretrained.translate("The house is old.", beam=1)


def test_truncated_weights_give_a_clear_error(saved):
    weights = saved / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_model(saved)


def test_config_that_does_not_match_the_weights(saved):
    cfg = json.loads((saved / "config.json").read_text())
    cfg["d_ff"] = 128
    (saved / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="do not match config.json.*shape mismatch"):
        load_model(saved)


def test_pickle_file_is_refused_and_never_unpickled(saved, tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (saved / "model.safetensors").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError, match="pickle"):
        load_model(saved)
    torch.save(Transformer(tiny_config()).state_dict(), saved / "model.safetensors")
    with pytest.raises(CheckpointError, match="pickle"):
        load_model(saved)
    assert not marker.exists()


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda d: (d / "config.json").unlink(), "lacks config.json"),
        (lambda d: (d / "tokenizer.model").write_bytes(b"garbage"), "not a sentencepiece model"),
        (lambda d: (d / "config.json").write_text("{not json"), "not valid JSON"),
        (
            lambda d: (d / "config.json").write_text(json.dumps({**tiny_config().to_dict(), "x": 1})),
            "unknown",
        ),
        (lambda d: (d / "metadata.json").write_text("[1, 2]"), "JSON object"),
        (lambda d: shutil.rmtree(d), "no checkpoint"),
    ],
)
def test_broken_files_each_give_one_clear_error(saved, breakage, message):
    breakage(saved)
    with pytest.raises(CheckpointError, match=message):
        load_model(saved)


def test_weights_missing_a_tensor(saved):
    from safetensors.torch import load_file, save_file

    state = load_file(str(saved / "model.safetensors"))
    del state["decoder.layers.0.norm1.weight"]
    save_file(state, str(saved / "model.safetensors"))
    with pytest.raises(CheckpointError, match="missing 1 tensor"):
        load_model(saved)


def test_save_replaces_an_existing_checkpoint_whole(saved, tiny_pretrained):
    save_model(saved, tiny_pretrained.model, tiny_pretrained.tokenizer, {"note": "second"})
    assert load_model(saved)[2] == {"note": "second"}
    assert sorted(p.name for p in saved.parent.iterdir()) == ["model"]  # no temp or old directory left


def test_weights_of_integers_are_refused(saved):
    from safetensors.torch import load_file, save_file

    state = load_file(str(saved / "model.safetensors"))
    save_file({n: t.round().to(torch.int64) for n, t in state.items()}, str(saved / "model.safetensors"))
    with pytest.raises(CheckpointError, match="not floating point"):
        load_model(saved)
