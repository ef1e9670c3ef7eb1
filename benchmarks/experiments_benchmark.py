"""How fast the experiments of issue 11 (items 1 and 2) feel in a real browser, printed as a table.

    python benchmarks/experiments_benchmark.py [--model en-de] [--repeats 5]

On `en-de` with 15-word sentences, in the same headless Chromium the tests use (tests/support/browser.py):

1. heads off: clicking one head of the grid in "Switch heads off" -> every figure of the view redrawn with
   the sentence translated again with that head off (a new set each time, so nothing is cached). Target ≤ 1 s.
2. typed target: Enter on a new translation in "Score a translation" -> the piece chart shows its pieces and
   every figure is redrawn. Target ≤ 1 s.
3. heads table: Enter on a new sentence with "Switch heads off" open -> the ranking of every single head
   (36 on en-de) drawn for it (translate + trace + one teacher-forced pass per head). Target ≤ 3 s.
   Also: the table computed alone, without the browser (`experiment.results.heads_table`).

Medians of --repeats; the machine's load average is printed with them (a shared CPU varies).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import tests.support.browser as bs  # noqa: E402  (after the path setup)

SENTENCES = [  # 15 words each
    "The old man who lives near the river walked slowly to the station this morning.",
    "My sister bought a small red car last week because her old one was broken.",
    "We will visit our grandparents in the village next summer if the weather is good.",
    "The children played in the garden all afternoon while their parents talked about the school.",
    "I read an interesting book about the history of the city during the long winter.",
    "The teacher asked the students to write a short story about their favourite animal today.",
    "After dinner we went for a walk along the lake and watched the sun go down.",
    "He could not find his keys, so he waited outside until his wife came home.",
]
MARK_JS = """() => document.querySelectorAll('.js-plotly-plot').forEach(el => {
    if (el._fullData) el._fullData.__old = true; })"""
REDRAWN_JS = """() => { const plots = Array.from(document.querySelectorAll('.js-plotly-plot'));
    return plots.length > 0 && plots.every(el => el._fullData && !el._fullData.__old)
        && !document.querySelector('[data-stale="true"]'); }"""
TITLES_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(el =>
    [((el._fullLayout || {}).title || {}).text || '', (((el._fullLayout || {}).title || {}).subtitle || {}).text || ''])"""
GRID = "How much switching one head off lowers the translation's log-probability"


def redrawn(page, condition: str, arg=None, timeout: float = 120_000) -> None:
    """Wait until every figure is drawn anew (since MARK_JS) and `condition` (a JS function of arg) holds."""
    page.wait_for_function(
        f"(arg) => ({REDRAWN_JS})() && ({condition})(arg)", arg=arg, timeout=timeout, polling=20
    )


def heads_off_clicks(page, url: str, model: str, text: str, repeats: int) -> list[float]:
    """Click a different single head on each time (and off again, untimed): click -> figures redrawn."""
    page.goto(bs.app_url(url, model=model, view="heads", text=text))
    redrawn(page, f"() => ({TITLES_JS})().some(t => t[0] === {GRID!r})")
    bs.wait_idle(page)
    times = []
    heads = [
        (kind, layer, h) for kind in ("cross", "decoder", "encoder") for layer in range(3) for h in range(4)
    ]
    for kind, layer, h in heads[:repeats]:
        button = page.locator(f".st-key-off_{kind}_{layer}").get_by_role("button", name=f"H{h}", exact=True)
        want = f"off={kind}.{layer}.{h}"
        page.evaluate(MARK_JS)
        start = time.perf_counter()
        button.click()
        redrawn(
            page,
            "(want) => location.href.includes(want) && Array.from(document.querySelectorAll('.js-plotly-plot'))"
            ".some(el => (el._fullData || []).some(t => t.name === '1 head off'))",
            want,
        )
        times.append(time.perf_counter() - start)
        bs.wait_idle(page)
        button.click()  # back on (cached: not timed)
        page.wait_for_function("() => !location.href.includes('off=')", timeout=60_000)
        bs.wait_idle(page)
    return times


def typed_targets(page, url: str, model, name: str, text: str, repeats: int) -> list[float]:
    """Enter a different translation each time: Enter -> the piece chart shows its pieces, all redrawn."""
    page.goto(bs.app_url(url, model=name, view="score", text=text))
    box = page.locator(".st-key-target input")
    box.wait_for(timeout=120_000)
    bs.wait_idle(page)
    own = model.translate(text, beam=4)
    words = own.rstrip(".").split()
    times = []
    for i in range(repeats):
        variant = " ".join(words[: len(words) - 1 - i % 3] + words[len(words) - 1 - i % 3 :][::-1]) + "." * (
            1 + i // 3
        )
        pieces = [bs.html.unescape(p) for p in model.tokenizer.pieces(model.tokenizer.encode_target(variant))]
        box.fill(variant)
        page.evaluate(MARK_JS)
        start = time.perf_counter()
        box.press("Enter")
        redrawn(
            page,
            """(want) => { const el = document.querySelectorAll('.js-plotly-plot')[0];
                const ticks = Array.from(el.querySelectorAll('.ytick text')).map(t => t.textContent);
                return JSON.stringify(ticks) === JSON.stringify(want); }""",
            [*pieces, "</s>"],
        )
        times.append(time.perf_counter() - start)
        bs.wait_idle(page)
    return times


def heads_tables(page, url: str, model: str, repeats: int) -> list[float]:
    """With the heads view open, Enter on a new sentence -> the ranking figure redrawn for it."""
    page.goto(bs.app_url(url, model=model, view="heads", text="The house is old."))
    redrawn(page, f"() => ({TITLES_JS})().some(t => t[0] === {GRID!r})")
    bs.wait_idle(page)
    times = []
    for text in SENTENCES[-repeats:]:
        box = bs.sentence_box(page)
        box.fill(text)
        page.evaluate(MARK_JS)
        start = time.perf_counter()
        box.press("Enter")
        redrawn(
            page,
            f"(s) => ({TITLES_JS})().some(t => t[0] === {GRID!r} && t[1].includes(s)) "
            "&& document.querySelector('.st-key-heads_rank [data-testid=\"stDataFrame\"]')",
            text[:30],
        )
        times.append(time.perf_counter() - start)
        bs.wait_idle(page)
    return times


def table_alone(name: str, repeats: int) -> list[float]:
    """experiment.results.heads_table without the browser: translate + trace + every head off in turn (uncached)."""
    import logging

    logging.getLogger("streamlit").setLevel(logging.ERROR)
    from app_support import models
    from app_support.experiment import results
    from app_support.models import available_models
    from app_support.run import Run

    path = str(available_models()[name])
    stamp = models.stamp(path)
    models.load_model(path, stamp)
    times = []
    for text in SENTENCES[:repeats]:
        start = time.perf_counter()
        results.heads_table(Run(path, stamp, text, 4, 0))
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="en-de")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    repeats = max(1, min(args.repeats, len(SENTENCES) - 1))
    from transformer import load_pretrained

    model = load_pretrained(args.model)
    n_heads = model.config.n_heads * (model.config.n_encoder_layers + 2 * model.config.n_decoder_layers)
    print(f"model {args.model}: {n_heads} heads; {repeats} repeats; sentences of 15 words")
    results = {}
    with bs.running_app() as url, bs.chromium() as browser:
        context = browser.new_context(viewport=bs.VIEWPORT)
        page = context.new_page()
        results["heads off: click a head -> figures redrawn (re-translated)"] = (
            heads_off_clicks(page, url, args.model, SENTENCES[0], repeats),
            1.0,
        )
        results["typed target: Enter -> piece chart and figures redrawn"] = (
            typed_targets(page, url, model, args.model, SENTENCES[1], repeats),
            1.0,
        )
        results[f"heads table: new sentence -> all {n_heads} heads ranked and drawn"] = (
            heads_tables(page, url, args.model, repeats),
            3.0,
        )
        context.close()
    results[f"heads table alone (no browser): {n_heads} heads"] = (table_alone(args.model, repeats), None)
    load = os.getloadavg()
    print(f"\n| measurement ({args.model}, 15-word sentence) | median | max | target |\n|---|---:|---:|---|")
    for name, (times, target) in results.items():
        goal = f"≤ {target:g} s" if target else ""
        print(f"| {name} | {statistics.median(times):.2f} s | {max(times):.2f} s | {goal} |")
    print(f"\nload average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
