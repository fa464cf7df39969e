"""The "retrain now" panel: train the page's arms for one seed in the background, watch
progress and partial curves live, then see the result beside the stored seeds of the same
arms, drawn through the page's own views (lab.service.results makes it the same StudyData),
and read in plain words whether it equals the stored run bit for bit.

Torch is imported by the retrain worker thread only when a training starts.
"""

from __future__ import annotations

import functools
import math
import os
import threading
import time
from collections import OrderedDict

import pandas as pd
import streamlit as st
from streamlit.runtime import get_instance as _runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from lab.data.studydata import StudyData, floor
from lab.service import results
from lab.service.retrain import RETRAIN_MAX_STEPS, RetrainBusy, RetrainService
from lab.studies import catalog
from lab.studies.catalog import SEEDS, arm
from lab.training.config import BASELINE, BOUNDS, RunConfig
from lab.ui import tables, urlstate
from lab.ui.views import VIEWS, View

DEFAULT_STEPS = 2000
# a running job's progress redraws every POLL_SECONDS; its growing loss chart, which the
# server builds and the browser draws again each time on the cores that train, every
# CHART_SECONDS (every 2 s, the polls took a fifth of the clipping retrain's wall time).
# Each poll of each watching tab is a script run on the server: thirty tabs at 2 s and 6 s
# took half a core from the training they watched (lab.loadbench), at 3 s and 12 s a third.
POLL_SECONDS = 3
CHART_SECONDS = 12
PARAMS = (
    urlstate.Param("steps", "int", DEFAULT_STEPS, bounds=(10, RETRAIN_MAX_STEPS)),
    urlstate.Param("rseed", "int", SEEDS[0], bounds=BOUNDS["seed"]),
)


def service() -> RetrainService:
    """One retrain service per server and cache directory (env LAB_RETRAIN_CACHE): shared
    jobs, cache and training slots. Held by this module, not by st.cache_resource, so
    Streamlit's "clear cache" message cannot start a second one beside it."""
    return _service(os.environ.get("LAB_RETRAIN_CACHE"))


@functools.cache
def _service(cache_dir: str | None) -> RetrainService:
    svc = RetrainService(cache_dir)
    svc.alive = _connected
    return svc


def _connected(session: str) -> bool:
    """Is this Streamlit session's browser tab still connected to the server?"""
    try:
        return _runtime().is_active_session(session)
    except RuntimeError:  # no Streamlit runtime (a script or a test): nobody leaves
        return True


def session_id() -> str | None:
    """This browser tab's Streamlit session, the unit of the per-session retrain limit."""
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else None


def _configs(study_id: str, arm_keys: list[str], steps: int, seed: int) -> list[RunConfig]:
    return [arm(study_id, k).config(seed, steps) for k in arm_keys]


def render(study_id: str, arm_keys: list[str], data: StudyData) -> None:
    """The form (steps and seed, both in the URL), the submit button and the live job."""
    st.subheader("Retrain now")
    n = len(arm_keys)
    what = "arm" if n == 1 else f"{n} arms (the options it compares)"
    st.markdown(f"Train this page's {what} yourself, with one seed, through "
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
            st.session_state[key] = service().submit(configs, session_id())
        except (ValueError, RetrainBusy) as e:
            st.warning(str(e))
    job = st.session_state.get(key)
    if job is None or job.key != tuple(sorted({c.run_id for c in configs})):
        job = safe_job(configs)
    if job is not None:
        active = job.state in ("queued", "running")
        st.fragment(run_every=POLL_SECONDS if active else None)(_live)(job, study_id, data,
                                                                         active)
        if active:  # the rerun at the end of the job stops this one
            st.fragment(run_every=CHART_SECONDS)(_live_chart)(job, study_id, data)


def safe_job(configs: list[RunConfig]):
    """The server's job for these configs, if one is registered (else None); this session
    then counts as watching it."""
    try:
        return service().job(configs, session_id())
    except ValueError:
        return None


def progress(job) -> bool:
    """A queued or running job's place in line or progress bar; True if it showed one."""
    if job.state == "queued":
        st.info(f"Queued: place {job.queue_position or 1} in line (the server trains a "
                "limited number of runs at once).")
    elif job.state == "running":
        text = (f"Training: {job.progress:.0%}" if job.progress < 1 else "Training done; "
                "running the end-of-run analyses (probe, gradient decay, samples)")
        n = service().watching(job)
        others = f"; {n} tabs watch this one training" if n > 1 else ""
        st.progress(job.progress, text=f"{text} ({job.elapsed:.0f} s so far{others})")
    return job.state in ("queued", "running")


def _live(job, study_id: str, data: StudyData, was_active: bool) -> None:
    """Polled every POLL_SECONDS while the job runs: queue place or progress; then the
    result, once."""
    if progress(job):
        return
    if was_active:
        st.rerun()  # stop polling: redraw the page once with the finished or failed job
    if job.state == "failed":
        st.error(job.error or "The retrain failed.")
    elif job.state == "cancelled":
        st.info("This retrain was stopped before it finished: every tab watching it had "
                "closed. Press \"Retrain now\" to train it again.")
    else:
        _result(job, study_id, data)


def _live_chart(job, study_id: str, data: StudyData) -> None:
    """Polled every CHART_SECONDS while the job runs: the partial curves beside the stored,
    built once per CHART_SECONDS for every tab watching the job (live_study)."""
    both = live_study(job, study_id, data)
    if both is not None:
        _draw(both, job.configs[0].seed, ("loss_curves",), live=True)


# (study, job, id(stored data)) -> (the stored data, built at, the partial study data)
_LIVE: dict[tuple, tuple[StudyData, float, StudyData | None]] = {}
_LIVE_LOCK = threading.Lock()


def live_study(job, study_id: str, data: StudyData) -> StudyData | None:
    """A running job's partial curves beside the stored runs, shared by every tab that
    watches it: rebuilt at most once per CHART_SECONDS (thirty tabs polling it cost one
    build, not thirty); None before the first curve window."""
    key = (study_id, job.key, id(data))
    with _LIVE_LOCK:  # one build at a time; the others take the fresh one
        held, built_at, both = _LIVE.get(key, (data, -math.inf, None))
        if held is not data:  # another object at a reused id: nothing to share
            built_at, both = -math.inf, None
        if time.monotonic() - built_at >= CHART_SECONDS - 1 and job.state == "running":
            curves = job.partial_curves()
            mine = results.from_partial(study_id, data.arms, job.configs, curves) \
                if len(curves) else None
            both = results.beside_stored(data, mine) if mine is not None else None
            if len(_LIVE) > 32:  # finished jobs' entries: a handful of KB each
                _LIVE.clear()
            _LIVE[key] = (data, time.monotonic(), both)
        return both


_DONE: OrderedDict[tuple, tuple[StudyData, tuple]] = OrderedDict()  # finished jobs, shared
DONE_KEPT = 16


def finished(job, study_id: str, data: StudyData) -> tuple[StudyData, StudyData, list]:
    """A finished job as study data, beside the stored runs, and matched against them:
    built once for every tab that watched it (thirty tabs redrawing a finished retrain
    each built it anew: the largest part of a class's retrain, lab.loadbench)."""
    key = (study_id, job.key, id(data))
    with _LIVE_LOCK:
        hit = _DONE.get(key)
        if hit is not None and hit[0] is data:
            _DONE.move_to_end(key)
            return hit[1]
        mine = results.from_results(study_id, catalog.get(study_id).arms, job.results or [])
        built = (mine, results.beside_stored(data, mine), results.match_stored(data, mine))
        _DONE[key] = (data, built)  # the stored data held, so its id is not reused
        while len(_DONE) > DONE_KEPT:
            _DONE.popitem(last=False)
        return built


def _loss(x: float) -> str:
    """A final held-out loss for the table; '-' where there is none."""
    return f"{x:.4f}" if math.isfinite(x) else "-"


def _draw(both: StudyData, seed: int, views: tuple[str, ...], live: bool = False) -> None:
    """The retrain beside the stored seeds of its arms, through the study page's own views."""
    view = View(both, floor(), None, seed, live=live)
    for name in views:
        VIEWS[name](view)


def _result(job, study_id: str, data: StudyData) -> None:
    """The finished retrain: a table and plain sentences against the stored runs of the same
    config, then the retrain drawn beside the stored seeds."""
    mine, both, matches = finished(job, study_id, data)
    st.success(f"Retrain finished ({job.elapsed:.0f} s" + (", from the cache" if job.cached
                                                             else "") + ").")
    tables.show(pd.DataFrame([{
        "arm": m.arm, "seed": m.seed, "retrained loss": _loss(r.final_val_loss),
        "stored loss": _loss(m.stored_loss), "matches stored": m.short, "status": r.status}
        for m, r in zip(matches, mine.runs.itertuples(), strict=True)]))
    st.markdown("\n".join(f"- {m.sentence}" for m in matches))
    stored_seeds = ", ".join(str(s) for s in sorted(set(
        data.runs.loc[data.runs["arm"].isin(mine.arm_keys), "seed"])))
    st.caption(f"Below, each retrained arm beside its stored runs (seeds {stored_seeds or 'none'}"
               f"; median and band), through this page's own charts.")
    # runs of the stored length: every view of the page compares like with like
    stored_steps = set(data.runs.loc[data.runs["arm"].isin(mine.arm_keys), "steps"])
    full = stored_steps == {job.configs[0].steps}
    views = [v for v in catalog.get(study_id).views if v in VIEWS] if full else []
    _draw(both, job.configs[0].seed,
          ("loss_curves", *(v for v in views if v != "loss_curves")))
