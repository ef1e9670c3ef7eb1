"""Train a Transformer live: pick a task (or type your own pairs) and the model's size, press Play, and watch
the loss fall, exact match rise and the attention of a fixed input form, redrawn every second; a slider
rewinds through what it looked like. The job runs in a process of its own (app_support.training.runner),
so the page and every other session stay quick. What it trained is a model like any other: it joins this
session's model picker, and Save writes it to runs/.

The view stands alone: it draws without the model and sentence of the rest of the app.
"""

from __future__ import annotations

import functools
import io
import json
import re
import shutil
import time
import zipfile
from pathlib import Path

import streamlit as st

import viz
from app_support import export, model_dirs, models
from app_support.safe_text import md_code
from app_support.state import KIND_LABELS, MEAN, Param, choice, decimal, number, whole
from app_support.training import spec as S
from app_support.training.runner import STEP_SIZE, Job, QueueFull, Runner
from app_support.views import View
from transformer.checkpoint import read_json
from transformer.kinds import KIND_NAMES, KINDS

LIVE = " (trained here)"  # the picker's entry of this session's model ends so; never in a link
TARGET = 0.9  # the exact match the curves mark
KEYS = {  # TrainSpec field -> session key
    "task": "train_task", "pairs": "train_pairs", "split": "train_split", "enc_layers": "train_enc",
    "dec_layers": "train_dec", "heads": "train_heads", "d_model": "train_dmodel", "d_ff": "train_dff",
    "lr": "train_lr", "warmup": "train_warmup", "seed": "train_seed", "steps": "train_steps",
}  # fmt: skip
D = S.TrainSpec()  # the defaults
L = S.LIMITS


def _pairs_param(raw: str) -> str | None:
    return raw if len(raw) <= S.URL_PAIRS else None


PARAMS: tuple[Param, ...] = (
    choice("task", KEYS["task"], D.task, tuple(S.TASKS), "reverse | copy | sort | shift | own: what the model "
           "learns (Train view)", "tasks are"),
    Param("pairs", KEYS["pairs"], "", _pairs_param, f"longer than {S.URL_PAIRS} characters",
          f"task=own: the pairs, one `input -> output` a line (a link holds at most {S.URL_PAIRS} characters)",
          write=lambda v: v if len(v) <= S.URL_PAIRS else None),
    choice("split", KEYS["split"], D.split, tuple(S.SPLITS), "char | word: how task=own cuts text into pieces",
           "splits are"),
    number("enc", KEYS["enc_layers"], D.enc_layers, *L["enc_layers"], "encoder layers of the trained model"),
    number("dec", KEYS["dec_layers"], D.dec_layers, *L["dec_layers"], "decoder layers of the trained model"),
    number("nheads", KEYS["heads"], D.heads, *L["heads"], "attention heads of the trained model"),
    number("dmodel", KEYS["d_model"], D.d_model, *L["d_model"], "d_model of the trained model"),
    number("dff", KEYS["d_ff"], D.d_ff, *L["d_ff"], "d_ff (feed-forward width) of the trained model"),
    decimal("lr", KEYS["lr"], D.lr, *L["lr"], "peak learning rate, reached at the end of warm-up"),
    number("warmup", KEYS["warmup"], D.warmup, *L["warmup"], "warm-up steps"),
    number("seed", KEYS["seed"], D.seed, *L["seed"], "seed of the initialisation and the data order"),
    number("budget", KEYS["steps"], D.steps, *L["steps"], "the run ends at this step"),
    choice("tkind", "train_kind", "cross", KIND_NAMES, "the attention kind the Train view draws", "kinds are"),
    number("tlayer", "train_layer", -1, -1, 2, "its layer (-1: the last)"),
    Param("thead", "train_head", MEAN, lambda r: MEAN if r.strip().lower() == "mean" else whole(r, 0, 3),
          "a head 0–3 or mean", 'its head, or "mean"', lambda v: "mean" if v == MEAN else str(v)),
)  # fmt: skip


def session_alive(session: str) -> bool | None:
    """Whether a browser session is still open (None where Streamlit's runtime cannot tell: AppTest)."""
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return None
    return Runtime.instance().is_active_session(session)


@st.cache_resource
def runner() -> Runner:
    """The server's one queue of training jobs (TRAIN_JOBS at once, default: every core but one)."""
    return Runner(alive=session_alive)


def session_id() -> str:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "no-session"


def current_spec() -> S.TrainSpec:
    ss = st.session_state
    return S.TrainSpec(**{field: ss[key] for field, key in KEYS.items()})


def session_models() -> dict[str, Path]:
    """This session's trained model, for the model picker: {"reverse (trained here)": its directory}."""
    job = runner().jobs.get(session_id())
    if job is None or not job.model or not (Path(job.model) / "config.json").is_file():
        return {}
    return {picker_name(job): Path(job.model)}


def picker_name(job: Job) -> str:
    """The trained model's entry in this session's model picker: "reverse (trained here)"."""
    return f"{S.TASKS[job.spec.task].lower()}{LIVE}"


# -- the controls ----------------------------------------------------------------------------------------
def _load_upload() -> None:
    ss = st.session_state
    file = ss.get("train_upload")
    if file is None:
        return
    raw = file.getvalue()
    if len(raw) > 400_000:
        ss["_train_notice"] = f"{file.name} is {len(raw) // 1000} kB; a file of at most 400 kB trains here."
        return
    try:
        ss[KEYS["pairs"]] = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        ss["_train_notice"] = (
            f"{file.name} is not UTF-8 text: save it as UTF-8 (tab-separated) and try again."
        )


def _example() -> None:
    st.session_state.update({KEYS["pairs"]: S.example_pairs(), KEYS["split"]: "char"})


def settings() -> None:
    ss = st.session_state
    pick, sizes = st.columns([3, 2], vertical_alignment="top")
    pick.segmented_control("Task", list(S.TASKS), key=KEYS["task"], required=True, format_func=S.TASKS.get,
                           persist_state="session", label_visibility="collapsed")  # fmt: skip
    task = ss[KEYS["task"]]
    spec = current_spec()
    label = (f"{spec.enc_layers}+{spec.dec_layers} layers, {spec.heads} heads, d_model {spec.d_model}, "
             f"lr {spec.lr:g}, seed {spec.seed}")  # fmt: skip
    with sizes.popover(label, icon=":material/tune:", width="stretch"):  # an expander may not sit in one
        cols = st.columns(2)
        cols[0].slider("Encoder layers", *L["enc_layers"], key=KEYS["enc_layers"], persist_state="session")
        cols[1].slider("Decoder layers", *L["dec_layers"], key=KEYS["dec_layers"], persist_state="session")
        cols[0].slider("Heads", *L["heads"], key=KEYS["heads"], persist_state="session")
        cols[1].number_input("d_model", *L["d_model"], step=8, key=KEYS["d_model"], persist_state="session",
                             help="The width of every vector; each head gets d_model / heads of it.")  # fmt: skip
        cols[0].number_input("d_ff", *L["d_ff"], step=16, key=KEYS["d_ff"], persist_state="session",
                             help="The feed-forward layer's inner width (the paper: 4 × d_model).")  # fmt: skip
        cols[1].number_input("Peak learning rate", *L["lr"], step=0.001, format="%.4f", key=KEYS["lr"],
                             persist_state="session", help="Reached at the end of warm-up, then falls as "
                             "1/√step (the paper's schedule, §5.3).")  # fmt: skip
        cols[0].number_input(
            "Warm-up steps", *L["warmup"], step=50, key=KEYS["warmup"], persist_state="session"
        )
        cols[1].number_input("Seed", *L["seed"], key=KEYS["seed"], persist_state="session",
                             help="The same seed starts from the same weights and shows the data in the same "
                             "order: Reset replays the run.")  # fmt: skip
        cols[0].number_input("Steps", *L["steps"], step=500, key=KEYS["steps"], persist_state="session",
                             help="The run ends at this step.")  # fmt: skip
        st.caption("Changing a setting starts a new run. The same run from a terminal:")
        st.code(spec.command(), language="bash", wrap_lines=True)
    if task == "own":
        a, b = st.columns([3, 1])
        a.text_area(
            "Your pairs, one `input -> output` a line", key=KEYS["pairs"], height=140, max_chars=400_000,
            placeholder="e.g. the cat -> die Katze", persist_state="session",
        )  # fmt: skip
        a.button("Fill in an example: dates, 2024-05-17 -> 17.05.2024", key="train_example", on_click=_example,
                 help="400 dates turned from the ISO order into the German one: the letters are copied, the "
                 "blocks swapped, and the cross-attention shows the swap.")  # fmt: skip
        b.file_uploader("Or a TSV file (input, tab, output)", type=["tsv", "txt"], key="train_upload",
                        on_change=_load_upload)  # fmt: skip
        b.radio(
            "Pieces", list(S.SPLITS), key=KEYS["split"], format_func=S.SPLITS.get, persist_state="session"
        )
        st.caption(f"At most {S.MAX_PAIRS:,} pairs; a tenth is held out to measure exact match on.")
    else:
        lo, hi = S.TASK_LENGTHS
        st.caption(
            f"The model {S.TASK_SAYS[task]}; {lo}–{hi} letters from {S.SYMBOLS[0]}–{S.SYMBOLS[-1]}, a piece each; "
            f"{S.TASK_TRAIN:,} training pairs, {S.TASK_VALID} held out."
        )


# -- the buttons ------------------------------------------------------------------------------------------
def _act(action: str, job: Job) -> None:
    ss = st.session_state
    r = runner()
    try:
        if action == "play":
            r.play(job)
        elif action == "step":
            r.step(job)
        elif action == "pause":
            r.pause(job)
        elif action == "reset":
            r.reset(job)
            ss.pop("_train_at", None)
    except QueueFull as e:
        ss["_train_notice"] = str(e)


def buttons(job: Job) -> None:
    can_go = job.state in ("new", "paused")
    cols = st.columns(4, gap="small")
    cols[0].button("Play", icon=":material/play_arrow:", key="train_play", disabled=not can_go, type="primary",
                   on_click=_act, args=("play", job), width="stretch")  # fmt: skip
    cols[1].button("Pause", icon=":material/pause:", key="train_pause", disabled=not job.active,
                   on_click=_act, args=("pause", job), width="stretch")  # fmt: skip
    cols[2].button("Step", icon=":material/skip_next:", key="train_step", disabled=not can_go,
                   on_click=_act, args=("step", job), width="stretch",
                   help=f"Train {STEP_SIZE} steps, then pause.")  # fmt: skip
    cols[3].button("Reset", icon=":material/restart_alt:", key="train_reset", disabled=job.state == "new",
                   on_click=_act, args=("reset", job), width="stretch",
                   help="Start again from the same initialisation (the same seed).")  # fmt: skip


def status(job: Job, r: Runner) -> str:
    counts = r.counts()
    if job.state == "queued":
        place = r.place(job)
        return (f"Waiting for a training slot: {_ordinal(place)} in the queue ({counts['running']} of "
                f"{counts['slots']} slot{'s' * (counts['slots'] != 1)} training).")  # fmt: skip
    if job.state == "running":
        return (
            "Pausing after this step…"
            if job.pausing
            else f"Training (on one core, {job.trained:.0f} s so far)."
        )
    if job.state == "paused":
        why = {"step": f"Paused after {STEP_SIZE} steps.",
               "slice": f"Paused: this run used its {r.slice:.0f} s turn; press Play to go on "
                        "(behind anyone waiting)."}  # fmt: skip
        return why.get(job.why, f"Paused at step {job.step:,}.")
    if job.state == "done":
        return f"Finished: the run reached its {job.spec.steps:,} steps. Reset to train it again."
    if job.state == "failed":
        return f"Training stopped: {job.why}"
    return "Press Play to train from a random start, or Step to take 20 steps at a time."


def _ordinal(n: int | None) -> str:
    n = n or 0
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


# -- what it shows -----------------------------------------------------------------------------------------
def metrics(job: Job) -> None:
    cols = st.columns(3)
    point = job.curve[-1] if job.curve else None
    before = job.curve[-2] if len(job.curve) > 1 else None
    cols[0].metric("Step", f"{job.step:,}")
    loss, was = (point or {}).get("loss"), (before or {}).get("loss")
    cols[1].metric("Loss", f"{loss:.3f}" if loss is not None else "–",
                   delta=f"{loss - was:+.3f}" if loss is not None and was is not None else None,
                   delta_color="inverse", help="The training loss of this step's batch: cross-entropy per piece.")  # fmt: skip
    cols[2].metric("Exact match", f"{point['exact']:.0%}" if point else "–",
                   delta=f"{(point['exact'] - before['exact']) * 100:+.0f} pts" if point and before else None,
                   help="Held-out pairs the model writes exactly right (greedy decoding).")  # fmt: skip


def _pin() -> None:
    """The slider moved: keep that step on screen; moved to the newest, follow the training again."""
    ss = st.session_state
    ss["_train_at"] = None if ss["train_rewind"] == ss.get("_train_last") else ss["train_rewind"]


def attention(job: Job, present: bool) -> None:
    """The probe's attention at the chosen snapshot (the newest unless the slider pinned another)."""
    ss = st.session_state
    snaps = job.snapshots
    if not snaps:
        st.info("The attention of a fixed input appears here from the first step.")
        return
    a, b, c = st.columns([3, 2, 2])
    a.selectbox("Attention", KIND_NAMES, key="train_kind", format_func=KIND_LABELS.get, persist_state="session",
                label_visibility="collapsed")  # fmt: skip
    kind = ss["train_kind"]
    n_layers = job.spec.enc_layers if KINDS[kind].stack == "encoder" else job.spec.dec_layers
    layers = {-1: "last layer", **{i: f"layer {i}" for i in range(n_layers)}}
    if ss["train_layer"] not in layers:
        ss["train_layer"] = -1
    heads = {MEAN: "mean", **{h: f"head {h}" for h in range(job.spec.heads)}}
    if ss["train_head"] not in heads:
        ss["train_head"] = MEAN
    b.selectbox(
        "Layer", list(layers), key="train_layer", format_func=layers.get, label_visibility="collapsed"
    )
    c.selectbox("Head", list(heads), key="train_head", format_func=heads.get, label_visibility="collapsed")
    steps = [s.step for s in snaps]
    index = shown(job)
    snap = snaps[index]
    layer = n_layers - 1 if ss["train_layer"] == -1 else ss["train_layer"]
    weights = viz.head_weights(snap.attention[kind], layer, ss["train_head"])
    side = {"encoder": (job.src_tokens, job.src_tokens), "decoder": (job.tgt_tokens, job.tgt_tokens),
            "cross": (job.tgt_tokens, job.src_tokens)}[kind]  # fmt: skip
    # the selects above say the kind, layer and head: the title says the step (and the map fits the screen)
    m = viz.attention_map(weights, *side, kind=kind, layer=layer, head=ss["train_head"], rows="read",
                          font_size=20 if present else 12, title=f"Step {snap.step:,}")  # fmt: skip
    st.html(viz.attention_html(m, fit_height=f"calc(100vh - {480 if present else 360}px)"))
    if len(steps) > 1:
        ss["train_rewind"], ss["_train_last"] = steps[index], steps[-1]  # the slider shows what the map shows
        st.select_slider("Rewind", steps, key="train_rewind", on_change=_pin,
                         format_func=lambda s: f"step {s:,}", help="Back through the snapshots taken so far; "
                         "the newest follows the training.")  # fmt: skip
    src, want = job.spec.probe()
    if job.spec.task != "own" and job.tgt_tokens:
        hits, total = S.reads_what_it_writes(snap.attention["cross"], job.src_tokens, job.tgt_tokens)
        st.caption(f"Cross-attention (last layer, mean of heads) looks at the letter it writes in {hits} of "
                   f"{total} rows at step {snap.step:,}.")  # fmt: skip
    right = "✓" if snap.output == want else "✗"
    st.markdown(
        f"**{md_code(src)}** → {md_code(snap.output or '(nothing)')} {right} (the answer: {md_code(want)})"
    )


def try_it(job: Job) -> None:
    text = st.text_input("Try an input of your own", key="train_try", max_chars=300,
                         placeholder="e.g. h a c j e" if job.spec.task != "own" else "an input like your pairs'")  # fmt: skip
    fed, problem = S.task_input(job.spec, text) if text.strip() else ("", None)
    if problem:
        st.warning(problem)
    runner().type(job, fed or None)
    if not fed:
        return
    if job.typed and job.typed.get("text") == fed:
        written = job.typed["output"]
    elif job.proc is None and job.model and not job.active:  # its worker has gone: the model it saved answers
        path = job.model
        written = models.load_model(path, models.stamp(path)).translate(fed, beam=1)
    else:
        st.caption("Press Play or Step: what the model writes for it appears here." if job.state == "new"
                   else "Asking the model…")  # fmt: skip
        return
    st.markdown(f"{md_code(fed)} → {md_code(written or '(nothing)')} (at step {job.step:,})")


def model_out(job: Job) -> None:
    """Once the run paused or ended: the model is in the picker; Save to runs/, or download it."""
    if not job.model or job.state in ("running", "queued") or not Path(job.model, "config.json").is_file():
        return
    st.caption(f"This model (step {job.step:,}) is in the sidebar's model picker as **{picker_name(job)}**: every view works "
               "on it for this session.")  # fmt: skip
    stem = f"live-{job.spec.task}-step{job.step}"  # the folder Save writes, the zip's name
    a, b, c = st.columns([2, 1, 1], vertical_alignment="bottom")
    a.text_input("Save as", value=stem, key="train_save_name", max_chars=60)
    b.button("Save to runs/", key="train_save", on_click=_save, args=(job,), width="stretch")
    c.download_button("Download (zip)", functools.partial(_zip, job.model, stem), file_name=f"{stem}.zip",
                      mime="application/zip", on_click="ignore", key="train_zip", width="stretch")  # fmt: skip
    if note := st.session_state.pop("_train_saved", None):
        st.success(note) if note.startswith("Saved") else st.warning(note)


SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,59}")


def _save(job: Job) -> None:
    ss = st.session_state
    name = ss.get("train_save_name", "").strip()
    if not SAFE_NAME.fullmatch(name) or ".." in name:
        ss["_train_saved"] = "A name of letters, digits, `.`, `_` and `-` (at most 60), please."
        return
    dest = model_dirs.ROOT / "runs" / name
    if dest.exists():
        ss["_train_saved"] = f"runs/{name} already exists: choose another name."
        return
    try:
        shutil.copytree(job.model, dest)
        meta = read_json(dest / "metadata.json", "metadata")
        meta["live"] = job.spec.as_dict()
        (dest / "metadata.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    except OSError as e:
        ss["_train_saved"] = f"Could not save to runs/{name}: {e.strerror or e}"
        return
    ss["_train_saved"] = f"Saved to runs/{name}: the model picker lists it, after a restart too."


def _zip(directory: str, name: str) -> bytes:
    """A model directory as a zip holding one folder, `name`: unzipped, a model directory any tool loads."""
    buffer = io.BytesIO()
    root = Path(directory)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                z.write(path, Path(name) / path.relative_to(root))
    return buffer.getvalue()


# -- the view ---------------------------------------------------------------------------------------------
def live(session: str, was_active: bool, present: bool) -> None:
    """Everything that changes as the model learns; redrawn every second while the job trains or waits."""
    r = runner()
    job = r.jobs.get(session)
    if job is None:  # the session's job ended (reset by another tab): a new one
        job = r.job(session, current_spec())
    job.last_seen = time.monotonic()
    if job.active != was_active:  # started or stopped: the whole page again, to start or stop the clock
        st.rerun()
    top = st.columns([1, 1])
    with top[0]:
        buttons(job)
        st.caption(status(job, r))
        if note := st.session_state.pop("_train_notice", None):
            st.warning(note)
    with top[1]:
        metrics(job)
    left, right = st.columns([1, 1])
    with left:
        fig = viz.training_curves(job.curve, at=_shown_step(job), font_size=20 if present else 12,
                                  height=360 if present else 330, target=TARGET)  # fmt: skip
        name = export.file_stem(
            f"live-{job.spec.task}", "train", "curves", f"step{job.step}"
        )  # no sentence here
        config = export.plotly_config(name, fmt=st.session_state.get("fig_format", "png"))
        st.plotly_chart(fig, key="train_curves", config=config, theme=None)
        try_it(job)
        model_out(job)
    with right:
        attention(job, present)


def shown(job: Job) -> int:
    """Which snapshot is on screen (its index): the step the Rewind slider pinned, else the newest."""
    steps = [s.step for s in job.snapshots]
    at = st.session_state.get("_train_at")
    return steps.index(at) if at in steps else len(steps) - 1


def _shown_step(job: Job) -> int | None:
    """The step the curves mark: the snapshot on screen when it is not the newest."""
    index = shown(job)
    return job.snapshots[index].step if 0 <= index < len(job.snapshots) - 1 else None


def render(ctx) -> None:
    ss = st.session_state
    present = bool(ss.get("present"))
    if present:  # on a projector the figures take the screen; the settings fold away (set before class)
        spec = current_spec()
        with st.expander(f"{S.TASKS[spec.task]}: {spec.enc_layers} + {spec.dec_layers} layers, {spec.heads} heads, "
                         f"d_model {spec.d_model}", icon=":material/tune:"):  # fmt: skip
            settings()
    else:
        settings()
    spec = current_spec()
    if problems := spec.problems():
        for p in problems:
            st.error(p)
        return
    if len(spec.pairs) > S.URL_PAIRS:
        st.caption(f"These pairs are longer than a link carries ({S.URL_PAIRS} characters): the link to this "
                   "page leaves them out; download them with the model or keep them in a file.")  # fmt: skip
    r = runner()
    session = session_id()
    job = r.job(session, spec)
    if job.state == "new":
        r.warm()  # torch loads in a worker while the teacher reads the page: Play then starts at once
    st.fragment(live, run_every=1.0 if job.active else None)(session, job.active, present)


VIEW = View(
    "train", "Train live", "Experiment", "§5 Training", render, params=PARAMS, stands_alone=True,
    models=session_models,
)  # fmt: skip
