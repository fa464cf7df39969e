"""Everything a study's page and verdict read, loaded from the store in a few queries.

No torch and no streamlit here: pages render from DuckDB alone. A `StudyData` is plain
data (frames and tuples), so the app can cache it and tests can build one by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lab.data import memo
from lab.data.store import Store
from lab.language import grammar
from lab.measure.metrics import DIVERGE_LOSS
from lab.measure.registry import FAILED_WORST, seed_median

if TYPE_CHECKING:  # a study's arms come from its caller: this layer sits below the studies
    from lab.studies.study import Arm

TABLES = ("curves", "checkpoints", "samples", "grad_decay", "probe", "series")
RUNNING = "running"  # the status of a retrain's run still in training (partial curves only)

FAILED_LOSS = DIVERGE_LOSS  # the engine's divergence bound (3x uniform guessing), one definition
__all__ = ["FAILED_LOSS", "RUNNING", "StudyData", "arm_summary", "build", "floor",
           "load_study", "mark_failed", "zog_hits"]


def floor() -> float:
    """The entropy rate of the grammar in nats/char: the lowest loss any model can reach."""
    return grammar.entropy_rate()


@dataclass
class StudyData:
    """One study's stored runs.

    runs: one row per (arm, seed): run_id, arm, seed, status, losses, params, the knobs,
    one column per stored scalar, and the derived columns `failed` and `curve_mean_loss`
    (plus, for the novel-word study, `zog_hit_rate` and the lab.measure.company.per_seed
    columns, also with the suffix `_control` for the control spelling). tables: long tables
    by name, each with arm and seed columns. novel: novel_word rows with arm and seed (empty
    elsewhere).
    """

    study_id: str
    arms: tuple[Arm, ...]
    runs: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    novel: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def arm_keys(self) -> tuple[str, ...]:
        return tuple(a.key for a in self.arms)

    def label(self, key: str) -> str:
        """The chart label of arm `key` (the key itself if the arm is unknown)."""
        return next((a.label for a in self.arms if a.key == key), key)

    def table(self, name: str) -> pd.DataFrame:
        """A long table (with arm, seed); empty with its columns if nothing is stored."""
        if name not in self.tables:
            raise ValueError(f"table {name!r} was not loaded; loaded: {list(self.tables)}")
        return self.tables[name]

    def _kept(self, name: str, frame: pd.DataFrame, make):
        """make(), computed once per `frame` object: a page's verdict, checks and prose ask
        for the same derived values many times, and a new runs or novel frame recomputes."""
        cache = self.__dict__.get(name)
        if cache is None or cache[0] is not frame:
            cache = (frame, make())
            self.__dict__[name] = cache
        return cache[1]

    def of_arm(self, key: str) -> pd.DataFrame:
        """This arm's run rows, ordered by seed (grouped once per runs frame: the grid has 64)."""
        groups = self._kept("_by_arm", self.runs, lambda: {
            k: g.sort_values("seed") for k, g in self.runs.groupby("arm", sort=False)})
        return groups.get(key, self.runs.iloc[0:0])

    def once(self, key, make):
        """make(), computed once per study data and key: a StudyData is shared by every
        session and never mutated, so what a page derives from it (a verdict, an answer, a
        table) is the same for every student who opens it. An error is not kept."""
        return memo.once_in(self._kept("_once", self.runs, dict), key, make)

    def zog_hits(self) -> pd.DataFrame:
        """zog_hits(self.novel), computed once per novel frame."""
        return self._kept("_zog_hits", self.novel, lambda: zog_hits(self.novel))

    def exposure_summary(self) -> pd.DataFrame:
        """company.summarise of the exposure table (the novel word's study), kept."""
        from lab.measure.company import summarise

        frame = self.tables.get("exposure", pd.DataFrame())
        return self._kept("_exposure_summary", frame, lambda: summarise(frame))

    def values(self, key: str, column: str) -> pd.Series:
        """Per-seed values of `column` for arm `key`, indexed by seed.

        Metrics whose failed seeds count as the worst (the losses, registry.FAILED_WORST)
        give inf for failed runs; other columns drop missing values (a failed run has no
        end-of-run analyses). Kept per (arm, column): the grid's page asks ~1,300 times.
        """
        kept = self._kept("_values", self.runs, dict)
        if (key, column) not in kept:
            kept[key, column] = self._seed_values(key, column)
        return kept[key, column].copy()

    def _seed_values(self, key: str, column: str) -> pd.Series:
        rows = self.of_arm(key)
        if column not in rows.columns:
            return pd.Series(dtype=float)
        vals = pd.Series(rows[column].to_numpy(float), index=rows["seed"].to_numpy())
        if column in FAILED_WORST:
            return vals.where(~rows["failed"].to_numpy(), np.inf).dropna()
        return vals[np.isfinite(vals)]

    def n_failed(self, key: str) -> int:
        return int(self.of_arm(key)["failed"].sum())

    def numbers(self, key: str, columns) -> dict[str, dict]:
        """For lab.report --json: per column, the median over seeds and each seed's value
        ({"median": m, "seeds": {"42": v, ...}}; inf for a failed seed of a loss)."""
        return {c: {"median": self.median(key, c),
                    "seeds": {str(int(s)): float(v) for s, v in self.values(key, c).items()}}
                for c in columns}

    def median(self, key: str, column: str) -> float:
        """Median over the arm's seeds under registry.FAILED_SEEDS: inf when a loss's seeds
        mostly failed, nan when no seed has a value."""
        return seed_median(self.values(key, column))


def mark_failed(runs: pd.DataFrame) -> pd.Series:
    """lab.measure.registry.FAILED_RULE applied to run rows (a run still training, status
    'running', has not failed: it has no final loss yet)."""
    val = runs["final_val_loss"].astype(float)
    bad_val = ~np.isfinite(val) | (val > FAILED_LOSS)
    return (runs["status"] == "diverged") | (bad_val & (runs["status"] != RUNNING))


def _curve_mean_loss(curves: pd.DataFrame) -> pd.Series:
    """Per run_id: mean of the stored training-loss windows (lower = got low sooner)."""
    if curves.empty:
        return pd.Series(dtype=float)
    return curves.groupby("run_id")["loss"].mean()


def zog_hits(novel: pd.DataFrame) -> pd.DataFrame:
    """Per (run_id, replaced): zog's nearest category and whether it is the replaced word's.

    The nearest category is the one whose words have the highest mean cosine to zog, leaving
    out the replaced word itself (its own state is zog's context twin, not a category-mate);
    words in one-word categories ("and", "the") have no mates and are skipped. Grouped
    operations, not a loop over the ~150 (run, word) groups: this was 0.35 s of every render
    of the novel-word page, four times over (StudyData.zog_hits now keeps it).
    """
    cols = ["run_id", "replaced", "own", "nearest", "own_cos", "other_cos", "hit"]
    if novel.empty:
        return pd.DataFrame(columns=cols)
    keys = ["run_id", "replaced"]
    words = novel[(novel["word"] != novel["replaced"]) & (novel["category"] != "novel")]
    words = words.assign(own=words["replaced"].map(grammar.CATEGORY_OF))
    # mean cosine per category, categories sorted within each group (ties: the first, as idxmax)
    cats = words.groupby([*keys, "category"], sort=True)["cosine"].mean().reset_index()
    best = cats.loc[cats.groupby(keys, sort=False)["cosine"].idxmax(), [*keys, "category"]]
    own = cats[cats["category"] == cats["replaced"].map(grammar.CATEGORY_OF)]
    other = words[words["category"] != words["own"]].groupby(keys, sort=False)["cosine"].agg(
        lambda s: s.mean())  # Series.mean, as before: the same sum order, the same bits
    out = (novel[keys].drop_duplicates()  # the groups in order of first appearance
           .merge(own.rename(columns={"category": "own", "cosine": "own_cos"}), on=keys)
           .merge(best.rename(columns={"category": "nearest"}), on=keys)
           .merge(other.rename("other_cos").reset_index(), on=keys, how="left"))
    out["hit"] = out["nearest"] == out["own"]
    return out[cols].reset_index(drop=True)


def _with_arm(df: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Join a run_id-keyed frame with (arm, seed); a run in several arms appears once per arm."""
    return df.merge(runs[["run_id", "arm", "seed"]], on="run_id")


def load_study(store: Store, study_id: str, arms: tuple[Arm, ...],
               tables: tuple[str, ...] = TABLES) -> StudyData:
    """Read one study (its arms from lab.studies.catalog): its runs with scalars pivoted
    wide, and the long tables named."""
    runs = store.runs(study_id)
    ids = list(runs["run_id"].unique())
    loaded = {name: _with_arm(store.table(name, ids), runs) for name in tables}
    novel = store.novel_words(ids) if study_id == "novel_word" else pd.DataFrame()
    if study_id == "novel_word":  # the novel word met in its company (lab.measure.company)
        loaded["exposure"] = _with_arm(store.exposures(ids), runs)
    return build(study_id, runs, store.scalars(ids), loaded, novel, arms)


def build(study_id: str, runs: pd.DataFrame, scalars: pd.DataFrame,
          tables: dict[str, pd.DataFrame], novel: pd.DataFrame | None,
          arms: tuple[Arm, ...]) -> StudyData:
    """Assemble a StudyData from store-shaped frames (also how tests make synthetic ones).

    runs needs run_id, arm, seed, status, final_val_loss; scalars is long (run_id, name,
    value); tables are long tables by name (joined with arm and seed here if they lack them).
    """
    runs = runs.copy()
    runs["arm"] = runs["arm"].astype(str)
    if len(scalars):
        wide = scalars.pivot_table(index="run_id", columns="name", values="value",
                                   aggfunc="first")
        wide = wide.drop(columns=[c for c in wide.columns if c in runs.columns])
        runs = runs.merge(wide, left_on="run_id", right_index=True, how="left")
    runs["failed"] = mark_failed(runs)
    tables = {name: df if "arm" in df.columns else _with_arm(df, runs)
              for name, df in tables.items()}
    if "curves" in tables:
        runs["curve_mean_loss"] = runs["run_id"].map(_curve_mean_loss(tables["curves"]))
    novel = pd.DataFrame() if novel is None else novel
    if len(novel):
        novel = novel if "arm" in novel.columns else _with_arm(novel, runs)
    order = {k: i for i, k in enumerate(a.key for a in arms)}
    runs = runs.sort_values(["arm", "seed"], key=lambda s: s.map(order) if s.name == "arm" else s)
    data = StudyData(study_id, tuple(arms), runs.reset_index(drop=True), tables, novel)
    if len(novel):  # from the hits the verdict reads too: computed once
        rate = data.zog_hits().groupby("run_id")["hit"].mean().astype(float)
        data.runs["zog_hit_rate"] = data.runs["run_id"].map(rate)
    if len(tables.get("exposure", ())):  # the novel word met in its company, per seed
        from lab.measure.company import CONTROL_SPELLING, per_seed

        summary = data.exposure_summary()
        for spelling, suffix in ((None, ""), (CONTROL_SPELLING, "_control")):
            seeds = per_seed(summary) if spelling is None else per_seed(summary, spelling)
            for column in seeds.columns:
                data.runs[column + suffix] = data.runs["seed"].map(seeds[column])
    return data


def arm_summary(data: StudyData, column: str) -> pd.DataFrame:
    """Per arm in registry order: the median (StudyData.median: inf when a loss's seeds
    mostly failed), and min, max and IQR over the seeds whose value is finite, with n (seeds
    stored), n_ok (status ok) and n_failed (FAILED_RULE)."""
    rows = []
    for a in data.arms:
        runs = data.of_arm(a.key)
        v = data.values(a.key, column)
        v = v[np.isfinite(v)].to_numpy()
        q1, q3 = np.percentile(v, [25, 75]) if len(v) else (math.nan, math.nan)
        rows.append({
            "arm": a.key, "label": a.label, "n": len(runs),
            "n_ok": int((runs["status"] == "ok").sum()), "n_failed": int(runs["failed"].sum()),
            "median": data.median(a.key, column),
            "min": float(v.min()) if len(v) else math.nan,
            "max": float(v.max()) if len(v) else math.nan,
            "iqr": float(q3 - q1),
        })
    return pd.DataFrame(rows)
