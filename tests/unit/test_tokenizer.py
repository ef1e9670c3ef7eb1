"""The sentencepiece wrapper: special ids, byte fallback, round trips, bad files."""

import math

import pytest

from tests.support.marian import DE, EN, train_spm
from transformer.tokenizer import BOS_ID, EOS_ID, PAD_ID, UNK_ID, MarianTokenizer, Tokenizer, TokenizerError


def test_special_ids_are_fixed(tokenizer):
    assert tokenizer.pieces([PAD_ID, UNK_ID, BOS_ID, EOS_ID]) == ["<pad>", "<unk>", "<s>", "</s>"]


@pytest.mark.parametrize(
    "text", ["The house is old.", "Die Katze schläft.", "naïve café", "猫が寝ている 🐈‍⬛", "שלום"]
)
def test_any_unicode_round_trips_through_byte_fallback(tokenizer, text):
    ids = tokenizer.encode(text)
    assert UNK_ID not in ids  # unseen characters become bytes, not <unk>
    assert tokenizer.decode(ids) == text


def test_decode_drops_specials(tokenizer):
    ids = tokenizer.encode("The house")
    assert tokenizer.decode([BOS_ID, *ids, EOS_ID, PAD_ID, PAD_ID]) == "The house"


def test_pieces_and_ids_agree(tokenizer):
    text = "I live in a small village."
    assert tokenizer.pieces(tokenizer.encode(text)) == tokenizer.encode_pieces(text)
    assert all(
        tokenizer.piece_to_id(p) == i for p, i in zip(tokenizer.encode_pieces(text), tokenizer.encode(text))
    )


def test_unpaired_surrogate_does_not_raise(tokenizer):
    # an unpaired surrogate cannot be UTF-8; it is read as U+FFFD, whatever the model then makes of that
    assert tokenizer.encode("a\ud800b") == tokenizer.encode("a\ufffdb")
    assert tokenizer.decode(tokenizer.encode("a\ud800b")).replace(" ", "") == "ab"


def test_save_and_load_give_the_same_tokenizer(tokenizer, tmp_path):
    tokenizer.save(tmp_path / "t.model")
    again = Tokenizer.load(tmp_path / "t.model")
    assert again.encode("Das Haus ist alt.") == tokenizer.encode("Das Haus ist alt.")
    assert again.vocab_size == tokenizer.vocab_size


def test_garbage_or_missing_file_is_a_clear_error(tmp_path):
    (tmp_path / "bad.model").write_bytes(b"\x00not a model")
    with pytest.raises(TokenizerError, match="not a sentencepiece model"):
        Tokenizer.load(tmp_path / "bad.model")
    with pytest.raises(TokenizerError, match="cannot read"):
        Tokenizer.load(tmp_path / "missing.model")


def test_piece_scores_are_the_models_scores_with_nan_for_specials(tokenizer):
    ids = [BOS_ID, *tokenizer.encode("The house is old."), EOS_ID]
    scores = tokenizer.piece_scores(ids)
    assert math.isnan(scores[0]) and math.isnan(scores[-1])
    assert scores[1:-1] == [tokenizer.sp.GetScore(i) for i in ids[1:-1]]


def test_byte_and_unk_pieces_score_as_the_rarest_piece(tokenizer):
    ids = tokenizer.encode("house ☃")  # the snowman is not in the vocabulary: byte pieces
    scores = tokenizer.piece_scores([*ids, UNK_ID])
    lowest = min(tokenizer.sp.GetScore(i) for i in range(tokenizer.vocab_size) if not tokenizer.sp.IsByte(i))
    assert all(s == scores[-1] for s, p in zip(scores, tokenizer.pieces(ids)) if p.startswith("<0x"))
    assert scores[-1] <= lowest


def test_marian_scores_each_side_with_its_own_model(tmp_path):
    src = train_spm(EN, tmp_path / "source", 60).read_bytes()
    tgt = train_spm(DE, tmp_path / "target", 60).read_bytes()
    probe = MarianTokenizer(src, tgt, {"</s>": 0, "<unk>": 1, "<pad>": 2})
    en, de = probe.source_sp.EncodeAsPieces("house")[0], probe.target_sp.EncodeAsPieces("Haus")[0]
    assert probe.source_sp.PieceToId(de) == probe.source_sp.unk_id()  # a piece only target.spm has
    vocab = {"</s>": 0, "<unk>": 1, en: 2, de: 3, ">>de<<": 4, "<pad>": 5}
    marian = MarianTokenizer(src, tgt, vocab)
    source, target = marian.piece_scores([2, 3, 4, 0, 5]), marian.piece_scores([2, 3, 4, 0, 5], target=True)
    src_sp, tgt_sp = marian.source_sp, marian.target_sp
    assert source[0] == src_sp.GetScore(src_sp.PieceToId(en)) < 0 and math.isnan(source[1])
    assert target[1] == tgt_sp.GetScore(tgt_sp.PieceToId(de)) < 0
    assert all(math.isnan(s) for s in source[2:] + target[2:])  # a language code, </s>, <pad>
