"""One live training job, in a process of its own: `python -m app_support.training.worker`.

It runs the project's one training loop (`transformer.train.setup` and `Run.step`, the code behind
`python -m transformer.train`) on one torch thread at a lower scheduling priority than the app's server (the
runner sets it), and
talks to the server (app_support.training.runner) in JSON lines:

    stdin, first line   {"argv": [...], "probe": [input, output], "then": "run" | ["step", n],
                         "slice": seconds, "report_every": seconds, "trained": seconds so far}
    stdin, then         {"cmd": "run"} | {"cmd": "step", "n": n} | {"cmd": "pause"} | {"cmd": "typed", "text": t}
                        | {"cmd": "quit"}; end of input (the server went away) is "quit"
    stdout              {"type": "report", "step", "loss", "valid_loss", "exact", "trained", "attention":
                         {kind: (L, H, T, S) nested lists}, "src_tokens", "tgt_tokens", "output", "typed"}
                        {"type": "state", "state": "running" | "paused" | "done" | "failed", "why", "model"}
                        {"type": "typed", "text", "output"}

While training it reports every `report_every` seconds: the training loss of the step it is at (None at
step 0; with the seed, the same at the same step in every run), loss and exact match on the held-out pairs, the probe's attention (teacher-forced on its correct output, so
the rows stay put while they change) and what the model writes for the probe and the typed input. It pauses
on "pause", after the steps of a "step", and when this grant's `slice` of training seconds is used up;
then it writes the model directory (OUT/model, what the app's views load) and a checkpoint (OUT/checkpoints,
what a later job resumes from with --resume), and waits for the next command; after IDLE_SECONDS without one
it exits (the checkpoint holds everything). A NaN loss ends the job with "failed" and the reason.

It loads torch and the training script before it reads its first line, so the runner keeps one started
ahead (its spare): Play then starts training at once. The runner ends a spare no job took in a while.
"""

from __future__ import annotations

import json
import math
import os
import queue
import sys
import threading
import time

IDLE_SECONDS = float(os.environ.get("TRAIN_IDLE_SECONDS", "120"))


def main() -> int:
    protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # anything the libraries print goes to stderr, never into the protocol
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    warm_up()  # then wait for the job: the runner ends a spare that waited too long (no race with a job)
    commands: queue.Queue = queue.Queue()
    first = sys.stdin.readline()
    if not first:
        return 0
    threading.Thread(target=_read_commands, args=(commands,), daemon=True).start()
    job = Job(json.loads(first), commands, protocol)
    return job.main()


def warm_up() -> None:
    """What every job needs before its first step, loaded before the job arrives: torch, the training script,
    and what the optimizer imports on first use (torch._dynamo, seconds on a busy machine)."""
    import torch

    import transformer.train  # noqa: F401

    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])


def _read_commands(commands: queue.Queue) -> None:
    for line in sys.stdin:
        try:
            commands.put(json.loads(line))
        except json.JSONDecodeError:
            continue
    commands.put({"cmd": "quit"})  # the server closed the pipe: it is gone


class Job:
    def __init__(self, first: dict, commands: queue.Queue, protocol) -> None:
        self.first, self.commands, self.protocol = first, commands, protocol
        self.report_every = float(first.get("report_every", 1.0))
        self.slice = float(first.get("slice", 120.0))
        self.trained = float(first.get("trained", 0.0))  # training seconds, over every job of this run
        self.typed: str | None = first.get("typed")
        self.run = None

    def send(self, message: dict) -> None:
        try:
            line = json.dumps(message, allow_nan=False)
        except ValueError:  # a diverging model's held-out loss or weights: not JSON, said as null
            line = json.dumps(_finite(message), allow_nan=False)
        self.protocol.write(line + "\n")

    def main(self) -> int:
        from transformer import train  # its --threads 1 (TrainSpec.argv) gives the one torch thread
        from transformer.pretrained import Pretrained

        try:
            self.run = train.setup(self.first["argv"])
        except SystemExit as e:  # argparse or a check of train.py: its message is the reason
            self.send(
                {"type": "state", "state": "failed", "why": f"training could not start: {e}", "model": None}
            )
            return 0
        except Exception as e:  # the data or the tokenizer would not do: said, not a traceback on the page
            why = f"training could not start ({type(e).__name__}): {e}"
            self.send({"type": "state", "state": "failed", "why": why[:500], "model": None})
            return 0
        self.pre = Pretrained(self.run.model, self.run.tok, self.run.metadata)
        self.src, self.tgt = self.first["probe"]
        self.report()
        then = self.first.get("then", "run")
        steps = int(then[1]) if isinstance(then, list) else None
        while True:
            why = self.train(steps)
            if why == "quit":
                return 0
            grant = self.wait(finished=why in ("done", "failed"))
            if grant == "quit":
                return 0
            steps = grant[1]

    def train(self, steps: int | None) -> str:
        """Train until paused, `steps` steps were taken, the slice is used, or the run ends; returns why."""
        run = self.run
        self.send({"type": "state", "state": "running", "why": "", "model": None})
        grant_start, last_report = time.monotonic(), time.monotonic()
        while True:
            got = self.poll()
            if got == "quit":
                return "quit"
            if got == "pause":
                self.report()  # the page's step, curves and heatmap: those of the model it saves
                return self.pause("paused")
            t0 = time.monotonic()
            more = run.step()
            self.trained += time.monotonic() - t0
            loss = float(run.last_loss)
            if not math.isfinite(loss):
                why = (f"the loss became {loss} at step {run.steps_done}: the learning rate is too high for this "
                       "model. Reset with a lower one.")  # fmt: skip
                self.send({"type": "state", "state": "failed", "why": why, "model": None})
                return "failed"
            if steps is not None:
                steps -= 1
            if not more:
                self.report()
                run.finish()
                self.send({"type": "state", "state": "done", "why": "steps", "model": str(run.out / "model")})
                return "done"
            if steps == 0:
                self.report()
                return self.pause("step")
            now = time.monotonic()
            if now - grant_start > self.slice:
                self.report()
                return self.pause("slice")
            if now - last_report >= self.report_every:
                self.report()
                last_report = time.monotonic()

    def poll(self) -> str | None:
        """Handle the commands that arrived; "pause" or "quit" when one of them says so."""
        while True:
            try:
                cmd = self.commands.get_nowait()
            except queue.Empty:
                return None
            what = self.handle(cmd)
            if what in ("pause", "quit"):
                return what

    def handle(self, cmd: dict) -> str | None:
        name = cmd.get("cmd")
        if name == "typed":
            self.typed = str(cmd.get("text") or "") or None
            self.send({"type": "typed", "text": self.typed, "output": self.translate(self.typed)})
            return None
        return name

    def pause(self, why: str) -> str:
        self.save()
        self.send({"type": "state", "state": "paused", "why": why, "model": str(self.run.out / "model")})
        return why

    def save(self) -> None:
        """The model directory the app's views load, and a checkpoint a later job resumes from."""
        from transformer.checkpoint import save_model

        run = self.run
        save_model(
            run.out / "model", run.model, run.tok, run.meta(), snapshots=run.snap_dir if run.taken else None
        )
        run.checkpoint()

    def wait(self, finished: bool) -> tuple[str, int | None] | str:
        """Paused or finished: answer typed inputs until the next grant, ("run", None) or ("step", n), comes;
        "quit" when told, or after IDLE_SECONDS without a command (the checkpoint holds the run)."""
        while True:
            try:
                cmd = self.commands.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                return "quit"
            name = self.handle(cmd)
            if name == "quit":
                return "quit"
            if name == "run" and not finished:
                return ("run", None)
            if name == "step" and not finished:
                return ("step", max(1, int(cmd.get("n", 1))))

    def report(self) -> None:
        import torch

        from transformer.evaluate import evaluate

        run, pre = self.run, self.pre
        metrics = evaluate(
            run.model, run.tok, run.valid_data, run.args.valid_samples, run.args.max_tokens, run.device
        )
        trace = pre.trace(self.src, target=self.tgt)  # eval mode: evaluate() left it so
        output = self.translate(self.src)
        run.model.train()
        loss = None if run.last_loss is None else round(float(run.last_loss), 4)
        self.send({
            "type": "report", "step": run.steps_done, "loss": loss,
            "valid_loss": metrics["valid_loss"], "exact": metrics["exact"], "trained": round(self.trained, 2),
            "attention": {k: torch.as_tensor(v).float().round(decimals=4).tolist() for k, v in trace.attention.items()},
            "src_tokens": trace.src_tokens, "tgt_tokens": trace.tgt_tokens,
            "output": output, "typed": {"text": self.typed, "output": self.translate(self.typed)} if self.typed else None,
        })  # fmt: skip

    def translate(self, text: str | None) -> str | None:
        if not text:
            return None
        was_training = self.run.model.training
        self.run.model.eval()
        try:
            return self.pre.translate(text, beam=1)
        finally:
            self.run.model.train(was_training)


def _finite(value):
    """`value` with every NaN or infinite float replaced by None, in lists and dicts too."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


if __name__ == "__main__":
    sys.exit(main())
