"""Study 5: where the gradient clip threshold should sit (0.5 to 50)."""

from __future__ import annotations

from lab.data.studydata import StudyData
from lab.measure.registry import METRICS
from lab.studies import evidence as ev
from lab.studies import prose as pr
from lab.studies.study import Observation, Study, arms_over
from lab.studies.verdicts import Verdict, middle_beats_edges
from lab.training.config import BASELINE

CLAIM = "a middle clip threshold beats both a very tight and a very loose one"
_CLIP = f"clip={BASELINE.clip:g}"


def verdict(data: StudyData) -> Verdict:
    """clip=5 (baseline) vs clip=0.5 and clip=50 on final held-out loss."""
    return middle_beats_edges(data, CLAIM)


def rate(data: StudyData) -> str:
    return f"Share of steps clipped over the run: {pr.per_arm(data, 'clip_fraction', pr.pct)}."


def best(data: StudyData) -> str:
    return pr.edge_or_middle(data, pr.best_arm(data)) + f". Failed runs: {pr.failures(data)}."


def timing(data: StudyData) -> str:
    k = ev.baseline_arm(data)
    early, late = pr.early_late(data, "curves", k, "clip_frac")
    how = pr.direction(early, late, 0.01, "more often late than early",
                       "more often early than late", "about as often early as late")
    return (f"With {data.label(k)}, clipping fired on {pr.pct(early)} of steps in the first "
            f"tenth of training and {pr.pct(late)} in the last tenth: {how}.")


STUDY = Study(
    id="clipping", number=5, title="Gradient clipping", group="Stability",
    question="Where should the clip threshold sit?",
    hypothesis="Clipping too hard shrinks nearly every update and slows learning; clipping "
    "too little lets rare gradient spikes through. The expected picture is a U: the baseline "
    f"threshold ({_CLIP}) ends lower than both the tightest and the loosest threshold.",
    arms=arms_over("clip", (0.5, 1.0, 5.0, 10.0, 50.0), lambda v: f"clip={v:g}"),
    metric=METRICS["clip_fraction"],
    views=("loss_curves", "clip_fraction", "final_loss_vs_clip"),
    verdict=verdict,
    observations=(
        Observation("How often does each threshold clip?", rate),
        Observation("Which threshold ends with the lowest loss, and is it in the middle?",
                    best),
        Observation("Does clipping fire more early in training than late?", timing),
    ),
    takeaway=pr.lesson(
        f"The U shows: {_CLIP} beat both the tightest and the loosest threshold, so clipping "
        "works best as a guard against spikes rather than a brake on every step.",
        f"No U-shape around {_CLIP} in these runs."),
)
