"""The engine: determinism, stacked equals alone, divergence as a result, reservoir, sampling."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lab.training.config import BASELINE
from lab.training.engine import load_weights, train_stack
from lab.training.model import PARAM_NAMES, init_params, param_count
from lab.training.recorders import StepRecorder

SMALL = BASELINE.replace(hidden=16, seq_len=10, steps=40)  # every test run is this shape
CLIPPED = SMALL.replace(clip=0.5, seed=11)  # clipping fires at every step
NONE = lambda st: []  # noqa: E731  (no recorders: the bare training loop)


pytestmark = pytest.mark.usefixtures("one_thread")


def weights(result) -> dict[str, np.ndarray]:
    return load_weights(result.weights)


def assert_same_result(a, b) -> None:
    """Exact equality of everything a run records except its wall time (NaN equals NaN)."""
    def close(x, y, name):
        np.testing.assert_allclose(x, y, rtol=0, atol=0, err_msg=name)

    assert a.config == b.config and a.status == b.status and a.diverged_at == b.diverged_at
    assert a.weights == b.weights
    close(a.final_train_loss, b.final_train_loss, "final_train_loss")
    close(a.final_val_loss, b.final_val_loss, "final_val_loss")
    assert a.scalars.keys() == b.scalars.keys()
    for k in a.scalars:
        close(a.scalars[k], b.scalars[k], k)
    assert a.tables.keys() == b.tables.keys()
    for name, df in a.tables.items():
        other = b.tables[name]
        assert list(df.columns) == list(other.columns) and len(df) == len(other), name
        for col in df.columns:
            if df[col].dtype.kind == "f":
                close(df[col].to_numpy(), other[col].to_numpy(), name)
            else:
                assert df[col].equals(other[col]), f"{name}.{col}"


@pytest.fixture(scope="module")
def stacked():
    """A mixed stack with default recorders: SMALL among other seeds, activations and lrs."""
    configs = [SMALL, SMALL.replace(activation="relu", seed=7), SMALL.replace(lr=0.05, seed=8),
               SMALL.replace(activation="sigmoid", init="xavier", seed=9), CLIPPED]
    return {r.run_id: r for r in train_stack(configs)}


def test_same_config_twice_gives_identical_results(stacked):
    again = {r.run_id: r for r in train_stack([c.config for c in stacked.values()])}
    for run_id, r in stacked.items():
        assert_same_result(r, again[run_id])


def test_a_run_in_a_stack_equals_the_run_alone(stacked):
    # bit-identical: every op is per run (bmm, per-run slices, per-run generators, per-run
    # reductions); the clipped run checks the pre-clip norm, which scales its every update
    assert stacked[CLIPPED.run_id].scalars["clip_fraction"] == 1.0
    for cfg in (CLIPPED, SMALL.replace(activation="sigmoid", init="xavier", seed=9)):
        (alone,) = train_stack([cfg])
        assert_same_result(stacked[cfg.run_id], alone)


def test_a_stopped_run_leaves_the_stack_and_changes_no_other_run():
    # the diverged run is dropped from the step's tensors (engine.LiveRuns): the runs left,
    # of every kind the step gathers (activations, a frozen W_hh, scheduled sampling, a
    # clip), must still equal the same runs trained alone, and the stopped run itself too
    bad = SMALL.replace(activation="identity", init="random", lr=1.0, clip=1e4)
    others = [SMALL.replace(activation="relu", seed=3), SMALL.replace(freeze_whh=True, seed=4),
              SMALL.replace(sampling=0.5, seed=5), CLIPPED]
    results = {r.run_id: r for r in train_stack([bad, *others])}
    assert results[bad.run_id].diverged_at < SMALL.steps // 2  # the rest trained without it
    for cfg in (bad, *others):
        (alone,) = train_stack([cfg])
        assert_same_result(results[cfg.run_id], alone)


def test_training_learns(stacked):
    r = stacked[SMALL.run_id]
    val = r.tables["checkpoints"]["val_loss"]
    assert r.status == "ok" and r.final_val_loss < math.log(29)
    assert val.iloc[-1] < val.iloc[0] - 0.05
    assert {"gradient_reach", "memory_horizon", "clip_fraction"} <= r.scalars.keys()


def test_checkpoints_include_the_early_steps_when_the_run_is_long_enough(stacked):
    """Issue 23: a run of 520 steps is measured at 100, 200 and 500 besides its regular
    checkpoints (every table written at checkpoints); a 40-step run keeps 0, 4, ..., 40."""
    from lab.training.config import checkpoint_steps
    from lab.training.recorders import CheckpointRecorder

    cfg = BASELINE.replace(hidden=8, seq_len=5, batch_size=4, steps=520)
    (r,) = train_stack([cfg], recorders=lambda st: [StepRecorder(st), CheckpointRecorder(st)])
    steps = r.tables["checkpoints"]["step"].tolist()
    assert {100, 200, 500} <= set(steps) and steps == checkpoint_steps(520)
    assert r.tables["samples"]["step"].tolist() == steps
    s = r.tables["series"]
    assert s[s["analysis"] == "agreement_long_over_training"]["x"].tolist() == steps
    # exposure bias over training: at the log-spaced checkpoints and the last step
    for name in ("error_after_correct_own_over_training", "exposure_errors_over_training"):
        assert s[s["analysis"] == name]["x"].tolist() == [100, 200, 500, 520]
    short = stacked[SMALL.run_id].tables["checkpoints"]["step"].tolist()
    assert short == list(range(0, SMALL.steps + 1, 4))


def test_divergence_is_a_result_not_a_crash():
    # identity with an unscaled N(0, 1) W_hh (spectral radius ~4 at H=16) explodes at once
    bad = SMALL.replace(activation="identity", init="random", lr=1.0, clip=1e4)
    good = [SMALL, SMALL.replace(activation="relu", seed=3)]
    results = {r.run_id: r for r in train_stack([bad, *good])}
    b = results[bad.run_id]
    assert b.status == "diverged"
    assert b.diverged_at is not None and 0 <= b.diverged_at < SMALL.steps
    assert math.isnan(b.final_train_loss)
    for cfg in good:
        r = results[cfg.run_id]
        assert r.status == "ok" and r.diverged_at is None
        assert math.isfinite(r.final_train_loss) and math.isfinite(r.final_val_loss)
        assert all(np.isfinite(w).all() for w in weights(r).values())
        assert np.isfinite(r.tables["curves"]["loss"]).all()


def test_frozen_whh_keeps_its_init():
    frozen = SMALL.replace(freeze_whh=True)
    results = {r.run_id: r for r in train_stack([frozen, SMALL], recorders=NONE)}
    init = init_params(frozen)
    w_frozen, w_trained = weights(results[frozen.run_id]), weights(results[SMALL.run_id])
    np.testing.assert_array_equal(w_frozen["Whh"], init["Whh"].numpy())
    assert not np.array_equal(w_trained["Whh"], init["Whh"].numpy())
    for n in set(PARAM_NAMES) - {"Whh"}:  # the rest of the reservoir run trains
        assert not np.array_equal(w_frozen[n], init[n].numpy()), n
    assert results[frozen.run_id].params == param_count(frozen) == param_count(SMALL) - 16 * 16


def step_losses(configs):
    """Train with only the per-step recorder; per-step losses (R, steps) in stack order."""
    recs = []

    def attach(st):
        recs.append(StepRecorder(st))
        return recs

    results = train_stack(configs, recorders=attach)
    return recs[0].loss, results


def test_scheduled_sampling_zero_is_teacher_forcing():
    sampled = SMALL.replace(sampling=0.5, seed=5)
    # stacked with a sampling run, the rate-0 run goes through the sampling path with eps = 0
    loss_mixed, mixed = step_losses([SMALL, sampled])
    loss_tf, tf = step_losses([SMALL])
    torch.testing.assert_close(loss_mixed[0], loss_tf[0], rtol=0, atol=0)
    assert mixed[0].weights == tf[0].weights
    # the sampling run alone samples the same as stacked (its own generator, per-run ops)
    loss_alone, alone = step_losses([sampled])
    torch.testing.assert_close(loss_mixed[1], loss_alone[0], rtol=0, atol=0)
    assert mixed[1].weights == alone[0].weights
    # with sampling > 0 the run differs from the same seed teacher-forced
    loss_same_seed, _ = step_losses([SMALL.replace(seed=5)])
    assert torch.equal(loss_mixed[1, 0], loss_same_seed[0, 0])  # step 0: eps = 0, same start
    assert not torch.equal(loss_mixed[1], loss_same_seed[0])


def test_one_stack_needs_one_shape():
    with pytest.raises(ValueError, match="share"):
        train_stack([SMALL, SMALL.replace(seq_len=5)], recorders=NONE)


def test_torchscript_and_plain_python_give_the_same_bits():
    # the engine's equations run as TorchScript, or as plain Python when TorchScript is not
    # available (PYTORCH_JIT=0 turns torch.jit.script into a no-op): same ops, same numbers
    code = ("import sys, torch; from lab.training.engine import train_stack; "
            "from lab.training.model import recur; from lab.training.config import RunConfig; "
            "torch.set_num_threads(1); assert not hasattr(recur, 'graph'); "
            "cfgs = [RunConfig.from_json(s) for s in sys.argv[1:]]; "
            "sys.stdout.write(''.join(r.weights.hex() + '\\n' for r in "
            "train_stack(cfgs, recorders=lambda st: [])))")
    configs = [SMALL, SMALL.replace(activation="relu", seed=7), CLIPPED]
    env = {**os.environ, "PYTORCH_JIT": "0"}
    out = subprocess.run([sys.executable, "-c", code, *(c.to_json() for c in configs)],
                         env=env, capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent).stdout.split()
    scripted = train_stack(configs, recorders=NONE)
    assert [r.weights.hex() for r in scripted] == out


def test_curve_windows_equal_the_window_by_window_reductions():
    # StepRecorder.curve reduces all windows at once; the stored curves were made window by
    # window, so both must give the same bits (a last partial window included)
    from lab.measure.metrics import CURVE_EVERY
    from lab.training.hooks import Stack

    steps = 7 * CURVE_EVERY + 13
    st = Stack([SMALL], None, torch.ones(1, dtype=torch.bool), [None], steps, step=steps)
    rec = StepRecorder(st)
    gen = torch.Generator().manual_seed(0)
    rec.loss[0] = torch.rand(steps, generator=gen) * torch.randn(steps, generator=gen).exp()
    rec.gnorm[0] = torch.randn(steps, generator=gen).exp() * 50
    rec.clipped[0] = torch.rand(steps, generator=gen) < 0.3
    for stop in (None, 3 * CURVE_EVERY + 7):  # a finished run, and one that diverged
        st.diverged_at = [stop]
        last = stop or steps
        want = []
        for start in range(0, last, CURVE_EVERY):
            sl = slice(start, min(start + CURVE_EVERY, last))
            g = rec.gnorm[0, sl].double()
            want.append((sl.stop, rec.loss[0, sl].double().mean().item(), g.mean().item(),
                         g.max().item(), rec.clipped[0, sl].double().mean().item()))
        got = rec.curve(st, 0)
        assert [tuple(row) for row in got.itertuples(index=False)] == want


def test_a_stack_advanced_in_blocks_from_two_threads_equals_it_trained_at_once(stacked):
    # the retrain scheduler advances a stack BLOCK_STEPS at a time from whichever thread
    # takes it; a diverging run stops inside one of the blocks
    import threading

    from lab.training.engine import StackTrainer

    bad = SMALL.replace(activation="identity", init="random", lr=1.0, clip=1e4)
    configs = [c.config for c in stacked.values()] + [bad]
    trainer, finished = StackTrainer(configs), []
    while not finished or not finished[-1]:
        t = threading.Thread(target=lambda: finished.append(trainer.advance(7)))
        t.start()
        t.join()
    again = {r.run_id: r for r in train_stack(configs)}
    for r in trainer.results():
        assert_same_result(r, again[r.run_id])
