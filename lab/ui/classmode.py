"""Class mode: an instructor's link (`?class=1`) puts the browser tab in class mode, and the
tab stays in it on every page it reaches (sidebar, Home's cards, any link) until a link says
`?class=0`. The mode lives in the session (the tab) and in every page's URL (`class=1`), so a
copied link keeps it. A study page then asks one prediction and holds every result back
(hypothesis, charts, samples, verdict, answers, takeaway, retrain) until the student commits
it; the commit is in the URL (`predicted=<option>`) and in the session, and counts in the
class poll (lab.service.poll), shown beside what the runs showed."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pandas as pd
import streamlit as st

from lab.data.studydata import StudyData
from lab.service import poll
from lab.studies import prediction
from lab.studies.params import Param
from lab.studies.study import Study
from lab.ui import retrain_panel, tables, urlstate

CLASS = Param("class", "choice", 0, (0, 1))
MODE_KEY = "lab_class_mode"  # session: True while the tab is in class mode
COMMITTED_KEY = "lab_class_predictions"  # session: study id -> committed option
VOTER_KEY = "lab_class_voter"  # session: the tab's anonymous token in the poll
POLL_ERROR_KEY = "lab_class_poll_error"  # session: a vote the poll file refused
NONE = "none"  # no prediction committed yet
ALERTS = {prediction.RIGHT: st.success, prediction.PARTLY: st.info,
          prediction.WRONG: st.warning, prediction.OPEN: st.info}


def sync() -> bool:
    """Settle the tab's mode from the link and return it: `class=1` turns it on, `class=0`
    off, no `class` keeps the session's (a sidebar click drops the query). The URL then
    carries `class=1` in class mode. A malformed value warns and keeps the session's mode.
    Idempotent: the frame (Home.py) and a study page may both call it in one run."""
    raw = st.query_params.get(CLASS.name)
    if raw is not None:
        try:
            st.session_state[MODE_KEY] = CLASS.parse(raw) == 1
        except (ValueError, TypeError) as e:
            st.warning(f"Link parameter `{CLASS.name}={urlstate.quoted(raw)}` was ignored "
                       f"({e}); " + ("staying in class mode." if on() else
                                     "showing the page without class mode."))
    urlstate.write(CLASS, int(on()))  # 1 in class mode; normal mode keeps links short
    return on()


def on() -> bool:
    """Whether this tab is in class mode (as last settled by sync)."""
    return bool(st.session_state.get(MODE_KEY, False))


def query() -> dict[str, str]:
    """The query a link must carry to keep this tab's mode: {'class': '1'} or nothing."""
    return {CLASS.name: "1"} if on() else {}


def href(url_path: str = "", anchor: str = "", class_mode: bool | None = None) -> str:
    """A markdown link target inside the app (server.baseUrlPath included), carrying class
    mode when the tab is in it (or when class_mode says so)."""
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    path = "/".join(p for p in (base, url_path) if p)
    keep = on() if class_mode is None else class_mode
    return f"/{path}" + (f"?{CLASS.name}=1" if keep else "") + (f"#{anchor}" if anchor else "")


def predicted_param(study: Study) -> Param:
    return Param("predicted", "choice", NONE, (NONE, *prediction.for_study(study).options))


def gate_for(study: Study, own: Callable[[StudyData], bool] | None = None
             ) -> Callable[[StudyData], bool] | None:
    """The page's gate: its own (the grid's predict-first, which class mode leaves as it
    is), else the class-mode gate in class mode, else None. Either way a bad `class` or
    stray `predicted` value warns and leaves the address."""
    class_mode = sync()
    if own is not None:
        return own  # its own exercise: no class-mode prediction to read
    if class_mode:
        return gate(study)
    urlstate.settle((predicted_param(study),))
    return None


def _committed() -> dict[str, object]:
    return st.session_state.setdefault(COMMITTED_KEY, {})


def remember(study_id: str, committed: object) -> None:
    """Keep the tab's commit for study_id (a sidebar click drops it from the URL)."""
    _committed()[study_id] = committed


def remembered(study_id: str) -> object | None:
    """The tab's commit for study_id, if it has one and is in class mode."""
    return _committed().get(study_id) if on() else None


def forget(study_id: str) -> None:
    _committed().pop(study_id, None)


def voter() -> str:
    """This tab's anonymous token in the class poll."""
    return st.session_state.setdefault(VOTER_KEY, uuid.uuid4().hex)


def vote(study_id: str, choice: str) -> None:
    """Count this tab's committed prediction in the class poll (in class mode only; a new
    commit moves the tab's vote). A failing poll file warns; the page goes on."""
    if not on():
        return
    try:
        poll.poll().vote(study_id, voter(), choice)
    except poll.PollUnavailable as e:
        st.session_state[POLL_ERROR_KEY] = str(e)  # shown with the tally


def feedback(outcome: str, text: str) -> None:
    """A scored prediction, coloured by its outcome: borne out green, partly (tied) blue,
    not borne out orange."""
    ALERTS.get(outcome, st.info)(text)


def _read_commit(study: Study, param: Param) -> str | None:
    """The committed option: the link's, else the one this tab committed earlier (a sidebar
    click drops the query; a refused value warns), else None."""
    committed = urlstate.read(param)
    if committed == NONE:
        committed = remembered(study.id) or NONE
    urlstate.write(param, committed)  # a refused value leaves the address
    if committed == NONE:
        forget(study.id)
        return None
    remember(study.id, committed)
    return committed


def gate(study: Study) -> Callable[[StudyData], bool]:
    """The page's gate in class mode: ask, then open the results once a prediction is in."""
    param = predicted_param(study)

    def ask(data: StudyData) -> bool:
        p = prediction.for_study(study)
        committed = _read_commit(study, param)
        st.info("**Class mode.** " + (
            "You committed a prediction, so the results are open below." if committed else
            "Your instructor's link holds this page's results back until you commit a "
            "prediction: the hypothesis, the charts, the samples, the verdict, the answers "
            "and the takeaway open once you do."))
        st.subheader("Your prediction")
        if committed:
            st.markdown(p.question)
            j = prediction.judge(study, data, committed)
            feedback(j.outcome, j.text)
            class_tally(study.id, _rows(study, data))
            if st.button("Change my prediction"):
                urlstate.write(param, NONE)
                forget(study.id)
                st.rerun()
            return True
        choice = st.radio(p.question, p.options, index=None, key=f"classmode_{study.id}",
                          format_func=lambda o: p.label(data, o))
        if st.button("Commit my prediction", disabled=choice is None):
            urlstate.write(param, choice, keep_default=True)
            remember(study.id, choice)
            vote(study.id, choice)
            st.rerun()
        urlstate.settle(retrain_panel.PARAMS)  # its controls wait below the gate
        return False
    return ask


def _rows(study: Study, data: StudyData) -> pd.DataFrame:
    """One row per option: its label, what the runs showed of it (the metric's median) and
    how it fares as a prediction."""
    p = prediction.for_study(study)
    outcomes = data.once(("prediction_outcomes", study.id),
                         lambda: {o: prediction.judge(study, data, o).outcome
                                  for o in p.options})
    rows = pd.DataFrame({"option": list(p.options),
                         "prediction": [p.label(data, o) for o in p.options]})
    if p.metric is not None:
        rows[f"median {p.metric.label}"] = [p.metric.fmt(data.median(o, p.metric.name))
                                           for o in p.options]
    rows["as a prediction"] = [outcomes[o] for o in p.options]
    return rows


def class_tally(study_id: str, rows: pd.DataFrame) -> None:
    """How the class predicted (votes and share per option, from the poll) beside what the
    runs showed (rows: an `option` column, then the columns to show)."""
    st.markdown("**How the class predicted**")
    if error := st.session_state.pop(POLL_ERROR_KEY, None):
        st.warning(error)
    store = poll.poll()
    try:
        tally = store.tally(study_id)
    except poll.PollUnavailable as e:
        st.warning(str(e))
        return
    shares = poll.shares(tally)
    table = rows.assign(students=[tally.get(o, 0) for o in rows["option"]],
                        share=[f"{shares.get(o, 0.0):.0%}" for o in rows["option"]])
    order = ["prediction", "students", "share"]
    tables.show(table[order + [c for c in table.columns if c not in (*order, "option")]])
    total = sum(tally.values())
    st.caption(f"{total} prediction{'s' if total != 1 else ''} committed in class mode, one per "
               "browser tab (a changed prediction moves its vote), beside what the stored "
               "runs showed." + ("" if store.shared else f" {store.note}"))
