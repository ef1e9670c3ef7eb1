"""One run of a model on one sentence: the one key of every cached computation in the app.

A `Run` says everything a result depends on: which model (its directory and the files' modification
time, so a retrained model is loaded afresh), the sentence, how it is decoded (beam, max length), and
the experiment (heads switched off, a typed translation the model is traced on), and which training
snapshot's weights are shown (the time-lapse of the Attention view). Every cached call in
`app_support.models` and `app_support.experiment` takes one, so two sessions, or two experiments in
one session, never share a result they should not, and nobody writes the key out by hand.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from transformer.analysis import Head

Off = tuple[Head, ...]  # heads switched off: sorted (kind, layer, head) triples, no repeats


@dataclass(frozen=True)
class Run:
    path: str  # the model directory
    stamp: float  # its files' newest modification time (models.stamp)
    text: str  # the sentence
    beam: int = 4  # 1 = greedy
    maxlen: int = 0  # longest translation in pieces; 0 = automatic
    off: Off = ()  # heads switched off while decoding and tracing; () = the model as trained
    target: str | None = None  # trace this translation (teacher-forced) instead of decoding one
    snapshot: int | None = None  # the weights of this training step, on the run's decoder input without it

    @property
    def final(self) -> Run:
        """The same run with the trained model's final weights (no training snapshot)."""
        return dataclasses.replace(self, snapshot=None)

    @property
    def own(self) -> Run:
        """The model as trained on the same sentence: no heads off, its own translation, its final weights."""
        return dataclasses.replace(self, off=(), target=None, snapshot=None)

    @property
    def is_experiment(self) -> bool:
        return bool(self.off) or self.target is not None

    def but(self, **changes) -> Run:
        """This run with some fields changed, e.g. `run.but(text=second)` or `run.but(target=None)`."""
        return dataclasses.replace(self, **changes)
