"""Study 5: where the gradient clip threshold should sit, from clipping every step (0.5) to
never (50, the calibrated baseline)."""

from __future__ import annotations

from lab.data.studydata import StudyData
from lab.measure.metrics import LONG_DISTANCE
from lab.measure.registry import METRICS
from lab.studies import evidence as ev
from lab.studies import prose as pr
from lab.studies.study import Observation, Study, arms_over
from lab.studies.verdicts import LOSS, Verdict, build, gate
from lab.training.config import BASELINE

CLIPS = (0.5, 1.0, 5.0, 10.0, 50.0)
TIGHT, LOOSE = "0.5", "50.0"
CLAIM = ("a tight threshold clips nearly every step and slows learning, while the baseline's "
         "loose threshold rarely fires and learns more, including the long agreements")
CLIPPED = METRICS["clip_fraction"]
LONG = METRICS["agreement_long"]


def verdict(data: StudyData) -> Verdict:
    """clip 0.5 clips on >90% of steps, clip 50 on <10%; clip 50 beats clip 0.5 on final
    loss and on long-distance agreement (effect-size rule)."""
    if v := gate(data, (TIGHT, LOOSE), CLAIM):
        return v
    t, lo = data.label(TIGHT), data.label(LOOSE)
    checks = [
        ev.threshold_check(t, data.values(TIGHT, "clip_fraction"), 0.9, CLIPPED,
                           f"{t} clips on more than 90% of steps", above=True),
        ev.threshold_check(lo, data.values(LOOSE, "clip_fraction"), 0.1, CLIPPED,
                           f"{lo} clips on fewer than 10% of steps", above=False),
        ev.compare(data, LOOSE, TIGHT, LOSS),
        ev.compare(data, LOOSE, TIGHT, LONG),
    ]
    return build(CLAIM, checks, ev.failure_notes(data))



def rate(data: StudyData) -> str:
    g = data.median(TIGHT, "median_grad_norm")
    return (f"Share of steps clipped: {pr.per_arm(data, 'clip_fraction', pr.pct)}. The median "
            f"gradient norm before clipping is {pr.f3(g, 2)} with {data.label(TIGHT)}: any "
            "threshold below the typical norm fires on almost every step, one well above it "
            "almost never.")


def effective(data: StudyData) -> str:
    parts = []
    for a in data.arms:
        g = data.median(a.key, "median_grad_norm")
        c = float(a.overrides["clip"])
        parts.append(f"{a.label} {pr.f3(BASELINE.lr * min(c, g), 4)}")
    return ("A clipped step has length lr x threshold, whatever the gradient said; an "
            "unclipped one lr x gradient norm. Typical step length (lr x the smaller of the "
            f"threshold and the median gradient norm): {'; '.join(parts)}. Clipping every "
            "step is the same as training with a smaller learning rate and a normalised "
            "gradient.")


def outcome(data: StudyData) -> str:
    return (f"Median final held-out loss: {pr.per_arm(data, 'final_val_loss')} (floor "
            f"{pr.FLOOR:.3f}). Long-distance agreement (subject {LONG_DISTANCE}+ characters "
            f"back): "
            f"{pr.per_arm(data, 'agreement_long', pr.pct)}. Failed runs: "
            f"{pr.failures(data)}.")


def takeaway(data: StudyData, v: Verdict) -> str:
    t, lo = data.label(TIGHT), data.label(LOOSE)
    ft, fl = data.median(TIGHT, "clip_fraction"), data.median(LOOSE, "clip_fraction")
    lt, ll = data.median(TIGHT, "final_val_loss"), data.median(LOOSE, "final_val_loss")
    at, al = data.median(TIGHT, "agreement_long"), data.median(LOOSE, "agreement_long")
    head = (f"{t} clipped {pr.pct(ft)} of steps and {lo} {pr.pct(fl)}. A clipped step "
            "keeps the gradient's direction but throws away its size, so with a tight "
            "threshold every update has the same small length: training behaves as if the "
            "learning rate were cut.")
    if v.outcome == "supported":
        mid = (f"That slower descent shows at the end: {t} finished at {pr.f3(lt)} nats/char "
               f"against {pr.f3(ll)}, and agreed across long distances {pr.pct(at)} of the "
               f"time against {pr.pct(al)}, because the weights that carry a subject's number "
               "across a relative clause are learned last.")
    else:
        mid = (f"The end points: {t} {pr.f3(lt)} nats/char and {pr.pct(at)} long agreement, "
               f"{lo} {pr.f3(ll)} and {pr.pct(al)}. {_status_line(v)}")
    tail = ("Clipping is a guard against rare spikes; on this baseline the gradient rarely "
            "spikes, so the loose threshold costs nothing.")
    return " ".join((head, mid, tail)) + pr.unless_supported(v)


def _status_line(v: Verdict) -> str:
    words = {"holds": "held", "fails": "went the other way", "unclear": "stayed within seed "
             "noise", "negligible": "was too small to matter"}
    return " ".join(f"The check that {c.claim} {words[c.status]}." for c in v.checks[2:])


STUDY = Study(
    id="clipping", number=5, title="Gradient clipping", group="Stability",
    question="Where should the clip threshold sit?",
    hypothesis="Clipping rescales any gradient longer than the threshold down to the "
    "threshold. Below the gradient's typical size it fires on nearly every step and acts as "
    "a brake, so learning, and above all the slow learning of agreement across relative "
    f"clauses, should lag. The baseline threshold ({BASELINE.clip:g}) sits far above the "
    "typical gradient, so it should rarely fire and learn the most.",
    arms=arms_over("clip", CLIPS, lambda v: f"clip={v:g}"),
    metric=CLIPPED,
    views=("loss_curves", "clip_fraction", "final_loss_vs_clip"),
    verdict=verdict,
    observations=(
        Observation("How often does each threshold clip?", rate),
        Observation("What does clipping do to the length of a step?", effective),
        Observation("Which threshold ends lowest, and which agrees best over long distances?",
                    outcome),
    ),
    prediction="Which clip threshold will end with the lowest held-out loss?",
    prediction_metric="final_val_loss",
    takeaway=takeaway,
)
