"""Scaled dot-product and multi-head attention against PyTorch's references; masks."""

import math

import pytest
import torch
import torch.nn.functional as F

from transformer.attention import MultiHeadAttention, causal_mask, padding_mask, scaled_dot_product_attention
from transformer.capture import hooks, record


def test_written_out_attention_equals_torch_sdpa():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 8)
    mask = torch.rand(2, 1, 5, 7) > 0.3
    mask[..., 0] = True  # every query keeps at least one key
    seen = {}
    out = scaled_dot_product_attention(
        q,
        k,
        v,
        mask,
        hook_scores=lambda s: seen.setdefault("scores", s),
        hook_pattern=lambda p: seen.setdefault("pattern", p),
    )
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(seen["pattern"].sum(-1), torch.ones(2, 3, 5))
    assert torch.isinf(seen["scores"][~mask.expand_as(seen["scores"])]).all()
    manual = (q @ k.transpose(-2, -1) / math.sqrt(8)).masked_fill(~mask, float("-inf")).softmax(-1)
    torch.testing.assert_close(seen["pattern"], manual)


def test_a_hook_that_replaces_the_pattern_changes_the_output():
    torch.manual_seed(5)
    mha = MultiHeadAttention(16, 4).eval()
    x = torch.randn(1, 6, 16)
    uniform = torch.full((1, 4, 6, 6), 1 / 6)
    with (
        torch.no_grad(),
        hooks(mha, [("hook_pattern", lambda m, i, o: uniform)]),
        record(mha, ["hook_z"]) as store,
    ):
        mha(x)
    v = mha._heads(torch.nn.functional.linear(x, mha.w_qkv.weight[32:], mha.w_qkv.bias[32:]))
    torch.testing.assert_close(store["hook_z"][0], v.mean(dim=2, keepdim=True).expand(1, 4, 6, 4))


def copy_into_reference(ours: MultiHeadAttention, ref: torch.nn.MultiheadAttention) -> None:
    with torch.no_grad():
        ref.in_proj_weight.copy_(ours.w_qkv.weight)
        ref.in_proj_bias.copy_(ours.w_qkv.bias)
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
        with record(ours, ["hook_pattern"]) as store:
            got_written_out = ours(x, memory, mask=our_mask)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got_written_out, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(store["hook_pattern"][0], expected_weights, atol=1e-5, rtol=1e-5)


def test_causal_mask_blocks_every_future_position():
    torch.manual_seed(2)
    mha = MultiHeadAttention(16, 2).eval()
    x = torch.randn(2, 7, 16)
    with torch.no_grad(), record(mha, ["hook_pattern"]) as store:
        mha(x, mask=causal_mask(7))
    probs = store["hook_pattern"][0]  # (B, H, T, T)
    future = torch.ones(7, 7, dtype=torch.bool).triu(1)
    assert probs[..., future].abs().max() == 0
    assert (probs[..., ~future] > 0).all()


def test_padding_mask_gives_padded_keys_zero_weight_and_does_not_change_real_outputs():
    torch.manual_seed(3)
    mha = MultiHeadAttention(16, 4).eval()
    x = torch.randn(1, 4, 16)
    padded = torch.cat([x, torch.randn(1, 3, 16) * 100], dim=1)  # garbage where the padding is
    ids = torch.tensor([[5, 6, 7, 8, 0, 0, 0]])
    with torch.no_grad(), record(mha, ["hook_pattern"]) as store:
        out_padded = mha(padded, mask=padding_mask(ids, 0))
    out_plain = mha(x)
    assert store["hook_pattern"][0][..., 4:].abs().max() == 0
    torch.testing.assert_close(out_padded[:, :4], out_plain, atol=1e-5, rtol=1e-5)


def test_fused_and_written_out_paths_agree_on_incremental_cache():
    torch.manual_seed(4)
    mha = MultiHeadAttention(16, 4).eval()
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        full = mha(x, mask=causal_mask(5))  # fused: nothing hooked
        cache: dict = {}
        with record(mha, ["hook_pattern"]) as store:  # written out, one position at a time
            steps = [mha(x[:, t : t + 1], cache=cache) for t in range(5)]
    assert [p.shape for p in store["hook_pattern"]] == [(2, 4, 1, t + 1) for t in range(5)]  # the hook ran
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)
    assert cache["k"].shape == (2, 4, 5, 4)


def test_cross_attention_cache_reuses_the_memorys_keys_and_values():
    torch.manual_seed(6)
    mha = MultiHeadAttention(16, 4).eval()
    x, memory = torch.randn(1, 4, 16), torch.randn(1, 7, 16)
    with torch.no_grad():
        full = mha(x, memory)
        cache: dict = {}
        with record(mha, ["hook_k"]) as store:
            steps = [mha(x[:, t : t + 1], memory, cache=cache) for t in range(4)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)
    assert len({k.data_ptr() for k in store["hook_k"]}) == 1  # computed once, then reused


def test_fused_and_written_out_agree_in_training_mode_without_dropout():
    torch.manual_seed(7)
    mha = MultiHeadAttention(16, 4, dropout=0.0).train()
    x = torch.randn(2, 5, 16, requires_grad=True)
    fused = mha(x, mask=causal_mask(5))
    with record(mha, ["hook_scores"]):
        written = mha(x, mask=causal_mask(5))
    torch.testing.assert_close(fused, written, atol=1e-6, rtol=1e-5)
    (g_fused,) = torch.autograd.grad(fused.sum(), x)
    (g_written,) = torch.autograd.grad(written.sum(), x)
    torch.testing.assert_close(g_fused, g_written, atol=1e-5, rtol=1e-5)
