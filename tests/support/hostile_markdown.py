"""Hostile text for markdown paths: HOSTILE (bold, a javascript: link, an <img onerror>, a Streamlit
colour directive and math), and a check, with a CommonMark parser, that every markdown element of an
`AppTest` page shows its fragments only inside inline code (tests/app/test_app_text_paths.py)."""

from __future__ import annotations

from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

HOSTILE = "**pwned** [clickme](javascript:alert(1)) <img src=x onerror=alert(1)> :red[redtext] $x^2$"
FRAGMENTS = ("pwned", "clickme", "javascript", "onerror", "redtext", "x^2")
MD = MarkdownIt("commonmark")


def shown_markdown(at: AppTest) -> list[str]:
    """Every piece of markdown on the page: markdown, captions, notices of every kind, the sidebar's too."""
    return [e.value for e in [*at.markdown, *at.caption, *at.warning, *at.error, *at.info, *at.success]]


def where_fragments_are(markdown: str) -> tuple[list[str], list[str]]:
    """(fragments found inside inline code, fragments found anywhere else: text, HTML, a link target)."""
    in_code, elsewhere = [], []
    for block in MD.parse(markdown):
        for token in block.children or []:
            content = token.content + " " + " ".join(str(v) for v in (token.attrs or {}).values())
            found = [f for f in FRAGMENTS if f in content]
            (in_code if token.type == "code_inline" else elsewhere).extend(found)
    return in_code, elsewhere


def assert_only_in_code(at: AppTest, must_show: bool = True) -> None:
    assert not at.exception, [e.message for e in at.exception]
    in_code = []
    for markdown in shown_markdown(at):
        code, elsewhere = where_fragments_are(markdown)
        assert not elsewhere, f"rendered as markdown: {elsewhere} in {markdown!r}"
        in_code += code
    if must_show:
        assert in_code, f"the hostile text was not shown at all: {shown_markdown(at)}"
