"""The metric registry: one entry per metric, definitions that agree with the code that
computes them, the saturation rule derived from its constant, one failed-seed policy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lab.measure import metrics
from lab.measure import registry as reg
from lab.studies.catalog import STUDIES


def test_every_entry_is_complete_and_unknown_names_are_refused():
    for name, m in reg.METRICS.items():
        assert m.name == name and m.label and m.definition, name
        assert m.better in reg.BETTER and m.failed in reg.FAILED_POLICIES
        if m.better is not None and name != "run_status":
            assert m.min_effect is not None and m.min_effect > 0, name
    with pytest.raises(ValueError, match="unknown metric 'nope'"):
        reg.get("nope")


def test_every_study_names_registered_metrics():
    for s in STUDIES.values():
        assert reg.METRICS[s.metric.name] is s.metric


def test_min_effects_follow_issue_11():
    floor = reg.FLOOR
    assert reg.get("final_val_loss").min_effect == pytest.approx(0.02 * floor)
    assert reg.get("category_separation").min_effect == pytest.approx(0.05)


def test_definitions_quote_the_constants_not_their_names():
    text = " ".join(m.definition for m in reg.METRICS.values())
    assert not any(w in text for w in ("REACH_THRESHOLD", "PROBE_MARGIN", "DIVERGE_LOSS",
                                       "SATURATION_FRACTION", "READ_TRAIN_TRACKS"))
    assert f"{metrics.REACH_THRESHOLD:g}" in reg.get("gradient_reach").definition
    assert f"{metrics.CLEAR_ACCURACY:.0%}" in reg.get("memory_horizon").definition
    assert f"{metrics.DIVERGE_LOSS:.1f}" in reg.get("run_status").definition
    assert "\\_" in reg.get("gradient_reach").quote()  # markdown-safe h_t


def test_probe_definition_matches_the_analysis():
    from lab.measure import analyses  # imports torch: the registry itself must not

    probe = reg.get("probe_accuracy").definition
    assert f"{analyses.READ_TRAIN_TRACKS} held-out tracks of {analyses.READ_LENGTH:,}" in probe
    assert f"on {analyses.READ_TRACKS - analyses.READ_TRAIN_TRACKS} others" in probe
    assert ", ".join(reg.PROBE_BIN_LABELS) in probe
    assert metrics.probe_bin(5) == "4-7" and metrics.probe_bin(50) == "26-50"


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_saturation_rule_is_derived_from_its_constant(activation):
    """The stated thresholds sit where metrics.saturated flips, to the digits shown."""
    rule = reg.SATURATION_RULE[activation]
    h = np.linspace(0.0, 1.0, 200_001)
    flips = h[np.flatnonzero(np.diff(metrics.saturated(h, activation).astype(int)))]
    for x in flips:
        assert f"{x:.3f}" in rule, (x, rule)
    assert set(reg.SATURATION_RULE) == {"tanh", "relu", "sigmoid", "identity"}


def test_one_failed_seed_policy():
    assert reg.seed_median([0.3, 0.4, math.inf]) == pytest.approx(0.4)
    assert reg.seed_median([0.3, math.inf, math.inf]) == math.inf
    assert reg.seed_median([0.3, math.nan, 0.5]) == pytest.approx(0.4)
    assert math.isnan(reg.seed_median([]))
    assert reg.get("final_val_loss").fmt(math.inf) == "failed"
    assert set(reg.FAILED_WORST) == {"final_val_loss", "final_train_loss", "curve_mean_loss"}
