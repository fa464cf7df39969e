"""The run config: bad values refused by name, a stable and exact run id, JSON round trips."""

from __future__ import annotations

import math

import pytest

from lab.training.config import BASELINE, KNOBS, RunConfig

# computed once from the baseline; a change means every stored run's key changed with it
BASELINE_RUN_ID = "2f0832c76f094b5a"  # ENGINE_VERSION 4, CORPUS_VERSION 3, batch 64

# one valid value different from the baseline's, per knob that has more than one choice
CHANGED = {
    "hidden": 65, "activation": "relu", "init": "xavier", "freeze_whh": True, "seq_len": 26,
    "lr": 0.02, "clip": 6.0, "sampling": 0.1, "steps": 30_001, "seed": 43, "batch_size": 17,
}
SINGLE_CHOICE = {"optimizer", "loss_scale"}  # nothing else to change them to


@pytest.mark.parametrize("knob, value", [
    ("activation", "gelu"),
    ("init", "kaiming"),
    ("hidden", 0),
    ("hidden", 64.0),  # a float where an int is expected
    ("hidden", True),  # a bool is an int to Python, not to the lab
    ("seq_len", False),
    ("lr", -1.0),
    ("lr", math.nan),
    ("lr", math.inf),
    ("lr", "0.01"),
    ("clip", 0.0),
    ("sampling", 1.5),
    ("seed", -1),
    ("steps", 10**9),
    ("batch_size", 0),
    ("freeze_whh", 1),
    ("optimizer", "adam"),
])
def test_bad_value_raises_naming_the_knob(knob, value):
    with pytest.raises(ValueError, match=knob):
        RunConfig(**{knob: value})
    with pytest.raises(ValueError, match=knob):
        BASELINE.replace(**{knob: value})


def test_unknown_knob_raises_naming_it():
    with pytest.raises(ValueError, match="hiden"):
        BASELINE.replace(hiden=32)
    with pytest.raises(ValueError, match="momentum"):
        RunConfig.from_dict({**BASELINE.to_dict(), "momentum": 0.9})


def test_baseline_run_id_is_pinned():
    assert BASELINE.run_id == BASELINE_RUN_ID
    assert RunConfig().run_id == BASELINE_RUN_ID  # equal configs are one run


def test_every_knob_changes_the_run_id():
    assert set(CHANGED) | SINGLE_CHOICE == set(KNOBS), "a new knob needs a value in CHANGED"
    ids = {BASELINE.run_id}
    for knob, value in CHANGED.items():
        ids.add(BASELINE.replace(**{knob: value}).run_id)
    assert len(ids) == len(CHANGED) + 1


def test_notes_are_not_part_of_the_run():
    noted = RunConfig(notes=("calibration",))
    assert noted == BASELINE and noted.run_id == BASELINE_RUN_ID


@pytest.mark.parametrize("cfg", [
    BASELINE,
    BASELINE.replace(lr=0.003, clip=0.5, activation="identity", init="random"),
    BASELINE.replace(freeze_whh=True, sampling=0.25, hidden=16, seq_len=5, steps=10, seed=0),
])
def test_json_round_trip(cfg):
    back = RunConfig.from_json(cfg.to_json())
    assert back == cfg
    assert back.run_id == cfg.run_id
    assert back.to_json() == cfg.to_json()
    assert type(back.lr) is float and type(back.hidden) is int and type(back.freeze_whh) is bool


@pytest.mark.parametrize("knob, as_int", [("lr", 1), ("clip", 5), ("sampling", 0)])
def test_equal_configs_share_one_run_id(knob, as_int):
    # an int for a float knob (a URL or JSON "5") is the same run as the float: one key, one row
    cfg = BASELINE.replace(**{knob: as_int})
    assert cfg == BASELINE.replace(**{knob: float(as_int)})
    assert cfg.run_id == BASELINE.replace(**{knob: float(as_int)}).run_id
    assert RunConfig.from_json(cfg.to_json()).run_id == cfg.run_id


def test_checkpoints_add_early_steps_and_keep_the_old_schedule():
    """Issue 23: steps 100, 200 and 500 join step 0, every 1,000 and the last step; a run
    shorter than 100 steps keeps its old schedule (0, every tenth, the last)."""
    from lab.training.config import checkpoint_steps

    full = checkpoint_steps(30_000)
    assert full[:6] == [0, 100, 200, 500, 1000, 2000] and full[-1] == 30_000
    assert set(range(0, 30_001, 1000)) <= set(full) and len(full) == 34
    assert full == sorted(set(full))  # ascending, no step twice
    assert checkpoint_steps(2000) == [0, 100, 200, 400, 500, 600, 800, 1000, 1200, 1400,
                                      1600, 1800, 2000]
    assert checkpoint_steps(300) == [0, 30, 60, 90, 100, 120, 150, 180, 200, 210, 240, 270, 300]
    assert checkpoint_steps(40) == list(range(0, 41, 4))  # short: untouched
    assert checkpoint_steps(99) == [*range(0, 99, 9), 99]
