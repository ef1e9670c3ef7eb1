"""Training faults: SIGKILL in the middle of a checkpoint write, a failed swap, a full or read-only disk.

The promise under test (train_state.py): a run killed at any moment leaves OUT/LATEST naming a
complete checkpoint, and `--resume` from it continues exactly: same step count, LR schedule,
Adam moments, RNG and data order as a run that was never interrupted.
"""

from __future__ import annotations

import collections
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import transformer.checkpoint as checkpoint
import transformer.train as train_module
import transformer.train_state as train_state
from tests.support.reliability_report import survived
from tests.support.tiny import TINY
from transformer import load_pretrained
from transformer.train import train
from transformer.train_state import load_train_state

COMMON = [*TINY, "--dropout", "0.2", "--save-every", "10"]  # dropout: the RNG state must resume too

# A child that runs `python -m transformer.train` but stops inside a checkpoint write:
# `save_file` writes half of the weights, says where, and hangs until the test kills it.
KILL_IN_WRITE = r"""
import os, sys, time
import transformer.checkpoint as checkpoint
from transformer.train import main

real_save, calls = checkpoint.save_file, []

def save_half_and_hang(tensors, path, metadata=None):
    calls.append(path)
    real_save(tensors, path, metadata=metadata)
    if len(calls) == int(os.environ["HANG_AT_CALL"]):
        os.truncate(path, os.path.getsize(path) // 2)
        print("IN-WRITE", path, flush=True)
        time.sleep(600)

checkpoint.save_file = save_half_and_hang
sys.exit(main(sys.argv[1:]))
"""

# ... and one that stops between the two renames that swap a re-saved checkpoint into place
# (step-N moved aside to .step-N.old-PID, the new step-N not yet renamed in).
KILL_IN_SWAP = r"""
import os, sys, time
from pathlib import Path
from transformer.train import main

real_replace = os.replace

def replace_and_hang(src, dst):
    src = Path(src)
    if ".tmp-" in src.name and any(".old-" in p.name for p in src.parent.iterdir()):
        print("IN-SWAP", src, flush=True)
        time.sleep(600)
    real_replace(src, dst)

os.replace = replace_and_hang
sys.exit(main(sys.argv[1:]))
"""


def run_until(script: str, marker: str, args: list[str], **env) -> Path:
    """Run `script` with train args until it prints `marker PATH`, SIGKILL it there, return PATH."""
    root = Path(__file__).resolve().parents[2]
    child_env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(root), **env}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env,
    )
    watchdog = threading.Timer(240, proc.kill)  # never hang the test suite
    watchdog.start()
    try:
        line = proc.stdout.readline()
        assert line.startswith(marker), f"child ended before {marker}: {proc.stderr.read()[-2000:]}"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        watchdog.cancel()
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    return Path(line.split(maxsplit=1)[1].strip())


def stale_entries(out: Path) -> list[str]:
    """Temporary or moved-aside names a checkpoint write leaves behind when it is interrupted."""
    dirs = [out, out / "checkpoints"]
    return sorted(
        p.name for d in dirs if d.is_dir() for p in d.iterdir() if ".tmp-" in p.name or ".old-" in p.name
    )


def assert_same_checkpoint(a: Path, b: Path) -> None:
    """Weights, Adam moments, RNG state and schedule of two checkpoints are identical."""
    for name in ("model.safetensors", "trainer.safetensors"):
        x, y = load_file(str(a / name)), load_file(str(b / name))
        assert x.keys() == y.keys(), name
        for key in x:
            assert torch.equal(x[key], y[key]), f"{name}: {key}"
    ta, tb = (json.loads((d / "trainer.json").read_text()) for d in (a, b))
    for key in ("step", "epoch", "batch_pos", "scheduler", "param_groups"):
        assert ta[key] == tb[key], key


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory) -> Path:
    """30 uninterrupted steps, checkpoint every 10: what every resumed run must reproduce."""
    out = tmp_path_factory.mktemp("straight") / "run"
    train([*COMMON, "--out", str(out), "--steps", "30"])
    return out


@pytest.mark.slow
def test_sigkill_while_writing_a_checkpoint_keeps_the_last_one_and_resumes_exactly(tmp_path, straight_run):
    out = tmp_path / "run"
    half_written = run_until(KILL_IN_WRITE, "IN-WRITE", [*COMMON, "--out", str(out), "--steps", "30"],
                             HANG_AT_CALL="2")  # fmt: skip
    # killed inside the step-20 write: its weights half on disk in a temporary directory
    assert half_written.name == "model.safetensors"
    assert half_written.parent.name.startswith(".step-00000020.tmp-") and half_written.parent.is_dir()
    assert (out / "LATEST").read_text().strip() == "step-00000010"

    previous = load_pretrained(out)  # the checkpoint LATEST names is whole
    assert previous.name == "step-00000010" and previous.metadata["step"] == 10
    state = load_train_state(out)
    assert state["step"] == 10 and state["scheduler"]["last_epoch"] == 10

    result = train([*COMMON, "--out", str(out), "--steps", "30", "--resume"])
    assert result["step"] == 30
    assert stale_entries(out) == [], "the killed write's temporary directory was left behind"
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "step-00000010",
        "step-00000020",
        "step-00000030",
    ]
    assert_same_checkpoint(
        out / "checkpoints" / "step-00000030", straight_run / "checkpoints" / "step-00000030"
    )
    trainer = json.loads((out / "checkpoints" / "step-00000030" / "trainer.json").read_text())
    lr = trainer["param_groups"][0]["lr"]
    assert lr == train_module.noam_schedule(32, 20, 1.0)(30)  # --d-model 32 --warmup 20: eq. (3) at step 31
    survived("faults_survived", "SIGKILL mid-checkpoint")


@pytest.mark.slow
def test_sigkill_between_the_two_renames_of_a_resave_loses_nothing(tmp_path, straight_run):
    # with --steps 10 --save-every 10 the final checkpoint re-saves step-10 over itself
    out = tmp_path / "run"
    new = run_until(KILL_IN_SWAP, "IN-SWAP", [*COMMON, "--out", str(out), "--steps", "10"])
    assert new.name.startswith(".step-00000010.tmp-")
    assert (out / "LATEST").read_text().strip() == "step-00000010"
    assert not (out / "checkpoints" / "step-00000010").exists()  # moved aside: LATEST dangles for now

    result = train([*COMMON, "--out", str(out), "--steps", "30", "--resume"])
    assert result["step"] == 30, "the run started over instead of resuming from step 10"
    assert stale_entries(out) == []
    assert_same_checkpoint(
        out / "checkpoints" / "step-00000030", straight_run / "checkpoints" / "step-00000030"
    )
    survived("faults_survived", "SIGKILL between renames")


def test_an_interrupted_swap_puts_the_old_checkpoint_back(tmp_path, tiny_pretrained, monkeypatch):
    """An exception (Ctrl-C, an I/O error) between moving step-N aside and renaming the new one in."""
    dest = checkpoint.save_model(
        tmp_path / "model", tiny_pretrained.model, tiny_pretrained.tokenizer, {"v": 1}
    )
    real_replace = os.replace

    def replace(src, dst):
        if ".tmp-" in Path(src).name:
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save_model(dest, tiny_pretrained.model, tiny_pretrained.tokenizer, {"v": 2})
    monkeypatch.undo()
    assert checkpoint.load_model(dest)[2] == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    survived("faults_survived", "interrupted swap")


def test_stale_writes_of_a_dead_process_are_cleaned_on_startup(tmp_path):
    """Leftovers of a killed run go; a moved-aside checkpoint whose successor never arrived comes back."""
    out, ckpts = tmp_path / "run", tmp_path / "run" / "checkpoints"
    dead = max(int(p) for p in os.listdir("/proc") if p.isdigit()) + 100_000  # no such process
    for name in ("step-00000010", f".step-00000020.tmp-{dead}-abc", f".step-00000010.old-{dead}",
                 f".step-00000030.old-{dead}", ".step-00000040.tmp-legacy12"):  # fmt: skip
        (ckpts / name).mkdir(parents=True)
        (ckpts / name / "config.json").write_text(name)
    (out / f".LATEST.tmp-{dead}").write_text("step-00000020\n")
    (out / f".model.tmp-{dead}-xyz").mkdir()
    live = ckpts / f".step-00000050.tmp-{os.getppid()}-live"  # a write still in progress elsewhere
    live.mkdir()

    train_state.recover_interrupted_writes(out)
    assert sorted(p.name for p in ckpts.iterdir()) == [live.name, "step-00000010", "step-00000030"]
    assert (ckpts / "step-00000010" / "config.json").read_text() == "step-00000010"  # newer one kept
    assert (ckpts / "step-00000030" / "config.json").read_text() == f".step-00000030.old-{dead}"
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints"]
    survived("faults_survived", "stale writes of a dead process")


def test_disk_full_while_checkpointing_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    out = tmp_path / "run"
    real_save, calls = checkpoint.save_file, []

    def save_file(tensors, path, metadata=None):
        calls.append(path)
        if len(calls) == 2:
            Path(path).write_bytes(b"\0" * 100)  # a partial file, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        real_save(tensors, path, metadata=metadata)

    monkeypatch.setattr(checkpoint, "save_file", save_file)
    with pytest.raises(OSError, match="No space left on device"):
        train([*COMMON, "--out", str(out), "--steps", "20"])
    monkeypatch.undo()
    assert stale_entries(out) == []  # the half-written directory is removed on the way out
    assert (out / "LATEST").read_text().strip() == "step-00000010"
    assert load_train_state(out)["step"] == 10
    survived("faults_survived", "disk full")


DiskUsage = collections.namedtuple("DiskUsage", "total used free")


def test_too_little_free_disk_fails_before_training(tmp_path, monkeypatch):
    monkeypatch.setattr(train_module.shutil, "disk_usage", lambda path: DiskUsage(1 << 40, 1 << 40, 5 << 20))
    out = tmp_path / "run"
    with pytest.raises(SystemExit, match=r"has 5 MiB free; checkpoints need about \d+ MiB"):
        train([*COMMON, "--out", str(out), "--steps", "5"])
    assert sorted(p.name for p in out.iterdir()) == []  # no log, no checkpoint: training never began
    survived("faults_survived", "too little free disk")


def make_read_only(directory: Path):
    """chmod 0o555 as a normal user. Root ignores permission bits, so there the directory is made
    immutable instead (chattr +i, which binds root too); skipped where the filesystem lacks it."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        return lambda: directory.chmod(0o755)
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: no way to make a directory read-only")
    proc = subprocess.run(["chattr", "+i", str(directory)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"chattr +i is not supported here: {proc.stderr.strip()}")
    return lambda: subprocess.run(["chattr", "-i", str(directory)], check=True)


@pytest.mark.parametrize("where", ["out_itself", "parent_of_out"])
def test_read_only_output_directory_fails_before_training(tmp_path, where):
    locked = tmp_path / "locked"
    locked.mkdir()
    unlock = make_read_only(locked)
    try:
        with pytest.raises(OSError):  # the lock really holds, even for root
            (locked / "probe").write_text("x")
        out = locked if where == "out_itself" else locked / "run"
        with pytest.raises(SystemExit, match="is not writable"):
            train([*COMMON, "--out", str(out), "--steps", "5"])
    finally:
        unlock()
    assert list(locked.iterdir()) == []
    survived("faults_survived", f"read-only output ({where})")
