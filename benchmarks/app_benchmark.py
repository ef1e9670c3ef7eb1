"""What one server costs per click, and how fast the app feels, in a real browser (Playwright + Chromium).

    python benchmarks/app_benchmark.py [--model NAME] [--repeats 5] [--views attention,anatomy,attribution-value_norm]
                                       [--starts 3] [--skip-wall]

The servers run as they are served: `streamlit run app.py` with the repository's .streamlit/config.toml
(no file watcher), and with a `.venv` inside the repository, as the README's setup makes one (created
with --system-site-packages when missing; the servers run on its Python). Everything is compared with
a blank Streamlit app (one text box) started the same way in the same run: in a folder of its own,
with a copy of the same config.toml (Streamlit watches the script's folder when a watcher is on; a
blank script in a busy folder measures the folder, not Streamlit).

1. Server CPU (utime + stime of the server process, /proc/PID/stat), median of --repeats:
   - blank app: one rerun (Enter in its text box);
   - every view of the app, and the Attention view's Attribution panel with each method (`attribution-<method>`):
     a new ~20-piece sentence (Enter), and a click on a layer and on a head
     (Attention, Anatomy: every click shows a layer × head not shown before for that sentence);
   - Anatomy on a 35-piece sentence: CPU and wall time from Enter to every figure redrawn, in each of
     its sections (one is shown at a time; the slowest is held to the target). The per-view rows open
     Anatomy on its decoder layer (section 7), the section with the most figures.
   An action ends when the server's `script_finished` message reaches the browser; its CPU is read
   once the server is idle again (no CPU for 0.15 s). Targets: new sentence on Attention ≤ 2.5× the
   blank rerun, a layer/head click ≤ 1.5×, Anatomy at 35 pieces ≤ 2 s.
2. Fresh browser sessions (new context, nothing cached in the browser), wall time, the blank app's and
   the app's taking turns: the blank app's first render, and the app's first heatmap for a link with a
   new sentence (target ≤ 1.5×); for information, the same for a plain link (the default sentence) and
   for a browser with the app's scripts in its HTTP cache (a returning student).
3. Unless --skip-wall: cold start (launch -> first heatmap, target ≤ 6 s) and the model view of
   every head at 128 pieces (target ≤ 2 s).

The inotify watches the app server holds are counted (0 = nothing watches .venv or anything else).
The machine's load average is printed with the results: on a shared CPU the wall times vary more
than the CPU seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tests.support.browser as bs  # noqa: E402  (after the path setup)
from app_support import registry
from app_support.views import anatomy as anatomy_view
from transformer import available_models, load_pretrained  # noqa: E402

ROOT = bs.ROOT
VENV = ROOT / ".venv"
CONFIG = ROOT / ".streamlit" / "config.toml"
BLANK_APP = 'import streamlit as st\n\nst.text_input("Sentence", key="text")\n'
TICK = os.sysconf("SC_CLK_TCK")
WORDS = (
    "the old house near the river was quiet in the evening while children played and their parents "
    "talked about the weather the harvest the new school and the long road to the city"
).split()
LETTERS = "abcdefghij"
# the per-view rows open Anatomy on its decoder layer, the section with the most figures
ANATOMY_SECTION = "7"
TARGETS = {"sentence": 2.5, "click": 1.5, "anatomy_s": 2.0, "first": 1.5}


# --- sentences ------------------------------------------------------------------------------------


def sentence(model, n_pieces: int, rng: random.Random) -> str:
    """A random sentence of about n_pieces source pieces (without </s>) for this model."""
    toy = isinstance(model.metadata.get("source"), dict) and model.metadata["source"].get("task")

    def text(words: list[str]) -> str:
        joined = " ".join(words)
        return joined if toy else joined[:1].upper() + joined[1:] + "."

    words: list[str] = []
    while len(model.tokenizer.encode(text(words))) < n_pieces:
        words.append(rng.choice(LETTERS) if toy else rng.choice(WORDS))
    while len(model.tokenizer.encode(text(words))) > n_pieces and len(words) > 1:
        words.pop()
    return text(words)


def pieces(model, text: str) -> list[str]:
    ids, _ = model.encode_source(text)
    return [html.escape(p, quote=False) for p in model.tokenizer.pieces(ids)]


class Sentences:
    """New sentences of n or n + 1 pieces (and </s>), never one seen before, each a different length from the last
    (so "the heatmap has the new number of rows" tells the new figure from the old one)."""

    def __init__(self, model, rng: random.Random):
        self.model, self.rng, self.seen, self.last = model, rng, set(), -1

    def __call__(self, n: int) -> tuple[str, int]:
        for _ in range(200):
            text = sentence(self.model, n + self.rng.randint(0, 1), self.rng)
            rows = len(pieces(self.model, text))
            if text not in self.seen and rows != self.last:
                self.seen.add(text)
                self.last = rows
                return text, rows
        raise RuntimeError(f"no new sentence of about {n} pieces")


# --- servers and their CPU ------------------------------------------------------------------------


def ensure_venv() -> str:
    """A `.venv` inside the repository (made with --system-site-packages when missing); its Python if
    that can run Streamlit, else this one."""
    if not VENV.exists():
        subprocess.run(
            [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(VENV)], check=True
        )
    python = VENV / "bin" / "python"
    ok = subprocess.run([python, "-c", "import streamlit, torch"], capture_output=True).returncode == 0
    return str(python) if ok else sys.executable


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def settle(pid: int, quiet: float = 0.15, timeout: float = 10.0) -> float:
    """Wait until the process uses (almost) no CPU for `quiet` seconds; its CPU seconds then."""
    last, deadline = cpu_seconds(pid), time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = cpu_seconds(pid)
        if now - last < 0.005:
            return now
        last = now
    return last


def inotify_watches(pid: int) -> int:
    """How many inotify watches the process holds (what a file watcher would have registered)."""
    n = 0
    for info in Path(f"/proc/{pid}/fdinfo").iterdir():
        with contextlib.suppress(OSError):
            n += info.read_text().count("inotify wd:")
    return n


@contextlib.contextmanager
def serve(folder: Path, python: str) -> Iterator[bs.Server]:
    """`streamlit run app.py` in `folder` as it is served (its own .streamlit/config.toml), on a free port."""
    server = None
    try:
        with bs.streamlit_server(folder, python) as server:
            yield server
    finally:
        overflow = server.log.count("Inotify queue overflowed") if server else 0
        if overflow:
            print(f"  ({folder.name}: the server log has {overflow} 'Inotify queue overflowed' lines)")


@contextlib.contextmanager
def blank_app() -> Iterator[Path]:
    """A folder of its own with a blank app and a copy of the repository's config.toml."""
    folder = Path(tempfile.mkdtemp(prefix="blank-streamlit-"))
    try:
        (folder / "app.py").write_text(BLANK_APP)
        if CONFIG.exists():
            (folder / ".streamlit").mkdir()
            shutil.copy(CONFIG, folder / ".streamlit" / "config.toml")
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- the page -------------------------------------------------------------------------------------


class Page:
    """A browser page that counts the server's `script_finished` messages (the end of every run)."""

    def __init__(self, context, server: bs.Server):
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self.server, self.finished = server, 0
        self.page = context.new_page()

        def on_frame(payload) -> None:
            if isinstance(payload, bytes | bytearray):
                msg = ForwardMsg()
                with contextlib.suppress(Exception):
                    msg.ParseFromString(bytes(payload))
                    self.finished += msg.WhichOneof("type") == "script_finished"

        self.page.on("websocket", lambda ws: ws.on("framereceived", on_frame))

    def wait_finished(self, after: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while self.finished <= after:
            if time.monotonic() > deadline:
                raise TimeoutError("the server never finished the run")
            self.page.wait_for_timeout(10)

    def run(self, action: Callable[[], None], then: Callable[[], None] | None = None) -> tuple[float, float]:
        """(server CPU seconds, wall seconds) of one action: until the run's end reaches the browser
        and `then` holds; CPU until the server is idle again."""
        before = settle(self.server.pid)
        n = self.finished
        start = time.perf_counter()
        action()
        self.wait_finished(n)
        if then is not None:
            then()
        wall = time.perf_counter() - start
        cpu = round((settle(self.server.pid) - before) * TICK) / TICK  # whole ticks: 0.15, not 0.150000000004
        return cpu, wall


ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
MARK_PLOTS_JS = """() => document.querySelectorAll('.js-plotly-plot').forEach(el => {
    if (el._fullData) el._fullData.__old = true; })"""
ALL_REDRAWN_JS = """() => { const plots = Array.from(document.querySelectorAll('.js-plotly-plot'));
    return plots.length > 0 && plots.every(el => el._fullData && !el._fullData.__old); }"""


OLD_PLOTS_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .filter(el => !el._fullData || el._fullData.__old).map(el => ((el._fullLayout || {}).title || {}).text)"""


def all_redrawn(page, timeout: float = 120_000) -> None:
    """Every Plotly figure on the page drawn anew since MARK_PLOTS_JS."""
    try:
        page.wait_for_function(ALL_REDRAWN_JS, timeout=timeout, polling=20)
    except Exception as e:
        shot = Path(tempfile.gettempdir()) / "app_benchmark_failure.png"
        page.screenshot(path=str(shot), full_page=True)
        raise TimeoutError(f"figures not redrawn: {page.evaluate(OLD_PLOTS_JS)} (screenshot {shot})") from e


def new_sentence(p: Page, text: str, rows: int | None, count: int = 1) -> tuple[float, float]:
    box = bs.sentence_box(p.page)
    box.fill(text)
    p.page.evaluate(MARK_PLOTS_JS)
    then = None if rows is None else (lambda: bs.wait_for_heatmaps(p.page, rows=rows, count=count))
    return p.run(lambda: box.press("Enter"), then)


def click(p: Page, key: str, name: str) -> tuple[float, float]:
    button = p.page.locator(f".st-key-{key}").get_by_role("radio", name=name, exact=True)
    return p.run(button.click)


def checked(p: Page, key: str) -> str:
    """The name of the chosen option of a segmented control."""
    return p.page.locator(f".st-key-{key}").locator('[aria-checked="true"]').first.inner_text().strip()


def has(p: Page, key: str) -> bool:
    return p.page.locator(f".st-key-{key}").count() > 0


def layer_head_clicks(p: Page, n: int, n_layers: int, n_heads: int, fresh: Callable[[], None]) -> dict:
    """n clicks each on a layer and on a head, every one to a (layer, head) not shown yet for the sentence."""
    layer, head = (int(checked(p, key)[1:]) for key in ("layer", "head"))  # "L0", "H2" (not "mean")
    seen = {(layer, head)}
    out: dict[str, list[float]] = {"layer": [], "head": []}
    while min(len(v) for v in out.values()) < n:
        what = "layer" if len(out["layer"]) <= len(out["head"]) else "head"
        if what == "layer":
            options = [(v, head) for v in range(n_layers) if (v, head) not in seen]
        else:
            options = [(layer, v) for v in range(n_heads) if (layer, v) not in seen]
        if not options:  # every layer × head of this sentence shown: a new sentence, not counted
            fresh()
            seen, (layer, head) = {(layer, head)}, (layer, head)
            continue
        layer, head = options[0]
        seen.add((layer, head))
        name = f"L{layer}" if what == "layer" else f"H{head}"
        out[what].append(click(p, what, name)[0])
    return out


# --- the measurements -----------------------------------------------------------------------------


def blank_figures(browser, python: str, n: int) -> dict:
    with blank_app() as folder, serve(folder, python) as server:
        context = browser.new_context(viewport=bs.VIEWPORT)
        p = Page(context, server)
        p.page.goto(server.url)
        p.wait_finished(0)
        reruns = []
        for i in range(n + 1):
            box = bs.sentence_box(p.page)
            box.fill(f"a new sentence {i}")
            reruns.append(p.run(lambda box=box: box.press("Enter"))[0])
        context.close()
    return {"rerun": reruns[1:]}


ANY_HEATMAP_JS = f"() => ({bs.HEATMAP_ROWS_JS})().length > 0"  # a Plotly heatmap or an HTML one


def opened(browser, url: str, done: Callable, context=None) -> float:
    """Wall seconds from opening `url` in a new page until `done(page)` returns, in a new browser context
    (nothing cached) unless `context` is given (a returning student: its HTTP cache kept)."""
    own = context is None
    context = context or browser.new_context(viewport=bs.VIEWPORT)
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url)
    done(page)
    elapsed = time.perf_counter() - start
    context.close() if own else page.close()
    return elapsed


def fresh_sessions(
    browser, python: str, app: bs.Server, name: str, fresh_sentence: Sentences, n: int
) -> dict:
    """Fresh browser sessions, the blank app's and the app's taking turns (a change in the machine's load
    hits both): the blank app's first render, and the app's first heatmap for a link with a new sentence
    (the target), for a plain link (the default sentence, already traced on the server) and for a link
    with a new sentence in a browser that has the app's scripts in its HTTP cache (a returning student).
    The app server has run the script once before (imports, the model): the cold start is timed apart."""

    def heatmap(rows: int) -> Callable:
        return lambda page: bs.wait_for_heatmaps(page, rows=rows, count=1, timeout=120_000)

    def any_heatmap(page) -> None:
        page.wait_for_function(ANY_HEATMAP_JS, timeout=120_000, polling=50)

    def new_link() -> tuple[str, int]:
        text, rows = fresh_sentence(12)
        return bs.app_url(app.url, model=name, view="attention", kind="encoder", text=text, **LINK), rows

    out: dict[str, list[float]] = {"first_blank": [], "first": [], "first_plain": [], "first_cached": []}
    with blank_app() as folder, serve(folder, python) as blank:

        def blank_done(page) -> None:
            bs.sentence_box(page).wait_for()

        opened(browser, blank.url, blank_done)
        opened(browser, bs.app_url(app.url, **LINK), any_heatmap)  # the server's first run
        returning = browser.new_context(viewport=bs.VIEWPORT)
        opened(browser, bs.app_url(app.url, **LINK), any_heatmap, returning)  # fills its HTTP cache
        for _ in range(n):
            out["first_blank"].append(opened(browser, blank.url, blank_done))
            link, rows = new_link()
            out["first"].append(opened(browser, link, heatmap(rows)))
            out["first_plain"].append(opened(browser, bs.app_url(app.url, **LINK), any_heatmap))
            link, rows = new_link()
            out["first_cached"].append(opened(browser, link, heatmap(rows), returning))
        returning.close()
    return out


# measured like a view: the Attention view's Attribution panel, weights beside each method (cross-attention)
PANELS = {
    f"attribution-{m}": {"view": "attention", "panel": "attribution", "kind": "cross", "attr": m}
    for m in ("value_norm", "grad_x_input", "integrated_gradients")
}


def app_figures(browser, python: str, name: str, model, views: list[str], n: int, rng) -> dict:
    cfg = model.config
    fresh_sentence = Sentences(model, rng)
    out: dict = {"views": {}}
    with serve(ROOT, python) as server:
        out |= fresh_sessions(browser, python, server, name, fresh_sentence, n)

        for view in views:  # each in a session of its own, opened on a link to the view
            say(f"view {view}")
            context = browser.new_context(viewport=bs.VIEWPORT)
            p = Page(context, server)
            text, rows = fresh_sentence(19)
            extra = {"section": ANATOMY_SECTION} if view == "anatomy" else {}
            shown = PANELS.get(view, {"view": view, "kind": "encoder"})
            link = bs.app_url(server.url, model=name, text=text, **shown, **extra, **LINK)
            p.page.goto(link)
            p.wait_finished(0, 180)
            bs.wait_idle(p.page, 120_000)
            res: dict[str, list[float]] = {"sentence": [], "wall": []}
            heatmaps = view == "attention"
            for _ in range(n):
                text, rows = fresh_sentence(19)
                cpu, wall = new_sentence(p, text, rows if heatmaps else None, 2)
                res["sentence"].append(cpu)
                res["wall"].append(wall)
            if has(p, "layer") and has(p, "head"):
                n_layers = cfg.n_encoder_layers  # kind=encoder in the link
                res |= layer_head_clicks(
                    p, n, n_layers, cfg.n_heads, lambda p=p: new_sentence(p, fresh_sentence(19)[0], None)
                )
            if view == "anatomy":
                res["anatomy_cpu"], res["anatomy_s"] = {}, {}
                for number, label in ANATOMY_SECTIONS.items():
                    if number == 0:  # the whole model: text, no figure
                        continue
                    click(p, "ana_section", label)
                    bs.wait_idle(p.page, 120_000)
                    for _ in range(max(3, n // 2)):
                        text, rows = fresh_sentence(34)  # 35 or 36 pieces with </s>
                        box = bs.sentence_box(p.page)
                        box.fill(text)
                        p.page.evaluate(MARK_PLOTS_JS)
                        cpu, wall = p.run(lambda box=box: box.press("Enter"), lambda p=p: all_redrawn(p.page))
                        res["anatomy_cpu"].setdefault(label, []).append(cpu)
                        res["anatomy_s"].setdefault(label, []).append(wall)
                        out.setdefault("anatomy_pieces", []).append(rows)
            errors = p.page.locator(ERRORS).count()
            if errors:  # measured, but the view showed an error: say so beside its figures
                res["errors"] = [errors]
                p.page.screenshot(path=str(Path(tempfile.gettempdir()) / f"app_benchmark_{view}_error.png"))
            out["views"][view] = res
            context.close()
        out["inotify"] = inotify_watches(server.pid)  # after every view ran: what a watcher would hold by now
    return out


def cold_start(browser, python: str, query: dict, rows: int) -> float:
    """Seconds from launching the server to the first heatmap with `rows` rows."""
    start = time.perf_counter()
    with serve(ROOT, python) as server:
        page = browser.new_page(viewport=bs.VIEWPORT)
        page.goto(bs.app_url(server.url, **query, **LINK))
        bs.wait_for_heatmaps(page, rows=rows, count=1, timeout=120_000)
        elapsed = time.perf_counter() - start
        page.close()
    return elapsed


def model_view(browser, python: str, long: str, model, n: int, rng) -> tuple[float, list[float], int]:
    """(first open of a 128-piece sentence, clicks to the model view, pieces)."""
    cfg = model.config
    text = sentence(model, min(127, cfg.max_len - 1), rng)
    rows = len(pieces(model, text))
    with serve(ROOT, python) as server:
        page = browser.new_page(viewport=bs.VIEWPORT)
        start = time.perf_counter()
        page.goto(bs.app_url(server.url, model=long, view="attention", kind="encoder", text=text, **LINK))
        bs.wait_for_heatmaps(page, rows=rows, count=2, timeout=300_000)
        first = time.perf_counter() - start
        bs.wait_idle(page)
        grid = cfg.n_encoder_layers * cfg.n_heads
        panel = page.locator(".st-key-panel")
        times = []
        for _ in range(n):
            button = panel.get_by_role("radio", name="Model view")
            start = time.perf_counter()
            button.click()
            bs.wait_for_heatmaps(page, rows=rows, count=grid, exact=True, timeout=60_000)
            times.append(time.perf_counter() - start)
            bs.wait_idle(page)
            panel.get_by_role("radio", name="One head + mean").click()
            bs.wait_for_heatmaps(page, rows=rows, count=2, exact=True)
            bs.wait_idle(page)
        page.close()
    return first, times, rows


# --- report ---------------------------------------------------------------------------------------


def say(what: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} CPUs"


def verdict(value: float, target: float | None) -> str:
    return "" if target is None else ("ok" if value <= target else "MISSED")


def report(blank: dict, app: dict, n: int) -> None:
    rerun, first = med(blank["rerun"]), med(app["first_blank"])
    print(f"\nServer CPU seconds per action (median of {n}); × = per blank rerun ({rerun:.3f} s)")
    print(
        f"{'view':<22} {'new sentence':>13} {'×':>6} {'layer click':>12} {'×':>6} {'head click':>11} {'×':>6}"
    )
    for view, res in app["views"].items():
        cells = []
        for key in ("sentence", "layer", "head"):
            if res.get(key):
                v = med(res[key])
                cells += [f"{v:.3f}", f"{v / rerun:.2f}"]
            else:
                cells += ["—", ""]
        error = "  (the view showed an error)" if res.get("errors") else ""
        print(f"{VIEWS.get(view, view):<22} {cells[0]:>13} {cells[1]:>6} {cells[2]:>12} {cells[3]:>6} "
              f"{cells[4]:>11} {cells[5]:>6}{error}")  # fmt: skip
    print(f"\n{'measure':<66} {'median':>8} {'ratio':>7} {'target':>7}")
    rows = [(f"blank app: rerun, server CPU s (min {min(blank['rerun']):.3f})", rerun, None, None)]
    att = app["views"].get("attention", {})
    if att:
        v = med(att["sentence"])
        rows.append(("Attention: new ~20-piece sentence, server CPU s", v, v / rerun, TARGETS["sentence"]))
        # CPU time comes in 10 ms ticks, a sixth of a blank rerun: the means of all samples, for a finer figure
        mean_s, mean_b = statistics.fmean(att["sentence"]), statistics.fmean(blank["rerun"])
        what = f"  the same, means of the samples ({mean_s:.3f} s ÷ {mean_b:.3f} s)"
        rows.append((what, mean_s, mean_s / mean_b, None))
        rows.append(
            ("Attention: new ~20-piece sentence -> both heatmaps, wall s", med(att["wall"]), None, None)
        )
        clicks = att.get("layer", []) + att.get("head", [])
        if clicks:
            v = med(clicks)
            rows.append(("Attention: layer or head click, server CPU s", v, v / rerun, TARGETS["click"]))
    ana = app["views"].get("anatomy", {})
    if ana.get("anatomy_s"):
        k = "–".join(map(str, sorted(set(app["anatomy_pieces"]))))
        for label, walls in ana["anatomy_s"].items():
            cpu = med(ana["anatomy_cpu"][label])
            what = f"Anatomy {label}: new {k}-piece sentence -> redrawn, wall s (CPU {cpu:.2f})"
            rows.append((what, med(walls), None, None))
        slowest = max(ana["anatomy_s"], key=lambda label: med(ana["anatomy_s"][label]))
        what = f"Anatomy, slowest section ({slowest}): every figure redrawn, wall s"
        rows.append((what, med(ana["anatomy_s"][slowest]), None, TARGETS["anatomy_s"]))
    rows.append(("blank app: fresh browser session -> first render, wall s", first, None, None))
    for key, what, target in (
        ("first", "app: fresh browser session, new sentence -> first heatmap, wall s", TARGETS["first"]),
        ("first_plain", "app: fresh browser session, plain link -> first heatmap, wall s", None),
        ("first_cached", "app: returning browser (HTTP cache), new sentence -> first heatmap", None),
    ):
        v = med(app[key])
        rows.append((what, v, v / first, target))
    for label, value, ratio, target in rows:
        shown = "" if ratio is None else f"{ratio:.2f}×"
        goal = "" if target is None else (f"≤{target:g}×" if ratio is not None else f"≤{target:g}")
        print(
            f"{label:<66} {value:8.3f} {shown:>7} {goal:>7} {verdict(value if ratio is None else ratio, target)}"
        )
    print(f"\ninotify watches held by the app server: {app['inotify']}")
    print(f"samples, blank reruns: {blank['rerun']}")
    if att:
        print(f"samples, Attention new sentences: {att['sentence']}")


VIEWS: dict[str, str] = {}
ANATOMY_SECTIONS: dict[int, str] = {}
LINK: dict[str, str] = {}  # more URL parameters for every link the app is opened with (--beam)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="model in assets/ (default: the app's default)")
    parser.add_argument("--repeats", type=int, default=5, help="measurements per figure (median)")
    parser.add_argument("--views", help="comma-separated views to measure (default: every view)")
    parser.add_argument("--starts", type=int, default=3, help="cold starts to time")
    parser.add_argument(
        "--skip-wall", action="store_true", help="skip cold start and the 128-piece model view"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--beam", type=int, help="beam size in every link (default: the app's default)")
    args = parser.parse_args(argv)
    reason = bs.skip_reason()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 1
    import streamlit.logger

    streamlit.logger.set_log_level("error")  # no "No runtime found" warnings from app_support's caches here

    VIEWS.update(registry.titles())
    ANATOMY_SECTIONS.update(anatomy_view.SECTION_TITLES)
    views = args.views.split(",") if args.views else [*registry.titles(), *PANELS]
    models = available_models()
    name = args.model or bs.default_model()
    if name not in models:
        print(f"no model {name!r} in assets/ ({', '.join(models) or 'none'})", file=sys.stderr)
        return 1
    model = load_pretrained(name)
    python = ensure_venv()
    rng = random.Random(args.seed)
    if args.beam:
        LINK["beam"] = str(args.beam)
    beam = f"beam {args.beam}" if args.beam else f"beam {registry.defaults()['beam']} (the app's default)"
    print(f"# app benchmark: model {name!r}, {beam}; git {git_rev()}; {load()}")
    print(f"# servers run on {python} (.venv {'inside the repository' if VENV.exists() else 'missing'})")
    with bs.chromium() as browser:
        say("blank app")
        blank = blank_figures(browser, python, args.repeats)
        say("the app")
        app = app_figures(browser, python, name, model, views, args.repeats, rng)
        report(blank, app, args.repeats)
        if not args.skip_wall:
            wall_figures(browser, python, name, model, models, args.starts, rng)
    print(f"\n{load()}")
    return 0


def wall_figures(browser, python: str, name: str, model, models, starts: int, rng) -> None:
    text = sentence(model, 12, rng)
    query = {"model": name, "view": "attention", "kind": "encoder", "text": text}
    times = [cold_start(browser, python, query, len(pieces(model, text))) for _ in range(starts)]
    print(f"\n{'cold start: streamlit run app.py -> first heatmap, wall s':<66} {med(times):8.3f} {'':>7} {'≤6':>7} "
          f"{verdict(med(times), 6.0)}")  # fmt: skip
    long = next((n for n in [name, *models] if load_pretrained(n).config.max_len >= 128), None)
    if long is None:
        print("no model in assets/ has max_len ≥ 128: model view at 128 pieces not measured")
        return
    first, times, n = model_view(browser, python, long, load_pretrained(long), 5, rng)
    print(f"{f'open a {n}-piece sentence -> 2 heatmaps ({long}), wall s':<66} {first:8.3f}")
    print(f"{f'model view click -> every head at {n} pieces, wall s':<66} {med(times):8.3f} {'':>7} {'≤2':>7} "
          f"{verdict(med(times), 2.0)}")  # fmt: skip


def git_rev() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        )
        return out.stdout.strip() or "?"
    except OSError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
