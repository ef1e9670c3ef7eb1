"""Exports: file names and image settings for Plotly's toolbar, the attention as a tidy CSV, the trace as JSON.

Every exported file is named after the model, the view and what it shows, and the sentence (`slug`);
every figure carries the sentence in its subtitle (`with_sentence`), so a PNG or SVG on a slide says
which sentence it shows.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import pandas as pd
import plotly.graph_objects as go

import viz
from app_support import models
from app_support.run import Run
from viz.style import esc

FORMATS = {"png": "PNG (pixels, 2× scale)", "svg": "SVG (vector, for slides)"}  # Plotly's toImage formats
SLUG_LIMIT = 40  # characters of the sentence in a file name
SUBTITLE_LIMIT = 90  # characters of the sentence in a figure's subtitle


def file_stem(*parts: object) -> str:
    """Safe file name from parts: "reverse", "encoder", "L0" -> "reverse_encoder_L0"."""
    text = "_".join(str(p) for p in parts if str(p))
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-_.")[:120] or "figure"


def slug(text: str, limit: int = SLUG_LIMIT) -> str:
    """A sentence as a file-name part: "The house is old." -> "the-house-is-old".

    Letters are folded to ASCII (ä -> a), everything else becomes one "-", cut at a word boundary
    within `limit` characters. A sentence with no ASCII letter or digit (日本語, emoji) gets
    "text-" and 8 hex digits of its SHA-1, so two such sentences still get two names.
    """
    folded = unicodedata.normalize("NFKD", text.replace("ß", "ss").replace("ẞ", "SS"))
    ascii_text = folded.encode("ascii", "ignore").decode("ascii")
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(words) > limit:
        words = words[: limit + 1].rsplit("-", 1)[0] if "-" in words[:limit] else words[:limit]
    if words:
        return words
    if not text.strip():
        return ""
    return "text-" + hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def plotly_config(stem: str, fmt: str = "png") -> dict:
    """Plotly's modebar with an image download (PNG or SVG, `FORMATS`) named after what the figure shows."""
    options = {"format": fmt if fmt in FORMATS else "png", "filename": file_stem(stem)}
    if options["format"] == "png":
        options["scale"] = 2  # FORMATS
    return {
        "displaylogo": False,
        "toImageButtonOptions": options,
        "modeBarButtonsToRemove": ["select2d", "lasso2d"],
    }


def quoted(text: str, limit: int = SUBTITLE_LIMIT) -> str:
    """The sentence as a figure's subtitle says it: “The house is old.”, cut with "…" past `limit`
    characters ("" for a blank sentence). Not escaped: the figure escapes it."""
    shown = " ".join(text.split())
    if len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return f"“{shown}”" if shown else ""


def with_sentence(fig: go.Figure, text: str, limit: int = SUBTITLE_LIMIT) -> go.Figure:
    """Put the sentence in the figure's subtitle (after a subtitle it has), so a saved image says which
    sentence it shows; the title itself stays short. Escaped: Plotly renders a subset of HTML."""
    line = esc(quoted(text, limit))
    if not line:
        return fig
    before = fig.layout.title.subtitle.text
    if before and line in before:  # already there (a figure drawn twice)
        return fig
    fig.update_layout(title_subtitle_text=f"{before} · {line}" if before else line)
    return fig


def attention_csv(run: Run) -> bytes:
    """All attention of the run the views draw as one tidy frame, every kind one after the other
    (viz.ATTENTION_COLUMNS).

    Columns: layer, head, q_pos, k_pos, query, key, weight, kind, query_read, query_predicted; the
    last two say which piece a decoder row reads and which it predicts (empty for encoder rows).
    """
    frame = pd.concat(viz.trace_attention_frames(models.get_trace(run)).values(), ignore_index=True)
    return frame.to_csv(index=False, float_format="%.6g").encode("utf-8")


def trace_json(run: Run) -> bytes:
    """The whole trace as JSON (`Trace.to_json`); recomputed on demand, only when downloaded."""
    return models.trace(run).to_json().encode("utf-8")
