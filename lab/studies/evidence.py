"""The seed-spread rule behind every verdict: per-seed comparisons that respect the spread.

A check compares two sets of per-seed values under EFFECT_RULE (defined once here and
quoted by the pages) and says whether a claim holds, fails, or is within noise. Metrics
(label, unit, which way is better) come from lab.measure.registry.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lab.data.studydata import StudyData
from lab.measure.registry import Metric
from lab.training.config import BASELINE

MIN_SEEDS = 2  # fewer seeds than this cannot show a spread

EFFECT_RULE = (
    "An effect between two arms counts only if their seed ranges do not overlap: every "
    "seed of one arm is better than every seed of the other (the worst seed of the better "
    "arm beats the best seed of the worse one). Overlapping ranges mean the difference is "
    "within seed noise. Ranges that do not overlap still need a gap between the medians of "
    "at least the metric's stated minimum effect (2% of the entropy floor for losses, 5 "
    "percentage points for accuracies): a smaller gap is real but too small to matter, and "
    f"the check says \"no practical difference\". An arm needs at least {MIN_SEEDS} seeds "
    "to be compared, and a study with a missing arm is inconclusive. A diverged run counts "
    "as the worst loss."
)
# holds / fails: beyond the seed spread and the minimum effect; unclear: within seed noise;
# negligible: beyond the seed spread but below the metric's minimum effect
CHECK_STATUSES = ("holds", "fails", "unclear", "negligible")


@dataclass(frozen=True)
class Check:
    """One comparison behind a verdict: its claim, status (CHECK_STATUSES), a sentence with
    the numbers, and the numbers and seed ranges it used."""

    claim: str
    status: str
    sentence: str
    numbers: dict = field(default_factory=dict)
    spread: dict = field(default_factory=dict)


def _finite_or_inf(v: Iterable[float]) -> np.ndarray:
    a = np.asarray(list(v), float)
    return a[~np.isnan(a)]


def _desc(name: str, v: np.ndarray, metric: Metric) -> str:
    """'name 1.234 (seeds 1.200 to 1.250)', naming failed seeds (inf) rather than ranging them."""
    if not len(v):
        return f"{name}: no values"
    ok = v[np.isfinite(v)]
    span = f"{metric.fmt(float(ok.min()))} to {metric.fmt(float(ok.max()))}" if len(ok) else ""
    if len(ok) == len(v):
        return f"{name} {metric.fmt(float(np.median(v)))} (seeds {span})"
    rest = (f", the other {metric.fmt(float(ok[0]))}" if len(ok) == 1
            else f", the others {span}" if len(ok) else "")
    return f"{name} failed in {len(v) - len(ok)} of {len(v)} seeds{rest}"


def compare_values(name_a: str, a: Iterable[float], name_b: str, b: Iterable[float],
                   metric: Metric, claim: str, lower: bool | None = None) -> Check:
    """Check the claim that `a` is better than `b` under EFFECT_RULE.

    holds: a's seed range lies entirely on the better side of b's; fails: entirely on the
    worse side; unclear: the ranges overlap, or either side has fewer than MIN_SEEDS values;
    negligible: the ranges do not overlap but the medians differ by less than the metric's
    min_effect.
    """
    lower = metric.lower_is_better if lower is None else lower
    va, vb = _finite_or_inf(a), _finite_or_inf(b)
    sign = 1.0 if lower else -1.0  # compare as "smaller is better"
    if min(len(va), len(vb)) < MIN_SEEDS:
        status, why = "unclear", f"fewer than {MIN_SEEDS} seeds have a value"
    elif (sign * va).max() < (sign * vb).min():
        status, why = "holds", "the seed ranges do not overlap"
    elif (sign * vb).max() < (sign * va).min():
        status, why = "fails", "the seed ranges do not overlap, the other way round"
    else:
        status, why = "unclear", "the seed ranges overlap, so the gap is within seed noise"
    if status in ("holds", "fails") and (small := _below_min_effect(va, vb, metric)):
        status, why = "negligible", small
    failed = {"holds": (name_b, vb), "fails": (name_a, va)}.get(status)
    if failed and not np.isfinite(failed[1]).any():  # no range to speak of: say what happened
        why = f"every seed of {failed[0]} failed, and a failed run counts as the worst value"
    unit = f" ({metric.unit})" if metric.unit else ""
    sentence = (f"Median {metric.label}{unit}: {_desc(name_a, va, metric)} vs "
                f"{_desc(name_b, vb, metric)}; {why}.")
    numbers, spread = {}, {}
    for name, v in ((name_a, va), (name_b, vb)):
        key = f"{name}: {metric.label}"
        numbers[key] = float(np.median(v)) if len(v) else math.nan
        spread[key] = [float(v.min()), float(v.max())] if len(v) else [math.nan, math.nan]
    return Check(claim, status, sentence, numbers, spread)


def _below_min_effect(va: np.ndarray, vb: np.ndarray, metric: Metric) -> str | None:
    """The reason a separated gap is too small to matter, or None when it matters."""
    if metric.min_effect is None:
        return None
    gap = abs(float(np.median(va)) - float(np.median(vb)))
    if not math.isfinite(gap) or gap >= metric.min_effect:
        return None
    unit = f" {metric.unit}" if metric.unit else ""
    return (f"the seed ranges do not overlap, but the medians differ by only "
            f"{metric.fmt(gap)}{unit}, below the {metric.fmt(metric.min_effect)}{unit} that "
            "counts as a practical effect: no practical difference")


def compare(data: StudyData, a: str, b: str, metric: Metric, claim: str | None = None) -> Check:
    """Check that arm `a` beats arm `b` on `metric` (EFFECT_RULE, failed runs worst)."""
    better = "lower" if metric.lower_is_better else "higher"
    claim = claim or f"{data.label(a)} has a {better} {metric.label} than {data.label(b)}"
    return compare_values(data.label(a), data.values(a, metric.name),
                          data.label(b), data.values(b, metric.name), metric, claim)


def threshold_check(name: str, values: Iterable[float], limit: float, metric: Metric,
                    claim: str, above: bool) -> Check:
    """Check that every seed's value is strictly above (or below) `limit`; fails when every
    seed is on the other side or equal; unclear when the seeds straddle it."""
    v = _finite_or_inf(values)
    side = v > limit if above else v < limit
    if len(v) < MIN_SEEDS:
        status, why = "unclear", f"fewer than {MIN_SEEDS} seeds have a value"
    elif side.all():
        status, why = "holds", "every seed is on that side"
    elif not side.any():
        status, why = "fails", "no seed is on that side"
    else:
        status, why = "unclear", f"{int(side.sum())} of {len(v)} seeds are on that side"
    where = "above" if above else "below"
    sentence = (f"Median {metric.label}: {_desc(name, v, metric)}; the claim needs every seed "
                f"{where} {metric.fmt(limit)}: {why}.")
    spread = {f"{name}: {metric.label}":
              [float(v.min()), float(v.max())] if len(v) else [math.nan, math.nan]}
    numbers = {f"{name}: {metric.label}": float(np.median(v)) if len(v) else math.nan,
               f"limit: {metric.label}": float(limit)}
    return Check(claim, status, sentence, numbers, spread)


def stability_check(data: StudyData, key: str) -> Check:
    """Check that no seed of arm `key` failed (lab.measure.registry.FAILED_RULE)."""
    n, bad = len(data.of_arm(key)), data.n_failed(key)
    status = "fails" if bad else ("holds" if n >= MIN_SEEDS else "unclear")
    sentence = f"{data.label(key)} failed in {bad} of {n} seeds."
    return Check(f"{data.label(key)} trains without failing", status, sentence,
                 {f"{data.label(key)}: failed seeds": bad}, {})


def paired(data: StudyData, a: str, b: str, column: str, scale: float = 1.0) -> pd.Series:
    """Per seed (value of arm a - value of arm b) / scale, for seeds both arms hold."""
    va, vb = data.values(a, column), data.values(b, column)
    d = (va - vb).dropna() / scale
    return d[np.isfinite(d)]


def missing_reason(data: StudyData, keys: Iterable[str]) -> str | None:
    """Why the study cannot be judged (an arm with fewer than MIN_SEEDS stored runs), or None."""
    counts = {k: len(data.of_arm(k)) for k in keys}
    short = [f"{data.label(k)} ({n} seed{'' if n == 1 else 's'})" for k, n in counts.items()
             if n < MIN_SEEDS]
    if short:
        return f"too few stored runs for {', '.join(short)}; at least {MIN_SEEDS} seeds are needed"
    return None


def baseline_arm(data: StudyData) -> str:
    """The key of the arm whose overrides equal the baseline's values (e.g. clip=5.0)."""
    for a in data.arms:
        if a.overrides and all(getattr(BASELINE, k) == v for k, v in a.overrides.items()):
            return a.key
    raise ValueError(f"study {data.study_id!r} has no arm at the baseline")


def failure_notes(data: StudyData) -> list[str]:
    """One sentence per arm that had failed runs: a diverged arm is a finding."""
    return [f"{data.label(k)} failed (diverged or blew up) in {data.n_failed(k)} of "
            f"{len(data.of_arm(k))} seeds." for k in data.arm_keys if data.n_failed(k)]
