"""The run config: one frozen dataclass holding every knob of a run.

Its stable hash (`run_id`) is the run id, the joblib cache key and the DuckDB key,
so two configs that are equal field by field are one run, trained once.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
from dataclasses import dataclass, field

from lab.language.grammar import CORPUS_VERSION

# bump when the engine's numbers, or what a run records, change for the same config: stored
# runs keyed by the old hash are then no longer found, never silently mixed with new ones.
# 3: TorchScript engine; plain tanh (was 2 sigmoid(2a) - 1), in-place baddbmm_ in BPTT, one
#    norm over all gradients: the same maths, other last bits.
# 4: early checkpoints at steps 100, 200 and 500, and exposure bias measured over training at
#    EXPOSURE_STEPS (issue 23): the same training numbers, but a run stored before lacks them,
#    and the precompute's backfill adds scalars, not checkpoints or series.
# (CORPUS_VERSION, bumped when the corpus changes, enters the run id the same way.)
ENGINE_VERSION = 4

ACTIVATIONS = ("tanh", "relu", "sigmoid", "identity")
INITS = ("orthogonal", "xavier", "random")
OPTIMIZERS = ("sgd",)
LOSS_SCALES = ("sum_chunk",)

# (low, high) inclusive bounds for numeric knobs; the retrain form and URL parser
# use the same table, so a value the page accepts is a value the engine accepts.
BOUNDS: dict[str, tuple[float, float]] = {
    "hidden": (2, 256),
    "seq_len": (1, 100),
    "lr": (1e-5, 1.0),
    "clip": (1e-3, 1e4),
    "sampling": (0.0, 1.0),
    "steps": (1, 100_000),
    "seed": (0, 2**31 - 1),
    "batch_size": (1, 512),
}


@dataclass(frozen=True)
class RunConfig:
    """Every knob of one training run; defaults are the lab's baseline."""

    hidden: int = 64  # H, hidden units
    activation: str = "tanh"  # f in h_t = f(W_xh x_t + W_hh h_{t-1} + b_h)
    init: str = "orthogonal"  # how W_hh starts
    freeze_whh: bool = False  # reservoir: W_hh keeps its init, the rest trains
    seq_len: int = 25  # TBPTT chunk length in characters
    lr: float = 0.01  # learning rate
    clip: float = 50.0  # max global L2 norm of the run's gradient (calibrated: docs/performance.md)
    sampling: float = 0.0  # scheduled sampling: final rate of feeding own samples
    steps: int = 30_000  # optimizer steps (one chunk per step)
    seed: int = 42  # init weights, batch offsets, sampling draws
    # lab-wide choices, fixed once by calibration (docs/performance.md); in the hash all the same
    optimizer: str = "sgd"
    batch_size: int = 64  # parallel tracks of the training stream (calibrated: docs/performance.md)
    loss_scale: str = "sum_chunk"  # loss summed over the chunk, mean over the batch
    notes: tuple = field(default=(), compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        validate(self)
        for name in ("lr", "clip", "sampling"):  # clip=5 and clip=5.0 are one run, one run id
            object.__setattr__(self, name, float(getattr(self, name)))

    @functools.cached_property
    def run_id(self) -> str:
        """16 hex chars of sha256 over the canonical JSON of the knobs + engine and corpus
        versions. Kept on the (frozen) config: a retrain's progress report asks for it every
        few steps, and the service's registries on every poll."""
        payload = json.dumps({"engine": ENGINE_VERSION, "corpus": CORPUS_VERSION,
                              **self.to_dict()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """Runs with the same shape train together in one stacked program."""
        return (self.hidden, self.seq_len, self.batch_size, self.steps)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("notes")
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def replace(self, **overrides) -> RunConfig:
        """A copy with some knobs changed; unknown knob names raise ValueError."""
        unknown = set(overrides) - set(KNOBS)
        if unknown:
            raise ValueError(f"unknown config knob(s): {sorted(unknown)}; known: {list(KNOBS)}")
        return dataclasses.replace(self, **overrides)

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        unknown = set(d) - set(KNOBS)
        if unknown:
            raise ValueError(f"unknown config knob(s): {sorted(unknown)}")
        return cls(**d)

    @classmethod
    def from_json(cls, s: str) -> RunConfig:
        return cls.from_dict(json.loads(s))


def _check_choice(name: str, value, options: tuple) -> None:
    if value not in options:
        raise ValueError(f"{name}={value!r} is not one of {list(options)}")


def _check_number(name: str, value, integer: bool) -> None:
    low, high = BOUNDS[name]
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValueError(f"{name}={value!r} must be {'an integer' if integer else 'a number'}")
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{name}={value!r} is outside [{low:g}, {high:g}]")


def validate(cfg: RunConfig) -> None:
    """Raise ValueError naming the knob, the value and the allowed range."""
    _check_choice("activation", cfg.activation, ACTIVATIONS)
    _check_choice("init", cfg.init, INITS)
    _check_choice("optimizer", cfg.optimizer, OPTIMIZERS)
    _check_choice("loss_scale", cfg.loss_scale, LOSS_SCALES)
    if not isinstance(cfg.freeze_whh, bool):
        raise ValueError(f"freeze_whh={cfg.freeze_whh!r} must be true or false")
    for name in ("hidden", "seq_len", "steps", "seed", "batch_size"):
        _check_number(name, getattr(cfg, name), integer=True)
    for name in ("lr", "clip", "sampling"):
        _check_number(name, getattr(cfg, name), integer=False)


KNOBS = tuple(f.name for f in dataclasses.fields(RunConfig) if f.name != "notes")
BASELINE = RunConfig()


EARLY_CHECKPOINTS = (100, 200, 500)  # log-spaced: the first thousand steps change the most
# checkpoints (besides the last step) where exposure bias is measured over training:
# log-spaced, about 1 s per 16-run stack each (lab.training.recorders)
EXPOSURE_STEPS = (100, 200, 500, 1000, 2000, 5000, 10_000, 20_000)


def checkpoint_steps(steps: int) -> list[int]:
    """Checkpoint steps, ascending: 0, every 1,000 (every steps/10 for runs under 10,000 steps),
    the last step, and EARLY_CHECKPOINTS below the last step (none for runs under 100 steps)."""
    every = max(1, min(1000, steps // 10))
    marks = {*range(0, steps, every), steps}
    if steps >= min(EARLY_CHECKPOINTS):
        marks |= {m for m in EARLY_CHECKPOINTS if m < steps}
    return sorted(marks)
