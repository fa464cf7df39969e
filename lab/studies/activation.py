"""Study 4: the activation function (tanh, relu, sigmoid, identity) and stability."""

from __future__ import annotations

from lab.data.studydata import StudyData
from lab.measure.registry import METRICS
from lab.studies import evidence as ev
from lab.studies import prose as pr
from lab.studies.study import Observation, Study, arms_over
from lab.studies.verdicts import LOSS, Verdict, build, gate
from lab.training.config import ACTIVATIONS

CLAIM = "tanh trains stably and reaches a lower loss than relu, sigmoid or identity"


def verdict(data: StudyData) -> Verdict:
    """tanh vs each other activation on final loss (failed runs worst), and tanh never fails."""
    if v := gate(data, data.arm_keys, CLAIM):
        return v
    checks = [ev.compare(data, "tanh", k, LOSS) for k in data.arm_keys if k != "tanh"]
    checks.append(ev.stability_check(data, "tanh"))
    return build(CLAIM, checks, ev.failure_notes(data))


def stability(data: StudyData) -> str:
    return (f"Failed runs per activation: {pr.failures(data)}. Median pre-clip gradient norm: "
            f"{pr.per_arm(data, 'median_grad_norm', lambda x: pr.f3(x, 2))}.")


def lowest(data: StudyData) -> str:
    return ("Median final held-out loss, lowest first (failed seeds count as worst): "
            f"{pr.ranking(data, 'final_val_loss', True)}.")


def saturation(data: StudyData) -> str:
    return ("Share of saturated hidden units at the end, each by its activation's own rule: "
            f"{pr.per_arm(data, 'h_saturated_final', pr.pct)}.")


STUDY = Study(
    id="activation", number=4, title="Activation function", group="Stability",
    question="What does the nonlinearity do for a vanilla RNN's stability and learning?",
    hypothesis="tanh is the classic choice: bounded, centred on zero, with slope up to 1. The "
    "expectation is that it trains stably and ends lower than relu (unbounded), sigmoid "
    "(slope at most 1/4 and never negative) and identity (a linear system whose state can "
    "grow without limit).",
    arms=arms_over("activation", ACTIVATIONS),
    metric=METRICS["final_val_loss"],
    views=("loss_curves", "hidden_stats", "grad_norm_log", "final_loss"),
    verdict=verdict,
    observations=(
        Observation("Which activations train without failing?", stability),
        Observation("Which activation reaches the lowest held-out loss?", lowest),
        Observation("How saturated are the hidden units at the end?", saturation),
    ),
    takeaway=pr.lesson(
        "tanh earns its place: it never failed and ended below every other activation in "
        "every seed.",
        "tanh was not the winner in these runs."),
)
