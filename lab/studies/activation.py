"""Study 4: the activation function (tanh, relu, sigmoid, identity), stability and memory."""

from __future__ import annotations

import math

from lab.data.studydata import StudyData
from lab.measure.registry import METRICS, SATURATION_RULE
from lab.studies import evidence as ev
from lab.studies import prose as pr
from lab.studies.study import Observation, Study, arms_over
from lab.studies.verdicts import LOSS, Verdict, build, gate
from lab.training.config import ACTIVATIONS

CLAIM = ("tanh trains stably, ends lower than relu, sigmoid and identity, and carries the "
         "subject's number further than sigmoid")
LONG = METRICS["agreement_long"]


def verdict(data: StudyData) -> Verdict:
    """tanh vs each other activation on final loss (failed runs worst), tanh vs sigmoid on
    long agreement, and tanh never fails."""
    if v := gate(data, data.arm_keys, CLAIM):
        return v
    checks = [ev.compare(data, "tanh", k, LOSS) for k in data.arm_keys if k != "tanh"]
    checks.append(ev.compare(data, "tanh", "sigmoid", LONG))
    checks.append(ev.stability_check(data, "tanh"))
    return build(CLAIM, checks, ev.failure_notes(data))


def stability(data: StudyData) -> str:
    return (f"Failed runs per activation: {pr.failures(data)}. Median gradient norm before "
            f"clipping: {pr.per_arm(data, 'median_grad_norm', lambda x: pr.f3(x, 2))}.")


def lowest(data: StudyData) -> str:
    return ("Median final held-out loss, lowest first (failed seeds count as worst): "
            f"{pr.ranking(data, 'final_val_loss', True)}. Long-distance agreement: "
            f"{pr.per_arm(data, 'agreement_long', pr.pct)} (50% is a coin flip).")


def saturation(data: StudyData) -> str:
    rules = "; ".join(f"{a}: {r}" for a, r in SATURATION_RULE.items() if a in data.arm_keys)
    text = ("Share of hidden units saturated at the end (slope under a tenth of the "
            f"activation's peak): {pr.per_arm(data, 'h_saturated_final', pr.pct)}. What "
            f"counts as saturated differs per activation ({rules}). A saturated unit passes "
            "almost no gradient back on that step, whatever W_hh is.")
    if "relu" in data.arm_keys:
        text += (" For relu, saturated means switched off: the unit's input is below 0, so it "
                 "outputs 0 and its slope is 0. It is off only for that character and can be "
                 f"on at the next, so a share of {pr.pct(data.median('relu', 'h_saturated_final'))}"
                 " is a sparse code rather than stuck units: relu "
                 f"{pr.end_state(data, 'relu')}, tanh {pr.end_state(data, 'tanh')}.")
    return text


def _why(key: str) -> str:
    return {
        "relu": "relu is unbounded, so a state that W_hh amplifies keeps growing, and its "
        "zero slope below 0 switches units off",
        "sigmoid": "sigmoid's slope is at most 1/4, so every step back multiplies the "
        "gradient by a quarter or less and the subject's number is forgotten before the verb",
        "identity": "identity makes the network linear: it cannot gate what to keep, and its "
        "state explodes or fades as W_hh's largest eigenvalue is above or below 1",
    }.get(key, "")


def _tie_why(data: StudyData, key: str) -> str:
    """Why an activation that ties tanh can: said only where the runs show it."""
    if key == "relu" and data.n_failed("relu") == 0:
        return ("a relu unit that is on has slope exactly 1, so the gradient passes back "
                "through it unshrunk, as through tanh near zero, and its unbounded output did "
                "not run away here (no seed failed) because clipping caps the size of every update")
    return "its seed range overlaps tanh's"


def rivals(data: StudyData) -> tuple[list[str], list[str]]:
    """The activations that tie tanh on final loss (within the seed spread or the minimum
    effect, with a finite median) and those that beat it beyond both."""
    status = {k: ev.compare(data, "tanh", k, LOSS).status for k in data.arm_keys if k != "tanh"}
    finite = {k for k in status if math.isfinite(data.median(k, "final_val_loss"))}
    # an arm whose median seed failed overlaps tanh only through its one finished seed: not
    # a tie, however the ranges fall
    return ([k for k, x in status.items() if x in ("unclear", "negligible") and k in finite],
            [k for k, x in status.items() if x == "fails"])


def _weakness(data: StudyData, key: str) -> tuple[int, float]:
    """Failed seeds first, then the finished seeds' median loss: two arms that both failed in
    most seeds have the same (failed) median, so that alone cannot rank them."""
    done = data.values(key, "final_val_loss")
    done = done[done < float("inf")]
    return data.n_failed(key), float(done.median()) if len(done) else float("inf")


def takeaway(data: StudyData, v: Verdict) -> str:
    """tanh's loss and long agreement, every activation that ties or beats it (with its long
    agreement), the weakest and why, and tanh's mechanism."""
    lt = data.median("tanh", "final_val_loss")
    a_t = data.median("tanh", "agreement_long")
    first = (f"tanh ended at {pr.f3(lt)} nats/char (nats: the loss measured with the natural "
             f"log) and agreed over long distances {pr.pct(a_t)} of the time.")
    ties, beats = rivals(data)
    if "sigmoid" in data.arm_keys and "sigmoid" not in ties + beats:
        first += f" sigmoid agreed {pr.pct(data.median('sigmoid', 'agreement_long'))}."
    near = []
    for k in [*ties, *beats]:
        how = "ties tanh" if k in ties else "beats tanh"
        a_k = data.median(k, "agreement_long")
        near.append(f"{data.label(k)} {how} on loss ({pr.f3(data.median(k, 'final_val_loss'))} "
                    f"against {pr.f3(lt)}) and agreed over long distances {pr.pct(a_k)} of the "
                    f"time against tanh's {pr.pct(a_t)}"
                    + (f", because {_tie_why(data, k)}" if k in ties else "") + ".")
    rest = [k for k in data.arm_keys if k != "tanh" and k not in ties and k not in beats]
    worst = max(rest, key=lambda k: _weakness(data, k), default=None)
    why = _why(worst) if worst else ""
    second = (f"The weakest was {data.label(worst)}, which {pr.end_state(data, worst)}"
              + (f", because {why}." if why else ".") if worst else "")
    also = [k for k in rest if k != worst and data.n_failed(k) and data.n_failed(worst)]
    if also:
        second += (" " + pr.and_list([f"{data.label(k)} failed in {data.n_failed(k)} of "
                                      f"{len(data.of_arm(k))} seeds" for k in also])
                   + " too, and ended higher than tanh in the seeds that finished.")
    third = ("tanh is bounded, centred on zero and has slope 1 near zero, so the gradient "
             "passes back through unsaturated units almost unshrunk while the state cannot "
             "run away.")
    if v.outcome != "supported":
        third += f" Yet the verdict is {v.outcome}: not every comparison cleared the seed " \
                 "spread and the minimum effect."
    return " ".join(x for x in (first, *near, second, third) if x)


STUDY = Study(
    id="activation", number=4, title="Activation function", group="Stability",
    question="What does the nonlinearity do for a vanilla RNN's stability and memory?",
    hypothesis="The gradient that teaches a verb its subject's number passes back through "
    "the activation's slope once per character. tanh is bounded, centred on zero and has "
    "slope up to 1, so it should train stably, end lower than relu (unbounded), sigmoid "
    "(slope at most 1/4) and identity (linear, so the state can grow without limit), and "
    "carry the number across a relative clause better than sigmoid.",
    arms=arms_over("activation", ACTIVATIONS),
    metric=METRICS["final_val_loss"],
    views=("loss_curves", "hidden_stats", "grad_norm_log", "final_loss"),
    verdict=verdict,
    observations=(
        Observation("Which activations train without failing?", stability),
        Observation("Which activation reaches the lowest loss and the best long agreement?",
                    lowest),
        Observation("How saturated are the hidden units at the end?", saturation),
    ),
    prediction="Which activation will end with the lowest held-out loss?",
    prediction_metric="final_val_loss",
    takeaway=takeaway,
)
