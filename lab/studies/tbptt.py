"""Study 3: TBPTT chunk length (5, 10, 25, 50) and how far back agreement is learned."""

from __future__ import annotations

import math

from lab.data.studydata import StudyData
from lab.measure.registry import METRICS
from lab.studies import evidence as ev
from lab.studies import memory as mem
from lab.studies import prose as pr
from lab.studies.study import Observation, Study, arms_over
from lab.studies.verdicts import LOSS, Verdict, build, gate

CLAIM = ("longer TBPTT chunks teach agreement across longer distances, while the shortest "
         "chunk leaves far subjects at chance")
LONG = METRICS["agreement_long"]
CHANCE_BAND = 0.5 + LONG.min_effect  # "at chance": below 50% plus the minimum effect


def _length(data: StudyData, key: str) -> int:
    return int(next(a for a in data.arms if a.key == key).overrides["seq_len"])


def verdict(data: StudyData) -> Verdict:
    """Longest vs shortest chunk on long agreement, memory horizon and loss; the shortest
    chunk's long agreement stays within the minimum effect of chance in every seed."""
    keys = data.arm_keys
    if v := gate(data, keys, CLAIM):
        return v
    short, long_ = keys[0], keys[-1]
    checks = [
        ev.compare(data, long_, short, LONG),
        ev.compare(data, long_, short, METRICS["memory_horizon"]),
        ev.compare(data, long_, short, LOSS),
        ev.threshold_check(data.label(short), data.values(short, LONG.name), CHANCE_BAND, LONG,
                           f"{data.label(short)} stays at chance (under "
                           f"{mem.pc(CHANCE_BAND)}) for subjects {mem.LONG} or more "
                           "characters back", above=False),
    ]
    return build(CLAIM, checks, ev.failure_notes(data))


def shortest(data: StudyData) -> str:
    k = data.arm_keys[0]
    n = _length(data, k)
    near = mem.nearest_bin(data, k)
    far, probe = data.median(k, "agreement_long"), data.median(k, "number_probe_long")
    lead = (f"With chunks of {n}, the verb agrees with a subject at most {mem.NEAR} "
            f"characters back {mem.pc(near)} of the time, but with one {mem.LONG} or more "
            f"characters back only {mem.pc(far)} (chance is 50%).")
    why = (f" A gradient never crosses a chunk boundary, so the loss at a verb is only "
           f"differentiated through the last {n} characters: nothing ever trains W_hh to "
           "carry the subject's number further than that.")
    if far >= CHANCE_BAND:
        why += (" What it keeps beyond that is there by accident: dynamics trained for short "
                "contexts happen to preserve some of the number.")
    probe_text = (f" A linear probe finds the number in the state {mem.pc(probe)} of the "
                  "time at those distances." if math.isfinite(probe) else "")
    return lead + why + probe_text


def beyond_own_chunk(data: StudyData) -> list[str]:
    """The arms whose median memory horizon closes a distance bin that starts beyond their
    own chunk length (lab.studies.memory.beyond_chunk): for them the chunk was no ceiling."""
    return [k for k in data.arm_keys
            if mem.beyond_chunk(data.median(k, "memory_horizon"), _length(data, k))]


def _horizon(data: StudyData, key: str) -> str:
    return mem.horizon_text(data.median(key, "memory_horizon"))


def ceiling(data: StudyData) -> str:
    parts = [f"chunks of {_length(data, k)}: {mem.pc(data.median(k, 'agreement_long'))}, "
             f"horizon {_horizon(data, k)} chars" for k in data.arm_keys]
    over = [_length(data, k) for k in beyond_own_chunk(data)]
    tail = (f" Chunks of {pr.and_list(over)} agree clearly with subjects in a "
            "distance bin that starts beyond their own length: no gradient ever covered "
            "those distances, so what carries the number there is the state's own dynamics, "
            "shaped on shorter dependencies, not training aimed at them. So the chunk is no "
            "ceiling on memory; it limits what training aims at." if over else
            " No arm agrees clearly in a distance bin that starts beyond its own chunk "
            "length: here the chunk is a ceiling.")
    return (f"Median agreement for subjects {mem.LONG}+ characters back, and memory "
            "horizon: "
            + "; ".join(parts) + ". A dependency that fits in a chunk gets a gradient on every "
            "training step; one that does not fit never does." + tail)


def reach(data: StudyData) -> str:
    k = data.arm_keys[-1]
    n, r = _length(data, k), data.median(k, "gradient_reach")
    g = data.median(k, "gradient_growth")
    capped = (" The reach is the chunk's own limit, so the gradient was still alive where the "
              "chunk cut it: the measurement stops there, not the gradient."
              if math.isfinite(r) and r >= n - 1 else "")
    return (f"In chunks of {n}, the gradient is {mem.regime(data, k)}: it changes by "
            f"{mem.growth_text(g)} per character back, so it {mem.span_growth(g)}, and it keeps "
            f"at least 1% of its size for {mem.reach_text(r, n)} of the {n - 1} steps the "
            "chunk allows. Each step back multiplies it by W_hh transposed and the slope of "
            "tanh, which is below 1 wherever a unit is busy, so the far end of a long chunk "
            "trains more weakly than the near end." + capped)


def takeaway(data: StudyData, v: Verdict) -> str:
    """What the chunk length did to long agreement, and why, from the runs; a ceiling is
    claimed only when no arm's horizon lies beyond its own chunk."""
    s, lg = data.arm_keys[0], data.arm_keys[-1]
    a, b = data.median(s, "agreement_long"), data.median(lg, "agreement_long")
    check = v.checks[0].status if v.checks else "unclear"
    if check == "holds":
        lead = (f"Longer chunks taught agreement further back: chunks of {_length(data, s)} "
                f"left subjects {mem.LONG}+ characters back at {mem.pc(a)}, chunks of "
                f"{_length(data, lg)} brought them to {mem.pc(b)}.")
    else:
        lead = (f"In these runs the chunk length did not clearly change long-distance "
                f"agreement: {mem.pc(a)} with chunks of {_length(data, s)}, {mem.pc(b)} with "
                f"chunks of {_length(data, lg)}, a gap inside the seed spread or the "
                "minimum effect.")
    over = beyond_own_chunk(data)
    if over:
        k = over[0]
        limit = (f" Yet the chunk is not a hard limit on memory: with chunks of "
                 f"{_length(data, k)} the memory horizon is {_horizon(data, k)} characters, "
                 "beyond the chunk. Backpropagation through time stops at the chunk's start, "
                 "so no error ever asked the network to keep the number that long; the W_hh "
                 "trained on short dependencies keeps part of it anyway: nothing erases the "
                 "number once the chunk's length has passed, so it fades gradually instead of "
                 "stopping there.")
    else:
        limit = (" No arm agreed clearly beyond its own chunk, so here the chunk acted as a "
                 "ceiling: backpropagation through time stops at the chunk's start, so a "
                 "verb's error can only adjust how the state carried information inside the "
                 "chunk.")
    return (lead + limit + " A vanilla RNN's gradient also fades with every step back, so "
            "even inside a long chunk the farthest characters are learned last. "
            + pr.verdict_tail(v))


STUDY = Study(
    id="tbptt", number=3, title="TBPTT chunk length", group="Memory and gradients",
    question="If gradients may flow further back, does the verb agree with a subject "
    "further back?",
    hypothesis="The verb must agree with a subject that can sit 5 to 50 characters back, "
    "across relative clauses. Truncated backpropagation cuts the gradient at each chunk's "
    "start, so a dependency longer than the chunk is never trained: long chunks should "
    "learn agreement across long clauses, and the shortest chunk should leave subjects "
    "beyond its reach at chance. Inside a chunk the gradient still fades step by step, so "
    "the far end of a chunk is learned least.",
    arms=arms_over("seq_len", (5, 10, 25, 50), lambda v: f"seq_len={v}"),
    metric=METRICS["agreement_long"],
    views=("agreement_by_distance", "agreement_by_condition", "number_probe", "grad_decay",
           "loss_curves", "memory_horizon"),
    verdict=verdict,
    observations=(
        Observation("What does the shortest chunk do with a subject far back?", shortest),
        Observation("Does each chunk length set a ceiling on agreement?", ceiling),
        Observation("How far does the gradient reach inside the longest chunk?", reach),
    ),
    prediction=("Which chunk length will reach the highest agreement accuracy for subjects 16 or "
                "more characters back?"),
    prediction_metric="agreement_long",
    takeaway=takeaway,
)
