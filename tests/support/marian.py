"""A tiny random Marian model in `transformers`' layout, built offline (tests only: needs `transformers`).

`tiny_marian_dir(path)` trains two small sentencepiece models (source and target), writes a Marian-style
vocab.json ("</s>" 0, "<unk>" 1, every piece of both models, "<pad>" last), builds a random
`MarianMTModel` of that vocabulary (d_model 16, 2 heads, 2 + 2 layers, swish) with non-trivial
LayerNorms and `final_logits_bias`, and saves it as `save_pretrained` does (safetensors).
"""

from __future__ import annotations

import json
from pathlib import Path

import sentencepiece as spm
import torch

EN = [
    "The house is old.", "The cat sleeps on the warm mat.", "I live in a small village near the river.",
    "Where is the station? It is over there.", "The dog runs in the garden.", "We read a good book today.",
]  # fmt: skip
DE = [
    "Das Haus ist alt.", "Die Katze schläft auf der warmen Matte.", "Ich wohne in einem kleinen Dorf am Fluss.",
    "Wo ist der Bahnhof? Er ist dort drüben.", "Der Hund läuft im Garten.", "Wir lesen heute ein gutes Buch.",
]  # fmt: skip


def train_spm(lines: list[str], prefix: Path, vocab_size: int) -> Path:
    text = prefix.with_suffix(".txt")
    text.write_text("\n".join(lines * 10) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(text), model_prefix=str(prefix), vocab_size=vocab_size, model_type="unigram",
        character_coverage=1.0, minloglevel=2, hard_vocab_limit=False,
    )  # fmt: skip
    return prefix.with_suffix(".model")


def tiny_marian_dir(path: Path, seed: int = 0, eos_bias: float = 0.0, **config) -> Path:
    """Write a tiny Marian checkpoint directory at `path` (config overrides go to MarianConfig).

    Weights are N(0, 0.3²) (LayerNorm gains 1 + N(0, 0.3²)), far from the tiny init so attention is not
    uniform, small enough that float32 rounding stays well below 1e-5; eos_bias raises eos's logit so
    greedy decoding ends early."""
    from transformers import MarianConfig, MarianMTModel

    path.mkdir(parents=True, exist_ok=True)
    work = path.parent / f".{path.name}-spm"
    work.mkdir(exist_ok=True)
    src_model = train_spm(EN, work / "source", 60)
    tgt_model = train_spm(DE, work / "target", 60)
    pieces: list[str] = []
    for model in (src_model, tgt_model):
        sp = spm.SentencePieceProcessor(model_file=str(model))
        pieces += [
            sp.IdToPiece(i) for i in range(sp.GetPieceSize()) if not sp.IsControl(i) and not sp.IsUnknown(i)
        ]
    vocab = {"</s>": 0, "<unk>": 1}
    for p in pieces:
        vocab.setdefault(p, len(vocab))
    vocab["<pad>"] = len(vocab)
    pad = vocab["<pad>"]
    settings = {
        "vocab_size": len(vocab), "d_model": 16, "encoder_layers": 2, "decoder_layers": 2,
        "encoder_attention_heads": 2, "decoder_attention_heads": 2, "encoder_ffn_dim": 32, "decoder_ffn_dim": 32,
        "max_position_embeddings": 64, "pad_token_id": pad, "decoder_start_token_id": pad, "eos_token_id": 0,
        "forced_eos_token_id": None, "activation_function": "swish", "scale_embedding": True,
    }  # fmt: skip
    settings.update(config)
    torch.manual_seed(seed)
    cfg = MarianConfig(**settings)
    cfg._attn_implementation = "eager"
    model = MarianMTModel(cfg).eval()
    with torch.no_grad():  # far from the tiny init, so attention is not uniform and every tensor matters
        for name, p in model.named_parameters():
            if "embed_positions" in name:
                continue
            if name.endswith("layer_norm.weight"):
                p.copy_(1 + 0.3 * torch.randn_like(p))
            else:
                p.copy_(0.3 * torch.randn_like(p))
        model.final_logits_bias.copy_(0.1 * torch.randn_like(model.final_logits_bias))
        model.final_logits_bias[0, settings["eos_token_id"]] += eos_bias
    model.generation_config.bad_words_ids = [[pad]]
    model.save_pretrained(path)
    (path / "source.spm").write_bytes(src_model.read_bytes())
    (path / "target.spm").write_bytes(tgt_model.read_bytes())
    (path / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def load_reference(path: Path):
    """(transformers' MarianMTModel in eval mode with eager attention, its MarianTokenizer)."""
    from transformers import MarianMTModel, MarianTokenizer

    model = MarianMTModel.from_pretrained(path, attn_implementation="eager").eval()
    tok = MarianTokenizer(str(path / "source.spm"), str(path / "target.spm"), str(path / "vocab.json"))
    return model, tok
