"""The Decoding view's step statement through `AppTest`: one line and one code block that say what the decoder
has read so far and what it predicts, with the right plural, a long prefix shortened, hostile pieces as text."""

from __future__ import annotations

import pytest

from app_support.views import decoding as decoding_view
from tests.support.apptest import MODELS, TOY, assert_clean, decoder_pieces, needs_toy, run_app
from transformer import load_pretrained


def statement(at) -> tuple[list[str], list[list[str]]]:
    """(the step's markdown lines, the step listing's lines split into words) of a Decoding page."""
    said = [m.value for m in at.markdown if m.value.startswith("**Step ")]
    (listing,) = [c.value for c in at.code if c.value.rstrip().endswith("← predicts")]
    return said, [line.split() for line in listing.splitlines()]


@needs_toy
def test_the_step_names_every_piece_read_and_the_one_predicted():
    """At step 2 the statement counts 3 pieces read (0–2) and lists them with their positions, the last one
    marked as read at this step, then piece 3 marked as predicted."""
    at = run_app(model=TOY, view="decoding", text="c a f b", step="2")
    assert_clean(at)
    read, predicted = decoder_pieces("c a f b")
    said, rows = statement(at)
    assert said == ["**Step 2**: the decoder has read 3 pieces (0–2) and predicts piece 3:"]
    assert rows == [
        ["0", read[0]],
        ["1", read[1]],
        ["2", read[2], "←", "reads"],
        ["3", predicted[2], "←", "predicts"],
    ]
    assert read[0] == "<s>" and predicted[2] == read[3]


@needs_toy
def test_step_0_has_read_one_piece():
    """Step 0 has read one piece, <s>: singular, no range."""
    at = run_app(model=TOY, view="decoding", text="c a f b", step="2")
    at.slider(key="step").set_value(0).run()
    assert_clean(at)
    said, rows = statement(at)
    assert said == ["**Step 0**: the decoder has read 1 piece and predicts piece 1:"]
    assert rows == [["0", "<s>", "←", "reads"], ["1", decoder_pieces("c a f b")[1][0], "←", "predicts"]]


@needs_toy
def test_a_long_prefix_lists_its_last_pieces_and_says_how_many_are_hidden():
    """At the last step of a 13-piece translation the listing keeps the last pieces read, not a wall of
    them, and its first line says how many earlier pieces it hides."""
    text = "a b c d e f g h i j a b"
    read, predicted = decoder_pieces(text)
    last = len(read) - 1
    assert last + 1 > decoding_view.SHOWN  # more pieces read than the listing shows
    at = run_app(model=TOY, view="decoding", text=text, step=str(last))
    assert_clean(at)
    said, rows = statement(at)
    hidden = last + 1 - decoding_view.SHOWN
    assert said == [
        f"**Step {last}**: the decoder has read {last + 1} pieces (0–{last}) and predicts piece {last + 1}:"
    ]
    assert rows[0] == ["…", str(hidden), "pieces", "hidden"]
    assert [r[:2] for r in rows[1:]] == [[str(i), read[i]] for i in range(hidden, last + 1)] + [
        [str(last + 1), predicted[last]]
    ]


def test_128_pieces_read_make_ten_lines():
    """The longest prefix a model may have (128 pieces) stays ten lines: one saying 120 are hidden, the
    last eight read, the one predicted."""
    pieces = ["<s>", *(f"▁w{i}" for i in range(127))]
    lines = decoding_view.step_listing(pieces, 127, "</s>").splitlines()
    assert len(lines) == decoding_view.SHOWN + 2 == 10
    assert lines[0].split() == ["…", "120", "pieces", "hidden"]
    assert lines[-2].split() == ["127", "▁w126", "←", "reads"] and lines[-1].split() == [
        "128",
        "</s>",
        "←",
        "predicts",
    ]
    one = decoding_view.step_listing(pieces, decoding_view.SHOWN, "x").splitlines()[0]
    assert one.split() == ["…", "1", "piece", "hidden"]


def test_a_piece_with_a_line_break_stays_one_line():
    """A piece cannot add a line of its own to the listing (a fake "← predicts"): breaks are written as escapes."""
    lines = decoding_view.step_listing(["<s>", "a\n9  b"], 1, "c\u2028d").splitlines()
    assert [line.split()[:2] for line in lines] == [["0", "<s>"], ["1", "a\\u000a9"], ["2", "c\\u2028d"]]


@pytest.mark.skipif("en-de" not in MODELS, reason="needs the shipped en-de model")
def test_hostile_pieces_are_listed_as_text_never_as_markdown():
    """A typed translation with a backtick, HTML and Markdown gives pieces such as ` and <0x3C> (and <s> is
    HTML too): the listing shows them as they are, and no markdown element carries them."""
    typed = "<b>`Der`</b> **alte** Mann sah den alten Hund am Fluss."
    tokenizer = load_pretrained("en-de").tokenizer
    # what the decoder reads, traced on `typed`
    read = ["<s>", *tokenizer.pieces(tokenizer.encode_target(typed))]
    step = read.index("`")  # after ▁ <0x3C> b <0x3E>
    at = run_app(
        model="en-de", view="decoding", text="The old man saw the old dog near the river.", target=typed
    )
    at.slider(key="step").set_value(step).run()
    assert_clean(at)
    said, rows = statement(at)
    assert [r[:2] for r in rows] == [[str(i), read[i]] for i in range(step + 2 - len(rows), step + 2)]
    assert {"`", "<0x3C>", "<0x3E>"} <= {r[1] for r in rows}
    assert said == [
        f"**Step {step}**: the decoder has read {step + 1} pieces (0–{step}) and predicts piece {step + 1}:"
    ]
    hostile = ("`", "<0x3C>", "<0x3E>", "<s>", "<b>", "**alte")
    # the line above the view says the typed translation, all of it in one code span (app.py, md_code; the
    # CommonMark check of that path: tests/app/test_app_text_paths.py); no other markdown carries any of it
    said_above = [m.value for m in at.markdown if m.value.startswith("**Your translation:** ``")]
    assert said_above == [f"**Your translation:** `` {typed} ``"]
    others = [m.value for m in at.markdown if m.value not in said_above]
    assert not any(h in m for m in others for h in hostile), others
