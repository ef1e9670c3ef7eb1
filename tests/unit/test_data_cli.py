"""Batching, synthetic tasks and the command-line tools."""

import pytest
import torch

from transformer.data import EncodedPairs, collate, make_batches, read_tsv, synthetic_pairs, write_tsv


def encoded(n=300, seed=0):
    import random

    rng = random.Random(seed)
    src = [[rng.randint(4, 50) for _ in range(rng.randint(1, 30))] + [3] for _ in range(n)]
    tgt = [[rng.randint(4, 50) for _ in range(rng.randint(1, 30))] for _ in range(n)]
    return EncodedPairs(src, tgt)


def test_batches_respect_the_token_budget_and_cover_every_pair_once():
    data = encoded()
    batches = make_batches(data, max_tokens=200, seed=1, epoch=0)
    seen = sorted(i for b in batches for i in b)
    assert seen == list(range(len(data.src)))
    for b in batches:
        longest = max(max(len(data.src[i]), len(data.tgt[i]) + 1) for i in b)
        assert longest * len(b) <= 200 or len(b) == 1


def test_batch_order_is_a_function_of_seed_and_epoch():
    data = encoded()
    assert make_batches(data, 200, seed=1, epoch=3) == make_batches(data, 200, seed=1, epoch=3)
    assert make_batches(data, 200, seed=1, epoch=3) != make_batches(data, 200, seed=1, epoch=4)


def test_collate_shifts_the_target_by_one():
    data = EncodedPairs([[7, 8, 3]], [[9, 10, 11]])
    b = collate(data, [0], pad_id=0, bos_id=2, eos_id=3)
    assert b.tgt_in.tolist() == [[2, 9, 10, 11]]
    assert b.tgt_out.tolist() == [[9, 10, 11, 3]]
    assert b.n_tokens == 4


def test_collate_pads_rows_of_different_lengths():
    data = EncodedPairs([[7, 3], [7, 8, 9, 3]], [[9, 10, 11], [12]])
    b = collate(data, [0, 1], pad_id=0, bos_id=2, eos_id=3)
    assert b.src.tolist() == [[7, 3, 0, 0], [7, 8, 9, 3]]
    assert b.tgt_in.tolist() == [[2, 9, 10, 11], [2, 12, 0, 0]]
    assert b.tgt_out.tolist() == [[9, 10, 11, 3], [12, 3, 0, 0]]
    assert b.src.dtype == b.tgt_in.dtype == torch.long
    assert b.n_tokens == 6


@pytest.mark.parametrize(
    "task, check", [("copy", lambda s: s), ("reverse", lambda s: s[::-1]), ("sort", sorted)]
)
def test_synthetic_tasks(task, check):
    for src, tgt in synthetic_pairs(task, 50, seed=3):
        assert tgt.split() == list(check(src.split()))


def test_tsv_round_trip_skips_malformed_lines(tmp_path):
    path = tmp_path / "x.tsv"
    write_tsv(path, [("a b", "c d"), ("e", "f")])
    with open(path, "a") as fh:
        fh.write("no tab here\n\tempty source\ntoo\tmany\ttabs\n")
    assert read_tsv(path) == [("a b", "c d"), ("e", "f")]


def test_translate_cli_translates_with_a_shipped_model(python_m):
    proc = python_m.run("transformer.translate", "--model", "reverse", "c a f b", "j i h")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["b f a c", "h i j"]


def test_translate_cli_reports_a_bad_model_without_a_traceback(python_m, tmp_path):
    proc = python_m.run("transformer.translate", "--model", str(tmp_path / "nope"), "hello")
    assert proc.returncode == 2
    assert "no checkpoint" in proc.stderr and "Traceback" not in proc.stderr


def test_data_cli_writes_a_synthetic_task(python_m, tmp_path):
    proc = python_m.run(
        "transformer.data", "synthetic", "--task", "sort", "--out", str(tmp_path), "--train-size", "30"
    )
    assert proc.returncode == 0, proc.stderr
    assert len(read_tsv(tmp_path / "train.tsv")) == 30


def test_data_cli_no_longer_extracts_the_corpus_and_says_where_that_went(python_m):
    gone = python_m.run("transformer.data", "freedict", "--out", "x")
    assert gone.returncode == 2 and "invalid choice: 'freedict'" in gone.stderr
    assert "python -m tools.freedict" in python_m.run("transformer.data", "--help").stdout
