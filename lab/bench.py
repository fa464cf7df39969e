"""Benchmark: the lab's stacked engine against the straightforward torch.nn.RNN training loop.

`python -m lab.bench` measures, in one process, interleaved (nn.RNN, engine 1 run, 4 runs,
15 runs, nn.RNN, ...) and takes medians of three, at two shapes (the baseline, and H=128 with
seq_len=50), each at the lab's batch (64) and at batch 16, with one torch thread each (as
training runs). The engine side is `train_stack` with every recorder on, its end-of-run
cost (final checkpoint, analyses) measured apart from the per-step cost and amortised over a
full 30,000-step run. The last three lines are machine-readable: `speedup_vs_nn_rnn` (15-run
stack, baseline), `single_run_speedup_vs_nn_rnn` (baseline), `speedup_large_vs_nn_rnn`
(single run, H=128, seq_len=50), all at the lab's batch, after one line with the same three
at batch 16. `--quick` is a seconds-long smoke of the same;
`--precompute` adds an estimate of the whole precompute.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from lab.language import corpus
from lab.language.alphabet import VOCAB_SIZE as V
from lab.precompute import NOVEL_WORD_STUDY
from lab.studies.catalog import SEEDS, STUDY_IDS, arms_of, planned_runs
from lab.training.config import BASELINE, RunConfig, checkpoint_steps
from lab.training.engine import keep_freed_memory, train_stack
from lab.training.hooks import Recorder
from lab.training.results import Contribution
from lab.training.stacks import make_tasks, stack_cost

SHAPES = {"baseline": {"hidden": 64, "seq_len": 25}, "large": {"hidden": 128, "seq_len": 50},
          # both at the batch the lab had when issue 10 set its targets: small steps, where
          # per-call overhead is most of the time and stacking pays most
          "baseline, batch 16": {"hidden": 64, "seq_len": 25, "batch_size": 16},
          "large, batch 16": {"hidden": 128, "seq_len": 50, "batch_size": 16}}
BENCH_STUDY = "clipping"  # its 5 arms x 3 seeds share one shape: a 15-run stack
WORKERS = 2  # the precompute's default: 2 worker processes of 1 torch thread each


def study_configs(shape: dict, steps: int) -> list[RunConfig]:
    """The bench study's runs (all arms, all seeds) moved to `shape`."""
    return [a.config(seed, steps).replace(**shape) for a in arms_of(BENCH_STUDY) for seed in SEEDS]


# --- (a) the straightforward way: one run at a time, nn.RNN + autograd ----------------------

def nn_rnn_seconds(cfg: RunConfig, steps: int) -> float:
    """Train one run the way a practitioner writes it; seconds for `steps` steps (setup excluded).

    One-hot inputs into nn.RNN(tanh) + nn.Linear, plain SGD, cross-entropy summed over the
    chunk and averaged over the batch, clip_grad_norm_, the state carried and detached across
    chunks (TBPTT), the loss kept per step with .item().
    """
    torch.manual_seed(cfg.seed)
    rnn = torch.nn.RNN(V, cfg.hidden, nonlinearity="tanh", batch_first=True)
    head = torch.nn.Linear(cfg.hidden, V)
    params = [*rnn.parameters(), *head.parameters()]
    opt = torch.optim.SGD(params, lr=cfg.lr)
    stream = torch.from_numpy(corpus.train_ids().astype(np.int64))
    B, T, N = cfg.batch_size, cfg.seq_len, stream.numel()
    offsets, span = torch.randint(0, N, (B, 1)), torch.arange(T + 1)
    h = torch.zeros(1, B, cfg.hidden)  # (layers, B, H)
    losses = []
    started = time.perf_counter()
    for step in range(steps):
        chunk = stream[(offsets + step * T + span) % N]  # (B, T+1)
        x = F.one_hot(chunk[:, :-1], V).float()  # (B, T, V)
        out, h = rnn(x, h)  # (B, T, H)
        logits = head(out)  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, V), chunk[:, 1:].reshape(-1),
                               reduction="sum") / B
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.clip)
        opt.step()
        h = h.detach()  # carry the state, truncate the graph
        losses.append(loss.item())
    return time.perf_counter() - started


# --- (b) the lab's engine: a stack, every recorder on ----------------------------------------

class Stopwatch(Recorder):
    """The default recorders behind one recorder, timing the phases of train_stack."""

    def __init__(self, recorders: list[Recorder]):
        self.recorders = recorders
        self.checkpoints: list[float] = []  # seconds of each checkpoint, in order
        self.first_checkpoint = self.end = 0.0  # perf_counter marks

    def on_step(self, st, loss, gnorm, clipped):
        for rec in self.recorders:
            rec.on_step(st, loss, gnorm, clipped)

    def on_checkpoint(self, st):
        t = time.perf_counter()
        self.first_checkpoint = self.first_checkpoint or t
        for rec in self.recorders:
            rec.on_checkpoint(st)
        self.checkpoints.append(time.perf_counter() - t)

    def on_end(self, st):
        self.end = time.perf_counter()
        for rec in self.recorders:
            rec.on_end(st)

    def contribute(self, st, r):
        c = Contribution()
        for rec in self.recorders:
            c = c.merge(rec.contribute(st, r))
        return c


@dataclass
class EngineCost:
    """Seconds of one stack: per step, per checkpoint, and once (setup, final checkpoint, end)."""

    runs: int
    per_step: float  # training step + per-step recorder
    per_checkpoint: float  # an intermediate checkpoint (16 held-out tracks, one sample)
    once: float  # setup + the final checkpoint (64 tracks) + end analyses + results

    def seconds(self, steps: int) -> float:
        return steps * self.per_step + (len(checkpoint_steps(steps)) - 1) * self.per_checkpoint \
            + self.once

    def rate(self, steps: int) -> float:
        """Run-steps per second of a run of `steps` steps, fixed costs included."""
        return self.runs * steps / self.seconds(steps)


def engine_cost(configs: list[RunConfig]) -> EngineCost:
    """Train the stack once with every recorder on (default_recorders) and time it."""
    from lab.training.recorders import default_recorders

    steps, watches = configs[0].steps, []

    def attach(st):
        watches.append(Stopwatch(default_recorders(st)))
        return watches

    started = time.perf_counter()
    train_stack(configs, recorders=attach)
    watch = watches[0]
    done = time.perf_counter()
    *middle, final = watch.checkpoints
    loop = watch.end - watch.first_checkpoint - sum(watch.checkpoints)
    once = (watch.first_checkpoint - started) + final + (done - watch.end)
    return EngineCost(len(configs), loop / steps, statistics.median(middle), once)


def median_cost(costs: list[EngineCost]) -> EngineCost:
    return EngineCost(costs[0].runs, *(statistics.median(getattr(c, f) for c in costs)
                                       for f in ("per_step", "per_checkpoint", "once")))


# --- side by side ----------------------------------------------------------------------------

STACK_SIZES = (1, 4, 15)  # a retrain's single run, a small study's stack, the clipping study


def compare(shape: dict, steps: int, repeats: int,
            log=print) -> tuple[float, dict[int, EngineCost]]:
    """Interleaved repeats at one shape: (nn.RNN run-steps/s, the engine's median cost per
    stack size). The stacks are the bench study's first 1, 4 and 15 runs."""
    configs = study_configs(shape, steps)
    nn_rates, costs = [], {n: [] for n in STACK_SIZES}
    for i in range(repeats):
        nn_rates.append(steps / nn_rnn_seconds(configs[i % len(configs)], steps))
        for n in STACK_SIZES:
            costs[n].append(engine_cost(configs[:n]))
        log(f"  repeat {i + 1}/{repeats}: nn.RNN {nn_rates[-1]:,.0f} run-steps/s; engine loop "
            + ", ".join(f"{n} run{'s' * (n > 1)} {c[-1].runs / c[-1].per_step:,.0f}"
                        for n, c in costs.items()))
    return statistics.median(nn_rates), {n: median_cost(c) for n, c in costs.items()}


def _signature(task: list[RunConfig]) -> tuple:
    c = task[0]
    return (len(task), c.hidden, c.seq_len, c.sampling > 0, tuple(x.activation for x in task))


def precompute_estimate(measured: EngineCost, steps: int, measure_each: bool,
                        log=print) -> tuple[float, float, int, int]:
    """(serial seconds, wall seconds on WORKERS workers, runs, stacks) of the full precompute.

    Each distinct stack is timed briefly (measure_each) or, for --quick, scaled from the
    baseline measurement: per step by lab.precompute.stack_cost, fixed costs by run count.
    """
    plan = planned_runs(STUDY_IDS, SEEDS)
    tasks = make_tasks(list({c.run_id: c for *_, c in plan}.values()))
    base = stack_cost([c.replace(steps=1) for c in study_configs(SHAPES["baseline"], 1)])
    costs: dict[tuple, EngineCost] = {}
    for task in tasks:
        key = _signature(task)
        if key in costs:
            continue
        if measure_each:
            costs[key] = engine_cost([c.replace(steps=steps) for c in task])
            log(f"  stack {key[:4]}: {costs[key].rate(BASELINE.steps):,.0f} run-steps/s at 30k")
        else:
            scale = stack_cost([c.replace(steps=1) for c in task]) / base
            r = len(task) / measured.runs
            costs[key] = EngineCost(len(task), measured.per_step * scale,
                                    measured.per_checkpoint * r, measured.once * r)
    seconds = [costs[_signature(t)].seconds(t[0].steps) for t in tasks]  # costliest first
    free = [0.0] * WORKERS  # greedy: each stack goes to the worker that frees up first
    for s in seconds:
        free[free.index(min(free))] += s
    wall = max(free) + novel_word_seconds()
    return sum(seconds), wall, sum(len(t) for t in tasks), len(tasks)


def novel_word_seconds() -> float:
    """Study 8 runs after training, in the main process: one call timed, times the calls."""
    from lab.language import grammar
    from lab.measure.analyses import novel_word
    from lab.training.model import StackedRNN

    words = [w for w in grammar.VOCABULARY if w != grammar.SENTENCE_END]
    started = time.perf_counter()
    novel_word(StackedRNN([BASELINE]), words[0])
    calls = len(words) * len(SEEDS) * (NOVEL_WORD_STUDY in STUDY_IDS)
    return (time.perf_counter() - started) * calls


def _warm_up() -> None:
    cfg = BASELINE.replace(hidden=16, seq_len=5, steps=3)
    nn_rnn_seconds(cfg, 3)
    train_stack([cfg], recorders=lambda st: [])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lab.bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a fast smoke: few steps, one repeat")
    ap.add_argument("--steps", type=int, help="steps per measurement (default 300, quick 20)")
    ap.add_argument("--repeats", type=int, help="interleaved repeats (default 3, quick 1)")
    ap.add_argument("--precompute", action="store_true",
                    help="also estimate the whole precompute (times each distinct stack)")
    args = ap.parse_args(argv)
    steps = args.steps or (20 if args.quick else 300)
    repeats = args.repeats or (1 if args.quick else 3)
    torch.set_num_threads(1)
    keep_freed_memory()  # as the precompute's workers run
    full = BASELINE.steps
    print(f"threads: torch.set_num_threads(1) on both sides (training runs so); {steps} steps "
          f"per measurement, median of {repeats} interleaved repeats")
    print("nn.RNN: one run at a time, one-hot inputs, nn.RNN(tanh) + nn.Linear, SGD, "
          "cross-entropy summed over the chunk / batch, clip_grad_norm_, state carried and "
          "detached, at each shape's batch")
    print(f"engine: lab.training.engine.train_stack, default recorders, the {BENCH_STUDY} "
          f"study's first 1, 4 and 15 runs as one stack each; fixed costs amortised over "
          f"{full:,} steps")
    _warm_up()
    ratios, baseline_cost = {}, None
    for name, shape in SHAPES.items():
        batch = shape.get("batch_size", BASELINE.batch_size)
        print(f"shape {name} (H={shape['hidden']}, seq_len={shape['seq_len']}, batch {batch}):")
        nn_rate, costs = compare(shape, steps, repeats)
        baseline_cost = baseline_cost or costs[STACK_SIZES[-1]]
        print(f"  nn.RNN, one run at a time: {nn_rate:,.0f} run-steps/s")
        for n, cost in costs.items():
            ratios[name, n] = cost.rate(full) / nn_rate
            print(f"  engine, {n:>2} run{'s' * (n > 1)}: {cost.rate(full):,.0f} run-steps/s "
                  f"effective at {full:,} steps (loop {cost.runs / cost.per_step:,.0f}; "
                  f"{cost.per_checkpoint:.3f} s per checkpoint, {cost.once:.2f} s once); "
                  f"ratio engine / nn.RNN: {ratios[name, n]:.2f}")
    if args.precompute:
        serial, wall, runs, stacks = precompute_estimate(baseline_cost, max(steps // 5, 10),
                                                         measure_each=not args.quick)
        how = "cost model scaled from the baseline" if args.quick else "each stack timed"
        print(f"precompute estimate ({how}): {runs} runs in {stacks} stacks of {full:,} steps, "
              f"{serial / 3600:.2f} h of one core; {WORKERS} workers x 1 thread: "
              f"{wall / 3600:.2f} h wall (novel word included; two busy cores may each run "
              f"slower than one measured alone)")
    print(f"at batch 16: 15-run stack {ratios['baseline, batch 16', 15]:.2f}x, single run "
          f"{ratios['baseline, batch 16', 1]:.2f}x, large single run "
          f"{ratios['large, batch 16', 1]:.2f}x nn.RNN")
    print(f"speedup_vs_nn_rnn: {ratios['baseline', 15]:.2f}")
    print(f"single_run_speedup_vs_nn_rnn: {ratios['baseline', 1]:.2f}")
    print(f"speedup_large_vs_nn_rnn: {ratios['large', 1]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
