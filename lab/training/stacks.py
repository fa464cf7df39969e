"""Grouping runs into stacks: runs of one shape (H, seq_len) train together as one batched
program, so the precompute, the retrain service and the benchmark group them the same way."""

from __future__ import annotations

from collections import defaultdict

from lab.training.config import RunConfig

MAX_STACK = 16  # runs per stacked task: big enough to amortise, small enough to balance 2 cores


def stack_cost(configs: list[RunConfig]) -> float:
    """Relative cost of a stack: run-steps x chars per step x (H^2 + readout), for scheduling."""
    c = configs[0]
    return len(configs) * c.steps * c.seq_len * c.batch_size * (c.hidden**2 + 4 * 29 * c.hidden)


def make_tasks(configs: list[RunConfig]) -> list[list[RunConfig]]:
    """Group configs by shape into stacks of at most MAX_STACK, costliest first."""
    by_shape: dict[tuple, list[RunConfig]] = defaultdict(list)
    for c in configs:  # scheduled sampling takes a slower path: keep those runs apart
        by_shape[(c.shape, c.sampling > 0)].append(c)
    tasks = []
    for group in by_shape.values():
        group.sort(key=lambda c: (c.activation, c.seed, c.run_id))
        n = -(-len(group) // MAX_STACK)  # equal-sized chunks
        size = -(-len(group) // n)
        tasks += [group[i: i + size] for i in range(0, len(group), size)]
    return sorted(tasks, key=stack_cost, reverse=True)
