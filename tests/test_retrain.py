"""The retrain service: same engine, shared jobs, a queue, a disk cache, bounded requests.

Trainings here are tiny (20 steps, H<=8) or diverge at once; one real retrain is shared
by the tests that need finished numbers.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lab.service import retrain
from lab.service.retrain import (
    RETRAIN_MAX_RUNS,
    RETRAIN_MAX_STEPS,
    RetrainService,
    compare_with_stored,
    split_for,
    validate_request,
)
from lab.training.config import RunConfig
from lab.training.results import RunResult

ROOT = Path(__file__).resolve().parent.parent
TANH = RunConfig(hidden=8, steps=20, clip=5.0)  # clip 5: the relu run must not diverge
RELU = TANH.replace(activation="relu")


def diverging(seed: int = 42) -> RunConfig:
    """Identity activation at lr=1.0 explodes within a step or two: a fast real training."""
    return RunConfig(hidden=6, steps=20, activation="identity", lr=1.0, seed=seed)


def count_trainings(monkeypatch, gate: threading.Event | None = None) -> list:
    """Wrap the engine's StackTrainer (every stack trained, by the service or train_stack):
    record each stack, and hold the first until `gate` is set."""
    from lab.training import engine

    real, calls = engine.StackTrainer, []

    def counted(configs, *args, **kwargs):
        calls.append([c.run_id for c in configs])
        if gate is not None and len(calls) == 1:
            assert gate.wait(60)
        return real(configs, *args, **kwargs)

    monkeypatch.setattr(engine, "StackTrainer", counted)
    return calls


@pytest.fixture(scope="module")
def retrained(tmp_path_factory):
    """One real retrain of two arms through a service: (service, job, progress seen)."""
    service = RetrainService(tmp_path_factory.mktemp("retrain-cache"))
    job = service.submit([TANH, RELU])
    seen = []
    while not job.wait(0.05):
        seen.append(job.progress)
    assert job.state == "done", job.error
    return service, job, seen


def test_import_does_not_import_torch():
    code = "import lab.service.retrain, lab.service.jobs, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_retrain_completes_with_progress_and_run_ids(retrained):
    _, job, seen = retrained
    assert job.progress == 1.0 and job.error is None
    assert seen == sorted(seen) and all(0 <= p < 1 for p in seen)  # 1.0 only once done
    assert [r.run_id for r in job.results] == [TANH.run_id, RELU.run_id]  # request order
    assert job.started_at <= job.finished_at and job.elapsed > 0
    curves = job.partial_curves()
    assert set(curves["run_id"]) == {TANH.run_id, RELU.run_id}
    assert list(curves.columns) == ["run_id", "step", "loss", "grad_norm", "grad_norm_max",
                                    "clip_frac"]


def test_retrained_numbers_equal_a_direct_train_stack(retrained):
    from lab.training.engine import train_stack

    _, job, _ = retrained
    direct = {r.run_id: r for r in train_stack([TANH, RELU])}
    for r in job.results:
        d = direct[r.run_id]
        assert r.final_val_loss == d.final_val_loss and r.weights == d.weights
        assert r.tables["curves"].equals(d.tables["curves"])
        assert r.tables["checkpoints"].equals(d.tables["checkpoints"])
        stored = {"run_id": d.run_id, "final_val_loss": d.final_val_loss, "status": d.status}
        assert compare_with_stored(r, stored)["equal"]


def test_a_second_service_serves_the_cache_without_training(retrained, monkeypatch):
    service, job, _ = retrained
    calls = count_trainings(monkeypatch)
    again = RetrainService(service.cache.location).submit([RELU, TANH])
    assert again.state == "done" and again.cached and calls == []
    assert [r.weights for r in again.results] == [job.results[1].weights, job.results[0].weights]
    # a page shows a cached retrain without torch
    code = (f"import sys; from lab.service.retrain import RetrainService;"
            f" from lab.training.config import RunConfig;"
            f"j = RetrainService({str(service.cache.location)!r}).submit("
            f"[RunConfig.from_json({TANH.to_json()!r})]);"
            "assert j.state == 'done' and j.cached and len(j.partial_curves()), j.state;"
            "assert 'torch' not in sys.modules, [m for m in sys.modules if 'torch' in m][:5]")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_same_configs_from_two_sessions_share_one_training(tmp_path, monkeypatch):
    calls = count_trainings(monkeypatch)
    service, barrier, jobs = RetrainService(tmp_path), threading.Barrier(2), []

    def session():
        barrier.wait()
        jobs.append(service.submit([diverging(1), diverging(2)]))

    threads = [threading.Thread(target=session) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert jobs[0] is jobs[1]
    assert jobs[0].wait(120) and jobs[0].state == "done"
    assert service.submit([diverging(2), diverging(1)]) is jobs[0]  # order does not matter
    # one training of each config (the job may split its stack over the idle slots)
    assert sorted(sum(calls, [])) == sorted([diverging(1).run_id, diverging(2).run_id])


def test_one_training_at_a_time_the_others_queued_in_order(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_MAX_TRAININGS", "1")
    gate = threading.Event()
    calls = count_trainings(monkeypatch, gate)
    service = RetrainService(tmp_path)
    first = service.submit([diverging(1)])
    deadline = time.time() + 60
    while first.state != "running" and time.time() < deadline:
        time.sleep(0.01)
    second, third = service.submit([diverging(2)]), service.submit([diverging(3)])
    assert first.state == "running" and first.queue_position is None
    assert (second.state, second.queue_position) == ("queued", 1)
    assert (third.state, third.queue_position) == ("queued", 2)
    gate.set()
    jobs, most_running = (first, second, third), 0
    while not all(j.state in ("done", "failed") for j in jobs) and time.time() < deadline + 120:
        most_running = max(most_running, sum(j.state == "running" for j in jobs))
        time.sleep(0.005)
    assert most_running == 1 and len(calls) == 3
    assert all(j.state == "done" for j in jobs)
    assert first.finished_at <= second.started_at and second.finished_at <= third.started_at


def test_validate_request_rejects_bad_inputs():
    many = [TANH.replace(seed=s) for s in range(RETRAIN_MAX_RUNS + 1)]
    bad_requests = [
        ([], "non-empty"), (TANH, "list"), ([TANH, {"hidden": 8}], "not a RunConfig"),
        ([TANH.replace(steps=RETRAIN_MAX_STEPS + 1)], "at most 30,000 steps"),
        (many, f"at most {RETRAIN_MAX_RUNS} runs"),
    ]
    for bad, words in bad_requests:
        with pytest.raises(ValueError, match=words):
            validate_request(bad)
    assert validate_request([TANH, TANH, RELU]) == [TANH, RELU]


def test_a_bad_training_limit_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_MAX_TRAININGS", "two")
    with pytest.raises(ValueError, match="LAB_MAX_TRAININGS must be a positive integer"):
        RetrainService(tmp_path)


def test_a_diverging_retrain_is_a_result_not_a_failure(tmp_path):
    job = RetrainService(tmp_path).submit([diverging()])
    assert job.wait(120)
    assert job.state == "done" and job.error is None
    (result,) = job.results
    assert result.status == "diverged" and result.diverged_at is not None


def test_a_failing_training_gives_one_line_and_is_retried(tmp_path, monkeypatch):
    from lab.training import engine

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory\nwith a second line")

    monkeypatch.setattr(engine, "StackTrainer", broken)
    service = RetrainService(tmp_path)
    job = service.submit([diverging()])
    assert job.wait(60) and job.state == "failed" and job.results is None
    assert job.error == "the retrain failed: RuntimeError: out of memory"
    assert service.submit([diverging()]) is not job  # a failed job is not served again


def test_compare_with_stored():
    def result(val, status="ok"):
        return RunResult(TANH, status, 1.0, val, 100, 0.1)

    same = compare_with_stored(result(2.5), {"run_id": TANH.run_id, "final_val_loss": 2.5})
    assert same["equal"] and same["difference"] == 0.0
    off = compare_with_stored(result(2.5), {"run_id": TANH.run_id, "final_val_loss": 2.25})
    assert not off["equal"] and off["difference"] == 0.25
    nan = float("nan")
    assert compare_with_stored(result(nan, "diverged"), {"final_val_loss": None})["equal"]
    with pytest.raises(ValueError, match="not the retrained config"):
        compare_with_stored(result(2.5), {"run_id": RELU.run_id, "final_val_loss": 2.5})


def test_exiting_mid_retrain_stops_the_training_cleanly(tmp_path):
    """A server that exits while a retrain trains (Ctrl-C, a redeploy) exits cleanly: the
    worker stops at its next progress report instead of running inside torch while the
    interpreter tears torch down (which aborts with exit code 134)."""
    code = (
        "import sys, time\n"
        "from lab.studies.catalog import arm\n"
        "from lab.service.retrain import RetrainService\n"
        "svc = RetrainService(cache_dir=sys.argv[1], max_trainings=1)\n"
        "job = svc.submit([arm('initialization', 'orthogonal').config(42, 30000)])\n"
        "while job.progress <= 0:\n"
        "    time.sleep(0.05)\n"
        "print('training', flush=True)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "training"
    assert "terminate called" not in done.stderr and "Traceback" not in done.stderr
    assert not list(tmp_path.rglob("*.joblib")), "a stopped training cached a result"


def test_a_jobs_stacks_train_at_once_on_idle_slots(tmp_path, monkeypatch):
    """Two shapes, two slots: the job's two stacks train at the same time; with one slot,
    one after the other."""
    seen, lock, real = {"now": 0, "most": 0}, threading.Lock(), retrain._Task.advance

    def advance(task):
        with lock:
            seen["now"] += 1
            seen["most"] = max(seen["most"], seen["now"])
        try:
            time.sleep(0.3)  # long enough for the other stack to start meanwhile
            return real(task)
        finally:
            with lock:
                seen["now"] -= 1

    monkeypatch.setattr(retrain._Task, "advance", advance)
    two_shapes = [diverging(1), diverging(2).replace(hidden=4)]
    for limit, most in ((1, 1), (2, 2)):
        seen["most"] = 0
        job = RetrainService(tmp_path / str(limit), max_trainings=limit).submit(two_shapes)
        assert job.wait(120) and job.state == "done", job.error
        assert seen["most"] == most and job.progress == 1.0
        assert {r.run_id for r in job.results} == {c.run_id for c in two_shapes}


def test_split_for_halves_the_biggest_stack_for_idle_workers():
    five = [TANH.replace(seed=s) for s in range(5)]
    assert [len(s) for s in split_for([five], 1)] == [5]
    # one stack more than workers, so the scheduler keeps both cores busy to the end
    assert [len(s) for s in split_for([five], 2)] == [2, 2, 1]
    assert [len(s) for s in split_for([five, [RELU]], 2)] == [3, 2, 1]
    assert [len(s) for s in split_for([five, [RELU], [RELU.replace(seed=9)]], 2)] == [5, 1, 1]
    assert [len(s) for s in split_for([[TANH], [RELU]], 4)] == [1, 1]  # single runs stay whole
    big_single = [TANH.replace(hidden=8, seq_len=50)]  # costlier than the pair, not split
    assert sorted(len(s) for s in split_for([big_single, [TANH, RELU]], 3)) == [1, 1, 1]
    split = split_for([five], 3)
    assert sorted(c.run_id for s in split for c in s) == sorted(c.run_id for c in five)
