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
    """Whether the link asks for class mode (a malformed value warns and falls back)."""
    return urlstate.read(CLASS) == 1


def predicted_param(study: Study) -> Param:
    return Param("predicted", "choice", "", ("", *prediction.for_study(study).options))


def gate(study: Study) -> Callable[[StudyData], bool]:
    """The page's gate in class mode: ask, then open the results once a prediction is in."""
    param = predicted_param(study)

    def ask(data: StudyData) -> bool:
        p = prediction.for_study(study)
        committed = urlstate.read(param)
        st.info("**Class mode.** " + (
            "You committed a prediction, so the results are open below." if committed else
            "Your instructor's link holds this page's results back until you commit a "
            "prediction: the charts, the samples, the verdict, the answers and the takeaway "
            "open once you do."))
        st.subheader("Your prediction")
        key = f"classmode_{study.id}"
        if committed:
            st.markdown(f"{p.question}")
            st.success(prediction.judge(study, data, committed))
            if st.button("Change my prediction"):
                urlstate.write(param, "")
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
