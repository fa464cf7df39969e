"""The benchmark's smoke: `python -m lab.bench --quick` prints nn.RNN and the engine's three
stack sizes at its four shapes, and ends with the three machine-readable speedup lines. Format
only: timings are the benchmark's job, not a unit test's (a busy machine moves them)."""

from __future__ import annotations

import re

import torch

from lab.bench import main
from lab.training.config import BASELINE


def test_quick_bench_output_format(capsys):
    before = torch.get_num_threads()
    try:
        assert main(["--quick"]) == 0
    finally:
        torch.set_num_threads(before)
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
