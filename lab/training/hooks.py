"""What the training loop shows its instrumentation: the live `Stack` and the `Recorder`
hooks (lab.training.recorders implements them). Apart from the engine, so a recorder needs
no import of the loop that calls it."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from lab.training.config import RunConfig
from lab.training.model import StackedRNN
from lab.training.results import Contribution


@dataclass
class Stack:
    """The live state of a stack being trained: what recorders may read."""

    configs: list[RunConfig]
    model: StackedRNN
    alive: torch.Tensor  # (R,) bool: still training
    diverged_at: list[int | None]
    steps: int
    step: int = 0
    recorders: list = field(default_factory=list)  # attached instrumentation (recorders)

    @property
    def R(self) -> int:
        return len(self.configs)


class Recorder:
    """Instrumentation hooks; subclasses override what they need (see lab.training.recorders)."""

    def on_step(self, st: Stack, loss: torch.Tensor, gnorm: torch.Tensor, clipped: torch.Tensor):
        """After step st.step's update: per-run char loss, pre-clip grad norm, clip fired."""

    def on_checkpoint(self, st: Stack) -> None:
        """At a checkpoint step (st.step updates done)."""

    def on_end(self, st: Stack) -> None:
        """After the last step, on the final weights."""

    def contribute(self, st: Stack, r: int) -> Contribution:
        """Run r's tables, scalars and final numbers measured by this recorder."""
        return Contribution()
