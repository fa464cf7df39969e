"""Load benchmark: a class of students on one real server, spoken to in Streamlit's protocol.

`python -m lab.loadbench [--students 30] [--quick] [--db PATH] [--phases a,b] [--json PATH]`
starts `streamlit run Home.py` (lab/appserver.py) and drives it with protocol-level
students: each is a websocket to /_stcore/stream that sends the BackMsgs a browser tab
sends (`Student`) and reads the ForwardMsgs back. A page view runs from the rerun request to
the page's `script_finished`. Phases (one printed line each, then a Markdown table):
- solo: one student opens Home, then study pages in-app, on one session (3 times);
- class_open: N students start within ~2 s, each Home then three study pages;
- browser: a real Chromium tab opens a study page during class_open (and once idle);
- retrain_alone: one student presses a study page's "Retrain now" (click -> "Retrain
  finished");
- class_retrain: N students press the same retrain together; bystanders: 3 other students
  read pages meanwhile;
- flood: one session submits sandbox configs one after another, then another student
  presses a study retrain.
Server CPU (utime+stime from /proc) and peak RSS (polled every 0.2 s) are per phase. Each
retrain measurement runs on a freshly started server with an empty retrain cache (same
rseed), so neither the cache nor the server's job registry can serve it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import queue
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import websockets

from lab.appbench import FINISHED, STARTED, study_paths, visit
from lab.appclient import PageError, Student
from lab.appserver import ROOT, AppServer, _tree, launch_chromium
from lab.data.store import DEFAULT_DB
from lab.studies.study import SEEDS

PHASES = ("solo", "class_open", "browser", "retrain_alone", "class_retrain", "bystanders",
          "flood")
RSS_POLL_S = 0.2
STAGGER_S = 2.0  # class_open: students start within this many seconds
BYSTANDERS = 3
BYSTANDER_THINK_S = 1.0  # a bystander reads a page this long before the next
WIND_DOWN_S = 30.0  # how long a bystander's view may go on after the class retrain
BROWSER_STUDY = "initialization"
SANDBOX = "sandbox"
HOME_TITLE = "RNN Experiments Lab"
SANDBOX_TITLE = "Sandbox: train your own"
TRAINED = re.compile(r"^Trained in ")  # the sandbox's finished run
# a page's warning that a run diverged or lost ground (views.status_sentence): a result of the
# retrain (a random init may blow up at some seed), not a failure of the server
OUTCOME = re.compile(r"\d+ of \d+ seeds (diverged|unstable)")


# -- measuring the server ------------------------------------------------------------------
def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) of pid and its descendants, and of its reaped children."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
        if p == pid:
            total += int(fields[13]) + int(fields[14])  # cutime, cstime
    return total / tick


def server_threads(pid: int) -> int:
    """Threads: of the server process (/proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def thread_cpu(pid: int) -> dict[int, tuple[str, float]]:
    """CPU seconds so far of each thread of pid: {tid: (its name, seconds)}."""
    tick, out = os.sysconf("SC_CLK_TCK"), {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError, IndexError):
            name = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
            out[int(tid)] = (name, (int(fields[11]) + int(fields[12])) / tick)
    return out


def _thread_kind(name: str) -> str:
    """Where a server thread's CPU goes: training, page scripts, or the server's own loop."""
    if name.startswith("retrain-"):
        return "training"
    if "script" in name.lower() or name.startswith("ScriptRunner"):
        return "page scripts"
    return "server loop and other"


class Meter:
    """Server CPU seconds (in all and by kind of thread), peak RSS and the benchmark's own
    CPU over a `with` block (RSS and threads polled every 0.2 s)."""

    def __init__(self, server: AppServer):
        self.server = server
        self.cpu = self.peak_mb = self.client_cpu = 0.0
        self.by_kind: dict[str, float] = {}
        self._seen: dict[int, tuple[str, float, float]] = {}  # tid -> (name, first, last)
        self._stop = threading.Event()

    def __enter__(self) -> Meter:
        self._cpu0 = server_cpu(self.server.proc.pid)
        self._client0 = time.process_time()
        self.peak_mb = self.server.rss_mb()
        self._sample()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        with contextlib.suppress(OSError):
            for tid, (name, cpu) in thread_cpu(self.server.proc.pid).items():
                first = self._seen.get(tid, (name, cpu, cpu))[1]
                self._seen[tid] = (name, first, cpu)

    def _poll(self) -> None:
        while not self._stop.wait(RSS_POLL_S):
            self.peak_mb = max(self.peak_mb, self.server.rss_mb())
            self._sample()

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.cpu = server_cpu(self.server.proc.pid) - self._cpu0
        self.client_cpu = time.process_time() - self._client0
        for name, first, last in self._seen.values():
            kind = _thread_kind(name)
            self.by_kind[kind] = self.by_kind.get(kind, 0.0) + last - first


@dataclass
class Phase:
    """One row: page-view seconds, errors and the server's CPU and memory during it."""

    name: str
    clients: int = 0
    views: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cpu_s: float | None = None
    runs: int | None = None  # what the CPU is divided by, when not the page views
    peak_rss_mb: float | None = None
    client_cpu_s: float | None = None
    timed_out_s: float | None = None
    notes: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def metered(self, m: Meter) -> None:
        self.cpu_s, self.peak_rss_mb, self.client_cpu_s = m.cpu, m.peak_mb, m.client_cpu
        self.extra["server_cpu_by_thread"] = {k: round(v, 1) for k, v in m.by_kind.items()}
        self.notes.append("server CPU s: " + ", ".join(
            f"{k} {v:.1f}" for k, v in sorted(m.by_kind.items())) +
            f"; the benchmark's own clients {m.client_cpu:.1f}")

    def stats(self) -> dict[str, float | None]:
        v = sorted(self.views)
        if not v:
            return {"p50": None, "p95": None, "max": None}
        return {"p50": statistics.median(v), "p95": v[min(len(v) - 1, round(0.95 * (len(v) - 1)))],
                "max": v[-1]}

    def cpu_per_view(self) -> float | None:
        n = self.runs if self.runs is not None else len(self.views)
        return self.cpu_s / n if self.cpu_s is not None and n else None

    def line(self) -> str:
        s = self.stats()
        parts = [f"{self.name}: clients={self.clients} views={len(self.views)}",
                 *(f"{k}={_s(v)}" for k, v in s.items()),
                 f"server_cpu={_s(self.cpu_s)} cpu/view={_s(self.cpu_per_view(), 3)}",
                 f"errors={len(self.errors)} peak_rss={_mb(self.peak_rss_mb)}"]
        if self.timed_out_s is not None:
            parts.append(f"NOT FINISHED after {self.timed_out_s:.0f} s")
        return " ".join(parts) + "".join(f"; {n}" for n in self.notes)

    def as_dict(self) -> dict:
        return {**asdict(self), **self.stats(), "cpu_per_view": self.cpu_per_view()}


def _s(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _mb(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f} MB"


async def within(phase: Phase, timeout: float, coro) -> None:
    """Run the phase's work for at most timeout seconds (then note that it did not finish)."""
    try:
        await asyncio.wait_for(coro, timeout)
    except TimeoutError:
        phase.timed_out_s = timeout


# -- pages ---------------------------------------------------------------------------------
def titles() -> dict[str, str]:
    """Page name (study id, 'Home', 'sandbox') -> the title its page starts with."""
    from lab.ui import nav
    out = {"Home": HOME_TITLE, SANDBOX: SANDBOX_TITLE}
    for pages in nav.grouped_pages().values():
        out.update({p.study_id: f"{p.number}. {p.title}" for p in pages})
    return out


def _query(path: str, **params) -> str:
    extra = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{path}{'&' if '?' in path else '?'}{extra}" if extra else path


@dataclass
class Setup:
    """What every phase needs: the pages and the run's knobs."""

    paths: dict[str, str]  # Home and the study pages -> URL path and query (study_paths)
    titles: dict[str, str]
    students: int
    studies_each: int  # study pages per student after Home
    solo_repeats: int
    retrain_study: str
    retrain_steps: int
    rseed: int
    flood: int
    phase_timeout: float
    rng: random.Random
    repeat: int = 1  # the retrain phases, alone then watched, this many times

    @property
    def studies(self) -> list[str]:
        return [n for n in self.paths if n != "Home"]

    def tour(self, i: int) -> list[str]:
        """Student i's pages: Home, then studies_each study pages (varied across students)."""
        s = self.studies
        return ["Home", *(s[(i * self.studies_each + k) % len(s)]
                          for k in range(self.studies_each))]

    def retrain_path(self) -> str:
        return _query(self.paths[self.retrain_study], steps=self.retrain_steps,
                      rseed=self.rseed)


async def read_pages(student: Student, setup: Setup, pages: list[str], phase: Phase,
                     stop: asyncio.Event | None = None, think: float = 0.0) -> None:
    """Open the first page (a full load on a new session, else in-app), then the rest
    in-app, `think` seconds after each; record views and errors; stop once `stop` is set."""
    for k, name in enumerate(pages):
        if k and think:
            await asyncio.sleep(think)
        if stop is not None and stop.is_set():
            return
        how = student.open if k == 0 and not student.pages else student.goto
        try:
            phase.views.append(await how(setup.paths[name], setup.titles[name]))
            phase.extra.setdefault("by_page", {}).setdefault(name, []).append(phase.views[-1])
        except (PageError, OSError, websockets.WebSocketException) as e:
            phase.errors.append(f"{student.name}: {e}")
            if student.ws is None or student.ws.state.name != "OPEN":
                return


# -- phases --------------------------------------------------------------------------------
async def solo(server: AppServer, setup: Setup) -> Phase:
    """One student, Home then study pages in-app, one session per repeat."""
    phase = Phase("solo", clients=1)
    with Meter(server) as m:
        async def work() -> None:
            for r in range(setup.solo_repeats):
                async with Student(server.url, f"solo{r}") as s:
                    await read_pages(s, setup, setup.tour(0), phase)
                    phase.errors += s.errors
        await within(phase, setup.phase_timeout, work())
    phase.metered(m)
    return phase


async def class_open(server: AppServer, setup: Setup, tab: BrowserTab | None
                     ) -> tuple[Phase, Phase | None]:
    """N students start within STAGGER_S, each on its own session: Home, then study pages;
    with a browser tab, it opens BROWSER_STUDY one second in."""
    phase = Phase("class_open", clients=setup.students)
    browser = Phase("browser", clients=1) if tab else None
    delays = sorted(setup.rng.uniform(0, STAGGER_S) for _ in range(setup.students))

    async def student(i: int) -> None:
        await asyncio.sleep(delays[i])
        s = Student(server.url, f"s{i}")
        try:
            await s.connect()
            await read_pages(s, setup, setup.tour(i), phase)
        except (OSError, websockets.WebSocketException) as e:
            phase.errors.append(f"s{i}: connect: {e!r}")
        finally:
            phase.errors.extend(s.errors)
            await s.close()

    async def in_browser() -> None:
        await asyncio.sleep(1.0)
        try:
            browser.views.append(await tab.visit(setup.paths[BROWSER_STUDY], BROWSER_STUDY))
        except Exception as e:  # noqa: BLE001 (reported as the row's error)
            browser.errors.append(f"browser: {e!r}"[:300])

    with Meter(server) as m:
        jobs = [student(i) for i in range(setup.students)] + ([in_browser()] if tab else [])
        await within(phase, setup.phase_timeout, asyncio.gather(*jobs))
    phase.metered(m)
    if browser:
        browser.timed_out_s = phase.timed_out_s if not browser.views else None
    return phase, browser


async def browser_idle(server: AppServer, setup: Setup, tab: BrowserTab) -> dict:
    """Before the class: the browser's full load of BROWSER_STUDY (warmed) beside the
    protocol client's full load of the same page, both idle."""
    path, title = setup.paths[BROWSER_STUDY], setup.titles[BROWSER_STUDY]
    await tab.visit("", "Home")  # the app's scripts into the browser's cache
    await tab.visit(path, BROWSER_STUDY)
    browser = [await tab.visit(path, BROWSER_STUDY) for _ in range(2)]
    protocol = []
    for _ in range(3):
        async with Student(server.url, "idle") as s:
            protocol.append(await s.open(path, title))
    return {"browser_idle_s": statistics.median(browser),
            "protocol_idle_s": statistics.median(protocol)}


async def retrain_alone(server: AppServer, setup: Setup) -> Phase:
    """One student presses the study's "Retrain now": click -> "Retrain finished"."""
    phase = Phase("retrain_alone", clients=1)
    with Meter(server) as m:
        async with Student(server.url, "alone") as s:
            await s.open(setup.retrain_path(), setup.titles[setup.retrain_study])
            done = await _press_and_wait(s, phase, time.perf_counter() + setup.phase_timeout)
            phase.runs = s.full_runs + s.fragment_runs
            phase.errors += s.errors
    phase.metered(m)
    phase.notes.append(f"{setup.retrain_steps:,} steps; times: click -> \"Retrain finished\"; "
                       "CPU per script run (fragment polls included)")
    if done is not None:
        phase.views.append(done)
    else:
        phase.timed_out_s = setup.phase_timeout
        phase.notes.append(f"last progress {s.last_progress!r}")
    return phase


def _warnings(s: Student) -> list[str]:
    """The warnings and errors a student was shown, but for a run's outcome (OUTCOME)."""
    return [b for f, b in s.alerts if f in ("WARNING", "ERROR") and not OUTCOME.search(b)]


async def _press_and_wait(s: Student, phase: Phase, deadline: float) -> float | None:
    """Press "Retrain now"; seconds from the click until "Retrain finished" (None: not by
    the perf_counter deadline). Fragment reruns go on meanwhile (the student's timers)."""
    finished = s.watch(FINISHED)
    started = time.perf_counter()
    try:
        await s.press("Retrain now", timeout=max(1.0, deadline - started))
        return await asyncio.wait_for(finished, max(0.1, deadline - time.perf_counter())) \
            - started
    except TimeoutError:
        return None
    except (PageError, OSError, websockets.WebSocketException) as e:
        phase.errors.append(f"{s.name}: {e}")
        return None
    finally:
        warned = _warnings(s)
        if warned:
            phase.errors.append(f"{s.name}: {warned[0][:200]}")


async def class_retrain(server: AppServer, setup: Setup, alone: float | None,
                        bystanders: bool = True) -> tuple[Phase, Phase]:
    """N students open the same study page and press its retrain together; BYSTANDERS other
    students (if asked) read pages (BYSTANDER_THINK_S after each) until the watchers are
    done (or the phase times out)."""
    phase = Phase("class_retrain", clients=setup.students)
    readers_n = BYSTANDERS if bystanders else 0
    by = Phase("bystanders", clients=readers_n)
    watchers = [Student(server.url, f"w{i}") for i in range(setup.students)]
    opened = Phase("class_retrain_open")
    stop = asyncio.Event()
    done: list[float] = []

    async def watcher(s: Student, deadline: float) -> None:
        d = await _press_and_wait(s, phase, deadline)
        if d is not None:
            done.append(d)

    async def bystander(i: int) -> None:
        s = Student(server.url, f"b{i}")
        try:
            await s.connect()
            k = 0
            while not stop.is_set():  # Home and study pages, round and round
                await read_pages(s, setup, setup.tour(setup.students + i + k), by, stop,
                                 BYSTANDER_THINK_S)
                await asyncio.sleep(BYSTANDER_THINK_S)
                k += 1
        finally:
            by.errors.extend(s.errors)
            await s.close()

    try:
        async def open_all() -> None:
            for s in watchers:
                await s.connect()
            await asyncio.gather(*(read_pages(s, setup, [setup.retrain_study], opened)
                                   for s in watchers))
        await open_all()
        phase.extra["open_before_press"] = opened.stats() | {"errors": len(opened.errors)}
        phase.errors += opened.errors
        with Meter(server) as m:
            readers = [asyncio.create_task(bystander(i)) for i in range(readers_n)]
            started = time.perf_counter()
            deadline = started + setup.phase_timeout
            await asyncio.gather(*(watcher(s, deadline) for s in watchers if s.buttons))
            wall = time.perf_counter() - started
            stop.set()  # a bystander's view under way may finish, for a while
            if readers:
                await asyncio.wait(readers, timeout=WIND_DOWN_S)
            for i, t in enumerate(readers):
                if not t.done():
                    t.cancel()
                    by.errors.append(f"b{i}: a view still unfinished {WIND_DOWN_S:.0f} s "
                                     "after the class retrain ended")
    finally:
        for s in watchers:
            await s.close()
    phase.metered(m)
    by.metered(m)
    phase.runs = sum(s.full_runs + s.fragment_runs for s in watchers)
    phase.errors += [e for s in watchers for e in s.errors]
    phase.views = sorted(done)
    phase.notes.append("times: each watcher's click -> \"Retrain finished\"; CPU per script "
                       "run (fragment polls included)")
    late = setup.students - len(done)
    if late:
        phase.timed_out_s = setup.phase_timeout
        phase.notes.append(f"{late} of {setup.students} watchers not finished after "
                           f"{setup.phase_timeout:.0f} s (last progress "
                           f"{watchers[0].last_progress!r})")
    if done:
        first, last = done[0], (done[-1] if not late else None)
        phase.extra.update(first_s=first, last_s=last, alone_s=alone)
        ratio = f", {first / alone:.1f}x alone" if alone else ""
        phase.notes.append(f"first watcher finished {first:.1f} s{ratio}")
        if last is not None:
            phase.notes.append(f"last {last:.1f} s" + (f", {last / alone:.1f}x alone"
                                                         if alone else ""))
    elif alone:
        phase.notes.append(f"alone {alone:.1f} s: ratio > {setup.phase_timeout / alone:.0f}x")
    phase.extra["wall_s"] = wall
    by.cpu_s = None  # shared with the class retrain: the CPU is that row's
    by.notes.append(f"during class_retrain ({wall:.0f} s)")
    return phase, by


async def flood(server: AppServer, setup: Setup) -> Phase:
    """One session submits setup.flood sandbox configs (seed varies), then another student
    presses a study retrain: how many were accepted, what the other one was told."""
    phase = Phase("flood", clients=2)
    title = setup.titles[SANDBOX]
    shown: list[str] = []
    accepted, refused = 0, []
    with Meter(server) as m:
        async with Student(server.url, "flood") as s:
            for i in range(setup.flood):
                query = f"steps={setup.retrain_steps}&seed={1000 + i}"
                try:
                    if i == 0:
                        phase.views.append(await s.open(f"{SANDBOX}?{query}", title))
                    else:
                        phase.views.append(await s.requery(query, title))
                    phase.views.append(await s.press("Train it"))
                except PageError as e:
                    phase.errors.append(str(e))
                    continue
                busy = _warnings(s)
                if busy:  # a refusal (the line is full, or this tab has too many)
                    refused.append(busy[0])
                elif any(STARTED.match(t) or TRAINED.match(t) for t in s.texts):
                    accepted += 1
                else:
                    phase.errors.append(f"config {i}: neither accepted nor refused")
            async with Student(server.url, "other") as o:
                phase.views.append(await o.open(setup.retrain_path(),
                                                setup.titles[setup.retrain_study]))
                phase.views.append(await o.press("Retrain now"))
                told = _warnings(o)
                shown = told or [t for t in o.texts if STARTED.match(t)]
                phase.errors += s.errors + o.errors
        threads, rss = server_threads(server.proc.pid), server.rss_mb()
    phase.metered(m)
    phase.extra.update(accepted=accepted, refused=len(refused), refused_told=refused[:1],
                       other_told=shown[:1],
                       threads_after=threads, rss_after_mb=rss)
    phase.notes.append(f"{accepted} of {setup.flood} accepted" + (
        f" (refused: {refused[0][:90]!r})" if refused else ""))
    phase.notes.append(f"the other student saw {shown[0][:120]!r}" if shown
                       else "the other student saw nothing")
    phase.notes.append(f"server threads {threads}, RSS after {rss:.0f} MB")
    return phase


# -- the real browser ----------------------------------------------------------------------
class BrowserTab:
    """A Chromium tab (Playwright's sync API) in its own thread; `visit` is awaitable."""

    def __init__(self, base_url: str):
        self.base = base_url
        self._jobs: queue.Queue = queue.Queue()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    def start(self) -> BrowserTab:
        self._thread.start()
        self._ready.wait(120)
        if self._error:
            raise self._error
        return self

    def _main(self) -> None:
        from playwright.sync_api import sync_playwright
        try:
            with sync_playwright() as pw:
                browser = launch_chromium(pw)
                page = browser.new_page()
                self._ready.set()
                while (job := self._jobs.get()) is not None:
                    fn, fut, loop = job
                    try:
                        result = fn(page)
                    except Exception as e:  # noqa: BLE001 (handed to the awaiting caller)
                        loop.call_soon_threadsafe(_settle, fut, None, e)
                    else:
                        loop.call_soon_threadsafe(_settle, fut, result, None)
                browser.close()
        except BaseException as e:  # noqa: BLE001
            self._error = e
            self._ready.set()

    async def visit(self, path: str, name: str) -> float:
        """Seconds from opening the link to the page drawn (lab.appbench.visit)."""
        return await self._call(lambda page: visit(page, self.base, path, name))

    async def _call(self, fn: Callable) -> float:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._jobs.put((fn, fut, loop))
        return await fut

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(60)


def _settle(fut: asyncio.Future, result, error) -> None:
    if not fut.done():
        fut.set_exception(error) if error else fut.set_result(result)


# -- running -------------------------------------------------------------------------------
@contextlib.contextmanager
def serving(db: Path):
    """A fresh server with an empty retrain cache (a temp dir removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="loadbench-cache-") as cache:
        server = AppServer({"LAB_DB": str(db), "LAB_RETRAIN_CACHE": cache})
        server.start(timeout=120)
        try:
            yield server
        finally:
            server.stop()


async def warm(server: AppServer, setup: Setup, extra: tuple[str, ...] = ()) -> None:
    """Every page once, so the phases time warm pages (caches filled, modules imported)."""
    async with Student(server.url, "warm-up") as s:
        for name in (*setup.paths, *extra):
            await s.open(setup.paths.get(name, name), setup.titles[name])


def report(phase: Phase, out: list[Phase]) -> None:
    out.append(phase)
    print(phase.line(), flush=True)


async def run(setup: Setup, db: Path, phases: set[str]) -> list[Phase]:
    """The phases asked for, in order, each server group on a fresh server."""
    out: list[Phase] = []
    if phases & {"solo", "class_open", "browser"}:
        with serving(db) as server:
            await warm(server, setup)
            if "solo" in phases:
                report(await solo(server, setup), out)
            tab = BrowserTab(server.url).start() if "browser" in phases else None
            try:
                idle = await browser_idle(server, setup, tab) if tab else {}
                if phases & {"class_open", "browser"}:
                    opened, browser = await class_open(server, setup, tab)
                    if "class_open" in phases:
                        report(opened, out)
                    if browser:
                        _compare(browser, idle, opened)
                        report(browser, out)
            finally:
                if tab:
                    tab.close()
    for i in range(setup.repeat):  # alone, then watched, side by side (the machine is noisy)
        tag = f" #{i + 1}" if setup.repeat > 1 else ""
        alone = None
        if phases & {"retrain_alone", "class_retrain"}:
            with serving(db) as server:
                await warm(server, setup)
                first = await retrain_alone(server, setup)
                first.name += tag
                alone = first.views[0] if first.views else None
                report(first, out)
        if phases & {"class_retrain", "bystanders"}:
            with serving(db) as server:
                await warm(server, setup)
                watched, by = await class_retrain(server, setup, alone,
                                                  bystanders="bystanders" in phases)
                watched.name += tag
                by.name += tag
                report(watched, out)
                if "bystanders" in phases:
                    report(by, out)
    if "flood" in phases:
        with serving(db) as server:
            await warm(server, setup, (SANDBOX,))
            report(await flood(server, setup), out)
    return out


def retrain_ratios(phases: list[Phase]) -> list[float]:
    """Each class retrain's last watcher's time over the time alone measured just before."""
    return [p.extra["last_s"] / p.extra["alone_s"] for p in phases
            if p.name.startswith("class_retrain") and p.extra.get("last_s")
            and p.extra.get("alone_s")]


def _compare(browser: Phase, idle: dict, opened: Phase) -> None:
    """The browser row's notes: its times beside the protocol clients' for the same page."""
    browser.extra.update(idle)
    same = opened.extra.get("by_page", {}).get(BROWSER_STUDY, [])
    if same:
        browser.extra["protocol_class_open_s"] = statistics.median(same)
    if idle:
        browser.notes.append(f"idle: browser {idle['browser_idle_s']:.2f} s, protocol full "
                             f"load {idle['protocol_idle_s']:.2f} s")
    if browser.views:
        browser.notes.append(f"during class_open: browser {browser.views[0]:.2f} s"
                             + (f", protocol clients' views of the page median "
                                f"{statistics.median(same):.2f} s" if same else ""))


def table(phases: list[Phase]) -> str:
    """The Markdown table: one row per phase."""
    head = ("| phase | clients | page views | p50 s | p95 s | max s | server CPU s | "
            "CPU s / view | errors | peak RSS MB | notes |")
    rows = [head, "|" + "---|" * 11]
    for p in phases:
        s = p.stats()
        note = "; ".join(p.notes)
        if p.timed_out_s is not None and "not finished" not in note:
            note = f"not finished after {p.timed_out_s:.0f} s" + (f"; {note}" if note else "")
        views = f"{len(p.views)}" + (f" ({p.runs} script runs)" if p.runs is not None else "")
        rows.append(f"| {p.name} | {p.clients} | {views} | {_s(s['p50'])} | {_s(s['p95'])} | "
                    f"{_s(s['max'])} | {_s(p.cpu_s, 1)} | {_s(p.cpu_per_view(), 3)} | "
                    f"{len(p.errors)} | {_s(p.peak_rss_mb, 0)} | {note} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=30)
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run: 5 students, 20-step retrains, fewer pages")
    ap.add_argument("--db", type=Path, default=DEFAULT_DB, help="the lab database to serve")
    ap.add_argument("--phases", default=",".join(PHASES), help="comma list of " + ", ".join(PHASES))
    ap.add_argument("--json", type=Path, help="write every number here as JSON")
    ap.add_argument("--retrain-study", default="initialization")
    ap.add_argument("--retrain-steps", type=int, default=2000)
    ap.add_argument("--rseed", type=int, default=SEEDS[0], help="the retrains' seed")
    ap.add_argument("--phase-timeout", type=float, default=300.0,
                    help="seconds a phase may run before it is reported as not finished")
    ap.add_argument("--seed", type=int, default=0, help="the students' random stagger")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run the retrain phases (alone, then watched) this many times")
    args = ap.parse_args(argv)
    phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    if phases - set(PHASES):
        ap.error(f"unknown phases: {', '.join(sorted(phases - set(PHASES)))}")
    quick = args.quick
    students = 5 if quick and args.students == 30 else args.students
    steps = 20 if quick and args.retrain_steps == 2000 else args.retrain_steps
    setup = Setup(paths=study_paths(), titles=titles(), students=students,
                  studies_each=2 if quick else 3, solo_repeats=2 if quick else 3,
                  retrain_study=args.retrain_study, retrain_steps=steps, rseed=args.rseed,
                  flood=6 if quick else 25, phase_timeout=args.phase_timeout,
                  rng=random.Random(args.seed), repeat=max(1, args.repeat))
    started = time.perf_counter()
    out = asyncio.run(run(setup, args.db, phases))
    print()
    print(table(out))
    if (ratios := retrain_ratios(out)):
        print(f"\nclass retrain / alone, each pair side by side: "
              f"{', '.join(f'{r:.2f}' for r in ratios)} (median {statistics.median(ratios):.2f})")
    print(f"\n{students} students, {steps}-step retrains of {args.retrain_study} "
          f"(rseed {args.rseed}), phase timeout {args.phase_timeout:.0f} s, "
          f"{time.perf_counter() - started:.0f} s in all")
    if args.json:
        args.json.write_text(json.dumps({
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "app_root": str(ROOT), "table": table(out),
            "students": students, "retrain_steps": steps, "cores": os.cpu_count(),
            "python": sys.version.split()[0], "phases": [p.as_dict() for p in out]},
            indent=2, default=str))


if __name__ == "__main__":
    main()
