"""Study 2: how much a wider hidden state buys (H = 16, 32, 64, 128)."""

from __future__ import annotations

import math

from lab.data.studydata import StudyData
from lab.measure.registry import FLOOR, METRICS
from lab.studies import evidence as ev
from lab.studies import memory as mem
from lab.studies import prose as pr
from lab.studies.study import Observation, Study, arms_over
from lab.studies.verdicts import LOSS, Verdict, build, gate

CLAIM = ("more hidden units carry agreement across longer distances and lower the loss, "
         "with diminishing returns")
LONG = METRICS["agreement_long"]


def verdict(data: StudyData) -> Verdict:
    """Largest vs smallest H on long agreement, memory horizon and loss; the first doubling
    lowers the loss more than the last."""
    keys = data.arm_keys
    if v := gate(data, keys, CLAIM):
        return v
    small, big = keys[0], keys[-1]
    gain_first = ev.paired(data, keys[0], keys[1], "final_val_loss")
    gain_last = ev.paired(data, keys[-2], keys[-1], "final_val_loss")
    checks = [
        ev.compare(data, big, small, LONG),
        ev.compare(data, big, small, METRICS["memory_horizon"]),
        ev.compare(data, big, small, LOSS),
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
    floor_gap = data.median(keys[-1], "final_val_loss") / FLOOR - 1
    return ("Median final held-out loss, doubling by doubling: " + "; ".join(steps) + ". "
            f"{data.label(keys[-1])} ends {pr.pct(floor_gap)} above the floor ({FLOOR:.3f}). "
            "The words and their order take few units; what extra units buy is room to keep "
            "pending subjects' numbers, which only the sentences with relative clauses need, "
            "so each doubling has less left to win.")


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
    return (text[0].upper() + text[1:] + ". W_hh alone grows with H squared, so the "
            "parameters of each doubling cost four times those of the one before it.")


def horizon(data: StudyData) -> str:
    parts = [f"{data.label(k)} {mem.pc(data.median(k, 'agreement_long'))} (horizon "
             f"{_chars(data.median(k, 'memory_horizon'))})" for k in data.arm_keys]
    small, big = data.arm_keys[0], data.arm_keys[-1]
    probe = data.median(small, "number_probe_long")
    gap = (f" Even in {data.label(small)} a linear probe reads the number from the state "
           f"{mem.pc(probe)} of the time at those distances, so part of what is missing is "
           "the readout using it, not only the state holding it." if math.isfinite(probe)
           and probe >= data.median(small, "agreement_long") + LONG.min_effect else "")
    return (f"Median agreement for subjects {mem.LONG}+ characters back (chance 50%), and "
            "memory horizon: " + "; ".join(parts) + ". To hold a subject's number across a clause, "
            "some direction of the state must keep it while the clause's own words also pass "
            "through the same units; with few units, the words of the clause overwrite it."
            f" {data.label(big)} has room for both." + gap)


def _chars(x: float) -> str:
    return f"{mem.horizon_text(x)} chars" if math.isfinite(x) else "no value"


def takeaway(data: StudyData, v: Verdict) -> str:
    """What width bought here, and why a vanilla RNN needs it for agreement."""
    small, big = data.arm_keys[0], data.arm_keys[-1]
    a, b = data.median(small, "agreement_long"), data.median(big, "agreement_long")
    la, lb = data.median(small, "final_val_loss"), data.median(big, "final_val_loss")
    moved = v.checks and v.checks[0].status == "holds"
    lead = (f"Width buys memory: {data.label(small)} agrees with subjects {mem.LONG}+ "
            f"characters back {mem.pc(a)} of the time, {data.label(big)} {mem.pc(b)}, and "
            f"the held-out loss goes from {pr.f3(la)} to {pr.f3(lb)} nats/char." if moved else
            f"Width did not clearly buy long-distance agreement here: {data.label(small)} "
            f"{mem.pc(a)}, {data.label(big)} {mem.pc(b)} (loss {pr.f3(la)} and {pr.f3(lb)}).")
    return (lead + " A vanilla RNN has one state vector for everything it tracks: the "
            "current word, where it is in the sentence, and every pending subject's number. "
            "The pending number must survive every word of the clause being written into the "
            "same units, which needs spare dimensions. " + pr.verdict_tail(v))


STUDY = Study(
    id="hidden_size", number=2, title="Hidden size", group="Memory and gradients",
    question="How much does a wider hidden state buy, and does it buy memory?",
    hypothesis="While a relative clause is read, the state must keep the subject's number "
    "and also track the clause's own words. A wider state has room for both, so long-distance "
    "agreement and the loss should improve as H grows. Parameters grow roughly with H "
    "squared while the grammar stays small, so each doubling should buy less than the one "
    "before.",
    arms=arms_over("hidden", (16, 32, 64, 128), lambda v: f"H={v}"),
    metric=METRICS["agreement_long"],
    views=("loss_curves", "final_loss_vs_params", "agreement_by_distance",
           "agreement_by_condition", "number_probe", "memory_horizon"),
    verdict=verdict,
    observations=(
        Observation("Does each doubling of H lower the held-out loss?", doublings),
        Observation("What does each added parameter buy?", per_param),
        Observation("Does a wider hidden state carry the subject's number further?",
                    horizon),
    ),
    prediction="Which hidden size will agree best with a subject 16 or more characters back?",
    prediction_metric="agreement_long",
    takeaway=takeaway,
)
