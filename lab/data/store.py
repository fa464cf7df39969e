"""The results store: one DuckDB file holding every stored run, read by the app.

Schema (version 2). Every long table starts with `run_id`, the 16-hex `RunConfig.run_id`.
- `meta(key, value)`, key `key`: `schema_version`, `engine_version`, `corpus_version`,
  `created_at`, and once the floors are written `entropy_floor` (nats/char).
- `floors(k, h)`, key `k`: the finite-context floors h(k), k = 0..60, nats/char
  (lab.language.floors), written once per store by the precompute.
- `trainings`, key `run_id`: one row per trained config (a config shared by several
  studies is trained once): `status` (ok / unstable / diverged), `final_train_loss`,
  `final_val_loss` (nats/char), `params`, `wall_s`, `diverged_at` (step or NULL),
  `config` (the config's JSON), one typed column per config knob (`hidden`,
  `activation`, `init`, `freeze_whh`, `seq_len`, `lr`, `clip`, `sampling`, `steps`,
  `seed`, `optimizer`, `batch_size`, `loss_scale`), `weights` (.npz bytes), `created_at`.
- `memberships(study, arm, seed, run_id)`, key `(study, arm, seed)`: which trained run
  plays which arm and seed of which study.
- view `runs` = memberships joined with trainings: `run_id, study, arm, seed` (the
  membership's seed), the results, `config`, the knobs (the config's seed is
  `config_seed`), `created_at`; no weights.
- `curves(run_id, step, loss, grad_norm, grad_norm_max, clip_frac)`, `checkpoints(run_id,
  step, spectral_radius, h_mean, h_std, h_saturated, h_min, h_max, val_loss)`,
  `samples(run_id, step, text, valid_words, valid_sentences)`, `grad_decay(run_id, k,
  norm)`, `probe(run_id, k, accuracy, chance)`, `series(run_id, analysis, x, y)`: the
  columns of `lab.training.results.TABLE_COLUMNS`, one row per (run_id, x column) (`series`:
  per analysis and x); no index, read by run_id ordered by x.
- `scalars(run_id, name, value)`, key `(run_id, name)`: named end-of-run metrics
  (lab.measure.analyses.SCALAR_NAMES, plus the training aggregates and final losses).
- `novel_exposure(run_id, spelling, replaced, step, sentences, expect, expect_noun,
  val_loss, val_loss_novel)`, key `(run_id, spelling, replaced, step)`: the baseline run
  continued on text where `replaced` is written `spelling` (replaced '': the control, on
  the corpus as it is), read at log-spaced steps (lab.measure.company).
- `novel_word(run_id, replaced, word, category, cosine, x, y, rank)`, key `(run_id,
  replaced, word)`: where "zog" lands when it replaces `replaced`: one row per
  vocabulary word plus one for "zog" (cosine to zog, 2-D projection, rank by cosine).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from lab.data.storefile import StoreUnavailable, _check_header, _unavailable
from lab.language.grammar import CORPUS_VERSION
from lab.training.config import BASELINE, ENGINE_VERSION, KNOBS, RunConfig
from lab.training.results import STATUSES, TABLE_COLUMNS, RunResult

__all__ = ["DEFAULT_DB", "SCHEMA_VERSION", "Store", "StoreUnavailable", "compact",
           "open_memory", "open_reader", "open_writer"]

SCHEMA_VERSION = 3  # 3: the novel word's exposure (novel_exposure)
DEFAULT_DB = Path(__file__).resolve().parents[2] / "precomputed" / "lab.duckdb"

_SQL_TYPES = {bool: "BOOLEAN", int: "INTEGER", float: "DOUBLE", str: "VARCHAR"}
# one typed column per knob, typed from the baseline's values: cheap filtering for the grid
KNOB_COLUMNS: dict[str, str] = {k: _SQL_TYPES[type(getattr(BASELINE, k))] for k in KNOBS}

# long tables: column types, and the columns rows are ordered by after run_id
_COLUMN_TYPES = {"text": "VARCHAR", "analysis": "VARCHAR", "step": "INTEGER", "k": "INTEGER"}
ORDER_BY: dict[str, tuple[str, ...]] = {
    "curves": ("step",), "checkpoints": ("step",), "samples": ("step",),
    "grad_decay": ("k",), "probe": ("k",), "series": ("analysis", "x"),
}
NOVEL_WORD_COLUMNS = ("word", "category", "cosine", "x", "y", "rank")
EXPOSURE_COLUMNS = ("step", "sentences", "expect", "expect_noun", "val_loss", "val_loss_novel")
_RUN_TABLES = (*TABLE_COLUMNS, "scalars")  # everything keyed by run_id besides trainings


def _long_table_ddl(name: str) -> str:
    # no primary key: write_run deletes a run's rows before inserting them, and the index
    # would cost about a fifth of the file (measured: 38 MB vs 30 MB for 300 runs)
    cols = ", ".join(f'"{c}" {_COLUMN_TYPES.get(c, "DOUBLE")}' for c in TABLE_COLUMNS[name])
    return f"CREATE TABLE {name} (run_id VARCHAR NOT NULL, {cols})"


def _schema_ddl() -> list[str]:
    knobs = ", ".join(f'"{k}" {t}' for k, t in KNOB_COLUMNS.items())
    view_knobs = ", ".join(f't."{k}"' for k in KNOB_COLUMNS if k != "seed")
    return [
        "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
        "CREATE TABLE trainings (run_id VARCHAR PRIMARY KEY, status VARCHAR NOT NULL, "
        "final_train_loss DOUBLE, final_val_loss DOUBLE, params INTEGER, wall_s DOUBLE, "
        f"diverged_at INTEGER, config VARCHAR NOT NULL, {knobs}, weights BLOB, "
        "created_at TIMESTAMP DEFAULT current_timestamp)",
        "CREATE TABLE memberships (study VARCHAR, arm VARCHAR, seed INTEGER, "
        "run_id VARCHAR NOT NULL, PRIMARY KEY (study, arm, seed))",
        *(_long_table_ddl(name) for name in TABLE_COLUMNS),
        "CREATE TABLE scalars (run_id VARCHAR, name VARCHAR, value DOUBLE, "
        "PRIMARY KEY (run_id, name))",
        "CREATE TABLE floors (k INTEGER PRIMARY KEY, h DOUBLE NOT NULL)",
        "CREATE TABLE novel_word (run_id VARCHAR, replaced VARCHAR, word VARCHAR, "
        "category VARCHAR, cosine DOUBLE, x DOUBLE, y DOUBLE, rank INTEGER, "
        "PRIMARY KEY (run_id, replaced, word))",
        "CREATE TABLE novel_exposure (run_id VARCHAR, spelling VARCHAR, replaced VARCHAR, "
        "step INTEGER, sentences INTEGER, expect DOUBLE, expect_noun DOUBLE, val_loss DOUBLE, "
        "val_loss_novel DOUBLE, PRIMARY KEY (run_id, spelling, replaced, step))",
        "CREATE VIEW runs AS SELECT m.run_id, m.study, m.arm, m.seed, t.status, "
        "t.final_train_loss, t.final_val_loss, t.params, t.wall_s, t.diverged_at, t.config, "
        f"{view_knobs}, t.seed AS config_seed, t.created_at "
        "FROM memberships m JOIN trainings t ON m.run_id = t.run_id",
    ]


_ALL_TABLES = {"meta", "trainings", "memberships", "runs", "novel_word", "novel_exposure",
               "floors",
               *_RUN_TABLES}

def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except (duckdb.IOException, duckdb.ConnectionException) as e:
        reason = "locked" if "lock" in str(e).lower() or "configuration" in str(e) else "damaged"
        raise _unavailable(path, reason, "read" if read_only else "write") from e
    except duckdb.Error as e:
        raise _unavailable(path, "damaged") from e


def open_reader(path: Path | str = DEFAULT_DB) -> Store:
    """A read-only Store on an existing file; never creates or writes it."""
    path = Path(path)
    if not path.is_file():
        raise _unavailable(path, "missing")
    _check_header(path)
    store = Store(_connect(path, read_only=True), path, read_only=True)
    store._check_schema()
    return store


def open_writer(path: Path | str = DEFAULT_DB) -> Store:
    """A read-write Store; creates the file (and its folder) with the schema if missing."""
    path = Path(path)
    fresh = not path.exists()
    if fresh:
        path.parent.mkdir(parents=True, exist_ok=True)
    else:
        _check_header(path)
    store = Store(_connect(path, read_only=False), path, read_only=False)
    if fresh or store._is_empty():  # an empty file: a run killed before its schema committed
        store._create_schema()
    store._check_schema()
    return store


def open_memory() -> Store:
    """A read-write Store in memory with the schema: how a retrained run, written and read
    back by the same code as a stored one, becomes the same study data."""
    store = Store(duckdb.connect(":memory:"), Path(":memory:"), read_only=False)
    store._create_schema()
    return store


def compact(src: Path | str, dst: Path | str) -> None:
    """Copy the store at src into a new file dst without the free blocks that rewrites
    leave behind (about a third smaller); run it before committing the store."""
    src, dst = Path(src), Path(dst)
    if dst.exists():
        raise FileExistsError(f"{dst} exists; compact writes a new file")
    open_reader(src).close()  # refuse a bad source with a clear message
    con = duckdb.connect()
    try:
        con.execute("ATTACH ? AS src (READ_ONLY)", [str(src)])
        con.execute("ATTACH ? AS dst", [str(dst)])
        con.execute("COPY FROM DATABASE src TO dst")
        con.execute("DETACH dst")
    finally:
        con.close()


class Store:
    """One DuckDB connection; each query takes its own cursor so threads can share it."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, read_only: bool) -> None:
        self.con, self.path, self.read_only = con, path, read_only

    # -- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the file: do this before committing it."""
        self.con.execute("CHECKPOINT")

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A fresh cursor; a read failure of the file itself becomes StoreUnavailable."""
        cur = self.con.cursor()
        try:
            yield cur
        except (duckdb.IOException, duckdb.InternalException, duckdb.FatalException) as e:
            raise _unavailable(self.path, "damaged") from e
        except duckdb.Error as e:  # a block failing its checksum is a plain duckdb.Error
            if "corrupt" not in str(e).lower():
                raise
            raise _unavailable(self.path, "damaged") from e
        finally:
            cur.close()

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One all-or-nothing transaction on a fresh cursor: ROLLBACK on any error."""
        with self._cursor() as cur:
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                with suppress(duckdb.Error):  # the original error says more than this one
                    cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def _create_schema(self) -> None:
        with self._transaction() as cur:
            for ddl in _schema_ddl():
                cur.execute(ddl)
            cur.executemany("INSERT INTO meta VALUES (?, ?)", [
                ["schema_version", str(SCHEMA_VERSION)],
                ["engine_version", str(ENGINE_VERSION)],
                ["corpus_version", str(CORPUS_VERSION)],
                ["created_at", datetime.now(UTC).isoformat(timespec="seconds")],
            ])

    def _is_empty(self) -> bool:
        """True for a DuckDB file without a single table (nothing to lose by creating ours)."""
        with self._cursor() as cur:
            return cur.execute("SELECT count(*) FROM information_schema.tables").fetchone()[0] == 0

    def _check_schema(self) -> None:
        """Raise StoreUnavailable (closing the connection) unless this is our schema's version."""
        try:
            with self._cursor() as cur:
                names = {r[0] for r in cur.execute(
                    "SELECT table_name FROM information_schema.tables").fetchall()}
                if "meta" not in names:
                    raise _unavailable(self.path, "schema", "has no lab tables")
                row = cur.execute(
                    "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            found = row[0] if row else "none"
            if found != str(SCHEMA_VERSION):
                raise _unavailable(self.path, "schema", f"has schema version {found}, "
                                   f"not {SCHEMA_VERSION}")
            with self._cursor() as cur:
                row = cur.execute(
                    "SELECT value FROM meta WHERE key = 'corpus_version'").fetchone()
            if row is None or row[0] != str(CORPUS_VERSION):
                raise _unavailable(self.path, "schema", f"holds runs on corpus version "
                                   f"{row[0] if row else 'none'}, not {CORPUS_VERSION}")
            if missing := _ALL_TABLES - names:
                raise _unavailable(self.path, "schema", f"lacks tables {sorted(missing)}")
        except StoreUnavailable:
            self.close()
            raise
        except duckdb.Error as e:
            self.close()
            raise _unavailable(self.path, "damaged") from e

    # -- writes ------------------------------------------------------------------------

    def write_run(self, result: RunResult, memberships: Iterable[tuple[str, str, int]]) -> None:
        """Store one run and its (study, arm, seed) memberships in one transaction.

        Re-writing a stored run_id replaces its rows: nothing is duplicated, and a failure
        midway leaves the store as it was.
        """
        _validate(result)
        run_id, cfg = result.run_id, result.config
        with self._transaction() as cur:
            for name in ("trainings", *_RUN_TABLES):
                cur.execute(f"DELETE FROM {name} WHERE run_id = ?", [run_id])
            knobs = cfg.to_dict()
            cols = ["run_id", "status", "final_train_loss", "final_val_loss", "params",
                    "wall_s", "diverged_at", "config", *KNOB_COLUMNS, "weights"]
            values = [run_id, result.status, result.final_train_loss, result.final_val_loss,
                      result.params, result.wall_s, result.diverged_at, cfg.to_json(),
                      *(knobs[k] for k in KNOB_COLUMNS), result.weights]
            names = ", ".join(f'"{c}"' for c in cols)
            marks = ", ".join(["?"] * len(cols))
            cur.execute(f"INSERT INTO trainings ({names}) VALUES ({marks})", values)
            for name, df in result.tables.items():
                _insert_frame(cur, name, [run_id], df, TABLE_COLUMNS[name])
            if result.scalars:
                cur.executemany("INSERT INTO scalars VALUES (?, ?, ?)",
                                [[run_id, k, float(v)] for k, v in result.scalars.items()])
            for study, arm, seed in memberships:
                cur.execute("INSERT OR REPLACE INTO memberships VALUES (?, ?, ?, ?)",
                            [study, arm, int(seed), run_id])

    def add_scalars(self, run_id: str, scalars: dict[str, float]) -> None:
        """Add end-of-run metrics a stored run lacks (an analysis added after it was trained);
        a name it already has keeps its stored value. One transaction."""
        with self._transaction() as cur:
            cur.executemany("INSERT INTO scalars VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                            [[run_id, k, float(v)] for k, v in scalars.items()])

    def write_floors(self, floors) -> None:
        """Store the finite-context floors h(0..K) (replacing any) and meta `entropy_floor`."""
        from lab.language.grammar import entropy_rate

        with self._transaction() as cur:
            cur.execute("DELETE FROM floors")
            cur.executemany("INSERT INTO floors VALUES (?, ?)",
                            [[k, float(h)] for k, h in enumerate(floors)])
            cur.execute("INSERT OR REPLACE INTO meta VALUES ('entropy_floor', ?)",
                        [repr(entropy_rate())])

    def floors(self) -> pd.DataFrame:
        """The finite-context floors: columns k, h (empty before the precompute wrote them)."""
        return self._df("SELECT k, h FROM floors ORDER BY k")

    def add_membership(self, study: str, arm: str, seed: int, run_id: str) -> None:
        """Make run_id play (study, arm, seed), replacing whichever run played it before."""
        with self._cursor() as cur:
            cur.execute("INSERT OR REPLACE INTO memberships VALUES (?, ?, ?, ?)",
                        [study, arm, int(seed), run_id])

    def write_novel_word(self, run_id: str, replaced: str, df: pd.DataFrame) -> None:
        """Replace the novel-word rows of (run_id, replaced) with df, in one transaction."""
        if missing := set(NOVEL_WORD_COLUMNS) - set(df.columns):
            raise ValueError(f"novel_word frame lacks columns {sorted(missing)}")
        with self._transaction() as cur:
            cur.execute("DELETE FROM novel_word WHERE run_id = ? AND replaced = ?",
                        [run_id, replaced])
            _insert_frame(cur, "novel_word", [run_id, replaced], df, NOVEL_WORD_COLUMNS)

    def write_exposure(self, run_id: str, spelling: str, replaced: str,
                       df: pd.DataFrame) -> None:
        """Replace the exposure rows of (run_id, spelling, replaced) with df."""
        if missing := set(EXPOSURE_COLUMNS) - set(df.columns):
            raise ValueError(f"novel_exposure frame lacks columns {sorted(missing)}")
        with self._transaction() as cur:
            cur.execute("DELETE FROM novel_exposure WHERE run_id = ? AND spelling = ? AND "
                        "replaced = ?", [run_id, spelling, replaced])
            _insert_frame(cur, "novel_exposure", [run_id, spelling, replaced], df,
                          EXPOSURE_COLUMNS)

    # -- reads -------------------------------------------------------------------------

    def _df(self, sql: str, params: list | None = None) -> pd.DataFrame:
        with self._cursor() as cur:
            return cur.execute(sql, params or []).df()

    def _one(self, sql: str, params: list):
        with self._cursor() as cur:
            return cur.execute(sql, params).fetchone()

    def has_run(self, run_id: str) -> bool:
        return self._one("SELECT 1 FROM trainings WHERE run_id = ?", [run_id]) is not None

    def stored_run_ids(self) -> set[str]:
        """Run ids already trained: the precompute skips these (resumability)."""
        return set(self._df("SELECT run_id FROM trainings")["run_id"])

    def has_novel_word(self, run_id: str, replaced: str) -> bool:
        sql = "SELECT 1 FROM novel_word WHERE run_id = ? AND replaced = ? LIMIT 1"
        return self._one(sql, [run_id, replaced]) is not None

    def has_exposure(self, run_id: str, spelling: str, replaced: str) -> bool:
        sql = ("SELECT 1 FROM novel_exposure WHERE run_id = ? AND spelling = ? AND "
               "replaced = ? LIMIT 1")
        return self._one(sql, [run_id, spelling, replaced]) is not None

    def exposures(self, run_ids: list[str]) -> pd.DataFrame:
        """Every novel_exposure row of these runs, ordered by run, spelling, noun, step."""
        sql = ("SELECT * FROM novel_exposure WHERE list_contains(?, run_id) "
               "ORDER BY run_id, spelling, replaced, step")
        return self._df(sql, [list(run_ids)])

    def meta(self) -> dict[str, str]:
        return dict(self._df("SELECT key, value FROM meta").itertuples(index=False))

    def runs(self, study: str | None = None) -> pd.DataFrame:
        """Rows of the `runs` view (one per study, arm, seed), optionally of one study."""
        where = "" if study is None else "WHERE study = ?"
        params = [] if study is None else [study]
        return self._df(f"SELECT * FROM runs {where} ORDER BY study, arm, seed", params)

    def table(self, name: str, run_ids: list[str]) -> pd.DataFrame:
        """A long table's rows for run_ids, ordered by run_id and the table's x column."""
        if name not in TABLE_COLUMNS:
            raise ValueError(f"unknown table {name!r}; known: {list(TABLE_COLUMNS)}")
        order = ", ".join(f'"{c}"' for c in ORDER_BY[name])
        sql = (f"SELECT * FROM {name} WHERE run_id IN (SELECT unnest(?::VARCHAR[])) "
               f"ORDER BY run_id, {order}")
        return self._df(sql, [list(run_ids)])

    def scalars(self, run_ids: list[str]) -> pd.DataFrame:
        """Long frame (run_id, name, value) of the named end-of-run metrics."""
        sql = ("SELECT * FROM scalars WHERE run_id IN (SELECT unnest(?::VARCHAR[])) "
               "ORDER BY run_id, name")
        return self._df(sql, [list(run_ids)])

    def novel_word(self, run_id: str, replaced: str) -> pd.DataFrame:
        sql = "SELECT * FROM novel_word WHERE run_id = ? AND replaced = ? ORDER BY rank, word"
        return self._df(sql, [run_id, replaced])

    def novel_words(self, run_ids: list[str]) -> pd.DataFrame:
        """Every novel_word row of these runs (all replaced words) in one query."""
        sql = ("SELECT * FROM novel_word WHERE list_contains(?, run_id) "
               "ORDER BY run_id, replaced, rank, word")
        return self._df(sql, [list(run_ids)])

    def config(self, run_id: str) -> RunConfig:
        return RunConfig.from_json(self._stored(run_id, "config"))

    def weights(self, run_id: str) -> bytes:
        """The run's final weights as stored (numpy .npz bytes)."""
        return bytes(self._stored(run_id, "weights"))

    def _stored(self, run_id: str, column: str):
        row = self._one(f"SELECT {column} FROM trainings WHERE run_id = ?", [run_id])
        if row is None:
            raise KeyError(f"run {run_id!r} is not in the results store {self.path}")
        return row[0]

    def summary(self) -> pd.DataFrame:
        """Per study: arms, seeds, runs stored, and memberships whose run is not stored yet."""
        return self._df(
            "SELECT m.study, count(DISTINCT m.arm) AS arms, count(DISTINCT m.seed) AS seeds, "
            "count(t.run_id) AS runs, count(*) - count(t.run_id) AS missing "
            "FROM memberships m LEFT JOIN trainings t ON m.run_id = t.run_id "
            "GROUP BY m.study ORDER BY m.study")


def _validate(result: RunResult) -> None:
    """Re-check a result before writing: its tables may have changed since construction."""
    if result.status not in STATUSES:
        raise ValueError(f"status={result.status!r} is not one of {STATUSES}")
    for name, df in result.tables.items():
        if name not in TABLE_COLUMNS:
            raise ValueError(f"unknown table {name!r}; known: {list(TABLE_COLUMNS)}")
        if missing := set(TABLE_COLUMNS[name]) - set(df.columns):
            raise ValueError(f"table {name!r} lacks columns {sorted(missing)}")


def _insert_frame(cur: duckdb.DuckDBPyConnection, table: str, keys: list,
                  df: pd.DataFrame, columns: tuple[str, ...]) -> None:
    """INSERT INTO table SELECT keys..., columns FROM df: one statement, not row by row."""
    if df.empty:
        return
    view = f"frame_{uuid.uuid4().hex}"
    cur.register(view, df)
    try:
        cols = ", ".join(f'"{c}"' for c in columns)
        key_params = ", ".join("?" for _ in keys)
        cur.execute(f"INSERT INTO {table} SELECT {key_params}, {cols} FROM {view}", keys)
    finally:
        cur.unregister(view)
