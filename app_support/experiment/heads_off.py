"""Which attention heads are switched off: one set for the whole app, in the URL as `off`.

A head is a triple (kind, layer, head), 0-based as in the figures ("cross L2 H0"). The set is
kept as a sorted tuple of triples (hashable: part of every `Run`) and written to the URL as
`off=cross.2.0,encoder.0.1` (kind.layer.head, comma-separated). Pure Python apart from `hooks`,
which turns the set into `transformer.analysis.zero_heads` hooks (zeroing each head's hook_z).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from app_support.run import Off
from app_support.safe_text import count, md_code
from transformer.analysis import Head, zero_heads
from transformer.capture import HookFn
from transformer.kinds import KIND_NAMES, KINDS

URL_LIMIT = 4000  # characters of `off` read from a URL (36 heads take ~400)
_ITEM = re.compile(r"(encoder|decoder|cross)\.(\d{1,4})\.(\d{1,4})")
_KIND_ORDER = {k: i for i, k in enumerate(KIND_NAMES)}


def normalise(heads: Iterable[Head]) -> Off:
    """Any iterable of (kind, layer, head) -> the canonical sorted tuple (kinds in KIND_NAMES order)."""
    unique = {(str(k), int(layer), int(h)) for k, layer, h in heads}
    return tuple(sorted(unique, key=lambda x: (_KIND_ORDER.get(x[0], 99), x[1], x[2])))


def label(head: Head) -> str:
    """("cross", 2, 0) -> "cross L2 H0"."""
    kind, layer, h = head
    return f"{kind} L{layer} H{h}"


def describe(off: Off, limit: int = 6) -> str:
    """ "3 heads off: cross L2 H0, cross L2 H1, encoder L0 H3" (the first `limit` named, then "…")."""
    names = [label(h) for h in off]
    shown = ", ".join(names[:limit]) + (f", … ({len(names) - limit} more)" if len(names) > limit else "")
    return f"{count(len(off), 'head')} off: {shown}"


def to_url(off: Off) -> str:
    return ",".join(f"{k}.{layer}.{h}" for k, layer, h in off)


def parse(raw: str) -> tuple[Off, list[str]]:
    """The URL's `off` -> (heads, notices about the items that are not kind.layer.head)."""
    raw = str(raw)
    notices = []
    if len(raw) > URL_LIMIT:
        notices.append(f"URL parameter `off` was cut to its first {URL_LIMIT} characters.")
        raw = raw[:URL_LIMIT]
    items = [(item, _ITEM.fullmatch(item)) for item in (s.strip() for s in raw.split(",")) if item]
    heads = [(m[1], int(m[2]), int(m[3])) for _, m in items if m]
    bad = [item for item, m in items if not m]
    if bad:
        notices.append(
            f"Ignored in URL parameter `off`: {md_code(', '.join(bad), 80)} (write heads as kind.layer.head, "
            f"e.g. `cross.2.0`; kinds are {', '.join(KIND_NAMES)})."
        )
    return normalise(heads), notices


def fit(off: Off, n_layers: Mapping[str, int], n_heads: int) -> tuple[Off, list[str]]:
    """Drop heads this model does not have (e.g. after switching models); a notice naming them."""
    keep = tuple(h for h in off if h[0] in n_layers and 0 <= h[1] < n_layers[h[0]] and 0 <= h[2] < n_heads)
    if len(keep) == len(off):
        return off, []
    gone = [label(h) for h in off if h not in keep]
    return keep, [
        f"This model has no {md_code(', '.join(gone), 120)}: switched back on "
        f"(its heads are 0–{n_heads - 1}, its layers {', '.join(f'{k} 0–{n - 1}' for k, n in n_layers.items())})."
    ]


def every_head(n_layers: Mapping[str, int], n_heads: int) -> Off:
    return normalise((k, layer, h) for k, n in n_layers.items() for layer in range(n) for h in range(n_heads))


def warnings(off: Off, n_layers: Mapping[str, int], n_heads: int) -> list[str]:
    """What a teacher should know about this set: every head off, or a whole kind off."""
    if off and set(off) == set(every_head(n_layers, n_heads)):
        return [
            "Every attention head is off: no position can read any other, and the decoder cannot read the "
            "source at all. What is left is each piece's own embedding passed through the feed-forward "
            "layers, so the translation below owes nothing to the sentence except its length limit."
        ]
    out = []
    for kind, n in n_layers.items():
        if all((kind, layer, h) in off for layer in range(n) for h in range(n_heads)):
            what = {
                "encoder": "each source piece stays alone: the encoder mixes nothing between words",
                "decoder": "the decoder cannot look back at the pieces it has written",
                "cross": "the decoder cannot read the source sentence at all",
            }[kind]
            out.append(f"Every {KINDS[kind].label.lower()} head is off: {what}.")
    return out


def hooks(off: Off) -> list[tuple[str, HookFn]] | None:
    """`transformer.analysis.zero_heads` hooks for this set (None when empty: the model as trained)."""
    return zero_heads([off]) or None
