"""state.fit_to_trace keeps the Embeddings view's chosen positions valid, whatever form the browser sends."""

from types import SimpleNamespace

import numpy as np

from app_support import registry, state


def session(paths) -> dict:
    ss = dict(registry.defaults())
    ss.update(text="x", model="m", _from_url=set(), emb_paths=paths)
    return ss


def trace(n_src: int = 5, n_tgt: int = 4):
    hidden = {"encoder": np.zeros((3, n_src, 2)), "decoder": np.zeros((3, n_tgt, 2))}
    return SimpleNamespace(
        src_tokens=["a"] * n_src, tgt_tokens=["<s>"] + ["b"] * (n_tgt - 1), hidden=hidden, norm="post"
    )


def test_positions_sent_back_as_text_become_numbers():
    ss = session(["0", "3"])
    state.fit_to_trace(ss, registry.params(), trace())
    assert ss["emb_paths"] == [0, 3]


def test_positions_outside_the_sentence_or_not_numbers_reset_the_choice():
    for bad in (["9"], ["x"], [7]):
        ss = session(bad)
        state.fit_to_trace(ss, registry.params(), trace())
        assert ss["emb_paths"] is None


def test_the_nearest_neighbours_piece_sent_back_as_text_becomes_a_number():
    """Found by the app benchmark: after a new sentence the browser sent the "Piece" select box's value back as
    "3", and comparing it with a number raised a TypeError in the Embeddings view."""
    ss = session(None)
    ss["emb_nn_token"] = "3"
    state.fit_to_trace(ss, registry.params(), trace())
    assert ss["emb_nn_token"] == 3
    for bad in ("x", "9", -1, None, "2.5"):
        ss = session(None)
        ss["emb_nn_token"] = bad
        state.fit_to_trace(ss, registry.params(), trace())
        assert ss["emb_nn_token"] == 0, bad
