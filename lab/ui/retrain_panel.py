"""The "retrain now" panel: train the page's arms for one seed in the background, watch
progress and partial curves live, then see the result beside the stored runs.

Torch is imported by the retrain worker thread only when a training starts.
"""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from lab.data.studydata import StudyData, floor
from lab.service.retrain import RETRAIN_MAX_STEPS, RetrainBusy, RetrainService, compare_with_stored
from lab.studies.arms import SEEDS, arm
from lab.training.config import BASELINE, BOUNDS, RunConfig
from lab.ui import charts, urlstate

DEFAULT_STEPS = 2000
PARAMS = (
    urlstate.Param("steps", "int", DEFAULT_STEPS, bounds=(10, RETRAIN_MAX_STEPS)),
    urlstate.Param("rseed", "int", SEEDS[0], bounds=BOUNDS["seed"]),
)


@st.cache_resource(show_spinner=False)
def service() -> RetrainService:
    """One retrain service per server: shared jobs, cache and training slots."""
    return RetrainService()


def _configs(study_id: str, arm_keys: list[str], steps: int, seed: int) -> list[RunConfig]:
    return [arm(study_id, k).config(seed, steps) for k in arm_keys]


def render(study_id: str, arm_keys: list[str], data: StudyData) -> None:
    """The form (steps and seed, both in the URL), the submit button and the live job."""
    st.subheader("Retrain now")
    st.markdown(f"Train this page's {len(arm_keys)} arm(s) yourself, with one seed, through "
                "the same code that trained the stored runs. The stored runs ran "
                f"{BASELINE.steps:,} steps with seeds {', '.join(map(str, SEEDS))}: the same "
                "steps and seed reproduce them exactly.")
    left, right = st.columns(2)
    with left:
        steps = urlstate.control(PARAMS[0], st.number_input, "Training steps", step=500)
    with right:
        seed = urlstate.control(PARAMS[1], st.number_input, "Seed", step=1)
    configs = _configs(study_id, arm_keys, int(steps), int(seed))
    key = f"retrain_{study_id}"
    if st.button("Retrain now", type="primary"):
        try:
            st.session_state[key] = service().submit(configs)
        except (ValueError, RetrainBusy) as e:
            st.warning(str(e))
    job = st.session_state.get(key)
    if job is None or job.key != tuple(sorted({c.run_id for c in configs})):
        job = _safe_job(configs)
    if job is not None:
        active = job.state in ("queued", "running")
        st.fragment(run_every=1 if active else None)(_live)(job, data, active)


def _safe_job(configs: list[RunConfig]):
    try:
        return service().job(configs)
    except ValueError:
        return None


def _live(job, data: StudyData, was_active: bool) -> None:
    """Polled every second while the job runs: queue place, progress, partial curves."""
    if job.state == "queued":
        st.info(f"Queued: place {job.queue_position or 1} in line (the server trains a "
                "limited number of runs at once).")
    elif job.state == "running":
        text = (f"Training: {job.progress:.0%}" if job.progress < 1 else "Training done; "
                "running the end-of-run analyses (probe, gradient decay, samples)")
        st.progress(job.progress, text=f"{text} ({job.elapsed:.0f} s so far)")
        _curves_chart(job, data, job.partial_curves())
    elif job.state == "failed":
        st.error(job.error or "The retrain failed.")
    else:
        if was_active:
            st.rerun()  # stop polling: redraw the page once with the finished job
        _result(job, data)


def _labels(job, data: StudyData) -> dict[str, str]:
    """run_id of each retrained config -> its arm's label."""
    by_config = {}
    for a in data.arms:
        for c in job.configs:
            if a.config(c.seed, c.steps).run_id == c.run_id:
                by_config[c.run_id] = a.label
    return by_config


def _curves_chart(job, data: StudyData, curves: pd.DataFrame) -> None:
    if curves.empty:
        return
    labels = _labels(job, data)
    seed = job.configs[0].seed
    retrained = curves.assign(arm=curves["run_id"].map(labels), source="your retrain")
    stored = data.table("curves")
    stored = stored[(stored["seed"] == seed) & (stored["arm"].map(data.label).isin(labels.values()))
                    & (stored["step"] <= job.configs[0].steps)]
    stored = stored.assign(arm=stored["arm"].map(data.label), source=f"stored (seed {seed})")
    both = pd.concat([stored, retrained], ignore_index=True)[["arm", "step", "loss", "source"]]
    st.altair_chart(charts.retrain_overlay(both, floor()), width="stretch")


def _result(job, data: StudyData) -> None:
    results = job.results or []
    labels = _labels(job, data)
    rows = []
    for r in results:
        stored = data.runs[data.runs["run_id"] == r.run_id]
        cmp = compare_with_stored(r, stored.iloc[0].to_dict()) if len(stored) else None
        rows.append({"arm": labels.get(r.run_id, r.run_id), "status": r.status,
                     "retrained loss": r.final_val_loss,
                     "stored loss": cmp["stored_final_val_loss"] if cmp else math.nan,
                     "matches stored": ("yes" if cmp["equal"] else "no") if cmp else "no "
                     "stored run of this config"})
    st.success(f"Retrain finished ({job.elapsed:.0f} s" + (", from the cache" if job.cached
                                                             else "") + ").")
    st.dataframe(pd.DataFrame(rows), hide_index=True,
                 column_config={"retrained loss": st.column_config.NumberColumn(format="%.4f"),
                                "stored loss": st.column_config.NumberColumn(format="%.4f")})
    for r in results:
        if r.status == "diverged":
            st.warning(f"{labels.get(r.run_id, r.run_id)} diverged at step {r.diverged_at}: "
                       "its loss blew up and training stopped. That is a result, not a crash.")
    if not any(data.runs["run_id"].isin([r.run_id for r in results])):
        st.caption("No stored run has this exact config (stored runs use "
                   f"{BASELINE.steps:,} steps and seeds {', '.join(map(str, SEEDS))}), so the "
                   "chart puts your runs beside the stored runs' first steps instead.")
    _curves_chart(job, data, job.partial_curves())
