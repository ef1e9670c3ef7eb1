"""A sentencepiece tokenizer with the model's special ids: pad 0, unk 1, bos 2, eos 3.

Byte fallback (on by default) means any Unicode text encodes without error: a character
the vocabulary lacks becomes its UTF-8 bytes (<0xE2> ...), not <unk>.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

import sentencepiece as spm

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
SPECIAL_PIECES = ("<pad>", "<unk>", "<s>", "</s>")


class TokenizerError(ValueError):
    """A file that is not a usable sentencepiece model."""


def clean_text(text: str) -> str:
    """Make any Python str encodable: unpaired surrogates (invalid in UTF-8) become U+FFFD."""
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    return _SURROGATE.sub("\ufffd", text)


_SURROGATE = re.compile("[\ud800-\udfff]")


class Tokenizer:
    """Wraps a `sentencepiece.SentencePieceProcessor`; `proto` is the serialized model (what checkpoints store)."""

    def __init__(self, proto: bytes):
        self.sp = spm.SentencePieceProcessor()
        try:
            self.sp.LoadFromSerializedProto(proto)
        except Exception as e:  # sentencepiece raises RuntimeError/OSError with C++ messages
            raise TokenizerError(f"not a sentencepiece model ({e})") from None
        self.proto = proto
        expected = dict(zip(SPECIAL_PIECES, (PAD_ID, UNK_ID, BOS_ID, EOS_ID), strict=False))
        got = {p: self.sp.PieceToId(p) for p in expected}
        if got != expected:
            raise TokenizerError(f"special pieces must have ids {expected}, this model has {got}")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Tokenizer:
        try:
            proto = Path(path).read_bytes()
        except OSError as e:
            raise TokenizerError(f"cannot read tokenizer {path}: {e.strerror}") from None
        return cls(proto)

    def save(self, path: str | os.PathLike) -> None:
        Path(path).write_bytes(self.proto)

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
