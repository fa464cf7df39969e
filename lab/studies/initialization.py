"""Study 1: how W_hh starts out (orthogonal, xavier, random), and what that does to the
gradient (vanishing, healthy or exploding) and to agreement across clauses."""

from __future__ import annotations

import math

from lab.data.studydata import StudyData
from lab.measure.metrics import GROWTH_LIMIT, GROWTH_SPAN
from lab.measure.registry import METRICS
from lab.studies import evidence as ev
from lab.studies import memory as mem
from lab.studies import prose as pr
from lab.studies.study import Observation, Study, arms_over
from lab.studies.verdicts import LOSS, Verdict, build, gate
from lab.training.config import INITS

CLAIM = ("orthogonal W_hh learns long-distance agreement better than xavier or random, and "
         "random W_hh's gradient explodes")
LONG = METRICS["agreement_long"]
EXPLODING = GROWTH_LIMIT ** (1 / GROWTH_SPAN)  # per-char growth above which it explodes


def verdict(data: StudyData) -> Verdict:
    """Orthogonal vs xavier and vs random on long agreement, vs random on loss; random's
    per-character gradient growth above the exploding limit in every seed."""
    if v := gate(data, data.arm_keys, CLAIM):
        return v
    growth = METRICS["gradient_growth"]
    checks = [
        ev.compare(data, "orthogonal", "xavier", LONG),
        ev.compare(data, "orthogonal", "random", LONG),
        ev.compare(data, "orthogonal", "random", LOSS),
        ev.threshold_check(data.label("random"), data.values("random", growth.name), EXPLODING,
                           growth, f"random W_hh's gradient explodes (it grows more than "
                           f"{GROWTH_LIMIT:g}-fold over {GROWTH_SPAN} characters)", above=True),
    ]
    return build(CLAIM, checks, ev.failure_notes(data))


def random_init(data: StudyData) -> str:
    k = "random"
    rho, g = data.median(k, "spectral_radius_init"), data.median(k, "gradient_growth")
    loss, sat = data.median(k, "final_val_loss"), data.median(k, "h_saturated_final")
    start = (f"Random W_hh (entries drawn from N(0, 1)) starts with a spectral radius of "
             f"{_num(rho)}, against 1 for orthogonal: every step multiplies the state by up "
             "to that factor.")
    regime = mem.regime(data, k)
    back = (f" Backwards, the gradient is {regime}: it changes by {mem.growth_text(g)} per "
            f"character, so it {mem.span_growth(g)}.")
    if regime == "exploding":
        back += (" Clipping caps each update's length but keeps its direction, and that "
                 "direction is set by the exploding terms from far back, so updates barely "
                 "move the loss.")
    elif regime == "vanishing" and rho > 1:
        back += (f" A linear network with radius {_num(rho)} would explode; tanh saturates "
                 "first. A unit pinned near ±1 has a slope near 0, and that slope multiplies "
                 "the gradient at every step back, so the gradient dies within a few "
                 "characters.")
    sat_text = (f" At the end {mem.pc(sat)} of its hidden units are saturated (tanh pinned "
                "near ±1), so the state barely responds to the input."
                if math.isfinite(sat) else "")
    if mem.near_uniform(data, k):
        end = (f" Its held-out loss ends at {_loss(loss)} nats/char, next to uniform guessing "
               f"(ln 29 = {mem.uniform_loss():.3f}): it learned almost nothing.")
    else:
        end = (f" Its held-out loss still ends at {_loss(loss)} nats/char (uniform guessing "
               f"is {mem.uniform_loss():.3f}), so in these runs it did learn.")
    return start + back + sat_text + end


def regimes(data: StudyData) -> str:
    parts = []
    for k in data.arm_keys:
        g, r = data.median(k, "gradient_growth"), data.median(k, "gradient_reach")
        n = int(data.of_arm(k)["seq_len"].max()) if len(data.of_arm(k)) else 0
        reach = mem.reach_text(r, n) if n else _num(r, 0)
        parts.append(f"{data.label(k)} {mem.regime(data, k)} ({mem.growth_text(g)} per "
                     f"character, reach {reach} chars)")
    return ("Gradient after training: " + "; ".join(parts) + ". The gradient one step back "
            "is the one before, multiplied by W_hh transposed and by each unit's tanh slope; "
            "when that product's size stays near 1 the gradient carries far, below 1 it "
            "vanishes, above 1 it explodes. An exploding gradient is not reach: it says the "
            "network is unstable, not that it remembers.")


def agreement(data: StudyData) -> str:
    parts = [f"{data.label(k)} {mem.pc(data.median(k, 'agreement_long'))}"
             for k in data.arm_keys]
    o, x = data.median("orthogonal", "agreement_long"), data.median("xavier", "agreement_long")
    close = abs(o - x) < LONG.min_effect if math.isfinite(o - x) else False
    tail = (" Orthogonal and xavier end within the minimum effect of each other: both start "
            "with a spectral radius near 1, and "
            f"{int(data.runs['steps'].max()):,} steps of training reshape W_hh far more than "
            "the start does." if close else
            " Where W_hh starts still shows at the end: training moves W_hh only a little per "
            "step, so a start that lets the number survive many steps is a head start.")
    return (f"Median agreement for subjects {mem.LONG}+ characters back (chance 50%): "
            + "; ".join(parts) + "." + tail)


def _num(x: float, d: int = 2) -> str:
    return f"{x:.{d}f}" if math.isfinite(x) else "no value"


def _loss(x: float) -> str:
    return "failed" if x == math.inf else _num(x, 3)


def takeaway(data: StudyData, v: Verdict) -> str:
    """Why the start of W_hh matters in a vanilla RNN, with this run's numbers."""
    rho = {k: data.median(k, "spectral_radius_init") for k in data.arm_keys}
    lead = (f"The start of W_hh sets how a signal scales from one step to the next: "
            f"spectral radius {_num(rho.get('orthogonal', math.nan))} for orthogonal, "
            f"{_num(rho.get('xavier', math.nan))} for xavier, "
            f"{_num(rho.get('random', math.nan))} for random.")
    if mem.regime(data, "random") == "exploding" and mem.near_uniform(data, "random"):
        mid = (" Far above 1, random init saturates the state and makes the gradient explode; "
               "clipped updates cannot recover, so its loss stays near uniform guessing.")
    elif mem.regime(data, "random") == "vanishing":
        sat = data.median("random", "h_saturated_final")
        mid = (f" Far above 1, random init drives tanh into saturation ({mem.pc(sat)} of units "
               "pinned near ±1 at the end), so the slope that multiplies the gradient at each "
               "step back is near 0: the gradient vanishes instead of exploding, and the "
               "subject's number never gets a training signal (long-distance agreement "
               f"{mem.pc(data.median('random', 'agreement_long'))}, chance is 50%).")
    else:
        mid = (f" Random init ended {mem.regime(data, 'random')} with a held-out loss of "
               f"{_loss(data.median('random', 'final_val_loss'))} nats/char.")
    o, x = (data.median(k, "agreement_long") for k in ("orthogonal", "xavier"))
    end = (f" Near 1, orthogonal ({mem.pc(o)} long-distance agreement) and xavier "
           f"({mem.pc(x)}) both let the number travel, since a signal then neither dies out "
           "nor blows up over many steps, and training does the rest. ")
    return lead + mid + end + pr.verdict_tail(v)


STUDY = Study(
    id="initialization", number=1, title="Initialization of W_hh",
    group="Memory and gradients",
    question="Does the way W_hh starts out decide whether the network can carry a subject's "
    "number across a relative clause?",
    hypothesis="Each step back, the gradient is multiplied by W_hh transposed. An orthogonal "
    "W_hh has every eigenvalue on the unit circle, so the signal neither shrinks nor grows: "
    "it should learn agreement across relative clauses best. Xavier starts near radius 1 "
    "too and may come close. Unscaled random entries give a radius far above 1: the "
    "expectation is exploding gradients, a saturated state, and a network that learns "
    "little.",
    arms=arms_over("init", INITS),
    metric=METRICS["agreement_long"],
    views=("loss_curves", "final_loss", "spectral_radius", "grad_decay",
           "agreement_over_training", "agreement_by_distance", "agreement_by_condition"),
    verdict=verdict,
    observations=(
        Observation("What happens to random init, and why?", random_init),
        Observation("Does the gradient vanish, stay healthy or explode?", regimes),
        Observation("Which start carries the subject's number furthest?", agreement),
    ),
    prediction="Which start of W_hh will agree best with a subject 16 or more characters back?",
    prediction_metric="agreement_long",
    takeaway=takeaway,
)
