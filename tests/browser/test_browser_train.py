"""The Train live view in a real browser: Play starts a job in a worker process of the server, and while it
trains the page redraws itself every second: the Step metric grows, the curves gain points and the probe's
attention heatmap changes; Pause settles it (Play enabled again, the Step metric where the status line says
it paused). A small model on the copy task; its step budget is far beyond what the test lets it train, so
the run is still going when Pause is pressed."""

from __future__ import annotations

import re

import pytest

from tests.support import browser as bs

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SMALL = {"view": "train", "task": "copy", "enc": "1", "dec": "1", "nheads": "2", "dmodel": "16", "seed": "3",
         "budget": "20000"}  # fmt: skip

# the "Step" metric's value as a number (-1 while it is not drawn)
STEP_JS = """() => { const m = Array.from(document.querySelectorAll('[data-testid="stMetric"]')).find(
        e => e.querySelector('[data-testid="stMetricLabel"]').textContent.trim() === 'Step');
    return m ? Number(m.querySelector('[data-testid="stMetricValue"]').textContent.replace(/,/g, '')) : -1; }"""
# the curves' points: x of each trace of the train_curves chart, decoded by Plotly (_fullData); null: not drawn
CURVES_JS = """() => { const el = document.querySelector('.st-key-train_curves .js-plotly-plot');
    return el && el._fullData ? el._fullData.map(t => Array.from(t.x || [])) : null; }"""
# the probe's heatmap as drawn: its size and every cell's weight (viz.attention_html); null: not drawn
CELLS_JS = """() => { const el = document.querySelector('.attn-hm');
    return el && {rows: Number(el.dataset.rows), cols: Number(el.dataset.cols),
                  v: Array.from(el.querySelectorAll('[data-v]')).map(c => c.dataset.v)}; }"""


def test_play_trains_live_and_pause_settles(app_server, page):
    page.goto(bs.app_url(app_server, **SMALL))
    play = page.locator("button:visible", has_text="Play")  # its text: the icon's name, then the label
    pause = page.locator("button:visible", has_text="Pause")
    play.wait_for(timeout=90_000)
    bs.wait_idle(page)
    assert play.is_enabled() and not pause.is_enabled()
    assert page.evaluate(STEP_JS) == 0
    assert page.evaluate(CURVES_JS) in (None, [[], [], []])  # nothing trained: no points yet

    play.click()
    # (a) the Step metric grows: a first report after some steps, then a later one further on
    page.wait_for_function(f"() => ({STEP_JS})() > 0", timeout=90_000, polling=100)
    first_step = page.evaluate(STEP_JS)
    page.wait_for_function(f"s => ({STEP_JS})() > s", arg=first_step, timeout=60_000, polling=100)
    # (b) the curves gain points: each trace one point per report, more than it had a moment ago (the chart is
    # drawn a moment after the metric on a busy machine)
    page.wait_for_function(
        f"() => {{ const c = ({CURVES_JS})(); return c && c[0].length >= 1; }}", timeout=60_000
    )
    first_points = len(page.evaluate(CURVES_JS)[0])
    assert first_points >= 1
    page.wait_for_function(
        f"n => {{ const c = ({CURVES_JS})(); return c && c[0].length > n; }}",
        arg=first_points,
        timeout=60_000,
        polling=100,
    )
    curves = page.evaluate(CURVES_JS)
    assert len(curves) >= 2 and all(len(c) == len(curves[0]) for c in curves), curves
    assert curves[0] == sorted(curves[0]) and curves[0][-1] > 0  # by step, the newest last
    # (c) the probe's attention changes as the model learns: the same cells, other weights, a moment later
    cells = page.evaluate(CELLS_JS)
    assert cells and cells["rows"] * cells["cols"] == len(cells["v"]) > 0, cells
    page.wait_for_function(
        f"""was => {{ const c = ({CELLS_JS})();
            return c && c.rows === was.rows && c.cols === was.cols && c.v.join() !== was.v.join(); }}""",
        arg=cells,
        timeout=120_000,  # a report a second, slower when the suite fills both cores
        polling=100,
    )

    pause.click()
    # settled: Play enabled, Pause disabled, and the Step metric is where the status line says it paused
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('[data-testid=\"stCaptionContainer\"]'))"
        ".some(e => /^Paused at step [0-9,]+\\.$/.test(e.textContent.trim()))",
        timeout=60_000,
        polling=100,
    )
    bs.wait_idle(page)
    play.wait_for(timeout=30_000)
    assert play.is_enabled() and not pause.is_enabled()
    said = page.get_by_text(re.compile(r"^Paused at step [0-9,]+\.$")).inner_text()
    paused_at = int(said.removeprefix("Paused at step ").rstrip(".").replace(",", ""))
    shown = page.evaluate(STEP_JS)
    curves = page.evaluate(CURVES_JS)
    print(f"train view: first report at step {first_step}, paused at step {paused_at}, "
          f"{len(curves[0])} points on the curves")  # fmt: skip
    assert shown == paused_at == curves[0][-1] > first_step
    assert page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').count() == 0
