"""Attribution beside attention: how much each source piece counts for each prediction of the decoder.

One function, `attribute(model, trace, method, layer=None, head=None, steps=20)`, returns a (T, S) float32
array for a trace of T decoder positions and S source pieces. Row t explains the prediction of the piece
*after* `tgt_tokens[t]` (y_t = tgt_ids[t + 1], and `</s>` for the last row), as `Trace.probs` row t does.
Four methods (`METHODS`), two read a layer of cross-attention, two take gradients of the whole model:

    attention             α_tj = (1/H) Σ_h α^h_tj   the cross-attention weights of `layer` (default the last),
                          heads averaged, or α^h_tj of one `head`. What the Attention view has always drawn.
    value_norm            ‖Σ_h α^h_tj f^h(m_j)‖₂ over d_model, f^h(m) = (m W_V^h + b_V^h) W_O^h, m_j the memory
                          row cross-attention reads (`trace.memory`: after the encoder's final LayerNorm when
                          pre-norm); with `head`, ‖α^h_tj f^h(m_j)‖ = α^h_tj ‖f^h(m_j)‖. The weight times the
                          size of what piece j moves into the decoder (Kobayashi et al. 2020, "Attention is
                          Not Only a Weight: Analyzing Transformers with Vector Norms", eq. 6; W_O's bias is
                          shared by all pieces and left out, as there). Never negative.
    grad_x_input          Σ_d e_jd · ∂ log p(y_t) / ∂e_jd, e_j the source token embedding *before* the √d_model
                          scale and the positional encoding (Ding et al. 2019, "Saliency-driven Word Alignment
                          Interpretation for Neural Machine Translation"; gradient × input as in Shrikumar et
                          al. 2016). Signed: > 0 where the piece's embedding raises log p(y_t). The scale does
                          not change it: with x = s·e, e · ∂f/∂e = e · s ∂f/∂x = x · ∂f/∂x.
    integrated_gradients  Σ_d e_jd · (1/n) Σ_{k=1..n} ∂ log p(y_t) / ∂e_jd evaluated at α_k·e, α_k = (k − ½)/n:
                          the midpoint Riemann sum (n = `steps`, 20 by default) of Sundararajan et al. 2017
                          ("Axiomatic Attribution for Deep Networks") along the straight path from a zero
                          *token* embedding (positional encodings, the target side and the weights stay as
                          they are) to e. Signed. Completeness: Σ_j IG_tj ≈ log p(y_t | e) − log p(y_t | 0),
                          with an error that shrinks as 1/n² (midpoint rule); the same path in √d_model-scaled
                          space, so the scale does not change it either.

Gradients are written out with torch.autograd rather than Captum: the formulas are four lines, the
model's `encoder.embed.hook_token` hook point is where the embedding is replaced, and Captum would be
a dependency of the model package for what `torch.autograd.grad` does here (the package imports only
torch, numpy, sentencepiece, safetensors, tqdm). The work is batched by what each part depends on:
the encoder runs once per point of the path (all points in one batch), the output projection once for
all rows and points, the decoder once per row t on the target pieces up to t (all points batched; row t
never sees later pieces, so nothing is lost), and the T rows' gradients with respect to the memory go back through
the encoder together in one vectorised backward pass (`torch.autograd.grad(..., is_grads_batched=True)`).
Only the embedding leaf asks for a gradient (`torch.autograd.grad(..., inputs=)`): no `.grad` is written
to any parameter, and the model's mode and weights are left as they are.

What none of these is: a word alignment (tools/alignment.py measures how close each comes), a proof of
what the model "uses" (Jain & Wallace 2019, "Attention is not Explanation"; Wiegreffe & Pinter 2019,
"Attention is not not Explanation"), or an account of the target side (every method here looks only at
the source pieces). Heads switched off: call it inside `capture.hooks(model, analysis.zero_heads([off]))`, as
the app does, and the gradient methods run through the changed model (every forward pass here goes through
the hook points); `attention` and `value_norm` read the trace, so give them a trace made with the same heads off.
"""

from __future__ import annotations

import numpy as np
import torch

from .analysis import predicted_ids
from .capture import hooks
from .kinds import MEAN_HEAD
from .model import Transformer

METHODS = ("attention", "value_norm", "grad_x_input", "integrated_gradients")
# the methods that read one layer of cross-attention (and may take a head)
LAYERED = ("attention", "value_norm")
DEFAULT_STEPS = 20
# the decoder's batch: (row, path point) copies, so each pass reads its weights once for many
COPIES_PER_PASS = 16
GRADIENT_BUDGET = 12000  # path points per chunk: about this many (row, path point, source piece) triples


def _network(model) -> Transformer:
    """A `Pretrained` (what load_pretrained returns) or a bare `Transformer` -> the Transformer."""
    net = getattr(model, "model", model)
    if not isinstance(net, Transformer):
        raise TypeError(f"model must be a Pretrained or a Transformer, got {type(model).__name__}")
    return net


def _tensor(x, device=None) -> torch.Tensor:
    """A trace array (tensor, or numpy after Trace.numpy()) -> float32 tensor, never a view the caller shares."""
    return (
        torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).detach().float().to(device)
    )


def _check(net: Transformer, trace, method: str, layer, head, steps) -> tuple[int, int | None]:
    """Validate the arguments -> (layer, head), head None for the mean of heads."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if not trace.src_ids or not trace.tgt_ids:
        raise ValueError("the trace has no source or no target pieces")
    n_layers, n_heads = net.config.n_decoder_layers, net.config.n_heads
    if head == MEAN_HEAD:
        head = None
    if method not in LAYERED:
        if layer is not None or head is not None:
            raise ValueError(f"{method} explains the whole model: it takes no layer or head (pass None)")
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be a positive whole number, got {steps!r}")
        return -1, None
    if layer is None:
        layer = n_layers - 1
    if isinstance(layer, bool) or not isinstance(layer, int | np.integer) or not 0 <= layer < n_layers:
        raise ValueError(
            f"layer must be a decoder layer 0..{n_layers - 1} (or None for the last), got {layer!r}"
        )
    if head is not None and (
        isinstance(head, bool) or not isinstance(head, int | np.integer) or not 0 <= head < n_heads
    ):
        raise ValueError(f"head must be 0..{n_heads - 1} (or None for the mean of heads), got {head!r}")
    return int(layer), None if head is None else int(head)


def head_values(model, memory, layer: int) -> torch.Tensor:
    """f^h(m_j) = (m_j W_V^h + b_V^h) W_O^h for every head h and memory row j: (H, S, d_model).

    What head h of cross-attention layer `layer` moves into the decoder from piece j when it attends
    there with weight 1 (before W_O's bias). memory: (S, d_model), `trace.memory`."""
    net = _network(model)
    attn = net.decoder.layers[layer].cross_attn
    d, h, dk = attn.d_model, attn.n_heads, attn.d_k
    with torch.no_grad():
        m = _tensor(memory, attn.w_o.weight.device)
        v = torch.nn.functional.linear(m, attn.w_qkv.weight[2 * d :], attn.w_qkv.bias[2 * d :])  # (S, d)
        w_o = attn.w_o.weight.view(d, h, dk)  # column block h of W_O (as Linear stores it) is head h's
        return torch.einsum("shk,dhk->hsd", v.view(-1, h, dk), w_o)


def _value_norm(net: Transformer, trace, layer: int, head: int | None) -> torch.Tensor:
    f = head_values(net, trace.memory, layer)  # (H, S, d)
    pattern = _tensor(trace.attention["cross"][layer], f.device)  # (H, T, S)
    if head is not None:
        return pattern[head] * f[head].norm(dim=-1)  # (T, S)
    return torch.einsum("hts,hsd->tsd", pattern, f).norm(dim=-1)


def _gradients(net: Transformer, trace, scales: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Σ over the path points `scales` of ∂ log p(y_t) / ∂e at scale·e, for every row t, and e itself.

    -> (grad sum (T, S, d_model), e (S, d_model)). The encoder runs once per path point; the output
    projection once for every row and point (∂ log p(y_t) / ∂h_t, h_t the decoder's output, from one pass:
    its weight, V × d_model, is read once, not once per row); the decoder once per row t, on the pieces up
    to t only (a row never sees later ones), all path points batched; each row's gradient with respect to the memory then goes back through the encoder in one vectorised
    backward pass (`is_grads_batched`), T cotangents at once. Path points go in chunks of about
    GRADIENT_BUDGET (row, point, source piece) triples, which bounds the memory a long sentence takes."""
    device = net.generator.weight.device
    S, T = len(trace.src_ids), len(trace.tgt_ids)
    scale = net.encoder.embed.token.scale
    per_chunk = max(1, GRADIENT_BUDGET // (T * S))
    # tensors made here, not in a caller's inference mode, so autograd may save them
    with torch.inference_mode(False), torch.enable_grad():
        src = torch.tensor(trace.src_ids, dtype=torch.long, device=device)
        tgt = torch.tensor(trace.tgt_ids, dtype=torch.long, device=device)
        following = torch.tensor(predicted_ids(trace.tgt_ids, net.config.eos_id), device=device)
        e = net.encoder.embed.token.weight.detach()[src]  # (S, d): before √d_model and the positions
        total = torch.zeros(T, S, e.shape[-1], device=device)
        for chunk in scales.clone().to(device).split(per_chunk):
            n = len(chunk)
            embeds = (chunk[:, None, None] * e).requires_grad_(True)  # (n, S, d), the only leaf asked about
            replace = [("encoder.embed.hook_token", lambda module, inputs, output, x=embeds: x * scale)]
            mask = net.src_mask(src.expand(n, S))
            with hooks(net, replace):
                memory = net.encode(src.expand(n, S), mask)  # (n, S, d)
            read = memory.detach().requires_grad_(True)
            # ∂ log p(y_t) / ∂h_t, h_t the decoder's output at row t: one pass of the whole target (rows do not
            # see later pieces, so row t is what it is in the prefix) and of the output projection, batched
            with torch.no_grad():
                h = net.decode(tgt.expand(n, T), read, mask).transpose(0, 1).contiguous()  # (T, n, d)
            h.requires_grad_(True)
            logp = net.project(h).log_softmax(-1).gather(-1, following[:, None, None].expand(T, n, 1))
            (per_output,) = torch.autograd.grad(logp.sum(), h)  # (T, n, d): each (row, point) its own
            per_row = torch.empty(T, *memory.shape, device=device)  # ∂ log p(y_t) / ∂memory for each row t
            k = max(1, COPIES_PER_PASS // n)  # rows per decoder pass: few points, several rows together
            for first in range(0, T, k):
                rows = torch.arange(first, min(T, first + k), device=device)
                size, length = len(rows), int(rows[-1]) + 1  # the rows read pieces up to rows[-1] only
                copies = read.detach().repeat(size, 1, 1).requires_grad_(True)  # (rows · n, S, d)
                out = net.decode(
                    tgt[:length].expand(size * n, length), copies, net.src_mask(src.expand(size * n, S))
                )
                picked = out.view(size, n, length, -1)[
                    torch.arange(size, device=device), :, rows
                ]  # (rows, n, d)
                (grad,) = torch.autograd.grad(picked, copies, grad_outputs=per_output[rows])
                per_row[rows] = grad.view(size, n, S, -1)
            (grad,) = torch.autograd.grad(memory, embeds, grad_outputs=per_row, is_grads_batched=True)
            total += grad.sum(1)  # (T, n, S, d) -> (T, S, d)
    return total, e


def attribute(
    model, trace, method: str, layer: int | None = None, head: int | None = None, steps: int = DEFAULT_STEPS
) -> np.ndarray:
    """How much each source piece counts for each prediction: a (T, S) float32 array.

    model: what `load_pretrained` returns (or its `.model`), in eval mode; trace: a `Trace` of that model
    (tensors, or numpy after `Trace.numpy()`), T = len(trace.tgt_ids), S = len(trace.src_ids). Row t
    explains the prediction of the piece after tgt_tokens[t] (as `trace.probs` row t).
    method: one of METHODS (formulas in the module docstring). layer (decoder layer, default the last) and
    head (default, None or kinds.MEAN_HEAD: the mean of heads) only for "attention" and "value_norm";
    steps only for "integrated_gradients". Bad arguments raise ValueError.
    """
    net = _network(model)
    layer, head = _check(net, trace, method, layer, head, steps)
    if net.training:
        raise RuntimeError("attribute needs the model in eval mode (dropout would change the gradients)")
    T, S = len(trace.tgt_ids), len(trace.src_ids)
    if method == "attention":
        pattern = _tensor(trace.attention["cross"][layer])  # (H, T, S)
        out = pattern.mean(0) if head is None else pattern[head]
    elif method == "value_norm":
        out = _value_norm(net, trace, layer, head)
    else:
        scales = (
            torch.ones(1)
            if method == "grad_x_input"
            else (torch.arange(steps, dtype=torch.float32) + 0.5) / steps  # midpoints of n equal steps
        )
        grad, e = _gradients(net, trace, scales)
        out = (grad / len(scales) * e).sum(-1)  # (T, S)
    if tuple(out.shape) != (T, S):
        raise ValueError(
            f"the trace's arrays do not match its ids: got {tuple(out.shape)}, expected {(T, S)}"
        )
    return out.detach().cpu().numpy().astype(np.float32)
