"""Study 10: the design grid, hidden size x activation x chunk length, all precomputed."""

from __future__ import annotations

import math

from lab.data.studydata import StudyData
from lab.measure.registry import METRICS
from lab.studies import evidence as ev
from lab.studies import memory as mem
from lab.studies import prose as pr
from lab.studies.evidence import Check
from lab.studies.params import Param
from lab.studies.prediction import OPEN, PARTLY, RIGHT, WRONG
from lab.studies.study import Arm, Observation, Study
from lab.studies.verdicts import LOSS, Verdict, build, gate
from lab.training.config import ACTIVATIONS

GRID_HIDDEN = (16, 32, 64, 128)
GRID_SEQ_LEN = (5, 10, 25, 50)
CLAIM = ("tanh is the best activation in most cells, longer chunks lengthen the memory "
         "horizon, and a larger H carries agreement further")

# the page's URL parameters: the explored cell, the student's guess, and whether the guess
# is committed (the predict-first exercise holds every answer back until then)
SELECT = (Param("H", "choice", 64, GRID_HIDDEN),
          Param("act", "choice", "tanh", ACTIVATIONS),
          Param("T", "choice", 25, GRID_SEQ_LEN))
# no default: the boxes start empty, so a committed guess is a choice the student made
GUESS = (Param("guess_H", "choice", None, GRID_HIDDEN),
         Param("guess_act", "choice", None, ACTIVATIONS),
         Param("guess_T", "choice", None, GRID_SEQ_LEN))
REVEAL = Param("revealed", "choice", 0, (0, 1))  # 1 once a guess is committed


def grid_key(hidden: int, activation: str, seq_len: int) -> str:
    """The grid cell's arm key, e.g. 'H64-tanh-T25'."""
    return f"H{hidden}-{activation}-T{seq_len}"


GRID_ARMS = tuple(
    Arm(grid_key(h, a, t), f"H={h}, {a}, seq_len={t}",
        {"hidden": h, "activation": a, "seq_len": t})
    for h in GRID_HIDDEN for a in ACTIVATIONS for t in GRID_SEQ_LEN
)


def _tanh_cells(data: StudyData) -> list[Check]:
    """Per (H, seq_len): tanh beats every other activation on loss (holds), another beats
    tanh (fails), or neither beyond the spread and minimum effect (unclear/negligible)."""
    checks = []
    for h in GRID_HIDDEN:
        for t in GRID_SEQ_LEN:
            tanh = grid_key(h, "tanh", t)
            cmp = [ev.compare(data, tanh, grid_key(h, a, t), LOSS)
                   for a in ACTIVATIONS if a != "tanh"]
            s = [c.status for c in cmp]
            status = "holds" if all(x == "holds" for x in s) else (
                "fails" if "fails" in s else "unclear")
            checks.append(Check(f"tanh is best at H={h}, seq_len={t}", status,
                                " ".join(c.sentence for c in cmp),
                                {k: v for c in cmp for k, v in c.numbers.items()},
                                {k: v for c in cmp for k, v in c.spread.items()}))
    return checks


def lowest_medians(data: StudyData) -> dict[str, int]:
    """Per activation, the (H, seq_len) cells where it has the lowest finite median loss."""
    wins = dict.fromkeys(ACTIVATIONS, 0)
    for h in GRID_HIDDEN:
        for t in GRID_SEQ_LEN:
            m = pr.medians(data, "final_val_loss", [grid_key(h, a, t) for a in ACTIVATIONS])
            m = {k: v for k, v in m.items() if math.isfinite(v)}
            if m:
                wins[min(m, key=m.get).split("-")[1]] += 1
    return wins


def tanh_tally(data: StudyData) -> str:
    """One sentence that the verdict and the answers share: in how many cells tanh has the
    lowest median, and in how many of them it clears the seed spread and the minimum effect
    against every other activation (a lowest median is not yet a clear win)."""
    def make() -> str:
        cells = _tanh_cells(data)
        n, low = len(cells), lowest_medians(data)["tanh"]
        h, f = (sum(c.status == s for c in cells) for s in ("holds", "fails"))
        rest = n - h - f
        return (f"tanh has the lowest median loss in {low} of {n} cells, and beats every other "
                f"activation beyond the seed spread and the minimum effect in {h} of them; it "
                f"is clearly beaten in {f}, and in the other {rest} at least one activation is "
                "within noise of it.")
    return data.once("grid_tanh_tally", make)


def _majority(data: StudyData, cells: list[Check]) -> Check:
    """tanh is clearly best in more than half the cells (holds), clearly beaten in more than
    half (fails), or neither (unclear)."""
    n = len(cells)
    h, f = (sum(c.status == s for c in cells) for s in ("holds", "fails"))
    status = "holds" if h > n / 2 else "fails" if f > n / 2 else "unclear"
    return Check("tanh beats every other activation in most cells", status, tanh_tally(data),
                 {"cells where tanh is clearly best": h, "cells where tanh is beaten": f,
                  "cells where tanh has the lowest median": lowest_medians(data)["tanh"]}, {})


def verdict(data: StudyData) -> Verdict:
    """tanh best in most (H, seq_len) cells; at H=64 tanh, chunk 50 has a longer memory
    horizon than chunk 5; at tanh chunk 50, H=128 agrees better over long distances than
    H=16."""
    if v := gate(data, data.arm_keys, CLAIM):
        return v
    cells = _tanh_cells(data)
    checks = [_majority(data, cells),
              ev.compare(data, grid_key(64, "tanh", 50), grid_key(64, "tanh", 5),
                         METRICS["memory_horizon"]),
              ev.compare(data, grid_key(128, "tanh", 50), grid_key(16, "tanh", 50),
                         METRICS["agreement_long"])]
    return build(CLAIM, checks, ev.failure_notes(data)[:4], _details(data, cells, checks))


def tied_best(data: StudyData) -> list[str]:
    """The cells the best cell does not beat beyond the seed spread and the minimum effect
    (the best cell first): a guess among them is as right as the runs can tell. Computed
    once per study data: it compares the best cell with all 63 others."""
    return list(data.once("grid.tied_best", lambda: _tied_best(data)))


def _tied_best(data: StudyData) -> list[str]:
    best = pr.best_arm(data)
    if best is None:
        return []
    return [best, *(k for k in data.arm_keys if k != best
                    and ev.compare(data, best, k, LOSS).status != "holds")]


def guess_result(data: StudyData, key: str) -> str:
    """'exactly right' only when the guessed cell beats every other cell under the effect
    rule; 'among the tied best' when the best does not clearly beat it; else how far off."""
    tied = tied_best(data)
    if not tied:
        return "no cell has a finite final loss, so no guess can be scored."
    if key == tied[0] and len(tied) == 1:
        return "exactly right: it beats every other cell beyond the seed spread and the " \
               "minimum effect."
    if key in tied:
        return (f"among the {len(tied)} cells tied for best: the best cell does not beat it "
                "beyond the seed spread and the minimum effect.")
    gap = data.median(key, "final_val_loss") - data.median(tied[0], "final_val_loss")
    return (f"not among the best: {pr.f3(gap, 4)} nats/char above the best cell, beyond "
            "the seed spread and the minimum effect.")


def guess_outcome(data: StudyData, key: str) -> str:
    """guess_result's outcome in class mode's words (lab.studies.prediction): borne out,
    partly (among the tied best), not borne out, or open (nothing to score)."""
    tied = tied_best(data)
    if not tied:
        return OPEN
    return RIGHT if tied == [key] else PARTLY if key in tied else WRONG


def _details(data: StudyData, cells: list[Check], checks: list[Check]) -> list[str]:
    by = {s: [c.claim.removeprefix("tanh is best at ") for c in cells if c.status == s]
          for s in ("holds", "fails")}
    out = [f"{verdicts_word(c.status)}: {c.claim}. {c.sentence}" for c in checks]
    if by["fails"]:
        out.append(f"Cells where another activation beats tanh: {'; '.join(by['fails'][:6])}.")
    tied = tied_best(data)
    if tied:
        out.append(f"The best cell is {data.label(tied[0])} with a median final held-out loss "
                   f"of {pr.f3(data.median(tied[0], 'final_val_loss'), 4)} nats/char; "
                   f"{len(tied) - 1} other cells are tied with it.")
    return out


def verdicts_word(status: str) -> str:
    return {"holds": "Holds", "fails": "Contradicted", "unclear": "Within noise",
            "negligible": "No practical difference"}[status]


def best_cell(data: StudyData) -> str:
    best = pr.best_arm(data)
    if best is None:
        return "No grid cell has a finite final loss (0 cells)."
    base = grid_key(64, "tanh", 25)
    lb, lx = data.median(best, "final_val_loss"), data.median(base, "final_val_loss")
    pb, px = data.median(best, "params"), data.median(base, "params")
    return (f"The best cell is {data.label(best)} ({pr.f3(lb)} nats/char, {pb:,.0f} "
            f"parameters). The baseline cell {data.label(base)} reaches {pr.f3(lx)} with "
            f"{px:,.0f} parameters, {pr.pct((lx - lb) / lb)} above the best.")


def activation_wins(data: StudyData) -> str:
    wins = lowest_medians(data)
    total = len(GRID_HIDDEN) * len(GRID_SEQ_LEN)
    return ("Cells (of " + str(total) + " hidden size x chunk pairs) where each activation has "
            "the lowest median loss: " + "; ".join(f"{a} {n}" for a, n in wins.items())
            + ". A lowest median is not yet a clear win, because the seeds of two activations "
            "can overlap: " + tanh_tally(data))


def bigger_h(data: StudyData) -> str:
    small, big = GRID_HIDDEN[0], GRID_HIDDEN[-1]
    better = total = 0
    for a in ACTIVATIONS:
        for t in GRID_SEQ_LEN:
            ls = data.median(grid_key(small, a, t), "final_val_loss")
            lb = data.median(grid_key(big, a, t), "final_val_loss")
            if math.isfinite(ls) and math.isfinite(lb):
                total += 1
                better += lb < ls
    return (f"H={big} has a lower median loss than H={small} in {better} of {total} "
            "(activation, chunk) pairs where both have a finite loss.")


def one_knob_at_a_time(data: StudyData) -> str | None:
    """The cell a student gets by choosing each knob on its own from the baseline cell (H=64,
    tanh, chunks of 25): the best H at tanh and 25, the best activation at H=64 and 25, the
    best chunk at H=64 and tanh, put together; None when a row has no finite loss."""
    def best(keys):
        m = {k: v for k, v in pr.medians(data, "final_val_loss", keys).items()
             if math.isfinite(v)}
        return min(m, key=m.get) if m else None
    h = best([grid_key(x, "tanh", 25) for x in GRID_HIDDEN])
    a = best([grid_key(64, x, 25) for x in ACTIVATIONS])
    t = best([grid_key(64, "tanh", x) for x in GRID_SEQ_LEN])
    if None in (h, a, t):
        return None
    return grid_key(int(h.split("-")[0][1:]), a.split("-")[1], int(t.split("-T")[1]))


def _horizon_sentence(data: StudyData, v: Verdict) -> str:
    """The chunk's effect on the horizon at H=64 tanh, with a reason that fits the numbers: a
    ceiling only when the short chunk's horizon stays inside its own length."""
    long_, short = grid_key(64, "tanh", 50), grid_key(64, "tanh", 5)
    hl, hs = data.median(long_, "memory_horizon"), data.median(short, "memory_horizon")
    lead = (f"At H=64 with tanh, chunks of 50 characters give a memory horizon of "
            f"{mem.horizon_text(hl)} characters and chunks of 5 give {mem.horizon_text(hs)}")
    longer = len(v.checks) > 1 and v.checks[1].status == "holds"
    if mem.beyond_chunk(hs, 5):
        return (lead + ": even 5-character chunks agree clearly beyond their own length. "
                "Truncation limits which dependencies get a gradient, not how long the state "
                "can hold the number, which fades gradually rather than stopping at the chunk"
                + ("; longer chunks still lengthen the horizon, because they train the longer "
                   "dependencies directly." if longer else "."))
    return (lead + ": truncated backpropagation never shows the network a dependency longer "
            "than its chunk, so the short chunk has no gradient telling it to keep the "
            "subject's number beyond 5 characters, and its horizon stays inside them.")


def takeaway(data: StudyData, v: Verdict) -> str:
    big, small = grid_key(128, "tanh", 50), grid_key(16, "tanh", 50)
    ab, asm = data.median(big, "agreement_long"), data.median(small, "agreement_long")
    tied = tied_best(data)
    second = (f"With chunks of 50, H=128 agrees over long distances {pr.pct(ab)} of the time "
              f"and H=16 {pr.pct(asm)}: the number has to share a small state with everything "
              "else the next character depends on.")
    pick = one_knob_at_a_time(data)
    if not tied:
        third = "No cell finished with a finite loss."
    elif pick in tied:
        third = (f"{len(tied)} cells are tied for the lowest loss, led by "
                 f"{data.label(tied[0])}, and choosing each knob on its own from the baseline "
                 f"cell gives {data.label(pick)}, one of them: the single-knob comparisons "
                 "predict the winner, so here the knobs do not need to be tuned together.")
    else:
        third = (f"{len(tied)} cells are tied for the lowest loss, led by "
                 f"{data.label(tied[0])}, but choosing each knob on its own from the baseline "
                 f"cell gives {data.label(pick) if pick else 'no cell'}, which the best cell "
                 "beats beyond the seed spread: the knobs interact, so the best value of one "
                 "depends on the others.")
    return " ".join((_horizon_sentence(data, v), second, third)) + pr.unless_supported(v)


STUDY = Study(
    id="grid", number=10, title="The design grid", group="Tuning", page="10_design_grid.py",
    question="Putting hidden size, activation and chunk length together, which design wins?",
    hypothesis="If the single-knob studies generalise, tanh should be the best activation in "
    "most pairs of hidden size and chunk length; longer chunks should let the network learn "
    "agreement across longer relative clauses (a longer memory horizon), and a larger "
    "hidden state should keep the subject's number more reliably over long distances.",
    arms=GRID_ARMS,
    metric=METRICS["final_val_loss"],
    views=("grid",),
    params=(*SELECT, *GUESS, REVEAL),
    highlight=False,
    verdict=verdict,
    observations=(
        Observation("Which cell is best, and how far behind is the baseline cell?", best_cell),
        Observation("Which activation wins most often?", activation_wins),
        Observation("Does a bigger H help everywhere?", bigger_h),
    ),
    takeaway=takeaway,
)
