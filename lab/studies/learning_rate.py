"""Study 9: how sensitive training is to the step size (lr 0.001 to 0.1)."""

from __future__ import annotations

from lab.data.studydata import StudyData
from lab.measure.registry import METRICS
from lab.studies import prose as pr
from lab.studies.study import Observation, Study, arms_over
from lab.studies.verdicts import Verdict, middle_beats_edges
from lab.training.config import BASELINE

CLAIM = "the baseline learning rate beats both a much smaller and a much larger one"
_LR = f"lr={BASELINE.lr:g}"


def verdict(data: StudyData) -> Verdict:
    """lr=0.01 (baseline) vs lr=0.001 and lr=0.1 on final held-out loss."""
    return middle_beats_edges(data, CLAIM)


def best(data: StudyData) -> str:
    return pr.edge_or_middle(data, pr.best_arm(data)) + "."


def blowups(data: StudyData) -> str:
    unstable = "; ".join(f"{data.label(k)} {int((data.of_arm(k)['status'] == 'unstable').sum())}"
                         for k in data.arm_keys)
    return (f"Failed runs: {pr.failures(data)}. Runs that learned and then lost ground: "
            f"{unstable}.")


def slowest(data: StudyData) -> str:
    slow, top = data.arm_keys[0], pr.best_arm(data)
    if top is None:
        return "No arm has a finite final loss (0 to compare)."
    start = pr.step0_val(data, slow)
    share = (start - data.median(slow, "final_val_loss")) / (
        pr.step0_val(data, top) - data.median(top, "final_val_loss"))
    return (f"{data.label(slow)} brings the median held-out loss from {pr.f3(start)} to "
            f"{pr.f3(data.median(slow, 'final_val_loss'))}: {pr.pct(share)} of the drop that "
            f"{data.label(top)} makes in the same number of steps.")


STUDY = Study(
    id="learning_rate", number=9, title="Learning rate", group="Tuning",
    question="How sensitive is training to the step size?",
    hypothesis="Too small a rate crawls and too large a rate overshoots or diverges, so the "
    f"expected picture is a U: the baseline rate ({_LR}) ends lower than both the smallest "
    "and the largest rate tested.",
    arms=arms_over("lr", (0.001, 0.003, 0.01, 0.03, 0.1), lambda v: f"lr={v:g}"),
    metric=METRICS["final_val_loss"],
    views=("loss_curves", "final_loss"),
    verdict=verdict,
    observations=(
        Observation("Which learning rate ends with the lowest loss?", best),
        Observation("Does any learning rate blow up?", blowups),
        Observation("How far does the smallest rate get?", slowest),
    ),
    takeaway=pr.lesson(
        f"The U shows: {_LR} beat both the smallest and the largest rate, so the step size "
        "has a sweet spot between crawling and overshooting.",
        f"No U-shape around {_LR} in these runs."),
)
