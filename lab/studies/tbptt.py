"""Study 3: TBPTT chunk length (5, 10, 25, 50) and how far back the network remembers."""

from __future__ import annotations

import math

from lab.data.studydata import StudyData
from lab.measure.registry import METRICS
from lab.studies import evidence as ev
from lab.studies import prose as pr
from lab.studies.study import Observation, Study, arms_over
from lab.studies.verdicts import Verdict, build, gate

CLAIM = ("longer TBPTT chunks buy a longer memory, with diminishing returns, and the gradient "
         "never reaches the whole of a long chunk")


def _length(data: StudyData, i: int) -> int:
    return int(data.arms[i].overrides["seq_len"])


def verdict(data: StudyData) -> Verdict:
    """Longest vs shortest chunk on horizon; horizon gain per added char shrinks; the longest
    chunk's gradient reach stays below its chunk length minus one."""
    keys = data.arm_keys
    if v := gate(data, keys, CLAIM):
        return v
    short, long_ = keys[0], keys[-1]
    first = ev.paired(data, keys[1], keys[0], "memory_horizon",
                      _length(data, 1) - _length(data, 0))
    last = ev.paired(data, keys[-1], keys[-2], "memory_horizon",
                     _length(data, -1) - _length(data, -2))
    ceiling = _length(data, -1) - 1
    checks = [
        ev.compare(data, long_, short, METRICS["memory_horizon"]),
        ev.compare_values(f"{data.label(keys[0])} to {data.label(keys[1])}", first,
                          f"{data.label(keys[-2])} to {data.label(keys[-1])}", last,
                          METRICS["horizon_per_char"],
                          "short chunks gain more memory per added character than long ones"),
        ev.threshold_check(data.label(long_), data.values(long_, "gradient_reach"), ceiling,
                           METRICS["gradient_reach"], f"the gradient of {data.label(long_)} "
                           f"falls below threshold before the chunk's end (k = {ceiling})",
                           above=False),
    ]
    return build(CLAIM, checks, ev.failure_notes(data))


def shortest(data: StudyData) -> str:
    k, n = data.arm_keys[0], _length(data, 0)
    reach, hor = data.median(k, "gradient_reach"), data.median(k, "memory_horizon")
    beyond = ("further back than the chunk: the state carries some history the gradient "
              "never trained it to keep" if hor > n else "within the chunk")
    return (f"With {data.label(k)} the gradient reaches back {pr.f3(reach, 0)} characters (the "
            f"chunk allows at most {n - 1}); the memory probe reads characters up to "
            f"{pr.f3(hor, 0)} back, {beyond}.")


def doubling(data: StudyData) -> str:
    a, b = data.arm_keys[-2], data.arm_keys[-1]
    ha, hb = data.median(a, "memory_horizon"), data.median(b, "memory_horizon")
    ratio = hb / ha if ha > 0 else math.nan
    how = ("it grows, but by less than double" if 1 < ratio < 2 else "it at least doubles"
           if ratio >= 2 else "it does not grow" if math.isfinite(ratio) else "it cannot be "
           "compared")
    return (f"Median memory horizon: {data.label(a)} {pr.f3(ha, 0)}, {data.label(b)} "
            f"{pr.f3(hb, 0)} characters (a factor of {pr.f3(ratio, 2)}): {how}.")


def reach(data: StudyData) -> str:
    k, n = data.arm_keys[-1], _length(data, -1)
    r = data.median(k, "gradient_reach")
    return (f"In {data.label(k)}, the normalised gradient stays above threshold for "
            f"{pr.f3(r, 0)} of the {n - 1} steps back the chunk allows "
            f"({pr.pct(r / (n - 1))}). Per arm: {pr.reach(data)}.")


STUDY = Study(
    id="tbptt", number=3, title="TBPTT chunk length", group="Memory and gradients",
    question="If gradients may flow further back, does the network remember further back?",
    hypothesis="Truncation caps the distance over which a dependency can be learned, so "
    "longer chunks should give a longer memory. The classic caveat: inside a chunk the "
    "gradient still fades with every step back, so the gain per added character shrinks as "
    "chunks grow, and the gradient never spans the whole of a long chunk.",
    arms=arms_over("seq_len", (5, 10, 25, 50), lambda v: f"seq_len={v}"),
    metric=METRICS["memory_horizon"],
    views=("grad_decay", "loss_curves", "probe_bins", "memory_horizon"),
    verdict=verdict,
    observations=(
        Observation("What can the shortest chunk remember?", shortest),
        Observation("Does doubling the longest chunks double the memory horizon?", doubling),
        Observation("How far does the gradient reach inside the longest chunk?", reach),
    ),
    takeaway=pr.lesson(
        "The chunk sets a ceiling and fading gradients set the real limit: longer chunks "
        "bought memory, each added character bought less, and the gradient died out well "
        "before the end of the longest chunk.",
        "Longer chunks did not buy memory the way the textbook says in these runs."),
)
