"""The results store: round trips, one transaction per run, and clear refusals of bad files."""

from __future__ import annotations

import os

import duckdb
import numpy as np
import pandas as pd
import pytest

from lab.data import store as store_mod
from lab.data.store import SCHEMA_VERSION, StoreUnavailable, open_reader, open_writer
from lab.training.config import RunConfig
from lab.training.results import TABLE_COLUMNS, RunResult


def make_result(seed: int = 1, status: str = "ok", **knobs) -> RunResult:
    """A small hand-built run: every long table filled, values derived from the seed."""
    cfg = RunConfig(steps=10, seed=seed, **knobs)
    rng = np.random.default_rng(seed)
    steps = np.array([0, 5, 10])
    tables = {
        "curves": pd.DataFrame({"step": steps, "loss": rng.random(3), "grad_norm": rng.random(3),
                                "grad_norm_max": rng.random(3), "clip_frac": [0.0, 0.5, 1.0]}),
        "checkpoints": pd.DataFrame({"step": steps, **{c: rng.random(3) for c in (
            "spectral_radius", "h_mean", "h_std", "h_saturated", "h_min", "h_max", "val_loss")}}),
        "samples": pd.DataFrame({"step": steps, "text": ["the boy runs.", "zog", ""],
                                 "valid_words": [1.0, 0.0, 0.5],
                                 "valid_sentences": [1.0, 0.0, np.nan]}),
        "grad_decay": pd.DataFrame({"k": np.arange(5), "norm": np.linspace(1, 0.1, 5)}),
        "probe": pd.DataFrame({"k": np.arange(1, 4), "accuracy": [0.9, 0.5, 0.2],
                               "chance": [0.2, 0.2, 0.2]}),
        "series": pd.DataFrame({"analysis": ["exposure", "exposure", "reach"],
                                "x": [1.0, 2.0, 1.0], "y": [0.3, 0.4, 7.0]}),
    }
    return RunResult(config=cfg, status=status, final_train_loss=1.25, final_val_loss=1.5,
                     params=1234, wall_s=0.5, scalars={"memory_horizon": 12.0, "reach": 7.0},
                     tables=tables, weights=bytes(range(256)) * 4,
                     diverged_at=7 if status == "diverged" else None)


@pytest.fixture
def db(tmp_path):
    return tmp_path / "sub" / "lab.duckdb"


@pytest.fixture
def writer(db):
    with open_writer(db) as s:
        yield s


def row_counts(s) -> dict[str, int]:
    names = ["trainings", "memberships", "scalars", "novel_word", *TABLE_COLUMNS]
    with s.con.cursor() as cur:
        return {n: cur.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in names}


def test_write_then_read_back_every_table(writer, db):
    r = make_result()
    writer.write_run(r, [("initialization", "orthogonal", 0)])
    writer.checkpoint()
    writer.close()
    with open_reader(db) as s:
        for name, df in r.tables.items():
            got = s.table(name, [r.run_id])
            assert list(got.columns) == ["run_id", *TABLE_COLUMNS[name]]
            assert (got["run_id"] == r.run_id).all()
            want = df.sort_values(list(store_mod.ORDER_BY[name])).reset_index(drop=True)
            pd.testing.assert_frame_equal(got.drop(columns="run_id"), want, check_dtype=False)
        sc = s.scalars([r.run_id])
        assert dict(zip(sc["name"], sc["value"], strict=True)) == r.scalars
        assert s.config(r.run_id) == r.config
        assert s.weights(r.run_id) == r.weights
        assert s.has_run(r.run_id) and not s.has_run("0" * 16)
        assert s.stored_run_ids() == {r.run_id}
        assert s.meta()["schema_version"] == str(SCHEMA_VERSION)
        with pytest.raises(KeyError):
            s.config("0" * 16)
        with pytest.raises(ValueError, match="unknown table"):
            s.table("trainings; DROP TABLE meta", [r.run_id])


def test_runs_view_has_results_and_knobs(writer):
    r = make_result(seed=3, status="diverged", hidden=16, activation="relu")
    writer.write_run(r, [("activation", "relu", 2)])
    runs = writer.runs()
    required = {"run_id", "study", "arm", "seed", "status", "final_train_loss",
                "final_val_loss", "params", "wall_s", "config", "diverged_at", "config_seed"}
    knobs = set(RunConfig().to_dict()) - {"seed"}
    assert required | knobs <= set(runs.columns)
    assert "weights" not in runs.columns
    row = runs.iloc[0]
    assert (row.study, row.arm, row.seed, row.status) == ("activation", "relu", 2, "diverged")
    assert (row.hidden, row.activation, row.config_seed, row.diverged_at) == (16, "relu", 3, 7)
    assert RunConfig.from_json(row.config) == r.config
    assert writer.runs("other").empty


def test_failed_write_leaves_no_trace(writer, monkeypatch):
    kept = make_result(seed=1)
    writer.write_run(kept, [("s", "a", 0)])
    before = row_counts(writer)
    real = store_mod._insert_frame
    calls = []

    def fail_on_third(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 3:
            raise RuntimeError("disk on fire")
        return real(*args, **kwargs)

    monkeypatch.setattr(store_mod, "_insert_frame", fail_on_third)
    doomed = make_result(seed=2)
    with pytest.raises(RuntimeError, match="disk on fire"):
        writer.write_run(doomed, [("s", "a", 1)])
    assert not writer.has_run(doomed.run_id)
    assert row_counts(writer) == before
    # a failing re-write of a stored run keeps the stored version whole
    calls.clear()
    with pytest.raises(RuntimeError):
        writer.write_run(kept, [("s", "a", 0)])
    assert row_counts(writer) == before


def test_write_rejects_a_table_that_lost_a_column(writer):
    r = make_result()
    r.tables["probe"] = r.tables["probe"].drop(columns="chance")  # after __post_init__
    with pytest.raises(ValueError, match="chance"):
        writer.write_run(r, [("s", "a", 0)])
    assert row_counts(writer)["trainings"] == 0


def test_rewrite_same_run_does_not_duplicate(writer):
    r = make_result()
    writer.write_run(r, [("s", "a", 0)])
    once = row_counts(writer)
    writer.write_run(r, [("s", "a", 0)])
    assert row_counts(writer) == once
    r.tables["curves"] = r.tables["curves"].iloc[:1]
    writer.write_run(r, [])
    assert len(writer.table("curves", [r.run_id])) == 1


def test_shared_run_plays_in_several_studies(writer):
    r = make_result()
    writer.write_run(r, [("initialization", "orthogonal", 0), ("hidden_size", "64", 0)])
    writer.add_membership("grid", "H64-tanh-L25", 0, r.run_id)
    writer.add_membership("grid", "H64-tanh-L25", 0, r.run_id)  # idempotent
    runs = writer.runs()
    assert sorted(runs["study"]) == ["grid", "hidden_size", "initialization"]
    assert set(runs["run_id"]) == {r.run_id}
    assert row_counts(writer)["trainings"] == 1
    writer.add_membership("grid", "H16-relu-L5", 0, "f" * 16)  # not trained yet
    summary = writer.summary().set_index("study")
    assert summary.loc["grid", "runs"] == 1 and summary.loc["grid", "missing"] == 1
    assert summary.loc["grid", "arms"] == 2


def test_novel_word_round_trip(writer):
    r = make_result()
    writer.write_run(r, [])
    words = ["lion", "boy", "zog"]
    df = pd.DataFrame({"word": words, "category": ["animal", "human", "novel"],
                       "cosine": [0.9, 0.2, 1.0], "x": [0.1, 0.2, 0.3],
                       "y": [1.0, 2.0, 3.0], "rank": [1, 2, 0]})
    assert not writer.has_novel_word(r.run_id, "lion")
    writer.write_novel_word(r.run_id, "lion", df)
    writer.write_novel_word(r.run_id, "lion", df)  # replaces, never duplicates
    got = writer.novel_word(r.run_id, "lion")
    assert list(got["word"]) == ["zog", "lion", "boy"]
    assert writer.has_novel_word(r.run_id, "lion") and not writer.has_novel_word(r.run_id, "boy")
    with pytest.raises(ValueError, match="cosine"):
        writer.write_novel_word(r.run_id, "boy", df.drop(columns="cosine"))


def test_reader_refuses_writes_and_never_creates(writer, db, tmp_path):
    writer.write_run(make_result(), [])
    writer.close()
    with open_reader(db) as s:
        with pytest.raises(duckdb.Error):
            s.con.execute("INSERT INTO meta VALUES ('x', 'y')")
        with pytest.raises(duckdb.Error):
            s.add_membership("s", "a", 0, "x")
    missing = tmp_path / "nowhere" / "lab.duckdb"
    with pytest.raises(StoreUnavailable):
        open_reader(missing)
    assert not missing.exists() and not missing.parent.exists()


def test_a_store_held_by_another_process_is_refused_as_locked(writer, db):
    """The app holds the file (read-only): a precompute's writer is told another process has
    it open; a writer holding it: an app's reader is told a precompute is writing."""
    import subprocess
    import sys

    writer.write_run(make_result(), [])
    writer.close()
    for mode, opener, words in (("True", open_writer, "open in another process"),
                                ("False", open_reader, "is writing it")):
        holder = subprocess.Popen(
            [sys.executable, "-c", f"import duckdb, sys; c = duckdb.connect(sys.argv[1], "
             f"read_only={mode}); print('held', flush=True); sys.stdin.read()", str(db)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "held"
            with pytest.raises(StoreUnavailable) as err:
                opener(db)
            assert err.value.reason == "locked" and words in str(err.value), str(err.value)
        finally:
            holder.communicate("")


def test_reader_sees_many_threads(writer, db):
    from concurrent.futures import ThreadPoolExecutor

    ids = []
    for seed in range(4):
        r = make_result(seed=seed)
        writer.write_run(r, [("s", "a", seed)])
        ids.append(r.run_id)
    writer.close()
    with open_reader(db) as s, ThreadPoolExecutor(8) as pool:
        frames = list(pool.map(lambda i: s.table("curves", [i]), ids * 8))
    assert all(len(f) == 3 for f in frames)


def _damaged_db(path):
    with open_writer(path) as s:
        for seed in range(20):
            s.write_run(make_result(seed=seed), [("s", "a", seed)])
        s.checkpoint()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _foreign_db(path):
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE penguins (name VARCHAR)")
    con.close()


def _old_schema_db(path):
    with open_writer(path) as s:
        s.con.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")


def _old_corpus_db(path):
    with open_writer(path) as s:
        s.con.execute("UPDATE meta SET value = '1' WHERE key = 'corpus_version'")


BAD_FILES = {
    "missing": (lambda p: None, "missing", "precompute"),
    "zero_bytes": (lambda p: p.write_bytes(b""), "not_duckdb", "not a DuckDB"),
    "random_bytes": (lambda p: p.write_bytes(os.urandom(50_000)), "not_duckdb", "not a DuckDB"),
    "truncated": (_damaged_db, "damaged", "damaged"),
    "lfs_pointer": (lambda p: p.write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:" + "ab" * 32 + "\nsize 1\n"),
        "not_duckdb", "git lfs pull"),
    "foreign_duckdb": (_foreign_db, "schema", "precompute"),
    "schema_version_0": (_old_schema_db, "schema", "version 0"),
    "corpus_version_1": (_old_corpus_db, "schema", "corpus version 1"),
}


def test_floors_are_stored_once_with_the_entropy_floor(tmp_path):
    from lab.language.grammar import entropy_rate

    with open_writer(tmp_path / "lab.duckdb") as s:
        assert s.floors().empty
        s.write_floors([2.0, 1.0, 0.5])
        s.write_floors([2.0, 1.0, 0.6])  # replaces
        assert s.floors().values.tolist() == [[0, 2.0], [1, 1.0], [2, 0.6]]
        assert float(s.meta()["entropy_floor"]) == pytest.approx(entropy_rate())


@pytest.mark.parametrize("case", BAD_FILES)
@pytest.mark.parametrize("opener", [open_reader, open_writer])
def test_bad_files_raise_store_unavailable(tmp_path, case, opener):
    make, reason, hint = BAD_FILES[case]
    path = tmp_path / "lab.duckdb"
    make(path)
    before = path.read_bytes() if path.exists() else None
    if case == "missing" and opener is open_writer:
        opener(path).close()  # the writer creates a missing store
        return
    with pytest.raises(StoreUnavailable) as info:
        opener(path)
    err = info.value
    assert err.reason == reason and err.path == path
    msg = str(err)
    assert hint in msg and str(path) in msg
    assert "Error" not in msg and "Traceback" not in msg
    assert len(msg) - len(str(path)) < 200 and msg.endswith(".")  # one or two sentences
    assert (path.read_bytes() if path.exists() else None) == before  # nothing rewritten


def test_compact_copies_everything_into_a_smaller_file(writer, db, tmp_path):
    for seed in range(5):
        writer.write_run(make_result(seed=seed), [("s", "a", seed)])
    for seed in range(5):  # rewrites leave free blocks behind
        writer.write_run(make_result(seed=seed), [("s", "a", seed)])
    writer.checkpoint()
    writer.close()
    small = tmp_path / "small.duckdb"
    store_mod.compact(db, small)
    with open_reader(db) as a, open_reader(small) as b:
        pd.testing.assert_frame_equal(a.runs(), b.runs())
        ids = sorted(a.stored_run_ids())
        for name in TABLE_COLUMNS:
            pd.testing.assert_frame_equal(a.table(name, ids), b.table(name, ids))
        assert a.weights(ids[0]) == b.weights(ids[0])
    assert small.stat().st_size <= db.stat().st_size
    with pytest.raises(FileExistsError):
        store_mod.compact(db, small)
