"""The sandbox's same-step comparison: a short run's final loss is set beside the stored
baseline's held-out loss at the same step, and beside the baseline's end, each labelled."""

from __future__ import annotations

import dataclasses

import pandas as pd

from lab.data.store import open_reader
from lab.data.studydata import build, load_study
from lab.service import results
from lab.studies.catalog import ARMS
from lab.studies.study import Arm


def test_a_short_run_is_compared_at_its_own_step(fixture_db):
    with open_reader(fixture_db) as store:
        stored = load_study(store, "novel_word", ARMS["novel_word"])
    base = stored.runs[stored.runs["arm"] == "baseline"]
    ck = stored.tables["checkpoints"]
    ck = ck[ck["run_id"].isin(base["run_id"])]
    steps = int(sorted(ck["step"].unique())[1])  # a checkpoint inside training
    mine_runs = base.iloc[:1].drop(columns=["failed"]).assign(arm="yours", steps=steps,
                                                              final_val_loss=9.9)
    mine = build("sandbox", mine_runs, pd.DataFrame(columns=["run_id", "name", "value"]), {},
                 None, (Arm("yours", "your run"),))
    data = results.same_step_losses(stored, "baseline", mine)
    assert data.arm_keys == ("same_step", "end", "yours")
    assert data.label("same_step") == f"baseline at step {steps:,} (same point)"
    end = int(base["steps"].max())
    assert data.label("end") == f"baseline at its end, step {end:,}"
    want = ck[ck["step"] == steps].set_index("run_id")["val_loss"]
    got = data.of_arm("same_step").set_index("run_id")["final_val_loss"]
    pd.testing.assert_series_equal(got.sort_index(), want.sort_index(), check_names=False)
    assert data.median("end", "final_val_loss") == stored.median("baseline", "final_val_loss")
    assert dataclasses.is_dataclass(data)
