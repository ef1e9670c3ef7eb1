"""Live training under load, on a `streamlit run app.py` server of its own: 8 sessions press Play on the Train
view at once (the server trains TRAIN_JOBS of them at a time, every core but one by default; the rest queue);
meanwhile a 9th session types new sentences on the Attention view, and every one is drawn (the issue's
target, p95 within 2 s, is a time: measured and recorded here, stated in the README from a quiet machine, never
asserted, as the project's tests assert no time; inside a full suite on 2 cores it says more about the other
tests' Chromium than about the server). When the 8 sessions close, every job ends: no training process is left under the server, no
job folder on disk, and the server's memory comes back to within 50 MB of what it was before they came.

The server runs with short turns (TRAIN_SLICE_SECONDS) and short idle waits (TRAIN_IDLE_SECONDS) so that jobs
take turns and paused workers leave within the test. Latency (p50/p95), the training processes seen, the
server's memory before, at its peak and after, and how long the processes took to go are printed and recorded
(tests/support/reliability_report.py). The 9th session types LOAD_TRAIN_CHANGES sentences (8) once a job is
taking steps (not only starting its process) while the others wait for the slot.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import statistics
import time
from pathlib import Path

import pytest

from app_support.training.runner import default_slots
from tests.support.browser import APP_FLAGS, CHROMIUM, CHROMIUM_ARGS, app_url, streamlit_server
from tests.support.load import (
    ERROR_SELECTOR,
    MATCH_JS,
    children,
    cpu_seconds,
    labels,
    percentile,
    poll,
    rss_mb,
    running,
    sentences,
)
from tests.support.reliability_report import record
from transformer import available_models

pytestmark = [
    pytest.mark.load,
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif("reverse" not in available_models(), reason="toy model 'reverse' not in assets/"),
]

TRAINERS = 8  # sessions pressing Play at once
CHANGES = int(os.environ.get("LOAD_TRAIN_CHANGES", "8"))  # sentences the 9th session types, at least
TRAINED_CHANGES = CHANGES  # all of them typed once a job's Step had grown (the wait is before the first)
MAX_CHANGES = 120  # at most (a worker process that never takes a step fails the test)
P95_TARGET_S = 2.0  # the target for a new sentence at p95: recorded beside the figures
MEMORY_SLACK_MB = 50.0  # the requirement: memory back within 50 MB of the start
WORKER = "app_support.training.worker"
SERVER_ENV = {
    "TRAIN_SLICE_SECONDS": "3",
    "TRAIN_IDLE_SECONDS": "3",
    "TRAIN_GRACE_SECONDS": "1",
    "TRAIN_SPARE": "1",  # as served: a worker started ahead (the suite's servers start none)
    "TRAIN_NICE": "5",
}  # TRAIN_JOBS: default
# a small model on the copy task; its budget is far beyond what it trains here, so no job finishes on its own
TRAIN = {
    "view": "train",
    "task": "copy",
    "enc": "1",
    "dec": "1",
    "nheads": "2",
    "dmodel": "16",
    "budget": "20000",
}
VIEWPORT = {"width": 1200, "height": 900}
# the Train view's status line (app_support/views/train.py: status): what the job is doing
STATUS_JS = r"""() => { const said = Array.from(document.querySelectorAll('[data-testid="stCaptionContainer"]'))
    .map(e => e.textContent.trim()).find(t => /^(Waiting for a training slot|Training |Pausing|Paused|Press Play|Finished|Training stopped)/.test(t));
    return said || ''; }"""  # noqa: E501
# the "Step" metric's value as a number (-1 while it is not drawn)
STEP_JS = """() => { const m = Array.from(document.querySelectorAll('[data-testid="stMetric"]')).find(
        e => e.querySelector('[data-testid="stMetricLabel"]').textContent.trim() === 'Step');
    return m ? Number(m.querySelector('[data-testid="stMetricValue"]').textContent.replace(/,/g, '')) : -1; }"""
STARTED = re.compile(r"^(Waiting for a training slot|Training |Pausing|Paused: this run used)")
SLOTS = re.compile(r"of (\d+) slots? training")


async def open_page(context, url: str, **params: str):
    page = await context.new_page()
    await page.goto(app_url(url, **params), timeout=120_000)
    return page


async def open_trainer(context, url: str, seed: int):
    """A Train view with Play ready. The 8 are tabs of one browser (one context: each tab is a session of its
    own, and the app's scripts load from the browser's cache after the first)."""
    page = await open_page(context, url, **TRAIN, seed=str(seed))
    play = page.locator("button:visible", has_text="Play")
    await play.wait_for(timeout=120_000)
    await page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                                 timeout=120_000, polling=100)  # fmt: skip
    assert await play.is_enabled()
    return page


async def watch(pid: int, pages: list, seen: dict, stop: asyncio.Event) -> None:
    """While the sessions train: the training processes under the server, its memory, and what each Train
    page's status line said."""
    while not stop.is_set():
        seen["workers_peak"] = max(seen["workers_peak"], len(running(pid, WORKER)))
        seen["rss_peak"] = max(seen["rss_peak"], rss_mb(pid))
        for i, page in enumerate(pages):
            said, step = await page.evaluate(f"() => [({STATUS_JS})(), ({STEP_JS})()]")
            seen["status"][i].add(re.split(r" \(|:|,", said)[0])
            seen["steps"][i] = max(seen["steps"][i], step)
            if m := SLOTS.search(said):
                seen["slots_said"] = int(m.group(1))
            if step > 0 and seen["training_since"] is None:
                seen["training_since"] = time.perf_counter()
        await asyncio.sleep(1.0)


async def scenario(url: str, pid: int, tmp: Path) -> dict:
    from playwright.async_api import async_playwright

    out: dict = {}
    phases = out["phases"] = {}  # seconds each part of the scenario took
    clock = [time.perf_counter()]

    def lap() -> float:
        now = time.perf_counter()
        seconds, clock[0] = round(now - clock[0], 1), now
        return seconds

    typed = sentences(1, MAX_CHANGES + 1)[0]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # warm-up: the reverse model loaded and drawn (the 9th session), the Train view drawn once
            alone = await browser.new_context(viewport=VIEWPORT)
            tabs = await browser.new_context(viewport=VIEWPORT)
            watcher, warm = await asyncio.gather(
                open_page(alone, url, model="reverse", view="attention", text=typed[0]),
                open_trainer(tabs, url, seed=0),
            )
            await watcher.wait_for_function(MATCH_JS, arg=labels(typed[0]), timeout=120_000, polling=100)
            await warm.close()
            await asyncio.sleep(1.0)
            out["rss_start_mb"] = rss_mb(pid)
            phases["warm_up"] = lap()
            out["children_start"] = len(children(pid))

            pages = await asyncio.gather(*(open_trainer(tabs, url, seed=i) for i in range(TRAINERS)))
            phases["open_8"] = lap()
            seen = {"workers_peak": 0, "rss_peak": out["rss_start_mb"], "status": [set() for _ in pages],
                    "steps": [0] * len(pages), "training_since": None}  # fmt: skip
            stop = asyncio.Event()
            await asyncio.gather(*(page.locator("button:visible", has_text="Play").click() for page in pages))
            # every session's Play took: its job waits for a slot or trains
            for page in pages:
                await page.wait_for_function(
                    f"() => /{STARTED.pattern}/.test(({STATUS_JS})())", timeout=60_000, polling=200
                )
            watching = asyncio.create_task(watch(pid, pages, seen, stop))
            phases["play"] = lap()

            # meanwhile the 9th session types: submit -> every heatmap shows the new sentence's rows. CHANGES
            # sentences once a job's Step grew (its worker took a step: the 8 sessions' pages redraw every second,
            # one trains, the rest wait)
            await poll(lambda: seen["training_since"], timeout=90)
            box = watcher.locator(".st-key-text input")
            cpu, wall = cpu_seconds(pid), time.perf_counter()
            latency, while_training = [], []
            for sentence in typed[1:]:
                trained = seen["training_since"] is not None
                if len(latency) >= CHANGES and len(while_training) >= TRAINED_CHANGES:
                    break
                await box.fill(sentence)
                start = time.perf_counter()
                await box.press("Enter")
                await watcher.wait_for_function(MATCH_JS, arg=labels(sentence), timeout=30_000, polling=50)
                latency.append(time.perf_counter() - start)
                if trained:
                    while_training.append(latency[-1])
            out["latency"], out["while_training"] = latency, while_training
            # the server's CPU while the 9th session typed, in cores (its training processes not counted)
            out["server_cores"] = (cpu_seconds(pid) - cpu) / (time.perf_counter() - wall)
            phases["typing"] = lap()
            out["workers_during_typing"] = len(running(pid, WORKER))
            out["errors"] = sum([await page.locator(ERROR_SELECTOR).count() for page in [watcher, *pages]])
            stop.set()
            await watching
            out["seen"] = seen

            # the 8 sessions close: their jobs end, their processes and folders go
            lap()
            closed = time.perf_counter()
            await asyncio.gather(*(page.close() for page in pages))
            # every training process: the jobs' (killed as their sessions end) and the worker started ahead for
            # the next Play (ended once nobody took it for TRAIN_IDLE_SECONDS)
            gone = await poll(
                lambda: not running(pid, WORKER) and len(children(pid)) <= out["children_start"], timeout=30
            )
            out["processes_gone_s"] = round(time.perf_counter() - closed, 1) if gone else None
            out["children_end"] = len(children(pid))
            out["workers_end"] = len(running(pid, WORKER))
            await poll(lambda: not job_folders(tmp), timeout=10)
            out["job_folders_end"] = len(job_folders(tmp))
            limit = out["rss_start_mb"] + MEMORY_SLACK_MB
            back = await poll(lambda: rss_mb(pid) <= limit, timeout=30, every=0.5)
            out["rss_end_mb"] = rss_mb(pid)
            out["memory_back_s"] = round(time.perf_counter() - closed, 1) if back else None
            phases["closing"] = lap()
        finally:
            await browser.close()
    return out


def job_folders(tmp: Path) -> list[Path]:
    """The live jobs' folders under the server's runner root (TMPDIR/transformer-live-*)."""
    return [job for root in tmp.glob("transformer-live-*") for job in root.iterdir()]


def test_eight_sessions_train_while_a_ninth_types_and_all_is_released_when_they_close(tmp_path):
    """8 Play at once (the rest queue); every sentence of the 9th session is drawn (latency recorded); once the 8
    close, no training process or job folder is left and the server's memory is back within 50 MB."""
    begin = time.perf_counter()
    env = {**SERVER_ENV, "TMPDIR": str(tmp_path)}
    with streamlit_server(flags=APP_FLAGS, env=env) as server:
        # in a thread of its own: its event loop must not meet the one of a shared Chromium (sync Playwright)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            out = pool.submit(asyncio.run, scenario(server.url, server.pid, tmp_path)).result()
    latency, seen = out["latency"], out["seen"]
    slots = default_slots()
    figures = {
        "sessions_training": TRAINERS,
        "training_slots": slots,
        "sentences_typed": len(latency),
        "latency_p50_s": round(statistics.median(latency), 3),
        "latency_p95_s": round(percentile(latency, 0.95), 3),
        "latency_max_s": round(max(latency), 3),
        "latency_p95_target_s": P95_TARGET_S,
        "latencies_s": [
            round(x, 2) for x in latency
        ],  # in the order typed: the first came as the jobs started
        "server_cores_while_typing": round(out["server_cores"], 2),
        "training_processes_peak": seen["workers_peak"],
        "sessions_that_trained": sum(step > 0 for step in seen["steps"]),
        "sentences_typed_while_training": len(out["while_training"]),
        "latency_p95_while_training_s": round(percentile(out["while_training"], 0.95), 3)
        if out["while_training"]
        else None,
        "sessions_seen_waiting": sum("Waiting for a training slot" in s for s in seen["status"]),
        "processes_left": out["children_end"],
        "processes_gone_after_close_s": out["processes_gone_s"],
        "job_folders_left": out["job_folders_end"],
        "rss_start_mb": round(out["rss_start_mb"], 1),
        "rss_peak_mb": round(seen["rss_peak"], 1),
        "rss_end_mb": round(out["rss_end_mb"], 1),
        "memory_back_after_close_s": out["memory_back_s"],
        "errors": out["errors"],
        "wall_s": round(time.perf_counter() - begin, 1),
        "load_average_1min": round(os.getloadavg()[0], 1),
    }
    print("train load test:", figures)
    print("train load test: seconds per phase:", out["phases"])
    print("train load test: statuses seen per session:", [sorted(s - {""}) for s in seen["status"]])
    record("load_train", figures)
    assert figures["errors"] == 0, figures
    assert seen["workers_peak"] >= 1, figures  # training ran while the 9th session typed
    assert len(out["while_training"]) >= TRAINED_CHANGES, figures
    if slots < TRAINERS:  # the rest queue
        assert figures["sessions_seen_waiting"] >= 1, figures
        assert seen.get("slots_said", slots) == slots, figures
    # no process left behind: no training process, nothing more under the server than before the 8 came
    assert out["workers_end"] == 0 and out["children_end"] <= out["children_start"], figures
    assert out["job_folders_end"] == 0, figures
    assert out["rss_end_mb"] <= out["rss_start_mb"] + MEMORY_SLACK_MB, figures
