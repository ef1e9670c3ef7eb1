"""A `Trace`: everything one teacher-forced pass of the model did with one sentence pair.

`capture_trace` runs the model once with recording hooks (capture.py) on the model's hook
points and builds the trace from what they saw, and from nothing else, batch dimension removed:

    activations[path]     every recorded hook point by its module path, e.g.
                          "decoder.layers.1.cross_attn.hook_pattern" (1, H, T, S) -> (H, T, S)
    attention["encoder"]  (L_enc, H, S, S)   hook_pattern of each layer
    attention["decoder"]  (L_dec, H, T, T)   zero above the diagonal
    attention["cross"]    (L_dec, H, T, S)
    embeddings["src_token" | "src_position" | "src_input"]   (S, d_model)  token×√d, PE, their sum
    embeddings["tgt_token" | "tgt_position" | "tgt_input"]   (T, d_model)
    hidden["encoder"]     (L_enc + 1, S, d_model)  the residual stream between layers: [0] = layer 0's
    hidden["decoder"]     (L_dec + 1, T, d_model)  input (embedding + PE), [l] = layer l-1's output
    memory                (S, d_model)  encoder.hook_memory: what cross-attention reads (after the
                          final LayerNorm of a pre-norm model, so not hidden["encoder"][-1] then)
    decoder_output        (T, d_model)  decoder.hook_output: what the output projection reads
    logits, probs         (T, V)  hook_logits; row t is the distribution of the piece after tgt_tokens[t]
    qkv (full=True)       {kind: {"q": (L, H, T_q, d_k), "k"/"v": (L, H, T_k, d_k),
                                  "scores": (L, H, T_q, T_k) scaled, -inf where masked,
                                  "z": (L, H, T_q, d_k) each head's output}}

With full=True `activations` holds every hook point (each sub-layer's input and output, the
feed-forward activations, Q/K/V, ...); by default only what the fields above need.

Besides the tensors, a trace carries what the app shows beside them: `logprobs` (per decoder row,
log P of the piece the translation continued with, then of `</s>` after the last; their mean is
`mean_logprob`), `norm` ("pre" | "post", where the LayerNorms sit), `n_layers`, `n_heads` and
`next_token(step)`. `trace.numpy()` is the same trace with float32 numpy arrays instead of tensors:
picklable, safe to share, cheap to copy (what a cache hands out).

`tgt_tokens` are the decoder's *input* (starting with "<s>", or the start piece of a converted Marian
model, "<pad>"): decoder position t reads
tgt_tokens[t] and predicts the next piece, tgt_tokens[t + 1] (the model's own first choice there
is `output_tokens[t]`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from .analysis import predicted_ids
from .capture import HookFn, hook_points, hooks, record
from .kinds import KINDS
from .model import Transformer

Array = torch.Tensor | np.ndarray  # a tensor as captured; float32 numpy after `Trace.numpy()`


@dataclass
class Trace:
    """One teacher-forced pass (shapes in the module docstring). `capture_trace` fills what the
    model computed; `Pretrained.trace` adds the texts and pieces."""

    src_ids: list[int]
    tgt_ids: list[int]  # the decoder's input, starting with config.start_id
    attention: dict[str, Array]  # kind -> (L, H, T_q, T_k)
    embeddings: dict[str, Array]  # src_token | src_position | src_input | tgt_... -> (T, d_model)
    hidden: dict[str, Array]  # encoder | decoder -> (L + 1, T, d_model), the residual stream
    memory: Array  # (S, d_model) what cross-attention reads
    decoder_output: Array  # (T, d_model) what the output projection reads
    logits: Array  # (T, V)
    probs: Array  # (T, V)
    logprobs: tuple[float, ...] = ()  # per decoder row: log P of the piece the translation continued with
    norm: str = "post"  # "pre" | "post": where the model's LayerNorms sit
    activations: dict[str, Array] = field(default_factory=dict)  # hook point path -> its output
    qkv: dict[str, dict[str, Array]] | None = None  # full=True: kind -> q | k | v | scores | z
    # what the tokenizer and the run add (Pretrained.trace); empty after a bare capture_trace
    src_text: str = ""
    tgt_text: str = ""
    src_tokens: list[str] = field(default_factory=list)
    tgt_tokens: list[str] = field(default_factory=list)  # decoder input, starts with "<s>"
    output_tokens: list[str] = field(default_factory=list)  # most likely next piece at each row
    end_token: str = "</s>"  # the piece after the last: what the last row was to predict
    truncated: bool = False  # the source was longer than the model's max_len and was cut
    generated: bool = True  # tgt came from greedy decoding (False: the caller gave a target)
    meta: dict = field(default_factory=dict)

    @property
    def n_layers(self) -> dict[str, int]:
        return {k: v.shape[0] for k, v in self.attention.items()}

    @property
    def n_heads(self) -> int:
        return self.attention["encoder"].shape[1]

    @property
    def mean_logprob(self) -> float:
        """How sure the model is of its translation: the mean of `logprobs` (0.0 when there are none)."""
        return float(np.mean(self.logprobs)) if self.logprobs else 0.0

    def next_token(self, step: int) -> str:
        """The piece the translation actually continued with after decoder position `step`."""
        return [*self.tgt_tokens[1:], self.end_token][step]

    def numpy(self, activations: bool = False) -> Trace:
        """This trace with float32 numpy arrays for tensors: picklable, safe to share, cheap to copy.

        activations: keep `activations` too (every recorded hook point; mostly the same arrays as
        the fields above, so left out unless asked for).
        """

        def each(arrays: dict) -> dict:
            return {k: _float32(v) for k, v in arrays.items()}

        return replace(
            self,
            src_ids=list(self.src_ids),
            tgt_ids=list(self.tgt_ids),
            attention=each(self.attention),
            embeddings=each(self.embeddings),
            hidden=each(self.hidden),
            memory=_float32(self.memory),
            decoder_output=_float32(self.decoder_output),
            logits=_float32(self.logits),
            probs=_float32(self.probs),
            activations=each(self.activations) if activations else {},
            qkv=None if self.qkv is None else {kind: each(parts) for kind, parts in self.qkv.items()},
            src_tokens=list(self.src_tokens),
            tgt_tokens=list(self.tgt_tokens),
            output_tokens=list(self.output_tokens),
            meta=dict(self.meta),
        )

    def to_dict(self, include_hidden: bool = True) -> dict:
        """JSON-ready nested lists (floats rounded to 6 digits); probabilities are reduced to the top 10."""

        def arr(t: Array):
            return torch.round(torch.as_tensor(t).float(), decimals=6).tolist()

        probs = torch.as_tensor(self.probs)
        top = probs.topk(min(10, probs.shape[-1]), dim=-1)
        out = {
            "src_text": self.src_text,
            "tgt_text": self.tgt_text,
            "src_tokens": self.src_tokens,
            "tgt_tokens": self.tgt_tokens,
            "src_ids": self.src_ids,
            "tgt_ids": self.tgt_ids,
            "output_tokens": self.output_tokens,
            "truncated": self.truncated,
            "generated": self.generated,
            "meta": self.meta,
            "attention": {k: arr(v) for k, v in self.attention.items()},
            "top_next_tokens": {"ids": top.indices.tolist(), "probs": arr(top.values)},
        }
        if include_hidden:
            out["embeddings"] = {k: arr(v) for k, v in self.embeddings.items()}
            out["hidden"] = {k: arr(v) for k, v in self.hidden.items()}
            out["memory"] = arr(self.memory)
        return out

    def to_json(self, include_hidden: bool = True) -> str:
        return json.dumps(self.to_dict(include_hidden), ensure_ascii=False)


def _float32(t: Array) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().float().numpy()
    return np.asarray(t, dtype=np.float32)


def chosen_logprobs(probs: torch.Tensor, tgt_ids: list[int], eos_id: int) -> tuple[float, ...]:
    """log P(piece t + 1 | pieces 0..t) of the pieces the translation has, then of eos after the last.

    probs: (T, V) with T = len(tgt_ids) -> T floats.
    """
    following = torch.tensor(predicted_ids(tgt_ids, eos_id), device=probs.device)
    chosen = probs[torch.arange(len(following), device=probs.device), following]
    return tuple(chosen.clamp_min(1e-30).log().tolist())


ATTENTION_PARTS = ("q", "k", "v", "scores", "z")  # besides the pattern, what full=True stacks per kind


def _layers(model: Transformer, stack: str) -> int:
    return model.config.n_encoder_layers if stack == "encoder" else model.config.n_decoder_layers


def _default_points(model: Transformer) -> list[str]:
    """Hook points a trace records unless full=True: embeddings, the residual stream, attention
    weights, memory, the decoder's output and the logits."""
    points = [
        f"{stack}.embed.hook_{what}"
        for stack in ("encoder", "decoder")
        for what in ("token", "position", "input")
    ]
    for stack in ("encoder", "decoder"):
        points += [
            f"{stack}.layers.{i}.hook_resid_{p}"
            for i in range(_layers(model, stack))
            for p in ("pre", "post")
        ]
    for kind in KINDS.values():
        points += [f"{kind.path(i)}.hook_pattern" for i in range(_layers(model, kind.stack))]
    return [*points, "encoder.hook_memory", "decoder.hook_output", "hook_logits"]


@torch.no_grad()
def capture_trace(
    model: Transformer,
    src_ids: list[int],
    tgt_ids: list[int],
    full: bool = False,
    interventions: list[tuple[str, HookFn]] | None = None,
) -> Trace:
    """Run one teacher-forced pass and return its Trace, every tensor read from a hook point.

    src_ids: source ids (with eos); tgt_ids: decoder input ids (starting with model.config.start_id).
    full: record every hook point (else `_default_points`).
    interventions: extra hooks (e.g. analysis.zero_heads) active during the same pass.
    """
    if model.training:
        raise RuntimeError(
            "capture_trace needs the model in eval mode (dropout would change what is recorded)"
        )
    points = list(hook_points(model)) if full else _default_points(model)
    device = next(model.parameters()).device
    src = torch.tensor([src_ids], dtype=torch.long, device=device)
    tgt = torch.tensor([tgt_ids], dtype=torch.long, device=device)
    with hooks(model, interventions or []), record(model, points) as store:
        model(src, tgt)
    got = {path: store[path][0][0].cpu() for path in points}  # one call each, batch item 0

    def per_layer(kind: str, part: str) -> torch.Tensor:
        k = KINDS[kind]
        return torch.stack([got[f"{k.path(i)}.hook_{part}"] for i in range(_layers(model, k.stack))])

    def stream(stack: str) -> torch.Tensor:
        n = _layers(model, stack)
        return torch.stack(
            [got[f"{stack}.layers.0.hook_resid_pre"]]
            + [got[f"{stack}.layers.{i}.hook_resid_post"] for i in range(n)]
        )

    logits = got["hook_logits"]
    probs = logits.softmax(-1)
    embeddings = {
        f"{side}_{what}": got[f"{stack}.embed.hook_{what}"]
        for side, stack in (("src", "encoder"), ("tgt", "decoder"))
        for what in ("token", "position", "input")
    }
    return Trace(
        src_ids=list(src_ids),
        tgt_ids=list(tgt_ids),
        attention={kind: per_layer(kind, "pattern") for kind in KINDS},
        embeddings=embeddings,
        hidden={stack: stream(stack) for stack in ("encoder", "decoder")},
        memory=got["encoder.hook_memory"],
        decoder_output=got["decoder.hook_output"],
        logits=logits,
        probs=probs,
        logprobs=chosen_logprobs(probs, tgt_ids, model.config.eos_id),
        norm=model.config.norm,
        activations=got,
        qkv={kind: {part: per_layer(kind, part) for part in ATTENTION_PARTS} for kind in KINDS}
        if full
        else None,
    )
