"""Text the app writes: untrusted text (user sentences, tokens, paths, URL values) shown inside Streamlit
markdown, and counts with their noun.

Streamlit's markdown renders `**bold**`, links, `$math$`, `:emoji:` and `:red[colour]` directives;
inside an inline code span all of that is shown literally. Raw HTML is never enabled for user text.
"""

from __future__ import annotations

import re


def md_code(text: object, limit: int = 300) -> str:
    """Any text -> a markdown inline code span that shows it literally (one line, at most `limit` chars)."""
    s = str(text)
    if len(s) > limit:
        s = s[:limit] + "…"
    s = re.sub(r"\s+", " ", s)  # a code span is one line; newlines would end it
    longest = max((len(run) for run in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {s} {fence}"  # the spaces let the text start or end with a backtick


def without_lone_surrogates(text: str) -> str:
    """Unpaired UTF-16 surrogates (not valid Unicode, cannot be sent to the browser) -> U+FFFD; pairs are joined."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def count(n: int, noun: str) -> str:
    """(1, "piece") -> "1 piece", (9, "piece") -> "9 pieces": every count a generated sentence writes."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
