"""Where a layer's vectors are, named truthfully for the model's LayerNorm placement (paper §3.1).

A layer is a chain of residual sub-layers. What is the *residual stream* and what is a *LayerNorm
output* depends on where the norm sits:

    post-norm (the paper)   x ─ Sublayer ─ add ─ LayerNorm ─ x'    the stream itself is normalised
    pre-norm                x ─ LayerNorm ─ Sublayer ─ add ─ x'    sub-layers read a normalised copy;
                                                                   the stream is never normalised until
                                                                   the stack's final LayerNorm

`layer_stages` lists, in order, the hook points of one layer that the Anatomy view draws, each with
a label that says which of the two it is. Pure Python (no streamlit), so it is tested directly.
"""

from __future__ import annotations

from dataclasses import dataclass

SUBLAYERS = {  # stack -> (hook name of each sub-layer, its name in words, the stream point after it)
    "encoder": (("self_attn", "self-attention", "resid_mid"), ("ff", "feed-forward", "resid_post")),
    "decoder": (
        ("self_attn", "masked self-attention", "resid_mid"),
        ("cross_attn", "cross-attention", "resid_mid2"),
        ("ff", "feed-forward", "resid_post"),
    ),
}
FINAL = {  # stack -> (hook point after the stack, what it is)
    "encoder": ("encoder.hook_memory", "the memory cross-attention reads"),
    "decoder": ("decoder.hook_output", "what the output projection reads"),
}


@dataclass(frozen=True)
class Stage:
    path: str  # hook point (module path), a key of Trace.activations
    label: str  # what a figure title says
    role: str  # "stream": the residual stream; "norm": a LayerNorm output only sub-layers read; "adds"


def layer_stages(stack: str, layer: int, norm: str, last: bool) -> list[Stage]:
    """The hook points of `stack`.layers.`layer` in forward order, labelled for `norm` ("pre"/"post").

    `last`: the stack's last layer, after which a pre-norm model applies its final LayerNorm (that
    output is listed too: for the encoder it is the memory, not the last layer's stream).
    """
    p = f"{stack}.layers.{layer}"
    if layer == 0:
        into = "residual stream into layer 0 (embedding + PE)"
    elif norm == "post":
        into = f"residual stream into layer {layer} = layer {layer - 1}'s last LayerNorm output"
    else:
        into = f"residual stream into layer {layer} (not normalised)"
    stages = [Stage(f"{p}.hook_resid_pre", into, "stream")]
    for hook, words, after in SUBLAYERS[stack]:
        if norm == "pre":
            stages.append(Stage(f"{p}.hook_{hook}_in", f"LayerNorm output: what {words} reads", "norm"))
        stages.append(Stage(f"{p}.hook_{hook}_out", f"{words} output: what it adds to the stream", "adds"))
        if norm == "pre":
            label = f"residual stream after {words} (x + {words}; not normalised)"
        else:
            label = f"residual stream after {words} = LayerNorm(x + {words})"
        stages.append(Stage(f"{p}.hook_{after}", label, "stream"))
    if last and norm == "pre":
        path, what = FINAL[stack]
        stages.append(Stage(path, f"final LayerNorm of the {stack}: {what}", "norm"))
    return stages


def stream_stages(stack: str, n_layers: int, norm: str) -> list[str]:
    """Names of the Embeddings view's stages of one stack: its input, the stream after each layer,
    and (pre-norm) the stack's final LayerNorm output, which is what the next part reads."""
    after = "LayerNorm output" if norm == "post" else "residual stream, not normalised"
    names = ["embedding + PE"] + [f"after L{i} ({after})" for i in range(n_layers)]
    if norm == "pre":
        names.append(f"final LayerNorm ({'memory' if stack == 'encoder' else 'decoder output'})")
    return names
