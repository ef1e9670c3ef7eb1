"""`python -m tools.evaluate`: test-set BLEU/chrF and degenerate-output counts."""

import json

import pytest

from tools.evaluate import corpus_scores, longest_run, score_files
from transformer.data import synthetic_pairs, write_tsv
from transformer.pretrained import load_pretrained


def test_longest_run():
    assert longest_run([]) == 0
    assert longest_run([5]) == 1
    assert longest_run([5, 6, 6, 6, 7, 6]) == 3
    assert longest_run([1, 1, 1, 1, 1]) == 5


def test_reverse_model_scores_perfectly_and_subsets_reuse_translations(tmp_path):
    pairs = synthetic_pairs("reverse", 40, seed=99, min_len=3, max_len=8, n_symbols=10)
    write_tsv(tmp_path / "test.tsv", pairs)
    write_tsv(tmp_path / "sub.tsv", pairs[:10])
    write_tsv(tmp_path / "wrong.tsv", [(s, "x y z") for s, _ in pairs[:10]])
    model = load_pretrained("reverse")
    full, sub, wrong = score_files(
        model, [tmp_path / f for f in ("test.tsv", "sub.tsv", "wrong.tsv")], beam=2
    )
    assert full["sentences"] == 40 and sub["sentences"] == 10
    assert full["chrf"] >= 99 and sub["chrf"] >= 99
    assert wrong["chrf"] < 20  # the same outputs against wrong references score low
    assert full["repeats_over_3"] == 0 and full["hit_length_limit"] == 0
    assert [h for _, h, _ in sub["translations"]] == [h for _, h, _ in full["translations"][:10]]


def test_cli_prints_one_json_line_per_file_and_writes_translations(python_m, tmp_path):
    pairs = synthetic_pairs("reverse", 12, seed=5, min_len=3, max_len=6, n_symbols=10)
    write_tsv(tmp_path / "t.tsv", pairs)
    done = python_m.run("tools.evaluate", "--model", "reverse", "--beam", "1",
                        str(tmp_path / "t.tsv"), "--json", str(tmp_path / "out.json"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    line = json.loads(done.stdout.strip())
    assert line["file"] == "t.tsv" and line["sentences"] == 12 and line["beam"] == 1
    saved = json.loads((tmp_path / "out.json").read_text())
    assert len(saved[0]["translations"]) == 12


def test_cli_reports_a_missing_model_without_a_traceback(python_m, tmp_path):
    (tmp_path / "t.tsv").write_text("a\tb\n")
    done = python_m.run("tools.evaluate", "--model", str(tmp_path / "nope"), str(tmp_path / "t.tsv"))
    assert done.returncode == 2
    assert "error:" in done.stderr and "Traceback" not in done.stderr


def test_corpus_scores_are_sacrebleu_corpus_bleu_and_chrf():
    perfect = corpus_scores(["das haus ist alt", "guten morgen"], ["das haus ist alt", "guten morgen"])
    assert perfect["bleu"] == pytest.approx(100) and perfect["chrf"] == pytest.approx(100)
    assert corpus_scores(["xyz"], ["das haus ist alt"])["chrf"] < 10
