"""Open a Marian (opus-mt) translator in our own modules: convert its checkpoint into a model directory.

    python -m transformer.marian SRC --out DIR [--dtype float16] [--license LICENSE]

SRC is a Marian checkpoint directory as Hugging Face `transformers` writes it (`save_pretrained`, or a
download of e.g. Helsinki-NLP/opus-mt-en-de): config.json, model.safetensors, source.spm, target.spm,
vocab.json (generation_config.json and the model card README.md are read when present). DIR becomes
one of our model directories: config.json, model.safetensors, metadata.json, a card (README.md), and
Marian's three tokenizer files (tokenizer.MarianTokenizer). Neither `transformers` nor the network is
needed, and nothing is unpickled: a checkpoint with only pytorch_model.bin is refused.

Marian is the paper's model almost exactly, so the mapping is one tensor to one tensor:

    Marian (transformers)                          ours
    model.shared.weight (= both embed_tokens,      encoder.embed.token.weight (tied: decoder
      = lm_head.weight)                              embedding and generator.weight share it)
    final_logits_bias (1, V)                       generator.bias (V,): logits = h Eᵀ + b, exactly
    *.self_attn.{q,k,v}_proj                       *.self_attn.w_qkv, rows Q then K then V
    *.encoder_attn.{q,k,v}_proj, out_proj          decoder.layers.i.cross_attn.w_qkv, w_o
    *.self_attn_layer_norm, encoder_attn_layer_norm, norm1, norm2 (decoder: norm1, norm2, norm3);
      final_layer_norm                               post-norm, as the paper
    *.fc1, *.fc2                                   *.ff.linear1, *.ff.linear2
    embed_positions (not saved: fixed sinusoids)   positional="sinusoidal_split" (generated)

and the rest is configuration: activation (swish -> "silu"), scale_embedding, pad/eos/unk ids from
vocab.json, decoding starts with decoder_start_token_id (the pad id), and `bad_words_ids` (Marian
forbids its pad id) become metadata "generation" -> "forbidden_ids".
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import torch

from .checkpoint import (
    CONFIG,
    METADATA,
    STORAGE_DTYPES,
    WEIGHTS,
    CheckpointError,
    check_state,
    load_weights,
    mismatch,
    read_json,
    write_atomic_dir,
    write_model_files,
)
from .config import ConfigError, TransformerConfig
from .embeddings import split_sinusoidal_table
from .model import Transformer
from .paths import portable
from .tokenizer import MARIAN_FILES, MarianTokenizer, TokenizerError

ACTIVATIONS = {"relu": "relu", "swish": "silu", "silu": "silu", "gelu": "gelu"}  # Marian's name -> ours
CARD = "README.md"
SAFE_HINT = (
    "On a machine with `transformers`, write safetensors once: "
    "`MarianMTModel.from_pretrained(SRC).save_pretrained(DIR)` (transformers 5 always writes "
    "model.safetensors; with transformers 4 add `safe_serialization=True`) and "
    "`MarianTokenizer.from_pretrained(SRC).save_pretrained(DIR)`, or download model.safetensors "
    "with the huggingface_hub client."
)


class MarianError(CheckpointError):
    """A directory that is not a convertible Marian checkpoint; the message says which file and why."""


# --- configuration --------------------------------------------------------------------------------


def marian_config(hf: dict, vocab: MarianTokenizer) -> TransformerConfig:
    """Marian's config.json (as a dict) -> our TransformerConfig, refusing what our modules cannot run."""
    kind = hf.get("model_type")
    if kind != "marian":
        why = {
            "bart": "BART learns its positions (a table offset by 2) and normalises the embeddings",
            "mbart": "mBART learns its positions and adds LayerNorms on the embeddings and after the stacks",
        }.get(str(kind), "its layers are not Marian's")
        raise MarianError(
            f'config.json describes a {kind!r} model, not Marian (model_type "marian"): {why}, '
            "which this conversion does not map (only Marian's fixed sinusoidal positions)"
        )
    if (
        hf.get("share_encoder_decoder_embeddings", True) is not True
        or hf.get("tie_word_embeddings", True) is not True
    ):
        raise MarianError(
            "this Marian model has separate source and target vocabularies (share_encoder_decoder_embeddings "
            "or tie_word_embeddings false); only opus-mt models with one shared vocabulary convert"
        )
    vocab_size = hf.get("vocab_size")
    if hf.get("decoder_vocab_size") not in (None, vocab_size):
        raise MarianError(f"decoder_vocab_size {hf['decoder_vocab_size']} != vocab_size {vocab_size}")
    for enc, dec in (
        ("encoder_attention_heads", "decoder_attention_heads"),
        ("encoder_ffn_dim", "decoder_ffn_dim"),
    ):
        if hf.get(enc) != hf.get(dec):
            raise MarianError(f"{enc} {hf.get(enc)} != {dec} {hf.get(dec)}: our layers share one setting")
    activation = ACTIVATIONS.get(hf.get("activation_function", "gelu"))
    if activation is None:
        raise MarianError(
            f"activation_function {hf.get('activation_function')!r} is not one of {', '.join(ACTIVATIONS)}"
        )
    if vocab.vocab_size != vocab_size:
        raise MarianError(
            f"vocab.json has {vocab.vocab_size} pieces but config.json says vocab_size {vocab_size}"
        )
    ids = {"pad_token_id": vocab.pad_id, "eos_token_id": vocab.eos_id}
    wrong = [f"{k} {hf.get(k)} but vocab.json has {v}" for k, v in ids.items() if hf.get(k) != v]
    if wrong:
        raise MarianError(f"config.json and vocab.json disagree: {'; '.join(wrong)}")
    try:
        return TransformerConfig(
            src_vocab_size=vocab_size,
            tgt_vocab_size=vocab_size,
            d_model=hf.get("d_model"),
            n_heads=hf.get("encoder_attention_heads"),
            n_encoder_layers=hf.get("encoder_layers"),
            n_decoder_layers=hf.get("decoder_layers"),
            d_ff=hf.get("encoder_ffn_dim"),
            dropout=float(hf.get("dropout", 0.1)),
            max_len=hf.get("max_position_embeddings"),
            positional="sinusoidal_split",
            norm="post",
            tie_embeddings=True,
            layer_norm_eps=1e-5,  # nn.LayerNorm's default, which Marian's layers use
            pad_id=vocab.pad_id,
            unk_id=vocab.unk_id,
            bos_id=None,  # Marian has no "<s>"
            eos_id=vocab.eos_id,
            activation=activation,
            scale_embedding=bool(hf.get("scale_embedding", False)),
            decoder_start_id=hf.get("decoder_start_token_id", vocab.pad_id),
        )
    except (ConfigError, TypeError, ValueError) as e:
        raise MarianError(f"config.json: {e}") from None


def forbidden_ids(*configs: dict) -> list[int]:
    """Single-token `bad_words_ids` (Marian's [[pad]]) of generation_config.json or config.json."""
    for cfg in configs:
        bad = cfg.get("bad_words_ids")
        if isinstance(bad, list):
            return sorted(
                {b[0] for b in bad if isinstance(b, list) and len(b) == 1 and isinstance(b[0], int)}
            )
    return []


# --- weights --------------------------------------------------------------------------------------


def read_marian_weights(src: Path) -> dict[str, torch.Tensor]:
    """model.safetensors (or the shards its index names); a pickle-only checkpoint is refused."""
    index = src / "model.safetensors.index.json"
    if (src / WEIGHTS).is_file():
        return load_weights(src / WEIGHTS)
    if index.is_file():
        shards = sorted(set(read_json(index, "weights index").get("weight_map", {}).values()))
        if not shards or any("/" in s or s.startswith(".") for s in shards):
            raise MarianError(f"{index} names no usable shard files")
        state = {}
        for shard in shards:
            state.update(load_weights(src / shard))
        return state
    pickles = [f for f in ("pytorch_model.bin", "tf_model.h5", "flax_model.msgpack") if (src / f).exists()]
    if pickles:
        raise MarianError(
            f"{src} has {', '.join(pickles)} but no model.safetensors; weights are only read from "
            f"safetensors, never unpickled (a pickle can run any code). {SAFE_HINT}"
        )
    raise MarianError(f"{src} has no model.safetensors")


def _shared_embedding(state: dict[str, torch.Tensor]) -> torch.Tensor:
    names = ("model.shared.weight", "model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight")
    found = [(n, state.pop(n)) for n in (*names, "lm_head.weight") if n in state]
    if not found:
        raise MarianError("model.safetensors has no embedding matrix (model.shared.weight)")
    first = found[0][1]
    for name, tensor in found[1:]:
        if tensor.shape != first.shape or not torch.equal(tensor, first):
            raise MarianError(f"{name} differs from {found[0][0]}: untied embeddings are not supported")
    return first


def convert_state(state: dict[str, torch.Tensor], config: TransformerConfig) -> dict[str, torch.Tensor]:
    """Marian's tensors -> ours by name (see the module docstring); raises MarianError naming what is
    missing, left over, or the wrong shape."""
    state = dict(state)
    out = {"encoder.embed.token.weight": _shared_embedding(state)}
    bias = state.pop("final_logits_bias", None)  # transformers treats an absent one as zeros
    out["generator.bias"] = torch.zeros(config.tgt_vocab_size) if bias is None else bias.reshape(-1)
    for stack in ("encoder", "decoder"):
        table = state.pop(f"model.{stack}.embed_positions.weight", None)
        if table is not None:  # older exports saved the fixed table: it must be Marian's sinusoid
            expected = split_sinusoidal_table(table.shape[0], table.shape[1])
            if (
                table.shape != (config.max_len, config.d_model)
                or (table.float() - expected).abs().max() > 1e-4
            ):
                raise MarianError(
                    f"model.{stack}.embed_positions.weight is not Marian's sinusoidal table (learned "
                    "positions?); only the fixed sinusoids convert"
                )
    attn = {"self_attn": "self_attn", "encoder_attn": "cross_attn"}
    norms = {
        "encoder": {"self_attn_layer_norm": "norm1", "final_layer_norm": "norm2"},
        "decoder": {
            "self_attn_layer_norm": "norm1",
            "encoder_attn_layer_norm": "norm2",
            "final_layer_norm": "norm3",
        },
    }
    missing, wrong = [], []
    d = config.d_model

    def take(name: str) -> torch.Tensor | None:
        if name not in state:
            missing.append(name)
            return None
        return state.pop(name)

    for stack, n in (("encoder", config.n_encoder_layers), ("decoder", config.n_decoder_layers)):
        for i in range(n):
            hf, ours = f"model.{stack}.layers.{i}", f"{stack}.layers.{i}"
            for theirs, mine in attn.items():
                if stack == "encoder" and theirs == "encoder_attn":
                    continue
                for part in ("weight", "bias"):
                    qkv = [take(f"{hf}.{theirs}.{p}_proj.{part}") for p in "qkv"]
                    shape = (d, d) if part == "weight" else (d,)
                    odd = [f"{hf}.{theirs}.{p}_proj.{part}: {tuple(t.shape)} vs config {shape}"
                           for p, t in zip("qkv", qkv) if t is not None and tuple(t.shape) != shape]  # fmt: skip
                    wrong += odd
                    if all(t is not None for t in qkv) and not odd:
                        out[f"{ours}.{mine}.w_qkv.{part}"] = torch.cat(qkv)  # rows Q, then K, then V
                    out[f"{ours}.{mine}.w_o.{part}"] = take(f"{hf}.{theirs}.out_proj.{part}")
            for theirs, mine in norms[stack].items():
                for part in ("weight", "bias"):
                    out[f"{ours}.{mine}.{part}"] = take(f"{hf}.{theirs}.{part}")
            for theirs, mine in (("fc1", "linear1"), ("fc2", "linear2")):
                for part in ("weight", "bias"):
                    out[f"{ours}.ff.{mine}.{part}"] = take(f"{hf}.{theirs}.{part}")
    unknown = (
        "{} tensor(s) this conversion does not know (another architecture, or more layers than "
        "config.json says?)"
    )
    problems = [
        *mismatch("{} shape mismatch(es)", wrong, "; "),
        *mismatch("missing {} tensor(s)", missing),
        *mismatch(unknown, sorted(state)),
    ]
    if problems:
        raise MarianError(
            "model.safetensors does not match a Marian model of config.json: " + "; ".join(problems)
        )
    return {k: v for k, v in out.items() if v is not None}


# --- the whole directory --------------------------------------------------------------------------


def model_card_license(src: Path) -> str | None:
    """The `license:` of a model card's YAML front matter (README.md as the hub ships it), if any."""
    try:
        text = (src / CARD).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    front = re.match(r"---\n(.*?)\n---", text, re.S)
    found = front and re.search(r"^license:\s*(\S+)\s*$", front.group(1), re.M)
    return found.group(1).strip("'\"") if found else None


def load_marian(src: str | Path) -> tuple[Transformer, MarianTokenizer, dict]:
    """Read a Marian checkpoint directory -> (our model in eval mode, its tokenizer, metadata)."""
    src = Path(src)
    if not src.is_dir():
        raise MarianError(
            f"{src} is not a directory (a Marian checkpoint is a folder holding config.json, ...)"
        )
    hf = read_json(src / CONFIG, "config")
    absent = [f for f in MARIAN_FILES if not (src / f).is_file()]
    if absent:
        extra = (
            " (separate target_vocab.json vocabularies are not supported)"
            if (src / "target_vocab.json").exists()
            else ""
        )
        raise MarianError(
            f"{src} lacks {', '.join(absent)}: Marian's tokenizer is source.spm + target.spm + vocab.json{extra}. "
            "`MarianTokenizer.from_pretrained(NAME).save_pretrained(SRC)` writes them."
        )
    try:
        tokenizer = MarianTokenizer.load(src)
    except TokenizerError as e:
        raise MarianError(f"{src}: {e}") from None
    config = marian_config(hf, tokenizer)
    state = convert_state(read_marian_weights(src), config)
    model = Transformer(config)
    state = check_state(model, state, src / WEIGHTS)  # shapes against config.json, one clear error
    model.load_state_dict({k: v.float() for k, v in state.items()})
    generation = (
        read_json(src / "generation_config.json", "generation config")
        if (src / "generation_config.json").is_file()
        else {}
    )
    license_ = model_card_license(src)
    metadata = {
        "source": {
            "kind": "marian",
            "from": portable(str(src)),
            "name_or_path": hf.get("_name_or_path") or src.name,
            "license": license_,
            "transformers_version": hf.get("transformers_version"),
        },
        "generation": {"forbidden_ids": forbidden_ids(generation, hf)},
        "parameters": model.num_parameters(),
    }
    return model.eval(), tokenizer, metadata


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB"


def card(
    name: str, config: TransformerConfig, metadata: dict, weights_bytes: int, dtype: str, start_piece: str
) -> str:
    """A short model card: where the model came from, its license field, its size and shape."""
    source = metadata["source"]
    license_ = source.get("license") or "not stated in the source directory"
    start, ids = config.start_id, metadata["generation"]["forbidden_ids"]
    forbidden = f"; never generates id(s) {', '.join(map(str, ids))} (its `bad_words_ids`)" if ids else ""
    return f"""# {name}

A Marian translator converted into this project's own modules by `python -m transformer.marian`.

| | |
|---|---|
| converted from | `{source["name_or_path"]}` (directory `{source["from"]}`) |
| license of the weights | {license_}; check the original model card (Helsinki-NLP's opus-mt models are released under CC-BY 4.0, which asks for attribution) |
| size | {metadata["parameters"]:,} parameters; `model.safetensors` {_size(weights_bytes)} ({dtype}) |
| layers | {config.n_encoder_layers} encoder + {config.n_decoder_layers} decoder, post-norm |
| heads, d_model, d_ff | {config.n_heads}, {config.d_model}, {config.d_ff} |
| feed-forward activation | {config.activation} |
| positions | Marian's sinusoids (every sine, then every cosine), up to {config.max_len} |
| vocabulary | {config.src_vocab_size} pieces, shared by source and target (`vocab.json`; `source.spm`, `target.spm`) |
| embeddings | {"scaled by √d_model" if config.scale_embedding else "not scaled"}; tied with the output projection, plus Marian's `final_logits_bias` as its bias |
| decoding | starts with id {start} (`{start_piece}`){forbidden} |

Beam search here is this project's (GNMT length penalty, α = 0.6 unless metadata says otherwise), not
Marian's, so beam translations may differ slightly from `transformers`' `generate`; greedy decoding matches it.
"""


def convert(src: str | Path, out: str | Path, dtype: str = "float32", license_: str | None = None) -> Path:
    """Convert SRC into the model directory OUT (written atomically); returns OUT."""
    model, tokenizer, metadata = load_marian(src)
    if license_:
        metadata["source"]["license"] = license_
    out = Path(out)

    def write(tmp: Path) -> None:
        write_model_files(tmp, model, tokenizer, metadata, dtype)
        size = (tmp / WEIGHTS).stat().st_size
        start_piece = tokenizer.id_to_piece(model.config.start_id)
        text = card(out.name, model.config, metadata, size, dtype, start_piece)
        (tmp / CARD).write_text(text, encoding="utf-8")

    return write_atomic_dir(out, write)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m transformer.marian",
        description="Convert a Marian (opus-mt) checkpoint directory into one of our model directories.",
    )
    p.add_argument("src", help="config.json, model.safetensors, source.spm, target.spm, vocab.json")
    p.add_argument("--out", required=True, help="the model directory to write (e.g. runs/opus-mt-en-de)")
    p.add_argument(
        "--dtype", choices=sorted(STORAGE_DTYPES), default="float32", help="float16 halves the file"
    )
    p.add_argument(
        "--license", help="license of the weights, for the card (default: the source's model card)"
    )
    args = p.parse_args(argv)
    try:
        out = convert(args.src, args.out, args.dtype, args.license)
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    meta = json.loads((out / METADATA).read_text(encoding="utf-8"))
    license_ = meta["source"]["license"] or "unknown: check the model card"
    print(f"wrote {out}: {meta['parameters']:,} parameters, license {license_}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
