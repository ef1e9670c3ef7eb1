"""A Streamlit session without a browser: what a tab says on Streamlit's websocket, for the class load test
(tests/reliability/test_load_class.py), where 30 Chromium pages would not fit on the machine.

    client = StClient("http://127.0.0.1:8501", "class=K7WDM3QX", cookie="2|...")
    await client.connect()                      # and the first run of the script
    await client.until(lambda c: "text" in c.inputs)
    await client.pick("quiz_pick", 0)            # click the first pill: its on_change runs on that rerun
    await client.close()

It speaks the protocol as the browser does (streamlit/proto: BackMsg out, ForwardMsg in): a `rerun_script`
with the page's query string (the URL the app last wrote, from `page_info_changed`, as a browser's address
bar follows it); the fragments' auto-reruns, which the SERVER only announces (`auto_rerun`: interval and
fragment id) and the CLIENT then asks for every interval (a `rerun_script` with that fragment id); widget values
as `WidgetState`s. It draws nothing: of each full run it keeps the texts shown (markdown, headings, captions,
alerts), the text inputs' values and the widgets by key (`Run`). A dropped connection (a server restart) is
reconnected, and the page asks for a run as a browser does, with the same cookie: the `_streamlit_xsrf` cookie a
browser would keep, which is who the student is to the class (app_support/classroom/lesson.py: student_id).

A full run CUT SHORT: on a busy server, Streamlit (1.67) can drop the end of a full run, its last deltas and its
`script_finished`, when the next request (a fragment's auto-rerun, which a browser sends every interval whether
or not a run is going on) reaches the session while the run's ScriptRunner is shutting down: the session starts a
new ScriptRunner, and the events the old one had still queued are ignored (AppSession:
"Ignoring event from non-current ScriptRunner"). The page then shows the start of that run over the rest of the
one before. This client counts such runs (`cut_runs`: a run began before the full run before it finished) and
then asks for a full run, as a person would press R on a page that looks wrong (`rerun_cut=False`: it does not).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
import time
from collections.abc import Callable

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

TEXTS = (
    "markdown",
    "heading",
    "alert",
    "text",
    "code",
)  # elements whose `body` (code: code_text) is text shown


def xsrf_cookie() -> str:
    """A value of the shape Streamlit gives its `_streamlit_xsrf` cookie (version|mask|token|time)."""
    return f"2|{secrets.token_hex(4)}|{secrets.token_hex(16)}|{int(time.time())}"


@dataclasses.dataclass
class Run:
    """What one full run of the script showed."""

    texts: list[str] = dataclasses.field(default_factory=list)
    inputs: dict[str, str] = dataclasses.field(default_factory=dict)  # text_input key -> value shown
    widgets: dict[str, object] = dataclasses.field(default_factory=dict)  # key -> its element's proto
    errors: list[str] = dataclasses.field(default_factory=list)  # exceptions and st.error boxes

    def says(self, part: str) -> bool:
        return any(part in t for t in self.texts)


def _key(widget_id: str) -> str:
    """A keyed widget's key: Streamlit's ids are "$$ID-<hash>-<key>"."""
    return widget_id.split("-", 2)[2] if widget_id.startswith("$$ID-") and widget_id.count("-") >= 2 else ""


class StClient:
    """One session of the app over `ws://HOST:PORT/_stcore/stream` (see the module)."""

    def __init__(
        self, base_url: str, query: str, cookie: str | None = None, name: str = "", rerun_cut: bool = True
    ):
        self.url = base_url.replace("http://", "ws://").rstrip("/") + "/_stcore/stream"
        self.query = query  # the page's URL parameters, as the app last wrote them
        self.cookie = cookie
        self.name = name
        self.page_hash = ""
        self.session_id = ""
        self.fragments: dict[str, float] = {}  # auto-rerun fragments: id -> interval (s)
        self.run = Run()  # the last full run finished
        self._building = Run()  # the full run under way
        self.full_runs = 0  # full runs finished
        self.fragment_runs = 0
        self.reconnects = 0
        self.cut_runs = 0  # full runs whose end never came (see the module)
        self.rerun_cut = rerun_cut
        self._in_full = False  # a full run has begun and not finished
        self._cut = False  # one was cut short: ask for another once the session is idle
        self.errors: list[str] = []  # every error shown in any run (full or fragment)
        self._ws = None
        self._tasks: list[asyncio.Task] = []
        self._changed = asyncio.Condition()
        self._closing = False
        self._connected = asyncio.Event()

    # --- the connection ---------------------------------------------------------------------------------

    async def _open(self) -> None:
        headers = {"Cookie": f"_streamlit_xsrf={self.cookie}"} if self.cookie else {}
        self._ws = await websockets.connect(
            self.url,
            subprotocols=["streamlit"],
            additional_headers=headers,
            max_size=None,
            open_timeout=10,
            ping_interval=None,  # the server's own keep-alive is enough on localhost
        )
        self._connected.set()

    async def connect(self, timeout: float = 120.0) -> None:
        """Open the websocket, ask for the first run (the page load) and wait until it has finished."""
        await self._open()
        self._tasks = [asyncio.create_task(self._reader()), asyncio.create_task(self._ticker())]
        runs = self.full_runs
        await self.rerun()
        await self.until(lambda c: c.full_runs > runs, timeout)

    async def close(self) -> None:
        self._closing = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()

    async def _reconnect(self) -> None:
        """After the server went away: try again every 0.2 s (a browser backs off; a test waits less), then ask
        for a run with the page's URL, as the browser does once "Connecting" clears."""
        self._connected.clear()
        self.fragments.clear()  # the new session announces its own
        self._in_full = False  # a run the old server did not finish is no cut run
        while not self._closing:
            try:
                await self._open()
                break
            except (TimeoutError, OSError, websockets.exceptions.WebSocketException):
                await asyncio.sleep(0.2)
        self.reconnects += 1
        await self.rerun()

    async def _send(self, msg: BackMsg) -> None:
        await self._connected.wait()
        with contextlib.suppress(websockets.exceptions.ConnectionClosed):
            await self._ws.send(msg.SerializeToString())

    async def rerun(self, widgets: list[WidgetState] = (), fragment_id: str = "") -> None:
        """A `rerun_script`: the page's query string and page, these widget values, a fragment or the app."""
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query
        state.page_script_hash = self.page_hash
        state.widget_states.widgets.extend(widgets)
        if fragment_id:
            state.fragment_id = fragment_id
            state.is_auto_rerun = True
        await self._send(msg)

    async def pick(self, key: str, index: int) -> None:
        """Click the `index`-th option of the pills (a ButtonGroup) with this key: a rerun with its value, which
        Streamlit sends as the option's text (a string array of one)."""
        group = self.run.widgets[key]
        state = WidgetState(id=group.id)
        state.string_array_value.data.append(group.options[index].content)
        await self.rerun([state])

    async def _ticker(self) -> None:
        """The browser's setInterval per auto-rerun fragment: each asks for its fragment every interval."""
        due: dict[str, float] = {}
        while True:
            await asyncio.sleep(0.05)
            now = time.monotonic()
            for fid, every in list(self.fragments.items()):
                if fid not in due:
                    due[fid] = now + every
                elif now >= due[fid]:
                    due[fid] = now + every
                    await self.rerun(fragment_id=fid)
            for fid in set(due) - set(self.fragments):
                del due[fid]

    async def _reader(self) -> None:
        while True:
            try:
                raw = await self._ws.recv()
            except websockets.exceptions.ConnectionClosed:
                if self._closing:
                    return
                await self._reconnect()
                continue
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            await self._handle(msg)

    # --- what the server says -----------------------------------------------------------------------------

    async def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.page_hash = msg.new_session.page_script_hash
            self.session_id = msg.new_session.initialize.session_id or self.session_id
            if self._in_full:  # the full run under way never finished: cut short
                self.cut_runs += 1
                self._cut = True
            self._in_full = not msg.metadata.run.fragment_ids
            if self._in_full:  # a full run starts: what it shows replaces the last
                self._building = Run()
        elif kind == "delta":
            self._element(msg.delta)
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string
        elif kind == "auto_rerun":
            self.fragments[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
        elif kind == "stop_auto_rerun":
            for fid in msg.stop_auto_rerun.fragment_ids:
                self.fragments.pop(fid, None)
        elif kind == "script_finished":
            self._in_full = False
            if msg.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
                self.run, self._building = self._building, Run()
                self.full_runs += 1
            elif msg.script_finished == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
                self.fragment_runs += 1
            async with self._changed:
                self._changed.notify_all()
            if self._cut and self.rerun_cut and msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                self._cut = False
                await self.rerun()

    def _element(self, delta) -> None:
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        kind = element.WhichOneof("type")
        inner = getattr(element, kind) if kind else None
        run = self._building
        if kind in TEXTS:
            run.texts.append(inner.code_text if kind == "code" else inner.body)
            if kind == "alert" and inner.format == inner.ERROR:
                run.errors.append(inner.body)
                self.errors.append(inner.body)
        elif kind == "exception":
            said = f"{inner.type}: {inner.message}"
            run.errors.append(said)
            self.errors.append(said)
        if getattr(inner, "id", "") and (key := _key(inner.id)):
            run.widgets[key] = inner
            if kind == "text_input":
                run.inputs[key] = inner.value if inner.set_value else inner.default

    async def until(self, check: Callable[[StClient], object], timeout: float = 60.0):
        """Wait until check(self) is true after some run finished (checked now, then after each run); returns
        its value, or raises TimeoutError."""
        deadline = time.monotonic() + timeout
        async with self._changed:
            while not (value := check(self)):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.name or 'client'}: not seen within {timeout:g} s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), left)
        return value
