"""The precompute CLI: resumable (a re-run trains only what is missing, a kill loses nothing
finished), the same numbers as an uninterrupted run, and clear refusals of bad arguments."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lab.data.store import open_reader
from lab.precompute import main, precompute
from lab.studies.catalog import STUDY_IDS, planned_runs
from lab.training.config import checkpoint_steps

ROOT = Path(__file__).resolve().parent.parent
QUIET = {"log": lambda m: None}


@pytest.fixture(autouse=True)
def keep_threads():
    """precompute's in-process task sets torch threads to 1; give the rest of the suite its own."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lab.precompute", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def stored(db: Path) -> dict:
    """{run_id: final_val_loss}, and the row counts per run of the checkpoints table."""
    with open_reader(db) as s:
        losses = dict(s.con.execute("SELECT run_id, final_val_loss FROM trainings").fetchall())
        ck = dict(s.con.execute(
            "SELECT run_id, count(*) FROM checkpoints GROUP BY run_id").fetchall())
    return {"val": losses, "checkpoints": ck}


def test_rerun_trains_nothing_and_shared_runs_train_once(tmp_path):
    db = tmp_path / "lab.duckdb"
    first = precompute(db, studies=("initialization",), seeds=(42,), steps=10, jobs=1, **QUIET)
    assert first == {"planned": 3, "stored_before": 0, "trained": 3}
    again = precompute(db, studies=("initialization",), seeds=(42,), steps=10, jobs=1, **QUIET)
    assert again == {"planned": 3, "stored_before": 3, "trained": 0}
    # the reservoir's trained arm is the baseline, already stored: only the frozen arm trains
    more = precompute(db, studies=("initialization", "reservoir"), seeds=(42,), steps=10, jobs=1,
                      **QUIET)
    assert more == {"planned": 4, "stored_before": 3, "trained": 1}
    with open_reader(db) as s:
        runs = s.runs()
    assert len(runs) == 5 and runs["run_id"].nunique() == 4  # 5 memberships, 4 trainings
    baseline = runs[runs["arm"].isin(["orthogonal", "trained"])]["run_id"]
    assert baseline.nunique() == 1


def test_killed_precompute_resumes_to_the_same_database(tmp_path):
    """SIGKILL once the first stack is stored; a re-run trains exactly the rest.

    initialization + tbptt at one seed: 6 distinct runs in 4 stacks (seq_len 25 x3, 50, 10, 5).
    """
    steps, args = 60, ("--study", "initialization", "--study", "tbptt", "--seeds", "42")
    killed, whole = tmp_path / "killed.duckdb", tmp_path / "whole.duckdb"
    proc = cli(*args, "--steps", str(steps), "--jobs", "1", "--db", str(killed))
    log = []
    deadline = time.monotonic() + 60
    for line in proc.stderr:  # the progress line is written after a stack's runs are stored
        log.append(line)
        if "runs  stack" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert any("runs  stack" in line for line in log), "".join(log)
    planned = len({c.run_id for *_, c in planned_runs(("initialization", "tbptt"), (42,), steps)})
    after_kill = stored(killed)["val"]
    assert planned == 6 and 3 <= len(after_kill) < planned

    counts = precompute(killed, studies=("initialization", "tbptt"), seeds=(42,), steps=steps,
                        jobs=1, **QUIET)
    assert counts == {"planned": planned, "stored_before": len(after_kill),
                      "trained": planned - len(after_kill)}
    precompute(whole, studies=("initialization", "tbptt"), seeds=(42,), steps=steps, jobs=1,
               **QUIET)
    resumed, reference = stored(killed), stored(whole)
    assert resumed["val"] == reference["val"]  # same runs, bit-identical held-out losses
    marks = len(checkpoint_steps(steps))
    assert resumed["checkpoints"] == {run_id: marks for run_id in reference["val"]}


def test_list_names_every_study(tmp_path, capsys):
    db = tmp_path / "absent.duckdb"
    assert main(["--list", "--db", str(db), "--steps", "10"]) == 0
    out = capsys.readouterr().out
    for study in STUDY_IDS:
        assert study in out
    assert "0/" in out and not db.exists()  # listing never creates the store


def test_unknown_study_exits_with_a_clear_message():
    proc = cli("--study", "nope", "--db", os.devnull)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "--study" in err and "nope" in err and "initialization" in err


def test_analyses_added_later_are_backfilled_from_stored_weights(tmp_path):
    """A stored run missing an end-of-run metric (an analysis added after it was trained)
    gets it from its stored weights, equal to a fresh computation; stored values stay."""
    from lab.data.store import open_writer
    from lab.measure.analyses import SCALAR_NAMES, run_all
    from lab.precompute import backfill_analyses, precompute
    from lab.training.engine import load_weights
    from lab.training.model import StackedRNN

    db = tmp_path / "lab.duckdb"
    precompute(db, ["initialization"], (42,), steps=30, jobs=1, log=lambda m: None)
    with open_writer(db) as store:
        runs = store.runs()
        alive = runs.loc[runs["status"] != "diverged", "run_id"].tolist()
        before = store.scalars(alive)
        assert set(SCALAR_NAMES) <= set(before["name"])
        victim = alive[0]
        store.con.execute("DELETE FROM scalars WHERE run_id = ? AND name LIKE 'illegal_%'",
                          [victim])
        store.con.execute("UPDATE scalars SET value = -1 WHERE run_id = ? AND name = "
                          "'memory_horizon'", [victim])
        assert backfill_analyses(store, lambda m: None) == 1
        assert backfill_analyses(store, lambda m: None) == 0  # idempotent
        after = store.scalars([victim]).set_index("name")["value"]
        cfg = store.config(victim)
        (_, fresh), = run_all(StackedRNN.from_weights([cfg], [load_weights(
            store.weights(victim))]), [cfg])
    assert set(fresh) == set(SCALAR_NAMES)  # the list backfill checks is run_all's own
    assert after["memory_horizon"] == -1  # a stored value is never overwritten
    for name in ("illegal_mass_true", "illegal_mass_own"):
        assert after[name] == fresh[name] and 0 <= after[name] < 1
