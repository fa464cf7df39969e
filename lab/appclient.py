"""A browser tab in Streamlit's own protocol, for the load benchmark and the class tests.

`Student` is one websocket session on a running app (lab/appserver.py) that sends the
BackMsgs a browser tab sends and reads the ForwardMsgs back, so many tabs can be driven from
one process without a browser each. Checked against a real Chromium tab by lab.loadbench.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time

import websockets
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

VIEW_TIMEOUT = 300.0  # one page view at most (under load the class saw ~10 s)
_FULL_RUN_DONE = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR)


class PageError(RuntimeError):
    """A page view that did not end with its page drawn (timeout, wrong page, exception)."""


class Student:
    """One browser tab in Streamlit's protocol: a websocket session on the server.

    As the frontend does: the first rerun names the page by its URL path (`page_name`), later
    ones by `page_script_hash` (from the `navigation` message); the query string follows
    the server's `page_info_changed`; a button click is a rerun whose widget_states hold the
    button's `trigger_value`; cached messages' hashes go back in every rerun and `ref_hash`
    messages are resolved from them; each `auto_rerun` (st.fragment(run_every=...)) starts a
    timer that sends a fragment rerun (`fragment_id`, `is_auto_rerun`) every interval until
    a full run starts or `stop_auto_rerun` names it.
    """

    def __init__(self, base_url: str, name: str = "student"):
        self.base = base_url
        self.name = name
        self.ws = None
        self.path = ""  # URL path of the page shown, '' for Home
        self.query = ""
        self.page_hash = ""  # of the page shown (new_session, then navigation)
        self.title = ""  # the title the page shown starts with
        self.pages: dict[str, str] = {}  # URL path -> page_script_hash
        self.cache: dict[str, ForwardMsg] = {}  # hash -> cacheable message
        self.buttons: dict[str, str] = {}  # label -> widget id, this full run
        self.texts: list[str] = []  # headings, markdown, alerts, progress, this full run
        self.alerts: list[tuple[str, str]] = []  # (format, body), this full run
        self.errors: list[str] = []
        self.full_runs = self.fragment_runs = 0
        self.last_progress = ""
        self.last_message = (0.0, "")  # (perf_counter, type) of the last ForwardMsg
        self._timers: dict[str, tuple[float, asyncio.Task]] = {}
        self._done: asyncio.Future | None = None
        self._started = False  # a full run began since the pending request was sent
        self._watches: list[tuple[re.Pattern, asyncio.Future]] = []
        self._reader: asyncio.Task | None = None

    async def connect(self) -> None:
        url = self.base.replace("http://", "ws://") + "/_stcore/stream"
        # a browser sends no pings; the server's own pings are answered while reading
        self.ws = await websockets.connect(url, subprotocols=["streamlit"], max_size=None,
                                           ping_interval=None, open_timeout=VIEW_TIMEOUT)
        self._reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        for _, task in self._timers.values():
            task.cancel()
        self._timers.clear()
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 5)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader

    async def __aenter__(self) -> Student:
        await self.connect()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # -- what the student does ---------------------------------------------------------
    async def open(self, path: str, title: str, timeout: float = VIEW_TIMEOUT) -> float:
        """A full load of `path` ('url_path?query'): the tab's first rerun names the page."""
        self.path, _, self.query = path.partition("?")
        return await self._view(title, timeout, page_name=self.path)

    async def goto(self, path: str, title: str, timeout: float = VIEW_TIMEOUT) -> float:
        """An in-app navigation (page link, sidebar): the page's script hash, its query."""
        url_path, _, query = path.partition("?")
        if url_path not in self.pages:
            return await self.open(path, title, timeout)
        self.path, self.query = url_path, query
        return await self._view(title, timeout, page_hash=self.pages[url_path])

    async def requery(self, query: str, title: str, timeout: float = VIEW_TIMEOUT) -> float:
        """The same page rerun with another query string (its settings changed)."""
        self.query = query
        return await self._view(title, timeout, page_hash=self.page_hash)

    async def press(self, label: str, timeout: float = VIEW_TIMEOUT) -> float:
        """Click the button `label` of the page shown; seconds until that run finished."""
        if label not in self.buttons:
            raise PageError(f"no button {label!r} on {self.path or 'Home'}")
        return await self._view(self.title, timeout, page_hash=self.page_hash,
                                triggers=(self.buttons[label],))

    async def clear_cache(self) -> None:
        """Streamlit's "clear cache" message, which any client can send (the menu hides it)."""
        msg = BackMsg()
        msg.clear_cache = True
        await self.ws.send(msg.SerializeToString())

    def watch(self, pattern: re.Pattern) -> asyncio.Future:
        """A future set to the perf_counter time a text matching pattern arrives."""
        fut = asyncio.get_running_loop().create_future()
        self._watches.append((pattern, fut))
        return fut

    # -- protocol ----------------------------------------------------------------------
    async def _view(self, title: str, timeout: float, **how) -> float:
        self.title = title
        seconds = await self._run(timeout, **how)
        if not any(t.startswith(title) for t in self.texts):
            raise PageError(f"{self.path or 'Home'}: title {title!r} not in the page")
        return seconds

    async def _run(self, timeout: float, **how) -> float:
        """Send a rerun; seconds until the full run it started reported script_finished."""
        self._done = asyncio.get_running_loop().create_future()
        self._started = False
        started = time.perf_counter()
        await self._send(**how)
        try:
            status = await asyncio.wait_for(self._done, timeout)
        except TimeoutError:
            at, kind = self.last_message
            raise PageError(f"{self.path or 'Home'}: no script_finished in {timeout:.0f} s "
                            f"(last message {kind!r} {time.perf_counter() - at:.0f} s before)"
                            ) from None
        finally:
            self._done = None
        if status != ForwardMsg.FINISHED_SUCCESSFULLY:
            raise PageError(f"{self.path or 'Home'}: script finished with status {status}")
        return time.perf_counter() - started

    async def _send(self, page_hash: str = "", page_name: str = "", fragment_id: str = "",
                    auto: bool = False, triggers: tuple[str, ...] = ()) -> None:
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query
        state.page_script_hash = page_hash
        state.page_name = page_name
        state.fragment_id = fragment_id
        state.is_auto_rerun = auto
        state.widget_states.SetInParent()
        for widget_id in triggers:
            state.widget_states.widgets.add(id=widget_id, trigger_value=True)
        state.cached_message_hashes.extend(self.cache)
        ctx = state.context_info
        ctx.timezone, ctx.timezone_offset, ctx.locale = "UTC", 0, "en-US"
        ctx.url = f"{self.base}/{self.path}" + (f"?{self.query}" if self.query else "")
        ctx.is_embedded, ctx.color_scheme = False, "light"
        await self.ws.send(msg.SerializeToString())

    async def _read(self) -> None:
        try:
            async for data in self.ws:
                self._handle(ForwardMsg.FromString(data))
        except websockets.ConnectionClosed as e:
            self._fail(f"connection closed: {e}")
        except Exception as e:  # noqa: BLE001 (a broken session is an error of the run)
            self._fail(f"reader: {e!r}")
        else:
            self._fail("connection closed")

    def _fail(self, why: str) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_exception(PageError(why))

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        self.last_message = (time.perf_counter(), kind)
        if kind == "ref_hash":  # a message this client said it has cached
            cached = self.cache.get(msg.ref_hash)
            if cached is None:
                self.errors.append(f"unknown ref_hash {msg.ref_hash}")
                return
            full = ForwardMsg()
            full.CopyFrom(cached)
            full.metadata.CopyFrom(msg.metadata)
            msg, kind = full, full.WhichOneof("type")
        elif msg.metadata.cacheable:
            self.cache[msg.hash] = msg
        if kind == "new_session":
            self.page_hash = msg.new_session.page_script_hash
            if not msg.metadata.run.fragment_ids:  # a full run: the page starts over
                self._stop_timers(list(self._timers))
                self.texts, self.alerts, self.buttons = [], [], {}
                self._started = True
        elif kind == "navigation":  # st.navigation: the page shown, and every page's hash
            self.page_hash = msg.navigation.page_script_hash or self.page_hash
            self.pages.update({p.url_pathname: p.page_script_hash
                               for p in msg.navigation.app_pages})
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            self._element(msg.delta.new_element)
        elif kind == "auto_rerun":
            self._start_timer(msg.auto_rerun.fragment_id, msg.auto_rerun.interval)
        elif kind == "stop_auto_rerun":
            self._stop_timers(list(msg.stop_auto_rerun.fragment_ids))
        elif kind == "page_not_found":
            self.errors.append(f"page not found: {msg.page_not_found.page_name}")
        elif kind == "script_finished":
            if msg.script_finished == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
                self.fragment_runs += 1
            elif msg.script_finished in _FULL_RUN_DONE:
                self.full_runs += 1
                if self._done is not None and self._started and not self._done.done():
                    self._done.set_result(msg.script_finished)

    def _element(self, el) -> None:
        kind = el.WhichOneof("type")
        inner = getattr(el, kind)
        text = ""
        if kind in ("heading", "markdown", "text"):
            text = inner.body
        elif kind == "alert":
            text = inner.body
            self.alerts.append((Alert.Format.Name(inner.format), text))
        elif kind == "progress":
            text = self.last_progress = inner.text
        elif kind == "button":
            self.buttons[inner.label] = inner.id
        elif kind == "exception":
            self.errors.append(f"exception on {self.path or 'Home'}: {inner.message[:200]}")
        if not text:
            return
        self.texts.append(text)
        now = time.perf_counter()
        for pattern, fut in list(self._watches):
            if not fut.done() and pattern.search(text):
                fut.set_result(now)
                self._watches.remove((pattern, fut))

    def _start_timer(self, fragment_id: str, interval: float) -> None:
        """The frontend's setInterval for an auto-rerunning fragment."""
        if fragment_id in self._timers and self._timers[fragment_id][0] == interval:
            return
        self._stop_timers([fragment_id])
        task = asyncio.create_task(self._auto_rerun(fragment_id, interval))
        self._timers[fragment_id] = (interval, task)

    def _stop_timers(self, fragment_ids: list[str]) -> None:
        for fid in fragment_ids:
            _, task = self._timers.pop(fid, (0.0, None))
            if task is not None:
                task.cancel()

    async def _auto_rerun(self, fragment_id: str, interval: float) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                await asyncio.sleep(interval)
                await self._send(page_hash=self.page_hash, fragment_id=fragment_id, auto=True)
