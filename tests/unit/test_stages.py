"""app_support.stages: every stage the Anatomy and Embeddings views draw is a real hook point, named for
the model's LayerNorm placement."""

import pytest
import torch

from app_support.stages import layer_stages, stream_stages
from tests.support.tiny import tiny_config
from transformer import Transformer, record
from transformer.capture import hook_points


@pytest.mark.parametrize("norm", ["pre", "post"])
@pytest.mark.parametrize("stack", ["encoder", "decoder"])
def test_every_stage_is_a_hook_point_and_labels_follow_the_placement(norm, stack):
    model = Transformer(tiny_config(norm=norm)).eval()
    last = model.config.n_encoder_layers - 1
    stages = layer_stages(stack, last, norm, last=True)
    assert all(s.path in hook_points(model) for s in stages)
    norms = [s for s in stages if s.role == "norm"]
    streams = [s for s in stages if s.role == "stream"]
    if norm == "pre":  # one LayerNorm per sub-layer, read by it, plus the stack's final one
        assert len(norms) == (3 if stack == "encoder" else 4)
        assert all("LayerNorm output" in s.label or "final LayerNorm" in s.label for s in norms)
        assert all("not normalised" in s.label for s in streams[1:])
    else:  # the stream after each sub-layer is the LayerNorm output; nothing else is normalised
        assert norms == []
        assert all("LayerNorm" in s.label for s in streams[1:])
    assert streams[0].path.endswith("hook_resid_pre") and streams[-1].path.endswith("hook_resid_post")


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_the_labels_say_what_the_tensors_are(norm):
    """A stage labelled 'LayerNorm output' has mean 0 / spread 1 per piece (LayerNorm's weight is 1 and its
    bias 0 at initialisation); a stream labelled 'not normalised' does not."""
    torch.manual_seed(0)
    model = Transformer(tiny_config(norm=norm)).eval()
    stages = layer_stages("encoder", 1, norm, last=True)
    src, tgt = torch.randint(4, 64, (1, 9)), torch.randint(4, 64, (1, 6))
    with torch.no_grad(), record(model, [s.path for s in stages]) as store:
        model(src, tgt)
    for s in stages:
        x = store[s.path][0][0]
        normalised = torch.allclose(x.std(-1, unbiased=False), torch.ones(9), atol=1e-3)
        says_normalised = (
            "LayerNorm" in s.label and "not normalised" not in s.label and "(embedding" not in s.label
        )
        assert normalised == says_normalised, s.label


def test_stream_stages_add_the_final_norm_only_when_pre_norm():
    assert stream_stages("encoder", 3, "pre")[-1] == "final LayerNorm (memory)"
    assert len(stream_stages("encoder", 3, "pre")) == 5
    assert len(stream_stages("decoder", 3, "post")) == 4
    assert all("LayerNorm output" in s for s in stream_stages("decoder", 3, "post")[1:])
