"""Every written label of a page's Plotly figures and Streamlit metrics, with its box on the screen: what the
browser checks of the experiment views (tests/browser/test_browser_heads_score.py) read to find labels
that overlap, are cut by the figure's edge, are turned where they would fit flat, or metrics cut short."""

from __future__ import annotations

from tests.support.browser import overlapping

# per Plotly figure: its box, and each written tick label, axis and colour-bar title, annotation, legend entry
# and title, with its box and whether it is turned (a tick label Plotly rotated: "rotate(30,…)")
LABELS_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(el => {
    const box = el.getBoundingClientRect();
    const written = t => t.textContent.trim() && t.getBoundingClientRect().width > 0;
    const texts = Array.from(el.querySelectorAll('g[class$="tick"] > text, .g-xtitle text, .g-ytitle text, '
        + '.cbtitle text, .annotation-text, .legendtext, .g-gtitle text')).filter(written).map(t => {
            const r = t.getBoundingClientRect();
            const turn = /rotate\\((-?[\\d.]+)/.exec(t.getAttribute('transform') || '');
            return {text: t.textContent, x: r.x, y: r.y, width: r.width, height: r.height,
                    turned: !!(turn && Number(turn[1]) !== 0 && t.closest('g[class$="tick"]'))}; });
    return {title: el._fullLayout.title.text, box: {x: box.x, y: box.y, width: box.width, height: box.height},
            texts}; })"""

# every metric's label, value and delta cut short (an ellipsis: wider or taller than the box that shows it)
METRICS_CUT_JS = """() => Array.from(document.querySelectorAll('[data-testid="stMetric"]')).flatMap(m =>
    [m, ...m.querySelectorAll('*')].filter(e => e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0)
        .map(e => e.textContent))"""


def label_problems(page) -> dict[str, list]:
    """What is wrong with the labels on the page: {"outside": labels past their figure's edge, "overlap":
    pairs of labels drawn on top of each other, "turned": tick labels Plotly turned, "metrics": metric texts
    cut short}; each entry names the figure's title."""
    found: dict[str, list] = {
        "outside": [],
        "overlap": [],
        "turned": [],
        "metrics": page.evaluate(METRICS_CUT_JS),
    }
    for fig in page.evaluate(LABELS_JS):
        b = fig["box"]
        for t in fig["texts"]:
            if (
                t["x"] < b["x"] - 0.5
                or t["y"] < b["y"] - 0.5
                or t["x"] + t["width"] > b["x"] + b["width"] + 0.5
                or (t["y"] + t["height"] > b["y"] + b["height"] + 0.5)
            ):
                found["outside"].append((fig["title"], t["text"]))
        found["overlap"] += [(fig["title"], pair) for pair in overlapping(fig["texts"])]
        found["turned"] += [(fig["title"], t["text"]) for t in fig["texts"] if t["turned"]]
    return found
