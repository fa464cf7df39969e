"""The shared study page: question, setup, charts, samples, verdict, observations,
takeaway, retrain now, download. Every study page is one call to `render_study`, which draws
the study as its module declares it (lab.studies.<id>)."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from lab.data.studydata import StudyData, floor
from lab.studies import catalog
from lab.studies import glossary as gl
from lab.studies.evidence import EFFECT_RULE
from lab.studies.study import Study
from lab.ui import classmode, db, grid, nav, novel, panels, retrain_panel, urlstate
from lab.ui.home import page_words
from lab.ui.views import VIEWS, View

ViewFn = Callable[[View], None]
RENDERERS: dict[str, ViewFn] = {**VIEWS, "novel_word": novel.novel_word, "grid": grid.grid_view}


def header(s: Study) -> tuple[DeltaGenerator, set[str]]:
    """Title, the page's words, question and what is fixed; returns the column the
    hypothesis goes in once the page's gate (a prediction to commit first) lets it show, and
    the words already explained inline."""
    st.title(f"{s.number}. {s.title}")
    page_words(gl.page_terms([s.title, s.question, s.fixed, s.hypothesis,
                         *(o.question for o in s.observations)], s.views))
    seen: set[str] = set()  # the question stays a plain heading; the words above define it
    st.markdown(f"#### {s.question}")
    left, right = st.columns(2)
    left.markdown(f"**What is fixed.** {s.fixed}")
    return right, seen


def hypothesis(s: Study, column: DeltaGenerator, shown: bool, seen: set[str]) -> None:
    """The hypothesis names the arm the study expects to win: held back until the student
    commits a prediction when the page asks for one. Its words are explained at first use."""
    column.markdown(f"**Hypothesis.** {gl.explain_first(s.hypothesis, seen)}" if shown else
                    "**Hypothesis.** Held back until you commit your prediction.")


def controls(s: Study, data: StudyData) -> tuple[str | None, int]:
    """The arm highlight and seed pickers (both in the URL)."""
    params = {p.name: p for p in s.url_params}
    arm_p, seed_p, highlight = params.get("arm"), params["seed"], s.highlight
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
                 gate: Callable[[StudyData], bool] | None = None) -> None:
    """Draw a whole study page. views adds or overrides chart renderers by chart id;
    focus(view) picks the arm keys whose samples are shown and retrained (default: all);
    gate(data) draws an exercise above the results and says whether the results may show
    yet (the grid's predict-first: no chart, verdict or takeaway gives the answer away
    before a guess)."""
    nav.ensure_frame()
    db.store_or_stop()
    s = catalog.get(study_id)
    hypothesis_column, seen = header(s)
    data = db.study_data(study_id)
    if data.runs.empty:
        st.warning("No runs of this study are stored yet: run `python -m lab.precompute`.")
        st.stop()
    picked, seed = controls(s, data)
    gate = classmode.gate_for(s, gate)
    shown = gate is None or gate(data)
    hypothesis(s, hypothesis_column, shown, seen)
    if not shown:
        return
    view = View(data, floor(), picked, seed, on_pick=_picker(s, data) if s.highlight else None)
    renderers = {**RENDERERS, **(views or {})}
    for chart in s.views:
        if chart in renderers:
            renderers[chart](view)
        else:
            st.info(f"Chart {chart!r} has no renderer yet.")
    arm_keys = focus(view) if focus else list(data.arm_keys)
    panels.samples(data, seed, arm_keys, picked)
    _conclusions(s, data)
    retrain_panel.render(study_id, arm_keys, data)
    panels.download(data, study_id)


def _picker(s: Study, data: StudyData) -> Callable[[str | None], None]:
    """What a legend click does: the clicked arm (or none) becomes the page's highlight, in
    the URL, so the selector above the charts and every chart follow on the rerun."""
    arm_p = next(p for p in s.url_params if p.name == "arm")
    keys = {a.label: a.key for a in data.arms}

    def pick(label: str | None) -> None:
        urlstate.set_next(arm_p, keys.get(label, "all") if label else "all")
        st.rerun()
    return pick


def _conclusions(s: Study, data: StudyData) -> None:
    """Verdict, observation questions and takeaway; a failing study function shows a note."""
    try:
        v = data.once(("verdict", s.id), lambda: s.verdict(data))
    except Exception as e:  # the rest of the page stays useful
        st.error(f"The verdict could not be computed from the stored runs ({e}).")
        return
    panels.verdict(v, EFFECT_RULE)
    panels.observations(s.observations, data)
    st.subheader("Takeaway")
    try:
        st.info(data.once(("takeaway", s.id), lambda: s.takeaway(data, v)))
    except Exception as e:
        st.info(f"The takeaway could not be computed ({e}).")
