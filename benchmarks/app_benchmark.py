"""How fast the app feels in a real browser (Playwright + the system Chromium), printed as a table.

    python benchmarks/app_benchmark.py [--model NAME] [--long-model NAME] [--starts 3] [--updates 10]

1. cold start: launching `streamlit run app.py` -> the first attention heatmap drawn (torch import,
   model load, translate + trace, render). Target ≤ 6 s.
2. update: pressing Enter on a new ~20-piece sentence -> both heatmaps of the Attention view show its
   pieces (translate + trace + render). Median of --updates sentences. Target ≤ 1 s.
3. model view at 128 pieces: clicking "Model view" for a cached 128-piece sentence -> every layer × head
   heatmap drawn. Median of 5. Target ≤ 2 s. Also: opening that sentence the first time.

The machine's load average is printed with the results: on a shared CPU the numbers vary.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import browser_support as bs  # noqa: E402  (after the path setup)

from transformer import available_models, load_pretrained  # noqa: E402

WORDS = (
    "the old house near the river was quiet in the evening while children played and their parents "
    "talked about the weather the harvest the new school and the long road to the city"
).split()
LETTERS = "abcdefghij"


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


def cold_start(browser, query: dict, rows: int) -> float:
    """Seconds from launching the server to the first heatmap with `rows` rows."""
    start = time.perf_counter()
    with bs.running_app() as url:
        page = browser.new_page(viewport=bs.VIEWPORT)
        page.goto(bs.app_url(url, **query))
        bs.wait_for_heatmaps(page, rows=rows, count=1, timeout=120_000)
        elapsed = time.perf_counter() - start
        page.close()
    return elapsed


def warm(browser, url: str, query: dict, rng: random.Random, model, n: int = 3) -> list[float]:
    """Seconds from opening the app (fresh browser context, new sentence) on a running server to a heatmap."""
    times = []
    for _ in range(n):
        text = sentence(model, 12, rng)
        context = browser.new_context(viewport=bs.VIEWPORT)
        page = context.new_page()
        start = time.perf_counter()
        page.goto(bs.app_url(url, **{**query, "text": text}))
        bs.wait_for_heatmaps(page, rows=len(pieces(model, text)), count=1, timeout=120_000)
        times.append(time.perf_counter() - start)
        context.close()
    return times


def updates(page, model, n: int, rng: random.Random) -> list[float]:
    """Seconds from Enter on a new ~20-piece sentence to both heatmaps showing its pieces."""
    times = []
    for _ in range(n):
        text = sentence(model, 19, rng)
        labels = pieces(model, text)
        box = bs.sentence_box(page)
        box.fill(text)
        start = time.perf_counter()
        box.press("Enter")
        bs.wait_for_heatmaps(page, rows=len(labels), count=2, labels=labels)
        times.append(time.perf_counter() - start)
        bs.wait_idle(page)
    return times


def model_view(
    page, url: str, long: str, model, n: int, rng: random.Random
) -> tuple[float, list[float], int]:
    """(first open of a 128-piece sentence, clicks to the model view, pieces) for a model or checkpoint."""
    cfg = model.config
    text = sentence(model, min(127, cfg.max_len - 1), rng)
    rows = len(pieces(model, text))
    if Path(long).is_dir():  # a checkpoint directory: picked in the sidebar, as a teacher would
        page.goto(bs.app_url(url, view="attention", text=text))
        bs.wait_idle(page, 120_000)
        start = time.perf_counter()
        bs.choose_checkpoint(page, long)
    else:
        start = time.perf_counter()
        page.goto(bs.app_url(url, model=long, view="attention", text=text))
    bs.wait_for_heatmaps(page, rows=rows, count=2, timeout=300_000)
    first = time.perf_counter() - start
    bs.wait_idle(page)
    grid = cfg.n_encoder_layers * cfg.n_heads
    panel = page.locator(".st-key-panel")
    times = []
    for _ in range(n):
        button = panel.get_by_role("radio", name="Model view (all heads)")
        start = time.perf_counter()
        button.click()
        bs.wait_for_heatmaps(page, rows=rows, count=grid, exact=True, timeout=60_000)
        times.append(time.perf_counter() - start)
        bs.wait_idle(page)
        panel.get_by_role("radio", name="One head + mean").click()
        bs.wait_for_heatmaps(page, rows=rows, count=2, exact=True)
        bs.wait_idle(page)
    return first, times, rows


@contextlib.contextmanager
def stage(name: str, page=None):
    """Say which measurement failed, with a screenshot of the page at that moment."""
    try:
        yield
    except Exception:
        shot = Path(tempfile.gettempdir()) / "app_benchmark_failure.png"
        if page is not None:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(shot))
        print(
            f"failed during: {name}" + (f" (screenshot {shot})" if page is not None else ""), file=sys.stderr
        )
        raise


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} CPUs"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="model in assets/ for start and update (default: the app's default)")
    parser.add_argument(
        "--long-model",
        help="model name in assets/ or checkpoint directory for the 128-piece model view "
        "(default: a model in assets/ with max_len ≥ 128)",
    )
    parser.add_argument("--starts", type=int, default=3, help="cold starts to time")
    parser.add_argument("--updates", type=int, default=10, help="new sentences to time")
    args = parser.parse_args(argv)
    reason = bs.skip_reason()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 1
    models = available_models()
    name = args.model or bs.default_model()
    if name not in models:
        print(f"no model {name!r} in assets/ ({', '.join(models) or 'none'})", file=sys.stderr)
        return 1
    model = load_pretrained(name)
    long = args.long_model or next(
        (n for n in [name, *models] if load_pretrained(n).config.max_len >= 128), None
    )
    rng = random.Random(0)
    print(f"# app benchmark: model {name!r}; {load()}; git {git_rev()}")
    rows = []
    with bs.chromium() as browser:
        text = sentence(model, 12, rng)
        query = {"model": name, "view": "attention", "text": text}
        with stage("cold start"):
            starts = [cold_start(browser, query, len(pieces(model, text))) for _ in range(args.starts)]
        rows.append(("cold start -> first heatmap", starts, 6.0))
        with bs.running_app() as url:
            page = browser.new_page(viewport=bs.VIEWPORT)
            page.goto(bs.app_url(url, model=name, view="attention", text=text))
            bs.wait_for_heatmaps(page, rows=len(pieces(model, text)), count=2, timeout=120_000)
            bs.wait_idle(page)
            with stage("updates", page):
                times = updates(page, model, args.updates, rng)
            rows.append(("new ~20-piece sentence -> 2 heatmaps", times, 1.0))
            with stage("new sessions on the running server"):
                rows.append(
                    (
                        "new browser session, server running -> first heatmap",
                        warm(browser, url, query, rng, model),
                        None,
                    )
                )
            if long is None:
                print("no model in assets/ has max_len ≥ 128: model view at 128 pieces not measured")
            else:
                long_model = load_pretrained(long)
                with stage("model view", page):
                    first, times, n = model_view(page, url, long, long_model, 5, rng)
                cfg = long_model.config
                label = Path(long).name if Path(long).is_dir() else long
                what = f"{cfg.n_encoder_layers}×{cfg.n_heads} heads, {n} pieces"
                rows.append((f"open {n}-piece sentence -> 2 heatmaps ({label!r})", [first], None))
                rows.append((f"model view click -> {what}", times, 2.0))
                if long_model is not model:
                    with stage("updates on the long model", page):
                        times = updates(page, long_model, args.updates, rng)
                    rows.append((f"new ~20-piece sentence -> 2 heatmaps ({label!r})", times, 1.0))
            page.close()
    print(f"\n{'measure':<62} {'median s':>9} {'min s':>7} {'max s':>7} {'n':>3} {'target':>7}")
    for label, times, target in rows:
        med = statistics.median(times)
        mark = "" if target is None else ("ok" if med <= target else "SLOW")
        goal = "" if target is None else f"≤{target:g}"
        print(f"{label:<62} {med:9.2f} {min(times):7.2f} {max(times):7.2f} {len(times):3d} {goal:>5} {mark}")
    print(f"\n{load()}")
    return 0


def git_rev() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=bs.ROOT
        )
        return out.stdout.strip() or "?"
    except OSError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
