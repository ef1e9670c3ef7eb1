"""What a live training run is: the task, the model's size, the learning rate, the seed (`TrainSpec`), read
from the Train view's controls or a link, checked with a message a person can act on, and turned into the
command line of `python -m transformer.train` that the job runs (`TrainSpec.argv`), so a run in the app is
a run of the project's one training loop. Pure functions: no Streamlit (the built-in tasks' answers come
from `transformer.data`, as the training data does).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, replace

from transformer.data import synthetic_target

TASKS = {  # URL value -> what the picker says
    "reverse": "Reverse",
    "copy": "Copy",
    "sort": "Sort",
    "shift": "Shift by one",
    "own": "Your own pairs",
}
TASK_SAYS = {
    "reverse": "writes the letters backwards, `a b c d` → `d c b a`",
    "copy": "writes the letters again, `a b c d` → `a b c d`",
    "sort": "writes the letters in alphabetical order, `d a c b` → `a b c d`",
    "shift": "moves the first letter to the end, `a b c d` → `b c d a`",
    "own": "learns the pairs you type, one per line: `input -> output`",
}
SPLITS = {"char": "One piece per character", "word": "One piece per word"}
SYMBOLS = "abcdefghij"  # a built-in task's alphabet: one piece per letter
TASK_LENGTHS = (3, 10)  # shortest and longest sequence of a built-in task
TASK_TRAIN, TASK_VALID = 20_000, 200  # pairs generated for a built-in task; held out for exact match
PROBES = {  # the fixed input whose attention the view redraws: distinct letters, so every row is readable
    "reverse": "a b c d e f g",
    "copy": "a b c d e f g",
    "shift": "a b c d e f g",
    "sort": "e b g a d f c",
}
MAX_PAIRS = 2000  # your own pairs, at most
MIN_PAIRS = 4  # at least: one (a tenth) is held out to measure exact match on
MAX_SIDE = 200  # characters on one side of a pair
ARROW = "->"
URL_PAIRS = 1500  # characters of own pairs a link carries (beyond that the page offers them as a file)

# the controls' ranges: (lowest, highest)
LIMITS = {
    "enc_layers": (1, 3),
    "dec_layers": (1, 3),
    "heads": (1, 4),
    "d_model": (8, 64),
    "d_ff": (8, 256),
    "lr": (1e-4, 0.1),
    "warmup": (1, 2000),
    "seed": (0, 9999),
    "steps": (20, 20_000),
}


@dataclass(frozen=True)
class TrainSpec:
    """One live run's settings; equal specs (and the same machine) train the same model step for step."""

    task: str = "reverse"
    pairs: str = ""  # task "own": the typed lines `input -> output` (or TSV lines)
    split: str = "char"  # task "own": SPLITS
    enc_layers: int = 2
    dec_layers: int = 2
    heads: int = 4
    d_model: int = 16
    d_ff: int = 64
    lr: float = 0.005  # the learning rate at the end of warm-up, the schedule's peak
    warmup: int = 100
    seed: int = 1
    steps: int = 3000  # the run ends at this step

    def problems(self) -> list[str]:
        """Why this spec cannot be trained, each a sentence saying what to change; [] when it can."""
        out = []
        if self.task not in TASKS:
            out.append(f"There is no task called {self.task!r}; the tasks are {', '.join(TASKS)}.")
        names = {"enc_layers": "Encoder layers", "dec_layers": "Decoder layers", "heads": "Heads",
                 "d_model": "d_model", "d_ff": "d_ff", "lr": "The learning rate", "warmup": "Warm-up",
                 "seed": "The seed", "steps": "Steps"}  # fmt: skip
        for key, (lo, hi) in LIMITS.items():
            value = getattr(self, key)
            if not lo <= value <= hi:
                out.append(f"{names[key]} must be between {lo:g} and {hi:g}, not {value:g}.")
        if self.heads >= 1 and self.d_model % self.heads:
            fits = [h for h in range(LIMITS["heads"][0], LIMITS["heads"][1] + 1) if self.d_model % h == 0]
            out.append(
                f"d_model ({self.d_model}) must divide evenly among the heads ({self.heads}): each head gets "
                f"d_model / heads dimensions. With d_model {self.d_model}, use {_either(fits)} "
                f"heads, or a d_model that is a multiple of {self.heads}."
            )
        if self.task == "own":
            if self.split not in SPLITS:
                out.append(f"Split the text by {' or '.join(SPLITS)}, not {self.split!r}.")
            out += parse_pairs(self.pairs)[1]
        return out

    def own_pairs(self) -> list[tuple[str, str]]:
        """Task "own": the pairs (the text must have no problems)."""
        return parse_pairs(self.pairs)[0]

    def data(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """Task "own": (training pairs, held-out pairs), a tenth held out (at least one), chosen by the seed."""
        pairs = self.own_pairs()
        order = list(range(len(pairs)))
        random.Random(self.seed).shuffle(order)
        n_valid = max(1, len(pairs) // 10)
        held = set(order[:n_valid])
        return [p for i, p in enumerate(pairs) if i not in held], [pairs[i] for i in sorted(held)]

    def probe(self) -> tuple[str, str]:
        """(input, correct output) whose attention the view follows: a fixed input for a built-in task, the
        first held-out pair for your own."""
        if self.task == "own":
            return self.data()[1][0]
        src = PROBES[self.task].split()
        return " ".join(src), " ".join(synthetic_target(self.task, src))

    def argv(self, out: str, data: str | None = None) -> list[str]:
        """The command line of `python -m transformer.train` for this run (`data`: the folder holding task
        "own"'s train.tsv and valid.tsv). One torch thread, no dropout or label smoothing (a toy's curves then
        fall cleanly), validation and checkpoints left to the live job (it reports by the clock)."""
        lo, hi = TASK_LENGTHS
        if self.task == "own":
            source = ["--data", data or "DATA", "--split", self.split, "--max-len", str(self.max_len())]
        else:
            source = ["--task", self.task, "--task-size", str(TASK_TRAIN), "--task-valid-size", str(TASK_VALID),
                      "--task-min-len", str(lo), "--task-max-len", str(hi), "--task-symbols", str(len(SYMBOLS)),
                      "--max-len", str(hi + 2)]  # fmt: skip
        return [
            *source, "--out", out,
            "--enc-layers", str(self.enc_layers), "--dec-layers", str(self.dec_layers), "--heads", str(self.heads),
            "--d-model", str(self.d_model), "--d-ff", str(self.d_ff), "--dropout", "0", "--label-smoothing", "0",
            "--peak-lr", f"{self.lr:g}", "--warmup", str(self.warmup), "--seed", str(self.seed),
            "--steps", str(self.steps), "--max-tokens", "512", "--threads", "1",
            "--valid-every", str(10**9), "--valid-samples", str(TASK_VALID), "--log-every", "50",
            "--save-every", str(10**9), "--save-minutes", "1e9", "--keep", "1", "--snapshots", "8", "--quiet",
        ]  # fmt: skip

    def max_len(self) -> int:
        """Task "own": the longest side in pieces (a character or a word each), the end piece and room."""
        pairs = self.own_pairs()
        count = len if self.split == "char" else lambda s: len(s.split())
        return max((count(s) for pair in pairs for s in pair), default=1) + 2

    def command(self) -> str:
        """The same run from a terminal (task "own": its pairs written to DATA/train.tsv and DATA/valid.tsv)."""
        return "python -m transformer.train " + " ".join(self.argv("runs/live")[:-1])

    def but(self, **changes) -> TrainSpec:
        return replace(self, **changes)

    def as_dict(self) -> dict:
        return asdict(self)


def parse_pairs(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """Typed or uploaded pairs -> (pairs, problems). A line is `input -> output` or `input<TAB>output`;
    blank lines and lines starting with # are skipped. Each problem names its lines."""
    pairs, missing, empty, long_lines = [], [], [], []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        sep = ARROW if ARROW in line else "\t" if "\t" in raw else None
        if sep is None:
            missing.append(number)
            continue
        src, _, tgt = (raw if sep == "\t" else line).partition(sep)
        src, tgt = " ".join(src.split()), " ".join(tgt.split())
        if not src or not tgt:
            empty.append(number)
        elif len(src) > MAX_SIDE or len(tgt) > MAX_SIDE:
            long_lines.append(number)
        else:
            pairs.append((src, tgt))
    problems = []
    if missing:
        problems.append(f"{_lines(missing)} {'has' if len(missing) == 1 else 'have'} no `{ARROW}`: write each "
                        f"pair as `input {ARROW} output`.")  # fmt: skip
    if empty:
        problems.append(f"{_lines(empty)}: one side of the `{ARROW}` is empty.")
    if long_lines:
        problems.append(f"{_lines(long_lines)}: a side is longer than {MAX_SIDE} characters.")
    if not problems:
        if len(pairs) > MAX_PAIRS:
            problems.append(f"There are {len(pairs):,} pairs; at most {MAX_PAIRS:,} train here.")
        elif len(pairs) < MIN_PAIRS:
            problems.append(
                f"Type at least {MIN_PAIRS} pairs (there {'is' if len(pairs) == 1 else 'are'} {len(pairs)}), one "
                f"per line as `input {ARROW} output`: a tenth of them is held out to measure exact match on."
            )
    return pairs, problems


def example_pairs(n: int = 400, seed: int = 0) -> str:
    """Your-own-pairs' example: dates written the ISO way turned into the German way, `2024-05-17 -> 17.05.2024`:
    copying with the day, month and year blocks reordered, so the cross-attention draws the swap."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        y, m, d = rng.randint(1950, 2049), rng.randint(1, 12), rng.randint(1, 28)
        lines.append(f"{y}-{m:02d}-{d:02d} {ARROW} {d:02d}.{m:02d}.{y}")
    return "\n".join(lines)


def _either(numbers: list[int]) -> str:
    """[1, 2, 4] -> "1, 2 or 4"."""
    words = [str(n) for n in numbers]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _lines(numbers: list[int]) -> str:
    shown = ", ".join(map(str, numbers[:5])) + (f" and {len(numbers) - 5} more" if len(numbers) > 5 else "")
    return f"Line{'s' if len(numbers) > 1 else ''} {shown}"


def pairs_text(pairs: list[tuple[str, str]]) -> str:
    """Pairs as the typed form, one `input -> output` a line."""
    return "\n".join(f"{s} {ARROW} {t}" for s, t in pairs)


def task_input(spec: TrainSpec, text: str) -> tuple[str, str | None]:
    """A sentence typed for the model being trained -> (what to feed it, or a message saying why not).

    A built-in task reads letters a–j: "dcba" and "d c b a" are the same input."""
    text = " ".join(text.split())
    if not text:
        return "", "Type an input for the model."
    if spec.task == "own":
        pairs = spec.own_pairs()
        if spec.split == "char":
            known, units, what = (
                {c for pair in pairs for side in pair for c in side},
                set(text) - {" "},
                "character",
            )
        else:
            known, units, what = (
                {w for pair in pairs for side in pair for w in side.split()},
                set(text.split()),
                "word",
            )
        unknown = sorted(units - known)
        if unknown:
            shown = ", ".join(repr(u) for u in unknown[:8]) + (" …" if len(unknown) > 8 else "")
            return "", (f"The model knows only the {what}s of your pairs; {shown} "
                        f"{'is' if len(unknown) == 1 else 'are'} not among them.")  # fmt: skip
        return text, None
    letters = [c for c in text if not c.isspace()]
    wrong = sorted({c for c in letters if c not in SYMBOLS})
    if wrong:
        return "", (
            f"This model knows only the letters {SYMBOLS[0]}–{SYMBOLS[-1]}; "
            f"{', '.join(repr(c) for c in wrong[:8])} {'is' if len(wrong) == 1 else 'are'} not among them."
        )
    if len(letters) > TASK_LENGTHS[1]:
        return (
            "",
            f"It learned sequences of {TASK_LENGTHS[0]}–{TASK_LENGTHS[1]} letters; type at most {TASK_LENGTHS[1]}.",
        )
    return " ".join(letters), None


def reads_what_it_writes(cross, src_tokens: list[str], tgt_tokens: list[str]) -> tuple[int, int]:
    """(rows, of how many) in which the probe's cross-attention (the last layer's mean over heads; `cross`:
    (L, H, T, S)) puts its largest weight on the input position of the letter that row writes: the mirrored
    position for reverse, the same for copy, the next for shift. Rows writing `</s>`, or a piece the input
    holds never or more than once, are not counted. `tgt_tokens`: the decoder's input, from `<s>`."""
    import numpy as np

    weights = np.asarray(cross)[-1].mean(axis=0)  # (T, S)
    written = [*tgt_tokens[1:], None]  # row j reads tgt_tokens[j] and writes the next piece
    hits = total = 0
    for row, piece in enumerate(written[: weights.shape[0]]):
        if piece is None or src_tokens.count(piece) != 1:
            continue
        total += 1
        hits += int(np.argmax(weights[row]) == src_tokens.index(piece))
    return hits, total
