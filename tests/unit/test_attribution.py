"""transformer.attribution: each method is its formula, written out here the slow way on a tiny model."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from tests.support.tiny import tiny_config
from transformer.analysis import predicted_ids
from transformer.attribution import LAYERED, METHODS, attribute, head_values
from transformer.capture import hooks
from transformer.kinds import MEAN_HEAD
from transformer.model import Transformer
from transformer.trace import capture_trace

SRC = [5, 9, 12, 7, 30, 3]  # ends with eos (3)
TGT = [2, 17, 8, 40, 11]  # starts with bos (2)


def tiny_model(seed: int = 0, **overrides) -> Transformer:
    torch.manual_seed(seed)
    model = Transformer(tiny_config(**overrides)).eval()
    with torch.no_grad():  # away from the init, so attention is not uniform and every term matters
        for name, p in model.named_parameters():
            if "norm" not in name:
                p.add_(0.2 * torch.randn_like(p))
    return model


@pytest.fixture(scope="module", params=["post", "pre"])
def model(request):
    return tiny_model(norm=request.param)


@pytest.fixture(scope="module")
def trace(model):
    return capture_trace(model, SRC, TGT)


def log_p(model: Transformer, token: torch.Tensor | None = None) -> torch.Tensor:
    """(T,) log p(y_t) of the pair, the encoder's hook_token output replaced by `token` (scaled, (S, d))."""
    swap = [] if token is None else [("encoder.embed.hook_token", lambda m, i, o: token[None])]
    with hooks(model, swap):
        logits = model(torch.tensor([SRC]), torch.tensor([TGT]))[0]
    following = predicted_ids(TGT, model.config.eos_id)
    return logits.log_softmax(-1)[torch.arange(len(TGT)), following]


def test_attention_is_the_traces_cross_attention(model, trace):
    cross = trace.attention["cross"]  # (L, H, T, S)
    for layer in range(cross.shape[0]):
        np.testing.assert_allclose(attribute(model, trace, "attention", layer), cross[layer].mean(0).numpy())
        for head in range(cross.shape[1]):
            got = attribute(model, trace.numpy(), "attention", layer, head)
            np.testing.assert_array_equal(got, cross[layer, head].numpy())
    last = cross.shape[0] - 1
    np.testing.assert_array_equal(
        attribute(model, trace, "attention"), attribute(model, trace, "attention", last, MEAN_HEAD)
    )


def test_value_norm_is_the_formula_written_out(model, trace):
    """‖Σ_h α^h_tj (m_j W_V^h + b_V^h) W_O^h‖ with explicit loops over t, j, h."""
    d, H = model.config.d_model, model.config.n_heads
    dk = d // H
    memory, cross = trace.memory, trace.attention["cross"]
    if model.config.norm == "pre":  # what cross-attention reads is after the final LayerNorm
        assert not torch.allclose(memory, trace.hidden["encoder"][-1])
    T, S = len(TGT), len(SRC)
    for layer in range(model.config.n_decoder_layers):
        attn = model.decoder.layers[layer].cross_attn
        W_V = attn.w_qkv.weight[2 * d :].detach().T  # (d, d): x W_V as a row vector times a matrix
        b_V = attn.w_qkv.bias[2 * d :].detach()
        W_O = attn.w_o.weight.detach().T  # (d, d)
        want = torch.zeros(T, S)
        want_head = torch.zeros(H, T, S)
        for t in range(T):
            for j in range(S):
                total = torch.zeros(d)
                for h in range(H):
                    cols = slice(h * dk, (h + 1) * dk)
                    f = (memory[j] @ W_V[:, cols] + b_V[cols]) @ W_O[cols, :]
                    total += cross[layer, h, t, j] * f
                    want_head[h, t, j] = (cross[layer, h, t, j] * f).norm()
                want[t, j] = total.norm()
        np.testing.assert_allclose(attribute(model, trace, "value_norm", layer), want, rtol=1e-5, atol=1e-5)
        for h in range(H):
            got = attribute(model, trace.numpy(), "value_norm", layer, h)
            np.testing.assert_allclose(got, want_head[h], rtol=1e-5, atol=1e-5)
        assert head_values(model, memory, layer).shape == (H, S, d)


def test_grad_x_input_is_autograd_one_row_at_a_time(model, trace):
    """Row t: x · ∂ log p(y_t) / ∂x with x the *scaled* token embedding (hook_token's output), one backward
    per row through the model's plain forward: equals e · ∂/∂e (the scale cancels), y_t the piece after t."""
    got = attribute(model, trace.numpy(), "grad_x_input")
    assert got.shape == (len(TGT), len(SRC)) and got.dtype == np.float32
    x = trace.embeddings["src_token"].clone()
    for t in range(len(TGT)):
        leaf = x.clone().requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(log_p(model, leaf)[t], leaf)
        np.testing.assert_allclose(got[t], (leaf * grad).sum(-1).detach(), rtol=1e-4, atol=1e-6)


def test_the_scale_does_not_change_the_gradient_methods():
    """The same function with the √d_model moved into the embedding table: e is √d_model times larger,
    ∂/∂e as many times smaller, gradient × input and integrated gradients unchanged."""
    model = tiny_model(seed=1, tie_embeddings=False)
    moved = copy.deepcopy(model)
    token = moved.encoder.embed.token
    with torch.no_grad():
        token.weight.mul_(token.scale)
    token.scale = 1.0
    trace, trace2 = capture_trace(model, SRC, TGT), capture_trace(moved, SRC, TGT)
    torch.testing.assert_close(trace.logits, trace2.logits)
    for method in ("grad_x_input", "integrated_gradients"):
        a, b = attribute(model, trace, method, steps=8), attribute(moved, trace2, method, steps=8)
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_integrated_gradients_are_complete(model, trace):
    """Σ_j IG_tj = log p(y_t | e) − log p(y_t | 0 token embedding) (Sundararajan et al.'s completeness, for
    the inputs the path varies), the midpoint rule's error shrinking as the steps grow."""
    with torch.no_grad():
        gap = (log_p(model) - log_p(model, torch.zeros(len(SRC), model.config.d_model))).numpy()
    errors = [
        np.abs(attribute(model, trace, "integrated_gradients", steps=n).sum(1) - gap).mean()
        for n in (4, 16, 64)
    ]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < errors[0] / 10 and errors[2] < 0.01 * max(1.0, np.abs(gap).mean())


def test_no_gradient_reaches_the_parameters_and_the_model_is_unchanged(model, trace):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.inference_mode():  # the app may call it from inside inference mode
        attribute(model, trace, "integrated_gradients", steps=2)
    assert not model.training
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_pretrained_is_accepted_and_rows_explain_the_following_piece(tiny_pretrained):
    trace = tiny_pretrained.trace("The house is old.").numpy()
    for method in METHODS:
        got = attribute(tiny_pretrained, trace, method)
        assert got.shape == (len(trace.tgt_tokens), len(trace.src_tokens)) and np.isfinite(got).all()


@pytest.mark.parametrize(
    "method, kwargs, match",
    [
        ("saliency", {}, "method must be one of"),
        ("attention", {"layer": 2}, "layer must be"),
        ("value_norm", {"layer": -1}, "layer must be"),
        ("value_norm", {"layer": 1.0}, "layer must be"),
        ("attention", {"head": 4}, "head must be"),
        ("grad_x_input", {"layer": 0}, "no layer or head"),
        ("integrated_gradients", {"head": 1}, "no layer or head"),
        ("integrated_gradients", {"steps": 0}, "steps must be"),
    ],
)
def test_bad_arguments_raise(model, trace, method, kwargs, match):
    with pytest.raises(ValueError, match=match):
        attribute(model, trace, method, **kwargs)


def test_a_training_model_is_refused(trace):
    model = tiny_model().train()
    with pytest.raises(RuntimeError, match="eval mode"):
        attribute(model, trace, "grad_x_input")
    assert set(LAYERED) < set(METHODS)


@pytest.mark.parametrize("method", ["grad_x_input", "integrated_gradients"])
def test_heads_switched_off_are_honoured_and_without_cross_attention_the_source_counts_for_nothing(
    model, trace, method
):
    """Inside `zero_heads` hooks (as the app calls it) the gradients run through the changed model: with one
    cross head off they change, and with every cross head off the decoder cannot read the source, so no source
    piece counts for anything."""
    from transformer.analysis import zero_heads

    n_layers, n_heads = model.config.n_decoder_layers, model.config.n_heads
    as_trained = attribute(model, trace, method)
    with hooks(model, zero_heads([[("cross", 0, 0)]])):
        one_off = attribute(model, trace, method)
    assert np.abs(one_off - as_trained).max() > 1e-4
    every = [("cross", layer, h) for layer in range(n_layers) for h in range(n_heads)]
    with hooks(model, zero_heads([every])):
        none_left = attribute(model, trace, method)
    assert np.abs(as_trained).max() > 1e-3
    np.testing.assert_allclose(none_left, 0.0, atol=1e-6)
