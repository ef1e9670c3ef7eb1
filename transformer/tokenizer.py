"""Tokenizers: text <-> the model's ids. Two kinds, with one interface.

`Tokenizer` (our models): one sentencepiece model whose ids are the model's ids, with pad 0, unk 1,
bos 2, eos 3, for both sides. Byte fallback (on by default) means any Unicode text encodes without
error: a character the vocabulary lacks becomes its UTF-8 bytes (<0xE2> ...), not <unk>.

`MarianTokenizer` (models converted from Marian / opus-mt by `transformer.marian`): `source.spm`
cuts the source into pieces and `target.spm` the target; the ids are not sentencepiece's but come
from `vocab.json` (piece -> id, one vocabulary for both sides), a piece missing from it is <unk>.

Both: encode(text) (source side, no eos: the caller appends it), encode_target(text),
encode_all(texts, target=False), decode(ids) (target side, specials dropped), pieces(ids),
id_to_piece(i), piece_to_id(piece), piece_scores(ids, target=False) (how common each piece is),
vocab_size, FILES and write_files(directory).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable
from pathlib import Path

import sentencepiece as spm

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
SPECIAL_PIECES = ("<pad>", "<unk>", "<s>", "</s>")
SENTENCEPIECE_FILE = "tokenizer.model"  # in a model directory (checkpoint.TOKENIZER)
MARIAN_FILES = ("source.spm", "target.spm", "vocab.json")


def _piece_scores(sp: spm.SentencePieceProcessor, pieces: Iterable[str]) -> list[float]:
    """Each piece's score in the sentencepiece model `sp` (lower = rarer; see `Tokenizer.piece_scores`).

    A control piece (<s>, </s>, <pad>) and a piece `sp` lacks get NaN: no frequency was learnt for them.
    <unk> and byte-fallback pieces (<0xE2> ...) stand for characters too rare to get a piece of their
    own; sentencepiece scores them 0, so they get the model's lowest score instead.
    """
    unk = sp.unk_id()
    out = []
    for piece in pieces:
        i = sp.PieceToId(piece)
        if (i == unk and piece != sp.IdToPiece(unk)) or sp.IsControl(i) or sp.IsUnused(i):
            out.append(math.nan)
        elif sp.IsUnknown(i) or sp.IsByte(i):
            out.append(_lowest_score(sp))
        else:
            out.append(sp.GetScore(i))
    return out


def _lowest_score(sp: spm.SentencePieceProcessor) -> float:
    """The lowest score of an ordinary piece of `sp` (computed once per processor)."""
    if not hasattr(sp, "_lowest_score"):
        normal = [
            sp.GetScore(i)
            for i in range(sp.GetPieceSize())
            if not (sp.IsControl(i) or sp.IsUnknown(i) or sp.IsByte(i) or sp.IsUnused(i))
        ]
        sp._lowest_score = min(normal, default=0.0)
    return sp._lowest_score


class TokenizerError(ValueError):
    """A file that is not a usable sentencepiece model."""


def clean_text(text: str) -> str:
    """Make any Python str encodable: unpaired surrogates (invalid in UTF-8) become U+FFFD."""
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    return _SURROGATE.sub("\ufffd", text)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _processor(proto: bytes, what: str = "") -> spm.SentencePieceProcessor:
    sp = spm.SentencePieceProcessor()
    try:
        sp.LoadFromSerializedProto(proto)
    except Exception as e:  # sentencepiece raises RuntimeError/OSError with C++ messages
        raise TokenizerError(f"{what}not a sentencepiece model ({e})") from None
    return sp


def _read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise TokenizerError(f"cannot read tokenizer {path}: {e.strerror}") from None


class Tokenizer:
    """Wraps a `sentencepiece.SentencePieceProcessor`; `proto` is the serialized model (what checkpoints store)."""

    FILES = (SENTENCEPIECE_FILE,)  # what it occupies in a model directory

    def __init__(self, proto: bytes):
        self.sp = _processor(proto)
        self.proto = proto
        expected = dict(zip(SPECIAL_PIECES, (PAD_ID, UNK_ID, BOS_ID, EOS_ID), strict=False))
        got = {p: self.sp.PieceToId(p) for p in expected}
        if got != expected:
            raise TokenizerError(f"special pieces must have ids {expected}, this model has {got}")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Tokenizer:
        return cls(_read(Path(path)))

    def save(self, path: str | os.PathLike) -> None:
        Path(path).write_bytes(self.proto)

    def write_files(self, directory: str | os.PathLike) -> None:
        """Write FILES into a model directory."""
        self.save(Path(directory) / SENTENCEPIECE_FILE)

    @classmethod
    def train(
        cls,
        files: Iterable[str | os.PathLike],
        model_prefix: str | os.PathLike,
        vocab_size: int = 8000,
        model_type: str = "unigram",
        byte_fallback: bool = True,
        input_sentence_size: int = 2_000_000,
        **options,
    ) -> Tokenizer:
        """Train on plain-text files (one sentence per line); writes model_prefix.model and .vocab."""
        spm.SentencePieceTrainer.train(
            input=[str(f) for f in files],
            model_prefix=str(model_prefix),
            vocab_size=vocab_size,
            model_type=model_type,
            character_coverage=1.0,
            byte_fallback=byte_fallback,
            pad_id=PAD_ID,
            unk_id=UNK_ID,
            bos_id=BOS_ID,
            eos_id=EOS_ID,
            pad_piece=SPECIAL_PIECES[0],
            unk_piece=SPECIAL_PIECES[1],
            bos_piece=SPECIAL_PIECES[2],
            eos_piece=SPECIAL_PIECES[3],
            input_sentence_size=input_sentence_size,
            shuffle_input_sentence=True,
            minloglevel=2,
            **options,
        )
        return cls.load(f"{model_prefix}.model")

    # -- encode / decode ---------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self.sp.GetPieceSize()

    def encode(self, text: str) -> list[int]:
        return self.sp.EncodeAsIds(clean_text(text))

    def encode_target(self, text: str) -> list[int]:
        """The target side: the same sentencepiece model (one joint vocabulary)."""
        return self.encode(text)

    def encode_all(self, texts: list[str], target: bool = False) -> list[list[int]]:
        """Many texts at once (sentencepiece's batch call): what training data needs."""
        return self.sp.EncodeAsIds([clean_text(t) for t in texts])

    def encode_pieces(self, text: str) -> list[str]:
        return self.sp.EncodeAsPieces(clean_text(text))

    def decode(self, ids: Iterable[int]) -> str:
        """Ids -> text; special ids (pad, bos, eos) are dropped."""
        return self.sp.DecodeIds([int(i) for i in ids if int(i) not in (PAD_ID, BOS_ID, EOS_ID)])

    def id_to_piece(self, i: int) -> str:
        return self.sp.IdToPiece(int(i))

    def pieces(self, ids: Iterable[int]) -> list[str]:
        return [self.sp.IdToPiece(int(i)) for i in ids]

    def piece_to_id(self, piece: str) -> int:
        return self.sp.PieceToId(piece)

    def piece_scores(self, ids: Iterable[int], target: bool = False) -> list[float]:
        """How common each piece is: its score in the sentencepiece model, one float per id; lower = rarer.

        A unigram model's score is the piece's log-probability (Kudo 2018), so the lowest score in a
        sentence marks its rarest piece (Voita et al. 2019's "least frequent token"). A BPE model's score is
        minus its merge rank: a piece merged later was a rarer pair in the training text, so "lower =
        rarer" holds there as a rank. Specials get NaN (never the rarest), <unk> and byte pieces the
        model's lowest score. `target` is accepted for the interface (one model serves both sides).
        """
        return _piece_scores(self.sp, self.pieces(ids))


class MarianTokenizer:
    """Marian's tokenizer: `source.spm` for the source, `target.spm` for the target, ids from `vocab.json`.

    As `transformers`' MarianTokenizer: the text is cut into pieces by the side's sentencepiece model,
    each piece becomes vocab[piece] (<unk> when absent), a leading language code such as ">>de<<" is
    kept as one piece when the vocabulary has it. Marian's vocabulary has no "<s>": decoding starts
    with the pad id (config.decoder_start_id). (Moses punctuation normalisation, which `transformers`
    applies only when sacremoses is installed, is not applied.)
    """

    FILES = MARIAN_FILES

    def __init__(
        self,
        source_proto: bytes,
        target_proto: bytes,
        vocab: dict,
        unk_piece: str = "<unk>",
        eos_piece: str = "</s>",
        pad_piece: str = "<pad>",
    ):
        self.source_sp = _processor(source_proto, "source.spm: ")
        self.target_sp = _processor(target_proto, "target.spm: ")
        self.source_proto, self.target_proto = source_proto, target_proto
        if not isinstance(vocab, dict) or not vocab:
            raise TokenizerError("vocab.json must be a non-empty JSON object of piece -> id")
        bad = [p for p, i in vocab.items() if not isinstance(i, int) or isinstance(i, bool)]
        if bad:
            raise TokenizerError(f"vocab.json: ids must be integers, e.g. {bad[0]!r}: {vocab[bad[0]]!r}")
        if sorted(vocab.values()) != list(range(len(vocab))):
            raise TokenizerError(f"vocab.json: ids must be 0 .. {len(vocab) - 1}, each once")
        absent = [p for p in (unk_piece, eos_piece, pad_piece) if p not in vocab]
        if absent:
            raise TokenizerError(f"vocab.json lacks the special piece(s) {', '.join(absent)}")
        self.vocab = dict(vocab)
        self._pieces = [""] * len(vocab)  # id -> piece
        for piece, i in vocab.items():
            self._pieces[i] = piece
        self.unk_id, self.eos_id, self.pad_id = vocab[unk_piece], vocab[eos_piece], vocab[pad_piece]
        self.language_codes = {p for p in vocab if p.startswith(">>") and p.endswith("<<")}
        self.unk_piece = unk_piece

    @classmethod
    def load(cls, directory: str | os.PathLike) -> MarianTokenizer:
        directory = Path(directory)
        try:
            vocab = json.loads(_read(directory / "vocab.json").decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise TokenizerError(f"{directory / 'vocab.json'} is not valid JSON ({e})") from None
        return cls(_read(directory / "source.spm"), _read(directory / "target.spm"), vocab)

    def write_files(self, directory: str | os.PathLike) -> None:
        directory = Path(directory)
        (directory / "source.spm").write_bytes(self.source_proto)
        (directory / "target.spm").write_bytes(self.target_proto)
        text = json.dumps(self.vocab, ensure_ascii=False, indent=2)
        (directory / "vocab.json").write_text(text + "\n", encoding="utf-8")

    @property
    def vocab_size(self) -> int:
        return len(self._pieces)

    def _cut(self, text: str, sp: spm.SentencePieceProcessor) -> list[str]:
        text = clean_text(text)
        code = []
        if text.startswith(">>") and (end := text.find("<<")) != -1:  # ">>de<< text": a target language
            code, text = [text[: end + 2]], text[end + 2 :]
        return code + sp.EncodeAsPieces(text)

    def encode_pieces(self, text: str) -> list[str]:
        return self._cut(text, self.source_sp)

    def encode(self, text: str) -> list[int]:
        """Source text -> ids (no eos)."""
        return [self.vocab.get(p, self.unk_id) for p in self._cut(text, self.source_sp)]

    def encode_target(self, text: str) -> list[int]:
        """Target text -> ids, cut by target.spm."""
        return [self.vocab.get(p, self.unk_id) for p in self._cut(text, self.target_sp)]

    def encode_all(self, texts: list[str], target: bool = False) -> list[list[int]]:
        return [(self.encode_target if target else self.encode)(t) for t in texts]

    def decode(self, ids: Iterable[int]) -> str:
        """Target ids -> text with target.spm; pad and eos are dropped, <unk> is shown as "<unk>" (as
        `transformers` decodes without skip_special_tokens)."""
        out, run = [], []
        for piece in self.pieces(i for i in ids if int(i) not in (self.pad_id, self.eos_id)):
            if piece == self.unk_piece:
                out.append(self.target_sp.DecodePieces(run) + piece + " ")
                run = []
            else:
                run.append(piece)
        out.append(self.target_sp.DecodePieces(run))
        return "".join(out).strip()

    def id_to_piece(self, i: int) -> str:
        return self._pieces[int(i)]

    def pieces(self, ids: Iterable[int]) -> list[str]:
        return [self._pieces[int(i)] for i in ids]

    def piece_to_id(self, piece: str) -> int:
        return self.vocab.get(piece, self.unk_id)

    def piece_scores(self, ids: Iterable[int], target: bool = False) -> list[float]:
        """How common each piece is (lower = rarer), as `Tokenizer.piece_scores`: source pieces scored by
        source.spm, target pieces (`target=True`) by target.spm. A piece that side's model lacks (a language
        code such as ">>de<<", `<pad>`, a piece of the other side's model) and specials get NaN."""
        return _piece_scores(self.target_sp if target else self.source_sp, self.pieces(ids))
