"""Cached model calls: one model per process (`st.cache_resource`), per-sentence results as plain data.

Every per-sentence cached function takes everything it depends on as one argument, a `Run`
(app_support.run: model path and the files' modification time, so a retrained model in assets/ is
loaded afresh, sentence, beam, max length, heads off, typed translation). Per-sentence results are numpy
arrays and DataFrames returned as copies by `st.cache_data`; capture itself is per thread in the library,
so two sessions sharing one model never see each other's attention.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch

import viz
from app_support import model_dirs, quiz
from app_support.examples import BY_TASK, ENGLISH
from app_support.experiment import heads_off
from app_support.run import Run
from app_support.stages import stream_stages
from tools.alignment import load_set
from transformer import Pretrained, Trace, attribution, capture, checkpoint, head_roles, load_pretrained
from transformer.pretrained import ASSETS, resolve_model_dir
from transformer.pretrained import available_models as shipped_models
from transformer.trace import capture_trace

TOPK = 20  # next-token candidates kept per decoder step

# One intra-op thread per trace: sessions already run in parallel threads, and on a small shared CPU
# torch's default (a thread per core, spin-waiting) made a toy trace take 0.9 s instead of 0.01 s and
# a 128-piece trace 8.8 s instead of 0.7 s. Set once, on import; new script threads inherit it.
torch.set_num_threads(int(os.environ.get("APP_TORCH_THREADS", "1")))


# --- which models exist ---------------------------------------------------------------------------


def available_models() -> dict[str, Path]:
    """Every model the picker offers, by its name there: the models in assets/ by name, then the model
    and run directories in runs/ and the folders of TRANSFORMER_MODEL_DIRS ("runs/opus-mt-en-de"; see
    model_dirs.discover), e.g. a Marian model converted with `python -m transformer.marian`."""
    shipped = shipped_models()
    found = model_dirs.discover(model_dirs.allowed_dirs())
    return {**shipped, **{label: path for label, path in found.items() if label not in shipped}}


def model_names() -> list[str]:
    """The picker's entries: the models in assets/, then those found in runs/ and allowed folders."""
    return list(available_models())


def default_model_name(names: list[str]) -> str | None:
    """The name in assets/DEFAULT when it is available, else the first model, else None."""
    try:
        name = (ASSETS / "DEFAULT").read_text().strip()
    except OSError:
        name = ""
    return name if name in names else next(iter(names), None)


def stamp(path: str) -> float:
    """Newest modification time of a checkpoint's files and its training snapshots' index (0.0 when there is
    none): part of every cache key, so a retrained model is loaded afresh."""
    try:
        directory = resolve_model_dir(path)
        files = [directory / f for f in checkpoint.REQUIRED]
        files.append(checkpoint.snapshots_dir(directory) / checkpoint.SNAPSHOT_INDEX)
        return max(f.stat().st_mtime for f in files if f.exists())
    except (OSError, ValueError):  # CheckpointError is a ValueError
        return 0.0


@st.cache_data(show_spinner=False, max_entries=64)
def examples(path: str, stamp: float) -> list[str]:
    """Example sentences: metadata["examples"] if the model has them, else by its task or name."""
    try:
        meta = json.loads((resolve_model_dir(path) / checkpoint.METADATA).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = {}
    meta = meta if isinstance(meta, dict) else {}
    given = meta.get("examples")
    if isinstance(given, list) and given and all(isinstance(s, str) and s.strip() for s in given):
        return list(given)
    source = meta.get("source") if isinstance(meta.get("source"), dict) else {}
    task = source.get("task") or Path(path).name
    return list(BY_TASK.get(str(task), ENGLISH))


@st.cache_resource(show_spinner=False, max_entries=4)
def load_model(path: str, stamp: float) -> Pretrained:
    """One shared model per (path, file time) and process; raises CheckpointError for a bad checkpoint.

    What is alive then (the modules, the model) is taken out of the garbage collector's sight: Streamlit
    runs a full collection after every script run (runner.postScriptGC), and with torch, pandas and plotly
    loaded that walked 270,000 objects: 0.115 s of server CPU per click, more than the click itself (a
    blank app's whole rerun is 0.05 s). Frozen objects are never walked again; they live as long as the
    process anyway. What runs create afterwards is still collected.
    """
    model = load_pretrained(path)
    gc.collect()
    gc.freeze()
    return model


# --- one sentence -----------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=32)
def get_trace(run: Run) -> Trace:
    """Translate `run.text` (beam size, max pieces; 0 = automatic) and capture one teacher-forced pass, as a
    `Trace` of float32 numpy arrays (`Trace.numpy`); `meta["seconds"]`: the time to translate and trace.

    run.off: attention heads switched off while decoding and while capturing; run.target: trace this
    translation instead of decoding one.
    """
    start = time.perf_counter()
    t = trace(run).numpy()
    return replace(t, meta={**t.meta, "seconds": time.perf_counter() - start})


@st.cache_data(show_spinner=False, max_entries=32)
def get_topk(run: Run) -> pd.DataFrame:
    """The TOPK most likely next pieces at every decoder position of `get_trace(run)` (viz.topk_frame)."""
    m = load_model(run.path, run.stamp)
    return viz.topk_frame(get_trace(run).probs, k=TOPK, id_to_piece=m.tokenizer.id_to_piece)


def trace(run: Run) -> Trace:
    """`run` translated and traced, uncached, as torch tensors: `get_trace` keeps a numpy copy."""
    return load_model(run.path, run.stamp).trace(
        run.text, target=run.target, beam=run.beam, max_len=run.maxlen or None,
        interventions=heads_off.hooks(run.off),
    )  # fmt: skip


@st.cache_data(show_spinner=False, max_entries=32)
def get_attribution(run: Run, method: str, layer: int | None, head: int | None) -> np.ndarray:
    """`transformer.attribution.attribute` of `get_trace(run)`: (T, S), row t explaining the piece after
    tgt_tokens[t]; with run.off's heads switched off, as the trace was made (a gradient goes through them).
    Integrated gradients take `ig_steps(run)` steps."""
    m = load_model(run.path, run.stamp)
    steps = {"steps": ig_steps(run)} if method == "integrated_gradients" else {}
    with capture.hooks(m.model, heads_off.hooks(run.off) or []):
        return attribution.attribute(m, get_trace(run), method, layer=layer, head=head, **steps)


IG_PARAMETERS = 20_000_000  # a model larger than this (a converted opus-mt: 74M) integrates over fewer steps


def ig_steps(run: Run) -> int:
    """Integrated gradients' steps on this run's model: the default 20, or 6 on a model over IG_PARAMETERS,
    where 20 steps took 8 s of server CPU for a 15-word sentence and 6 took 2.5 s (README, Attribution). By the
    model's size, not by a clock: the same link always draws the same figure."""
    model = load_model(run.path, run.stamp).model
    return 20 if sum(p.numel() for p in model.parameters()) <= IG_PARAMETERS else 6


@st.cache_data(show_spinner=False, max_entries=32)
def get_roles(run: Run) -> dict[str, head_roles.HeadRoles]:
    """Every head's measures on `get_trace(run)` (transformer.head_roles), kind -> HeadRoles. Word alignment
    is measured where the sentence is in the hand-aligned set and translated exactly as its reference."""
    t = get_trace(run)
    item = quiz.find_item(run.text)
    pairs = item["pairs"] if item and t.tgt_text.strip() == item["de"].strip() else None
    return head_roles.trace_roles(load_model(run.path, run.stamp), t, pairs)


@dataclass(frozen=True)
class SetRoles:
    roles: dict[str, head_roles.HeadRoles]  # kind -> every head's measures, rows of all sentences pooled
    sentences: int
    source: str  # which sentences, said on screen: "30 hand-aligned sentences"


@st.cache_data(show_spinner=False, max_entries=4)
def get_set_roles(path: str, stamp: float) -> SetRoles:
    """Every head's measures over the model's example set, once per model: a text model's are the
    hand-aligned sentences (eval/everyday_en_de.json) traced on their references, so word alignment is
    measured; a synthetic task's are its example inputs traced on its own outputs."""
    m = load_model(path, stamp)
    if quiz.sides(m.metadata) == quiz.EN_DE:
        items = load_set()
        return SetRoles(head_roles.set_roles(m, items), len(items), f"{len(items)} hand-aligned sentences")
    texts = examples(path, stamp)
    return SetRoles(head_roles.text_roles(m, texts), len(texts), f"the model's {len(texts)} example inputs")


# --- what the Anatomy view needs beyond the trace ---------------------------------------------------


@dataclass(frozen=True)
class AnatomyData:
    qkv: dict[str, dict[str, np.ndarray]]  # kind -> q | k | v | z (L, H, T, d_k), scores (L, H, T_q, T_k)
    activations: dict[str, np.ndarray]  # every hook point by module path, batch removed (Trace.activations)


@st.cache_data(show_spinner=False, max_entries=8)
def get_anatomy(run: Run) -> AnatomyData:
    """Every hook point (Q, K, V, scores, each sub-layer's input and output, the feed-forward
    activations) for the same source and translation as `get_trace(run)` (same heads off, same target)."""
    td = get_trace(run)
    m = load_model(run.path, run.stamp)
    captured = capture_trace(
        m.model, td.src_ids, td.tgt_ids, full=True, interventions=heads_off.hooks(run.off)
    )
    full = captured.numpy(activations=True)
    return AnatomyData(qkv=full.qkv, activations=full.activations)


@st.cache_data(show_spinner=False, max_entries=32)
def get_projection(run: Run, side: str, method: str) -> pd.DataFrame:
    """Every stage of one side's residual stream projected jointly to 2-D (viz.projection_frame); a
    pre-norm model adds its final LayerNorm output (the memory, or what the output projection reads)."""
    td = get_trace(run)
    tokens = td.src_tokens if side == "encoder" else td.tgt_tokens
    states = td.hidden[side]
    if td.norm == "pre":
        final = td.memory if side == "encoder" else td.decoder_output
        states = np.concatenate([states, final[None]])
    names = stream_stages(side, td.hidden[side].shape[0] - 1, td.norm)
    return viz.projection_frame(states, tokens, method, stage_names=names)


@st.cache_data(show_spinner=False, max_entries=64)
def get_neighbours(path: str, stamp: float, token_id: int, k: int) -> pd.DataFrame:
    """The k vocabulary pieces whose embedding rows are closest (cosine) to this piece's row."""
    m = load_model(path, stamp)
    weight = m.model.encoder.embed.token.weight.detach().cpu().float().numpy()
    return viz.nearest_neighbours(
        weight[token_id], weight, m.tokenizer.id_to_piece, k=k, exclude_ids=[token_id]
    )


# --- figures ----------------------------------------------------------------------------------------

FIGURES = 128  # built figures kept for every session (each up to a few hundred kB)


def figure(build: Callable[..., go.Figure], *args, **kwargs) -> go.Figure:
    """`build(*args, **kwargs)`, built once per server for every session that asks for the same figure.

    Keyed by what the figure is made of: the function and every argument, arrays by their bytes,
    so it is rebuilt exactly when something it shows changes. Building is most of what a click
    costs (Plotly validates every property: 10–25 ms a heatmap, 32 figures in Anatomy), and a
    person clicking through layers and heads comes back to the same figures. The figure is shared
    between sessions and threads: never change one this returns (st.plotly_chart only reads it).
    An argument the key cannot describe (an object, a lambda) builds the figure uncached.
    """
    try:
        key = _fingerprint((build, args, sorted(kwargs.items())))
    except TypeError:
        return build(*args, **kwargs)
    return _figure(key, build, args, kwargs)


@st.cache_resource(show_spinner=False, max_entries=FIGURES)
def _figure(key: str, _build, _args, _kwargs) -> go.Figure:
    return _build(*_args, **_kwargs)


def _fingerprint(value) -> str:
    h = hashlib.blake2b(digest_size=20)
    _feed(h, value)
    return h.hexdigest()


def _feed(h, value) -> None:
    """Feed a value into the hash unambiguously: the type, size and content of everything in it."""
    if value is None or isinstance(value, bool | int | float | str | bytes):
        text = repr(value).encode("utf-8", "surrogatepass")
        h.update(f"{type(value).__name__}:{len(text)}:".encode())
        h.update(text)
    elif isinstance(value, np.ndarray | np.generic):
        a = np.asarray(value)
        if a.dtype == object:
            _feed(h, ("object array", a.shape, a.ravel().tolist()))
            return
        h.update(f"array:{a.dtype.str}:{a.shape}:".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    elif isinstance(value, list | tuple):
        h.update(f"{type(value).__name__}:{len(value)}:".encode())
        for item in value:
            _feed(h, item)
    elif isinstance(value, dict):
        h.update(f"dict:{len(value)}:".encode())
        for k, v in value.items():
            _feed(h, k)
            _feed(h, v)
    elif callable(value) and "<" not in getattr(value, "__qualname__", "<"):  # a named function, no lambda
        h.update(f"function:{value.__module__}.{value.__qualname__}:".encode())
    else:
        raise TypeError(f"no figure key for a {type(value).__name__}")
