"""Shared fixtures: a small but complete lab database built by the real precompute.

`fixture_db` holds every study's arms and seeds trained for FIXTURE_STEPS steps. It is
built once and cached under ~/.cache keyed by a hash of the modules that decide its
content, so a code change
rebuilds it and an unchanged tree reuses it (CI on a fresh machine builds it once, ~1 min).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

FIXTURE_STEPS = 20
LAB = Path(__file__).resolve().parent.parent / "lab"


# the modules whose code decides what the database holds (pages, verdicts, retrain do not),
# and the plan of runs the studies declare
DB_MODULES = ("language/alphabet", "measure/analyses", "training/config",
              "language/corpus", "training/engine", "measure/evaluate", "language/grammar",
              "measure/metrics", "training/model", "precompute", "training/recorders",
              "training/results", "training/stacks", "data/store", "language/sentences",
              "language/agreement", "language/floors", "measure/agreement", "measure/exposure",
              "language/resync", "measure/company", "measure/company_read")


def _source_hash() -> str:
    h = hashlib.sha256()
    for p in (LAB / f"{m}.py" for m in DB_MODULES):
        h.update(p.name.encode() + p.read_bytes())
    from lab.studies.catalog import planned_runs  # the studies' arms: what is trained

    h.update(repr([(s, a, c.run_id) for s, a, _, c in planned_runs(steps=FIXTURE_STEPS)]).encode())
    return h.hexdigest()[:12]


@pytest.fixture(scope="session", autouse=True)
def poll_db(tmp_path_factory):
    """Class mode's votes go to this test session's own poll file, not the machine's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAB_POLL_DB", str(tmp_path_factory.mktemp("poll") / "poll.sqlite"))
        yield


@pytest.fixture(scope="session")
def fixture_db(tmp_path_factory) -> Path:
    """Path to a read-only copy of the fixture database (every study, FIXTURE_STEPS steps)."""
    from lab.precompute import precompute

    cache = Path(os.environ.get("LAB_FIXTURE_CACHE", Path.home() / ".cache" / "rnn-lab"))
    built = cache / f"fixture-{FIXTURE_STEPS}-{_source_hash()}.duckdb"
    if not built.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = built.with_suffix(f".building-{os.getpid()}")  # concurrent sessions don't collide
        tmp.unlink(missing_ok=True)
        precompute(tmp, studies=None, seeds=(42, 43, 44), steps=FIXTURE_STEPS, log=lambda m: None)
        os.replace(tmp, built)
    copy = tmp_path_factory.mktemp("db") / "lab.duckdb"
    shutil.copy(built, copy)
    return copy


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread, as training runs (train_stack sets it too); restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def lab_db(fixture_db, monkeypatch, tmp_path):
    """The app pointed at the fixture database, with its own retrain cache and a fresh
    class poll (the pages' AppTests)."""
    monkeypatch.setenv("LAB_DB", str(fixture_db))
    monkeypatch.setenv("LAB_POLL_DB", str(tmp_path / "poll.sqlite"))
    monkeypatch.setenv("LAB_RETRAIN_CACHE", str(fixture_db.parent / "retrain"))
    return fixture_db
