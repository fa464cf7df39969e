"""Which runs each study needs: its arms as config overrides of the baseline, as data.

The study pages' words (question, hypothesis, verdict, ...) live in lab.studies.catalog; this
module is only what the precompute has to train, so it stays small and exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lab.training.config import ACTIVATIONS, BASELINE, INITS, RunConfig

SEEDS = (42, 43, 44)  # every arm of every study and every grid cell runs these seeds
SCHEDULED_SAMPLING = 0.25  # final rate of the scheduled-sampling arm (ramps up from 0)


@dataclass(frozen=True)
class Arm:
    """One arm: a stable key (URLs, DB), a label for charts, and its overrides of the baseline."""

    key: str
    label: str
    overrides: dict = field(default_factory=dict)

    def config(self, seed: int, steps: int | None = None) -> RunConfig:
        extra = {"steps": steps} if steps is not None else {}
        return BASELINE.replace(**{**self.overrides, "seed": seed, **extra})


def _arms(name: str, values, label=str) -> tuple[Arm, ...]:
    return tuple(Arm(str(v), label(v), {name: v}) for v in values)


GRID_HIDDEN = (16, 32, 64, 128)
GRID_SEQ_LEN = (5, 10, 25, 50)


def grid_key(hidden: int, activation: str, seq_len: int) -> str:
    """The grid cell's arm key, e.g. 'H64-tanh-T25'."""
    return f"H{hidden}-{activation}-T{seq_len}"


GRID_ARMS = tuple(
    Arm(grid_key(h, a, t), f"H={h}, {a}, seq_len={t}",
        {"hidden": h, "activation": a, "seq_len": t})
    for h in GRID_HIDDEN for a in ACTIVATIONS for t in GRID_SEQ_LEN
)

ARMS: dict[str, tuple[Arm, ...]] = {
    "initialization": _arms("init", INITS),
    "hidden_size": _arms("hidden", (16, 32, 64, 128), lambda v: f"H={v}"),
    "tbptt": _arms("seq_len", (5, 10, 25, 50), lambda v: f"seq_len={v}"),
    "activation": _arms("activation", ACTIVATIONS),
    "clipping": _arms("clip", (0.5, 1.0, 5.0, 10.0, 50.0), lambda v: f"clip={v:g}"),
    "teacher_forcing": (
        Arm("teacher_forcing", "teacher forcing", {"sampling": 0.0}),
        Arm("scheduled_sampling", f"scheduled sampling (to {SCHEDULED_SAMPLING:.0%})",
            {"sampling": SCHEDULED_SAMPLING}),
    ),
    "reservoir": (
        Arm("trained", "W_hh trained", {"freeze_whh": False}),
        Arm("frozen", "W_hh frozen (reservoir)", {"freeze_whh": True}),
    ),
    "novel_word": (Arm("baseline", "baseline", {}),),
    "learning_rate": _arms("lr", (0.001, 0.003, 0.01, 0.03, 0.1), lambda v: f"lr={v:g}"),
    "grid": GRID_ARMS,
}
STUDY_IDS = tuple(ARMS)


def arms_of(study: str) -> tuple[Arm, ...]:
    """The arms of a study; an unknown id raises ValueError naming the known ones."""
    if study not in ARMS:
        raise ValueError(f"unknown study {study!r}; known: {list(ARMS)}")
    return ARMS[study]


def arm(study: str, key: str) -> Arm:
    for a in arms_of(study):
        if a.key == key:
            return a
    raise ValueError(f"study {study!r} has no arm {key!r}; arms: {[a.key for a in ARMS[study]]}")


def planned_runs(studies=STUDY_IDS, seeds=SEEDS, steps: int | None = None):
    """Every (study, arm key, seed, config) the precompute must have; configs may repeat."""
    return [(s, a.key, seed, a.config(seed, steps))
            for s in studies for a in arms_of(s) for seed in seeds]
