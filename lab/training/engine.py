"""The training engine: runs of one shape trained together as one stacked program.

Each step reads the next chunk of every run's B tracks through the training stream,
runs the stacked forward and hand-written backward, clips each run's gradient by its
own global L2 norm, and takes each run's own SGD step. Instrumentation is a list of
recorders attached to the loop (lab.training.recorders); the loop itself only trains.

TBPTT: the hidden state is carried from one chunk to the next (the stream is read as B
continuous tracks), and the gradient is truncated at the chunk boundary.
"""

from __future__ import annotations

import ctypes
import io
import math
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from lab.language import corpus
from lab.measure.metrics import DIVERGE_LOSS, run_status
from lab.training import model as rnn  # the TorchScript equations
from lab.training.config import RunConfig
from lab.training.hooks import Recorder, Stack
from lab.training.model import (
    PARAM_NAMES,
    StackedRNN,
    activation_codes,
    loss_and_dlogits,
    param_count,
    script,
    sort_for_stack,
)
from lab.training.recorders import default_recorders, is_checkpoint
from lab.training.results import Contribution, RunResult, nan_if_none
from lab.training.weights import load_weights  # noqa: F401 (the inverse of weights_bytes)

SAMPLING_SEED_OFFSET = 1_000_003  # scheduled-sampling draws use their own stream per run


def keep_freed_memory() -> None:
    """Stop glibc from handing big tensor buffers back to the OS after every step.

    Each step allocates and frees several MB; by default glibc serves that with mmap/munmap,
    and the page faults of touching fresh pages doubled the wall time of large stacks
    (measured: 10 -> 22 steps/s at H=128, seq_len=50). Process-wide, so it is for processes
    that only train (the precompute's workers, the benchmark, calibration), never the app's
    server, whose memory must go back to the OS after a retrain. A no-op off glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD: no mmap below 1 GiB
    libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: keep up to 1 GiB of freed heap


def track_starts(cfg: RunConfig, n: int) -> torch.Tensor:
    """The B start offsets of a run's tracks through the stream, drawn from its seed."""
    rng = np.random.default_rng(cfg.seed)
    return torch.as_tensor(rng.integers(0, n, size=cfg.batch_size), dtype=torch.long)


class ScheduledSampling:
    """Scheduled sampling's random draws: with prob eps_r(step) a run reads its own sample
    from the last step (model.recur_sampled). eps_r ramps linearly from 0 at step 0 to the
    run's `sampling` at its last step; each run draws from its own generator."""

    def __init__(self, configs: list[RunConfig]):
        self.rate_max = torch.tensor([c.sampling for c in configs])
        self.gens = [torch.Generator().manual_seed(c.seed + SAMPLING_SEED_OFFSET) for c in configs]
        self.active = [i for i, c in enumerate(configs) if c.sampling > 0]

    def chunk(self, step: int, steps: int, T: int, B: int) -> tuple[Tensor, Tensor]:
        """(draws (T-1, 2, R, B): coin and inverse-cdf draw per step after the first, 1.0 for
        runs that never sample; eps (R,)) for the chunk of this step."""
        draws = torch.ones(max(T - 1, 0), 2, len(self.gens), B)
        for r in self.active:
            draws[:, :, r] = torch.rand(max(T - 1, 0), 2, B, generator=self.gens[r])
        return draws, self.rate_max * (step / max(1, steps - 1))


@script
def learn(x: Tensor, hs: Tensor, logits: Tensor, targets: Tensor, params: list[Tensor],
          groups: list[tuple[int, int, int]], lr: Tensor, clip: Tensor,
          trains_whh: Tensor | None, alive: Tensor,
          diverge_loss: float = DIVERGE_LOSS) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Loss, BPTT, each run's clip and SGD step from a forward pass over one chunk.

    params ([Wxh, Whh, bh, Why, by], stacked) and alive (R,) are updated in place: a run whose
    loss or gradient norm is not finite, or whose loss passes diverge_loss, stops (alive False,
    weights zeroed, so no NaN reaches a later op). Returns per-run (loss per char, pre-clip
    gradient norm, clip fired, stopped at this step).
    """
    R, B, T = x.shape
    loss, dlogits = loss_and_dlogits(logits, targets, B)
    grads, _ = rnn.backprop(x, hs, dlogits, params[1], params[3], groups, keep_dh=False)
    if trains_whh is not None:
        grads[1].mul_(trains_whh)  # reservoir runs (0) keep their W_hh
    # clip: each run's global L2 norm over all its parameters, measured before clipping
    gnorm = torch.linalg.vector_norm(torch.cat([g.reshape(R, -1) for g in grads], 1), dim=1)
    loss_char = loss / T
    ok = (loss_char <= diverge_loss) & (gnorm < math.inf)  # NaN fails both
    bad = alive & ~ok
    alive.logical_and_(ok)
    scale = lr * torch.clamp(clip / (gnorm + 1e-12), max=1.0)
    if not bool(alive.all()):
        scale = scale.where(alive, 0.0)
        for i in range(len(params)):
            dead = ~alive.view([R] + [1] * (params[i].dim() - 1))
            params[i].masked_fill_(dead, 0.0)
            grads[i].masked_fill_(dead, 0.0)
    # step: plain SGD, each run with its own learning rate
    per_run = [scale.view([R] + [1] * (g.dim() - 1)) for g in grads]
    torch._foreach_sub_(params, torch._foreach_mul(grads, per_run))
    clipped = gnorm > clip
    return loss_char, gnorm, clipped, bad


@script
def train_step(stream: Tensor, starts: Tensor, step: int, h: Tensor, params: list[Tensor],
               groups: list[tuple[int, int, int]], lr: Tensor, clip: Tensor,
               trains_whh: Tensor | None,
               alive: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """One teacher-forced step, all in TorchScript: read the step-th chunk of every track
    (starts (R, B, T+1): the tracks' offsets + 0..T), forward from h (R, B, H), learn();
    returns learn()'s four values and the state to carry."""
    R, B, T1 = starts.shape
    chunk = stream.take((starts + step * (T1 - 1)) % stream.numel()).long()  # (R, B, T+1)
    x, targets = chunk[:, :, :-1], chunk[:, :, 1:].transpose(1, 2).reshape(R, (T1 - 1) * B)
    hs = rnn.recur(rnn.embed(x.transpose(1, 2), params[0], params[2]), h, params[1],
                     groups)
    logits = rnn.readout(hs[:, 1:].reshape(R, (T1 - 1) * B, -1), params[3], params[4])
    loss_char, gnorm, clipped, bad = learn(x, hs, logits, targets, params, groups, lr, clip,
                                           trains_whh, alive)
    h = hs.select(1, T1 - 1).where(alive.view(R, 1, 1), 0.0)  # the graph ends here (TBPTT)
    return loss_char, gnorm, clipped, bad, h


class LiveRuns:
    """What a step reads and updates, for the runs of a stack still training.

    While every run trains these are the stack's own tensors. When a run stops (diverged,
    its weights zeroed), drop() gathers the others into smaller tensors, so every later step
    costs what the live runs cost instead of computing the stopped run for nothing. A run's
    numbers do not depend on which runs share its stack (tests/test_engine.py), so this
    changes the time, never the results. sync() writes the live weights back into the
    model before anything reads it (a checkpoint, the end of the run).
    """

    def __init__(self, st: Stack, starts: Tensor, lr: Tensor, clip: Tensor,
                 trains_whh: Tensor | None, h: Tensor):
        self.st, self.rows = st, None  # rows: the live runs' stack indices; None: all, in place
        self.params = [st.model.p[n] for n in PARAM_NAMES]
        self.codes, self.alive = st.model.codes, st.alive
        self.starts, self.lr, self.clip, self.trains_whh, self.h = starts, lr, clip, trains_whh, h

    def sync(self) -> None:
        if self.rows is not None:
            for n, p in zip(PARAM_NAMES, self.params, strict=True):
                self.st.model.p[n][self.rows] = p

    def widen(self, *per_run: Tensor) -> list[Tensor]:
        """Per-live-run values as (R,) values of the whole stack: NaN or False for the runs
        that stopped (nothing reads a run's steps after its divergence step)."""
        if self.rows is None:
            return list(per_run)
        out = []
        for v in per_run:
            full = torch.full((self.st.R,), math.nan) if v.is_floating_point() \
                else torch.zeros(self.st.R, dtype=v.dtype)
            full[self.rows] = v
            out.append(full)
        return out

    def drop(self) -> None:
        """Stop computing the runs that stopped at this step (their zeroed weights synced)."""
        self.sync()
        if self.rows is not None:
            self.st.alive[self.rows] = self.alive
        keep = self.alive.nonzero().flatten()
        self.rows = keep if self.rows is None else self.rows[keep]
        self.params = [p[keep] for p in self.params]
        self.codes = activation_codes([self.st.configs[int(r)] for r in self.rows])
        self.alive = torch.ones(len(keep), dtype=torch.bool)
        self.starts, self.lr, self.clip, self.h = (
            t[keep] for t in (self.starts, self.lr, self.clip, self.h))
        if self.trains_whh is not None:
            self.trains_whh = self.trains_whh[keep]


def train_stack(
    configs: list[RunConfig],
    recorders: list[Recorder] | Callable[[Stack], list[Recorder]] | None = None,
    progress: Callable[[Stack], None] | None = None,
    progress_every: int = 100,
) -> list[RunResult]:
    """Train runs that share a shape as one stack; returns one RunResult per run (sorted order).

    recorders: a list, or a factory recorders(stack) -> list (default: the full instrumentation,
    lab.training.recorders.default_recorders);
    progress(stack) is called every progress_every steps and at the end; it may read
    stack.recorders (e.g. the StepRecorder's partial curves) but must not change them.
    """
    trainer = StackTrainer(configs, recorders, progress, progress_every)
    trainer.advance()
    return trainer.results()


class StackTrainer:
    """One stack's training, taken a block of steps at a time (advance), so a scheduler can
    share the cores among more stacks than cores (lab.service.retrain); train_stack runs one
    to the end. One thread at a time may advance it; the steps are the same whichever thread
    takes them, so the results are too. Arguments as train_stack's."""

    def __init__(self, configs: list[RunConfig],
                 recorders: list[Recorder] | Callable[[Stack], list[Recorder]] | None = None,
                 progress: Callable[[Stack], None] | None = None, progress_every: int = 100,
                 *, weights: list[dict] | None = None, stream: np.ndarray | None = None):
        """weights: start from these (one dict per config, in the given order) instead of
        each config's init, to continue a trained run; stream: train on these ids instead of
        the corpus (the novel word's exposure reads text where a noun is written "zog")."""
        began = time.perf_counter()
        # one thread: torch splits big reductions (hidden-state statistics, losses) across its
        # threads, so their last bits would depend on the machine's core count; process-wide
        torch.set_num_threads(1)
        if weights is not None:
            if len(weights) != len(configs):
                raise ValueError("one weights dict per config")
            order = {id(c): w for c, w in zip(configs, weights, strict=True)}
        configs = sort_for_stack(list(configs))
        if len({c.shape for c in configs}) != 1:
            raise ValueError("runs in one stack must share (hidden, seq_len, batch_size, steps)")
        torch.manual_seed(0)  # nothing should draw from the global generator; pin it anyway
        self.stream = _as_stream(corpus.train_ids() if stream is None else stream)
        self.own_stream = stream is not None
        c0 = configs[0]
        R, B, T, N = len(configs), c0.batch_size, c0.seq_len, self.stream.numel()
        model = StackedRNN(configs) if weights is None else \
            StackedRNN.from_weights(configs, [order[id(c)] for c in configs])
        st = Stack(configs, model, torch.ones(R, dtype=torch.bool), [None] * R, c0.steps)
        if recorders is None or callable(recorders):
            recorders = (recorders or default_recorders)(st)
        st.recorders = recorders
        starts = (torch.stack([track_starts(c, N) for c in configs]).unsqueeze(-1)
                  + torch.arange(T + 1))
        lr = torch.tensor([c.lr for c in configs])
        clip = torch.tensor([c.clip for c in configs])
        trains_whh = torch.tensor([0.0 if c.freeze_whh else 1.0 for c in configs]).view(R, 1, 1) \
            if any(c.freeze_whh for c in configs) else None
        self.sampler = ScheduledSampling(configs) if any(c.sampling > 0 for c in configs) \
            else None
        self.live = LiveRuns(st, starts, lr, clip, trains_whh, torch.zeros(R, B, st.model.H))
        self.st, self.progress, self.progress_every = st, progress, progress_every
        self.done = False
        for rec in recorders:
            rec.on_checkpoint(st)
        self.busy = time.perf_counter() - began  # seconds this stack has held a core

    def __getstate__(self) -> dict:
        """Pickled to advance on another machine (lab.service.remote): without the training
        stream (2 MB; rebuilt there from the corpus, the same ids) or the progress callback
        (the caller's; set it again after the trip)."""
        if self.own_stream:
            raise TypeError("a stack on its own stream is not sent to another machine")
        return {**self.__dict__, "stream": None, "progress": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.stream = _as_stream(corpus.train_ids())

    @property
    def steps_left(self) -> int:
        return 0 if self.done else self.st.steps - self.st.step

    def advance(self, steps: int | None = None) -> bool:
        """Take up to `steps` more steps (every step left by default); True once the stack
        is finished: its last step taken, or every run stopped, and the end-of-run analyses
        run."""
        began = time.perf_counter()
        torch.set_num_threads(1)  # process-wide; a scheduler's thread may be a new one
        stop = self.st.steps if steps is None else min(self.st.steps, self.st.step + steps)
        while not self.done and self.st.step < stop:
            if self._step():
                break
        if not self.done and (self.st.step >= self.st.steps or not self.st.alive.any()):
            self.live.sync()
            for rec in self.st.recorders:
                rec.on_end(self.st)
            self.done = True
        self.busy += time.perf_counter() - began
        return self.done

    def _step(self) -> bool:
        """One step of every live run, its recorders and progress; True if no run is left."""
        st, live, step = self.st, self.live, self.st.step
        with torch.inference_mode():  # no autograd bookkeeping on any op
            if self.sampler is None:
                loss_char, gnorm, clipped, bad, live.h = train_step(
                    self.stream, live.starts, step, live.h, live.params, live.codes, live.lr,
                    live.clip, live.trains_whh, live.alive)
            else:
                loss_char, gnorm, clipped, bad = _sampled_step(live, self.sampler, self.stream,
                                                               step, st.steps)
        loss_char, gnorm, clipped, bad = live.widen(loss_char, gnorm, clipped, bad)
        stopped = bool(bad.any())
        if stopped:
            for r in torch.nonzero(bad).flatten().tolist():
                st.diverged_at[r] = step
            live.drop()
        st.step = step + 1
        for rec in st.recorders:
            rec.on_step(st, loss_char, gnorm, clipped)
        if is_checkpoint(st):
            live.sync()
            for rec in st.recorders:
                rec.on_checkpoint(st)
        every, progress = self.progress_every, self.progress
        if progress and (st.step % every == 0 or st.step == st.steps):
            progress(st)
        if stopped and not st.alive.any():
            if progress and st.step % every:
                progress(st)  # all runs stopped early: report where
            return True
        return False

    def results(self) -> list[RunResult]:
        """One RunResult per run, in stack order (once advance() has returned True)."""
        if not self.done:
            raise RuntimeError("the stack has not finished training")
        return _results(self.st, self.st.recorders, self.busy)


def _as_stream(ids: np.ndarray) -> Tensor:
    """The training ids as the steps read them: a copy of one byte each (the alphabet has
    fewer than 256 characters; the corpus's own array is read-only, which torch does not
    support). As int64 the stream was 16 MB per training stack, on a server of ~690 MB."""
    if ids.size and (ids.min() < 0 or ids.max() > 255):
        raise ValueError("training ids must fit in one byte")
    return torch.from_numpy(np.array(ids, dtype=np.uint8))


def _sampled_step(live: LiveRuns, sampler: ScheduledSampling, stream: Tensor, step: int,
                  steps: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One scheduled-sampling step of the live runs (model.recur_sampled, then learn());
    every run draws from its own generator, stopped runs included, so the draws of a run do
    not depend on its neighbours. Returns learn()'s four values; carries live.h."""
    R, B, T1 = live.starts.shape
    chunk = stream[(live.starts + step * (T1 - 1)) % stream.numel()].long()  # (R, B, T+1)
    targets = chunk[..., 1:].transpose(1, 2).reshape(R, (T1 - 1) * B)
    draws, eps = sampler.chunk(step, steps, T1 - 1, B)
    if live.rows is not None:
        draws, eps = draws[:, :, live.rows], eps[live.rows]
    x, hs = rnn.recur_sampled(chunk[..., :-1], live.h, live.params, live.codes, draws, eps)
    logits = rnn.readout(hs[:, 1:].reshape(R, (T1 - 1) * B, -1), live.params[3],
                         live.params[4])
    out = learn(x, hs, logits, targets, live.params, live.codes, live.lr, live.clip,
                live.trains_whh, live.alive)
    live.h = hs[:, -1].where(live.alive.view(R, 1, 1), 0.0)
    return out


def weights_bytes(model: StackedRNN, r: int) -> bytes:
    """Run r's final weights as .npz bytes (float32)."""
    buf = io.BytesIO()
    np.savez(buf, **{n: w.numpy() for n, w in model.state_dict(r).items()})
    return buf.getvalue()


def _results(st: Stack, recorders: list[Recorder], busy: float) -> list[RunResult]:
    wall = busy / st.R  # a run's share of the time its stack held a core
    results = []
    for r, cfg in enumerate(st.configs):
        c = Contribution()
        for rec in recorders:
            c = c.merge(rec.contribute(st, r))
        windows = c.window_losses if c.window_losses is not None else np.array([])
        status = run_status(st.diverged_at[r] is not None, windows,
                            nan_if_none(c.final_val_loss))
        results.append(RunResult(
            config=cfg,
            status=status,
            final_train_loss=nan_if_none(c.final_train_loss),
            final_val_loss=nan_if_none(c.final_val_loss),
            params=param_count(cfg),
            wall_s=wall,
            scalars=c.scalars,
            tables=c.tables,
            weights=weights_bytes(st.model, r),
            diverged_at=st.diverged_at[r],
        ))
    return results
