"""Hook points: one naming scheme, each point's shape, and capture that changes no output bit."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import transformer
from tests.support.tiny import tiny_config
from transformer import Transformer, count_hooks, hooks, load_pretrained, record
from transformer.capture import hook_points
from transformer.trace import capture_trace

S, T = 7, 5  # source and target lengths of the test pair

RESIDUAL = {"resid_pre", "resid_mid", "resid_post", "self_attn_in", "self_attn_out", "ff_in", "ff_out"}
DECODER_ONLY = {"resid_mid2", "cross_attn_in", "cross_attn_out"}


def expected_shapes(cfg) -> dict[str, tuple]:
    """Every hook point the model must have, with its shape for batch 1, S source and T target pieces."""
    d, h, dk = cfg.d_model, cfg.n_heads, cfg.d_head
    shapes = {
        "encoder.hook_memory": (1, S, d),
        "decoder.hook_output": (1, T, d),
        "hook_logits": (1, T, cfg.tgt_vocab_size),
    }
    for stack, n, length, names in (
        ("encoder", cfg.n_encoder_layers, S, RESIDUAL),
        ("decoder", cfg.n_decoder_layers, T, RESIDUAL | DECODER_ONLY),
    ):
        shapes |= {f"{stack}.embed.hook_{w}": (1, length, d) for w in ("token", "position", "input")}
        for i in range(n):
            layer = f"{stack}.layers.{i}"
            shapes |= {f"{layer}.hook_{name}": (1, length, d) for name in names}
            shapes[f"{layer}.ff.hook_activation"] = (1, length, cfg.d_ff)
            attns = [("self_attn", length)] + ([("cross_attn", S)] if stack == "decoder" else [])
            for attn, k_len in attns:
                shapes |= {
                    f"{layer}.{attn}.hook_q": (1, h, length, dk),
                    f"{layer}.{attn}.hook_k": (1, h, k_len, dk),
                    f"{layer}.{attn}.hook_v": (1, h, k_len, dk),
                    f"{layer}.{attn}.hook_scores": (1, h, length, k_len),
                    f"{layer}.{attn}.hook_pattern": (1, h, length, k_len),
                    f"{layer}.{attn}.hook_z": (1, h, length, dk),
                }
    return shapes


def pair():
    g = torch.Generator().manual_seed(0)
    return torch.randint(4, 64, (1, S), generator=g), torch.randint(4, 64, (1, T), generator=g)


@pytest.fixture(params=["post", "pre"])
def model(request) -> Transformer:
    torch.manual_seed(0)
    return Transformer(tiny_config(norm=request.param, n_encoder_layers=2, n_decoder_layers=3)).eval()


def test_every_hook_point_exists_and_has_its_shape(model):
    expected = expected_shapes(model.config)
    assert set(hook_points(model)) == set(expected)  # no point missing, none unexplained
    src, tgt = pair()
    with torch.no_grad(), record(model, expected) as store:
        model(src, tgt)
    for path, shape in expected.items():
        assert len(store[path]) == 1, path  # passed exactly once per forward
        assert tuple(store[path][0].shape) == shape, path


def test_capturing_every_hook_point_changes_no_output_bit(model):
    src, tgt = pair()
    points = list(hook_points(model))
    with torch.no_grad():
        plain = model(src, tgt)  # nothing hooked: every attention takes the fused kernel
        outside = [
            p for p in points if not p.rsplit(".", 1)[0].endswith("attn")
        ]  # embeddings, stream, FFN, logits
        with record(model, outside):
            assert torch.equal(model(src, tgt), plain)
        # a hook on an attention sends it down the written-out path: compare like with like
        written_out = [(p, lambda m, i, o: None) for p in points if p.endswith("hook_pattern")]
        with hooks(model, written_out):
            reference = model(src, tgt)
            with record(model, points) as store:
                captured = model(src, tgt)
    assert torch.equal(captured, reference)
    assert len(store) == len(points)
    torch.testing.assert_close(reference, plain, atol=1e-5, rtol=1e-5)  # and the two paths agree
    assert count_hooks(model) == 0


def test_residual_points_follow_the_norm_placement(model):
    src, tgt = pair()
    layer = model.encoder.layers[1]
    names = ["resid_pre", "self_attn_in", "self_attn_out", "resid_mid", "ff_in", "ff_out", "resid_post"]
    with torch.no_grad(), record(model, [f"encoder.layers.1.hook_{n}" for n in names]) as store:
        model(src, tgt)
    got = {n: store[f"encoder.layers.1.hook_{n}"][0] for n in names}
    with torch.no_grad():
        if model.config.norm == "pre":  # sub-layers read LayerNorm outputs; the stream is a plain sum
            torch.testing.assert_close(got["self_attn_in"], layer.norm1(got["resid_pre"]))
            torch.testing.assert_close(got["resid_mid"], got["resid_pre"] + got["self_attn_out"])
            torch.testing.assert_close(got["ff_in"], layer.norm2(got["resid_mid"]))
            torch.testing.assert_close(got["resid_post"], got["resid_mid"] + got["ff_out"])
        else:  # the paper: sub-layers read the stream, and the stream is a LayerNorm output
            torch.testing.assert_close(got["self_attn_in"], got["resid_pre"])
            torch.testing.assert_close(got["resid_mid"], layer.norm1(got["resid_pre"] + got["self_attn_out"]))
            torch.testing.assert_close(got["resid_post"], layer.norm2(got["resid_mid"] + got["ff_out"]))
            torch.testing.assert_close(
                got["resid_post"].std(-1, unbiased=False), torch.ones(1, S), atol=0.05, rtol=0
            )
    torch.testing.assert_close(got["ff_out"], layer.ff(got["ff_in"]))


def test_memory_is_what_cross_attention_reads_and_its_keys_come_from_it(model):
    src, tgt = pair()
    t = capture_trace(model, src[0].tolist(), tgt[0].tolist(), full=True)
    with torch.no_grad():
        torch.testing.assert_close(t.memory, model.encode(src)[0])
        d = model.config.d_model
        for i, layer in enumerate(model.decoder.layers):
            attn = layer.cross_attn
            kv = F.linear(t.memory, attn.w_qkv.weight[d:], attn.w_qkv.bias[d:])  # (S, 2d)
            k = kv[:, :d].view(S, attn.n_heads, attn.d_k).transpose(0, 1)
            torch.testing.assert_close(t.qkv["cross"]["k"][i], k)
        torch.testing.assert_close(t.logits, model.generator(t.decoder_output))
    last = t.hidden["encoder"][-1]
    if model.config.norm == "pre":  # the final LayerNorm sits between the last layer and the memory
        assert not torch.allclose(t.memory, last, atol=1e-3)
        torch.testing.assert_close(t.memory, model.encoder.norm(last))
    else:
        assert torch.equal(t.memory, last)


def test_trace_is_built_from_hook_points_only(tiny_pretrained):
    t = tiny_pretrained.trace("The house is old.")
    for kind, path in (("encoder", "encoder.layers.1.self_attn"), ("cross", "decoder.layers.0.cross_attn")):
        layer = int(path.split(".")[2])
        assert torch.equal(t.attention[kind][layer], t.activations[f"{path}.hook_pattern"])
    assert torch.equal(t.hidden["decoder"][0], t.activations["decoder.layers.0.hook_resid_pre"])
    assert torch.equal(t.hidden["decoder"][-1], t.activations["decoder.layers.1.hook_resid_post"])
    assert torch.equal(t.logits, t.activations["hook_logits"])
    assert "encoder.layers.0.ff.hook_activation" not in t.activations  # only with full=True
    full = tiny_pretrained.trace("The house is old.", full=True)
    assert set(full.activations) == set(hook_points(tiny_pretrained.model))


def test_the_default_model_has_the_120_hook_points_the_app_and_readme_name():
    model = load_pretrained("en-de").model
    assert set(hook_points(model)) == set(expected_shapes(model.config))
    assert len(hook_points(model)) == 120


def test_every_hook_point_is_declared_as_an_attribute_a_search_finds(model):
    """`self.hook_resid_mid = HookPoint()` is written out in the source, not made in a loop."""
    source = "".join(p.read_text() for p in Path(transformer.__file__).parent.glob("*.py"))
    for path in hook_points(model):
        assert f"self.{path.rsplit('.', 1)[-1]} = HookPoint()" in source, path
