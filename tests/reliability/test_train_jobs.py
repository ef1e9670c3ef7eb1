"""The live training jobs' limits (app_support.training.runner), with real worker processes: a worker started
ahead for the next Play, one slot and a queue with places, a full queue said, a time slice that pauses, a step budget that finishes, a session that
ends taking its process and folder with it, a crash and a NaN loss said and survived, and Reset (or a
resume after the worker process went away) replaying the run step for step."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable

import pytest

from app_support.training.runner import Job, QueueFull, Runner
from app_support.training.spec import TrainSpec
from transformer import load_pretrained

pytestmark = pytest.mark.slow
TINY = TrainSpec(task="copy", enc_layers=1, dec_layers=1, heads=2, d_model=8, d_ff=16, lr=0.01, steps=1000)
WAIT = 60.0  # seconds, at most, for a worker to start and get somewhere on a busy 2-core machine


def wait_for(what: Callable[[], bool], timeout: float = WAIT, says: str = "") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if what():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {says or what}")


@pytest.fixture
def make_runner(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAIN_IDLE_SECONDS", "1")  # a paused worker exits soon: resuming must then restart it
    made = []

    def make(**kw) -> Runner:
        kw.setdefault("slots", 1)
        kw.setdefault("root", tmp_path / f"runner{len(made)}")
        kw.setdefault("report_every", 1.0)  # as the page has them: a report costs a validation
        kw.setdefault("spare", False)  # a worker started ahead costs a busy test machine CPU: where asked for
        r = Runner(**kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.shutdown()


def point(job: Job, step: int) -> dict:
    return next(p for p in job.curve if p["step"] == step)


def test_reset_and_a_resumed_worker_replay_the_run_step_for_step(make_runner):
    r = make_runner(spare=True, idle=600)
    job = r.job("s", TINY)
    r.step(job, 30)
    spare = r.spare  # started ahead, for the next Play
    assert spare is not None and spare is not job.proc and spare.poll() is None
    wait_for(lambda: job.state == "paused" and job.step == 30, says="30 steps")
    assert job.why == "step" and job.curve[0]["step"] == 0 and job.curve[0]["loss"] is None
    first = point(job, 30)
    assert first["loss"] > 0 and 0 <= first["exact"] <= 1

    again = r.reset(job)
    assert again is not job and again.state == "new" and again.curve == [] and not job.dir.exists()
    r.spares = False  # the spare is taken; no next one (a test has no next Play)
    r.step(again, 15)
    assert again.proc is spare  # it had loaded torch while the first run trained
    wait_for(lambda: again.state == "paused" and again.step == 15, says="15 steps")
    wait_for(lambda: again.proc is None, says="the idle worker to exit")  # TRAIN_IDLE_SECONDS=1
    r.step(again, 15)  # a new worker, resumed from the checkpoint the paused one wrote
    wait_for(lambda: again.state == "paused" and again.step == 30, says="15 more steps")
    assert point(again, 30) == {**first, "trained": point(again, 30)["trained"]}


def test_one_slot_a_queue_with_places_a_full_queue_and_a_time_slice(make_runner):
    r = make_runner(queue_max=1, slice_seconds=1.5)
    a, b, c = (r.job(s, TINY) for s in ("a", "b", "c"))
    r.play(a)
    r.play(b)
    assert (a.state, b.state, r.place(b), r.place(a)) == ("running", "queued", 1, None)
    assert os.getpriority(os.PRIO_PROCESS, a.proc.pid) > os.getpriority(
        os.PRIO_PROCESS, 0
    )  # below the server
    with pytest.raises(QueueFull, match="1 runs are waiting for this server's 1 training slot"):
        r.play(c)
    assert c.state == "new"
    wait_for(lambda: a.state == "paused", says="a's slice to end")
    assert a.why == "slice" and a.step > 0
    wait_for(lambda: b.state == "running" and b.proc is not None, says="b to get the slot")
    r.pause(b)
    wait_for(lambda: b.state == "paused" and b.why == "paused", says="b to pause")
    assert r.counts() == {"running": 0, "queued": 0, "slots": 1}
    r.pause(c)  # pausing a job that never started changes nothing
    assert c.state == "new"


def test_a_closed_session_ends_its_job_its_process_and_its_folder(make_runner):
    gone: set[str] = set()
    r = make_runner(alive=lambda s: s not in gone, grace=1.0)
    job, waiting = r.job("closing", TINY), r.job("also closing", TINY)
    r.play(job)
    r.play(waiting)
    wait_for(lambda: job.step > 0, says="training")
    proc, folder = job.proc, job.dir
    assert proc.poll() is None and folder.is_dir() and waiting.state == "queued"
    gone.update({"closing", "also closing"})
    time.sleep(0.5)
    gone.discard("closing")  # its tab came back within the grace period: it goes on
    wait_for(lambda: waiting.state == "ended", timeout=10, says="the waiting job to end")
    assert job.state == "running" and "closing" in r.jobs and waiting.proc is None  # never started
    gone.add("closing")
    wait_for(
        lambda: "closing" not in r.jobs and not folder.exists(), timeout=10, says="the watcher to end the job"
    )
    assert proc.wait(timeout=5) is not None and r.counts()["running"] == 0


def test_the_step_budget_finishes_with_a_model_every_view_can_load(make_runner):
    r = make_runner()
    job = r.job("s", TINY.but(steps=40))
    r.play(job)
    wait_for(lambda: job.state == "done", says="the run to finish")
    assert job.step == 40 and job.why == "steps"
    model = load_pretrained(job.model)
    assert model.config.d_model == 8 and model.translate("a b c", beam=1) is not None
    r.play(job)  # a finished run does not start again
    assert job.state == "done"


def test_a_nan_loss_and_a_crashed_worker_end_the_job_with_a_reason(make_runner, tmp_path):
    r = make_runner()
    job = r.job("s", TINY.but(lr=1e6))  # the spec's checks would refuse it; the runner must survive it
    r.play(job)
    wait_for(lambda: job.state == "failed", says="the loss to blow up")
    assert "the learning rate is too high" in job.why and "Reset with a lower one" in job.why

    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'Killed: out of memory' >&2\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    crashing = make_runner(python=str(fake))
    job = crashing.job("s", TINY)
    crashing.play(job)
    wait_for(lambda: job.state == "failed", says="the crash to be noticed")
    assert job.why == "the training process ended unexpectedly (exit code 3): Killed: out of memory"
    assert crashing.counts()["running"] == 0  # the slot is free again
    assert os.path.isdir(crashing.root) and not job.dir.joinpath("run", "model").exists()
