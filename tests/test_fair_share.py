"""The retrain service shared by a class: a per-session limit, a capped line with clear
refusals, no thread for a queued job, and jobs that stop when every watcher has gone."""

from __future__ import annotations

import threading
import time

import pytest
from test_retrain import count_trainings, diverging

from lab.service import retrain
from lab.service.retrain import RETRAIN_PER_SESSION, RetrainBusy, RetrainService


def _until(cond, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture()
def held(tmp_path, monkeypatch):
    """A one-slot service whose first training waits for the returned gate."""
    monkeypatch.setenv("LAB_MAX_TRAININGS", "1")
    gate = threading.Event()
    calls = count_trainings(monkeypatch, gate)
    service = RetrainService(tmp_path)
    yield service, gate, calls
    gate.set()


def _retrain_threads() -> int:
    return sum(t.name.startswith("retrain-") for t in threading.enumerate())


def test_one_session_cannot_fill_the_line(held):
    service, gate, _ = held
    mine = [service.submit([diverging(s)], "tab-a") for s in range(RETRAIN_PER_SESSION)]
    with pytest.raises(RetrainBusy, match=f"already have {RETRAIN_PER_SESSION} retrains"):
        service.submit([diverging(100)], "tab-a")
    other = service.submit([diverging(200)], "tab-b")  # another student still gets in
    assert other.state in ("queued", "running")
    assert service.submit([diverging(0)], "tab-c") is mine[0]  # joining a job costs no place
    gate.set()
    _until(lambda: all(j.state == "done" for j in [*mine, other]))
    assert service.submit([diverging(100)], "tab-a").state in ("queued", "running", "done")


def test_a_full_line_is_refused_with_its_length(held, monkeypatch):
    service, gate, _ = held
    monkeypatch.setattr(retrain, "RETRAIN_MAX_WAITING", 2)
    jobs = [service.submit([diverging(s)], f"tab-{s}") for s in range(3)]  # 1 runs, 2 wait
    _until(lambda: jobs[0].state == "running")
    with pytest.raises(RetrainBusy, match="2 retrains are waiting and 1 training"):
        service.submit([diverging(9)], "tab-9")


def test_a_queued_job_holds_no_thread(held):
    service, gate, _ = held
    first = service.submit([diverging(1)], "tab-1")
    _until(lambda: first.state == "running")
    before = _retrain_threads()
    queued = [service.submit([diverging(s)], f"tab-{s}") for s in range(2, 8)]
    assert all(j.state == "queued" for j in queued)
    assert _retrain_threads() == before  # six jobs in line, no new thread
    gate.set()
    _until(lambda: all(j.state == "done" for j in queued))
    _until(lambda: _retrain_threads() == 0)


def test_a_closed_tab_frees_its_place_and_its_queued_job(held):
    service, gate, _ = held
    gone: set[str] = set()
    service.alive = lambda s: s not in gone
    first = service.submit([diverging(1)], "tab-1")
    queued = service.submit([diverging(2)], "tab-2")
    shared = service.submit([diverging(3)], "tab-3")
    service.job([diverging(3)], "tab-4")  # a second watcher of the third job
    gone.update({"tab-2", "tab-3"})
    service.submit([diverging(5)], "tab-5")  # any request sweeps the line
    assert queued.state == "cancelled" and shared.state == "queued"  # tab-4 still watches
    assert service.submit([diverging(2)], "tab-2b") is not queued  # asked again: trained anew
    gate.set()
    _until(lambda: shared.state == "done" and first.state == "done")


def test_an_abandoned_training_stops_and_its_thread_ends(tmp_path, monkeypatch):
    monkeypatch.setattr(retrain, "ABANDON_CHECK_S", 0.0)
    service = RetrainService(tmp_path)
    gone: set[str] = set()
    service.alive = lambda s: s not in gone
    from lab.training.config import RunConfig

    long = RunConfig(hidden=8, steps=30_000, seed=7)
    job = service.submit([long], "tab-1")
    _until(lambda: job.state == "running" and job.progress > 0)
    gone.add("tab-1")
    _until(lambda: job.state == "cancelled", timeout=30)
    _until(lambda: _retrain_threads() == 0, timeout=30)
    assert service.running == 0 and "left" in job.error
