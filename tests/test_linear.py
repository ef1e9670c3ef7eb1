"""transformer.linear: the cached-transpose inference path computes what nn.Linear computes, and
never serves a stale copy of a weight that changed."""

import torch
import torch.nn.functional as F
from torch import nn

from tests.conftest import tiny_config
from transformer import Transformer
from transformer.linear import Linear


def _pair(seed=0, bias=True):
    torch.manual_seed(seed)
    ours = Linear(48, 80, bias=bias)
    ref = nn.Linear(48, 80, bias=bias)
    ref.load_state_dict(ours.state_dict())
    return ours, ref


def test_same_state_dict_keys_and_shapes_as_nn_linear():
    ours, ref = _pair()
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in ref.state_dict().items()
    }


def test_inference_matches_nn_linear_for_any_number_of_rows():
    for bias in (True, False):
        ours, ref = _pair(bias=bias)
        with torch.no_grad():
            for shape in [(48,), (1, 48), (1, 1, 48), (4, 1, 48), (3, 7, 48), (2, 200, 48)]:
                x = torch.randn(shape)
                y = ours(x)
                assert y.shape == ref(x).shape
                torch.testing.assert_close(y, ref(x), rtol=1e-5, atol=1e-5)


def test_inference_uses_the_transposed_copy_and_training_does_not():
    ours, _ = _pair()
    x = torch.randn(2, 48)
    ours(x).sum().backward()  # autograd: plain F.linear, no copy made
    assert ours._cache == {} and ours.weight.grad is not None
    with torch.no_grad():
        ours(x)
    w = ours._cache["entry"][2]  # the weight's values, laid out as a contiguous Wᵀ
    assert w.shape == (80, 48) and w.t().is_contiguous() and w.data_ptr() != ours.weight.data_ptr()
    assert torch.equal(w, ours.weight)


def test_copy_follows_in_place_updates_load_state_dict_and_new_parameters():
    ours, ref = _pair()
    x = torch.randn(3, 48)
    with torch.no_grad():
        ours(x)  # cache the transpose of the original weight
        ours.weight.mul_(-2.0)  # an optimizer step or a hook changing weights in place
        torch.testing.assert_close(ours(x), F.linear(x, ours.weight, ours.bias))
        other = nn.Linear(48, 80)
        ours.load_state_dict(other.state_dict())
        torch.testing.assert_close(ours(x), other(x))
        ours.weight = nn.Parameter(torch.randn(80, 48))
        torch.testing.assert_close(ours(x), F.linear(x, ours.weight, ours.bias))
        ours.weight.data = torch.randn(80, 48)
        torch.testing.assert_close(ours(x), F.linear(x, ours.weight, ours.bias))
        ours.double()  # dtype change: new storage
        xd = x.double()
        torch.testing.assert_close(ours(xd), F.linear(xd, ours.weight, ours.bias))


def _tiny_model_and_batch():
    cfg = tiny_config(src_vocab_size=30, tgt_vocab_size=30, n_encoder_layers=1, n_decoder_layers=1)
    torch.manual_seed(0)
    return cfg, Transformer(cfg), torch.randint(4, 30, (2, 6)), torch.randint(4, 30, (2, 5))


def test_model_inference_after_an_optimizer_step_uses_the_new_weights():
    """Packed Q/K/V and every Linear: eval, train a step, eval again == a fresh copy of the trained model."""
    cfg, model, src, tgt = _tiny_model_and_batch()
    with torch.no_grad():
        before = model(src, tgt)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    model(src, tgt).logsumexp(-1).mean().backward()
    opt.step()
    fresh = Transformer(cfg)
    fresh.load_state_dict(model.state_dict())
    with torch.no_grad():
        after, expected = model(src, tgt), fresh(src, tgt)
    assert not torch.allclose(before, after, atol=1e-3)
    torch.testing.assert_close(after, expected, rtol=1e-5, atol=1e-5)


def test_inference_mode_then_no_grad_then_training():
    """Under torch.inference_mode the packed Q/K/V weights have no version counter; every mode still agrees."""
    _, model, src, tgt = _tiny_model_and_batch()
    with torch.inference_mode():
        a = model(src, tgt)
    with torch.no_grad():
        b = model(src, tgt)
    c = model(src, tgt)
    c.sum().backward()
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(b, c.detach(), rtol=1e-5, atol=1e-5)
