"""Session state and the URL: one generic codec over declared parameters.

Every URL parameter is a `Param`: its URL name, session key, default, how its text is read and written,
and how it is fitted to the model and to the sentence. The parameters every view shares are declared
below (`shared`); each view declares its own in its `VIEW` (app_support.views, app_support.registry).
The codec (`parse_query`, `init_session`, `fit_to_model`, `fit_to_trace`, `to_query`) loops over a
list of them and knows no parameter by name. The URL scheme, every parameter with its line of
documentation, is printed by

    python -m app_support.registry

An invalid value is ignored with a visible notice. Layers, heads and positions are 0-based, as in the
figures ("L0 H3"). Values that depend on the model or the sentence (a head the model lacks, a position
past the sentence's end) are checked once both are known (`fit_to_model`, `fit_to_trace`) and ignored
there with the same notice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass

from app_support.safe_text import md_code, without_lone_surrogates
from transformer.kinds import KIND_NAMES, KINDS, MEAN_HEAD, ROW_LABELS

KIND_LABELS = {name: kind.short for name, kind in KINDS.items()}  # for the kind picker
MEAN = MEAN_HEAD  # head value meaning "average over heads"
STEP_ROWS = "both"  # a decoding step is one row: named by both pieces unless the person chose
TEXT_LIMIT = 2000
BEAM_MAX = 8
CUSTOM = "Custom checkpoint…"  # model picker entry for a directory typed by the user
PANELS = {  # what the Attention view draws
    "heatmaps": "One head + mean",
    "model": "Model view",  # every layer and head (bertviz's name)
    "lines": "Head view",  # lines from each query to its keys (bertviz's name)
    "flow": "Attention flow",  # rollout (Abnar & Zuidema, 2020)
    "attribution": "Attribution",  # cross-attention beside what the prediction used (transformer.attribution)
    "training": "Training time-lapse",  # offered for a model with training snapshots only
}
FOUND_AT_RUN_TIME = ("model", "text")  # no fixed default: the first model found, its first example sentence
SESSION_DEFAULTS = {  # session keys that are never in a link
    "ckpt": "",
    "example": None,
    "fig_format": "png",  # what the figures' camera icon saves (export.FORMATS)
}


@dataclass(frozen=True)
class ModelFacts:
    """What a parameter is fitted to: the loaded model's sizes."""

    n_layers: Mapping[str, int]  # attention kind -> its stack's layers
    n_heads: int
    max_len: int
    d_model: int

    @classmethod
    def of(cls, cfg) -> ModelFacts:
        """From a TransformerConfig."""
        n_layers = {name: getattr(cfg, f"n_{kind.stack}_layers") for name, kind in KINDS.items()}
        return cls(n_layers, cfg.n_heads, cfg.max_len, cfg.d_model)


# (value, session, ModelFacts or a trace) -> why the value does not fit, or None
Fit = Callable[[object, Mapping, object], "str | None"]


@dataclass(frozen=True)
class Param:
    """One control in the URL, declared once: everything the codec needs to know about it.

    A value of None (where the default is None) means "what the model shows by default" and always fits.
    """

    url: str  # its name in the URL
    key: str  # its session key (the widget's key)
    default: object
    parse: Callable[[str], object]  # the URL's text -> a value, or None when invalid
    why: str  # said in the notice when a URL value is ignored
    doc: str  # one line for the URL scheme (python -m app_support.registry)
    write: Callable[[object], str | None] = str  # a value -> the URL's text; None keeps it out of the URL
    always: bool = False  # in the URL even when it is the default (the main ones: a link says what it shows)
    shown: Callable[[ModelFacts], object] | None = None  # what a None value shows: equal values stay out
    fit_model: Fit | None = None  # why the value does not fit the model (ModelFacts), or None
    fit_trace: Fit | None = None  # why it does not fit the sentence (a Trace), or None
    clean: Callable[[object], object] | None = None  # a value a widget sent back, before it is fitted
    note: Callable[[str], str | None] | None = None  # a notice about a URL value that is kept (cut text)


_INT = re.compile(r"[+-]?\d{1,9}")
_ON, _OFF = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")
LIST = "whole numbers separated by commas, e.g. 0,2"


def whole(raw: str, lo: int, hi: int) -> int | None:
    """A decimal integer within lo..hi, or None."""
    raw = raw.strip()
    if not _INT.fullmatch(raw):
        return None
    value = int(raw)
    return value if lo <= value <= hi else None


def whole_list(raw: str, lo: int, hi: int, most: int) -> list[int] | None:
    """ "0,2,3" -> [0, 2, 3]: whole numbers in lo..hi, at least one, at most `most`, none twice; else None."""
    values = [whole(part, lo, hi) for part in raw.split(",")]
    if None in values or len(values) > most or len(set(values)) != len(values):
        return None
    return values


def flag(url: str, key: str, default: bool, doc: str) -> Param:
    """An on/off control: 1/true/yes/on or 0/false/no/off in the URL, written 1 or 0."""

    def parse(raw: str) -> bool | None:
        raw = raw.strip().lower()
        return True if raw in _ON else False if raw in _OFF else None

    return Param(url, key, default, parse, f"use {url}=1 or {url}=0", doc, write=lambda v: "1" if v else "0")


def choice(url: str, key: str, default, options: Sequence[str], doc: str, what: str, **more) -> Param:
    """One of a list of words."""
    allowed = ", ".join(md_code(a, 80) for a in options) or "none"
    return Param(url, key, default, lambda r: r if r in options else None, f"{what} {allowed}", doc, **more)


def number(url: str, key: str, default, lo: int, hi: int, doc: str, why: str = "", **more) -> Param:
    """A whole number in lo..hi."""
    why = why or "not a whole number in range"
    return Param(url, key, default, lambda r: whole(r, lo, hi), why, doc, **more)


def decimal(url: str, key: str, default: float, lo: float, hi: float, doc: str, **more) -> Param:
    """A number in lo..hi, e.g. a learning rate: "0.005" or "5e-3" in the URL."""

    def parse(raw: str) -> float | None:
        try:
            value = float(raw.strip())
        except ValueError:
            return None
        return value if lo <= value <= hi else None  # NaN and inf fail here too

    return Param(
        url, key, default, parse, f"not a number from {lo:g} to {hi:g}", doc, write=lambda v: f"{v:g}", **more
    )


def numbers(url: str, key: str, hi: int, most: int, doc: str, why: str = "", **more) -> Param:
    """A list of whole numbers in 0..hi, e.g. heads or positions: "0,2" in the URL; None = the model's choice."""
    why = why or f"at most {most} {LIST}"
    write = lambda v: ",".join(map(str, v))  # noqa: E731
    return Param(url, key, None, lambda r: whole_list(r, 0, hi, most), why, doc, write, **more)


def below(count: Callable[[Mapping, object], int], says: str | Callable[[Mapping], str]) -> Fit:
    """A fit for a position, layer, head, ... (or a list of them) in 0..count - 1; the notice says
    f"{says} 0–{count - 1}". A position a widget sent back as text is read by `position` first (`clean`)."""

    def fit(value, ss, facts) -> str | None:
        n = count(ss, facts)
        if all(isinstance(v, int) and 0 <= v < n for v in (value if isinstance(value, list) else [value])):
            return None
        return f"{says if isinstance(says, str) else says(ss)} 0–{n - 1}"

    return fit


def position(value):
    """A position a widget sent back: "3" (text, after its options changed) -> 3; anything else as it is."""
    return int(value) if isinstance(value, str) and value.isdigit() else value


def rows_for(ss: Mapping, kind: str | None) -> str:
    """How to label the query rows of `kind`: the person's choice, else the kind's default.

    Encoder rows predict nothing, so they are always "read"; kind None (a decoding step, one row)
    defaults to STEP_ROWS.
    """
    if kind is not None and not KINDS[kind].predicts:
        return "read"
    return ss["rows"] or (KINDS[kind].rows if kind is not None else STEP_ROWS)


def _fit_head(head, ss, m: ModelFacts) -> str | None:
    ok = head == MEAN or 0 <= head < m.n_heads
    return None if ok else f"this model has heads 0–{m.n_heads - 1} (or mean)"


def _fit_maxlen(maxlen, ss, m: ModelFacts) -> str | None:
    return None if 0 <= maxlen < m.max_len else f"this model generates at most {m.max_len - 1} pieces"


def _cut(raw: str) -> str | None:
    cut = f"The sentence in the URL was cut to its first {TEXT_LIMIT} characters."
    return cut if len(raw) > TEXT_LIMIT else None


def shared(models: Sequence[str], views: Sequence[str], private: Sequence[str] = ()) -> tuple[Param, ...]:
    """The parameters every view shares, in the order a link writes them; `models`: the model names found
    in assets/, `views`: the registry's view names (app_support.registry.params gives both); `private`:
    models of this session alone (trained live), never written into a link."""
    return (
        Param("text", "text", "", lambda r: r[:TEXT_LIMIT], "", f"the sentence (at most {TEXT_LIMIT} characters)",
              always=True, note=_cut),
        choice("model", "model", None, models, "a model name in assets/ (a custom checkpoint directory is never "
               "in a link)", "no such model in assets/; available:", write=lambda v: None if v == CUSTOM or v in private else v,
               always=True),
        choice("view", "view", "attention", views, "the view (python -m app_support.registry)", "views are",
               always=True),
        *_SHARED,
    )  # fmt: skip


_SHARED = (  # shared parameters whose options are known without a model or the registry
    choice("kind", "kind", "encoder", KIND_NAMES, "encoder | decoder | cross: the attention kind", "kinds are",
           always=True),
    number("layer", "layer", 0, 0, 100_000, "0-based layer of that kind", always=True, fit_model=below(
        lambda ss, m: m.n_layers[ss["kind"]], lambda ss: f"this model's {ss['kind']} has layers")),
    Param("head", "head", 0, lambda r: MEAN if r.strip().lower() == "mean" else whole(r, 0, 100_000),
          "not a whole number in range", '0-based head, or "mean"', lambda v: "mean" if v == MEAN else str(v),
          always=True, fit_model=_fit_head),
    choice("rows", "rows", None, ROW_LABELS, "read | predicted | both: label decoder rows by the piece read, the "
           "piece predicted or both (absent: each kind's default)", "decoder rows are labelled by"),
    choice("panel", "panel", "heatmaps", PANELS, "heatmaps | model | lines | flow | attribution | training: "
           "what the Attention view draws (flow: attention rollout; attribution: beside what the prediction used; "
           "training: the training snapshots)", "panels are"),
    number("step", "step", 0, 0, 100_000, "0-based decoder position (Decoding view)",
           fit_trace=below(lambda ss, t: len(t.tgt_tokens), "this translation has decoder steps")),
    number("beam", "beam", 4, 1, BEAM_MAX, f"beam size 1..{BEAM_MAX} (1 = greedy; absent: 4, the paper's, §6.1)",
           f"beam must be a whole number from 1 to {BEAM_MAX}"),
    number("maxlen", "maxlen", 0, 0, 100_000, "the longest translation in pieces, 0 (automatic) .. max_len - 1",
           fit_model=_fit_maxlen),
    flag("present", "present", False, "1 = presentation mode"),
)  # fmt: skip


def shared_param(url: str) -> Param:
    """A shared parameter by its name in the URL, for a check that needs more than the model or the sentence."""
    return next(p for p in _SHARED if p.url == url)


def parse_query(query: Mapping[str, str], params: Iterable[Param]) -> tuple[dict, list[str]]:
    """URL parameters -> (valid values by session key, notices about the ignored ones).

    `params`: every declared parameter (registry.params). Only checks that need no model happen here;
    `fit_to_model` checks the rest.
    """
    values: dict = {}
    notices: list[str] = []
    for param in params:
        if param.url not in query:
            continue
        raw = str(query[param.url])
        value = param.parse(raw)
        if value is None:
            notices.append(
                f"Ignored URL parameter `{param.url}` = {md_code(raw, 80)}: {param.why}. Using the default."
            )
            continue
        values[param.key] = value
        if param.note and (note := param.note(raw)):
            notices.append(note)
    return values, notices


def init_session(
    ss: MutableMapping,
    query: Mapping[str, str],
    params: Sequence[Param],
    default_model: str,
    default_text: Callable[[str], str],
) -> list[str]:
    """Fill the session with URL values (first run only) and defaults; returns notices for the first run.

    `default_text(model)` gives the first example sentence of a model (used when the URL has no text).
    """
    notices: list[str] = []
    if "_initialised" not in ss:
        values, notices = parse_query(query, params)
        ss.update(values)
        ss["_from_url"] = set(values)  # checked against the model once it is loaded
        ss["_initialised"] = True
    ss.setdefault("model", default_model)
    for param in params:
        if param.key not in FOUND_AT_RUN_TIME:
            ss.setdefault(param.key, param.default)
    for key, value in SESSION_DEFAULTS.items():
        ss.setdefault(key, value)
    ss.setdefault("text", default_text(ss["model"]) if ss["model"] != CUSTOM else "")
    if isinstance(ss["text"], str) and ss["text"] != (valid := without_lone_surrogates(ss["text"])):
        ss["text"] = valid  # a widget value must be valid UTF-8, or Streamlit raises while sending it
        notices = [*notices, "The sentence had characters that are not valid Unicode; they are shown as �."]
    ss.setdefault("_from_url", set())
    ss.setdefault("_examples", [])  # the example sentences offered with the current model
    return notices


def check(ss: MutableMapping, param: Param, why: str | None, notices: list[str]) -> None:
    """Reset the control to its default when `why` says it does not fit; a notice only if the bad value came
    from the URL. For fits that need more than the model or the sentence (a model's training snapshots)."""
    if why is None:
        return
    if param.key in ss["_from_url"]:
        shown = md_code(param.write(ss[param.key]), 80)
        notices.append(f"Ignored URL parameter `{param.url}` = {shown}: {why}. Using the default.")
    ss[param.key] = param.default


def _fit(ss: MutableMapping, params: Iterable[Param], which: str, facts) -> list[str]:
    """Fit every parameter that declares a `which` fit ("fit_model" or "fit_trace") to `facts`."""
    notices: list[str] = []
    for param in params:
        fit = getattr(param, which)
        if fit is None:
            continue
        if param.clean is not None:
            ss[param.key] = param.clean(ss[param.key])
        value = ss[param.key]
        if not (value is None and param.default is None):
            check(ss, param, fit(value, ss, facts), notices)
        ss["_from_url"].discard(param.key)
    return notices


def fit_to_model(ss: MutableMapping, params: Iterable[Param], model: ModelFacts) -> list[str]:
    """Make every control valid for this model (a layer it has, a head, ...), e.g. after switching models;
    notices for URL values."""
    return _fit(ss, params, "fit_model", model)


def fit_to_trace(ss: MutableMapping, params: Iterable[Param], trace) -> list[str]:
    """Keep the positions the views draw inside this sentence and its translation (a `Trace`:
    the run those views draw, a typed translation's or one with heads off included,
    `experiment.session.positions_trace`); notices for URL values."""
    return _fit(ss, params, "fit_trace", trace)


def to_query(ss: Mapping, params: Iterable[Param], model: ModelFacts | None = None) -> dict[str, str]:
    """The shareable part of the session as URL parameters: defaults left out, except the main ones, and
    so are values equal to what a control shows for this `model` when it has none (`Param.shown`)."""
    out: dict[str, str] = {}
    for param in params:
        value = ss.get(param.key, param.default)
        shown = param.shown(model) if param.shown is not None and model is not None else None
        if not param.always and (value is None or value == param.default or value == shown):
            continue
        if (text := param.write(value)) is not None:
            out[param.url] = text
    return out
