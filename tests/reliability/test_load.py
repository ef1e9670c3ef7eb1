"""Many people at once: 16 browser sessions typing into one `streamlit run app.py` server for 15 s or more.

Each session types its own sentences of the toy `reverse` model (letter sequences, unique across the
run), and after every submission must see exactly its own sentence's pieces as the row labels of every
heatmap: zero cross-talk, no exception and no error box. Sessions, sentences served, sentences per
second sustained while all sessions typed, latency (submit -> heatmaps updated, p50/p95), the server's
CPU seconds per sentence, errors and cross-talk are printed and recorded (tests/support/reliability_report.py).
The 16 Chromium pages share the machine's cores with the server: in a classroom they run on the
students' own machines.

LOAD_SESSIONS and LOAD_SECONDS change the defaults (16 sessions, 15 s of typing after the pages load; the
README's figures come from 30 s, benchmarks/reliability_summary.py).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import statistics
import time
from pathlib import Path

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, app_url
from tests.support.load import ERROR_SELECTOR, LABELS_JS, MATCH_JS, cpu_seconds, labels, percentile, sentences
from tests.support.reliability_report import record
from transformer import available_models

pytestmark = [
    pytest.mark.load,
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif("reverse" not in available_models(), reason="toy model 'reverse' not in assets/"),
]

SESSIONS = int(os.environ.get("LOAD_SESSIONS", "16"))
SECONDS = float(os.environ.get("LOAD_SECONDS", "15"))
MAX_ROUNDS = 40  # per session: bounded by count as well as time


async def session(browser, url: str, own: list[str], others: dict[str, int], i: int) -> dict:
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    stats = {"served": 0, "latency": [], "errors": 0, "crosstalk": 0, "timeouts": 0, "done": []}
    try:
        page = await context.new_page()
        await page.goto(app_url(url, model="reverse", view="attention", text=own[0]), timeout=120_000)
        await page.wait_for_function(MATCH_JS, arg=labels(own[0]), timeout=120_000, polling=100)
        box = page.locator(".st-key-text input")
        deadline = time.monotonic() + SECONDS  # SECONDS of typing once this session's page is there
        for k, sentence in enumerate(own[1:]):
            if time.monotonic() > deadline and k >= 3:
                break
            await box.fill(sentence)
            start = time.perf_counter()
            await box.press("Enter")
            try:
                await page.wait_for_function(MATCH_JS, arg=labels(sentence), timeout=30_000, polling=50)
            except Exception:  # Playwright's TimeoutError: look at what is shown instead
                shown = await page.evaluate(LABELS_JS)
                foreign = {others.get(" ".join(w[1:] for w in ls[:-1])) for ls in shown} - {None, i}
                stats["crosstalk" if foreign else "timeouts"] += 1
                continue
            stats["latency"].append(time.perf_counter() - start)
            stats["done"].append(time.perf_counter())
            stats["served"] += 1
            stats["errors"] += await page.locator(ERROR_SELECTOR).count()
    finally:
        await context.close()
    return stats


async def run_load(url: str) -> list[dict]:
    from playwright.async_api import async_playwright

    plan = sentences(SESSIONS, MAX_ROUNDS)
    owner = {s: i for i, own in enumerate(plan) for s in own}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            return await asyncio.gather(*(session(browser, url, own, owner, i) for i, own in enumerate(plan)))
        finally:
            await browser.close()


def server_pid(url: str) -> int | None:
    """The `streamlit run` process serving this URL (its --server.port), or None."""
    port = url.rsplit(":", 1)[1].strip("/")
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            args = cmdline.read_bytes().split(b"\0")
            if b"streamlit" in b" ".join(args) and port.encode() in args and b"--server.port" in args:
                return int(cmdline.parent.name)
    return None


def sustained(results: list[dict]) -> float | None:
    """Sentences per second while every session was typing: completions between the last session's first
    one and the first session's last one (the whole run when that window is under 10 s)."""
    done = [r["done"] for r in results if r["done"]]
    if not done:
        return None
    start, end = max(d[0] for d in done), min(d[-1] for d in done)
    if end - start < 10:
        start, end = min(d[0] for d in done), max(d[-1] for d in done)
    inside = sum(start < t <= end for d in done for t in d)
    return round(inside / (end - start), 2) if end > start else None


def test_sixteen_sessions_typing_at_once_see_only_their_own_sentences(app_server):
    """Every submission of every session shows its own sentence's pieces; no cross-talk, no error."""
    start = time.perf_counter()
    pid = server_pid(app_server)
    cpu = cpu_seconds(pid)
    # in a thread of its own: its event loop must not meet the one of the run's shared Chromium (sync Playwright)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        results = pool.submit(asyncio.run, run_load(app_server)).result()
    cpu = cpu_seconds(pid) - cpu
    latency = sorted(t for r in results for t in r["latency"])
    figures = {
        "sessions": len(results),
        "requests_served": sum(r["served"] for r in results),
        "sentences_per_s": sustained(results),
        "latency_p50_s": round(statistics.median(latency), 3) if latency else None,
        "latency_p95_s": round(percentile(latency, 0.95), 3) if latency else None,
        "errors": sum(r["errors"] for r in results),
        "timeouts": sum(r["timeouts"] for r in results),
        "crosstalk": sum(r["crosstalk"] for r in results),
        "wall_s": round(time.perf_counter() - start, 1),
        # the server's CPU over the run (page loads included) per sentence served
        "server_cpu_per_sentence_s": round(cpu / max(1, sum(r["served"] for r in results)), 3)
        if pid
        else None,
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 1),  # the browsers and the server are part of it
    }
    print("load test:", figures)
    record("load", figures)
    assert figures["crosstalk"] == 0 and figures["errors"] == 0 and figures["timeouts"] == 0, figures
    assert all(r["served"] >= 1 for r in results), [r["served"] for r in results]
