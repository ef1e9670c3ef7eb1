"""A `Trace`: everything one teacher-forced pass of the model did with one sentence pair.

`capture_trace` runs the model once with recording hooks (capture.py) on every hook point
and packs what they saw into plain tensors with the batch dimension removed:

    attention["encoder"]  (L_enc, H, S, S)
    attention["decoder"]  (L_dec, H, T, T)   zero above the diagonal
    attention["cross"]    (L_dec, H, T, S)
    embeddings["src_token" | "src_position" | "src_input"]   (S, d_model)  token×√d, PE, sum
    embeddings["tgt_token" | "tgt_position" | "tgt_input"]   (T, d_model)
    hidden["encoder"]     (L_enc + 1, S, d_model)  [0] = embedded input, [l] = output of layer l
    hidden["decoder"]     (L_dec + 1, T, d_model)
    logits, probs         (T, V)  row t is the distribution of the token after tgt_tokens[t]
    qkv (when asked)      {kind: {"q": (L, H, T_q, d_head), "k"/"v": (L, H, T_k, d_head),
                                  "scores": (L, H, T_q, T_k) scaled, -inf where masked}}

`tgt_tokens` are the decoder's *input* (starting with "<s>"), so position t of the decoder
predicts `output_tokens[t]`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import torch

from .capture import HookFn, attention_path, hooks, record
from .model import Transformer


@dataclass
class Trace:
    src_text: str
    tgt_text: str
    src_tokens: list[str]
    tgt_tokens: list[str]
    src_ids: list[int]
    tgt_ids: list[int]
    attention: dict[str, torch.Tensor]
    embeddings: dict[str, torch.Tensor]
    hidden: dict[str, torch.Tensor]
    logits: torch.Tensor
    probs: torch.Tensor
    output_tokens: list[str]
    qkv: dict[str, dict[str, torch.Tensor]] | None = None
    truncated: bool = False  # the source was longer than the model's max_len and was cut
    generated: bool = True  # tgt came from greedy decoding (False: the caller gave a target)
    meta: dict = field(default_factory=dict)

    @property
    def n_layers(self) -> dict[str, int]:
        return {k: v.shape[0] for k, v in self.attention.items()}

    @property
    def n_heads(self) -> int:
        return self.attention["encoder"].shape[1]

    def to_dict(self, include_hidden: bool = True) -> dict:
        """JSON-ready nested lists (floats rounded to 6 digits); probabilities are reduced to the top 10."""

        def arr(t: torch.Tensor):
            return torch.round(t.float(), decimals=6).tolist()

        top = self.probs.topk(min(10, self.probs.shape[-1]), dim=-1)
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
        return out

    def to_json(self, include_hidden: bool = True) -> str:
        return json.dumps(self.to_dict(include_hidden), ensure_ascii=False)


def _paths(model: Transformer, qkv: bool) -> dict[str, str]:
    """name in the trace -> module path of the hook point that holds it."""
    cfg = model.config
    paths = {}
    for side, stack in (("src", "encoder"), ("tgt", "decoder")):
        for what in ("token", "position", "input"):
            paths[f"{side}_{what}"] = f"{stack}.embed.hook_{what}"
    for stack, n in (("encoder", cfg.n_encoder_layers), ("decoder", cfg.n_decoder_layers)):
        for i in range(n):
            paths[f"{stack}.{i}"] = f"{stack}.layers.{i}"
    for kind in ("encoder", "decoder", "cross"):
        n = cfg.n_encoder_layers if kind == "encoder" else cfg.n_decoder_layers
        for i in range(n):
            parts = ("probs", "q", "k", "v", "scores") if qkv else ("probs",)
            for part in parts:
                paths[f"{kind}.{i}.{part}"] = f"{attention_path(kind, i)}.hook_{part}"
    paths["logits"] = "hook_logits"
    return paths


@torch.no_grad()
def capture_trace(
    model: Transformer,
    src_ids: list[int],
    tgt_ids: list[int],
    qkv: bool = False,
    interventions: list[tuple[str, HookFn]] | None = None,
) -> dict:
    """Run one teacher-forced pass and return the captured tensors (batch dimension removed).

    src_ids: source ids (with eos); tgt_ids: decoder input ids (starting with bos).
    interventions: extra hooks (e.g. capture.ablate_heads) active during the same pass.
    """
    if model.training:
        raise RuntimeError(
            "capture_trace needs the model in eval mode (dropout would change what is recorded)"
        )
    cfg = model.config
    paths = _paths(model, qkv)
    device = next(model.parameters()).device
    src = torch.tensor([src_ids], dtype=torch.long, device=device)
    tgt = torch.tensor([tgt_ids], dtype=torch.long, device=device)
    with hooks(model, interventions or []), record(model, paths.values()) as store:
        logits = model(src, tgt)[0]
    got = {name: store[path][0][0].cpu() for name, path in paths.items()}  # first call, batch item 0

    def stack(prefix: str, n: int, part: str) -> torch.Tensor:
        return torch.stack([got[f"{prefix}.{i}.{part}"] for i in range(n)])

    n_layers = {
        "encoder": cfg.n_encoder_layers,
        "decoder": cfg.n_decoder_layers,
        "cross": cfg.n_decoder_layers,
    }
    attention = {kind: stack(kind, n, "probs") for kind, n in n_layers.items()}
    hidden = {
        stack_name: torch.cat(
            [got[f"{side}_input"][None], torch.stack([got[f"{stack_name}.{i}"] for i in range(n)])]
        )
        for side, stack_name, n in (
            ("src", "encoder", cfg.n_encoder_layers),
            ("tgt", "decoder", cfg.n_decoder_layers),
        )
    }
    embeddings = {name: got[name] for name in paths if name.startswith(("src_", "tgt_"))}
    result = {
        "attention": attention,
        "embeddings": embeddings,
        "hidden": hidden,
        "logits": logits.cpu(),
        "probs": logits.softmax(-1).cpu(),
        "qkv": None,
    }
    if qkv:
        result["qkv"] = {
            kind: {part: stack(kind, n, part) for part in ("q", "k", "v", "scores")}
            for kind, n in n_layers.items()
        }
    return result
