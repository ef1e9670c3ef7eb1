"""Capture: per-call, per-thread hooks that leave nothing behind; what a trace holds."""

import json
import math
import pickle
import threading

import numpy as np
import pytest
import torch

from transformer import Trace, count_hooks, hooks, zero_heads
from transformer.capture import attention_path
from transformer.trace import capture_trace


def test_trace_shapes_and_rows_sum_to_one(tiny_pretrained):
    t = tiny_pretrained.trace("The house is old.", full=True)
    cfg = tiny_pretrained.config
    S, T = len(t.src_tokens), len(t.tgt_tokens)
    assert t.src_tokens[-1] == "</s>" and t.tgt_tokens[0] == "<s>"
    assert t.attention["encoder"].shape == (cfg.n_encoder_layers, cfg.n_heads, S, S)
    assert t.attention["decoder"].shape == (cfg.n_decoder_layers, cfg.n_heads, T, T)
    assert t.attention["cross"].shape == (cfg.n_decoder_layers, cfg.n_heads, T, S)
    for kind, a in t.attention.items():
        torch.testing.assert_close(a.sum(-1), torch.ones(a.shape[:-1]), msg=kind)
    assert t.attention["decoder"][..., torch.ones(T, T, dtype=torch.bool).triu(1)].abs().max() == 0
    assert t.hidden["encoder"].shape == (cfg.n_encoder_layers + 1, S, cfg.d_model)
    assert t.embeddings["src_input"].shape == (S, cfg.d_model)
    torch.testing.assert_close(
        t.embeddings["src_token"] + t.embeddings["src_position"], t.embeddings["src_input"]
    )
    torch.testing.assert_close(t.hidden["encoder"][0], t.embeddings["src_input"])
    assert t.probs.shape == (T, cfg.tgt_vocab_size)
    assert t.qkv["cross"]["k"].shape == (cfg.n_decoder_layers, cfg.n_heads, S, cfg.d_head)
    assert t.qkv["cross"]["z"].shape == (cfg.n_decoder_layers, cfg.n_heads, T, cfg.d_head)
    assert t.memory.shape == (S, cfg.d_model) and t.decoder_output.shape == (T, cfg.d_model)
    torch.testing.assert_close(t.qkv["encoder"]["scores"].softmax(-1), t.attention["encoder"])


def test_trace_on_a_given_target(tiny_pretrained):
    t = tiny_pretrained.trace("The house is old.", target="Das Haus ist alt.")
    assert not t.generated
    assert "".join(t.tgt_tokens[1:]).replace("▁", " ").strip() == "Das Haus ist alt."
    assert t.attention["cross"].shape[2] == len(t.tgt_tokens)


def test_trace_matches_the_models_own_output(tiny_pretrained):
    model = tiny_pretrained.model
    t = tiny_pretrained.trace("I live in a small village.")
    with torch.no_grad():
        logits = model(torch.tensor([t.src_ids]), torch.tensor([t.tgt_ids]))[0]
    torch.testing.assert_close(t.logits, logits)


def test_no_hook_is_left_after_many_traces_and_after_one_that_raised(tiny_pretrained):
    model = tiny_pretrained.model
    for text in ["a", "The house is old.", "", "Ich wohne hier."] * 5:
        tiny_pretrained.trace(text, full=True)
    assert count_hooks(model) == 0

    def explode(module, inputs, output):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        tiny_pretrained.trace(
            "The house is old.", interventions=[(attention_path("cross", 1) + ".hook_pattern", explode)]
        )
    assert count_hooks(model) == 0
    with pytest.raises(AttributeError), hooks(model, [("no.such.module", explode)]):
        pass
    assert count_hooks(model) == 0
    valid = [(p, explode) for p in ("encoder.hook_memory", "decoder.layers.0.hook_resid_mid", "hook_logits")]
    with pytest.raises(AttributeError), hooks(model, [*valid, ("decoder.layers.9.hook_resid_pre", explode)]):
        pass  # the first three were registered before the fourth failed: all must be gone
    assert count_hooks(model) == 0


def test_threads_tracing_through_one_model_get_their_own_attention(tiny_pretrained):
    sentences = [
        "The house is old.",
        "I live in a small village near the river.",
        "Where is the station?",
        "The cat sleeps.",
        "Das Haus ist alt.",
        "It is over there, near the warm river.",
        "a b c d e f g",
        "Wo?",
    ]
    expected = {s: tiny_pretrained.trace(s) for s in sentences}
    results, errors = {}, []
    barrier = threading.Barrier(len(sentences))

    def work(s):
        try:
            barrier.wait()
            for _ in range(5):
                results.setdefault(s, []).append(tiny_pretrained.trace(s))
        except Exception as e:  # surfaced by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in sentences]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    for s in sentences:
        for t in results[s]:
            assert t.src_tokens == expected[s].src_tokens
            for kind in ("encoder", "decoder", "cross"):
                torch.testing.assert_close(t.attention[kind], expected[s].attention[kind])
    assert count_hooks(tiny_pretrained.model) == 0


def test_ablating_a_head_zeroes_its_contribution(tiny_pretrained):
    text = "The house is old."
    base = tiny_pretrained.trace(text, target="Das Haus ist alt.", full=True)
    ablated = tiny_pretrained.trace(
        text, target="Das Haus ist alt.", interventions=zero_heads([(("cross", 0, 1),)])
    )
    # the heads' own attention in the ablated layer is unchanged, what follows it changes
    torch.testing.assert_close(ablated.attention["cross"][0], base.attention["cross"][0])
    assert not torch.allclose(ablated.hidden["decoder"][1], base.hidden["decoder"][1])
    assert not torch.allclose(ablated.logits, base.logits)
    assert count_hooks(tiny_pretrained.model) == 0


def test_trace_to_json_round_trips_tokens(tiny_pretrained):
    import json

    t = tiny_pretrained.trace('<b>bold</b> & "quoted"')
    data = json.loads(t.to_json())
    assert data["src_tokens"] == t.src_tokens
    assert len(data["attention"]["cross"]) == tiny_pretrained.config.n_decoder_layers


def test_capture_trace_returns_a_trace_with_the_models_norm_and_the_chosen_pieces_logprobs(tiny_pretrained):
    m = tiny_pretrained
    src_ids, _ = m.encode_source("The house is old.")
    tgt_ids = [m.config.start_id, 7, 9, 11]
    t = capture_trace(m.model, src_ids, tgt_ids)
    assert isinstance(t, Trace) and t.norm == m.config.norm
    following = [7, 9, 11, m.config.eos_id]  # what each row was to predict, eos after the last
    expected = [math.log(t.probs[row, i].item()) for row, i in enumerate(following)]
    assert t.logprobs == pytest.approx(expected, abs=1e-6)
    assert t.mean_logprob == pytest.approx(sum(expected) / 4, abs=1e-6)


def test_next_token_is_the_piece_read_next_and_the_end_piece_after_the_last(tiny_pretrained):
    t = tiny_pretrained.trace("The house is old.")
    assert [t.next_token(s) for s in range(len(t.tgt_tokens))] == [*t.tgt_tokens[1:], "</s>"]


def test_numpy_trace_holds_float32_arrays_and_pickles(tiny_pretrained):
    t = tiny_pretrained.trace("The house is old.", full=True)
    n = t.numpy()
    back = pickle.loads(pickle.dumps(n))
    for got in (n, back):
        assert got.attention["cross"].dtype == np.float32 and isinstance(got.memory, np.ndarray)
        np.testing.assert_array_equal(got.attention["cross"], t.attention["cross"].numpy())
        np.testing.assert_array_equal(got.hidden["decoder"], t.hidden["decoder"].numpy())
        np.testing.assert_array_equal(got.qkv["encoder"]["q"], t.qkv["encoder"]["q"].numpy())
        assert got.tgt_tokens == t.tgt_tokens and got.logprobs == t.logprobs
        assert got.n_layers == t.n_layers and got.n_heads == t.n_heads and got.norm == t.norm
    assert n.activations == {}  # copies of the fields above, left out unless asked for
    kept = t.numpy(activations=True).activations
    assert set(kept) == set(t.activations)
    assert all(a.dtype == np.float32 for a in kept.values())
    assert json.loads(n.to_json()) == json.loads(t.to_json())
