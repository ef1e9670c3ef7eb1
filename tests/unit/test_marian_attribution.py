"""Attribution checked against an independent implementation: gradient × input and the value-norm weighting of a
converted Marian model equal the same formulas computed on `transformers`' MarianMTModel with the same weights
(the tiny random model of tests/support/marian.py), within 1e-4."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")

from tests.support.marian import DE, EN, load_reference, tiny_marian_dir  # noqa: E402
from transformer import load_pretrained  # noqa: E402
from transformer.analysis import predicted_ids  # noqa: E402
from transformer.attribution import attribute  # noqa: E402
from transformer.marian import convert  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")
TOL = 1e-4
PAIRS = [(EN[2], DE[2]), (EN[3], DE[3])]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """(our converted Pretrained, transformers' MarianMTModel)."""
    tmp = tmp_path_factory.mktemp("marian-attr")
    src = tiny_marian_dir(tmp / "src")
    convert(src, tmp / "out")
    reference, _ = load_reference(src)
    return load_pretrained(tmp / "out"), reference


def their_grad_x_input(ref, src: list[int], tgt: list[int], eos: int) -> np.ndarray:
    """Σ_d e_j ⊙ ∂ log p(y_t)/∂e_j through transformers' own forward, e_j = embed_tokens(src_j) before its
    embed_scale; one backward per row."""
    encoder = ref.model.encoder
    e = encoder.embed_tokens.weight.detach()[torch.tensor(src)]  # (S, d)
    following = predicted_ids(tgt, eos)
    rows = []
    for t in range(len(tgt)):
        leaf = e.clone().requires_grad_(True)
        with torch.enable_grad():
            logits = ref(
                inputs_embeds=(leaf * encoder.embed_scale)[None], decoder_input_ids=torch.tensor([tgt])
            ).logits[0]
            (grad,) = torch.autograd.grad(logits[t].log_softmax(-1)[following[t]], leaf)
        rows.append((leaf * grad).sum(-1).detach())
    return torch.stack(rows).numpy()


def their_value_norm(ref, src: list[int], tgt: list[int], layer: int, head: int | None) -> np.ndarray:
    """‖Σ_h α^h_tj (m_j W_V^h + b_V^h) W_O^h‖ from transformers' encoder_attn weights, its cross_attentions
    and the encoder's last_hidden_state (Marian is post-norm: that is what encoder_attn reads)."""
    with torch.no_grad():
        out = ref(
            input_ids=torch.tensor([src]), decoder_input_ids=torch.tensor([tgt]), output_attentions=True
        )
        memory = out.encoder_last_hidden_state[0]  # (S, d)
        alpha = out.cross_attentions[layer][0]  # (H, T, S)
        attn = ref.model.decoder.layers[layer].encoder_attn
        H = alpha.shape[0]
        dk = memory.shape[-1] // H
        v = attn.v_proj(memory)  # (S, d)
        f = torch.stack(
            [v[:, h * dk : (h + 1) * dk] @ attn.out_proj.weight[:, h * dk : (h + 1) * dk].T for h in range(H)]
        )  # (H, S, d)
        heads = range(H) if head is None else [head]
        total = sum(alpha[h][:, :, None] * f[h][None] for h in heads)  # (T, S, d)
        return total.norm(dim=-1).numpy()


@pytest.mark.parametrize("en, de", PAIRS)
def test_grad_x_input_equals_the_formula_on_transformers_marian(models, en, de):
    ours, ref = models
    trace = ours.trace(en, target=de).numpy()
    got = attribute(ours, trace, "grad_x_input")
    want = their_grad_x_input(ref, trace.src_ids, trace.tgt_ids, ours.config.eos_id)
    assert got.shape == want.shape == (len(trace.tgt_ids), len(trace.src_ids))
    assert np.abs(got - want).max() <= TOL
    assert np.abs(want).max() > 0.01  # not a comparison of zeros


@pytest.mark.parametrize("en, de", PAIRS)
def test_value_norm_equals_the_formula_on_transformers_marian(models, en, de):
    ours, ref = models
    trace = ours.trace(en, target=de).numpy()
    for layer in range(ours.config.n_decoder_layers):
        for head in (None, *range(ours.config.n_heads)):
            got = attribute(ours, trace, "value_norm", layer, head)
            want = their_value_norm(ref, trace.src_ids, trace.tgt_ids, layer, head)
            assert np.abs(got - want).max() <= TOL, (layer, head)
