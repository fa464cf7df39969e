"""The benchmark's smoke: `python -m lab.bench --quick` prints nn.RNN and the engine's three
stack sizes at its four shapes, and ends with the three machine-readable speedup lines. Format
only: timings are the benchmark's job, not a unit test's (a busy machine moves them). The
engine's costs are faked in the format test (timing 80 runs' end-of-run analyses took 90 s of
the suite); engine_cost itself is timed once, on a small real stack."""

from __future__ import annotations

import math
import re

import pytest
import torch

from lab import bench
from lab.training.config import BASELINE


def test_quick_bench_output_format(capsys, monkeypatch):
    asked = []

    def fake_cost(configs):
        """A made-up but plausible cost: the output path is what is checked here."""
        c, n = configs[0], len(configs)
        asked.append((n, c.hidden, c.seq_len, c.batch_size))
        return bench.EngineCost(n, per_step=0.001 * n ** 0.5, per_checkpoint=0.01 * n, once=0.5 * n)

    monkeypatch.setattr(bench, "engine_cost", fake_cost)
    before = torch.get_num_threads()
    try:
        assert bench.main(["--quick"]) == 0
    finally:
        torch.set_num_threads(before)
    # every shape's three stacks were costed: the bench study's first 1, 4 and 15 runs
    shapes = {(s["hidden"], s["seq_len"], s.get("batch_size", BASELINE.batch_size))
              for s in bench.SHAPES.values()}
    assert sorted(asked) == sorted((n, *s) for s in shapes for n in bench.STACK_SIZES)
    lines = capsys.readouterr().out.strip().splitlines()
    text = "\n".join(lines)
    b = BASELINE.batch_size
    for needle in (f"shape baseline (H=64, seq_len=25, batch {b})",
                   f"shape large (H=128, seq_len=50, batch {b})",
                   "shape baseline, batch 16 (H=64, seq_len=25, batch 16)",
                   "shape large, batch 16 (H=128, seq_len=50, batch 16)"):
        assert needle in text, needle
    assert len(re.findall(r"nn\.RNN, one run at a time: [\d,]+ run-steps/s", text)) == 4
    for runs in ("1 run", "4 runs", "15 runs"):
        found = re.findall(rf"engine, +{runs}: [\d,]+ run-steps/s effective at 30,000 steps.*"
                           r"ratio engine / nn\.RNN: \d+\.\d\d", text)
        assert len(found) == 4, runs
    assert re.fullmatch(r"at batch 16: 15-run stack \d+\.\d\dx, single run \d+\.\d\dx, large "
                        r"single run \d+\.\d\dx nn\.RNN", lines[-4]), lines[-4]
    names = ("speedup_vs_nn_rnn", "single_run_speedup_vs_nn_rnn", "speedup_large_vs_nn_rnn")
    for name, line in zip(names, lines[-3:], strict=True):
        assert re.fullmatch(rf"{name}: \d+\.\d\d", line), line
        assert float(line.split()[-1]) > 0


@pytest.mark.usefixtures("one_thread")
def test_engine_cost_times_a_real_stack():
    """What the format test fakes: a real two-run stack, every recorder on, at --quick's 20
    steps, gives a finite positive cost per step, per checkpoint and once."""
    cost = bench.engine_cost(bench.study_configs(bench.SHAPES["baseline"], 20)[:2])
    assert cost.runs == 2
    for part in ("per_step", "per_checkpoint", "once"):
        value = getattr(cost, part)
        assert math.isfinite(value) and value > 0, (part, value)
    assert math.isfinite(cost.rate(BASELINE.steps)) and cost.rate(BASELINE.steps) > 0
