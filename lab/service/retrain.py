"""The "retrain now" service: a page's configs trained in a background thread, same engine.

One `RetrainService` per server process (the app holds it in a module of its own, out of
reach of Streamlit's "clear cache" message, which would otherwise start a second service
beside the first and lift the limit):
- dedup: a registry keyed by the request's sorted run ids, under a lock, so sessions
  asking for the same configs get the same Job and share one training;
- cache: finished runs are written with joblib, one file per config named by its run_id
  (which includes the engine version), so a config trained before comes back at once.
  There are no locks across processes: two server processes sharing a cache dir could both
  train one config; both then write the same numbers, so that only costs time (acceptable);
- a global limit: at most LAB_MAX_TRAININGS threads train at once (default 2, one per core),
  jobs queued first come, first served with their place in line, holding no thread until
  they start; at most RETRAIN_PER_SESSION jobs queued or running per session, at most
  RETRAIN_MAX_WAITING in line in all, each refusal a RetrainBusy with a clear message;
- abandonment: a job that every watching session has left (service.alive says which are
  still connected) is taken out of the line, or stops at its next progress report; a job
  training a config that another live job waits for is not abandoned. A job's stacks (a study's
  arms of different shapes, or of one shape split) train on its slot and on the slots no
  waiting job needs, each thread advancing the free stack with the most work left a block
  of BLOCK_STEPS at a time (engine.StackTrainer).
Torch is imported by the worker thread when a training starts, never by importing this.
Each training uses one torch thread (engine.StackTrainer sets it, process-wide: in the app's
server only retrains use torch), so LAB_MAX_TRAININGS is also how many cores retrains
take. Threads by default: the engine's steps run in TorchScript, outside the GIL, and each
worker process holds a torch of its own (LAB_RETRAIN_ADDRESS=process: 1.4 GB against 0.67 GB
for a class's retrain; docs/performance.md). With LAB_RETRAIN_ADDRESS set, the same threads
only hand each block of steps to the worker processes or to a Dask or Ray cluster
(remote.py), and LAB_MAX_TRAININGS is how many stacks this server keeps there at once.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import joblib

from lab.service.jobs import ENDED, Job, TrainingSlots, job_key
from lab.service.remote import Cluster
from lab.studies.catalog import ARMS
from lab.training.config import RunConfig, validate
from lab.training.results import RunResult
from lab.training.stacks import make_tasks, stack_cost

log = logging.getLogger(__name__)

RETRAIN_MAX_STEPS = 30_000  # the baseline's length: a retrain is never longer than a stored run
# the most arms of any study page (clipping, learning rate); the grid retrains one cell
RETRAIN_MAX_RUNS = max(len(arms) for study, arms in ARMS.items() if study != "grid")
RETRAIN_MAX_WAITING = 20  # jobs in line beyond this are refused: the server is saturated
RETRAIN_PER_SESSION = 2  # a session's own jobs queued or running: one tab cannot take the line
KEEP_FINISHED = 64  # finished jobs kept in the registry (the disk cache keeps them all)
PROGRESS_EVERY = 10  # steps between progress snapshots
BLOCK_STEPS = 500  # a thread advances one stack this many steps (0.2 to 2 s), then picks again
# training threads yield a core to page renders (os.setpriority): at nice 10 a render
# thread sharing a core with a training thread gets ~90% of it (CFS weights 1024 vs 110),
# at nice 2 only ~60%. Nice only ranks threads of this machine (a Community Cloud
# container's CPU limit is per container), and idle cycles still all go to training.
RETRAIN_NICE = 10
DEFAULT_CACHE = Path.home() / ".cache" / "rnn-lab" / "retrain"


# Worker threads are daemons, so a page never waits on them; but a daemon thread still inside
# torch when the interpreter tears torch down aborts the process ("terminate called without
# an active exception", exit code 134). At exit, stop them at their next progress report.
_STOPPING = threading.Event()
_WORKERS: set[threading.Thread] = set()
STOP_GRACE_S = 30.0  # at exit, how long to wait for trainings to reach a progress report


class RetrainStopped(RuntimeError):
    """Raised inside a training when the process is exiting."""


class RetrainCancelled(RuntimeError):
    """Raised inside a training when every session watching its job has gone."""


def _give_memory_back() -> None:
    """Return the freed heap of a finished retrain to the OS (glibc's malloc_trim): a
    training thread's arena keeps its tensors' freed buffers otherwise, and a Community
    Cloud container has about 690 MB. A no-op off glibc."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


SERVER_ARENAS = 2  # glibc malloc arenas the server's threads share (M_ARENA_MAX)
# how long a thread may hold the GIL while another waits for it: a training step holds it
# only between its TorchScript calls, and at Python's default (5 ms) a page script of a
# watching tab kept each step waiting (thirty tabs: the retrain took twice as long)
GIL_SWITCH_S = 0.001


def _share_arenas() -> None:
    """Let the training threads share glibc's existing malloc arenas instead of each taking a
    new one (up to 8 per core by default) that keeps its freed tensor buffers: measured with
    the server started under MALLOC_ARENA_MAX=2, ten 3,000-step retrains left it at 542 MB
    instead of 692 MB. The environment variable must be set before the process starts, which
    a Community Cloud app cannot do; mallopt applies from now on, before any training thread
    exists. A no-op off glibc."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(-8, SERVER_ARENAS)  # -8: M_ARENA_MAX


def _stop_if_exiting() -> None:
    if _STOPPING.is_set():
        raise RetrainStopped("the server is shutting down")


@atexit.register
def _stop_workers() -> None:
    _STOPPING.set()
    for t in list(_WORKERS):
        t.join(STOP_GRACE_S)


class RetrainBusy(RuntimeError):
    """Too many retrains are already waiting; the page asks the student to try again later."""


def validate_request(configs) -> list[RunConfig]:
    """The configs of a request, deduplicated in order; ValueError with a clear message if bad."""
    if not isinstance(configs, list | tuple) or not configs:
        raise ValueError("a retrain needs a non-empty list of RunConfig")
    for i, c in enumerate(configs):
        if not isinstance(c, RunConfig):
            raise ValueError(f"item {i} of the retrain request is a {type(c).__name__}, "
                             "not a RunConfig")
        validate(c)  # frozen, but object.__setattr__ exists: check the knobs again
        if c.steps > RETRAIN_MAX_STEPS:
            raise ValueError(f"a retrain runs at most {RETRAIN_MAX_STEPS:,} steps, "
                             f"asked for {c.steps:,}")
    unique = list({c.run_id: c for c in configs}.values())
    if len(unique) > RETRAIN_MAX_RUNS:
        raise ValueError(f"a retrain trains at most {RETRAIN_MAX_RUNS} runs at once, "
                         f"asked for {len(unique)}")
    return unique


def compare_with_stored(result: RunResult, stored_row: dict) -> dict:
    """The retrain beside the stored run of the same config: final held-out losses and their gap.

    `equal` is exact equality (same config and seed give the same numbers; two diverged
    runs, both NaN, are equal); `difference` is retrained - stored.
    """
    stored_id = stored_row.get("run_id", result.run_id)
    if stored_id != result.run_id:
        raise ValueError(f"stored run {stored_id} is not the retrained config {result.run_id}")
    stored = _as_float(stored_row.get("final_val_loss"))
    retrained = _as_float(result.final_val_loss)
    both_nan = math.isnan(stored) and math.isnan(retrained)
    return {
        "run_id": result.run_id,
        "stored_final_val_loss": stored,
        "retrained_final_val_loss": retrained,
        "equal": both_nan or stored == retrained,
        "difference": retrained - stored,
        "stored_status": stored_row.get("status"),
        "retrained_status": result.status,
    }


def _as_float(x) -> float:
    return float("nan") if x is None else float(x)


def _env_limit() -> int:
    raw = os.environ.get("LAB_MAX_TRAININGS", "2")
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if limit < 1:
        raise ValueError(f"LAB_MAX_TRAININGS must be a positive integer, got {raw!r}")
    return limit


class RetrainCache:
    """Finished retrains on disk: one joblib file per config, named by its run_id.

    Written to a temporary name and renamed into place, so a reader (another session or
    server process) sees a whole result or none. The run_id includes the engine version,
    so results of an older engine are never served for a newer one.
    """

    def __init__(self, location: Path):
        self.location = Path(location)

    def _path(self, run_id: str) -> Path:
        return self.location / f"{run_id}.joblib"

    def load(self, cfg: RunConfig) -> RunResult | None:
        path = self._path(cfg.run_id)
        if not path.exists():
            return None
        try:
            result = joblib.load(path)
        except Exception:  # a damaged entry is a miss: the config is trained again
            log.warning("unreadable retrain cache entry %s", path)
            return None
        return result if isinstance(result, RunResult) and result.run_id == cfg.run_id else None

    def save(self, result: RunResult) -> None:
        self.location.mkdir(parents=True, exist_ok=True)
        tmp = self._path(result.run_id).with_suffix(f".{os.getpid()}.{threading.get_ident()}")
        joblib.dump(result, tmp)
        os.replace(tmp, self._path(result.run_id))


class RetrainService:
    """The process-wide job registry, cache and training slots; safe to call from any session."""

    def __init__(self, cache_dir: Path | str | None = None, max_trainings: int | None = None,
                 address: str | None = None):
        cache_dir = cache_dir or os.environ.get("LAB_RETRAIN_CACHE") or DEFAULT_CACHE
        address = address or os.environ.get("LAB_RETRAIN_ADDRESS")
        # where the steps run: this server's threads, or a cluster's workers (remote.py)
        limit = max_trainings or _env_limit()
        self.cluster = Cluster(address, workers=limit) if address else None
        _share_arenas()  # before the first training thread
        sys.setswitchinterval(GIL_SWITCH_S)
        self.cache = RetrainCache(Path(cache_dir))
        self.slots = TrainingSlots(limit, start=self._start)
        # session id -> still connected? (the app passes Streamlit's; scripts: always)
        self.alive: Callable[[str], bool] = lambda session: True
        self._jobs: dict[tuple[str, ...], Job] = {}
        self._training: dict[str, Job] = {}  # run_id -> the job training that config now
        self._lock = threading.Lock()

    def submit(self, configs: list[RunConfig], session: str | None = None) -> Job:
        """The job for these configs: the one already asked for, a done one from the cache,
        or a new one queued for training, watched by `session`. Raises ValueError (bad
        request) or RetrainBusy (this session's limit, or the line, is full)."""
        configs = validate_request(configs)
        key = job_key(configs)
        with self._lock:
            self._drop_abandoned()
            job = self._jobs.get(key)
            if job is not None and job.state not in ("failed", "cancelled"):  # else retried
                job.watchers.add(session)
                return job
            cached = {c.run_id: r for c in configs if (r := self.cache.load(c)) is not None}
            todo = [c for c in configs if c.run_id not in cached]
            if todo:
                self._check_room(session)
            job = Job(configs, self.slots, todo, owner=session)
            job._add_cached(list(cached.values()))
            self._jobs[key] = job
            if todo:
                self.slots.enter_line(job)  # starts it now if a slot is free
            else:
                job._finish()
            self._forget_old()
        return job

    def _check_room(self, session: str | None) -> None:
        """RetrainBusy if this session already has its share of jobs, or the line is full."""
        mine = [j for j in self._jobs.values()
                if session is not None and j.owner == session and j.state in ("queued", "running")]
        if len(mine) >= RETRAIN_PER_SESSION:
            raise RetrainBusy(
                f"You already have {len(mine)} retrains queued or running, the most one "
                f"browser tab may have at once (so one tab cannot fill the line for the "
                f"class). Ask again when one of them has finished.")
        if self.slots.waiting >= RETRAIN_MAX_WAITING:
            raise RetrainBusy(
                f"The server's line is full: {self.slots.waiting} retrains are waiting and "
                f"{self.slots.running} training. Please try again in a few minutes; the "
                "stored runs on this page are the same training, finished.")

    def job(self, configs: list[RunConfig], session: str | None = None) -> Job | None:
        """The job already registered for these configs, if any (never starts one); a
        session that asks is counted as watching it."""
        with self._lock:
            job = self._jobs.get(job_key(validate_request(configs)))
            if job is not None and session is not None:
                job.watchers.add(session)
            return job

    def abandoned(self, job: Job) -> bool:
        """True when no session watching this job, or a job waiting on its trainings, is
        still connected (a script's job, session None, is always wanted)."""
        watchers = set(job.watchers).union(*(d.watchers for d in job.dependents
                                             if d.state in ("queued", "running")))
        return not any(w is None or self.alive(w) for w in watchers)

    def watching(self, job: Job) -> int:
        """How many connected tabs watch this job (scripts' requests not counted)."""
        return sum(w is not None and self.alive(w) for w in list(job.watchers))

    def _drop_abandoned(self) -> None:
        """Take abandoned jobs out of the line (under self._lock); running ones stop
        themselves at their next progress report."""
        for job in list(self._jobs.values()):
            if job.state == "queued" and self.abandoned(job) and self.slots.remove(job):
                job._finish(error="nobody was watching it", cancelled=True)

    def _start(self, job: Job) -> None:
        """TrainingSlots' start: a worker thread for a job whose turn has come."""
        _start_worker(self._work, job, job.todo, name=job.key[0][:8])

    @property
    def running(self) -> int:
        return self.slots.running

    @property
    def waiting(self) -> int:
        return self.slots.waiting

    def _work(self, job: Job, todo: list[RunConfig]) -> None:
        """The worker thread, on the slot the job was given: train stack by stack, cache,
        finish. No Streamlit."""
        mine: list[RunConfig] = []
        try:
            _stop_if_exiting()
            self._stop_if_abandoned(job)
            mine, theirs = self._claim(job, todo)
            self._train_stacks(job, split_for(make_tasks(mine), self.slots.idle + 1))
            self._stop_if_abandoned(job)
            for cfg, owner in theirs:  # configs another job was already training: share them
                owner.wait()
                result = owner._ready.get(cfg.run_id) or self.cache.load(cfg)
                if result is None:
                    raise RuntimeError(f"the shared training of run {cfg.run_id} failed")
                job._add_cached([result])
        except RetrainStopped as e:  # the process is exiting: nothing went wrong
            job._finish(error=str(e))
        except RetrainCancelled as e:
            job._finish(error=str(e), cancelled=True)
        except Exception as e:  # the page shows one line; the log keeps the traceback
            log.exception("retrain %s failed", job.key)
            job._finish(error=_one_line(e))
        else:
            job._finish()
        finally:
            with self._lock:
                for cfg in mine:
                    self._training.pop(cfg.run_id, None)
            self.slots.leave()
            _WORKERS.discard(threading.current_thread())
            _give_memory_back()

    def _train_stacks(self, job: Job, stacks: list[list[RunConfig]]) -> None:
        """Train a job's stacks in this thread, on the job's slot, and in helper threads on
        idle slots (TrainingSlots.take_idle). Each thread advances the stack with the most
        work left that no other thread holds, BLOCK_STEPS at a time, so the cores finish
        together: five runs of one shape as 2 + 2 + 1 take 2.5 runs' time per core, not the
        3 of a 3 + 2 split. The first error is raised."""
        tasks = [_Task(stack, job, self._stop_if_abandoned, self.cluster) for stack in stacks]
        lock, errors, helpers = threading.Lock(), [], []

        def take() -> _Task | None:
            with lock:
                free = [t for t in tasks if not t.done and not t.held] if not errors else []
                if not free:
                    return None
                task = max(free, key=lambda t: t.left(tasks))
                task.held = True
                return task

        def work(helper: bool) -> None:
            try:
                while (task := take()) is not None:
                    if not helper:  # more stacks free than threads: use idle cores
                        while sum(not t.done and not t.held for t in tasks) > \
                                sum(h.is_alive() for h in helpers) and self.slots.take_idle():
                            helpers.append(_start_worker(work, True, name=f"{job.key[0][:8]}+"))
                    try:
                        finished = task.advance()
                    finally:
                        with lock:
                            task.held = False
                    if finished:
                        results = task.trainer.results()
                        for r in results:
                            self._save(r)
                        job._stack_done(results)
                    if helper and self.slots.waiting:
                        break  # a queued job gets this core next
            except BaseException as e:  # noqa: BLE001  (re-raised by the job's thread)
                with lock:
                    errors.append(e)
            finally:
                if helper:
                    self.slots.leave()
                    _WORKERS.discard(threading.current_thread())

        while True:  # until every stack is done (a helper may leave for a queued job)
            work(helper=False)
            for t in helpers:
                t.join()
            if errors:
                raise errors[0]
            if all(t.done for t in tasks):
                return

    def _claim(self, job: Job, todo: list[RunConfig]):
        """Split todo into configs this job trains and (config, job) pairs already in training
        elsewhere, so overlapping requests (two pages share the baseline) train a config once."""
        mine, theirs = [], []
        with self._lock:
            for cfg in todo:
                if (done := self.cache.load(cfg)) is not None:  # finished while we queued
                    job._add_cached([done])
                elif (owner := self._training.get(cfg.run_id)) is not None:
                    owner.dependents.append(job)  # its training is wanted while we are
                    theirs.append((cfg, owner))
                else:
                    self._training[cfg.run_id] = job
                    mine.append(cfg)
        return mine, theirs

    def _stop_if_abandoned(self, job: Job) -> None:
        if self.abandoned(job):
            raise RetrainCancelled("stopped: every student watching it had left")

    def _save(self, result: RunResult) -> None:
        try:
            self.cache.save(result)
        except Exception:  # a full or read-only disk costs the cache, not the result
            log.exception("could not cache retrain %s", result.run_id)

    def _forget_old(self) -> None:
        """Drop the oldest finished jobs beyond KEEP_FINISHED (sessions holding them keep them)."""
        finished = [j for j in self._jobs.values() if j.state in ENDED]
        finished.sort(key=lambda j: j.finished_at or 0.0)
        for j in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._jobs[j.key]


def split_for(stacks: list[list[RunConfig]], workers: int) -> list[list[RunConfig]]:
    """Halve the biggest stacks until there is one more than workers (or only single runs
    are left), so the scheduler can keep every core busy to the end (five runs of one
    shape on two cores: 2 + 2 + 1); with one worker, keep them whole. A run trained in a
    stack equals the run trained alone, so this changes the time, never the numbers."""
    stacks = list(stacks)
    want = workers + 1 if workers > 1 else 1
    while len(stacks) < want and any(len(s) > 1 for s in stacks):
        big = max((s for s in stacks if len(s) > 1), key=stack_cost)
        stacks.remove(big)
        half = (len(big) + 1) // 2
        stacks += [big[:half], big[half:]]
    return sorted(stacks, key=stack_cost, reverse=True)


class _Task:
    """A stack of a job, trained BLOCK_STEPS at a time by whichever thread takes it."""

    def __init__(self, configs: list[RunConfig], job: Job, check: Callable[[Job], None],
                 cluster: Cluster | None = None):
        self.configs, self.job, self.check, self.cluster = configs, job, check, cluster
        self.trainer = None  # made by the first thread that takes it (imports torch)
        self.held = self.done = False

    def advance(self) -> bool:
        if self.trainer is None:
            self.trainer = _trainer(self.configs, self.job, self.check)
        if self.cluster is None:
            self.done = self.trainer.advance(BLOCK_STEPS)
            return self.done
        progress = self.trainer.progress  # the trainer travels without it
        self.trainer = self.cluster.advance(self.trainer, BLOCK_STEPS)
        self.trainer.progress = progress
        progress(self.trainer.st)  # the job's progress and curves, once per block
        self.done = self.trainer.done
        return self.done

    def left(self, tasks: list[_Task]) -> float:
        """Work left, in seconds once measured; before that, stack_cost scaled by what the
        measured tasks took per unit of it (all in stack_cost units if none is measured)."""
        if self.trainer is not None and self.trainer.st.step > 0:
            return self.trainer.busy / self.trainer.st.step * self.trainer.steps_left
        seen = [t for t in tasks if t.trainer is not None and t.trainer.st.step > 0]
        scale = sum(t.trainer.busy / t.trainer.st.step for t in seen) / sum(
            stack_cost(t.configs) / t.configs[0].steps for t in seen) if seen else 1.0
        return stack_cost(self.configs) * scale


def _start_worker(target, *args, name: str) -> threading.Thread:
    """A daemon thread registered for the clean stop at exit, at a lower CPU priority."""
    worker = threading.Thread(target=_niced, args=(target, *args), daemon=True,
                              name=f"retrain-{name}")
    _WORKERS.add(worker)
    worker.start()
    return worker


def _niced(target, *args) -> None:
    """Run target(*args) at nice RETRAIN_NICE: when a page renders while both cores train,
    the OS gives the render its core first (Linux: per thread; elsewhere a no-op)."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), RETRAIN_NICE)
    with contextlib.suppress(OSError, AttributeError):  # its name in top -H and /proc
        ctypes.CDLL("libc.so.6").prctl(15, threading.current_thread().name[:15].encode())
    target(*args)


ABANDON_CHECK_S = 1.0  # how often a training asks whether anyone still watches its job


def _trainer(stack: list[RunConfig], job: Job, check: Callable[[Job], None]):
    """One stack as an engine.StackTrainer with the default recorders, reporting to `job`;
    `check(job)` raises to stop it (every watcher gone), asked at most every ABANDON_CHECK_S."""
    from lab.training import engine  # imports torch: only here, when a training starts
    from lab.training.recorders import StepRecorder

    checked = [time.monotonic()]

    def progress(st) -> None:
        _stop_if_exiting()
        if time.monotonic() - checked[0] > ABANDON_CHECK_S:
            checked[0] = time.monotonic()
            check(job)
        job._advance(st, next(r for r in st.recorders if isinstance(r, StepRecorder)))

    return engine.StackTrainer(stack, progress=progress, progress_every=PROGRESS_EVERY)


def _one_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return f"the retrain failed: {type(e).__name__}" + (f": {text[0]}" if text else "")
