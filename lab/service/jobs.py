"""Retrain jobs as the page sees them, and the first-come, first-served training slots.

A `Job` is one retrain shared by every session that asked for the same configs; the
worker thread (lab.service.retrain) writes it, pages poll it. Nothing here imports torch: the
live StepRecorder the job reads from exists only once torch has been imported by training.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from collections.abc import Callable

import pandas as pd

from lab.training.config import RunConfig
from lab.training.results import TABLE_COLUMNS, RunResult

STATES = ("queued", "running", "done", "failed", "cancelled")
ENDED = ("done", "failed", "cancelled")
CURVE_COLUMNS = ("run_id", *TABLE_COLUMNS["curves"])


def job_key(configs: list[RunConfig]) -> tuple[str, ...]:
    """The registry key of a request: its sorted run ids (the order of the arms does not matter)."""
    return tuple(sorted({c.run_id for c in configs}))


class TrainingSlots:
    """At most `limit` trainings (stacks) at once; jobs wait in one line, first come, first served.

    A queued job holds no thread: when a slot frees, the next job in line is started by
    `start(job)` (the service's worker thread). A running job may take idle slots for its
    other stacks while no job waits (take_idle), so one student's retrain uses every core a
    queue does not need.
    """

    def __init__(self, limit: int, start: Callable[[Job], None] | None = None):
        if limit < 1:
            raise ValueError(f"the training limit must be at least 1, got {limit}")
        self.limit = limit
        self._start_job = start or (lambda job: None)
        self._cond = threading.Condition()
        self._line: deque[Job] = deque()
        self._running = 0

    def enter_line(self, job: Job) -> None:
        with self._cond:
            self._line.append(job)
            self._dispatch()

    def _dispatch(self) -> None:
        """Start jobs from the front of the line while slots are free (under the lock)."""
        while self._line and self._running < self.limit:
            job = self._line.popleft()
            self._running += 1
            job._start()  # under the lock: a job is never seen neither queued nor running
            self._start_job(job)

    def remove(self, job: Job) -> bool:
        """Take a queued job out of the line (it will not start); False if it was not queued."""
        with self._cond:
            if job in self._line:
                self._line.remove(job)
                return True
            return False

    def take_idle(self) -> bool:
        """One more slot for a running job, only if one is free and no job is waiting for it."""
        with self._cond:
            if self._line or self._running >= self.limit:
                return False
            self._running += 1
            return True

    def leave(self) -> None:
        with self._cond:
            self._running -= 1
            self._dispatch()
            self._cond.notify_all()

    def position(self, job: Job) -> int | None:
        """1 for the next job to start, 2 for the one after, ...; None if not waiting."""
        with self._cond:
            for i, waiting in enumerate(self._line):
                if waiting is job:
                    return i + 1
            return None

    @property
    def running(self) -> int:
        return self._running

    @property
    def idle(self) -> int:
        """Slots neither in use nor wanted by a waiting job (what take_idle could get)."""
        with self._cond:
            return 0 if self._line else max(0, self.limit - self._running)

    @property
    def waiting(self) -> int:
        return len(self._line)


class Job:
    """One retrain of some configs; read-only for pages, written by the worker thread.

    state: queued -> running -> done | failed | cancelled. A run that diverges is a result
    ("done" with RunResult.status "diverged"); "failed" means the training itself raised;
    "cancelled" that every session watching it had gone (nobody wanted the result).
    `owner` is the session that asked first (its place counts against its own limit);
    `watchers` every session that asked for it or polls it.
    """

    def __init__(self, configs: list[RunConfig], slots: TrainingSlots, todo: list[RunConfig],
                 owner: str | None = None):
        self.configs = list(configs)  # as requested (deduplicated), the order of `results`
        self.key = job_key(configs)
        self.state = "queued"
        self.owner = owner
        self.watchers: set[str | None] = {owner}
        self.dependents: list[Job] = []  # jobs waiting on configs this one trains
        self.error: str | None = None  # one line, no traceback, when state is "failed"
        self.submitted_at = time.time()
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.cached = not todo  # every config came from the retrain cache: nothing trained
        self.todo = list(todo)  # the configs this job trains (the rest came from the cache)
        self._slots = slots
        self._lock = threading.Lock()
        self._finished_event = threading.Event()
        self._total = sum(c.steps for c in todo)  # run-steps to train
        self._done = 0  # run-steps of the stacks already finished
        self._ready: dict[str, RunResult] = {}  # run_id -> result (cached or finished stacks)
        self._live: dict[tuple, tuple] = {}  # stack's run ids -> (snapshot, its StepRecorder)
        self._live_curves: dict[tuple, tuple[int, pd.DataFrame]] = {}  # stack -> (step, curves)

    # what the page polls

    @property
    def results(self) -> list[RunResult] | None:
        """One RunResult per requested config, in request order, once the job is done."""
        if self.state != "done":
            return None
        return [self._ready[c.run_id] for c in self.configs]

    @property
    def progress(self) -> float:
        """Fraction of this job's run-steps trained, 0..1 (1 only when done)."""
        if self.state == "done":
            return 1.0
        with self._lock:
            live = sum(st.step * st.R for st, _ in self._live.values())
            # below 1 until done: the end-of-run analyses still run after the last step
            return min(0.99, (self._done + live) / self._total) if self._total else 0.0

    @property
    def queue_position(self) -> int | None:
        """1 if this job starts next, 2 if one other job is before it, ...; None unless queued."""
        return self._slots.position(self) if self.state == "queued" else None

    @property
    def elapsed(self) -> float:
        """Seconds spent training so far (0 while queued)."""
        if self.started_at is None:
            return 0.0
        return (self.finished_at or time.time()) - self.started_at

    def partial_curves(self) -> pd.DataFrame:
        """Windowed training curves (as stored) of every run trained so far, live runs included.

        Columns: run_id, step, loss, grad_norm, grad_norm_max, clip_frac.
        """
        with self._lock:
            ready, live = list(self._ready.values()), list(self._live.values())
        frames = [r.tables["curves"].assign(run_id=r.run_id) for r in ready if "curves" in r.tables]
        if self.state == "running":
            frames += [self._curves_of_live(*stack) for stack in live]
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame(columns=list(CURVE_COLUMNS))
        return pd.concat(frames, ignore_index=True)[list(CURVE_COLUMNS)]

    def wait(self, timeout: float | None = None) -> bool:
        """Block until done or failed (for tests and scripts; pages poll instead)."""
        return self._finished_event.wait(timeout)

    # what the worker writes

    def _start(self) -> None:
        self.started_at, self.state = time.time(), "running"

    def _advance(self, st, step_recorder) -> None:
        """Progress callback: snapshot the live stack (the worker keeps training meanwhile)."""
        snapshot = dataclasses.replace(st, diverged_at=list(st.diverged_at))
        with self._lock:
            self._live[_stack_key(st)] = (snapshot, step_recorder)

    def _stack_done(self, results: list[RunResult]) -> None:
        with self._lock:
            self._ready.update({r.run_id: r for r in results})
            self._done += sum(r.config.steps for r in results)
            key = tuple(r.run_id for r in results)
            self._live.pop(key, None)
            self._live_curves.pop(key, None)

    def _add_cached(self, results: list[RunResult]) -> None:
        with self._lock:
            self._ready.update({r.run_id: r for r in results})

    def _finish(self, error: str | None = None, cancelled: bool = False) -> None:
        self.finished_at = time.time()
        self.error = error
        self.state = "cancelled" if cancelled else "failed" if error else "done"
        self._finished_event.set()


    def _curves_of_live(self, st, step_recorder) -> pd.DataFrame:
        """StepRecorder.curve of each run at the snapshot's step; one computation per snapshot."""
        cached = self._live_curves.get(_stack_key(st))
        if cached is not None and cached[0] == st.step:
            return cached[1]
        frames = [step_recorder.curve(st, r).assign(run_id=c.run_id)
                  for r, c in enumerate(st.configs)]
        df = pd.concat(frames, ignore_index=True)
        self._live_curves[_stack_key(st)] = (st.step, df)
        return df


def _stack_key(st) -> tuple[str, ...]:
    """A stack in training, by its run ids in stack order (train_stack's result order)."""
    return tuple(c.run_id for c in st.configs)
