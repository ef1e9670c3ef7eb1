"""The three kinds of attention in the model (paper §3.2.3), defined once.

Everything that names an attention kind -- capture paths, the trace, the figures' titles and
axes, the app's pickers, the CSV export -- reads it from `KINDS`, so the module path, which side
asks (queries) and which side answers (keys), and the words shown for them cannot drift apart.

Decoder queries read piece t and *predict* piece t + 1: a row of decoder self-attention or of
cross-attention is the model's evidence for the next piece, not for the piece it reads. A figure
labels such a row by the piece read, the piece predicted, or both (`ROW_LABELS`); each kind has
its own default (`AttentionKind.rows`), and `query_title` / `key_title` word the axes to match.
Pure Python: no torch needed.
"""

from __future__ import annotations

from dataclasses import dataclass

MEAN_HEAD = -1  # the `head` value meaning "mean over the layer's heads" (figures, URL, CSV)


@dataclass(frozen=True)
class AttentionKind:
    name: str  # "encoder" | "decoder" | "cross"
    stack: str  # module path of the stack whose layers hold it
    module: str  # attribute of each of those layers
    query_side: str  # "src" (encoder positions) or "tgt" (decoder positions)
    key_side: str
    label: str  # full name, for titles
    short: str  # for pickers
    title: str  # for the title of a figure half a page wide
    rows: str  # default of ROW_LABELS for this kind's query rows

    def path(self, layer: int) -> str:
        """Module path of this kind's attention in one layer, e.g. "decoder.layers.1.cross_attn"."""
        return f"{self.stack}.layers.{layer}.{self.module}"

    @property
    def predicts(self) -> bool:
        """True when each query row is a decoder position, whose output predicts the next piece."""
        return self.query_side == "tgt"


# fmt: off
KINDS: dict[str, AttentionKind] = {
    k.name: k
    for k in (
        #             name       stack      module        q      k      label, short, title, rows
        AttentionKind("encoder", "encoder", "self_attn",  "src", "src",
                      "Encoder self-attention", "Encoder self", "Encoder self-attention", "read"),
        # a decoder row's own piece is already known; what it is for is the next one: both by default
        AttentionKind("decoder", "decoder", "self_attn",  "tgt", "tgt",
                      "Decoder masked self-attention", "Decoder masked self", "Decoder self-attention",
                      "both"),
        # cross-attention is read as an alignment, and the source word a row looks at belongs to the
        # piece it predicts ("▁Der" comes from the row that reads "<s>"): labelled by that by default
        AttentionKind("cross",   "decoder", "cross_attn", "tgt", "src",
                      "Cross-attention (decoder → encoder)", "Cross (dec → enc)", "Cross-attention",
                      "predicted"),
    )
}
# fmt: on
KIND_NAMES = tuple(KINDS)  # ("encoder", "decoder", "cross")

SIDE_WORDS = {"src": "source piece (encoder position)", "tgt": "target piece (decoder position)"}

# How a decoder row (a query of decoder self-attention or cross-attention) is labelled: row t reads
# piece t of the decoder input and its output predicts piece t + 1 ("</s>" after the last).
ROW_LABELS = {
    "read": "piece read",
    "predicted": "piece predicted",
    "both": "read → predicted",
}
_ROW_TITLES = {
    "read": "decoder row: piece read",
    "predicted": "decoder row: piece predicted (next piece)",
    "both": "decoder row: piece read → piece predicted",
}


def check_rows(rows: str) -> str:
    """`rows` if it is one of ROW_LABELS, else ValueError naming them."""
    if rows not in ROW_LABELS:
        raise ValueError(f"row labels must be one of {tuple(ROW_LABELS)}, got {rows!r}")
    return rows


def query_title(kind: str | None, rows: str | None = None) -> str:
    """Axis title of a kind's query rows; `rows` (None = the kind's default) matters for decoder rows only."""
    if kind not in KINDS:
        return "query position"
    k = KINDS[kind]
    if not k.predicts:
        return f"query: {SIDE_WORDS[k.query_side]}"  # an encoder row predicts nothing: its piece is all
    return _ROW_TITLES[check_rows(rows or k.rows)]


def key_title(kind: str | None) -> str:
    """Axis title of a kind's keys: the piece at that position (on the decoder side, the piece read there)."""
    if kind not in KINDS:
        return "key position"
    side = KINDS[kind].key_side
    return f"key: {SIDE_WORDS[side]}" if side == "src" else "key: target piece read (decoder position)"
