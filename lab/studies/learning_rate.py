"""Study 9: how sensitive training is to the step size, from too slow (lr 0.001) to
diverged (lr 0.1)."""

from __future__ import annotations

import math
from itertools import pairwise

from lab.data.studydata import StudyData
from lab.measure.registry import METRICS
from lab.studies import evidence as ev
from lab.studies import prose as pr
from lab.studies.study import Observation, Study, arms_over
from lab.studies.verdicts import LOSS, Verdict, build, gate
from lab.training.config import BASELINE

RATES = (0.001, 0.003, 0.01, 0.03, 0.1)
SLOW, BASE, FAST = "0.001", str(BASELINE.lr), "0.1"
CLAIM = ("the baseline rate learns more than a ten times smaller one, which crawls, and a "
         "ten times larger one, which overshoots")
LONG = METRICS["agreement_long"]


def verdict(data: StudyData) -> Verdict:
    """Baseline vs lr 0.001 and vs lr 0.1 on final loss (failed seeds worst) and on long
    agreement, and the baseline never fails."""
    if v := gate(data, (SLOW, BASE, FAST), CLAIM):
        return v
    checks = [ev.compare(data, BASE, SLOW, LOSS), ev.compare(data, BASE, FAST, LOSS),
              ev.compare(data, BASE, SLOW, LONG), ev.stability_check(data, BASE)]
    return build(CLAIM, checks, ev.failure_notes(data))


def _status_counts(data: StudyData, key: str) -> str:
    s = data.of_arm(key)["status"].value_counts()
    return ", ".join(f"{int(n)} {st}" for st, n in s.items()) or pr.NA


def best(data: StudyData) -> str:
    below = [a.key for a in data.arms if a.overrides["lr"] < BASELINE.lr]  # loss falls with lr
    return (f"Median final held-out loss: {pr.per_arm(data, 'final_val_loss')} (floor "
            f"{pr.FLOOR:.3f}). {pr.edge_or_middle(data, pr.best_arm(data))}."
            + "".join(f" {_out_of_order(data, slow, fast)}" for slow, fast in
                      pairwise(below) if data.median(fast, LOSS.name)
                      > data.median(slow, LOSS.name)))


def _out_of_order(data: StudyData, slow: str, fast: str) -> str:
    """A larger rate below the baseline that ends above a smaller one on held-out text:
    whether that clears the seed spread, and how the two compare on their training text."""
    ls, lf = data.label(slow), data.label(fast)

    def span(key: str, column: str) -> str:
        v = data.values(key, column)
        return f"{pr.f3(v.min())} to {pr.f3(v.max())}"

    out = (f"{lf} ends above {ls} on held-out text ({pr.f3(data.median(fast, LOSS.name))} "
           f"against {pr.f3(data.median(slow, LOSS.name))})")
    if ev.compare(data, slow, fast, LOSS).status == "holds":
        return out + ", beyond the seed spread."
    out += (f", but their seeds overlap ({span(fast, LOSS.name)} against "
            f"{span(slow, LOSS.name)}), so that order is seed noise.")
    if ev.compare(data, fast, slow, METRICS["final_train_loss"]).status == "holds":
        gap = {k: data.values(k, LOSS.name) - data.values(k, "final_train_loss")
               for k in (fast, slow)}
        out += (f" On its training text {lf} is lower in every seed "
                f"({span(fast, 'final_train_loss')} against {span(slow, 'final_train_loss')});"
                f" its seeds read held-out text {pr.f3(gap[fast].min())} to "
                f"{pr.f3(gap[fast].max())} nats/char worse than they train, against "
                f"{pr.f3(gap[slow].min())} to {pr.f3(gap[slow].max())} for {ls}. With "
                f"{len(gap[fast])} seeds, two rates this close cannot be ranked.")
    return out


def blowups(data: StudyData) -> str:
    runs = "; ".join(f"{data.label(k)}: {_status_counts(data, k)}" for k in data.arm_keys)
    return (f"Run status per rate: {runs}. Share of steps clipped at the threshold of "
            f"{BASELINE.clip:g}: {pr.per_arm(data, 'clip_fraction', pr.pct)}. Clipping "
            "catches a single huge gradient, but not a run whose every step overshoots.")


def slowest(data: StudyData) -> str:
    top = pr.best_arm(data)
    if top is None:
        return "No rate ended with a finite loss, so there is nothing to compare with."
    start = pr.step0_val(data, SLOW)
    drop_slow = start - data.median(SLOW, "final_val_loss")
    drop_top = pr.step0_val(data, top) - data.median(top, "final_val_loss")
    return (f"{data.label(SLOW)} brings the held-out loss from {pr.f3(start)} to "
            f"{pr.f3(data.median(SLOW, 'final_val_loss'))}, {pr.pct(drop_slow / drop_top)} of "
            f"the drop {data.label(top)} makes in the same steps. Long-distance agreement: "
            f"{pr.per_arm(data, 'agreement_long', pr.pct)}; 50% is a coin flip.")


def _agreement_gap(data: StudyData) -> str:
    """Why the slow rate agrees less, or that the seeds do not separate them."""
    check = ev.compare(data, BASE, SLOW, METRICS["agreement_long"])
    if check.status == "holds":
        return (": carrying a number across a clause is the last thing the network learns, "
                "and the slow rate has not got there")
    return (", but the seed ranges overlap, so on long agreement the two rates are within "
            "seed noise")


def takeaway(data: StudyData, v: Verdict) -> str:
    ls, lb, lf = (data.median(k, "final_val_loss") for k in (SLOW, BASE, FAST))
    a_s, a_b = data.median(SLOW, "agreement_long"), data.median(BASE, "agreement_long")
    bad = data.n_failed(FAST) + int((data.of_arm(FAST)["status"] == "unstable").sum())
    slow = (f"Plain SGD moves each weight by the learning rate times its gradient, so "
            f"{data.label(SLOW)} takes steps ten times shorter than the baseline: after the "
            f"same number of steps it sits at {pr.f3(ls)} nats/char against {pr.f3(lb)}, and "
            f"agrees over long distances {pr.pct(a_s)} of the time against {pr.pct(a_b)} "
            "(median over seeds)" + _agreement_gap(data) + ".")
    state = pr.end_state(data, FAST) + (f" with {bad} of {len(data.of_arm(FAST))} seeds "
                                        "diverged or unstable" if math.isfinite(lf) else "")
    fast = (f"{data.label(FAST)} {state}: steps that large jump "
            "across the valley instead of descending it, and a recurrent weight pushed too "
            "far makes the state, and the gradient, grow with every character.")
    if v.outcome == "supported":
        end = "The step size has a window, and the baseline sits inside it."
    else:
        end = (f"The verdict is {v.outcome}: the rates around the baseline show where the "
               "window lies in these runs.")
    return " ".join((slow, fast, end))


STUDY = Study(
    id="learning_rate", number=9, title="Learning rate", group="Tuning",
    question="How sensitive is training to the step size?",
    hypothesis="With plain SGD the learning rate is the length of every step. Too small, "
    "and the network is still far from the floor when training stops, with the long "
    "agreements, which it learns last, not learned at all. Too large, and steps overshoot "
    "and a recurrent network can blow up. The baseline "
    f"(lr={BASELINE.lr:g}) should beat both a ten times smaller and a ten times larger rate.",
    arms=arms_over("lr", RATES, lambda v: f"lr={v:g}"),
    metric=METRICS["final_val_loss"],
    views=("loss_curves", "final_loss"),
    verdict=verdict,
    observations=(
        Observation("Which learning rate ends with the lowest loss?", best),
        Observation("Does any learning rate blow up?", blowups),
        Observation("How far does the smallest rate get, and does it learn agreement?",
                    slowest),
    ),
    prediction="Which learning rate will end with the lowest held-out loss after 30,000 steps?",
    prediction_metric="final_val_loss",
    takeaway=takeaway,
)
