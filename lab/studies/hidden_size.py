"""Study 2: how much a wider hidden state buys (H = 16, 32, 64, 128)."""

from __future__ import annotations

import math

from lab.data.studydata import StudyData
from lab.measure.registry import METRICS
from lab.studies import evidence as ev
from lab.studies import prose as pr
from lab.studies.study import Observation, Study, arms_over
from lab.studies.verdicts import LOSS, Verdict, build, gate

CLAIM = "more hidden units lower the loss and lengthen memory, with diminishing returns"


def verdict(data: StudyData) -> Verdict:
    """Largest vs smallest H on loss and horizon; the first doubling gains more than the last."""
    keys = data.arm_keys
    if v := gate(data, keys, CLAIM):
        return v
    small, big = keys[0], keys[-1]
    gain_first = ev.paired(data, keys[0], keys[1], "final_val_loss")
    gain_last = ev.paired(data, keys[-2], keys[-1], "final_val_loss")
    checks = [
        ev.compare(data, big, small, LOSS),
        ev.compare(data, big, small, METRICS["memory_horizon"]),
        ev.compare_values(f"{data.label(keys[0])} to {data.label(keys[1])}", gain_first,
                          f"{data.label(keys[-2])} to {data.label(keys[-1])}", gain_last,
                          METRICS["loss_gain"],
                          "the first doubling of H lowers the loss more than the last one"),
    ]
    return build(CLAIM, checks, ev.failure_notes(data))


def doublings(data: StudyData) -> str:
    keys = data.arm_keys
    steps = []
    for a, b in zip(keys, keys[1:], strict=False):
        la, lb = data.median(a, "final_val_loss"), data.median(b, "final_val_loss")
        steps.append(f"{data.label(a)} to {data.label(b)}: {pr.direction(la, lb, 0.0005)} "
                     f"from {pr.f3(la)} to {pr.f3(lb)}")
    return "Median final held-out loss, doubling by doubling: " + "; ".join(steps) + "."


def per_param(data: StudyData) -> str:
    keys = data.arm_keys
    parts = []
    for a, b in ((keys[0], keys[1]), (keys[-2], keys[-1])):
        pa, pb = data.median(a, "params"), data.median(b, "params")
        drop = data.median(a, "final_val_loss") - data.median(b, "final_val_loss")
        per_k = drop / (pb - pa) * 1000 if pb > pa else math.nan
        verb = "lowers" if drop > 0 else "raises"
        parts.append(f"going from {data.label(a)} to {data.label(b)} adds {pb - pa:,.0f} "
                     f"parameters and {verb} the median loss by {pr.f3(abs(per_k), 4)} "
                     "nats/char per 1,000 added")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def horizon(data: StudyData) -> str:
    return ("Median memory horizon in characters: "
            f"{pr.per_arm(data, 'memory_horizon', lambda x: pr.f3(x, 0))}. Longest first: "
            f"{pr.ranking(data, 'memory_horizon', False, lambda x: pr.f3(x, 0))}.")


STUDY = Study(
    id="hidden_size", number=2, title="Hidden size", group="Memory and gradients",
    question="How much does a wider hidden state buy?",
    hypothesis="A wider state has room for more of the history, so the loss should fall and "
    "the memory lengthen as H grows. Parameters grow roughly with H squared while the grammar "
    "stays small, so each doubling should buy less than the one before.",
    arms=arms_over("hidden", (16, 32, 64, 128), lambda v: f"H={v}"),
    metric=METRICS["memory_horizon"],
    views=("loss_curves", "final_loss_vs_params", "memory_horizon"),
    verdict=verdict,
    observations=(
        Observation("Does each doubling of H lower the held-out loss?", doublings),
        Observation("What does each added parameter buy?", per_param),
        Observation("Does a wider hidden state remember further back?", horizon),
    ),
    takeaway=pr.lesson(
        "Capacity helps with diminishing returns: the largest H ends lowest and remembers "
        "furthest, but the last doubling buys less than the first.",
        "Wider was not better in these runs."),
)
