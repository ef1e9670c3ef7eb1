"""The sentencepiece wrapper: special ids, byte fallback, round trips, bad files."""

import pytest

from transformer.tokenizer import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Tokenizer, TokenizerError


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
