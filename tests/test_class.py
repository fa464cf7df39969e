"""A class on one real server, through Streamlit's own protocol (lab.loadbench's students):
one training for a retrain many tabs ask for, every watcher sees its result, a tab cannot
fill the line and its refusal says why, a closed tab frees its place and its threads, and
Streamlit's "clear cache" message resets nothing shared. Behaviour only: timings are the
benchmark's (python -m lab.loadbench)."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from lab.appbench import FINISHED, study_paths
from lab.appclient import Student
from lab.appserver import AppServer
from lab.loadbench import thread_cpu, titles

STUDY = "initialization"  # three arms of one shape
SHORT, LONG = 20, 30_000  # steps: a retrain that ends, one that outlasts the test
LIMITED = re.compile(r"^You already have 2 retrains queued or running")
SHARED = re.compile(r"\b(\d+) tabs watch this one training")
SECONDS = re.compile(r"^Retrain finished \((\d+) s")
TIMEOUT = 240.0


@pytest.fixture(scope="module")
def server(fixture_db, tmp_path_factory):
    cache = tmp_path_factory.mktemp("retrain-cache")
    app = AppServer({"LAB_DB": str(fixture_db), "LAB_RETRAIN_CACHE": str(cache),
                     "LAB_MAX_TRAININGS": "2"})
    app.start(timeout=120)
    app.cache = cache
    yield app
    app.stop()


def _page(name: str, **query) -> tuple[str, str]:
    path = study_paths()[name] if name != "sandbox" else "sandbox"
    extra = "&".join(f"{k}={v}" for k, v in query.items())
    return (f"{path}{'&' if '?' in path else '?'}{extra}" if extra else path), titles()[name]


def _trainings(server: AppServer) -> int:
    """Training threads alive in the server (they name themselves retrain-...)."""
    return sum(name.startswith("retrain-") for name, _ in thread_cpu(server.proc.pid).values())


async def _until(cond, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.2)


def test_five_tabs_share_one_retrain_and_all_see_it(server):
    async def main():
        path, title = _page(STUDY, steps=SHORT, rseed=7)
        students = [Student(server.url, f"s{i}") for i in range(5)]
        for s in students:
            await s.connect()
            await s.open(path, title)
        done = [s.watch(FINISHED) for s in students]
        counted = [s.watch(SHARED) for s in students]  # texts of polls before the last run
        await asyncio.gather(*(s.press("Retrain now") for s in students))
        await asyncio.wait_for(asyncio.gather(*done), TIMEOUT)
        seen = [[t for t in s.texts if SECONDS.match(t)] for s in students]
        shared = [f.done() for f in counted]
        warned = [b for s in students for f, b in s.alerts if f in ("WARNING", "ERROR")]
        errors = [e for s in students for e in s.errors]
        for s in students:
            await s.close()
        return seen, shared, warned, errors

    seen, shared, warned, errors = asyncio.run(main())
    assert not warned and not errors, (warned, errors)
    # one job: every tab reports the same training time, and the tabs counted each other
    assert len({SECONDS.match(t[0]).group(1) for t in seen}) == 1, seen
    assert any(shared)  # while it trained, a tab read that others watch the same training
    # one training per configuration: one cached result per arm (3), nothing half-written
    assert sorted(p.suffix for p in server.cache.iterdir()) == [".joblib"] * 3


def test_one_tab_cannot_fill_the_line_and_closing_it_frees_the_server(server):
    async def main():
        flood = Student(server.url, "flood")
        await flood.connect()
        path, title = _page("sandbox", steps=LONG, seed=1000)
        await flood.open(path, title)
        for seed in (1000, 1001, 1002):
            await flood.requery(f"steps={LONG}&seed={seed}", title)
            await flood.press("Train it")
        refusal = [b for f, b in flood.alerts if f == "WARNING"]
        other = Student(server.url, "other")
        await other.connect()
        await other.open(*_page(STUDY, steps=SHORT, rseed=8))
        await other.press("Retrain now")
        queued = [t for t in other.texts if t.startswith(("Queued:", "Training:"))]
        busy = _trainings(server)
        finished = other.watch(FINISHED)
        await flood.close()  # the tab goes: its jobs are abandoned, the other's can start
        await asyncio.wait_for(finished, TIMEOUT)
        await other.close()
        await _until(lambda: _trainings(server) == 0, 60)
        return refusal, queued, busy

    refusal, queued, busy = asyncio.run(main())
    assert len(refusal) == 1 and LIMITED.match(refusal[0]), refusal
    assert "the most one browser tab may have at once" in refusal[0]
    assert queued and queued[0].startswith("Queued: place 1"), queued  # not refused
    assert 1 <= busy <= 2  # the limit held: two slots


def test_clear_cache_resets_nothing_shared(server):
    async def main():
        path, title = _page(STUDY, steps=LONG, rseed=9)
        a, b, rogue = (Student(server.url, n) for n in ("a", "b", "rogue"))
        for s in (a, b, rogue):
            await s.connect()
        await a.open(path, title)
        await a.press("Retrain now")
        await _until(lambda: any(t.startswith("Training: ") for t in a.texts), 60)
        await rogue.open(*_page(STUDY))
        await rogue.clear_cache()
        await asyncio.sleep(1.0)
        await b.open(path, title)  # the same retrain, asked for after the clear
        joined = [t for t in b.texts if t.startswith(("Training:", "Queued:"))]
        busy = _trainings(server)
        for s in (a, b, rogue):
            await s.close()
        await _until(lambda: _trainings(server) == 0, 60)  # abandoned: stopped
        return joined, busy

    joined, busy = asyncio.run(main())
    # b finds a's job running (a second service would have shown no job, or queued a new one)
    assert joined and re.match(r"^Training: \d+% \((\d+) s so far; 2 tabs watch", joined[0]), \
        joined
    assert 1 <= busy <= 2
