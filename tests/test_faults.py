"""The precompute under faults: SIGKILL of the whole process group (loky workers included) at
seeded random moments, three times, then a run to completion. Nothing stored is lost, nothing
is trained twice, the store opens after every kill, and the result equals an uninterrupted
run's (the fixture database, built by the same code with the same steps).

The kills land at seeded random moments relative to each attempt's log: shortly after it
plans (a stack in training), and twice shortly after its first stack is stored."""

from __future__ import annotations

import ast
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path

import duckdb
import pytest
from conftest import FIXTURE_STEPS

from lab.data.store import open_reader, open_writer
from lab.studies.catalog import planned_runs

ROOT = Path(__file__).resolve().parent.parent
STUDIES, SEEDS = ("initialization", "tbptt"), (42, 43)  # 12 distinct runs in 4 stacks
KILLS = 3
PLAN_LINE = re.compile(r"(\d+) distinct runs planned, (\d+) stored, (\d+) to train")
PROGRESS = re.compile(r"\] (\d+)/(\d+) runs  stack")


class Attempt:
    """One `python -m lab.precompute` in its own session, its stderr lines read as they come."""

    def __init__(self, db: Path) -> None:
        args = [a for s in STUDIES for a in ("--study", s)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lab.precompute", *args, "--seeds", ",".join(map(str, SEEDS)),
             "--steps", str(FIXTURE_STEPS), "--jobs", "2", "--db", str(db)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)

    def wait_for(self, pattern: re.Pattern, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if any(pattern.search(line) for line in self.lines):
                return True
            time.sleep(0.02)
        return any(pattern.search(line) for line in self.lines)

    def kill(self) -> None:
        """SIGKILL every process of the session, then wait until none is left."""
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            pytest.fail("precompute workers outlived the kill of their process group")
        self.reader.join(timeout=10)

    def reported_stored(self) -> int:
        """Runs this attempt said it stored (its last progress line), 0 if none."""
        counts = [int(m.group(1)) for line in self.lines if (m := PROGRESS.search(line))]
        return max(counts, default=0)

    def plan(self) -> tuple[int, int, int] | None:
        """(planned, stored before, to train) as the attempt announced them."""
        m = next((m for line in self.lines if (m := PLAN_LINE.search(line))), None)
        return tuple(map(int, m.groups())) if m else None


def stored_runs(db: Path) -> dict[str, str]:
    """run_id -> created_at of each stored training (a re-write would change it)."""
    if not db.exists():
        return {}
    with open_reader(db) as s:  # must open after any kill
        return {r: str(t) for r, t in s.con.execute(
            "SELECT run_id, created_at FROM trainings").fetchall()}


def contents(db: Path, run_ids: set[str]) -> dict:
    """What the app reads of these runs: results, curves, checkpoints, memberships."""
    ids = sorted(run_ids)
    with open_reader(db) as s:
        q = s.con.execute
        return {
            "val": dict(q("SELECT run_id, final_val_loss FROM trainings WHERE run_id IN "
                          "(SELECT unnest(?::VARCHAR[]))", [ids]).fetchall()),
            "curves": q("SELECT run_id, step, loss, grad_norm FROM curves WHERE run_id IN "
                        "(SELECT unnest(?::VARCHAR[])) ORDER BY run_id, step", [ids]).fetchall(),
            "checkpoints": q("SELECT * FROM checkpoints WHERE run_id IN "
                             "(SELECT unnest(?::VARCHAR[])) ORDER BY run_id, step",
                             [ids]).fetchall(),
            "members": q("SELECT study, arm, seed, run_id FROM memberships WHERE study IN "
                         "(SELECT unnest(?::VARCHAR[])) AND seed IN (SELECT unnest(?::INT[])) "
                         "ORDER BY ALL", [list(STUDIES), list(SEEDS)]).fetchall(),
        }


def test_killed_three_times_loses_nothing_and_trains_nothing_twice(tmp_path, fixture_db):
    db = tmp_path / "lab.duckdb"
    planned = {c.run_id for *_, c in planned_runs(STUDIES, SEEDS, FIXTURE_STEPS)}
    rng = random.Random(20240611)
    first_stored: dict[str, str] = {}  # run_id -> created_at when first seen stored
    history = []
    for i in range(KILLS):
        before = stored_runs(db)
        attempt = Attempt(db)
        # moments relative to the attempt's own log, so they mean the same on a fast or a
        # loaded machine: soon after planning (mid-stack), or just after a stack is stored
        # (in or between the next writes)
        attempt.wait_for(PLAN_LINE if i == 0 else PROGRESS, timeout=120)
        time.sleep(rng.uniform(0.0, (1.0, 0.3, 0.6)[i]))
        attempt.kill()
        after = stored_runs(db)  # opens (a left-over .wal is replayed or ignored)
        history.append((attempt.plan(), len(before), attempt.reported_stored(), len(after)))
        assert set(before) <= set(after) <= planned, history  # nothing stored is lost
        assert len(after) - len(before) >= attempt.reported_stored(), history
        if (plan := attempt.plan()) is not None:  # a stored run is never scheduled again
            assert plan == (len(planned), len(before), len(planned) - len(before)), history
        for run_id, created in after.items():
            assert first_stored.setdefault(run_id, created) == created, "a run was rewritten"

    assert any(n < len(planned) for *_, n in history), f"no kill interrupted work: {history}"
    last = Attempt(db)
    assert last.proc.wait(timeout=300) == 0, "".join(last.lines[-20:])
    last.reader.join(timeout=10)
    before = len(first_stored)
    done = next(line for line in last.lines if "done: " in line)
    counts = ast.literal_eval(done.split("done: ", 1)[1].strip())
    assert counts == {"planned": len(planned), "stored_before": before,
                      "trained": len(planned) - before}, history
    final = stored_runs(db)
    assert set(final) == planned
    assert all(final[r] == t for r, t in first_stored.items()), "a stored run was retrained"
    assert not db.with_name(db.name + ".wal").exists()  # the finished run checkpointed
    # the same database as an uninterrupted run of the same code and steps
    assert contents(db, planned) == contents(fixture_db, planned)


def test_a_store_left_without_its_schema_can_be_rebuilt(tmp_path):
    """A kill between creating the file and committing the schema leaves a DuckDB file with
    no tables; the next precompute's writer must build the schema there, not refuse the file
    (telling the student to run the very precompute that refuses it)."""
    db = tmp_path / "lab.duckdb"
    duckdb.connect(str(db)).close()  # what that kill leaves behind
    with open_writer(db) as store:
        assert store.stored_run_ids() == set()
