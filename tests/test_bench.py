"""The benchmark's smoke: `python -m lab.bench --quick` prints both sides, both shapes, the
precompute estimate, and ends with the machine-readable speedup line."""

from __future__ import annotations

import re

import torch

from lab.bench import main


def test_quick_bench_output_format(capsys):
    before = torch.get_num_threads()
    try:
        assert main(["--quick"]) == 0
    finally:
        torch.set_num_threads(before)
    lines = capsys.readouterr().out.strip().splitlines()
    text = "\n".join(lines)
    for needle in ("shape baseline (H=64, seq_len=25)", "shape large (H=128, seq_len=50)",
                   "nn.RNN:", "engine:", "effective at 30,000 steps", "precompute estimate"):
        assert needle in text, needle
    ratios = [float(x) for x in re.findall(r"ratio engine / nn.RNN: (\d+\.\d\d)", text)]
    bounds = [float(x) for x in re.findall(r"were all else free: (\d+\.\d\d)x", text)]
    assert len(ratios) == len(bounds) == 2
    assert all(b > r for r, b in zip(ratios, bounds, strict=True)), (ratios, bounds)
    assert re.fullmatch(r"speedup_vs_nn_rnn: \d+\.\d\d", lines[-1]), lines[-1]
    assert float(lines[-1].split()[-1]) > 0
