"""Grouping runs into stacks: runs of one shape (H, seq_len) train together as one batched
program, so the precompute, the retrain service and the benchmark group them the same way."""

from __future__ import annotations

from collections import defaultdict

from lab.training.config import RunConfig

MAX_STACK = 16  # runs per stacked task: big enough to amortise, small enough to balance 2 cores
# ...and at most this much hidden state per step (runs x batch x seq_len x H float32): at
# batch 64 a step is arithmetic-bound, and a stack whose states outgrow the core's cache
# runs slower per run than fewer runs (`python -m lab.bench`, 2026-11-30: H=128, seq_len=50,
# 132 run-steps/s alone, 118 in 4 runs, 106 in 15; H=64, seq_len=25: 482, 577, 494)
STACK_STATE_BYTES = 2 << 20


def stack_cost(configs: list[RunConfig]) -> float:
    """Relative cost of a stack: run-steps x chars per step x (H^2 + readout), for scheduling."""
    c = configs[0]
    return len(configs) * c.steps * c.seq_len * c.batch_size * (c.hidden**2 + 4 * 29 * c.hidden)


def most_runs(c: RunConfig) -> int:
    """How many runs of c's shape one stack takes: MAX_STACK, or fewer where their hidden
    states would pass STACK_STATE_BYTES (at least one)."""
    per_run = 4 * c.batch_size * c.seq_len * c.hidden
    return max(1, min(MAX_STACK, STACK_STATE_BYTES // per_run))


def make_tasks(configs: list[RunConfig]) -> list[list[RunConfig]]:
    """Group configs by shape into stacks of at most most_runs(shape), costliest first."""
    by_shape: dict[tuple, list[RunConfig]] = defaultdict(list)
    for c in configs:  # scheduled sampling takes a slower path: keep those runs apart
        by_shape[(c.shape, c.sampling > 0)].append(c)
    tasks = []
    for group in by_shape.values():
        group.sort(key=lambda c: (c.activation, c.seed, c.run_id))
        n = -(-len(group) // most_runs(group[0]))  # equal-sized chunks
        size = -(-len(group) // n)
        tasks += [group[i: i + size] for i in range(0, len(group), size)]
    return sorted(tasks, key=stack_cost, reverse=True)
