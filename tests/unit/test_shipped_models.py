"""The models in assets/: what the README and the cards promise about them holds for the files shipped."""

import json

import pytest

from tools.alignment import alignment_scores, best_layer_summary, load_set
from tools.evaluate import corpus_scores, longest_run
from transformer import load_pretrained
from transformer.pretrained import ASSETS, available_models

DEFAULT = (ASSETS / "DEFAULT").read_text().strip()


def test_default_is_the_english_german_model_and_loads_without_an_argument():
    assert DEFAULT == "en-de"
    m = load_pretrained()
    assert m.name == "en-de"
    assert m.config.n_heads in range(4, 9) and m.config.n_decoder_layers <= 6


@pytest.mark.parametrize("name", sorted(available_models()))
def test_every_shipped_model_has_a_card_and_fits_the_size_budget(name):
    path = available_models()[name]
    assert (path / "model.safetensors").stat().st_size <= 32 * 10**6
    card = (path / "README.md").read_text()
    assert "## Rebuild" in card and "python -m transformer.train" in card
    assert (path / "loss_curve.png").is_file()
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["parameters"] == load_pretrained(name).model.num_parameters()


@pytest.fixture(scope="module")
def en_de():
    return load_pretrained("en-de")


@pytest.mark.slow
def test_everyday_sentences_reach_chrf_55_without_degenerate_output(en_de):
    items = load_set()
    outs = [en_de.translate_ids(en_de.encode_source(i["en"])[0]) for i in items]
    hyps = [en_de.tokenizer.decode(o) for o in outs]
    chrf = corpus_scores(hyps, [i["de"] for i in items])["chrf"]
    assert chrf >= 55, chrf
    for ids in outs:
        assert longest_run(ids) <= 3
        assert en_de.config.eos_id in ids  # finished, not cut at the length limit


@pytest.mark.slow
def test_cross_attention_beats_the_diagonal_guess(en_de):
    best = best_layer_summary(alignment_scores(en_de, load_set()))["best_layer"]
    assert best["accuracy"] >= best["baseline"] + 0.15
    assert best["accuracy_moved"] >= best["baseline_moved"] + 0.3  # where word order moves the word
