"""One class under load, on a `streamlit run app.py` server of its own (its class store a SQLite file in tmp):
30 students follow a teacher through CLASS_LOAD_QUESTIONS quiz questions (5 by default), and
the server is killed and started again in the middle of one.

The teacher is a Chromium page (`?class=new`). For each question it types a sentence of the toy `reverse` model,
shows it to the class ("Show this to the class"), asks ("Ask the class") and, once every answer is in, reveals.
The students: PAGES of them Chromium pages, each in a browser context of its own (its own cookie, so its own
student), the rest websocket clients that speak Streamlit's protocol as a tab does (tests/support/st_client.py:
they ask for the `_watch` fragment's reruns every second, as the browser does, and keep a fixed `_streamlit_xsrf`
cookie): 30 Chromium pages would not fit a 2-core machine beside the server. Every student answers every
question once through the pills (a page clicks one; a client sends the pills' value, and Streamlit runs the pills'
callback, question.send, on that rerun). A second answer is tried two ways: every TAB_EVERY-th client has a second
tab (the same cookie: the same student) whose pills are still open when the first tab has answered, so the store
must refuse it; and after the restart, the clients that had answered send a pick again to their closed pills.

Asserted, as counts: every student follows the class (its presence report); every push reaches every student;
after each reveal the store counts exactly one answer per student (none lost, none counted twice, a second try's
first answer kept); answers given before the restart are still counted after it, a student who answered before it
cannot answer again after it, and the others' answers after it count; no error shown and no traceback logged.

Measured, printed and recorded (tests/support/reliability_report.py), never asserted (the project's tests assert
no times): a push's time from the teacher's click to the last student updated (a page: its sentence box shows the
pushed sentence; a client: a full run that shows it has finished), p50 and p95 over the questions (the issue's
target p95 ≤ 3 s recorded beside); the same for a question asked; the server's CPU while the class follows and
nothing changes (IDLE_SECONDS; the issue's target: under a quarter of a core); how long the restart took until
every student showed the question again.

CLASS_LOAD_QUESTIONS (5), CLASS_LOAD_PAGES (5) and CLASS_LOAD_IDLE_SECONDS (10) change the defaults;
CLASS_LOAD_STUDENTS (30) the class's size. Not in the default run yet (marker `class_load`): inside the whole suite,
with every core busy with the other tests' Chromium, it failed in 3 runs of 3 (twice the teacher's page never showed
"Reveal the answer", its runs cut short even after R; once a student's second tab never showed the question). Run
it alone:

    python -m pytest -m class_load -n 0 -s
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import os
import signal
import sqlite3
import statistics
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from app_support.classroom.lesson import student_id
from app_support.classroom.page import browser_token
from tests.support.browser import APP_FLAGS, CHROMIUM, CHROMIUM_ARGS, app_url, streamlit_server
from tests.support.load import ERROR_SELECTOR, cpu_seconds, percentile
from tests.support.load import poll as load_poll
from tests.support.reliability_report import record
from tests.support.st_client import StClient, xsrf_cookie
from transformer import available_models

pytestmark = [
    pytest.mark.class_load,  # not in the default run: inside the whole suite the teacher's page stalls (README)
    pytest.mark.load,
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif("reverse" not in available_models(), reason="toy model 'reverse' not in assets/"),
]

STUDENTS = int(os.environ.get("CLASS_LOAD_STUDENTS", "30"))
PAGES = min(STUDENTS, int(os.environ.get("CLASS_LOAD_PAGES", "5")))  # students that are Chromium pages
QUESTIONS = max(1, int(os.environ.get("CLASS_LOAD_QUESTIONS", "5")))  # each one push, one question
IDLE_SECONDS = float(os.environ.get("CLASS_LOAD_IDLE_SECONDS", "10"))
RESTART_AT = (QUESTIONS + 1) // 2  # the question during which the server is killed and started again
TAB_EVERY = (
    8  # every 8th websocket student has a second tab (the same cookie), which answers every question too
)
WAIT_S = 30.0  # the longest any one student may take to show something (a miss past it is counted)
STUCK_S = 20.0  # a page that has not shown it by then is rerun (R), as a person would
P95_TARGET_S = 3.0  # the target for a push at p95: recorded beside the figures
IDLE_TARGET_CORES = 0.25  # the target for the server while the class follows: recorded beside
VIEWPORT = {"width": 1200, "height": 900}
LETTERS = "abcdefghij"

# a student page as the test reads it: the sentence box, the pills, what the quiz says
QUIZ_JS = """() => { const box = document.querySelector('.st-key-text input');
    const pills = Array.from(document.querySelectorAll('.st-key-quiz_pick button'));
    const said = (document.querySelector('.stMain') || document.body).textContent;
    return {text: box ? box.value : null, pills: pills.length, open: pills.length > 0 && pills.every(b => !b.disabled),
            waiting: said.includes('Pick a word'), answered: said.includes('Your answer is in'),
            again: said.includes('You had answered this question already'),
            revealed: !!document.querySelector('.st-key-fig_class_picks')}; }"""
AGAIN_SAID = "You had answered this question already"  # app_support/classroom/question.py: OUTCOMES
SHOWS_JS = (
    "(t) => { const box = document.querySelector('.st-key-text input'); return !!box && box.value === t; }"
)
IDLE_JS = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"


def sentence(q: int) -> str:
    """Question q's sentence (0: the first thing shown): 4 to 6 letters, none twice (so are the pills)."""
    return " ".join(LETTERS[(3 * q + k) % len(LETTERS)] for k in range(4 + q % 3))


class Book:
    """The class's store as the test reads it, beside the server: SELECTs on the SQLite file."""

    def __init__(self, path: Path, code: str = ""):
        self.path, self.code = path, code

    def _rows(self, sql: str, *args) -> list[tuple]:
        with contextlib.closing(sqlite3.connect(self.path, timeout=10)) as db:
            return db.execute(sql, args).fetchall()

    def state(self) -> tuple[int, int, int]:
        """(version, open question, revealed)."""
        return self._rows("SELECT version, question, revealed FROM classes WHERE code = ?", self.code)[0]

    def answers(self, question: int) -> dict[str, int]:
        """student -> choice."""
        sql = "SELECT student, choice FROM answers WHERE code = ? AND question = ?"
        return dict(self._rows(sql, self.code, question))

    def following(self, since: float) -> int:
        sql = "SELECT COUNT(*) FROM presence WHERE code = ? AND following = 1 AND seen >= ?"
        return self._rows(sql, self.code, since)[0][0]


# a student's wait: up to WAIT_S, checked every 0.1 s
poll = functools.partial(load_poll, timeout=WAIT_S, every=0.1)


# --- the two kinds of student ----------------------------------------------------------------------------------


class Runs:
    """A page's runs, read off its websockets' ForwardMsgs as Playwright sees them: how many full runs finished
    (after a restart the old page stays on the screen: only a run of its new session says it is back), and how
    many were cut short by Streamlit (tests/support/st_client.py: the end of the run never came), after which the
    page is rerun as a person would, pressing R."""

    def __init__(self, page, busy: asyncio.Lock | None = None):
        self.page, self.busy = page, busy or asyncio.Lock()  # R waits while the teacher types or clicks
        self.finished = self.cut = self.fragments = 0
        self.pressed: dict[str, int] = {"cut": 0, "stuck": 0}  # R pressed: after a cut run, or a page stuck
        self._in_full = self._rerun = False
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload) -> None:
        if not isinstance(payload, bytes):
            return
        msg = ForwardMsg()
        msg.ParseFromString(payload)
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            if self._in_full:
                self.cut += 1
                self._rerun = True
            self._in_full = not msg.metadata.run.fragment_ids
        elif kind == "script_finished":
            self._in_full = False
            if msg.script_finished == msg.FINISHED_SUCCESSFULLY:
                self.finished += 1
            elif msg.script_finished == msg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
                self.fragments += 1
            if self._rerun and msg.script_finished != msg.FINISHED_EARLY_FOR_RERUN:
                self._rerun = False
                asyncio.get_running_loop().create_task(self.press_r("cut"))

    async def press_r(self, why: str) -> None:
        """Rerun the page as a person would (R): after a run that Streamlit cut short, or when the page is stuck
        without what it should show."""
        self.pressed[why] += 1
        async with self.busy:
            with contextlib.suppress(Exception):  # the page may be gone
                await self.page.evaluate("() => document.activeElement && document.activeElement.blur()")
                await self.page.keyboard.press("r")


class PageStudent:
    """A student in a Chromium page of its own context: it answers by clicking, is read off the DOM."""

    kind = "page"

    def __init__(self, context, page, runs: Runs, name: str):
        self.context, self.page, self.runs, self.name = context, page, runs, name

    def mark(self) -> int:
        return self.runs.finished

    async def _wait(self, js: str, arg, polling: int) -> bool:
        """Wait until the JS function is true; past STUCK_S, press R once (a run Streamlit cut short can leave a
        page without what it should show) and wait up to WAIT_S in all. False past that."""
        for timeout, stuck in ((STUCK_S, True), (WAIT_S - STUCK_S, False)):
            try:
                await self.page.wait_for_function(js, arg=arg, timeout=timeout * 1000, polling=polling)
                return True
            except Exception:  # Playwright's TimeoutError
                if stuck:
                    await self.runs.press_r("stuck")
        return False

    async def _until(self, condition: str, arg=None) -> bool:
        """Wait until the quiz state (QUIZ_JS) meets a JS condition on `s` (and `arg`); False past WAIT_S."""
        return await self._wait(f"(arg) => {{ const s = ({QUIZ_JS})(); return {condition}; }}", arg, 100)

    async def shows(self, text: str) -> bool:
        return await self._wait(SHOWS_JS, text, 50)

    async def asked(self) -> bool:
        return await self._until("s.open && s.waiting")

    async def answer(self, index: int) -> bool:
        await self.page.locator(".st-key-quiz_pick button").nth(index).click()
        return await self._until("s.answered && !s.open")

    async def back(self, mark: int) -> str:
        """After the restart, once a run of the page's new session has finished: "answered" (its answer shown,
        the pills closed) or "open" (it may pick), or "" (neither, within WAIT_S)."""
        if not await poll(lambda: self.runs.finished > mark, every=0.05):
            return ""
        if not await self._until("(s.answered && !s.open) || (s.open && s.waiting)"):
            return ""
        return "open" if (await self.page.evaluate(QUIZ_JS))["open"] else "answered"

    async def revealed(self) -> bool:
        return await self._until("s.revealed")

    async def cookie(self) -> str:
        return next((c["value"] for c in await self.context.cookies() if c["name"] == "_streamlit_xsrf"), "")

    async def errors(self) -> list[str]:
        return [f"{self.name}: {t}" for t in await self.page.locator(ERROR_SELECTOR).all_inner_texts()]


class WsStudent:
    """A student as a websocket client (tests/support/st_client.py): it answers with the pills' value."""

    kind = "websocket"

    def __init__(self, client: StClient):
        self.client = client
        self.name = client.name

    async def _until(self, check, timeout: float = WAIT_S) -> bool:
        try:
            await self.client.until(check, timeout)
            return True
        except TimeoutError:
            return False

    def mark(self) -> int:
        return self.client.full_runs

    async def shows(self, text: str) -> bool:
        return await self._until(lambda c: c.run.inputs.get("text") == text)

    async def asked(self) -> bool:
        return await self._until(lambda c: _open(c) and c.run.says("Pick a word"))

    async def answer(self, index: int) -> bool:
        runs = self.client.full_runs
        await self.client.pick("quiz_pick", index)
        return await self._until(lambda c: c.full_runs > runs and c.run.says("Your answer is in"))

    async def again(self, index: int) -> str:
        """A second answer from this student: "again" (the store refused it and the page says the first one
        counts: a second tab whose pills were still open), "closed" (the pills were closed: Streamlit drops a
        disabled widget's value, and the page still shows the first answer) or "" (neither)."""
        runs = self.client.full_runs
        await self.client.pick("quiz_pick", index)
        if not await self._until(lambda c: c.full_runs > runs):
            return ""
        run = self.client.run
        if run.says(AGAIN_SAID):
            return "again"
        return "closed" if run.says("Your answer is in") and not _open(self.client) else ""

    async def back(self, mark: int) -> str:
        def state(c):
            if c.full_runs <= mark or not c.reconnects:
                return ""
            if c.run.says("Your answer is in") and not _open(c):
                return "answered"
            return "open" if _open(c) and c.run.says("Pick a word") else ""

        await self._until(state)
        return state(self.client)

    async def revealed(self) -> bool:
        return await self._until(lambda c: "fig_class_picks" in c.run.widgets)

    async def errors(self) -> list[str]:
        return [f"{self.name}: {t}" for t in self.client.errors]


def _open(c: StClient) -> bool:
    pills = c.run.widgets.get("quiz_pick")
    return pills is not None and not pills.disabled


async def timed(start: float, waiting) -> float | None:
    """Seconds from `start` until `waiting` came true (None: it did not, within its timeout)."""
    return time.perf_counter() - start if await waiting else None


# --- the teacher -------------------------------------------------------------------------------------------------


class Teacher:
    def __init__(self, page):
        self.page = page
        self.busy = asyncio.Lock()
        self.runs = Runs(page, self.busy)

    async def idle(self) -> None:
        await self.page.wait_for_function(IDLE_JS, timeout=60_000, polling=50)

    async def type(self, text: str) -> None:
        async with self.busy:
            box = self.page.locator(".st-key-text input")
            await box.fill(text)
            await box.press("Enter")
            await self.page.wait_for_function(
                "t => new URLSearchParams(location.search).get('text') === t",
                arg=text,
                timeout=60_000,
                polling=50,
            )
            await self.idle()

    async def says(self, text: str) -> bool:
        """Whether the page comes to show this text (pressing R once if it has not within STUCK_S)."""
        for _ in range(2):
            try:
                await self.page.get_by_text(text).first.wait_for(timeout=STUCK_S * 1000)
                return True
            except Exception:  # Playwright's TimeoutError
                await self.runs.press_r("stuck")
        return False

    async def click(self, key: str) -> float:
        """Click the button with this key once it is there and the page is idle (pressing R when it does not
        come: a run Streamlit cut short can leave it off the page); the time of the click."""
        button = self.page.locator(f".st-key-{key} button:visible").first  # (a hidden copy sizes its label)
        for _ in range(3):
            try:
                await button.wait_for(timeout=STUCK_S * 1000)
                break
            except Exception:  # Playwright's TimeoutError
                await self.runs.press_r("stuck")
        async with self.busy:
            await button.wait_for(timeout=STUCK_S * 1000)
            await self.idle()
            start = time.perf_counter()
            await button.click()
        return start


# --- the scenario ------------------------------------------------------------------------------------------------


async def scenario(url: str, pid: int, book: Book, restart) -> dict:
    from playwright.async_api import async_playwright

    out: dict = {
        "phases": {},
        "missed": [],
        "push_each": [],
        "push_last": [],
        "ask_last": [],
        "per_question": [],
    }
    clock = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        out["phases"][name], clock[0] = round(now - clock[0], 1), now

    def last(what: str, who: list, latencies: list[float | None]) -> float | None:
        out["missed"] += [f"{what}: {w.name}" for w, t in zip(who, latencies) if t is None]
        done = [t for t in latencies if t is not None]
        return max(done) if done else None

    async def all_of(what: str, who: list, waits) -> None:
        done = await asyncio.gather(*waits)
        out["missed"] += [f"{what}: {w.name}" for w, ok in zip(who, done) if not ok]

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        clients: list[StClient] = []
        shown: list = []  # (name, page) of the Chromium pages, for screenshots
        try:
            # the teacher starts the class on the quiz and shows it (the students open on what is shown)
            context = await browser.new_context(viewport=VIEWPORT)
            teacher = Teacher(await context.new_page())
            shown.append(("teacher", teacher.page))
            await teacher.page.goto(app_url(url, **{"class": "new", "model": "reverse", "view": "quiz",
                                                    "text": sentence(0)}), timeout=120_000)  # fmt: skip
            await teacher.page.locator('[role="dialog"]').wait_for(timeout=120_000)  # the invitation
            await teacher.page.keyboard.press("Escape")
            await teacher.page.wait_for_function("() => location.search.includes('teach=')", timeout=60_000)
            book.code = parse_qs(urlsplit(teacher.page.url).query)["class"][0]
            await teacher.click("class_push")
            await poll(lambda: book.state()[0] >= 1)
            lap("teacher")

            # 30 students join: PAGES pages (a context each: a cookie each), the rest websocket clients
            async def open_page(i: int):
                ctx = await browser.new_context(viewport=VIEWPORT)
                page = await ctx.new_page()
                runs = Runs(page)
                await page.goto(app_url(url, **{"class": book.code}), timeout=120_000)
                return PageStudent(ctx, page, runs, f"student {i} (page)")

            clients = [
                StClient(url, f"class={book.code}", xsrf_cookie(), name=f"student {i}")
                for i in range(PAGES, STUDENTS)
            ]
            pages, _ = await asyncio.gather(
                asyncio.gather(*(open_page(i) for i in range(PAGES))),
                asyncio.gather(*(c.connect() for c in clients)),
            )
            shown += [(f"student{i}", s.page) for i, s in enumerate(pages)]
            students = [*pages, *(WsStudent(c) for c in clients)]
            joined = time.time()
            await all_of("join", students, (s.shows(sentence(0)) for s in students))
            out["following"] = await poll(lambda: book.following(joined - 1) >= STUDENTS and STUDENTS) or (
                book.following(joined - 1)
            )
            lap("join")

            # nothing changes: the server's CPU while the class follows (each page polls the class every second)
            await asyncio.sleep(1.0)

            def polls() -> int:  # fragment runs: the students' polls, the teacher's counts
                return sum(c.fragment_runs for c in clients) + sum(
                    s.runs.fragments for s in [*pages, teacher]
                )

            runs, cpu, wall = polls(), cpu_seconds(pid), time.perf_counter()
            await asyncio.sleep(IDLE_SECONDS)
            wall = time.perf_counter() - wall
            out["idle_cores"] = (cpu_seconds(pid) - cpu) / wall
            out["idle_polls_per_s"] = (polls() - runs) / wall
            lap("idle")

            # a second tab of some students (the same cookie: the same student), open on every question
            tabs = {
                i: StClient(url, f"class={book.code}", students[i].client.cookie, name=f"student {i}, tab 2")
                for i in range(PAGES, STUDENTS)
                if i % TAB_EVERY == 2
            }
            clients += tabs.values()
            await asyncio.gather(*(c.connect() for c in tabs.values()))
            second = {i: WsStudent(c) for i, c in tabs.items()}
            await all_of("join", list(second.values()), (s.shows(sentence(0)) for s in second.values()))
            lap("second tabs")

            await teacher.type(sentence(1))
            for q in range(1, QUESTIONS + 1):
                text = sentence(q)
                start = await teacher.click("class_push")
                pushed = await asyncio.gather(*(timed(start, s.shows(text)) for s in students))
                out["push_each"] += [t for t in pushed if t is not None]
                out["push_last"].append(last(f"q{q} push", students, pushed))
                lap(f"q{q} push")
                await all_of(f"q{q} push", list(second.values()), (s.shows(text) for s in second.values()))

                before = book.state()[1]
                start = await teacher.click("class_ask")
                asked = await asyncio.gather(*(timed(start, s.asked()) for s in students))
                out["ask_last"].append(last(f"q{q} ask", students, asked))
                lap(f"q{q} ask")
                await all_of(f"q{q} ask", list(second.values()), (s.asked() for s in second.values()))
                question = await poll(lambda before=before: book.state()[1] != before and book.state()[1])
                labels = len(clients[0].run.widgets["quiz_pick"].options)

                def pick(i: int, q=q, labels=labels) -> int:
                    return (i + q) % labels

                def other(i: int, labels=labels) -> int:
                    return (pick(i) + 1) % labels

                firsts: dict[int, int] = {}

                async def answer(i: int, firsts=firsts) -> bool:
                    firsts[i] = pick(i)
                    return await students[i].answer(pick(i))

                restarted = None
                if q != RESTART_AT:
                    # every student answers; one with a second tab answers there too once its first tab's answer
                    # is in (the second tab's pills still open): the store must refuse it
                    tries, again = list(second), {}

                    async def both(i: int, again=again, other=other, answer=answer) -> bool:
                        answered = await answer(i)
                        if i in second:
                            again[i] = await second[i].again(other(i))
                        return answered

                    await all_of(f"q{q} answer", students, (both(i) for i in range(STUDENTS)))
                    outcomes = [again.get(i, "") for i in tries]
                else:  # half answer, the server is killed and started again, the rest answer
                    early = [i for i in range(STUDENTS) if i % 2 == 0]  # pages and clients both
                    await all_of(f"q{q} answer", [students[i] for i in early], (answer(i) for i in early))
                    kept_before = len(book.answers(question))
                    cookies = [await s.cookie() for s in pages]
                    everyone = [*students, *second.values()]
                    marks, teacher_mark = [s.mark() for s in everyone], teacher.runs.finished
                    lap(f"q{q} answers before the restart")
                    killed = await restart()
                    back = await asyncio.gather(*(s.back(m) for s, m in zip(everyone, marks)))
                    back_s = time.perf_counter() - killed
                    kept_after = len(book.answers(question))
                    await poll(lambda mark=teacher_mark: teacher.runs.finished > mark)
                    lap("restart")
                    # who answered before must find its answer there, and may not answer again: the clients (and
                    # second tabs) try; a page would click, were its pills open
                    forgotten = [i for i in early if back[i] != "answered"]
                    tries = [i for i in early if students[i].kind == "websocket"]
                    outcomes = await asyncio.gather(*(students[i].again(other(i)) for i in tries))
                    tries += list(second)
                    outcomes += await asyncio.gather(*(second[i].again(other(i)) for i in second))
                    for i in forgotten:
                        if students[i].kind == "page" and back[i] == "open":
                            await students[i].answer(other(i))
                    late = [i for i in range(STUDENTS) if i not in early]
                    await all_of(f"q{q} answer", [students[i] for i in late], (answer(i) for i in late))
                    cookies_after = [await s.cookie() for s in pages]
                    restarted = {
                        "answered_before": len(early),
                        "counted_before": kept_before,
                        "counted_after": kept_after,
                        "back_s": round(back_s, 1),
                        "not_back": back.count(""),
                        "answered_before_but_open_after": len(forgotten),
                        "page_cookies_changed": sum(a != b for a, b in zip(cookies, cookies_after)),
                    }
                lap(f"q{q} answers")
                before_reveal = len(book.answers(question))
                await teacher.click("class_reveal")
                await poll(lambda: book.state()[2] == 1)

                # every student shows the reveal; the teacher's page its count of the picks, then the teacher types
                # the next question's sentence
                async def teach(q=q) -> bool:
                    said = await teacher.says(f"{STUDENTS} answers:")
                    if q < QUESTIONS:
                        await teacher.type(sentence(q + 1))
                    return said

                said, _ = await asyncio.gather(
                    teach(), all_of(f"q{q} reveal", students, (s.revealed() for s in students))
                )
                counted = book.answers(question)
                kept = [
                    counted.get(student_id(book.code, browser_token(students[i].client.cookie))) == firsts[i]
                    for i in tries
                ]
                out["per_question"].append({
                    "question": q,
                    "answers_counted": len(counted),
                    "answers_before_reveal": before_reveal,
                    "teacher_page_counted_all": said,
                    "second_tries": len(tries),
                    "refused_by_the_store": outcomes.count("again"),
                    "refused_closed_pills": outcomes.count("closed"),
                    "first_answer_kept": sum(kept),
                    "restart": restarted,
                })  # fmt: skip
                lap(f"q{q} reveal")

            out["errors"] = [e for s in [*students, *second.values()] for e in await s.errors()]
            out["errors"] += [
                f"teacher: {t}" for t in await teacher.page.locator(ERROR_SELECTOR).all_inner_texts()
            ]
            out["reconnects"] = sum(c.reconnects for c in clients)
            out["cut_runs"] = sum(c.cut_runs for c in clients) + sum(s.runs.cut for s in [*pages, teacher])
            out["pressed_r"] = {
                why: sum(s.runs.pressed[why] for s in [*pages, teacher]) for why in ("cut", "stuck")
            }
        except BaseException:
            if shots := os.environ.get("CLASS_LOAD_SHOTS"):  # what the pages showed when it failed
                Path(shots).mkdir(parents=True, exist_ok=True)
                for name, page in shown:
                    with contextlib.suppress(Exception):
                        await page.screenshot(path=str(Path(shots) / f"{name}.png"), full_page=True)
            raise
        finally:
            for c in clients:
                await c.close()
            await browser.close()
    return out


def test_thirty_students_follow_answer_once_and_survive_a_restart(tmp_path):
    """Every push reaches all 30 students; each question counts exactly one answer per student, across a server
    restart too; no error (times recorded, not asserted)."""
    begin = time.perf_counter()
    store = tmp_path / "classes.sqlite3"
    env = {"CLASS_STORE": f"sqlite:///{store}"}
    book = Book(store)
    with contextlib.ExitStack() as servers:
        first = servers.enter_context(streamlit_server(flags=APP_FLAGS, env=env))
        port = int(first.url.rsplit(":", 1)[1])
        logs = [first]

        async def restart() -> float:
            """SIGKILL the server, start it again on its port with its store; when it was killed."""
            os.kill(logs[-1].pid, signal.SIGKILL)
            killed = time.perf_counter()
            again = streamlit_server(flags=APP_FLAGS, env=env, port=port)
            logs.append(await asyncio.to_thread(servers.enter_context, again))
            return killed

        # in a thread of its own: its event loop must not meet the one of a shared Chromium (sync Playwright)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            out = pool.submit(asyncio.run, scenario(first.url, first.pid, book, restart)).result()
    tracebacks = sum(server.log.count("Traceback") for server in logs)
    questions = out["per_question"]
    restart = next(q["restart"] for q in questions if q["restart"])

    def stat(values: list[float | None], q: float | None = None, f=percentile) -> float | None:
        """A percentile (q) or the largest (q None) of the values measured, rounded; None when there is none."""
        done = [v for v in values if v is not None]
        return None if not done else round(max(done) if q is None else f(done, q), 2)

    figures = {
        "students": STUDENTS,
        "pages": PAGES,
        "websocket_clients": STUDENTS - PAGES,
        "questions": QUESTIONS,
        "following": out["following"],
        "push_to_last_student_p50_s": stat(out["push_last"], 0.5, lambda v, _: statistics.median(v)),
        "push_to_last_student_p95_s": stat(out["push_last"], 0.95),
        "push_p95_target_s": P95_TARGET_S,
        "push_to_last_student_max_s": stat(out["push_last"]),
        "push_to_each_student_p50_s": stat(out["push_each"], 0.5, lambda v, _: statistics.median(v)),
        "push_to_each_student_p95_s": stat(out["push_each"], 0.95),
        "pushes_to_last_student_s": [t and round(t, 2) for t in out["push_last"]],
        "ask_to_last_student_p50_s": stat(out["ask_last"], 0.5, lambda v, _: statistics.median(v)),
        "ask_to_last_student_p95_s": stat(out["ask_last"], 0.95),
        "answers_expected": STUDENTS * QUESTIONS,
        "answers_counted": sum(q["answers_counted"] for q in questions),
        "answers_per_question": [q["answers_counted"] for q in questions],
        "teacher_page_counted_all": sum(q["teacher_page_counted_all"] for q in questions),
        "second_tries": sum(q["second_tries"] for q in questions),
        "second_tries_refused_by_the_store": sum(q["refused_by_the_store"] for q in questions),
        "second_tries_refused_closed_pills": sum(q["refused_closed_pills"] for q in questions),
        "second_tries_first_answer_kept": sum(q["first_answer_kept"] for q in questions),
        "idle_server_cores": round(out["idle_cores"], 3),
        "idle_target_cores": IDLE_TARGET_CORES,
        "idle_seconds": IDLE_SECONDS,
        "idle_polls_per_s": round(out["idle_polls_per_s"], 1),
        "idle_server_cpu_ms_per_poll": round(1000 * out["idle_cores"] / out["idle_polls_per_s"], 1),
        "restart_question": RESTART_AT,
        "restart_answers_before": restart["counted_before"],
        "restart_answers_kept": restart["counted_after"],
        "restart_back_s": restart["back_s"],
        "restart_answered_but_open_again": restart["answered_before_but_open_after"],
        "restart_page_cookies_changed": restart["page_cookies_changed"],
        "client_reconnects": out["reconnects"],
        "runs_cut_short": out["cut_runs"],  # by Streamlit, then rerun (tests/support/st_client.py)
        "pages_rerun_after_a_cut_run": out["pressed_r"]["cut"],
        "pages_rerun_when_stuck": out["pressed_r"]["stuck"],
        "missed": out["missed"],
        "errors": out["errors"],
        "tracebacks": tracebacks,
        "wall_s": round(time.perf_counter() - begin, 1),
        "load_average_1min": round(os.getloadavg()[0], 1),
    }
    print("class load test:", figures)
    print("class load test: seconds per phase:", out["phases"])
    print("class load test: per question:", questions)
    record("load_class", figures)
    assert figures["following"] == STUDENTS, figures
    assert not figures["missed"], figures  # every push, question, answer and reveal reached every student
    for q in questions:  # one answer per student: none lost, none twice; a second try refused, the first kept
        assert q["answers_counted"] == q["answers_before_reveal"] == STUDENTS, q
        assert q["teacher_page_counted_all"], q  # and the teacher's page says so
        assert q["refused_by_the_store"] + q["refused_closed_pills"] == q["second_tries"], q
        assert q["first_answer_kept"] == q["second_tries"], q
    assert restart["not_back"] == 0, restart
    assert restart["counted_after"] == restart["counted_before"] == restart["answered_before"], restart
    assert restart["answered_before_but_open_after"] == 0, restart
    assert not figures["errors"] and figures["tracebacks"] == 0, figures
