"""Shared Playwright helpers and fixtures: a real `streamlit run app.py` server and Debian's Chromium.

Used by the browser tier (tests/browser/), the load test (tests/reliability/test_load.py) and
benchmarks/app_benchmark.py. In pytest, tests/conftest.py's fixtures `app_server` (one server per run),
`browser` (one Chromium per run), `tab` (one browser tab per run, `Tab`) and `page` (that tab, for a test that
loads the app into it afresh) are built from these; outside pytest:

    with running_app() as url, chromium() as b: ...

Never downloads anything: Playwright drives the system Chromium at CHROMIUM.
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # scripts (benchmarks/) import this module without pytest's pythonpath
    sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
SCREENSHOT = ROOT / "docs" / "screenshot.png"
VIEWPORT = {"width": 1400, "height": 1000}
SMALL_SCREEN = {"width": 1280, "height": 720}  # a laptop: the first screen must show a heatmap
PROJECTOR = {"width": 1920, "height": 1080}  # presentation mode: head and mean side by side
LONG_SENTENCE = (  # 25 words, 35 pieces on en-de (with </s>): the README's long-sentence screenshots
    "I know that she speaks German, but her brother, who lived in Berlin for three years, still cannot "
    "order a coffee in a small restaurant."
)


def skip_reason() -> str | None:
    """Why browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"Chromium not found at {CHROMIUM}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    """Poll Streamlit's health endpoint until it answers "ok"."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        time.sleep(0.2)
    raise TimeoutError(f"streamlit did not become healthy within {timeout:.0f} s")


@dataclasses.dataclass
class Server:
    url: str
    pid: int
    log: str = ""  # everything the server printed, filled in once it has stopped


@contextlib.contextmanager
def streamlit_server(
    folder: Path = ROOT,
    python: str = sys.executable,
    flags: Sequence[str] = (),
    env: dict[str, str] | None = None,
    port: int | None = None,
) -> Iterator[Server]:
    """`streamlit run app.py` in `folder` with `python` on a free localhost port, or on `port` (plus `flags`);
    yields the Server once it answers its health check; always stops it, then reads its output into
    `Server.log`."""
    port = port or free_port()
    cmd = [
        python, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1", *flags,
    ]  # fmt: skip
    with tempfile.TemporaryFile("w+", prefix="streamlit-", suffix=".log") as log:
        proc = subprocess.Popen(
            cmd, cwd=folder, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        server = Server(f"http://127.0.0.1:{port}", proc.pid)
        try:
            wait_healthy(server.url, proc)
            yield server
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.seek(0)
            server.log = log.read()


APP_FLAGS = ("--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none")  # the tests' server


@contextlib.contextmanager
def running_app(env: dict[str, str] | None = None) -> Iterator[str]:
    """Start `streamlit run app.py` on a free localhost port; yield its URL; always stop it."""
    with streamlit_server(flags=APP_FLAGS, env=env) as server:
        yield server.url


@contextlib.contextmanager
def chromium() -> Iterator:
    """A headless system Chromium driven by Playwright; closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Tab:
    """The one browser tab a run's browser tests open their pages in (per worker: the `tab` fixture). Each test
    loads the app into it afresh (`open`, then `page.goto`), which starts a Streamlit session of its own
    (sessions are per page load, not per tab), and `leave`s it when done. Loading the app into a tab that is
    already there costs about half the CPU of a new tab, and a third of a new browser context (which also
    downloads and compiles the app's scripts again). A test that needs an empty cache, or two people at once,
    opens contexts of its own from the `browser` fixture."""

    def __init__(self, context) -> None:
        self.context = context
        self.page = None

    def open(self, viewport: dict = VIEWPORT):
        """The tab at this window size (a new one if the last has gone), ready for a test's `goto`."""
        if self.page is None or self.page.is_closed():
            self.page = self.context.new_page()
        self.page.set_viewport_size(viewport)
        return self.page

    def leave(self) -> None:
        """End the page's session: the mouse back to the corner (hovers nothing on the next page), and away
        to an empty page. A tab that cannot is closed, and `open` opens another."""
        if self.page is None or self.page.is_closed():
            return
        try:
            self.page.mouse.move(0, 0)
            self.page.goto("about:blank")
        except Exception:
            self.page.close()


@contextlib.contextmanager
def dialogs_dismissed(page) -> Iterator[list[str]]:
    """Dismiss every JavaScript dialog the page opens meanwhile; yields their messages (a list that fills)."""
    messages: list[str] = []

    def dismiss(dialog) -> None:
        messages.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    try:
        yield messages
    finally:
        page.remove_listener("dialog", dismiss)


def app_url(base: str, **params: str) -> str:
    return f"{base}/?{urllib.parse.urlencode(params)}" if params else f"{base}/"


# --- reading the page ---------------------------------------------------------------------------------

# Figures are Plotly's (.js-plotly-plot) or the Attention view's HTML heatmaps (.attn-hm, viz.attention_html),
# taken together in page order. _fullData: Plotly's decoded traces (`data` may still hold numpy arrays as
# base64 "bdata"); an HTML heatmap says its size in data-rows.
FIGURES_JS = "() => Array.from(document.querySelectorAll('.js-plotly-plot, .attn-hm'))"
HEATMAP_ROWS_JS = f"""() => ({FIGURES_JS})().flatMap(el => el.classList.contains('attn-hm')
    ? [Number(el.dataset.rows)]
    : (el._fullData || []).filter(t => t.type === 'heatmap').map(t => t.z.length))"""
# an HTML heatmap's row labels as shown (a thinned row's label is hidden), escaped as Plotly's ticktext is
_SHOWN_JS = "e => e.offsetParent !== null && getComputedStyle(e).visibility !== 'hidden'"
_ROW_LABELS_JS = (
    f"""el => Array.from(el.querySelectorAll('.r>.yl')).filter({_SHOWN_JS}).map(e => e.textContent)"""
)
_ESCAPE_JS = "t => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')"
_ESCAPED_ROW_LABELS_JS = f"el => ({_ROW_LABELS_JS})(el).map({_ESCAPE_JS})"
# every HTML heatmap's shown row labels, escaped, in page order (tests/reliability/test_load.py waits on them)
HTML_ROW_LABELS_JS = f"() => Array.from(document.querySelectorAll('.attn-hm')).map({_ESCAPED_ROW_LABELS_JS})"


def heatmap_rows(page) -> list[int]:
    """Row count of every heatmap drawn on the page (len(z) of a Plotly trace, data-rows of an HTML one), in page order."""
    return page.evaluate(HEATMAP_ROWS_JS)


def wait_for_heatmaps(
    page, rows: int, count: int = 1, labels: list[str] | None = None, exact: bool = False, timeout=60_000
) -> None:
    """Wait until `count` (or more, unless exact) heatmaps are drawn, each with `rows` rows (and y labels)."""
    page.wait_for_function(
        """([rows, count, labels, exact]) => {
            const z = (HEATMAP_ROWS)();
            const ticks = (FIGURES)().map(el => el.classList.contains('attn-hm')
                ? (ROW_LABELS)(el) : ((el._fullLayout || {}).yaxis || {}).ticktext);
            const same = a => JSON.stringify(Array.from(a || [])) === JSON.stringify(labels);
            const enough = exact ? z.length === count : z.length >= count;
            return enough && z.every(n => n === rows) && (labels === null || ticks.every(same));
        }""".replace("HEATMAP_ROWS", HEATMAP_ROWS_JS)
        .replace("FIGURES", FIGURES_JS)
        .replace("ROW_LABELS", _ESCAPED_ROW_LABELS_JS),
        arg=[rows, count, labels, exact],
        timeout=timeout,
        polling=50,
    )


# the tick labels actually drawn (Plotly's SVG text, an HTML heatmap's shown row labels): what a person reads
Y_TICKS_JS = f"""(n) => {{ const el = ({FIGURES_JS})()[n];
    if (!el) return null;
    return el.classList.contains('attn-hm') ? ({_ROW_LABELS_JS})(el)
        : Array.from(el.querySelectorAll('.ytick text')).map(t => t.textContent); }}"""


def visible_y_ticks(page, n: int = 0) -> list[str] | None:
    """The y tick labels drawn in the n-th figure of the page, top to bottom (None: no such figure)."""
    return page.evaluate(Y_TICKS_JS, n)


def wait_for_y_ticks(page, ticks: list[str], n: int = 0, timeout: float = 60_000) -> None:
    """Wait until the n-th figure draws exactly these y tick labels."""
    page.wait_for_function(
        f"([n, want]) => JSON.stringify(({Y_TICKS_JS})(n)) === JSON.stringify(want)",
        arg=[n, ticks],
        timeout=timeout,
        polling=50,
    )


# where a figure's cells are: Plotly's drag layer covers exactly a subplot's plot area; an HTML heatmap's
# from its first row's first cell to its last row's last cell
PLOT_AREA_JS = f"""(n) => {{ const el = ({FIGURES_JS})()[n];
    if (el && el.classList.contains('attn-hm')) {{
        const rows = el.querySelectorAll('.r');
        const a = rows[0].children[1].getBoundingClientRect();
        const b = rows[rows.length - 1].lastElementChild.getBoundingClientRect();
        return {{x: a.x, y: a.y, width: b.right - a.x, height: b.bottom - a.y}};
    }}
    const r = el && el.querySelector('.nsewdrag') && el.querySelector('.nsewdrag').getBoundingClientRect();
    return r ? {{x: r.x, y: r.y, width: r.width, height: r.height}} : null; }}"""


def plot_area(page, n: int = 0) -> dict | None:
    """The n-th figure's (first) plot area on the screen, {x, y, width, height} in CSS pixels (None: no figure)."""
    return page.evaluate(PLOT_AREA_JS, n)


TICK_BOXES_JS = f"""([n, axis]) => {{ const el = ({FIGURES_JS})()[n];
    const box = t => {{ const r = t.getBoundingClientRect();
        return {{text: t.textContent, x: r.x, y: r.y, width: r.width, height: r.height}}; }};
    if (el && el.classList.contains('attn-hm'))
        return Array.from(el.querySelectorAll(axis === 'x' ? '.x>span:not(:first-child)' : '.r>.yl'))
            .filter({_SHOWN_JS}).map(box);
    // every axis of that letter: Plotly names a subplot's ticks "x2tick", "y4tick", ... (not the
    // colour bar's, "ycb…tick")
    const ticks = el && el.querySelectorAll('g[class^="' + axis + '"][class$="tick"]:not([class*="cb"]) > text');
    return el ? Array.from(ticks).map(box) : null; }}"""


def tick_boxes(page, n: int = 0, axis: str = "x") -> list[dict]:
    """Every tick label drawn on the n-th figure's x (or y) axes (all of a Plotly figure's subplots; the labels an HTML
    heatmap writes, thinned ones left out), with its box on the screen."""
    return page.evaluate(TICK_BOXES_JS, [n, axis])


def overlapping(boxes: list[dict], slack: float = 0.5) -> list[tuple[str, str]]:
    """Pairs of boxes that overlap (labels drawn on top of each other)."""
    pairs = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if (
                a["x"] + a["width"] - slack > b["x"]
                and b["x"] + b["width"] - slack > a["x"]
                and a["y"] + a["height"] - slack > b["y"]
                and b["y"] + b["height"] - slack > a["y"]
            ):
                pairs.append((a["text"], b["text"]))
    return pairs


# every Plotly figure on the page: the margins asked for (None where Plotly computes them) and those it drew
# with, tick labels outside the figure, and tick labels under an axis title (tests/browser/test_browser_anatomy.py,
# tests/browser/test_browser_decoding.py)
MARGINS_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(el => {
    const box = el.getBoundingClientRect(), size = el._fullLayout._size, asked = el.layout.margin || {};
    const outside = Array.from(el.querySelectorAll('g[class$="tick"] > text')).filter(t => {
        const r = t.getBoundingClientRect();
        return r.width > 0 && (r.left < box.left - 0.5 || r.right > box.right + 0.5
                               || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5); })
        .map(t => t.textContent);
    const under = [];
    for (const letter of ['x', 'y']) {
        const titleText = el.querySelector('.g-' + letter + 'title text');
        if (!titleText) continue;
        const a = titleText.getBoundingClientRect();
        el.querySelectorAll('.' + letter + 'tick > text').forEach(t => {
            const b = t.getBoundingClientRect();
            if (a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5)
                under.push(t.textContent); }); }
    return {title: el._fullLayout.title.text, asked: [asked.l, asked.r, asked.b],
            drawn: [size.l, size.r, size.b].map(Math.round), outside, under}; })"""


def _small_png(path: Path, colors: int = 256, method: str = "MEDIANCUT") -> None:
    """Rewrite a screenshot as an 8-bit palette PNG: a UI is mostly flat colour, so a few hundred colours
    keep it sharp (line colours included) at a third of the bytes. `method`: PIL's Image.Quantize name;
    FASTOCTREE keeps a few saturated colours among many faint tints of them (the head view's dimmed
    lines), where MEDIANCUT spends the palette on the tints and greys the colour key."""
    from PIL import Image  # installed with streamlit

    image = Image.open(path).convert("RGB")
    quantize = getattr(Image.Quantize, method)
    image.quantize(colors=colors, method=quantize, dither=Image.Dither.NONE).save(path, optimize=True)


def docs_screenshot(
    page, name: str, *, full: bool = False, elements: str | None = None, method: str = "MEDIANCUT"
) -> Path | None:
    """With UPDATE_SCREENSHOT=1, save docs/<name>.png for the README: the window, or (full) the whole
    page, or just what the CSS selector `elements` matches (the box around all of them, a margin
    added); stored small (`_small_png`, quantized by `method`). None without UPDATE_SCREENSHOT."""
    if os.environ.get("UPDATE_SCREENSHOT") != "1":
        return None
    size = page.viewport_size
    if full or elements:  # Streamlit scrolls inside its main block: make the window as tall as the page
        height = page.evaluate("() => document.querySelector('.stMain').scrollHeight")
        page.set_viewport_size({"width": size["width"], "height": min(int(height) + 20, 4000)})
        page.wait_for_timeout(1500)  # Plotly re-lays out responsive figures after a resize
        wait_idle(page)
    clip = None
    if elements:
        boxes = [b for b in (el.bounding_box() for el in page.locator(elements).all()) if b]
        left, top = min(b["x"] for b in boxes) - 8, min(b["y"] for b in boxes) - 8
        right = max(b["x"] + b["width"] for b in boxes) + 8
        bottom = max(b["y"] + b["height"] for b in boxes) + 8
        clip = {
            "x": max(0, left),
            "y": max(0, top),
            "width": right - max(0, left),
            "height": bottom - max(0, top),
        }
    path = ROOT / "docs" / f"{name}.png"
    path.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(path), clip=clip)
    if full or elements:
        page.set_viewport_size(size)
        page.wait_for_timeout(500)
    _small_png(path, method=method)
    return path


def wait_idle(page, timeout: float = 60_000) -> None:
    """Wait until Streamlit has finished running the script (its status widget is gone)."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout, polling=50
    )


def wait_for_link(page, *parts: str, timeout: float = 30_000) -> None:
    """Wait until the page's URL carries every one of `parts` ("rows=read"): Streamlit writes the link a
    moment after it draws, which on a loaded machine can come after the figure a test waited for."""
    page.wait_for_function(
        "parts => parts.every(p => location.href.includes(p))", arg=list(parts), timeout=timeout, polling=50
    )


def sentence_box(page):
    """The sentence input (Streamlit marks a keyed widget's container with the class st-key-<key>)."""
    return page.locator(".st-key-text input")


def set_text(page, text: str) -> None:
    """Replace the sentence and submit it (Enter)."""
    box = sentence_box(page)
    box.fill(text)
    box.press("Enter")


def default_model() -> str | None:
    """The model the app opens with (assets/DEFAULT, else the first model in assets/)."""
    from app_support.models import default_model_name, model_names

    return default_model_name(model_names())


# tests written for the shipped en-de model as the app's default (its pieces, its translations)
needs_en_de_default = pytest.mark.skipif(
    default_model() != "en-de", reason="needs the shipped en-de model as the default"
)


def good_sentence(model: str | None = None) -> str:
    """A sentence that shows the model at its best: a toy-task input, or an English sentence."""
    from transformer import available_models

    path = available_models().get(model or default_model() or "")
    meta = {}
    if path is not None and (path / "metadata.json").exists():
        meta = json.loads((path / "metadata.json").read_text())
    if isinstance(meta.get("source"), dict) and meta["source"].get("task"):
        return "c a f b d b"  # toy tasks: letters; the repeated b keeps two rows
    return "I know that she speaks German."  # verb-final in German: "spricht" looks back at "speaks"


def choose_checkpoint(page, directory: str) -> None:
    """Pick "Custom checkpoint…" in the sidebar's model picker and submit a checkpoint directory."""
    page.locator(".st-key-model").get_by_role("combobox").click()
    page.get_by_role("option", name="Custom checkpoint…").click()
    box = page.locator(".st-key-ckpt input")
    box.fill(directory)
    box.press("Enter")


def decoder_pieces(text: str, model: str | None = None) -> tuple[list[str], list[str]]:
    """(pieces the app's decoder rows read, pieces they predict) for `text`: row t reads piece t, predicts t + 1."""
    from app_support.registry import defaults
    from transformer import load_pretrained

    m = load_pretrained(model or default_model())
    read = list(m.trace(text, beam=defaults()["beam"]).tgt_tokens)  # the app's translation: its default beam
    return read, [*read[1:], "</s>"]


def source_pieces(text: str, model: str | None = None) -> list[str]:
    """The source pieces (with </s>) the app's model makes of `text`, escaped as Plotly tick labels."""
    from transformer import load_pretrained

    m = load_pretrained(model or default_model())
    ids, _ = m.encode_source(text)
    return [html.escape(p, quote=False) for p in m.tokenizer.pieces(ids)]


def save_readme_screenshot(page, height: int = 1250) -> Path | None:
    """With UPDATE_SCREENSHOT=1, show cross-attention (last layer, head 0) and save docs/screenshot.png.

    Cross-attention is the README's picture: the toy models draw their task (a reversal is an
    anti-diagonal), a translation model its word alignment.
    """
    if os.environ.get("UPDATE_SCREENSHOT") != "1":
        return None
    page.locator(".st-key-kind").get_by_role("radio", name="Cross (dec → enc)").click()
    wait_idle(page)
    page.locator(".st-key-layer").get_by_role("radio").last.click()  # the last layer aligns best
    wait_idle(page)
    page.locator(".st-key-head").get_by_role("radio", name="H0").click()  # en-de's best-aligning head
    page.wait_for_function(
        f"""() => {{ const t = ({FIGURES_JS})().map(el => el.classList.contains('attn-hm')
                ? el.getAttribute('aria-label') || '' : ((el._fullLayout || {{}}).title || {{}}).text || '');
            return t.length >= 2 && t.every(s => s.startsWith('Cross')) && t[0].endsWith('H0'); }}""",
        timeout=60_000,
    )
    wait_idle(page)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
    page.wait_for_timeout(1500)  # Plotly re-lays out responsive figures after a resize
    page.screenshot(path=str(SCREENSHOT))
    page.set_viewport_size(VIEWPORT)
    _small_png(SCREENSHOT)
    return SCREENSHOT
