"""Snapshots along a training run (`--snapshots N`): written on schedule, loadable like model weights,
kept by --resume, never changing the training itself; broken files give one clear error."""

import json
import pickle

import pytest
import torch
from safetensors.torch import load_file, save_file

from transformer import CheckpointError, Transformer, load_pretrained
from transformer.checkpoint import (
    list_snapshots,
    load_snapshot,
    read_snapshot_index,
    snapshot_file,
    snapshots_dir,
    write_snapshot,
)
from transformer.pretrained import resolve_model_dir
from transformer.train import build_parser, snapshot_schedule, train

TINY = (
    "--task reverse --d-model 32 --heads 4 --enc-layers 1 --dec-layers 1 --d-ff 64 --max-len 24 "
    "--task-max-len 6 --task-size 2000 --max-tokens 256 --warmup 20 --valid-every 1000 --valid-samples 20 "
    "--quiet --threads 1 --save-every 15"
).split()


def weights(path):
    return load_file(str(path))


def final_weights(out):
    latest = (out / "LATEST").read_text().strip()
    return weights(out / "checkpoints" / latest / "model.safetensors")


def snapshot_weights(directory) -> dict[int, dict]:
    d = snapshots_dir(directory)
    return {e["step"]: weights(d / snapshot_file(e["step"])) for e in list_snapshots(directory)}


@pytest.mark.parametrize(
    "n, total, expected",
    [
        (6, 4000, [0, 80, 213, 566, 1504, 4000]),  # the toy models' recipe: geometric from 2 % of the run
        (6, 20, [0, 1, 2, 4, 9, 20]),
        (6, 3, [0, 1, 2, 3]),  # a run too short for six
        (2, 100, [0, 100]),
        (6, 0, [0]),  # --steps 0 (--init): the model as it started
    ],
)
def test_schedule_starts_at_the_initialisation_and_ends_at_the_last_step(n, total, expected):
    assert snapshot_schedule(n, total) == expected


@pytest.mark.parametrize("value", ["1", "0", "-3", "six", "1001"])
def test_snapshot_count_is_checked_by_the_parser(value, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["--task", "reverse", "--out", str(tmp_path), "--snapshots", value])
    assert e.value.code == 2 and "--snapshots" in capsys.readouterr().err


def test_a_run_keeps_n_snapshots_that_load_differ_and_change_nothing(tmp_path):
    plain, snap = tmp_path / "plain", tmp_path / "snap"
    train([*TINY, "--out", str(plain), "--steps", "30"])
    result = train([*TINY, "--out", str(snap), "--steps", "30", "--snapshots", "4"])
    # observing changes nothing: the same weights, bit for bit, as the run without snapshots
    a, b = final_weights(plain), final_weights(snap)
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert not (plain / "snapshots").exists() and not (plain / "model" / "snapshots").exists()

    entries = list_snapshots(snap)
    steps = [e["step"] for e in entries]
    assert steps == snapshot_schedule(4, 30) == [0, 1, 5, 30]
    assert all({"valid_loss", "valid_ppl", "exact", "epoch"} <= e.keys() for e in entries)
    assert entries[0]["valid_loss"] > entries[-1]["valid_loss"]  # it learned something
    assert entries[-1]["valid_loss"] == result["metrics"]["valid_loss"]
    # the exported model carries the same history; a run directory's checkpoint finds the run's
    assert list_snapshots(snap / "model") == entries
    assert list_snapshots(resolve_model_dir(snap)) == entries
    m = load_pretrained(snap / "model")
    loaded = []
    for step in steps:
        net = Transformer(m.config)
        assert load_snapshot(snap / "model", step, net)["step"] == step
        loaded.append(net.state_dict())
        stored = weights(snap / "model" / "snapshots" / snapshot_file(step))
        assert all(t.dtype == torch.float16 for t in stored.values())
    for earlier, later in zip(loaded, loaded[1:]):
        assert any(not torch.equal(earlier[n], later[n]) for n in earlier)
    final = m.model.state_dict()  # the last snapshot is the exported model, rounded to float16
    assert all(torch.equal(loaded[-1][n], final[n].half().float()) for n in final)


def test_resume_keeps_the_schedule_and_the_snapshots_of_an_uninterrupted_run(tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    common = [*TINY, "--dropout", "0.2", "--steps", "40", "--snapshots", "5"]
    train([*common, "--out", str(straight)])
    first = train([*common, "--out", str(split), "--max-minutes", "0"])  # interrupted after one step
    assert first["stopped"] == "time" and first["step"] == 1
    assert [e["step"] for e in list_snapshots(split)] == [0, 1]
    train([*common, "--out", str(split), "--resume"])
    a, b = snapshot_weights(straight), snapshot_weights(split)
    assert list(a) == list(b) == snapshot_schedule(5, 40)
    for step in a:
        assert all(torch.equal(a[step][n], b[step][n]) for n in a[step]), step
    # training on with a larger --steps (--snapshots need not be repeated) keeps the planned steps and adds
    # the new last one
    train([*TINY, "--out", str(split), "--steps", "50", "--dropout", "0.2", "--resume"])
    assert [e["step"] for e in list_snapshots(split)] == [*snapshot_schedule(5, 40), 50]
    assert read_snapshot_index(split / "snapshots")["planned"] == snapshot_schedule(5, 40)


def test_a_fresh_run_removes_an_earlier_runs_snapshots(tmp_path):
    out = tmp_path / "run"
    train([*TINY, "--out", str(out), "--steps", "6", "--snapshots", "3"])
    train([*TINY, "--out", str(out), "--steps", "4"])
    assert not (out / "snapshots").exists() and list_snapshots(resolve_model_dir(out)) == []


# --- loading: the rules of model weights ------------------------------------------------------------


@pytest.fixture
def snap_dir(tmp_path, tiny_pretrained):
    d = tmp_path / "model" / "snapshots"
    write_snapshot(d, tiny_pretrained.model, 0, {"valid_loss": 3.5, "exact": 0.0}, planned=[0, 10])
    write_snapshot(d, tiny_pretrained.model, 10, {"valid_loss": 1.25, "exact": 0.5}, planned=[0, 10])
    return d


def test_snapshots_round_trip_through_float16(snap_dir, tiny_pretrained):
    assert [(e["step"], e["valid_loss"]) for e in list_snapshots(snap_dir.parent)] == [(0, 3.5), (10, 1.25)]
    net = Transformer(tiny_pretrained.config)
    load_snapshot(snap_dir.parent, 10, net)
    for name, t in tiny_pretrained.model.state_dict().items():
        assert torch.equal(net.state_dict()[name], t.half().float()), name
    assert net.generator.weight is net.encoder.embed.token.weight  # ties survive


def test_the_same_weights_give_the_same_bytes(snap_dir, tiny_pretrained, tmp_path):
    """A rerun of a training run rewrites identical files (git stores them once)."""
    again = tmp_path / "again"
    for _ in range(3):
        write_snapshot(again, tiny_pretrained.model, 10, {}, planned=[10])
        assert (again / snapshot_file(10)).read_bytes() == (snap_dir / snapshot_file(10)).read_bytes()


def test_a_directory_without_snapshots_has_none(tmp_path):
    assert list_snapshots(tmp_path) == []


def _break_index(d, index):
    (d / "index.json").write_text(json.dumps(index) if not isinstance(index, str) else index)


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda d: (d / snapshot_file(10)).write_bytes(b"\x08\x00"), "truncated or corrupt"),
        (lambda d: (d / snapshot_file(10)).unlink(), "missing"),
        (lambda d: (d / snapshot_file(10)).write_bytes(pickle.dumps({"a": 1})), "pickle"),
        (lambda d: save_file({"x": torch.zeros(2)}, str(d / snapshot_file(10))), "do not match config"),
        (lambda d: _break_index(d, "{not json"), "not valid JSON"),
        (lambda d: _break_index(d, {"snapshots": "all"}), "list of objects"),
        (lambda d: _break_index(d, {"snapshots": [{"step": 10}, {"step": 0}]}), "increasing order"),
        (lambda d: _break_index(d, {"snapshots": [{"step": "10"}]}), "whole-number step"),
        (
            lambda d: _break_index(d, {"snapshots": [{"step": 10, "file": "../../model.safetensors"}]}),
            "expected 'step-00000010.safetensors'",
        ),  # fmt: skip
        (lambda d: _break_index(d, {"snapshots": [{"step": 10, "valid_loss": "low"}]}), "not a number"),
    ],
)
def test_broken_snapshots_give_one_clear_error(snap_dir, tiny_pretrained, breakage, message):
    breakage(snap_dir)
    with pytest.raises(CheckpointError, match=message):
        load_snapshot(snap_dir.parent, 10, Transformer(tiny_pretrained.config))


def test_a_step_that_was_not_kept_names_the_steps_there_are(snap_dir, tiny_pretrained):
    with pytest.raises(CheckpointError, match=r"no snapshot of step 5 \(steps: 0, 10\)"):
        load_snapshot(snap_dir.parent, 5, Transformer(tiny_pretrained.config))


def test_a_snapshot_of_another_shape_is_refused(snap_dir, tiny_pretrained):
    from tests.support.tiny import tiny_config

    wider = Transformer(tiny_config(src_vocab_size=tiny_pretrained.config.src_vocab_size,
                                    tgt_vocab_size=tiny_pretrained.config.tgt_vocab_size, d_ff=128))  # fmt: skip
    with pytest.raises(CheckpointError, match="shape mismatch"):
        load_snapshot(snap_dir.parent, 0, wider)


def test_the_model_card_lists_the_snapshots_a_model_ships(tmp_path):
    import shutil

    from tools.card import main as card_main
    from transformer.pretrained import ASSETS

    model = tmp_path / "reverse"
    shutil.copytree(ASSETS / "reverse", model)
    entries = list_snapshots(model)
    if not entries:
        pytest.skip("assets/reverse ships no snapshots")
    assert card_main([str(model), "--samples", "1"]) == 0
    section = (model / "README.md").read_text().split("## Snapshots")[1].split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [int(r.split("|")[1]) for r in rows] == [e["step"] for e in entries]
    assert "float16" in section and "Watch attention form during training" in section
