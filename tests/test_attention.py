"""Scaled dot-product and multi-head attention against PyTorch's references; masks."""

import math

import pytest
import torch
import torch.nn.functional as F

from transformer.attention import MultiHeadAttention, causal_mask, padding_mask, scaled_dot_product_attention
from transformer.capture import record


def test_written_out_attention_equals_torch_sdpa():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 8)
    mask = torch.rand(2, 1, 5, 7) > 0.3
    mask[..., 0] = True  # every query keeps at least one key
    out, probs, scores = scaled_dot_product_attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(probs.sum(-1), torch.ones(2, 3, 5))
    assert torch.isinf(scores[~mask.expand_as(scores)]).all()
    manual = (q @ k.transpose(-2, -1) / math.sqrt(8)).masked_fill(~mask, float("-inf")).softmax(-1)
    torch.testing.assert_close(probs, manual)


def copy_into_reference(ours: MultiHeadAttention, ref: torch.nn.MultiheadAttention) -> None:
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.w_q.weight, ours.w_k.weight, ours.w_v.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.w_q.bias, ours.w_k.bias, ours.w_v.bias]))
        ref.out_proj.weight.copy_(ours.w_o.weight)
        ref.out_proj.bias.copy_(ours.w_o.bias)


@pytest.mark.parametrize("kind", ["self", "cross", "causal", "padded"])
def test_multi_head_attention_matches_nn_multiheadattention(kind):
    torch.manual_seed(1)
    d, h = 32, 4
    ours = MultiHeadAttention(d, h).eval()
    ref = torch.nn.MultiheadAttention(d, h, batch_first=True).eval()
    copy_into_reference(ours, ref)
    x, mem = torch.randn(3, 6, d), torch.randn(3, 9, d)
    memory = mem if kind in ("cross", "padded") else None
    kv = x if memory is None else memory
    our_mask = ref_kwargs = None
    ref_kwargs = {}
    if kind == "causal":
        our_mask = causal_mask(6)
        ref_kwargs = {"attn_mask": ~causal_mask(6)[0, 0]}  # torch's bool masks mean "may NOT attend"
    if kind == "padded":
        ids = torch.ones(3, 9, dtype=torch.long)
        ids[0, 6:] = 0
        ids[2, 3:] = 0
        our_mask = padding_mask(ids, 0)
        ref_kwargs = {"key_padding_mask": ids == 0}
    with torch.no_grad():
        expected, expected_weights = ref(
            x, kv, kv, need_weights=True, average_attn_weights=False, **ref_kwargs
        )
        got = ours(x, memory, mask=our_mask)  # fused path
        with record(ours, ["hook_probs"]) as store:
            got_written_out = ours(x, memory, mask=our_mask)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got_written_out, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(store["hook_probs"][0], expected_weights, atol=1e-5, rtol=1e-5)


def test_causal_mask_blocks_every_future_position():
    torch.manual_seed(2)
    mha = MultiHeadAttention(16, 2).eval()
    x = torch.randn(2, 7, 16)
    with torch.no_grad(), record(mha, ["hook_probs"]) as store:
        mha(x, mask=causal_mask(7))
    probs = store["hook_probs"][0]  # (B, H, T, T)
    future = torch.ones(7, 7, dtype=torch.bool).triu(1)
    assert probs[..., future].abs().max() == 0
    assert (probs[..., ~future] > 0).all()


def test_padding_mask_gives_padded_keys_zero_weight_and_does_not_change_real_outputs():
    torch.manual_seed(3)
    mha = MultiHeadAttention(16, 4).eval()
    x = torch.randn(1, 4, 16)
    padded = torch.cat([x, torch.randn(1, 3, 16) * 100], dim=1)  # garbage where the padding is
    ids = torch.tensor([[5, 6, 7, 8, 0, 0, 0]])
    with torch.no_grad(), record(mha, ["hook_probs"]) as store:
        out_padded = mha(padded, mask=padding_mask(ids, 0))
    out_plain = mha(x)
    assert store["hook_probs"][0][..., 4:].abs().max() == 0
    torch.testing.assert_close(out_padded[:, :4], out_plain, atol=1e-5, rtol=1e-5)


def test_fused_and_written_out_paths_agree_on_incremental_cache():
    torch.manual_seed(4)
    mha = MultiHeadAttention(16, 4).eval()
    x = torch.randn(2, 5, 16)
    full = mha(x, mask=causal_mask(5))
    cache: dict = {}
    steps = [mha(x[:, t : t + 1], cache=cache) for t in range(5)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)
    assert cache["k"].shape == (2, 4, 5, 4)
