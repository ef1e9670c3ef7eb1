"""Read back an HTML attention heatmap (`viz.attention_html`) the way tests read a Plotly figure's JSON.

    hm = read_heatmap(html_string)
    hm.title, hm.subtitle, hm.y_title, hm.x_title      # text as shown (unescaped)
    hm.y_labels       # every row's label; hm.y_shown: only those written on the axis (the rest are thinned)
    hm.x_labels       # every key's label
    hm.z              # (rows, cols) float weights to 3 decimals; NaN where a cell is masked or not captured
    hm.masked         # (rows, cols) bool: the causal mask's cells; hm.mask_legend: the legend is drawn

Built on the standard library's HTMLParser: it reads what the browser would be given, so a label that
was not escaped would show up here as markup instead of text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

import numpy as np


@dataclass
class HtmlHeatmap:
    title: str = ""
    subtitle: str = ""
    y_title: str = ""
    x_title: str = ""
    rows: int = 0
    cols: int = 0
    y_labels: list[str] = field(default_factory=list)
    y_shown: list[str] = field(default_factory=list)
    y_hover: list[str] = field(default_factory=list)
    x_labels: list[str] = field(default_factory=list)
    x_hover: list[str] = field(default_factory=list)
    values: list[list[str]] = field(default_factory=list)
    mask_legend: bool = False
    styles: str = ""

    @property
    def z(self) -> np.ndarray:
        return np.array([[float(v) if v[:1].isdigit() else np.nan for v in row] for row in self.values])

    @property
    def masked(self) -> np.ndarray:
        return np.array([[v == "masked" for v in row] for row in self.values], dtype=bool)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hm = HtmlHeatmap()
        self.stack: list[tuple[str, set[str]]] = []  # (tag, classes) of the open elements
        self.into: str | None = None  # which text field the current text belongs to
        self.in_x = False
        self.x_first = True
        self.y_hidden: list[bool] = []  # per row: its label thinned away

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = set((a.get("class") or "").split())
        hm = self.hm
        if "attn-hm" in cls:
            hm.rows, hm.cols = int(a["data-rows"]), int(a["data-cols"])
        if tag == "i" and self.stack and "r" in self.stack[-1][1]:
            hm.values[-1].append(a["data-v"])
        elif "r" in cls:
            hm.values.append([])
        elif "x" in cls:
            self.in_x, self.x_first = True, True
        for name in ("t", "s", "yt", "xt", "style"):
            if name in cls or tag == name:
                self.into = name
        if "leg" in cls:
            hm.mask_legend = True
        if "yl" in cls:
            self.into = "yl"
            hm.y_labels.append("")
            hm.y_hover.append(a.get("title", ""))
            self.y_hidden.append("visibility:hidden" in (a.get("style") or "").replace(" ", ""))
        if tag == "span" and self.in_x and self.stack and "x" in self.stack[-1][1]:
            if self.x_first:
                self.x_first = False
            else:
                self.into = "xl"
                hm.x_labels.append("")
                hm.x_hover.append(a.get("title", ""))
        if tag not in ("i",):  # <i> cells are empty and closed at once
            self.stack.append((tag, cls))

    def handle_endtag(self, tag):
        if tag == "i":
            return
        _, cls = self.stack.pop()
        if "x" in cls:
            self.in_x = False
        self.into = None

    def handle_data(self, data):
        hm, into = self.hm, self.into
        if into == "t":
            hm.title += data
        elif into == "s":
            hm.subtitle += data
        elif into == "yt":
            hm.y_title += data
        elif into == "xt":
            hm.x_title += data
        elif into == "style":
            hm.styles += data
        elif into == "yl":
            hm.y_labels[-1] += data
        elif into == "xl":
            hm.x_labels[-1] += data


def read_heatmap(html: str) -> HtmlHeatmap:
    """The heatmap an `attention_html` string draws (see the module doc)."""
    r = _Reader()
    r.feed(html)
    r.close()
    hm = r.hm
    hm.y_shown = [label for label, hidden in zip(hm.y_labels, r.y_hidden, strict=True) if not hidden]
    if "attn-hm" not in html or len(hm.values) != hm.rows or any(len(v) != hm.cols for v in hm.values):
        raise ValueError(f"not an attention_html heatmap of {hm.rows} × {hm.cols} cells: {html[:200]!r}")
    return hm
