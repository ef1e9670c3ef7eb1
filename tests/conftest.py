"""What every tier shares: the tier markers (given by folder), tiny fixtures, one app server and one
Chromium per run (per xdist worker), and the "Reliability" block at the end of a run.

Tiers, one folder each (`python -m pytest tests/unit`, or `-m unit` / `-m app` / `-m browser` /
`-m reliability` from anywhere):

    tests/unit/          the model, viz, tools and app_support without Streamlit running: fast, no server
    tests/app/           the app through Streamlit's AppTest (the script runs in-process, no browser)
    tests/browser/       headless Chromium against a real `streamlit run app.py`
    tests/reliability/   hostile inputs, broken checkpoints, killed training runs, many sessions at once

Helpers live in tests/support/ (imported as `tests.support.<module>`), never in a test module.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from tests.support import reliability_report
from tests.support.tiny import SENTENCES, tiny_config
from transformer import Pretrained, Tokenizer, Transformer

# The small tensors of these tests gain nothing from a second thread, and with other processes on the
# two cores, OpenMP's barrier waits can make every tiny op a hundred times slower.
torch.set_num_threads(1)
# Train live's jobs under test (app servers started here inherit this): no worker started ahead of a Play that
# may never come (its torch import is CPU the other tests need; test_train_jobs.py checks the spare itself),
# and a training process just below the servers (nice 1, not 5: a full suite must not starve it; the load test
# sets the real 5)
os.environ.setdefault("TRAIN_SPARE", "0")
os.environ.setdefault("TRAIN_NICE", "1")
# class mode's store (app_support.classroom): a file of this test process's own, never the repo's data/ folder
_CLASSES = tempfile.mkdtemp(prefix="classes-")
atexit.register(shutil.rmtree, _CLASSES, ignore_errors=True)
os.environ.setdefault("CLASS_STORE", f"sqlite:///{_CLASSES}/classes.sqlite3")

TIERS = ("unit", "app", "browser", "reliability")
HERE = Path(__file__).resolve().parent


DURATIONS = "tiers/file_seconds"  # pytest's cache: seconds each test file took in the last run
# the same, committed: a fresh clone (CI) orders its files by it until its own cache has a run;
# UPDATE_TEST_SECONDS=1 python -m pytest rewrites it from that run
FILE_SECONDS = HERE / "file_seconds.json"


_SECONDS: dict[str, float] = {}  # this run's seconds per test file (main process)


def _tier(item) -> str:
    """The tier folder a test lives in ("" outside tests/)."""
    path = Path(item.path).resolve()
    return path.relative_to(HERE).parts[0] if path.is_relative_to(HERE) else ""


def pytest_collection_modifyitems(config, items):
    """Mark every test with its tier, the folder it lives in, so `-m <tier>` selects it; then put the
    longest files first, so that pytest-xdist (`--dist loadfile`, one file per worker at a time) does not
    end on one long file while the other workers idle. "Longest" is what the last run took (pytest's
    cache, else tests/file_seconds.json), else: a file with a `slow` test, then by tier (the load test,
    browser, app, unit)."""
    for item in items:
        if _tier(item) in TIERS:
            item.add_marker(getattr(pytest.mark, _tier(item)))
    cache = getattr(config, "cache", None)  # None with -p no:cacheprovider
    last = {**json.loads(FILE_SECONDS.read_text()), **(cache.get(DURATIONS, {}) if cache else {})}
    order = {"reliability": 0, "browser": 1, "app": 2, "unit": 3}
    slow = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow")}

    def longest_first(item) -> tuple:
        file = item.nodeid.split("::")[0]
        return (-last.get(file, 0.0), file not in slow, order.get(_tier(item), 4), file)

    position = {item: i for i, item in enumerate(items)}  # stable: tests keep their order inside a file
    items.sort(key=lambda item: (*longest_first(item), position[item]))


def pytest_runtest_logreport(report):
    """Add up each file's seconds (setup, call, teardown) in the main process, for the next run's order."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        file = report.nodeid.split("::")[0]
        _SECONDS[file] = _SECONDS.get(file, 0.0) + report.duration


def pytest_sessionfinish(session):
    """Keep this run's seconds per file for the next run's order (files it did not run keep theirs)."""
    cache = getattr(session.config, "cache", None)
    if "PYTEST_XDIST_WORKER" not in os.environ and cache and _SECONDS:
        cache.set(DURATIONS, {**cache.get(DURATIONS, {}), **_SECONDS})
        if os.environ.get("UPDATE_TEST_SECONDS") == "1":
            seconds = {**json.loads(FILE_SECONDS.read_text()), **_SECONDS}
            FILE_SECONDS.write_text(
                json.dumps({f: round(t, 1) for f, t in sorted(seconds.items())}, indent=1) + "\n"
            )


# --- tiny things ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tokenizer(tmp_path_factory) -> Tokenizer:
    tmp = tmp_path_factory.mktemp("sp")
    text = tmp / "text.txt"
    text.write_text("\n".join(SENTENCES * 20) + "\n", encoding="utf-8")
    return Tokenizer.train([text], tmp / "sp", vocab_size=300, model_type="bpe")


@pytest.fixture(scope="session")
def tiny_pretrained(tokenizer) -> Pretrained:
    torch.manual_seed(0)
    cfg = tiny_config(src_vocab_size=tokenizer.vocab_size, tgt_vocab_size=tokenizer.vocab_size)
    return Pretrained(model=Transformer(cfg).eval(), tokenizer=tokenizer, name="tiny")


@pytest.fixture(scope="module")
def python_m() -> Iterator:
    """`python_m.run(MODULE, *ARGS)`: `python -m MODULE ARGS` in a fresh process (a fork of one interpreter
    that has imported torch, tests/support/forked_cli.py), as a `subprocess.CompletedProcess`."""
    from tests.support.forked_cli import python_m as start

    cli = start()
    try:
        yield cli
    finally:
        cli.close()


# --- a real server and a real browser (tests/support/browser.py) ----------------------------------


@pytest.fixture(scope="session")
def app_server() -> Iterator[str]:
    """One `streamlit run app.py` (default settings) for every test of the run that asks for it; its URL.
    Sessions never share state but the model cache, which is what a class shares too."""
    from tests.support import browser as bs

    reason = bs.skip_reason()
    if reason:
        pytest.skip(reason)
    with bs.running_app() as url:
        yield url


@pytest.fixture(scope="session")
def browser(app_server) -> Iterator:
    """One headless Chromium for the run; tests load the app into its one tab (`tab`, `page`)."""
    from tests.support import browser as bs

    with bs.chromium() as b:
        yield b


@pytest.fixture(scope="session")
def tab(browser) -> Iterator:
    """One browser tab for the run (per worker), in a context of its own (`bs.Tab`): each test loads the app
    into it afresh, a Streamlit session of its own, and leaves it."""
    from tests.support import browser as bs

    context = browser.new_context(viewport=bs.VIEWPORT)
    try:
        yield bs.Tab(context)
    finally:
        context.close()


@pytest.fixture
def page(tab) -> Iterator:
    """The run's tab at the default window size, for a test that loads the app into it (its own session)."""
    try:
        yield tab.open()
    finally:
        tab.leave()


# --- a real redis-server (tests/support/redis_server.py) ------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """One `redis-server` for the run (per xdist worker), on a free port, no persistence; its URL. Missing, it
    fails the tests that ask for it (never skips them): class mode's Redis store must be tested."""
    from tests.support import redis_server

    reason = redis_server.missing()
    if reason:
        pytest.fail(reason, pytrace=False)
    with redis_server.running() as url:
        yield url


# --- the reliability figures (tests/support/reliability_report.py) ---------------------------------


def pytest_sessionstart(session):
    """Figures of this run only: the main process clears the report, each xdist worker its own part."""
    reliability_report.start(worker=os.environ.get("PYTEST_XDIST_WORKER"))


def pytest_terminal_summary(terminalreporter):
    """A "Reliability" block with what the reliability and load tests recorded in this run."""
    figures = reliability_report.collect()
    if not figures:
        return
    terminalreporter.section("Reliability")
    for line in reliability_report.summary_lines(figures):
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"(written to {reliability_report.REPORT})")


def pytest_xdist_auto_num_workers(config):
    """`-n auto`: one worker more than the cores this process may use, at most 4: a browser test spends much
    of its time waiting for a page, which another worker's test fills (on 2 cores: 3 workers, 323 s for the
    whole suite against 350 s with 2). Each worker that reaches a browser test starts its own server and
    Chromium."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores + 1, 4))


# The load tests each fill the machine with Chromium pages (and the class's, websocket clients) against a server
# of their own: on one worker, one after the other, they measure the app rather than each other (side by side,
# each took half as long again)
LOAD_FILES = (
    "tests/reliability/test_load.py",
    "tests/reliability/test_load_train.py",
    "tests/reliability/test_load_class.py",
)


def pytest_xdist_make_scheduler(config, log):
    """loadfile, but the load tests are one unit of work (see LOAD_FILES)."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LoadTestsTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = super()._split_scope(nodeid)
            return "load tests" if file in LOAD_FILES else file

    return LoadTestsTogether(config, log)
