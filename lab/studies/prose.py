"""Shared prose helpers for answers and takeaways: numbers formatted the lab's way, arms
ranked and compared, and wording (rose or fell, edge or middle) that follows the data.

Every helper takes a StudyData and returns text; an arm without data is named as such.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from lab.data.studydata import StudyData
from lab.measure.registry import FLOOR, METRICS, Metric
from lab.studies import evidence as ev

NA = "not stored"
FAILED = "failed"


def and_list(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def end_state(data: StudyData, key: str) -> str:
    """'ended at 0.367 nats/char', or 'failed in 3 of 3 seeds' where the median failed (a
    failed median has no loss to quote)."""
    x = data.median(key, "final_val_loss")
    if math.isfinite(x):
        return f"ended at {f3(x)} nats/char"
    return f"failed in {data.n_failed(key)} of {len(data.of_arm(key))} seeds"


def f3(x: float, d: int = 3) -> str:
    """x with d decimals ('0.000', never '-0.000'); 'failed' for a failed median (inf), 'not
    stored' for none."""
    if x == math.inf:
        return FAILED
    return f"{x:.{d}f}".replace(f"-{0:.{d}f}", f"{0:.{d}f}") if math.isfinite(x) else NA


def pct(x: float) -> str:
    """x as a percentage with one decimal ('not stored' for none)."""
    return f"{100 * x:.1f}%" if math.isfinite(x) else NA


def rate(x: float) -> str:
    """A rate as a percentage that stays readable when small: whole percents from 10%, two
    significant digits below ('0.023%'); 'not stored' for none."""
    if not math.isfinite(x):
        return NA
    return f"{100 * x:.0f}%" if x >= 0.1 else f"{100 * x:.2g}%"


def medians(data: StudyData, column: str, keys=None) -> dict[str, float]:
    """Median of column per arm (lab.measure.registry.FAILED_SEEDS); arms without one left out."""
    out = {k: data.median(k, column) for k in (keys or data.arm_keys)}
    return {k: v for k, v in out.items() if not math.isnan(v)}


def ranking(data: StudyData, column: str, lower: bool, fmt=f3) -> str:
    """'a (1.2), then b (1.3), ...' best first, with the noise status of first vs second."""
    m = medians(data, column)
    if not m:
        return f"no arm has a stored value of {column}"
    order = sorted(m, key=m.get, reverse=not lower)
    text = ", then ".join(f"{data.label(k)} ({fmt(m[k])})" for k in order)
    if len(order) > 1:
        metric = METRICS.get(column, Metric(column, column, better="lower" if lower else
                                            "higher"))
        c = ev.compare(data, order[0], order[1], metric)
        text += ("; the first two are apart beyond the seed spread" if c.status == "holds"
                 else "; the first two differ by less than the minimum effect"
                 if c.status == "negligible"
                 else "; the seed ranges of the first two overlap, so their order is noise")
    return text


def per_arm(data: StudyData, column: str, fmt=f3) -> str:
    """'label value; label value; ...' in arm order."""
    return "; ".join(f"{data.label(k)} {fmt(data.median(k, column))}" for k in data.arm_keys)


def direction(a: float, b: float, tol: float, up="rose", down="fell", flat="stayed") -> str:
    """How a value moved from a to b, within tol counting as flat."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return "has no stored value"
    return flat if abs(b - a) <= tol else (up if b > a else down)


def best_arm(data: StudyData, column: str = "final_val_loss", lower: bool = True):
    """The arm with the best finite median of column, or None."""
    m = {k: v for k, v in medians(data, column).items() if math.isfinite(v)}
    return (min(m, key=m.get) if lower else max(m, key=m.get)) if m else None


def edge_or_middle(data: StudyData, key: str | None) -> str:
    """Whether the best arm sits at an edge of the range tested or inside it."""
    if key is None:
        return "no arm has a finite final loss"
    keys = data.arm_keys
    where = "at the edge of the range tested" if key in (keys[0], keys[-1]) else \
        "inside the range tested, not at an edge"
    return f"{data.label(key)} has the lowest median final held-out loss " \
        f"({f3(data.median(key, 'final_val_loss'))} nats/char), {where}"


def failures(data: StudyData) -> str:
    """'label failed in n of m; ...' for every arm."""
    return "; ".join(f"{data.label(k)} failed in {data.n_failed(k)} of {len(data.of_arm(k))}"
                     for k in data.arm_keys)


def early_late(data: StudyData, table: str, key: str, column: str) -> tuple[float, float]:
    """Median over seeds of the mean of `column` over the first and the last tenth of a long
    table's rows (at least one row each), e.g. clip_frac early and late in training."""
    df = data.tables.get(table)
    if df is None or df.empty:
        return math.nan, math.nan
    early, late = [], []
    for _, g in df[df["arm"] == key].sort_values("step").groupby("seed"):
        n = max(1, len(g) // 10)
        early.append(g[column].iloc[:n].mean())
        late.append(g[column].iloc[-n:].mean())
    return (float(np.median(early)), float(np.median(late))) if early else (math.nan, math.nan)


def step0_val(data: StudyData, key: str) -> float:
    """Median held-out loss of arm key at step 0 (before training)."""
    ck = data.tables.get("checkpoints")
    if ck is None or ck.empty:
        return math.nan
    v = ck[(ck["arm"] == key) & (ck["step"] == 0)]["val_loss"]
    return float(v.median()) if len(v) else math.nan


def reach(data: StudyData) -> str:
    """Per arm: median gradient reach and the most its chunk allows."""
    parts = []
    for k in data.arm_keys:
        rows = data.of_arm(k)
        top = int(rows["seq_len"].max()) - 1 if len(rows) else 0
        parts.append(f"{data.label(k)} {f3(data.median(k, 'gradient_reach'), 0)} of at most {top}")
    return "; ".join(parts)


def _some(claims: list[str], most: int = 3) -> str:
    """Claims joined by '; ', the first `most` of them and a count of the rest."""
    more = f"; and {len(claims) - most} more" if len(claims) > most else ""
    return "; ".join(claims[:most]) + more


def loss_fact(data: StudyData) -> str:
    """The best arm's median final held-out loss against the floor."""
    best = best_arm(data)
    if best is None:
        return f"No arm finished with a finite loss; the floor is {FLOOR:.3f} nats/char."
    return (f"Best median final held-out loss here: {data.label(best)} at "
            f"{f3(data.median(best, 'final_val_loss'))} nats/char, against the grammar's "
            f"floor of {FLOOR:.3f}.")


def lesson(supported: str, contradicted: str, fact: Callable[[StudyData], str] = loss_fact):
    """A takeaway chosen by the verdict's outcome, followed by one fact from the runs.

    Every outcome but "supported" names which checks held, went the other way or stayed
    within noise, so the takeaway never claims more than the verdict found.
    """
    def takeaway(data: StudyData, v) -> str:
        by = {s: _some([c.claim for c in v.checks if c.status == s])
              for s in ("holds", "fails", "unclear", "negligible")}
        parts = [f"{word} {by[s]}." for s, word in (
            ("holds", "It holds that"), ("fails", "The runs contradict that"),
            ("unclear", "Within seed noise:"),
            ("negligible", "Real but too small to matter:")) if by[s]]
        lead = {
            "supported": supported,
            "not supported": contradicted,
            "partly supported": "Only part of the textbook story shows in these runs.",
            "inconclusive": "These runs cannot settle the claim" + (
                "." if v.checks else f": {v.details[0] if v.details else 'runs are missing.'}"),
        }[v.outcome]
        body = "" if v.outcome == "supported" else " ".join(parts)
        return " ".join(x for x in (lead, body, fact(data)) if x)
    return takeaway


def verdict_tail(v) -> str:
    """'Verdict: partly supported (2 of 4 checks hold).' for a Verdict v."""
    held = sum(c.status == "holds" for c in v.checks)
    return f"Verdict: {v.outcome} ({held} of {len(v.checks)} checks hold)."


def unless_supported(v) -> str:
    """' Verdict: ... .' when the verdict is not plainly supported, else '': a takeaway that
    explains a mechanism says so when the runs do not fully bear it out."""
    return "" if v.outcome == "supported" else " " + verdict_tail(v)
