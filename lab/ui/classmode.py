"""Class mode (`?class=1` on any study page): the page asks one prediction and holds every
result back (charts, samples, verdict, answers, takeaway, retrain) until the student commits
it. The commit is in the URL (`predicted=<option>`), so a shared link shows the same page."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from lab.data.studydata import StudyData
from lab.studies import prediction
from lab.studies.params import Param
from lab.studies.study import Study
from lab.ui import retrain_panel, urlstate

CLASS = Param("class", "choice", 0, (0, 1))


def enabled() -> bool:
    """Whether the link asks for class mode (a malformed value warns, leaves the address and
    falls back to the normal mode)."""
    on = urlstate.read(CLASS)
    urlstate.write(CLASS, on)
    return on == 1


NONE = "none"  # no prediction committed yet


def predicted_param(study: Study) -> Param:
    return Param("predicted", "choice", NONE, (NONE, *prediction.for_study(study).options))


def gate_for(study: Study, own: Callable[[StudyData], bool] | None = None
             ) -> Callable[[StudyData], bool] | None:
    """The page's gate: its own (the grid's predict-first, which class mode leaves as it
    is), else the class-mode gate if the link asks for it, else None. Either way a bad
    `class` or stray `predicted` value warns and leaves the address."""
    on = enabled()
    if own is not None:
        return own  # its own exercise: no class-mode prediction to read
    if on:
        return gate(study)
    urlstate.settle((predicted_param(study),))
    return None


def gate(study: Study) -> Callable[[StudyData], bool]:
    """The page's gate in class mode: ask, then open the results once a prediction is in."""
    param = predicted_param(study)

    def ask(data: StudyData) -> bool:
        p = prediction.for_study(study)
        committed = urlstate.read(param)
        urlstate.write(param, committed)  # a refused value leaves the address
        committed = None if committed == NONE else committed
        st.info("**Class mode.** " + (
            "You committed a prediction, so the results are open below." if committed else
            "Your instructor's link holds this page's results back until you commit a "
            "prediction: the charts, the samples, the verdict, the answers and the takeaway "
            "open once you do."))
        st.subheader("Your prediction")
        key = f"classmode_{study.id}"
        if committed:
            st.markdown(p.question)
            st.success(prediction.judge(study, data, committed))
            if st.button("Change my prediction"):
                urlstate.write(param, NONE)
                st.rerun()
            return True
        choice = st.radio(p.question, p.options, index=None, key=key,
                          format_func=lambda o: p.label(data, o))
        if st.button("Commit my prediction", disabled=choice is None):
            urlstate.write(param, choice, keep_default=True)
            st.rerun()
        urlstate.settle(retrain_panel.PARAMS)  # its controls wait below the gate
        return False
    return ask
