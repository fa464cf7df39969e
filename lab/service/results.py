"""A retrain's results as study data: one path for a run's results.

A retrained `RunResult` is written to an in-memory store and read back by the same code
that loads a stored study (`load_study`), so it is the same `StudyData` as a stored run and
the page draws it through the same views. `beside_stored` puts it next to the stored seeds
of the same arm; `match_stored` says, per retrained run, whether it equals the stored run of
its config bit for bit, or why there is none to equal. No torch, no streamlit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from lab.data.store import open_memory
from lab.data.studydata import RUNNING, TABLES, StudyData, build, load_study
from lab.studies.study import Arm
from lab.training.config import RunConfig
from lab.training.results import RunResult

MINE = "~retrain"  # arm-key suffix of a retrain drawn beside its stored arm
# run columns that are not the run's numbers: where and when it was stored, how long it took
SKIP = ("arm", "seed", "study", "created_at", "wall_s", "failed")


def arm_of(arms: tuple[Arm, ...], cfg: RunConfig) -> Arm | None:
    """The arm that trains cfg (at cfg's seed and steps), or None."""
    return next((a for a in arms if a.config(cfg.seed, cfg.steps).run_id == cfg.run_id), None)


def _played(arms: tuple[Arm, ...], configs) -> tuple[list[tuple[RunConfig, Arm]], tuple]:
    pairs = [(c, a) for c in configs if (a := arm_of(arms, c)) is not None]
    keys = {a.key for _, a in pairs}
    return pairs, tuple(a for a in arms if a.key in keys)


def from_results(study_id: str, arms: tuple[Arm, ...], results: list[RunResult]) -> StudyData:
    """Finished retrains as the StudyData a stored study loads: written to an in-memory
    store under their arms and seeds, and read back with load_study."""
    pairs, played = _played(arms, [r.config for r in results])
    by_id = {r.run_id: r for r in results}
    with open_memory() as store:
        for cfg, a in pairs:
            store.write_run(by_id[cfg.run_id], [(study_id, a.key, cfg.seed)])
        return load_study(store, study_id, played, TABLES)


def from_partial(study_id: str, arms: tuple[Arm, ...], configs: list[RunConfig],
                 curves: pd.DataFrame) -> StudyData:
    """A retrain still training: its partial curves (run_id, step, loss, ...), status
    'running' (not failed: it has no final loss yet)."""
    pairs, played = _played(arms, configs)
    runs = pd.DataFrame([{"run_id": c.run_id, "arm": a.key, "seed": c.seed, "status": RUNNING,
                          "final_val_loss": math.nan, **c.to_dict()} for c, a in pairs])
    scalars = pd.DataFrame(columns=["run_id", "name", "value"])
    return build(study_id, runs, scalars, {"curves": curves}, None, played)


def beside_stored(stored: StudyData, mine: StudyData) -> StudyData:
    """For each retrained arm: its stored seeds (long tables cut at the retrain's steps),
    under the page's label, and the retrain as an arm of its own, labelled so, in one
    StudyData for the same views."""
    steps = int(mine.runs["steps"].max()) if len(mine.runs) else 0
    # the stored arms first, under the page's own labels and in its order (so they keep
    # the page's colours and positions), then the retrains
    arms = [*(Arm(a.key, a.label, a.overrides) for a in stored.arms if a.key in
              mine.arm_keys),
            *(Arm(a.key + MINE, f"{a.label} (your retrain)", a.overrides) for a in mine.arms)]

    def both(theirs: pd.DataFrame | None, yours: pd.DataFrame) -> pd.DataFrame:
        theirs = yours.iloc[0:0] if theirs is None else theirs
        theirs = theirs[theirs["arm"].isin(mine.arm_keys)]
        if "step" in theirs.columns:
            theirs = theirs[theirs["step"] <= steps]
        frames = [f for f in (theirs, yours.assign(arm=yours["arm"] + MINE)) if len(f)]
        return pd.concat(frames, ignore_index=True) if frames else yours.iloc[0:0]

    tables = {name: both(stored.tables.get(name), df) for name, df in mine.tables.items()}
    return StudyData(stored.study_id, tuple(arms), both(stored.runs, mine.runs), tables)


def alongside(stored: StudyData, stored_key: str, stored_label: str, mine: StudyData
              ) -> StudyData:
    """A retrain of any config drawn next to one stored arm (the sandbox beside the
    baseline): the stored arm's seeds under stored_label, then each retrained arm, in one
    StudyData the study views draw. Long tables of the stored arm are cut at the retrain's
    steps, so both curves cover the same range."""
    steps = int(mine.runs["steps"].max()) if len(mine.runs) else 0
    base = next(a for a in stored.arms if a.key == stored_key)
    arms = (Arm(base.key, stored_label, base.overrides), *mine.arms)

    def both(theirs: pd.DataFrame | None, yours: pd.DataFrame) -> pd.DataFrame:
        theirs = yours.iloc[0:0] if theirs is None else theirs[theirs["arm"] == stored_key]
        if "step" in theirs.columns:
            theirs = theirs[theirs["step"] <= steps]
        frames = [f for f in (theirs, yours) if len(f)]
        return pd.concat(frames, ignore_index=True) if frames else yours.iloc[0:0]

    tables = {name: both(stored.tables.get(name), df) for name, df in mine.tables.items()}
    return StudyData(stored.study_id, arms, both(stored.runs, mine.runs), tables)


def same_step_losses(stored: StudyData, stored_key: str, mine: StudyData) -> StudyData:
    """The final held-out loss of the stored arm twice, at the retrain's step count (the
    checkpoint at or before it: a same-step comparison) and at the end of its own training,
    beside the retrain's: a 2,000-step run against a 30,000-step baseline's end is not a
    fair race, and the chart must say which is which. Arms: 'same_step', 'end', then mine."""
    steps = int(mine.runs["steps"].max()) if len(mine.runs) else 0
    base = stored.runs[stored.runs["arm"] == stored_key]
    end = int(base["steps"].max()) if len(base) else 0
    ck = stored.tables.get("checkpoints", pd.DataFrame(columns=["run_id", "step", "val_loss"]))
    ck = ck[ck["run_id"].isin(base["run_id"]) & (ck["step"] <= steps)]
    at = ck[ck["step"] == ck.groupby("run_id")["step"].transform("max")]
    at_step = int(at["step"].max()) if len(at) else 0
    same = base.assign(arm="same_step", final_val_loss=base["run_id"].map(
        at.set_index("run_id")["val_loss"]).astype(float))
    same = same[same["final_val_loss"].notna()]
    runs = pd.concat([f for f in (same, base.assign(arm="end"),
                                  mine.runs.drop(columns=["failed"], errors="ignore")) if len(f)],
                     ignore_index=True)
    arms = (Arm("same_step", f"baseline at step {at_step:,} (same point)"),
            Arm("end", f"baseline at its end, step {end:,}"), *mine.arms)
    return build(stored.study_id, runs.drop(columns=["failed"], errors="ignore"),
                 pd.DataFrame(columns=["run_id", "name", "value"]), {}, None, arms)


@dataclass(frozen=True)
class Match:
    """One retrained run against the stored runs: `same` is True (bit for bit), False (a
    stored run of this config differs) or None (no stored run of this config); `short` says
    which in a table cell, `sentence` in plain words."""

    arm: str
    seed: int
    same: bool | None
    stored_loss: float
    short: str
    sentence: str


def _numbers(data: StudyData, key: str, run_id: str, columns: list[str]) -> list:
    """Every number of one run: its row (results, knobs, scalars) and its long tables."""
    row = data.runs[(data.runs["run_id"] == run_id) & (data.runs["arm"] == key)]
    out = [row[columns].reset_index(drop=True)]
    for name in sorted(data.tables):
        t = data.tables[name]
        t = t[(t["run_id"] == run_id) & (t["arm"] == key)].drop(columns=["arm", "seed"])
        out.append(t.reset_index(drop=True))
    return out


def _same(stored: StudyData, mine: StudyData, key: str, run_id: str) -> bool:
    """Equal to the last bit: every result, knob and scalar both hold, every long table."""
    columns = [c for c in mine.runs.columns if c in stored.runs.columns and c not in SKIP]
    theirs, yours = (_numbers(d, key, run_id, columns) for d in (stored, mine))
    return all(_equal(x, y) for x, y in zip(theirs, yours, strict=True))


def _equal(x: pd.DataFrame, y: pd.DataFrame) -> bool:
    """Same columns, same shape, every value equal (exactly; missing equals missing), whatever
    dtype pandas gave each side's column."""
    if list(x.columns) != list(y.columns) or x.shape != y.shape:
        return False
    return all(_same_value(u, v) for u, v in zip(x.to_numpy(object).ravel(),
                                                 y.to_numpy(object).ravel(), strict=True))


def _same_value(u, v) -> bool:
    missing_u, missing_v = pd.isna(u), pd.isna(v)
    return bool(missing_u and missing_v) or (not (missing_u or missing_v) and bool(u == v))


def match_stored(stored: StudyData, mine: StudyData) -> list[Match]:
    """Per retrained run, in plain words: equal to the stored run of the same config bit for
    bit, different from it, or without one (its seed is not stored, the stored run of that
    seed trained another number of steps, or another engine version trained it)."""
    out = []
    for r in mine.runs.itertuples():
        label, seed = mine.label(r.arm), int(r.seed)
        twin = stored.runs[stored.runs["run_id"] == r.run_id]
        if not len(twin):
            out.append(_no_twin(stored, r, label))
            continue
        same = _same(stored, mine, r.arm, r.run_id)
        loss = float(twin["final_val_loss"].iloc[0])
        sentence = (f"{label}, seed {seed}: your retrain equals the stored run bit for bit "
                    "(every loss, curve point and end-of-run metric)." if same else
                    f"{label}, seed {seed}: your retrain differs from the stored run of the "
                    f"same config: final held-out loss {r.final_val_loss:.6f} against "
                    f"{loss:.6f}, a difference of {r.final_val_loss - loss:+.2e} nats/char.")
        out.append(Match(label, seed, same, loss, "yes" if same else "no", sentence))
    return out


def _no_twin(stored: StudyData, r, label: str) -> Match:
    """Why no stored run has the retrained run's config: its seed, steps or engine."""
    seed, steps = int(r.seed), int(r.steps)
    rows = stored.of_arm(r.arm)
    same_seed = rows[rows["seed"] == seed]
    if not len(same_seed):
        seeds = ", ".join(str(s) for s in sorted(set(rows["seed"])))
        return Match(label, seed, None, math.nan, "seed not stored",
                     f"{label}, seed {seed}: this seed is not stored (stored seeds: "
                     f"{seeds or 'none'}), so there is no stored run to match; the chart "
                     "shows yours beside the stored seeds.")
    stored_steps = int(same_seed["steps"].iloc[0])
    if stored_steps != steps:
        return Match(label, seed, None, math.nan, f"stored: {stored_steps:,} steps",
                     f"{label}, seed {seed}: the stored run of this seed trained "
                     f"{stored_steps:,} steps and yours {steps:,}, so they cannot be equal; "
                     f"the chart compares your {steps:,} steps with the stored runs' first "
                     "ones.")
    return Match(label, seed, None, math.nan, "other engine version",
                 f"{label}, seed {seed}: the stored run of this seed has the same settings "
                 "but was trained by another version of the training engine (its run id "
                 "differs), so the two are not expected to match to the last bit.")
