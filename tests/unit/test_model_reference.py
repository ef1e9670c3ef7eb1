"""The whole model against torch.nn.Transformer with copied weights (plus our embeddings and projection)."""

import inspect

import pytest
import torch
from torch import nn

from tests.support.tiny import tiny_config
from transformer import Transformer, available_models, load_pretrained
from transformer.attention import MultiHeadAttention
from transformer.capture import hook_points, hooks
from transformer.layers import DecoderLayer
from transformer.model import Decoder


def copy_attention(ours: MultiHeadAttention, ref: nn.MultiheadAttention) -> None:
    ref.in_proj_weight.copy_(ours.w_qkv.weight)
    ref.in_proj_bias.copy_(ours.w_qkv.bias)
    ref.out_proj.weight.copy_(ours.w_o.weight)
    ref.out_proj.bias.copy_(ours.w_o.bias)


def copy_linear_norm(pairs):
    for ours, ref in pairs:
        ref.weight.copy_(ours.weight)
        ref.bias.copy_(ours.bias)


def reference_for(model: Transformer) -> nn.Transformer:
    cfg = model.config
    ref = nn.Transformer(
        d_model=cfg.d_model, nhead=cfg.n_heads, num_encoder_layers=cfg.n_encoder_layers,
        num_decoder_layers=cfg.n_decoder_layers, dim_feedforward=cfg.d_ff, dropout=0.0, batch_first=True,
        norm_first=cfg.norm == "pre", layer_norm_eps=cfg.layer_norm_eps,
    )  # fmt: skip
    with torch.no_grad():
        for ours, theirs in zip(model.encoder.layers, ref.encoder.layers, strict=False):
            copy_attention(ours.self_attn, theirs.self_attn)
            copy_linear_norm([(ours.ff.linear1, theirs.linear1), (ours.ff.linear2, theirs.linear2),
                              (ours.norm1, theirs.norm1), (ours.norm2, theirs.norm2)])  # fmt: skip
        for ours, theirs in zip(model.decoder.layers, ref.decoder.layers, strict=False):
            copy_attention(ours.self_attn, theirs.self_attn)
            copy_attention(ours.cross_attn, theirs.multihead_attn)
            copy_linear_norm([(ours.ff.linear1, theirs.linear1), (ours.ff.linear2, theirs.linear2),
                              (ours.norm1, theirs.norm1), (ours.norm2, theirs.norm2), (ours.norm3, theirs.norm3)])  # fmt: skip
        if cfg.norm == "pre":
            copy_linear_norm([(model.encoder.norm, ref.encoder.norm), (model.decoder.norm, ref.decoder.norm)])
        else:  # the paper's post-norm stack has no final LayerNorm; nn.Transformer always adds one
            ref.encoder.norm = None
            ref.decoder.norm = None
    return ref.eval()


def reference_logits(model: Transformer, ref: nn.Transformer, src, tgt):
    pad = model.config.pad_id
    T = tgt.shape[1]
    out = ref(
        model.encoder.embed(src), model.decoder.embed(tgt),
        tgt_mask=torch.ones(T, T, dtype=torch.bool).triu(1),  # torch: True = may NOT attend
        src_key_padding_mask=src == pad, tgt_key_padding_mask=tgt == pad, memory_key_padding_mask=src == pad,
    )  # fmt: skip
    return model.generator(out)


@pytest.mark.parametrize("path", ["fused", "written-out"])
@pytest.mark.parametrize("norm", ["post", "pre"])
@pytest.mark.parametrize("padded", [False, True])
def test_model_matches_nn_transformer(norm, padded, path):
    torch.manual_seed(0)
    model = Transformer(tiny_config(norm=norm, tie_embeddings=False)).eval()
    ref = reference_for(model)
    src = torch.randint(4, 64, (3, 11))
    tgt = torch.randint(4, 64, (3, 8))
    if padded:
        src[0, 7:] = 0
        tgt[1, 5:] = 0
    calls = []
    observe = [  # a hook that only counts: it sends every attention down the written-out path
        (p, lambda m, i, o: calls.append(1)) for p in hook_points(model) if p.endswith("hook_pattern")
    ]
    with torch.no_grad(), hooks(model, observe if path == "written-out" else []):
        ours = model(src, tgt)
    assert len(calls) == (3 * 2 if path == "written-out" else 0)  # encoder 2 + decoder 2 self + 2 cross
    with torch.no_grad():
        theirs = reference_logits(model, ref, src, tgt)
    real = tgt != 0  # nn.Transformer's fast path leaves padded rows undefined; compare real positions
    torch.testing.assert_close(ours[real], theirs[real], atol=1e-5, rtol=1e-5)


def test_tied_embeddings_share_one_matrix():
    model = Transformer(tiny_config(tie_embeddings=True))
    assert model.encoder.embed.token.weight is model.decoder.embed.token.weight
    assert model.generator.weight is model.encoder.embed.token.weight
    untied = Transformer(tiny_config(tie_embeddings=False))
    assert untied.generator.weight is not untied.decoder.embed.token.weight
    assert model.num_parameters() < untied.num_parameters()


def test_dropout_is_active_in_training_only():
    torch.manual_seed(0)
    model = Transformer(tiny_config(dropout=0.3))
    src, tgt = torch.randint(4, 64, (2, 6)), torch.randint(4, 64, (2, 5))
    model.train()
    assert not torch.allclose(model(src, tgt), model(src, tgt))
    model.eval()
    torch.testing.assert_close(model(src, tgt), model(src, tgt))


@pytest.mark.parametrize("name", sorted(available_models()))
def test_every_shipped_model_agrees_with_nn_transformer_on_a_sentence(name):
    """The shipped weights, copied into nn.Transformer, give the same logits: a change to how our
    layers compute (the sub-layers, the masks, the output projection) would show here."""
    m = load_pretrained(name)
    src_ids, _ = m.encode_source("The house is old." if name == "en-de" else "a b c d")
    src = torch.tensor([src_ids])
    tgt = torch.tensor([m.translate_ids(src_ids, beam=1)])
    with torch.no_grad():
        ours = m.model(src, tgt)
        theirs = reference_logits(m.model, reference_for(m.model), src, tgt)
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)


def test_both_masks_go_in_one_order_everywhere():
    """(ids or x, memory, src_mask, tgt_mask) in every decoder signature (nn.Transformer's order), so
    passing them positionally from one to the next cannot swap them."""
    for fn in (Decoder.forward, DecoderLayer.forward):
        assert list(inspect.signature(fn).parameters)[2:5] == ["memory", "src_mask", "tgt_mask"], (
            fn.__qualname__
        )
    assert list(inspect.signature(Transformer.decode).parameters)[2:4] == ["memory", "src_mask"]
