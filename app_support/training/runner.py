"""The server's live training jobs: one process each, at most `slots` training at once, the rest queued.

A `Job` is one session's run of one `TrainSpec`. Play queues it; when a slot is free the runner starts its
worker process (`python -m app_support.training.worker`, one torch thread, a lower priority than the server)
or, when the process is still there from before a pause, tells it to go on. The worker's reports (step,
loss, exact match, the probe's attention) arrive on a reader thread and are kept in the job, where the
Train view reads them. A job leaves its slot when it pauses, takes its Step, uses its time slice (others
may be waiting), finishes, fails (a NaN loss, a crash: the job says why; the server goes on), and is
ended, its process killed and its folder removed, when it is reset or its session has been closed for
`grace` seconds (TRAIN_GRACE_SECONDS, default 20: a tab whose network dropped a moment comes back to it).

Streamlit-free: `alive(session_id)` tells whether a session is still open (True / False / None for "cannot
tell"; then a session counts as gone once it has not been seen for HEARTBEAT_SECONDS).
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app_support.training.spec import TrainSpec
from transformer import data as D

ROOT = Path(__file__).resolve().parents[2]  # where `python -m app_support.training.worker` is found
HEARTBEAT_SECONDS = 60.0
MAX_SNAPSHOTS = 240  # attention snapshots a job keeps for rewinding; beyond, every other older one goes
STEP_SIZE = 20  # what the Step button trains


def env_number(name: str, default: float) -> float:
    try:
        return float(os.environ[name])
    except (KeyError, ValueError):
        return default


def default_slots() -> int:
    """Training jobs at once: every core but one, which the server keeps (TRAIN_JOBS overrides)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, int(env_number("TRAIN_JOBS", cores - 1)))


@dataclass
class Snapshot:
    """What a report showed: the step and the probe's attention, kind -> (L, H, T, S), and outputs."""

    step: int
    attention: dict[str, np.ndarray]
    output: str  # what the model wrote for the probe (its loss and exact match: the job's curve)


@dataclass(eq=False)
class Job:
    id: str
    session: str
    spec: TrainSpec
    dir: Path  # the runner's root / id: its data, checkpoints and model directory
    state: str = "new"  # new | queued | running | paused | done | failed
    why: str = ""  # what ended the last stretch: paused | step | slice | steps, or a failure's message
    pausing: bool = False  # Pause was pressed; the worker stops after the step it is in
    grant: tuple = ("run", None)  # what the next slot starts: ("run", None) or ("step", n)
    curve: list[dict] = field(default_factory=list)  # every report's step, loss, valid_loss, exact, trained
    snapshots: list[Snapshot] = field(default_factory=list)
    src_tokens: list[str] = field(default_factory=list)
    tgt_tokens: list[str] = field(default_factory=list)
    typed: dict | None = None  # {"text", "output"}: the last typed input and what the model wrote
    typed_text: str | None = None  # what was asked for, maybe not answered yet
    model: str | None = None  # the model directory the worker wrote last (the picker's entry)
    trained: float = 0.0  # training seconds so far
    started: bool = False  # a worker has run: a new one resumes from the checkpoint
    proc: subprocess.Popen | None = None
    stderr: collections.deque = field(default_factory=lambda: collections.deque(maxlen=20))
    last_seen: float = field(default_factory=time.monotonic)

    @property
    def step(self) -> int:
        return self.curve[-1]["step"] if self.curve else 0

    @property
    def active(self) -> bool:
        """Queued or training: the page redraws it every second."""
        return self.state in ("queued", "running")


class QueueFull(RuntimeError):
    """Too many jobs are waiting; the message says so."""


class Runner:
    def __init__(
        self,
        slots: int | None = None,
        queue_max: int | None = None,
        slice_seconds: float | None = None,
        report_every: float = 1.0,
        root: Path | None = None,
        alive: Callable[[str], bool | None] = lambda session: None,
        python: str = sys.executable,
        spare: bool | None = None,
        idle: float | None = None,
        grace: float | None = None,
    ) -> None:
        self.slots = slots if slots is not None else default_slots()
        self.queue_max = queue_max if queue_max is not None else int(env_number("TRAIN_QUEUE", 30))
        self.slice = slice_seconds if slice_seconds is not None else env_number("TRAIN_SLICE_SECONDS", 120)
        self.report_every = report_every
        self.root = Path(root or tempfile.mkdtemp(prefix="transformer-live-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.alive, self.python = alive, python
        # how far below the server a worker runs: far enough that a click is answered before a step, not so far
        # that a busy machine starves it (nice 10 against nice-0 work gets a tenth of a core; 5, a quarter)
        self.nice = max(1, int(env_number("TRAIN_NICE", 5)))
        # a worker started ahead of the next Play (it loads torch meanwhile); TRAIN_SPARE=0: none
        self.spares = env_number("TRAIN_SPARE", 1) > 0 if spare is None else spare
        self.spare: subprocess.Popen | None = None
        self.spare_since = 0.0
        self.idle = env_number("TRAIN_IDLE_SECONDS", 120) if idle is None else idle  # then a spare is ended
        # a session away this long is gone (a tab that lost its network a moment reconnects to the same one)
        self.grace = env_number("TRAIN_GRACE_SECONDS", 20) if grace is None else grace
        self._away: dict[str, float] = {}  # session -> when it was first seen closed
        self.lock = threading.RLock()
        self.jobs: dict[str, Job] = {}  # session -> its job
        self.waiting: collections.deque[Job] = collections.deque()
        self._stop = threading.Event()
        threading.Thread(target=self._watch, daemon=True, name="train-watch").start()
        atexit.register(self.shutdown)

    # -- what the view calls --------------------------------------------------------------------------
    def job(self, session: str, spec: TrainSpec) -> Job:
        """The session's job for `spec`; a new one (the old ended) when the settings changed."""
        with self.lock:
            job = self.jobs.get(session)
            if job is None or job.spec != spec:
                if job is not None:
                    self._end(job)
                job = self._new_job(session, spec)
            job.last_seen = time.monotonic()
            return job

    def warm(self) -> None:
        """Start the spare worker if there is none: the page that may press Play soon calls this."""
        with self.lock:
            if self.spare is None:
                self._start_spare()

    def play(self, job: Job) -> None:
        self._queue(job, ("run", None))

    def step(self, job: Job, n: int = STEP_SIZE) -> None:
        self._queue(job, ("step", n))

    def pause(self, job: Job) -> None:
        with self.lock:
            if job.state == "queued":
                self.waiting.remove(job)
                job.state, job.why = ("paused" if job.started else "new"), "paused"
            elif job.state == "running":
                job.pausing = True
                self._send(job, {"cmd": "pause"})

    def reset(self, job: Job) -> Job:
        """End the job; a new one of the same spec (the same seed: the same initialisation and data order)."""
        with self.lock:
            self._end(job)
            return self._new_job(job.session, job.spec)

    def type(self, job: Job, text: str | None) -> None:
        """What the model writes for `text` (a report or a "typed" message answers, while a worker lives)."""
        with self.lock:
            if text == job.typed_text:
                return
            job.typed_text = text
            if job.typed and job.typed.get("text") != text:
                job.typed = None
            self._send(job, {"cmd": "typed", "text": text or ""})

    def place(self, job: Job) -> int | None:
        """1 for the first in the queue, ...; None when not queued."""
        with self.lock:
            return next((i for i, j in enumerate(self.waiting, 1) if j is job), None)

    def counts(self) -> dict:
        with self.lock:
            return {"running": self._running(), "queued": len(self.waiting), "slots": self.slots}

    def shutdown(self) -> None:
        self._stop.set()
        with self.lock:
            for job in list(self.jobs.values()):
                self._end(job)
            if self.spare is not None:
                _kill(self.spare)
                self.spare = None
        shutil.rmtree(self.root, ignore_errors=True)

    # -- the queue ------------------------------------------------------------------------------------
    def _queue(self, job: Job, grant: tuple) -> None:
        with self.lock:
            if job.state in ("queued", "running", "done", "failed") or self.jobs.get(job.session) is not job:
                return
            if len(self.waiting) >= self.queue_max and self._free() == 0:
                raise QueueFull(
                    f"{len(self.waiting)} runs are waiting for this server's {self.slots} training "
                    f"slot{'s' * (self.slots != 1)}, as many as it queues. Try again in a minute."
                )
            job.grant, job.state, job.why, job.pausing = grant, "queued", "", False
            self.waiting.append(job)
            self._schedule()

    def _new_job(self, session: str, spec: TrainSpec) -> Job:
        """A job not started yet, the session's from now on."""
        job_id = uuid.uuid4().hex[:12]
        self.jobs[session] = job = Job(job_id, session, spec, self.root / job_id)
        return job

    def _running(self) -> int:
        return sum(j.state == "running" for j in self.jobs.values())

    def _free(self) -> int:
        return self.slots - self._running()

    def _schedule(self) -> None:
        while self.waiting and self._free() > 0:
            job = self.waiting.popleft()
            job.state = "running"
            try:
                if job.proc is not None and job.proc.poll() is None:
                    self._send(job, {"cmd": job.grant[0], "n": job.grant[1]})
                else:
                    self._spawn(job)
            except OSError as e:  # no process could start (out of memory, too many processes)
                job.state, job.why = "failed", f"the training process could not start: {e}"

    def _spawn(self, job: Job) -> None:
        spec = job.spec
        data = None
        if spec.task == "own":
            data = job.dir / "data"
            data.mkdir(parents=True, exist_ok=True)
            train, valid = spec.data()
            D.write_tsv(data / "train.tsv", train)
            D.write_tsv(data / "valid.tsv", valid)
        argv = spec.argv(str(job.dir / "run"), str(data) if data else None)
        first = {
            "argv": [*argv, *(["--resume"] if job.started else [])],
            "probe": list(spec.probe()),
            "then": "run" if job.grant[0] == "run" else ["step", job.grant[1]],
            "slice": self.slice,
            "report_every": self.report_every,
            "trained": job.trained,
            "typed": job.typed_text,
        }
        proc = self._take_spare() or self._process()
        self._start_spare()  # the next Play's: loaded while this one trains
        job.proc, job.started = proc, True
        errors = threading.Thread(target=self._read_stderr, args=(job, proc), daemon=True)
        errors.start()
        threading.Thread(
            target=self._read, args=(job, proc, errors), daemon=True, name=f"train-{job.id}"
        ).start()
        self._send(job, first)  # a worker that died at once: its reader thread says how

    def _process(self) -> subprocess.Popen:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            [self.python, "-m", "app_support.training.worker"], cwd=ROOT, env=env, text=True, encoding="utf-8",
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=1,
        )  # fmt: skip
        try:  # below the server from its first instruction on
            os.setpriority(os.PRIO_PROCESS, proc.pid, os.getpriority(os.PRIO_PROCESS, 0) + self.nice)
        except OSError:
            pass
        return proc

    def _start_spare(self) -> None:
        if self.spares:
            self.spare, self.spare_since = self._process(), time.monotonic()

    def _take_spare(self) -> subprocess.Popen | None:
        """The worker started ahead, if it is still waiting (a spare exits when no job came for a while)."""
        proc, self.spare = self.spare, None
        if proc is not None and proc.poll() is None:
            return proc
        if proc is not None:
            _kill(proc)
        return None

    def _send(self, job: Job, message: dict) -> None:
        proc = job.proc
        if proc is None or proc.poll() is not None:
            return
        try:
            proc.stdin.write(json.dumps(message) + "\n")
            proc.stdin.flush()
        except (OSError, ValueError):  # it just exited: its reader thread says why
            pass

    # -- what the worker says -----------------------------------------------------------------------
    def _read(self, job: Job, proc: subprocess.Popen, errors: threading.Thread) -> None:
        for line in proc.stdout:
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                continue
            with self.lock:
                if job.proc is proc:
                    self._take(job, message)
        code = proc.wait()
        errors.join(timeout=2)  # its last words, for the message
        with self.lock:
            if job.proc is not proc:
                return
            job.proc = None
            if job.state == "running" and code == 0:  # it went idle just as its next grant came: a new one
                try:
                    self._spawn(job)
                    return
                except OSError:
                    pass
            if job.state == "running":
                last = next((s for s in reversed(job.stderr) if s.strip()), "")
                job.state = "failed"
                job.why = f"the training process ended unexpectedly (exit code {code})" + (
                    f": {last}" if last else ""
                )
            self._schedule()

    def _read_stderr(self, job: Job, proc: subprocess.Popen) -> None:
        for line in proc.stderr:
            job.stderr.append(line.rstrip()[:300])

    def _take(self, job: Job, m: dict) -> None:
        kind = m.get("type")
        if kind == "report":
            point = {k: m[k] for k in ("step", "loss", "valid_loss", "exact", "trained")}
            if job.curve and job.curve[-1]["step"] == point["step"]:
                job.curve[-1] = point
            else:
                job.curve.append(point)
            job.trained = m["trained"]
            attention = {k: np.asarray(v, dtype=np.float32) for k, v in m["attention"].items()}
            snap = Snapshot(m["step"], attention, m["output"] or "")
            if job.snapshots and job.snapshots[-1].step == snap.step:
                job.snapshots[-1] = snap
            else:
                job.snapshots.append(snap)
            if len(job.snapshots) > MAX_SNAPSHOTS:  # thin the older half, keep step 0 and the newest
                half = len(job.snapshots) // 2
                job.snapshots = [job.snapshots[0], *job.snapshots[1:half:2], *job.snapshots[half:]]
            job.src_tokens, job.tgt_tokens = m["src_tokens"], m["tgt_tokens"]
            if m.get("typed"):
                job.typed = m["typed"]
        elif kind == "typed":
            job.typed = {"text": m["text"], "output": m["output"]}
        elif kind == "state":
            state = m["state"]
            if m.get("model"):
                job.model = m["model"]
            if state == "running":
                return
            job.state, job.why, job.pausing = state, m.get("why", ""), False
            self._schedule()

    # -- ending ---------------------------------------------------------------------------------------
    def _end(self, job: Job) -> None:
        """Kill the job's process, take it out of the queue and the sessions, remove its folder."""
        if job in self.waiting:
            self.waiting.remove(job)
        if self.jobs.get(job.session) is job:
            del self.jobs[job.session]
        proc, job.proc = job.proc, None
        job.state = "ended"
        if proc is not None:
            _kill(proc)
        shutil.rmtree(job.dir, ignore_errors=True)
        self._schedule()

    def _watch(self) -> None:
        """Every second: end the jobs whose session has been closed for `grace` seconds, and a spare nobody took
        for `idle` seconds."""
        while not self._stop.wait(1.0):
            with self.lock:
                if self.spare is not None and time.monotonic() - self.spare_since > self.idle:
                    _kill(self.spare)  # nobody pressed Play for a while: the memory back
                    self.spare = None
                now = time.monotonic()
                gone = []
                for job in self.jobs.values():
                    alive = self.alive(job.session)
                    if alive is None:  # cannot tell: gone when not seen for a while
                        alive = now - job.last_seen <= HEARTBEAT_SECONDS
                    if alive:
                        self._away.pop(job.session, None)
                    elif now - self._away.setdefault(job.session, now) >= self.grace:
                        gone.append(job)
                # the waiting first: ending a running job hands its slot on, and not to a session also gone
                for job in sorted(gone, key=lambda j: j.state != "queued"):
                    self._away.pop(job.session, None)
                    self._end(job)


def _kill(proc: subprocess.Popen) -> None:
    try:
        proc.kill()
        proc.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        pass
    try:
        proc.stdin.close()  # stdout and stderr: their reader threads see the end and stop
    except (OSError, AttributeError, ValueError):
        pass
