"""Study 7: reservoir computing, W_hh trained vs frozen after orthogonal init."""

from __future__ import annotations

import math

from lab.data.studydata import StudyData
from lab.measure.registry import METRICS
from lab.studies import evidence as ev
from lab.studies import prose as pr
from lab.studies.study import Arm, Observation, Study
from lab.studies.verdicts import LOSS, Verdict, build, gate

CLAIM = ("a frozen orthogonal W_hh still separates word categories well above chance, but "
         "training W_hh does better on loss and separation")


def verdict(data: StudyData) -> Verdict:
    """Trained vs frozen on loss and separation; frozen separation above the chance level."""
    if v := gate(data, ("trained", "frozen"), CLAIM):
        return v
    sep = METRICS["category_separation"]
    chance = data.values("frozen", "category_chance")
    limit = float(chance.max()) if len(chance) else float("nan")
    checks = [
        ev.compare(data, "trained", "frozen", LOSS),
        ev.compare(data, "trained", "frozen", sep),
        ev.threshold_check(data.label("frozen"), data.values("frozen", sep.name), limit, sep,
                           "the frozen reservoir separates categories above chance", above=True),
    ]
    return build(CLAIM, checks, ev.failure_notes(data))


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


STUDY = Study(
    id="reservoir", number=7, title="Reservoir computing", group="Representations",
    question="How much of the learning needs W_hh to be trained at all?",
    hypothesis="An orthogonal W_hh left untrained still mixes the input history into a rich "
    "state (the echo-state idea), so a trained readout should learn much of the grammar and "
    "its word-end states should separate the word categories well above chance. Training "
    "W_hh as well should still do better on both loss and separation.",
    arms=(Arm("trained", "W_hh trained", {"freeze_whh": False}),
          Arm("frozen", "W_hh frozen (reservoir)", {"freeze_whh": True})),
    metric=METRICS["category_separation"],
    views=("loss_curves", "final_loss", "category_separation"),
    verdict=verdict,
    observations=(
        Observation("How close does the frozen reservoir come to the trained network?", gap),
        Observation("Do word-end states separate the categories without training W_hh?",
                    separation),
        Observation("How many parameters does each train?", params),
    ),
    takeaway=pr.lesson(
        "A random orthogonal W_hh already carries useful structure, and training it refines "
        "that structure: the reservoir separates categories above chance, the trained "
        "network does better still.",
        "The reservoir story did not hold in these runs."),
)
