"""The three kinds of attention in the model (paper §3.2.3), defined once.

Everything that names an attention kind -- capture paths, the trace, the figures' titles and
axes, the app's pickers, the CSV export -- reads it from `KINDS`, so the module path, which side
asks (queries) and which side answers (keys), and the words shown for them cannot drift apart.

Decoder queries read piece t and *predict* piece t + 1: a row of decoder self-attention or of
cross-attention is the model's evidence for the next piece, not for the piece it reads.
`QUERY_SIDES` makes that explicit where a label is built. Pure Python: no torch needed.
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
    short: str  # for pickers and narrow titles

    def path(self, layer: int) -> str:
        """Module path of this kind's attention in one layer, e.g. "decoder.layers.1.cross_attn"."""
        return f"{self.stack}.layers.{layer}.{self.module}"

    @property
    def predicts(self) -> bool:
        """True when each query row is a decoder position, whose output predicts the next piece."""
        return self.query_side == "tgt"


KINDS: dict[str, AttentionKind] = {
    k.name: k
    for k in (
        AttentionKind("encoder", "encoder", "self_attn", "src", "src", "Encoder self-attention", "Encoder self"),
        AttentionKind(
            "decoder", "decoder", "self_attn", "tgt", "tgt", "Decoder masked self-attention", "Decoder masked self"
        ),
        AttentionKind(
            "cross", "decoder", "cross_attn", "tgt", "src", "Cross-attention (decoder → encoder)", "Cross (dec → enc)"
        ),
    )
}
KIND_NAMES = tuple(KINDS)  # ("encoder", "decoder", "cross")

SIDE_WORDS = {"src": "source piece (encoder position)", "tgt": "target piece (decoder position)"}
