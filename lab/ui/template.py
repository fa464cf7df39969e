"""The shared study page: question, setup, charts, samples, verdict, observations,
takeaway, retrain now, download. Most pages are one call to `render_study`."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from lab.data.studydata import StudyData, floor
from lab.studies.arms import SEEDS, arms_of
from lab.ui import db, nav, panels, retrain_panel, urlstate
from lab.ui.views import VIEWS, View

ViewFn = Callable[[View], None]


def page_params(study_id: str) -> tuple[urlstate.Param, ...]:
    """The URL parameters every study page has: the highlighted arm and the sample seed."""
    keys = tuple(a.key for a in arms_of(study_id))
    return (urlstate.Param("arm", "choice", "all", ("all", *keys)),
            urlstate.Param("seed", "choice", SEEDS[0], SEEDS))


def header(study_id: str) -> None:
    """Title, question, what is fixed and the hypothesis."""
    page = nav.study_page(study_id)
    s = nav.study(study_id)
    st.title(f"{page.number}. {page.title}")
    if s is None:
        st.info("The study's texts (question, hypothesis, verdict) are not available yet.")
        return
    st.markdown(f"#### {s.question}")
    left, right = st.columns(2)
    left.markdown(f"**What is fixed.** {s.fixed}")
    right.markdown(f"**Hypothesis.** {s.hypothesis}")


def controls(study_id: str, data: StudyData, highlight: bool) -> tuple[str | None, int]:
    """The arm highlight and seed pickers (both in the URL)."""
    arm_p, seed_p = page_params(study_id)
    left, right = st.columns(2)
    key = "all"
    if highlight:
        with left:
            key = urlstate.control(arm_p, st.selectbox, "Highlight an arm",
                                   format_func=lambda k: "all arms" if k == "all"
                                   else data.label(k),
                                   help="Clicking a legend entry also highlights an arm.")
    with right if highlight else left:
        seed = urlstate.control(seed_p, st.segmented_control, "Seed (samples and per-seed "
                                "views)", required=True)
    return (None if key == "all" else data.label(key)), int(seed)


def render_study(study_id: str, views: dict[str, ViewFn] | None = None,
                 focus: Callable[[View], list[str]] | None = None,
                 highlight: bool = True,
                 gate: Callable[[StudyData], bool] | None = None) -> None:
    """Draw a whole study page. views adds or overrides chart renderers by chart id;
    focus(view) picks the arm keys whose samples are shown and retrained (default: all);
    highlight=False drops the arm highlight picker (the grid's 64 cells); gate(data) draws
    an exercise above the results and says whether the results may show yet (the grid's
    predict-first: no chart, verdict or takeaway gives the answer away before a guess)."""
    nav.ensure_frame()
    db.store_or_stop()
    header(study_id)
    data = db.study_data(study_id)
    if data.runs.empty:
        st.warning("No runs of this study are stored yet: run `python -m lab.precompute`.")
        st.stop()
    picked, seed = controls(study_id, data, highlight)
    if gate is not None and not gate(data):
        return
    view = View(data, floor(), picked, seed)
    renderers = {**VIEWS, **(views or {})}
    s = nav.study(study_id)
    for chart in (s.charts if s else ("loss_curves",)):
        if chart in renderers:
            renderers[chart](view)
        else:
            st.info(f"Chart {chart!r} has no renderer yet.")
    arm_keys = focus(view) if focus else list(data.arm_keys)
    panels.samples(data, seed, arm_keys)
    if s is not None:
        _conclusions(s, data)
    retrain_panel.render(study_id, arm_keys, data)
    panels.download(data, study_id)


def _conclusions(s, data: StudyData) -> None:
    """Verdict, observation questions and takeaway; a failing study function shows a note."""
    try:
        v = s.verdict(data)
    except Exception as e:  # the rest of the page stays useful
        st.error(f"The verdict could not be computed from the stored runs ({e}).")
        return
    from lab.studies.verdicts import EFFECT_RULE
    panels.verdict(v, EFFECT_RULE)
    panels.observations(s.observations, data)
    st.subheader("Takeaway")
    try:
        st.info(s.takeaway(data, v))
    except Exception as e:
        st.info(f"The takeaway could not be computed ({e}).")
