"""What one finished training run hands to the store: plain data, no torch.

The engine fills a `RunResult`; the store writes it in one transaction; the app reads
the same columns back from DuckDB. Column names here are the DB's column names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lab.training.config import RunConfig

STATUSES = ("ok", "unstable", "diverged")

# long tables of a run: name -> columns (besides run_id, which the store adds)
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    # per-step record, downsampled: one row per window of CURVE_EVERY steps ending at `step`
    "curves": ("step", "loss", "grad_norm", "grad_norm_max", "clip_frac"),
    # checkpoints at config.checkpoint_steps(steps)
    "checkpoints": (
        "step", "spectral_radius", "h_mean", "h_std", "h_saturated", "h_min", "h_max",
        "val_loss",
    ),
    # a generated sample at each checkpoint, with its grammaticality
    "samples": ("step", "text", "valid_words", "valid_sentences"),
    # normalised mean norm of dL_t/dh_{t-k}, k = 0..seq_len-1
    "grad_decay": ("k", "norm"),
    # linear memory probe: accuracy at lookback k = 1..50 and the best constant guess
    "probe": ("k", "accuracy", "chance"),
    # any other curve an analysis yields: (analysis name, x, y)
    "series": ("analysis", "x", "y"),
}


@dataclass
class Contribution:
    """What one recorder adds to one run's result (lab.training.engine.Recorder.contribute):
    long tables by TABLE_COLUMNS name, named end-of-run scalars, and the numbers RunResult
    holds in fields of their own (None: this recorder does not measure them)."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    scalars: dict[str, float] = field(default_factory=dict)
    final_train_loss: float | None = None
    final_val_loss: float | None = None
    window_losses: np.ndarray | None = None  # the stored training-loss windows: run status

    def merge(self, other: Contribution) -> Contribution:
        """Both contributions in one: a table both give is concatenated (self's rows first),
        other's scalars win, a field keeps the first value given."""
        tables = dict(self.tables)
        for name, df in other.tables.items():
            tables[name] = pd.concat([tables[name], df], ignore_index=True) \
                if name in tables else df
        return Contribution(
            tables, {**self.scalars, **other.scalars},
            _first(self.final_train_loss, other.final_train_loss),
            _first(self.final_val_loss, other.final_val_loss),
            _first(self.window_losses, other.window_losses))


def _first(a, b):
    return a if a is not None else b


def nan_if_none(x: float | None) -> float:
    return math.nan if x is None else float(x)


@dataclass
class RunResult:
    """Everything one run records; `tables` maps a TABLE_COLUMNS name to a DataFrame."""

    config: RunConfig
    status: str  # one of STATUSES
    final_train_loss: float  # nats/char, mean over the last window (nan if diverged)
    final_val_loss: float  # nats/char on the held-out stream at the end
    params: int  # trainable parameter count (W_hh counted only if trained)
    wall_s: float  # wall time of this run's share of its stack
    scalars: dict[str, float] = field(default_factory=dict)  # named end-of-run metrics
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    weights: bytes = b""  # final weights, numpy .npz bytes
    diverged_at: int | None = None  # step at which the run stopped, if it diverged

    @property
    def run_id(self) -> str:
        return self.config.run_id

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status={self.status!r} is not one of {STATUSES}")
        for name, df in self.tables.items():
            if name not in TABLE_COLUMNS:
                raise ValueError(f"unknown table {name!r}; known: {list(TABLE_COLUMNS)}")
            missing = set(TABLE_COLUMNS[name]) - set(df.columns)
            if missing:
                raise ValueError(f"table {name!r} lacks columns {sorted(missing)}")
