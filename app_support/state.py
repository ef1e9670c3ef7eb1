"""Session state and the URL: every default in one place, the shareable part parsed from and written to the URL.

URL scheme (every parameter optional; an invalid one is ignored with a visible notice):

    text     the sentence (at most TEXT_LIMIT characters)
    model    a model name in assets/ (a custom checkpoint directory is never put in a URL)
    view     io | attention | positional | embeddings | decoding | anatomy | pairs | quiz
    kind     encoder | decoder | cross       attention kind (Attention and Anatomy views)
    layer    0-based layer of that kind
    head     0-based head, or "mean"
    rows     read | predicted | both         label decoder rows by the piece read, the piece predicted
                                             or both (absent: each kind's default, transformer.kinds)
    panel    heatmaps | model | lines | flow   what the Attention view draws (flow: attention rollout)
    step     0-based decoder position (Decoding view)
    beam     1..BEAM_MAX                     beam size (1 = greedy; absent: 4)
    maxlen   0 (automatic) .. model max_len - 1, the longest translation in pieces
    present  1 = presentation mode

The controls of each view (session key in brackets; `VIEW_PARAMS`):

    hide       1 = hide special pieces (Attention)                          [att_hide_specials]
    renorm     0 = do not renormalise rows once specials are hidden          [att_renormalise]
    autoscale  1 = colour scale to the largest weight shown                  [att_autoscale]
    heads      the head view's heads, e.g. 0,2 (absent: every head)          [att_lines_heads]
    pe_pos     positions drawn in the Positional encoding view, 2..512       [pe_positions]
    pe_dims    the dimensions whose sinusoids are drawn, e.g. 0,16 (≤ 8)     [pe_dims]
    pe_metric  dot | cosine                  PE similarity                  [pe_metric]
    pe_side    src | tgt                     whose embedding + PE is shown  [pe_side]
    emb_side   encoder | decoder             Embeddings view                [emb_side]
    emb_method pca | tsne                                                   [emb_method]
    emb_stage  all | 0-based stage of the residual stream                   [emb_stage]
    emb_paths  positions whose path through the layers is drawn, e.g. 0,3   [emb_paths]
    emb_nn     position whose nearest vocabulary pieces are listed          [emb_nn_token]
    topk       3..20 next-piece candidates (Decoding)                       [dec_k]
    section    Anatomy's section, 0..8 in the paper's order (ANATOMY_SECTIONS) [ana_section]
    out_pos    decoder position of Anatomy's output softmax                 [ana_step]
    text2      the second sentence of a minimal pair (Minimal pairs)        [text2]
    qpiece     the quiz round: the German piece asked about, 1 = the first  [qpiece]
    qlayer     the quiz's cross-attention layer (absent: the last)          [qlayer]
    snap       training step of the snapshot shown (Attention, a model with snapshots;
               absent: "Watch attention form during training" closed)   [snap]

The experiment every view can show (app_support.experiment.session):

    off        heads switched off, kind.layer.head separated by commas, e.g. cross.1.0,cross.1.3 [off]
    target     a translation typed in the Score view: the model is traced on it         [target]
    apply      0 = the views show the model as trained although an experiment is set   [exp_apply]

Layers, heads and positions are 0-based, as in the figures ("L0 H3"). Values that depend on the
model or the sentence (a head the model lacks, a position past the sentence's end) are checked once
both are known (`fit_to_model`, `fit_to_trace`) and ignored there with the same notice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass

from app_support.experiment import heads_off
from app_support.safe_text import md_code, without_lone_surrogates
from app_support.stages import stream_stages
from transformer.kinds import KIND_NAMES, KINDS, MEAN_HEAD, ROW_LABELS

VIEWS = {
    "io": "Input & output",
    "attention": "Attention",
    "positional": "Positional encoding",
    "embeddings": "Embeddings",
    "decoding": "Decoding",
    "anatomy": "Anatomy",
    "heads": "Switch heads off",
    "score": "Score a translation",
    "pairs": "Minimal pairs",
    "quiz": "Quiz: predict, then reveal",
}
KIND_LABELS = {name: kind.short for name, kind in KINDS.items()}  # for the kind picker
PANELS = {
    "heatmaps": "One head + mean",
    "model": "Model view (all heads)",
    "lines": "Head view (lines)",
    "flow": "Attention flow (rollout)",
}
ANATOMY_SECTIONS = {  # the Anatomy view's walk, one section at a time (paper §3.1–§3.5, SEED.md's order)
    0: "0 · The whole model",
    1: "1 · Embeddings",
    2: "2 · Positions",
    3: "3 · Attention",
    4: "4 · Multi-head",
    5: "5 · Feed-forward",
    6: "6 · Encoder layer",
    7: "7 · Decoder layer",
    8: "8 · Output",
}
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
    "view": "attention",  # the first screen shows attention (a heatmap without scrolling at 1280 × 720)
    "kind": "encoder",
    "layer": 0,
    "head": 0,
    "rows": None,  # None = each kind's default (KINDS[kind].rows); one choice once the person picks
    "panel": "heatmaps",
    "step": 0,
    "beam": 4,  # the paper's beam (§6.1), and en-de's: its card's figures and scores are all beam 4
    "maxlen": 0,
    "present": False,
    # this session only
    "ckpt": "",
    "example": None,
    "fig_format": "png",  # what the figures' camera icon saves (export.FORMATS)
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
    "ana_section": 0,  # the walk starts with the whole model
    "ana_step": 0,
    "text2": "",  # the Minimal pairs view's second sentence
    "qpiece": None,  # the quiz round: German piece (position in the decoder input, from 1); None = first round
    "qlayer": None,  # the quiz's cross-attention layer; None = the last
    "snap": None,  # the training snapshot shown (a step); None = the snapshot section closed
    "off": (),  # heads switched off: sorted (kind, layer, head) triples (app_support.experiment.heads_off)
    "target": "",  # a typed translation ("" = none): the views are traced on it
    "exp_apply": True,  # the views show the experiment (heads off, typed translation) when one is set
}
_INT = re.compile(r"[+-]?\d{1,9}")


def _int(raw: str, lo: int, hi: int) -> int | None:
    """A decimal integer within lo..hi, or None."""
    raw = raw.strip()
    if not _INT.fullmatch(raw):
        return None
    value = int(raw)
    return value if lo <= value <= hi else None


# --- the controls of each view in the URL -----------------------------------------------------------

PE_POSITIONS_MAX = 512  # the Positional encoding view draws at most this many positions
PE_DIMS_MAX = 8  # sinusoids drawn at once
EMB_PATHS_MAX = 6  # token paths drawn at once
TOPK_MIN, TOPK_MAX = 3, 20  # next-piece candidates in the Decoding view
ALL_STAGES = -1  # emb_stage: every stage of the residual stream
_ON, _OFF = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def _flag(raw: str) -> bool | None:
    flag = raw.strip().lower()
    return True if flag in _ON else False if flag in _OFF else None


def _int_list(raw: str, lo: int, hi: int, most: int) -> list[int] | None:
    """ "0,2,3" -> [0, 2, 3]: whole numbers in lo..hi, at least one, at most `most`, none twice; else None."""
    values = [_int(part, lo, hi) for part in raw.split(",")]
    if None in values or len(values) > most or len(set(values)) != len(values):
        return None
    return values


def _choice(options: Sequence[str]) -> Callable[[str], str | None]:
    return lambda raw: raw if raw in options else None


def _stage(raw: str) -> int | None:
    return ALL_STAGES if raw.strip().lower() == "all" else _int(raw, 0, 1_000)


@dataclass(frozen=True)
class ViewParam:
    """One view control in the URL: its session key (the widget's key), how to read and write it."""

    key: str
    parse: Callable[[str], object]  # the URL's text -> a value, or None when invalid
    write: Callable[[object], str]
    why: str  # said in the notice when a value is ignored


def _write_flag(value: object) -> str:
    return "1" if value else "0"


def _write_list(value: object) -> str:
    return ",".join(str(v) for v in value)


def _write_stage(value: object) -> str:
    return "all" if value == ALL_STAGES else str(value)


_LIST = "whole numbers separated by commas, e.g. 0,2"
VIEW_PARAMS = {  # URL name -> the control (the module docstring lists them)
    "hide": ViewParam("att_hide_specials", _flag, _write_flag, "use hide=1 or hide=0"),
    "renorm": ViewParam("att_renormalise", _flag, _write_flag, "use renorm=1 or renorm=0"),
    "autoscale": ViewParam("att_autoscale", _flag, _write_flag, "use autoscale=1 or autoscale=0"),
    "heads": ViewParam(
        "att_lines_heads", lambda r: _int_list(r, 0, 1_000, 1_000), _write_list, f"heads are {_LIST}"
    ),
    "pe_pos": ViewParam(
        "pe_positions",
        lambda r: _int(r, 2, PE_POSITIONS_MAX),
        str,
        f"a whole number from 2 to {PE_POSITIONS_MAX}",
    ),
    "pe_dims": ViewParam(
        "pe_dims",
        lambda r: _int_list(r, 0, 100_000, PE_DIMS_MAX),
        _write_list,
        f"at most {PE_DIMS_MAX} {_LIST}",
    ),
    "pe_metric": ViewParam("pe_metric", _choice(("dot", "cosine")), str, "metrics are dot, cosine"),
    "pe_side": ViewParam("pe_side", _choice(("src", "tgt")), str, "sides are src, tgt"),
    "emb_side": ViewParam("emb_side", _choice(("encoder", "decoder")), str, "sides are encoder, decoder"),
    "emb_method": ViewParam("emb_method", _choice(("pca", "tsne")), str, "projections are pca, tsne"),
    "emb_stage": ViewParam("emb_stage", _stage, _write_stage, "a stage is all or a whole number"),
    "emb_paths": ViewParam(
        "emb_paths",
        lambda r: _int_list(r, 0, 100_000, EMB_PATHS_MAX),
        _write_list,
        f"at most {EMB_PATHS_MAX} {_LIST}",
    ),
    "emb_nn": ViewParam("emb_nn_token", lambda r: _int(r, 0, 100_000), str, "not a whole number in range"),
    "topk": ViewParam(
        "dec_k", lambda r: _int(r, TOPK_MIN, TOPK_MAX), str, f"a whole number from {TOPK_MIN} to {TOPK_MAX}"
    ),
    "section": ViewParam(
        "ana_section",
        lambda r: _int(r, 0, len(ANATOMY_SECTIONS) - 1),
        str,
        f"sections are 0 to {len(ANATOMY_SECTIONS) - 1}",
    ),
    "out_pos": ViewParam("ana_step", lambda r: _int(r, 0, 100_000), str, "not a whole number in range"),
    "text2": ViewParam(
        "text2",
        lambda r: without_lone_surrogates(r) if len(r) <= TEXT_LIMIT else None,
        str,
        f"the second sentence has at most {TEXT_LIMIT} characters",
    ),
    "qpiece": ViewParam("qpiece", lambda r: _int(r, 1, 100_000), str, "a whole number from 1"),
    "qlayer": ViewParam("qlayer", lambda r: _int(r, 0, 1_000), str, "not a whole number in range"),
    "snap": ViewParam("snap", lambda r: _int(r, 0, 999_999_999), str, "a training step is a whole number"),
    "off": ViewParam(
        "off",
        lambda r: None if (parsed := heads_off.parse(r))[1] else parsed[0],
        heads_off.to_url,
        "write heads as kind.layer.head separated by commas, e.g. cross.1.0,encoder.0.3",
    ),
    "target": ViewParam("target", without_lone_surrogates, str, "not text"),
    "apply": ViewParam("exp_apply", _flag, _write_flag, "use apply=1 or apply=0"),
}
URL_NAME = {param.key: name for name, param in VIEW_PARAMS.items()}  # session key -> URL name


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
                ignore(key, raw, f"{what} {', '.join(md_code(a, 80) for a in allowed) or 'none'}")
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
    for name, param in VIEW_PARAMS.items():
        if name in query:
            value = param.parse(str(query[name]))
            if value is None:
                ignore(name, str(query[name]), param.why)
            else:
                values[param.key] = value
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
        if key in URL_NAME:
            shown = VIEW_PARAMS[URL_NAME[key]].write(shown)
        name = URL_NAME.get(key, key)
        notices.append(f"Ignored URL parameter `{name}` = {md_code(shown, 80)}: {why}. Using the default.")
    ss[key] = default


def fit_to_model(
    ss: MutableMapping, n_layers: Mapping[str, int], n_heads: int, max_len: int, d_model: int | None = None
) -> list[str]:
    """Make kind/layer/head/maxlen (and the head view's heads, the PE view's dimensions when d_model is
    given) valid for this model, e.g. after switching models; notices for URL values."""
    notices: list[str] = []
    n = n_layers[ss["kind"]]
    _check(ss, "layer", 0 <= ss["layer"] < n, 0, f"this model's {ss['kind']} has layers 0–{n - 1}", notices)
    ok = ss["head"] == MEAN or 0 <= ss["head"] < n_heads
    _check(ss, "head", ok, 0, f"this model has heads 0–{n_heads - 1} (or mean)", notices)
    ok = 0 <= ss["maxlen"] < max_len
    _check(ss, "maxlen", ok, 0, f"this model generates at most {max_len - 1} pieces", notices)
    heads = ss["att_lines_heads"]
    if heads is not None:
        ok = all(0 <= h < n_heads for h in heads)
        _check(ss, "att_lines_heads", ok, None, f"this model has heads 0–{n_heads - 1}", notices)
    dims = ss["pe_dims"]
    if dims is not None and d_model is not None:
        ok = all(0 <= d < d_model for d in dims)
        _check(ss, "pe_dims", ok, None, f"this model has dimensions 0–{d_model - 1}", notices)
    ss["_from_url"] -= {"layer", "head", "maxlen", "kind", "att_lines_heads"} | (
        {"pe_dims"} if d_model else set()
    )
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


def fit_snapshot(ss: MutableMapping, steps: Sequence[int]) -> list[str]:
    """Keep the training snapshot shown (`snap`) one of the model's (`steps`), else None; notices for URL values."""
    notices: list[str] = []
    have = "this model has no training snapshots"
    if steps:
        have = f"this model has snapshots of steps {', '.join(map(str, steps))}"
    _check(ss, "snap", ss["snap"] is None or ss["snap"] in steps, None, have, notices)
    ss["_from_url"].discard("snap")
    return notices


def _position(value):
    """A position a widget sent back: "3" (text, after its options changed) -> 3; anything else as it is."""
    return int(value) if isinstance(value, str) and value.isdigit() else value


def fit_to_trace(ss: MutableMapping, trace) -> list[str]:
    """Keep the positions of the Decoding, Anatomy and Embeddings views inside this sentence and its
    translation (a `models.TraceData`: the run those views draw, a typed translation's or one with heads
    off included, `experiment.session.positions_trace`); notices for URL values."""
    notices = fit_step(ss, len(trace.tgt_tokens))
    n_steps = len(trace.tgt_tokens)
    _check(
        ss,
        "ana_step",
        0 <= ss["ana_step"] < n_steps,
        0,
        f"this translation has positions 0–{n_steps - 1}",
        notices,
    )
    side = ss["emb_side"]
    n_tokens = len(trace.src_tokens if side == "encoder" else trace.tgt_tokens)
    n_stages = len(stream_stages(side, trace.hidden[side].shape[0] - 1, trace.norm))
    ok = ALL_STAGES <= ss["emb_stage"] < n_stages
    _check(ss, "emb_stage", ok, ALL_STAGES, f"the {side} has stages 0–{n_stages - 1} (or all)", notices)
    why = f"the {side} side has positions 0–{n_tokens - 1}"
    if ss["emb_paths"] is not None:
        # a browser may send the multiselect's values back as text after its options changed: positions
        # are whole numbers, anything else resets the choice
        paths = [_position(p) for p in ss["emb_paths"]]
        ok = all(isinstance(p, int) and 0 <= p < n_tokens for p in paths)
        ss["emb_paths"] = paths if ok else ss["emb_paths"]
        _check(ss, "emb_paths", ok, None, why, notices)
    # the "Piece" select box too, once its options changed (a new sentence): "3" is position 3, "x" is none
    token = ss["emb_nn_token"] = _position(ss["emb_nn_token"])
    _check(ss, "emb_nn_token", isinstance(token, int) and 0 <= token < n_tokens, 0, why, notices)
    ss["_from_url"] -= {"ana_step", "emb_stage", "emb_paths", "emb_nn_token"}
    return notices


def to_query(ss: Mapping, model_in_url: bool, defaults: Mapping | None = None) -> dict[str, str]:
    """The shareable part of the session as URL parameters (defaults left out, except the main ones).

    `defaults`: what a view control shows when its DEFAULTS value is None (the head view's heads,
    the PE dimensions, the token paths), as the current model and sentence make it; equal values are
    left out of the URL too.
    """
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
    for name, param in VIEW_PARAMS.items():
        value = ss.get(param.key, DEFAULTS[param.key])
        if value is None or value == DEFAULTS[param.key] or value == (defaults or {}).get(param.key):
            continue
        out[name] = param.write(value)
    return out
