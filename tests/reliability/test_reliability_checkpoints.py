"""Broken, foreign and hostile checkpoint directories: one clear CheckpointError each, nothing unpickled.

Complements tests/unit/test_checkpoint.py (half-truncated weights, config/weights mismatch, a pickled
model.safetensors, a missing config, garbage tokenizer, unknown config field, non-object
metadata, a missing directory, a missing tensor), which it does not repeat.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import struct
import threading

import pytest
import torch
from safetensors.torch import load_file, save_file

from tests.support.reliability_report import survived
from tests.support.tiny import tiny_config
from transformer import CheckpointError, Transformer, load_model, load_pretrained, save_model
from transformer.pretrained import ASSETS
from transformer.train_state import load_train_state


@pytest.fixture
def saved(tmp_path, tiny_pretrained):
    return save_model(tmp_path / "model", tiny_pretrained.model, tiny_pretrained.tokenizer, {"note": "test"})


def header_length(path) -> int:
    with open(path, "rb") as fh:
        return struct.unpack("<Q", fh.read(8))[0]


def edit_config(d, **changes):
    cfg = json.loads((d / "config.json").read_text())
    for key, value in changes.items():
        if value is None:
            del cfg[key]
        else:
            cfg[key] = value
    (d / "config.json").write_text(json.dumps(cfg))


def cut_weights(n_bytes):
    def cut(d):
        w = d / "model.safetensors"
        data = w.read_bytes()
        w.write_bytes(data[: n_bytes(data)])

    return cut


def claim_header(length):
    def claim(d):
        w = d / "model.safetensors"
        w.write_bytes(struct.pack("<Q", length) + w.read_bytes()[8:])

    return claim


def self_link(name):
    def link(d):
        (d / name).unlink()
        os.symlink(name, d / name)  # name -> name: ELOOP on every open

    return link


def foreign_weights(d):
    other = Transformer(tiny_config(src_vocab_size=300, tgt_vocab_size=300, d_model=64, d_ff=32))
    save_model(d, other, load_model(d)[1])  # a whole other model's files, then this config back
    edit_config(d, d_model=32, d_ff=64)


BREAKAGES = {
    # missing files
    "weights_missing": (lambda d: (d / "model.safetensors").unlink(), "lacks model.safetensors"),
    "tokenizer_missing": (lambda d: (d / "tokenizer.model").unlink(), "lacks tokenizer.model"),
    # truncated safetensors, at each part of the format: length, header, data
    "weights_empty": (cut_weights(lambda b: 0), "truncated or corrupt"),
    "weights_cut_in_length": (cut_weights(lambda b: 5), "truncated or corrupt"),
    "weights_length_only": (cut_weights(lambda b: 8), "truncated or corrupt"),
    "weights_cut_in_header": (cut_weights(lambda b: 8 + struct.unpack("<Q", b[:8])[0] // 2), "truncated"),
    "weights_last_byte_missing": (cut_weights(lambda b: len(b) - 1), "truncated or corrupt"),
    # the first 8 bytes claim an enormous JSON header
    "header_2**63": (claim_header(2**63), "truncated or corrupt"),
    "header_2**64-1": (claim_header(2**64 - 1), "truncated or corrupt"),
    "header_1TB": (claim_header(10**12), "truncated or corrupt"),
    "header_50MB_in_a_small_file": (claim_header(50_000_000), "truncated or corrupt"),
    # wrong shapes / config fields
    "weights_of_another_model": (foreign_weights, "shape mismatch"),
    "config_missing_field": (lambda d: edit_config(d, d_ff=None), "missing field.*d_ff"),
    "config_wrong_type": (lambda d: edit_config(d, n_heads="4"), "n_heads must be int"),
    "config_absurd_d_ff": (lambda d: edit_config(d, d_ff=10**12), "config.json"),
    "config_absurd_max_len": (lambda d: edit_config(d, max_len=10**12), "config.json"),
    "config_nested_100k_deep": (lambda d: (d / "config.json").write_text("[" * 100_000), "config"),
    "config_not_utf8": (lambda d: (d / "config.json").write_bytes(b"\xff\xfe{}"), "not valid JSON"),
    # symlink loops and things that are not regular files
    "weights_symlink_loop": (self_link("model.safetensors"), "model.safetensors is not a regular file"),
    "config_symlink_loop": (self_link("config.json"), "config.json is not a regular file"),
    "metadata_symlink_loop": (self_link("metadata.json"), "metadata.json is not a regular file"),
    "weights_dangling_symlink": (
        lambda d: ((d / "model.safetensors").unlink(), os.symlink("nowhere", d / "model.safetensors")),
        "model.safetensors is not a regular file",
    ),
    "weights_is_a_directory": (
        lambda d: ((d / "model.safetensors").unlink(), (d / "model.safetensors").mkdir()),
        "model.safetensors is not a regular file",
    ),
    "metadata_is_a_directory": (
        lambda d: ((d / "metadata.json").unlink(), (d / "metadata.json").mkdir()),
        "metadata.json is not a regular file",
    ),
    "metadata_is_a_fifo": (
        lambda d: ((d / "metadata.json").unlink(), os.mkfifo(d / "metadata.json")),
        "metadata.json is not a regular file",
    ),
    # a tokenizer for another vocabulary (the toy's 14 pieces against the fixture's 300)
    "tokenizer_of_another_vocab": (
        lambda d: shutil.copy(ASSETS / "reverse" / "tokenizer.model", d / "tokenizer.model"),
        "tokenizer has 14 pieces but config says src 300 / tgt 300",
    ),
}


def load_with_timeout(directory, seconds=10):
    """load_model in a thread, so a file that blocks on open (a FIFO) fails the test instead of hanging it."""
    result = {}

    def run():
        try:
            result["value"] = load_model(directory)
        except BaseException as e:  # handed to the test below
            result["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        fifo = directory / "metadata.json"
        if fifo.exists() and not fifo.is_file():
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # release the blocked reader
        pytest.fail(f"load_model({directory}) blocked for {seconds} s")
    if "error" in result:
        raise result["error"]
    return result["value"]


@pytest.mark.parametrize("name", BREAKAGES)
def test_each_broken_checkpoint_gives_one_clear_error(saved, name):
    breakage, message = BREAKAGES[name]
    breakage(saved)
    with pytest.raises(CheckpointError, match=message):
        load_with_timeout(saved)
    survived("broken_checkpoints_refused", name)


def test_a_directory_symlink_loop_is_named(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    (tmp_path / "self").symlink_to(tmp_path / "self")
    for path in (tmp_path / "a", tmp_path / "self"):
        with pytest.raises(CheckpointError, match="symlink that leads nowhere"):
            load_pretrained(path)


def test_a_file_where_the_checkpoint_directory_should_be(tmp_path):
    f = tmp_path / "model"
    f.write_bytes(b"\x80\x04not a directory")
    for load in (load_model, load_pretrained):
        with pytest.raises(CheckpointError, match="is a file; a checkpoint is a directory"):
            load(f)


def test_a_valid_file_whose_header_length_starts_with_0x80_is_not_taken_for_a_pickle(saved):
    """The pickle check looks at byte 0; a safetensors header of 128 + 256·k bytes starts there with 0x80.

    Header lengths are multiples of 8, so 1 in 32 real checkpoints would be refused as "a pickle".
    """
    state = load_file(str(saved / "model.safetensors"))
    for pad in range(256):
        save_file(state, str(saved / "model.safetensors"), metadata={"format": "pt", "pad": "x" * pad})
        if header_length(saved / "model.safetensors") % 256 == 128:
            break
    assert (saved / "model.safetensors").read_bytes()[:1] == b"\x80"
    model, _, _ = load_model(saved)
    for name, tensor in state.items():
        assert torch.equal(model.state_dict()[name], tensor), name


class Payload:
    """Unpickling this creates the marker file: proof that a pickle was executed."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def no_unpickling(monkeypatch):
    """Any call to pickle.load(s), pickle.Unpickler or torch.load fails the test."""
    calls = []

    def refuse(name):
        def fn(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"{name} was called while loading a checkpoint")

        return fn

    for module, name in ((pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (torch, "load")):
        monkeypatch.setattr(module, name, refuse(f"{module.__name__}.{name}"))
    yield calls
    assert calls == []


@pytest.mark.parametrize(
    "victim, message",
    [
        ("tokenizer.model", "not a sentencepiece model"),
        ("config.json", "not valid JSON"),
        ("metadata.json", "not valid JSON"),
    ],
)
def test_a_pickle_in_any_file_is_never_unpickled(saved, tmp_path, no_unpickling, victim, message):
    marker = tmp_path / "pwned"
    (saved / victim).write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(CheckpointError, match=message):
        load_model(saved)
    assert not marker.exists()


def test_a_pt_file_beside_missing_weights_is_ignored(saved, tmp_path, no_unpickling):
    marker = tmp_path / "pwned"
    (saved / "model.safetensors").unlink()
    (saved / "model.pt").write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(CheckpointError, match="lacks model.safetensors"):
        load_model(saved)
    assert not marker.exists()


def test_a_pickled_trainer_state_is_refused_on_resume(tmp_path, tiny_pretrained, no_unpickling):
    marker = tmp_path / "pwned"
    out = tmp_path / "run"
    ckpt = save_model(out / "checkpoints" / "step-00000010", tiny_pretrained.model, tiny_pretrained.tokenizer)
    (ckpt / "trainer.safetensors").write_bytes(pickle.dumps(Payload(marker)))
    (out / "LATEST").write_text("step-00000010\n")
    with pytest.raises(CheckpointError, match="pickle"):
        load_train_state(out)
    assert not marker.exists()


def test_loading_a_good_checkpoint_unpickles_nothing(saved, no_unpickling):
    load_model(saved)
    load_pretrained("reverse")
