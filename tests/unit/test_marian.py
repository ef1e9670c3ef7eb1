"""`transformer.marian`: a Marian (opus-mt) checkpoint converted into our modules computes what
`transformers` computes, offline, on a tiny random MarianMTModel (tests/support/marian.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

pytest.importorskip("transformers")

from tests.support.forked_cli import ForkedCli  # noqa: E402
from tests.support.marian import DE, EN, load_reference, tiny_marian_dir  # noqa: E402
from transformer import load_pretrained  # noqa: E402
from transformer.capture import hook_points  # noqa: E402
from transformer.checkpoint import CheckpointError  # noqa: E402
from transformer.embeddings import is_sine_dimension, sinusoidal_table, split_sinusoidal_table  # noqa: E402
from transformer.marian import MarianError, convert, load_marian  # noqa: E402
from transformer.tokenizer import MarianTokenizer  # noqa: E402
from transformer.trace import capture_trace  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")
ROOT = Path(__file__).resolve().parents[2]
TOL = 1e-5
ODD = ["", "naïve café 🐈", "  several   spaces  ", ">>de<< The house is old.", "ÜBER ALLES zzz 123"]


_CLI: list[ForkedCli] = []  # one forking interpreter for the module (`cli`)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """`python -m transformer.marian ...` in a fresh process in which `transformers` cannot be imported: a
    fork of one interpreter that has imported `transformer.marian` so (tests/support/forked_cli.py)."""
    return _CLI[0].run(*args)


@pytest.fixture(scope="module", autouse=True)
def cli():
    prelude = "import sys; sys.modules['transformers'] = None; from transformer.marian import main"
    _CLI.append(ForkedCli(prelude, "sys.exit(main())", cwd=ROOT))
    yield
    _CLI.pop().close()


@pytest.fixture(scope="module")
def marian(tmp_path_factory):
    """(source directory, converted directory, transformers' model, transformers' tokenizer)."""
    tmp = tmp_path_factory.mktemp("marian")
    src = tiny_marian_dir(tmp / "src")
    (src / "README.md").write_text("---\nlanguage: [en, de]\nlicense: cc-by-4.0\n---\n# tiny\n")
    done = run_cli(str(src), "--out", str(tmp / "out"))
    assert done.returncode == 0, done.stderr
    model, tok = load_reference(src)
    return src, tmp / "out", model, tok


@pytest.fixture(scope="module")
def ours(marian):
    return load_pretrained(marian[1])


def reference_pass(model, src_ids, tgt_ids):
    with torch.no_grad():
        return model(
            input_ids=torch.tensor([src_ids]),
            decoder_input_ids=torch.tensor([tgt_ids]),
            output_attentions=True,
        )


# --- the pieces -----------------------------------------------------------------------------------


def test_split_positional_table_is_marians_exactly():
    from transformers.models.marian.modeling_marian import MarianSinusoidalPositionalEmbedding

    for n, d in ((512, 512), (64, 16), (10, 7)):
        theirs = MarianSinusoidalPositionalEmbedding(n, d).create_weight()
        assert torch.equal(split_sinusoidal_table(n, d), theirs), (n, d)


def test_sine_dimensions_are_named_for_both_layouts():
    for positional, table in (
        ("sinusoidal", sinusoidal_table(8, 6)),
        ("sinusoidal_split", split_sinusoidal_table(8, 6)),
    ):
        assert [is_sine_dimension(positional, 6, d) for d in range(6)] == (
            table[0] == 0
        ).tolist()  # sin 0 = 0


@pytest.mark.parametrize("text", EN + ODD)
def test_source_ids_are_marian_tokenizers(marian, ours, text):
    _, _, _, tok = marian
    assert ours.encode_source(text)[0] == tok(text).input_ids  # eos appended, vocab.json ids
    assert ours.tokenizer.pieces(ours.encode_source(text)[0]) == tok.convert_ids_to_tokens(
        tok(text).input_ids
    )


@pytest.mark.parametrize("text", DE + ODD)
def test_target_ids_and_text_are_marian_tokenizers(marian, ours, text):
    _, _, _, tok = marian
    ids = ours.tokenizer.encode_target(text)
    assert ids + [ours.config.eos_id] == tok(text_target=text).input_ids  # cut by target.spm
    expected = tok.decode(ids, skip_special_tokens=False, use_source_tokenizer=False)  # <unk> shown
    assert ours.tokenizer.decode([ours.config.start_id, *ids, ours.config.eos_id]) == expected


def test_unknown_pieces_become_unk(marian, ours):
    ids = ours.tokenizer.encode("ẞ Ω")  # characters neither sentencepiece model saw
    assert ours.config.unk_id in ids


# --- equivalence ----------------------------------------------------------------------------------


@pytest.mark.parametrize("i", range(len(EN)))
def test_logits_and_every_attention_map_agree_with_transformers(marian, ours, i):
    _, _, ref, _ = marian
    src = ours.encode_source(EN[i])[0]
    tgt = [ours.config.start_id] + ours.tokenizer.encode_target(DE[i])
    theirs = reference_pass(ref, src, tgt)
    got = capture_trace(ours.model, src, tgt)
    assert (got.logits - theirs.logits[0]).abs().max() <= TOL
    for kind, name in (
        ("encoder", "encoder_attentions"),
        ("decoder", "decoder_attentions"),
        ("cross", "cross_attentions"),
    ):
        expected = torch.stack([a[0] for a in getattr(theirs, name)])  # (layers, heads, T_q, T_k)
        assert got.attention[kind].shape == expected.shape
        assert (got.attention[kind] - expected).abs().max() <= TOL, kind


def test_greedy_decoding_equals_generate(marian, ours):
    _, _, ref, _ = marian
    for text in EN + ODD[1:]:
        src = ours.encode_source(text)[0]
        expected = ref.generate(torch.tensor([src]), num_beams=1, do_sample=False, max_new_tokens=30)[
            0
        ].tolist()
        assert ours.translate_ids(src, beam=1, max_len=30) == expected


def test_greedy_decoding_that_ends_with_eos_equals_generate(tmp_path):
    src_dir = tiny_marian_dir(tmp_path / "src", eos_bias=4.0)  # eos early for some sentences
    convert(src_dir, tmp_path / "out")
    ours = load_pretrained(tmp_path / "out")
    ref, _ = load_reference(src_dir)
    ended = 0
    for text in EN:
        src = ours.encode_source(text)[0]
        expected = ref.generate(torch.tensor([src]), num_beams=1, do_sample=False, max_new_tokens=30)[
            0
        ].tolist()
        got = ours.translate_ids(src, beam=1, max_len=30)
        assert got == expected
        ended += got[-1] == ours.config.eos_id
    assert ended


def test_the_pad_id_is_never_generated(tmp_path, marian):
    """Marian's bad_words_ids [[pad]] becomes metadata forbidden_ids, honoured by greedy and beam search."""
    _, out, _, _ = marian
    m = load_pretrained(out)
    pad = m.config.pad_id
    assert m.generation["forbidden_ids"] == [pad]
    with torch.no_grad():
        m.model.generator.bias[pad] = 100.0  # pad would win every step
    src = m.encode_source(EN[0])[0]
    for beam in (1, 3):
        assert pad not in m.translate_ids(src, beam=beam, max_len=10)[1:]


def test_a_trace_of_a_converted_model_reads_its_hook_points(ours):
    t = ours.trace(EN[0], full=True)
    assert t.tgt_tokens[0] == "<pad>" and t.tgt_ids[0] == ours.config.start_id  # Marian starts with pad
    assert t.attention["decoder"].shape[:2] == (2, 2)
    assert torch.allclose(t.attention["decoder"][:, :, 0].sum(-1), torch.ones(2, 2))  # row 0 sees itself
    table = split_sinusoidal_table(ours.config.max_len, ours.config.d_model)
    assert torch.equal(t.embeddings["src_position"], table[: len(t.src_ids)])  # what the model adds
    assert torch.equal(ours.model.encoder.embed.position.table, table)
    assert len(t.activations) == len(hook_points(ours.model))
    act = t.activations["encoder.layers.0.ff.hook_activation"]
    pre = t.activations["encoder.layers.0.hook_ff_in"]
    ff = ours.model.encoder.layers[0].ff
    assert torch.allclose(act, torch.nn.functional.silu(ff.linear1(pre)), atol=1e-6)  # swish
    forced = ours.trace(EN[0], target=DE[0])
    assert forced.tgt_ids == [ours.config.start_id] + ours.tokenizer.encode_target(DE[0])


def test_card_metadata_and_files(marian, ours):
    _, out, _, _ = marian
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            "README.md",
            "config.json",
            "metadata.json",
            "model.safetensors",
            "source.spm",
            "target.spm",
            "vocab.json",
        ]
    )
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["source"]["kind"] == "marian" and meta["source"]["license"] == "cc-by-4.0"
    card = (out / "README.md").read_text()
    assert "cc-by-4.0" in card and f"{ours.model.num_parameters():,}" in card
    config = json.loads((out / "config.json").read_text())
    assert config["positional"] == "sinusoidal_split" and config["activation"] == "silu"
    assert config["bos_id"] is None and config["decoder_start_id"] == config["pad_id"]
    assert not any(k.startswith("model.") for k in load_file(out / "model.safetensors"))


def test_float16_halves_the_file_and_keeps_the_translation(marian, tmp_path):
    src, out, _, _ = marian
    done = run_cli(str(src), "--out", str(tmp_path / "half"), "--dtype", "float16", "--license", "custom")
    assert done.returncode == 0, done.stderr
    full, half = (d / "model.safetensors" for d in (out, tmp_path / "half"))
    assert half.stat().st_size < 0.6 * full.stat().st_size
    a, b = load_pretrained(out), load_pretrained(tmp_path / "half")
    assert json.loads((tmp_path / "half" / "metadata.json").read_text())["source"]["license"] == "custom"
    src_ids = a.encode_source(EN[1])[0]
    assert (a.trace(EN[1]).logits - b.trace(EN[1]).logits).abs().max() < 0.05
    assert a.translate_ids(src_ids, beam=1, max_len=5) == b.translate_ids(src_ids, beam=1, max_len=5)


def test_the_tokenizer_round_trips_through_its_files(ours, tmp_path):
    ours.tokenizer.write_files(tmp_path)
    again = MarianTokenizer.load(tmp_path)
    assert again.vocab == ours.tokenizer.vocab and again.encode(EN[2]) == ours.tokenizer.encode(EN[2])


# --- one clear error per bad directory ------------------------------------------------------------


@pytest.fixture
def bad(marian, tmp_path):
    """A fresh copy of the Marian source directory to break."""
    return Path(shutil.copytree(marian[0], tmp_path / "bad"))


def expect_error(path: Path, match: str) -> str:
    with pytest.raises(MarianError, match=match) as info:
        load_marian(path)
    done = run_cli(str(path), "--out", str(path.parent / "never"))
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert not (path.parent / "never").exists()
    return str(info.value)


def test_missing_vocab_is_named(bad):
    (bad / "vocab.json").unlink()
    assert "vocab.json" in expect_error(bad, "lacks vocab.json")


def test_a_bart_config_with_learned_positions_is_refused(bad):
    config = json.loads((bad / "config.json").read_text())
    (bad / "config.json").write_text(
        json.dumps({**config, "model_type": "bart", "architectures": ["BartModel"]})
    )
    expect_error(bad, "'bart' model, not Marian.*learns its positions")


def test_a_learned_positional_table_in_the_weights_is_refused(bad):
    state = load_file(bad / "model.safetensors")
    state["model.encoder.embed_positions.weight"] = torch.randn(64, 16)
    save_file(state, str(bad / "model.safetensors"))
    expect_error(bad, "not Marian's sinusoidal table")


def test_mismatched_shapes_are_named(bad):
    config = json.loads((bad / "config.json").read_text())
    (bad / "config.json").write_text(json.dumps({**config, "d_model": 32, "encoder_attention_heads": 2}))
    message = expect_error(bad, "shape mismatch")
    assert "q_proj.weight: (16, 16) vs config (32, 32)" in message


def test_more_layers_in_the_config_than_in_the_weights(bad):
    config = json.loads((bad / "config.json").read_text())
    (bad / "config.json").write_text(json.dumps({**config, "encoder_layers": 3}))
    expect_error(bad, "missing .* model.encoder.layers.2")


def test_a_pickle_only_checkpoint_is_refused_with_how_to_write_safetensors(bad):
    (bad / "model.safetensors").unlink()
    (bad / "pytorch_model.bin").write_bytes(b"\x80\x02}q\x00.")  # never opened
    message = expect_error(bad, "pytorch_model.bin but no model.safetensors")
    assert "never unpickled" in message and "safe_serialization=True" in message


def test_vocab_and_config_that_disagree(bad):
    vocab = json.loads((bad / "vocab.json").read_text())
    vocab["extra"] = len(vocab)
    (bad / "vocab.json").write_text(json.dumps(vocab))
    expect_error(bad, "vocab.json has .* pieces but config.json says vocab_size")


def test_separate_vocabularies_are_refused(bad):
    config = json.loads((bad / "config.json").read_text())
    (bad / "config.json").write_text(json.dumps({**config, "share_encoder_decoder_embeddings": False}))
    expect_error(bad, "separate source and target vocabularies")


def test_a_converted_directory_with_a_broken_vocab_fails_to_load_clearly(marian, tmp_path):
    out = Path(shutil.copytree(marian[1], tmp_path / "out"))
    (out / "vocab.json").write_text("{}")
    with pytest.raises(CheckpointError, match="vocab.json"):
        load_pretrained(out)
