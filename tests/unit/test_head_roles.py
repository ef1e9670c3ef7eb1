"""Head roles (transformer.head_roles) on hand-made attention patterns whose every score is known exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tools.alignment import word_attention
from transformer.head_roles import (
    MEASURES,
    ROLES,
    HeadRoles,
    head_roles,
    pool,
    set_roles,
    text_roles,
    trace_roles,
)

SRC = ["▁a", "▁b", "▁c", "▁d", "</s>"]  # an encoder sentence: four words and </s>
TGT = ["<s>", "▁x", "▁y", "▁z"]  # a decoder input


def heads(*patterns: np.ndarray) -> np.ndarray:
    """One layer of heads: (1, H, T_q, T_k)."""
    return np.stack(patterns)[None]


def shifted(n: int, offset: int) -> np.ndarray:
    """Each row's weight on the key `offset` away, or on itself where that key does not exist."""
    out = np.zeros((n, n))
    for q in range(n):
        out[q, q + offset if 0 <= q + offset < n else q] = 1
    return out


def test_a_previous_token_head_is_positional():
    r = head_roles(heads(shifted(5, -1)), "encoder", SRC, SRC)
    assert r.scores["previous"][0, 0] == 1 and r.scores["previous_argmax"][0, 0] == 1
    assert r.counts["previous"] == 4  # row 0 has no previous piece
    role, score = r.strongest()
    assert (role[0, 0], score[0, 0]) == ("previous", 1.0)


def test_a_next_token_head_is_positional():
    r = head_roles(heads(shifted(5, 1)), "encoder", SRC, SRC)
    assert r.scores["next"][0, 0] == 1 and r.scores["next_argmax"][0, 0] == 1
    assert r.strongest()[0][0, 0] == "next"


def test_an_identity_head_has_zero_entropy_and_confidence_without_eos():
    r = head_roles(heads(np.eye(5)), "encoder", SRC, SRC)
    assert r.scores["same"][0, 0] == 1 and r.scores["same_argmax"][0, 0] == 1
    assert r.scores["entropy"][0, 0] == 0
    assert r.scores["confidence"][0, 0] == pytest.approx(4 / 5)  # the </s> row's weight is on </s>: left out
    assert r.strongest()[0][0, 0] == "same"


def test_a_head_on_eos_is_parked():
    on_eos = np.zeros((5, 5))
    on_eos[:, -1] = 1
    r = head_roles(heads(on_eos), "encoder", SRC, SRC)
    assert r.scores["eos"][0, 0] == 1 and r.scores["parked"][0, 0] == 1
    assert r.scores["confidence"][0, 0] == 0 and np.isnan(r.scores["bos"][0, 0])  # no start piece in a source
    assert r.strongest()[0][0, 0] == "parked"


def test_punctuation_counts_as_parked():
    tokens = ["▁a", "▁b", ",", "▁c", "</s>"]
    on_comma = np.zeros((5, 5))
    on_comma[:, 2] = 1
    r = head_roles(heads(on_comma), "encoder", tokens, tokens)
    assert r.scores["punctuation"][0, 0] == 1 and r.scores["parked"][0, 0] == 1 and r.scores["eos"][0, 0] == 0


def test_a_uniform_head_is_broad_with_known_scores():
    r = head_roles(heads(np.full((5, 5), 0.2)), "encoder", SRC, SRC)
    assert r.scores["entropy"][0, 0] == pytest.approx(1)
    assert r.scores["confidence"][0, 0] == pytest.approx(0.2)
    assert r.scores["previous"][0, 0] == pytest.approx(0.2) and r.scores["parked"][0, 0] == pytest.approx(0.2)
    role, score = r.strongest()
    assert role[0, 0] == "broad" and score[0, 0] == pytest.approx(1)


def test_a_rare_word_head_looks_at_the_rarest_piece_never_at_punctuation():
    tokens = ["▁a", "▁b", "▁c", ".", "</s>"]
    rarity = [-1.0, -5.0, -2.0, -9.0, float("nan")]  # "." scores lowest but is punctuation
    on_b, on_a = np.zeros((5, 5)), np.zeros((5, 5))
    on_b[:, 1], on_a[:, 0] = 1, 1
    r = head_roles(heads(on_b, on_a), "encoder", tokens, tokens, rarity=rarity)
    assert r.scores["rare"][0].tolist() == [1.0, 0.0]
    assert r.strongest()[0][0, 0] == "rare"
    assert np.isnan(head_roles(heads(on_b), "encoder", tokens, tokens).scores["rare"][0, 0])  # no rarity


def test_the_decoders_row_zero_is_left_out():
    causal = np.tril(np.ones((4, 4)))
    uniform = causal / causal.sum(-1, keepdims=True)
    r = head_roles(heads(shifted(4, -1), uniform), "decoder", TGT, TGT)
    assert r.rows == 3 and r.counts["same"] == 3
    assert r.scores["same"][0, 0] == 0  # row 0's weight on itself (forced) would make it 1/4
    assert r.scores["previous"][0, 0] == 1 and r.scores["bos"][0, 0] == pytest.approx(1 / 3)
    assert r.scores["entropy"][0, 1] == pytest.approx(1)  # each row uniform over the keys it may see
    assert np.isnan(r.scores["next"]).all() and np.isnan(r.scores["eos"]).all()  # no key ahead, no </s>


def test_a_marian_start_piece_is_the_decoders_bos():
    tokens = ["<pad>", "▁x", "▁y"]
    on_start = np.tril(np.ones((3, 3)))
    on_start[:, 1:] = 0
    assert head_roles(heads(on_start), "decoder", tokens, tokens).scores["bos"][0, 0] == 1


def test_cross_attention_matches_a_hand_alignment_or_not():
    q, k = ["<s>", "▁Das", "▁Haus"], ["▁the", "▁house", "</s>"]
    pairs = [{"de": 0, "en": 0}, {"de": 1, "en": 1}]
    # row t predicts piece t + 1: row 0 makes "▁Das", row 1 "▁Haus", row 2 "</s>"
    right = np.array([[1.0, 0, 0], [0, 1, 0], [0, 0, 1]])
    wrong = right[[1, 0, 2]]
    r = head_roles(heads(right, wrong), "cross", q, k, aligned_pairs=pairs)
    assert r.scores["aligned"][0].tolist() == [1.0, 0.0] and r.counts["aligned"] == 2
    assert r.strongest()[0][0, 0] == "aligned"
    assert all(np.isnan(r.scores[m]).all() for m in ("previous", "same_argmax", "next"))  # no offsets
    assert np.isnan(head_roles(heads(right), "cross", q, k).scores["aligned"]).all()  # no alignment given


def test_aligned_agrees_with_tools_alignment_on_words_of_several_pieces():
    q, k = ["<s>", "▁Haus", "tür", "▁ist", "▁zu"], ["▁the", "▁front", "door", "▁is", "▁shut", "</s>"]
    pairs = [{"de": 0, "en": 1}, {"de": 1, "en": 2}, {"de": 2, "en": 3}]
    a = torch.rand(2, 3, 5, 6, generator=torch.Generator().manual_seed(0)).softmax(-1)
    got = head_roles(a, "cross", q, k, aligned_pairs=pairs).scores["aligned"]
    for layer, head in np.ndindex(2, 3):
        best = word_attention(a[layer, head], q, k).argmax(-1)
        assert got[layer, head] == np.mean([best[p["de"]].item() == p["en"] for p in pairs])


def test_pooling_weighs_each_sentence_by_its_rows():
    long = head_roles(heads(np.eye(5)), "encoder", SRC, SRC)  # same = 1 over 5 rows
    short = head_roles(heads(np.full((3, 3), 1 / 3)), "encoder", SRC[2:], SRC[2:])  # same = 1/3 over 3 rows
    both = pool([long, short])
    assert both.scores["same"][0, 0] == pytest.approx((5 * 1 + 3 * (1 / 3)) / 8)  # not (1 + 1/3) / 2
    assert (both.rows, both.sentences) == (8, 2)


@pytest.mark.parametrize(
    "attention, kind, q, k, message",
    [
        (np.eye(5), "encoder", SRC, SRC, r"\(L, H, T_q, T_k\)"),
        (heads(np.eye(5)), "encoder", SRC[:4], SRC, r"4 query and 5 key pieces"),
        (heads(np.ones((3, 5)) / 5), "encoder", SRC[:3], SRC, "must be square"),
        (heads(np.eye(5)), "self", SRC, SRC, "kind must be one of"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(attention, kind, q, k, message):
    with pytest.raises(ValueError, match=message):
        head_roles(attention, kind, q, k)


def test_bad_rarity_pairs_or_pool_are_refused():
    with pytest.raises(ValueError, match="one score per key piece"):
        head_roles(heads(np.eye(5)), "encoder", SRC, SRC, rarity=[0.0])
    with pytest.raises(ValueError, match="outside the 2 target and 4 source words"):
        head_roles(
            heads(np.ones((3, 5)) / 5), "cross", ["<s>", "▁x", "▁y"], SRC, aligned_pairs=[{"de": 2, "en": 0}]
        )
    encoder = head_roles(heads(np.eye(5)), "encoder", SRC, SRC)
    with pytest.raises(ValueError, match="one kind of one model"):
        pool([encoder, head_roles(heads(np.eye(4)), "decoder", TGT, TGT)])


def test_every_kind_of_a_real_model_gets_scores_in_range(tiny_pretrained):
    items = [
        {"en": "The house is old.", "de": "Das Haus ist alt.", "pairs": [{"de": 1, "en": 1}]},
        {"en": "The cat sleeps.", "de": "Die Katze schläft.", "pairs": [{"de": 0, "en": 0}]},
    ]
    one = trace_roles(
        tiny_pretrained, tiny_pretrained.trace(items[0]["en"], target=items[0]["de"]), items[0]["pairs"]
    )
    pooled = set_roles(tiny_pretrained, items)
    cfg = tiny_pretrained.config
    for roles in (one, pooled):
        assert set(roles) == {"encoder", "decoder", "cross"}
        for kind, r in roles.items():
            assert isinstance(r, HeadRoles) and r.kind == kind and list(r.scores) == list(MEASURES)
            assert r.shape == (
                cfg.n_encoder_layers if kind == "encoder" else cfg.n_decoder_layers,
                cfg.n_heads,
            )
            values = np.stack(list(r.scores.values()))
            assert ((values >= 0) & (values <= 1 + 1e-9) | np.isnan(values)).all()
            assert set(r.strongest()[0].ravel()) <= set(ROLES)
    assert pooled["cross"].sentences == 2 and pooled["cross"].counts["aligned"] == 2
    assert not np.isnan(pooled["encoder"].scores["rare"]).any()


def test_the_command_prints_each_kinds_grid_and_what_to_notice(capsys):
    from tools.head_roles import main

    threads = torch.get_num_threads()
    try:
        main(["--model", "reverse", "--sentence", "a b c d", "--all"])
    finally:
        torch.set_num_threads(threads)  # the command keeps to one thread; the tests after it need not
    out = capsys.readouterr().out
    assert all(f"{kind} (" in out for kind in ("encoder", "decoder", "cross"))
    assert "encoder rare:" in out and "heads positional" in out and "most parked" in out


def test_a_head_reading_one_piece_no_role_names_is_focused_not_broad():
    """The `reverse` toy's mirrored position: no offset, nothing parked, no rare piece, yet each row reads one
    key. Named "focused" by its confidence, not "broad"."""
    n = 6
    mirrored = np.zeros((1, 1, n, n))
    mirrored[0, 0, np.arange(n), n - 1 - np.arange(n)] = 0.8
    mirrored[0, 0] += 0.2 / n
    tokens = [f"▁{c}" for c in "abcdef"]
    roles = head_roles(mirrored, "cross", tokens, tokens)
    name, score = roles.strongest()
    assert name[0, 0] == "focused"
    assert score[0, 0] == pytest.approx(0.8 + 0.2 / n)


def test_sentences_without_a_reference_pool_every_row_of_their_own_translations(tiny_pretrained):
    texts = ["The house is old.", "I know that she speaks German."]
    pooled = text_roles(tiny_pretrained, texts)
    each = [trace_roles(tiny_pretrained, tiny_pretrained.trace(t)) for t in texts]
    for kind, roles in pooled.items():
        assert roles.sentences == 2
        assert roles.rows == sum(e[kind].rows for e in each)
        assert roles.counts["aligned"] == 0  # no reference, no hand alignment
    with pytest.raises(ValueError, match="no sentences"):
        text_roles(tiny_pretrained, [])
