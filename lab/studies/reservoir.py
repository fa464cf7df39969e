"""Study 7: reservoir computing, W_hh trained vs frozen after orthogonal init."""

from __future__ import annotations

import math

from lab.data.studydata import StudyData
from lab.measure.registry import METRICS
from lab.studies import evidence as ev
from lab.studies import memory as mem
from lab.studies import prose as pr
from lab.studies.study import Arm, Observation, Study
from lab.studies.verdicts import LOSS, Verdict, build, gate

CLAIM = ("training W_hh beats a frozen reservoir on loss and on long-distance agreement, "
         "though the reservoir still holds a subject's number over a short span and separates "
         "word categories above chance")
LONG, NEAR = METRICS["agreement_long"], METRICS["agreement_none"]
ABOVE_CHANCE = 0.5 + NEAR.min_effect


def verdict(data: StudyData) -> Verdict:
    """Trained vs frozen on long agreement and loss; the frozen reservoir's agreement without
    a relative clause and its category separation above chance in every seed."""
    if v := gate(data, ("trained", "frozen"), CLAIM):
        return v
    sep = METRICS["category_separation"]
    chance = data.values("frozen", "category_chance")
    limit = float(chance.max()) if len(chance) else float("nan")
    frozen = data.label("frozen")
    checks = [
        ev.compare(data, "trained", "frozen", LONG),
        ev.compare(data, "trained", "frozen", LOSS),
        ev.threshold_check(frozen, data.values("frozen", NEAR.name), ABOVE_CHANCE, NEAR,
                           f"the frozen reservoir agrees above chance (over "
                           f"{mem.pc(ABOVE_CHANCE)}) when no clause intervenes", above=True),
        ev.threshold_check(frozen, data.values("frozen", sep.name), limit, sep,
                           "the frozen reservoir separates categories above chance", above=True),
    ]
    return build(CLAIM, checks, ev.failure_notes(data))


def by_distance(data: StudyData) -> str:
    near = {k: mem.nearest_bin(data, k) for k in data.arm_keys}
    far = {k: data.median(k, "agreement_long") for k in data.arm_keys}
    parts = [f"{data.label(k)} {mem.pc(near[k])} within {mem.NEAR} characters, "
             f"{mem.pc(far[k])} for {mem.LONG} or more" for k in data.arm_keys]
    return ("Median agreement by distance to the subject (chance 50%): " + "; ".join(parts)
            + ". A frozen random W_hh mixes each new character into a state that fades at "
            "its own fixed pace; only the readout learns, so it can use the number only "
            "while that fading echo still holds it. Training W_hh can shape a direction that "
            "keeps the number and protect it from the clause's words.")


def gap(data: StudyData) -> str:
    parts, drops = [], {}
    for k in data.arm_keys:
        start, end = pr.step0_val(data, k), data.median(k, "final_val_loss")
        drops[k] = start - end
        parts.append(f"{data.label(k)} from {pr.f3(start)} to {pr.f3(end)}")
    share = drops.get("frozen", math.nan) / drops.get("trained", math.nan)
    return (f"Median held-out loss from step 0 to the end: {'; '.join(parts)}. The reservoir "
            f"makes {pr.pct(share)} of the drop the trained network makes.")


def separation(data: StudyData) -> str:
    chance = data.median(data.arm_keys[0], "category_chance")
    return (f"Nearest-centroid category accuracy of word-end states: "
            f"{pr.per_arm(data, 'category_separation', pr.pct)}, against {pr.pct(chance)} for "
            "always guessing the most common category.")


def params(data: StudyData) -> str:
    return (f"Trainable parameters: {pr.per_arm(data, 'params', lambda x: f'{x:,.0f}')}; the "
            "reservoir trains only the input and output weights and biases.")


def takeaway(data: StudyData, v: Verdict) -> str:
    """What training W_hh bought over the reservoir, and why, from the runs."""
    t, f = (data.median(k, "agreement_long") for k in ("trained", "frozen"))
    lt, lf = (data.median(k, "final_val_loss") for k in ("trained", "frozen"))
    near = mem.nearest_bin(data, "frozen")
    return (f"A frozen W_hh is a fixed echo of the recent input: the reservoir agreed "
            f"{mem.pc(near)} of the time with a subject within {mem.NEAR} characters but "
            f"{mem.pc(f)} with one {mem.LONG} or more back, where the trained network "
            f"reached {mem.pc(t)}. Its "
            f"held-out loss ended at {pr.f3(lf)} nats/char against {pr.f3(lt)} trained. The "
            "readout can only use what the fixed dynamics happen to keep; learning W_hh lets "
            "the network decide what to keep and for how long. " + pr.verdict_tail(v))


STUDY = Study(
    id="reservoir", number=7, title="Reservoir computing", group="Representations",
    question="How much of the learning needs W_hh to be trained at all?",
    hypothesis="An orthogonal W_hh left untrained still mixes the input history into a rich "
    "state (the echo-state idea), so a trained readout should learn much of the grammar: "
    "local word order, word categories, and a subject's number while it is recent. Carrying "
    "that number across a relative clause needs a state shaped to keep it, so training W_hh "
    "should win on long-distance agreement and on loss.",
    arms=(Arm("trained", "W_hh trained", {"freeze_whh": False}),
          Arm("frozen", "W_hh frozen (reservoir)", {"freeze_whh": True})),
    metric=METRICS["agreement_long"],
    views=("loss_curves", "final_loss", "agreement_by_distance", "agreement_by_condition",
           "number_probe", "category_separation"),
    verdict=verdict,
    observations=(
        Observation("How close does the frozen reservoir come to the trained network?", gap),
        Observation("How far back can a frozen reservoir hold the subject's number?",
                    by_distance),
        Observation("Do word-end states separate the categories without training W_hh?",
                    separation),
        Observation("How many parameters does each train?", params),
    ),
    prediction=("Trained or frozen W_hh: which will agree better with a subject 16 or more "
                "characters back?"),
    prediction_metric="agreement_long",
    takeaway=takeaway,
)
