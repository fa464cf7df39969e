"""Study 5: where the gradient clip threshold should sit, on both sides: two series of the
same thresholds, from clipping every step (0.5) to never (50), one at the baseline's learning
rate and one at a rate where unclipped training blows up (HIGH_LR, calibrated in
docs/performance.md: lr 0.1 at clip 50 diverges within the first hundred steps in every seed,
while clips of 5 and 10 train it), so that too tight and too loose can both lose."""

from __future__ import annotations

import math

from lab.data.studydata import StudyData
from lab.measure.metrics import LONG_DISTANCE
from lab.measure.registry import METRICS
from lab.studies import evidence as ev
from lab.studies import prose as pr
from lab.studies.study import Arm, Observation, Study, arms_over
from lab.studies.verdicts import LOSS, Verdict, build, gate
from lab.training.config import BASELINE

CLIPS = (0.5, 1.0, 5.0, 10.0, 50.0)
HIGH_LR = 0.1  # the learning-rate study's diverging rate: its clip-50 arm is the same run


def high(clip: float) -> str:
    """The arm key of a threshold at HIGH_LR ('hi_lr_0.5'); at the baseline rate it is
    str(clip) ('0.5'), the keys this study had before it had a second series."""
    return f"hi_lr_{clip}"


TIGHT, LOOSE = str(CLIPS[0]), str(CLIPS[-1])
HI_TIGHT, HI_LOOSE = high(CLIPS[0]), high(CLIPS[-1])
HI_MIDDLE = tuple(high(c) for c in CLIPS[1:-1])
SERIES = {BASELINE.lr: tuple(str(c) for c in CLIPS), HIGH_LR: tuple(high(c) for c in CLIPS)}
CLAIM = ("a tight threshold clips nearly every step and slows learning at either learning "
         "rate, while a loose one rarely fires: harmless at the baseline's rate, but at the "
         f"high rate (lr={HIGH_LR:g}) the gradient spikes without a real clip, so there a middle "
         "threshold beats both edges")
CLIPPED = METRICS["clip_fraction"]
LONG = METRICS["agreement_long"]
PEAK = METRICS["grad_norm_peak"]


def best_middle(data: StudyData) -> str:
    """The threshold between the edges with the lowest median final held-out loss at HIGH_LR,
    chosen from the stored runs (clip=5 when none has a finite loss)."""
    m = {k: data.median(k, LOSS.name) for k in HI_MIDDLE}
    m = {k: v for k, v in m.items() if math.isfinite(v)}
    return min(m, key=m.get) if m else HI_MIDDLE[1]


def verdict(data: StudyData) -> Verdict:
    """At the baseline rate: clip 0.5 clips on >90% of steps, clip 50 on <10%, and clip 50
    beats clip 0.5 on final loss and on long-distance agreement. At HIGH_LR: the best middle
    threshold beats clip 0.5 (too tight) and clip 50 (too loose; a failed seed counts as the
    worst loss) on final loss, and clip 50's largest gradient norm is above the middle's."""
    if v := gate(data, data.arm_keys, CLAIM):
        return v
    t, lo, mid = data.label(TIGHT), data.label(LOOSE), best_middle(data)
    hl, m = data.label(HI_LOOSE), data.label(mid)
    checks = [
        ev.threshold_check(t, data.values(TIGHT, "clip_fraction"), 0.9, CLIPPED,
                           f"{t} clips on more than 90% of steps", above=True),
        ev.threshold_check(lo, data.values(LOOSE, "clip_fraction"), 0.1, CLIPPED,
                           f"{lo} clips on fewer than 10% of steps", above=False),
        ev.compare(data, LOOSE, TIGHT, LOSS),
        ev.compare(data, LOOSE, TIGHT, LONG),
        ev.compare(data, mid, HI_TIGHT, LOSS,
                   f"too tight loses at lr={HIGH_LR:g}: {m} ends below {data.label(HI_TIGHT)}"),
        ev.compare(data, mid, HI_LOOSE, LOSS,
                   f"too loose loses at lr={HIGH_LR:g}: {m} ends below {hl}"),
        ev.compare_values(hl, data.values(HI_LOOSE, PEAK.name), m,
                          data.values(mid, PEAK.name), PEAK,
                          f"at lr={HIGH_LR:g} the gradient spikes higher under {hl} than "
                          f"under {m}", lower=False),
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
        c, lr = float(a.overrides["clip"]), float(a.overrides.get("lr", BASELINE.lr))
        parts.append(f"{a.label} {pr.f3(lr * min(c, g), 4)}")
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


def spikes(data: StudyData) -> str:
    keys = SERIES[HIGH_LR]
    peaks = "; ".join(f"{data.label(k)} {pr.f3(data.median(k, PEAK.name), 1)}" for k in keys)
    base = data.median(LOOSE, PEAK.name)
    return (f"Largest gradient norm before clipping, median over seeds, at lr={HIGH_LR:g}: "
            f"{peaks}; at the baseline rate without a real clip ({data.label(LOOSE)}) "
            f"{pr.f3(base, 1)}. {_blowups(data)} A step moves the weights by lr x the "
            "gradient, so at a high rate one large gradient is one huge step: it can throw the "
            "recurrent weights where the state, and the next gradient, grow with every "
            "character, and the loss blows up. A clip caps that step at lr x threshold.")


def _blowups(data: StudyData) -> str:
    failed = [f"{data.label(k)} in {data.n_failed(k)} of {len(data.of_arm(k))} seeds"
              for k in SERIES[HIGH_LR] if data.n_failed(k)]
    if not failed:
        return "No run at that rate failed."
    return f"Runs that failed (diverged or blew up): {pr.and_list(failed)}."


def _best_high(data: StudyData, mid: str) -> str:
    """Where the best threshold at the high rate sits, read from how often it clipped."""
    frac = data.median(mid, "clip_fraction")
    if not math.isfinite(frac):
        return ""
    step = HIGH_LR * float(next(a for a in data.arms if a.key == mid).overrides["clip"])
    if frac >= 0.9:
        return (f" The best threshold here, {data.label(mid)}, clipped {pr.pct(frac)} of steps: "
                f"it sits below the typical gradient, so every update is a step of fixed length "
                f"lr x clip = {step:g}, a smaller effective rate that never spikes.")
    return (f" The best threshold here, {data.label(mid)}, clipped {pr.pct(frac)} of steps: it "
            "sits between the typical gradient and its spikes, cutting only the spikes.")


def takeaway(data: StudyData, v: Verdict) -> str:
    t, lo = data.label(TIGHT), data.label(LOOSE)
    ft, fl = data.median(TIGHT, "clip_fraction"), data.median(LOOSE, "clip_fraction")
    lt, ll = data.median(TIGHT, "final_val_loss"), data.median(LOOSE, "final_val_loss")
    mid = best_middle(data)
    head = (f"{t} clipped {pr.pct(ft)} of steps and {lo} {pr.pct(fl)}. A clipped step "
            "keeps the gradient's direction but throws away its size, so with a tight "
            "threshold every update has the same small length: training behaves as if the "
            f"learning rate were cut, which is why {t} ended at {pr.f3(lt)} nats/char against "
            f"{pr.f3(ll)}.")
    high_side = (f"At lr={HIGH_LR:g} the loose side shows too: {data.label(HI_LOOSE)} "
                 f"{pr.end_state(data, HI_LOOSE)}, {data.label(HI_TIGHT)} "
                 f"{pr.end_state(data, HI_TIGHT)}, and {data.label(mid)} "
                 f"{pr.end_state(data, mid)}. Without a clip, one large gradient times a large "
                 "rate is one huge step." + _best_high(data, mid))
    tail = ("Clipping is a guard against rare spikes: at the baseline's rate the gradient "
            "rarely spikes and the loose threshold costs nothing, while at a high rate it is "
            "what makes the rate usable at all.")
    return " ".join((head, high_side, tail)) + pr.unless_supported(v)


def report(data: StudyData) -> dict:
    """lab.report --json: per series (learning rate), each threshold's final loss, fraction of
    steps clipped and largest gradient norm (median and per seed)."""
    columns = ("final_val_loss", "clip_fraction", "grad_norm_peak")
    arms = {a.key: a for a in data.arms}
    return {"series": [
        {"lr": lr, "thresholds": [{"arm": k, "clip": float(arms[k].overrides["clip"]),
                                   **data.numbers(k, columns)} for k in keys]}
        for lr, keys in SERIES.items()]}


STUDY = Study(
    id="clipping", number=5, title="Gradient clipping", group="Stability",
    question="Where should the clip threshold sit?",
    hypothesis="Clipping rescales any gradient longer than the threshold down to the "
    "threshold. Below the gradient's typical size it fires on nearly every step and acts as "
    "a brake, so learning, and above all the slow learning of agreement across relative "
    f"clauses, should lag, at any learning rate. The baseline threshold ({BASELINE.clip:g}) "
    f"sits far above the typical gradient: at the baseline's rate (lr={BASELINE.lr:g}) it "
    "should rarely fire and learn the most. At a ten times larger rate "
    f"(lr={HIGH_LR:g}) every spike of the gradient becomes a huge step, so there a loose "
    "threshold should lose too, and a middle one win.",
    arms=(*arms_over("clip", CLIPS, lambda v: f"clip={v:g}, lr={BASELINE.lr:g}"),
          *(Arm(high(c), f"clip={c:g}, lr={HIGH_LR:g}", {"clip": c, "lr": HIGH_LR})
            for c in CLIPS)),
    metric=CLIPPED,
    views=("loss_curves", "clip_fraction", "grad_norm_spikes", "final_loss_vs_clip"),
    verdict=verdict,
    observations=(
        Observation("How often does each threshold clip?", rate),
        Observation("What does clipping do to the length of a step?", effective),
        Observation("Which threshold ends lowest, and which agrees best over long distances?",
                    outcome),
        Observation(f"What happens to the gradient at lr={HIGH_LR:g} without a real clip?",
                    spikes),
    ),
    prediction="Which clip threshold will end with the lowest held-out loss?",
    prediction_metric="final_val_loss",
    takeaway=takeaway,
    report=report,
)
