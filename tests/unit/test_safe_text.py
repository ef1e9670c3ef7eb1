"""`app_support.safe_text.md_code`: any text becomes one markdown code span that shows it literally.

Checked with a CommonMark parser (markdown-it-py, in requirements-dev.txt): the
span must parse as exactly one inline code token whose content is the text, whitespace folded to
single spaces and cut at `limit`. Streamlit's renderer (react-markdown with remark-gfm, math and
directives) applies bold, links, `$math$`, `:emoji:` and `:red[...]` to text nodes only, never inside
inline code, so one code token is enough.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from app_support.safe_text import md_code

MD = MarkdownIt("commonmark")

HOSTILE = {
    "bold_and_link": "**bold** [x](javascript:alert(1))",
    "html": "<script>alert(1)</script><img src=x onerror=alert(1)>",
    "streamlit_directives": ":red[red] :smile: $x^2$ ~~gone~~",
    "one_backtick": "a`b",
    "backtick_at_both_ends": "`code`",
    "backtick_runs": "``` fenced ``` and `` two ``",
    "only_backticks": "``",
    "newlines": "line 1\n\n# heading\n- item\r\nlast",
    "tabs_and_unicode_spaces": "a\tb\u00a0c\u2028d\u3000e",
    "backslash_escapes": "\\*not\\* \\`x\\`",
    "leading_and_trailing_spaces": "  x  ",
    "nul": "a\x00b",
}


def expected_content(text: str, limit: int = 300) -> str:
    """What the code span must show: cut to `limit` (+ "…"), whitespace runs as one space; CommonMark
    drops the one space md_code puts on each side (unless the span is all spaces) and shows NUL as U+FFFD."""
    s = text[:limit] + "…" if len(text) > limit else text
    s = re.sub(r"\s+", " ", s).replace("\x00", "\ufffd")
    return s if s.strip(" ") else f" {s} "


def code_tokens(markdown: str) -> list:
    """The inline tokens of one line of markdown."""
    blocks = MD.parse(markdown)
    inline = [t for t in blocks if t.type == "inline"]
    assert len(inline) == 1, [t.type for t in blocks]
    return inline[0].children


def assert_one_code_span(text: str, limit: int = 300) -> None:
    markdown = md_code(text, limit)
    assert "\n" not in markdown and "\r" not in markdown
    tokens = code_tokens(markdown)
    assert [t.type for t in tokens] == ["code_inline"], (markdown, tokens)
    assert tokens[0].content == expected_content(text, limit), markdown


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_text_is_one_literal_code_span(name):
    assert_one_code_span(HOSTILE[name])


def test_markup_inside_is_not_rendered():
    """Rendered to HTML: no <strong>, link, image or raw tag, and the text escaped inside <code>."""
    html = MD.renderInline(md_code(HOSTILE["bold_and_link"] + " " + HOSTILE["html"]))
    assert html.startswith("<code>") and html.endswith("</code>") and html.count("<code>") == 1
    for tag in ("<strong", "<a ", "<img", "<script"):
        assert tag not in html, html
    assert "&lt;script&gt;" in html and "**bold**" in html


def test_backticks_inside_get_a_longer_fence():
    """A run of n backticks inside is fenced by n + 1, so it cannot close the span early."""
    assert md_code("a`b") == "`` a`b ``"
    assert md_code("x ``` y").startswith("```` ") and md_code("x ``` y").endswith(" ````")
    assert md_code("`code`") == "`` `code` ``"  # the spaces let the text start and end with a backtick


def test_newlines_fold_to_spaces_so_the_span_stays_one_line():
    assert md_code("a\nb\r\n\n c") == "` a b c `"


def test_very_long_text_is_cut_with_an_ellipsis():
    markdown = md_code("x" * 10_000, limit=80)
    assert markdown == f"` {'x' * 80}… `"
    assert_one_code_span("**" * 5_000, limit=80)
    assert_one_code_span("`" * 5_000)  # the fence grows with the longest run left after the cut


def test_non_strings_are_shown_as_their_str():
    assert md_code(ValueError("bad **path**")) == "` bad **path** `"
    assert md_code(3) == "` 3 `"


def test_empty_and_blank_text_still_make_a_code_span():
    for text in ("", " ", "\n\t"):
        assert_one_code_span(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=400), st.integers(1, 500))
def test_any_text_is_one_literal_code_span(text, limit):
    """Arbitrary Unicode (markdown punctuation, backticks, newlines, HTML) at any limit: one code span."""
    assert_one_code_span(text, limit)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="`*_[]()<>!:$\\ \n#~|-", max_size=120))
def test_markdown_punctuation_soup_is_one_literal_code_span(text):
    assert_one_code_span(text)
