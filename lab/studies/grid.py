"""Study 10: the design grid, hidden size x activation x chunk length, all precomputed."""

from __future__ import annotations

import math

from lab.data.studydata import StudyData
from lab.measure.registry import METRICS
from lab.studies import evidence as ev
from lab.studies import prose as pr
from lab.studies.evidence import Check
from lab.studies.params import Param
from lab.studies.study import Arm, Observation, Study
from lab.studies.verdicts import LOSS, Verdict, build, gate
from lab.training.config import ACTIVATIONS

GRID_HIDDEN = (16, 32, 64, 128)
GRID_SEQ_LEN = (5, 10, 25, 50)
CLAIM = "tanh has the lowest loss at every hidden size and chunk length"

# the page's URL parameters: the explored cell, the student's guess, and whether the guess
# is committed (the predict-first exercise holds every answer back until then)
SELECT = (Param("H", "choice", 64, GRID_HIDDEN),
          Param("act", "choice", "tanh", ACTIVATIONS),
          Param("T", "choice", 25, GRID_SEQ_LEN))
GUESS = (Param("guess_H", "choice", 16, GRID_HIDDEN),
         Param("guess_act", "choice", "relu", ACTIVATIONS),
         Param("guess_T", "choice", 5, GRID_SEQ_LEN))
REVEAL = Param("revealed", "choice", 0, (0, 1))  # 1 once a guess is committed


def grid_key(hidden: int, activation: str, seq_len: int) -> str:
    """The grid cell's arm key, e.g. 'H64-tanh-T25'."""
    return f"H{hidden}-{activation}-T{seq_len}"


GRID_ARMS = tuple(
    Arm(grid_key(h, a, t), f"H={h}, {a}, seq_len={t}",
        {"hidden": h, "activation": a, "seq_len": t})
    for h in GRID_HIDDEN for a in ACTIVATIONS for t in GRID_SEQ_LEN
)


def verdict(data: StudyData) -> Verdict:
    """Per (H, seq_len) cell: tanh beats every other activation (holds), some other one beats
    tanh (fails), or neither (within noise)."""
    if v := gate(data, data.arm_keys, CLAIM):
        return v
    checks = []
    for h in GRID_HIDDEN:
        for t in GRID_SEQ_LEN:
            tanh = grid_key(h, "tanh", t)
            cmp = [ev.compare(data, tanh, grid_key(h, a, t), LOSS)
                   for a in ACTIVATIONS if a != "tanh"]
            s = [c.status for c in cmp]
            status = "holds" if all(x == "holds" for x in s) else (
                "fails" if "fails" in s else "negligible" if "negligible" in s else "unclear")
            checks.append(Check(f"tanh is best at H={h}, seq_len={t}", status,
                                " ".join(c.sentence for c in cmp),
                                {k: v for c in cmp for k, v in c.numbers.items()},
                                {k: v for c in cmp for k, v in c.spread.items()}))
    return build(CLAIM, checks, ev.failure_notes(data)[:4], _details(data, checks))


def _details(data: StudyData, checks: list[Check]) -> list[str]:
    by = {s: [c.claim.removeprefix("tanh is best at ") for c in checks if c.status == s]
          for s in ("holds", "fails", "unclear", "negligible")}
    out = [f"tanh is clearly best in {len(by['holds'])} of {len(checks)} cells, clearly beaten "
           f"in {len(by['fails'])}, within noise in {len(by['unclear'])}, and ahead by too "
           f"little to matter in {len(by['negligible'])}."]
    if by["fails"]:
        out.append(f"Cells where another activation beats tanh: {'; '.join(by['fails'][:6])}.")
    best = pr.best_arm(data)
    if best is not None:
        out.append(f"The best cell is {data.label(best)} with a median final held-out loss of "
                   f"{data.median(best, 'final_val_loss'):.3f} nats/char.")
    return out


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
    wins = dict.fromkeys(ACTIVATIONS, 0)
    for h in GRID_HIDDEN:
        for t in GRID_SEQ_LEN:
            m = pr.medians(data, "final_val_loss", [grid_key(h, a, t) for a in ACTIVATIONS])
            m = {k: v for k, v in m.items() if math.isfinite(v)}
            if m:
                wins[min(m, key=m.get).split("-")[1]] += 1
    total = len(GRID_HIDDEN) * len(GRID_SEQ_LEN)
    return ("Cells (of " + str(total) + " hidden size x chunk pairs) where each activation has "
            "the lowest median loss: " + "; ".join(f"{a} {n}" for a, n in wins.items()) + ".")


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


STUDY = Study(
    id="grid", number=10, title="The design grid", group="Tuning", page="10_design_grid.py",
    question="Putting hidden size, activation and chunk length together, which design wins?",
    hypothesis="If the single-knob studies generalise, tanh should be the best activation at "
    "every hidden size and chunk length, and the best cell should pair a large H with a long "
    "chunk.",
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
    takeaway=pr.lesson(
        "The single-knob lesson generalises: tanh is the best activation in every cell of the "
        "grid.",
        "The single-knob lesson about tanh does not generalise across the grid."),
)
