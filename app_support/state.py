"""Session state and the URL: every default in one place, the shareable part parsed from and written to the URL.

URL scheme (every parameter optional; an invalid one is ignored with a visible notice):

    text     the sentence (at most TEXT_LIMIT characters)
    model    a model name in assets/ (a custom checkpoint directory is never put in a URL)
    view     io | attention | positional | embeddings | decoding | anatomy
    kind     encoder | decoder | cross       attention kind (Attention and Anatomy views)
    layer    0-based layer of that kind
    head     0-based head, or "mean"
    rows     read | predicted | both         label decoder rows by the piece read, the piece predicted
                                             or both (absent: each kind's default, transformer.kinds)
    panel    heatmaps | model | lines        what the Attention view draws
    step     0-based decoder position (Decoding view)
    beam     1..BEAM_MAX                     beam size (1 = greedy)
    maxlen   0 (automatic) .. model max_len - 1, the longest translation in pieces
    present  1 = presentation mode

Layers and heads are 0-based, as in the figures ("L0 H3").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, MutableMapping, Sequence

from app_support.safe_text import md_code, without_lone_surrogates
from transformer.kinds import KIND_NAMES, KINDS, MEAN_HEAD, ROW_LABELS

VIEWS = {
    "io": "Input & output",
    "attention": "Attention",
    "positional": "Positional encoding",
    "embeddings": "Embeddings",
    "decoding": "Decoding",
    "anatomy": "Anatomy",
}
KIND_LABELS = {name: kind.short for name, kind in KINDS.items()}  # for the kind picker
PANELS = {"heatmaps": "One head + mean", "model": "Model view (all heads)", "lines": "Head view (lines)"}
MEAN = MEAN_HEAD  # head value meaning "average over heads"
STEP_ROWS = "both"  # a decoding step is one row: named by both pieces unless the person chose
TEXT_LIMIT = 2000
BEAM_MAX = 8
CUSTOM = "Custom checkpoint…"  # model picker entry for a directory typed by the user

SHARED = (
    "text",
    "model",
    "view",
    "kind",
    "layer",
    "head",
    "rows",
    "panel",
    "step",
    "beam",
    "maxlen",
    "present",
)
DEFAULTS = {
    # shareable (URL)
    "view": "io",
    "kind": "encoder",
    "layer": 0,
    "head": 0,
    "rows": None,  # None = each kind's default (KINDS[kind].rows); one choice once the person picks
    "panel": "heatmaps",
    "step": 0,
    "beam": 1,
    "maxlen": 0,
    "present": False,
    # this session only
    "ckpt": "",
    "example": None,
    "att_hide_specials": False,
    "att_renormalise": True,
    "att_autoscale": False,
    "att_lines_heads": None,  # None = every head of the model
    "pe_positions": 64,
    "pe_dims": None,  # None = a default choice for the model's d_model
    "pe_metric": "dot",
    "pe_side": "src",
    "emb_side": "encoder",
    "emb_method": "pca",
    "emb_stage": -1,  # -1 = all stages
    "emb_paths": None,  # None = the first real token
    "emb_nn_token": 0,
    "dec_k": 10,
    "ana_step": 0,
}
_INT = re.compile(r"[+-]?\d{1,9}")


def _int(raw: str, lo: int, hi: int) -> int | None:
    """A decimal integer within lo..hi, or None."""
    raw = raw.strip()
    if not _INT.fullmatch(raw):
        return None
    value = int(raw)
    return value if lo <= value <= hi else None


def parse_query(query: Mapping[str, str], model_names: Sequence[str]) -> tuple[dict, list[str]]:
    """URL parameters -> (valid values by session key, notices about the ignored ones).

    Only checks that need no model happen here (layer < 64 etc.); `fit_to_model` checks the rest.
    """
    values: dict = {}
    notices: list[str] = []

    def ignore(key: str, raw: str, why: str) -> None:
        notices.append(f"Ignored URL parameter `{key}` = {md_code(raw, 80)}: {why}. Using the default.")

    choices = {  # parameters that must be one of a list
        "model": (model_names, "no such model in assets/; available:"),
        "view": (VIEWS, "views are"),
        "kind": (KIND_NAMES, "kinds are"),
        "rows": (ROW_LABELS, "decoder rows are labelled by"),
        "panel": (PANELS, "panels are"),
    }
    for key in SHARED:
        if key not in query:
            continue
        raw = str(query[key])
        if key == "text":
            if len(raw) > TEXT_LIMIT:
                notices.append(f"The sentence in the URL was cut to its first {TEXT_LIMIT} characters.")
                raw = raw[:TEXT_LIMIT]
            values["text"] = raw
        elif key in choices:
            allowed, what = choices[key]
            if raw in allowed:
                values[key] = raw
            else:
                ignore(key, raw, f"{what} {', '.join(allowed) or 'none'}")
        elif key == "head" and raw.strip().lower() == "mean":
            values["head"] = MEAN
        elif key in ("layer", "head", "step", "maxlen"):
            value = _int(raw, 0, 100_000)
            if value is None:
                ignore(key, raw, "not a whole number in range")
            else:
                values[key] = value
        elif key == "beam":
            value = _int(raw, 1, BEAM_MAX)
            if value is None:
                ignore(key, raw, f"beam must be a whole number from 1 to {BEAM_MAX}")
            else:
                values["beam"] = value
        elif key == "present":
            flag = raw.strip().lower()
            if flag in ("1", "true", "yes", "on", "0", "false", "no", "off", ""):
                values["present"] = flag in ("1", "true", "yes", "on")
            else:
                ignore(key, raw, "use present=1 or present=0")
    return values, notices


def init_session(
    ss: MutableMapping,
    query: Mapping[str, str],
    model_names: Sequence[str],
    default_model: str,
    default_text: Callable[[str], str],
) -> list[str]:
    """Fill the session with URL values (first run only) and defaults; returns notices for the first run.

    `default_text(model)` gives the first example sentence of a model (used when the URL has no text).
    """
    notices: list[str] = []
    if "_initialised" not in ss:
        values, notices = parse_query(query, model_names)
        for key, value in values.items():
            ss[key] = value
        ss["_from_url"] = set(values)  # checked against the model once it is loaded
        ss["_initialised"] = True
    ss.setdefault("model", default_model)
    for key, value in DEFAULTS.items():
        ss.setdefault(key, value)
    ss.setdefault("text", default_text(ss["model"]) if ss["model"] != CUSTOM else "")
    if isinstance(ss["text"], str) and ss["text"] != (valid := without_lone_surrogates(ss["text"])):
        ss["text"] = valid  # a widget value must be valid UTF-8, or Streamlit raises while sending it
        notices = [*notices, "The sentence had characters that are not valid Unicode; they are shown as �."]
    ss.setdefault("_from_url", set())
    ss.setdefault("_examples", [])  # the example sentences offered with the current model
    return notices


def _check(ss: MutableMapping, key: str, ok: bool, default, why: str, notices: list[str]) -> None:
    """Reset ss[key] to `default` when not ok; a notice only if the bad value came from the URL."""
    if ok:
        return
    if key in ss["_from_url"]:
        shown = "mean" if key == "head" and ss[key] == MEAN else ss[key]
        notices.append(f"Ignored URL parameter `{key}` = {md_code(shown, 80)}: {why}. Using the default.")
    ss[key] = default


def fit_to_model(ss: MutableMapping, n_layers: Mapping[str, int], n_heads: int, max_len: int) -> list[str]:
    """Make kind/layer/head/maxlen valid for this model (e.g. after switching models); notices for URL values."""
    notices: list[str] = []
    n = n_layers[ss["kind"]]
    _check(ss, "layer", 0 <= ss["layer"] < n, 0, f"this model's {ss['kind']} has layers 0–{n - 1}", notices)
    ok = ss["head"] == MEAN or 0 <= ss["head"] < n_heads
    _check(ss, "head", ok, 0, f"this model has heads 0–{n_heads - 1} (or mean)", notices)
    ok = 0 <= ss["maxlen"] < max_len
    _check(ss, "maxlen", ok, 0, f"this model generates at most {max_len - 1} pieces", notices)
    ss["_from_url"] -= {"layer", "head", "maxlen", "kind"}
    heads = ss["att_lines_heads"]
    if heads is not None and any(not 0 <= h < n_heads for h in heads):
        ss["att_lines_heads"] = None
    return notices


def rows_for(ss: Mapping, kind: str | None) -> str:
    """How to label the query rows of `kind`: the person's choice, else the kind's default.

    Encoder rows predict nothing, so they are always "read"; kind None (a decoding step, one row)
    defaults to STEP_ROWS.
    """
    if kind is not None and not KINDS[kind].predicts:
        return "read"
    return ss["rows"] or (KINDS[kind].rows if kind is not None else STEP_ROWS)


def fit_step(ss: MutableMapping, n_steps: int) -> list[str]:
    """Keep the decoding step inside 0..n_steps-1 (the current translation's length)."""
    notices: list[str] = []
    why = f"this translation has decoder steps 0–{n_steps - 1}"
    _check(ss, "step", 0 <= ss["step"] < n_steps, 0, why, notices)
    ss["_from_url"].discard("step")
    return notices


def to_query(ss: Mapping, model_in_url: bool) -> dict[str, str]:
    """The shareable part of the session as URL parameters (defaults left out, except the main ones)."""
    out = {"text": ss["text"]}
    if model_in_url:
        out["model"] = ss["model"]
    out["view"] = ss["view"]
    out["kind"] = ss["kind"]
    out["layer"] = str(ss["layer"])
    out["head"] = "mean" if ss["head"] == MEAN else str(ss["head"])
    if ss["rows"] is not None:
        out["rows"] = ss["rows"]
    for key in ("panel", "step", "beam", "maxlen"):
        if ss[key] != DEFAULTS[key]:
            out[key] = str(ss[key])
    if ss["present"]:
        out["present"] = "1"
    return out
