"""Ten simultaneous retrain requests against one service: the limit holds, the rest queue,
no config is trained twice, and pages keep rendering meanwhile."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from lab.service import retrain
from lab.training.config import RunConfig

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 2


@pytest.fixture
def counted(monkeypatch):
    """Wrap the service's training: count configs trained (a stack's trainer is made once)
    and stacks advancing at once (a thread advances one stack a block at a time)."""
    seen = {"trained": [], "now": 0, "most": 0}
    lock = threading.Lock()
    make, advance = retrain._trainer, retrain._Task.advance

    def trainer(stack, job, check):
        with lock:
            seen["trained"] += [c.run_id for c in stack]
        return make(stack, job, check)

    def step(task):
        with lock:
            seen["now"] += 1
            seen["most"] = max(seen["most"], seen["now"])
        try:
            return advance(task)
        finally:
            with lock:
                seen["now"] -= 1

    monkeypatch.setattr(retrain, "_trainer", trainer)
    monkeypatch.setattr(retrain._Task, "advance", step)
    return seen


def test_ten_requests_respect_the_limit_and_share_trainings(counted, tmp_path, fixture_db,
                                                            monkeypatch):
    from streamlit.testing.v1 import AppTest

    service = retrain.RetrainService(cache_dir=tmp_path / "cache", max_trainings=LIMIT)
    c = [RunConfig(hidden=4, steps=10, seed=s) for s in range(1, 6)]
    requests = [[c[0]], [c[0]], [c[1]], [c[0], c[1]], [c[2]], [c[3]], [c[2], c[3]], [c[4]],
                [c[4]], [c[1], c[4]]]
    jobs: list = [None] * len(requests)

    def ask(i):
        jobs[i] = service.submit(requests[i])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    positions = {j.queue_position for j in jobs if j.state == "queued"}

    # a page renders while the trainings run
    monkeypatch.setenv("LAB_DB", str(fixture_db))
    t0 = time.perf_counter()
    page = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=120).run()
    render_s = time.perf_counter() - t0
    busy_during_render = service.running
    assert not page.exception

    for j in jobs:
        assert j.wait(timeout=300), "a retrain did not finish"
    assert all(j.state == "done" for j in jobs), [j.error for j in jobs]
    assert counted["most"] <= LIMIT, "more trainings ran at once than the limit"
    assert sorted(counted["trained"]) == sorted(x.run_id for x in c), "a config trained twice"
    assert positions - {None} and min(positions - {None}) == 1, "queued jobs show their place"
    by_id = {}
    for j in jobs:
        for r in j.results:
            by_id.setdefault(r.run_id, r.final_val_loss)
            assert r.final_val_loss == by_id[r.run_id]
    print(f"Home rendered in {render_s:.2f} s with {busy_during_render} trainings running")
