"""Class mode holds: a tab in class mode stays in it on every page it reaches (sidebar, Home's
cards, links) until `?class=0`; nothing names the expected winner before the commit; feedback
is coloured by its outcome; Home's instructor links are links and its plan covers every
study; the class poll counts one vote per tab and study across sessions."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from streamlit.testing.v1 import AppTest
from test_app import run_page
from test_tables import app_tables

from lab.data.store import open_reader
from lab.data.studydata import load_study
from lab.studies import catalog, glossary, prediction
from lab.studies.grid import GUESS, tied_best
from lab.ui import classmode, nav

ROOT = Path(__file__).resolve().parent.parent
PAGES = {sid: f"pages/{name}" for sid, name in nav.FILES.items()}
CLASS_PAGES = [sid for sid in PAGES if sid not in nav.FULL_VIEW]  # the grid has its own gate
ALERT_KINDS = ("success", "info", "warning")


session = run_page  # a new tab: Home.py with the query, then `page` (a link opened directly)


def sidebar_click(at: AppTest, page: str) -> AppTest:
    """What a click in the sidebar sends: the new page with an empty query."""
    at.query_params.clear()
    return at.switch_page(page).run()


def subheaders(at: AppTest) -> set[str]:
    return {s.value for s in at.subheader}


def texts(at: AppTest) -> str:
    kinds = ("markdown", "caption", "title", "header", "subheader", *ALERT_KINDS, "error")
    return "\n".join(str(e.value) for kind in kinds for e in at.get(kind))


def held_back(at: AppTest) -> bool:
    return "Your prediction" in subheaders(at) and "Verdict" not in subheaders(at)


def link_queries(at: AppTest) -> list[dict]:
    return [parse_qs(p.proto.query_string) for p in at.get("page_link")]


def test_a_tab_in_class_mode_stays_in_it_across_pages_until_class_0(lab_db):
    at = session(PAGES["tbptt"], **{"class": 1})
    assert held_back(at)
    assert at.session_state[classmode.MODE_KEY] is True
    for sid in ("hidden_size", "grid", "reservoir"):  # the sidebar drops the query
        sidebar_click(at, PAGES[sid])
        assert not at.exception, [e.value for e in at.exception]
        assert at.query_params.get("class") == "1", (sid, at.query_params)
        assert at.session_state[classmode.MODE_KEY] is True
        if sid == "grid":
            assert "Predict first" in subheaders(at) and "Verdict" not in subheaders(at)
        else:
            assert held_back(at), (sid, subheaders(at))
    sidebar_click(at, "Home.py")  # Home: its cards carry class mode
    assert at.query_params.get("class") == "1"
    queries = link_queries(at)
    # the studies' cards and the story's
    assert len(queries) == len(PAGES) + 1 and all(q == {"class": ["1"]} for q in queries), \
        queries
    sidebar_click(at, nav.EXPLORE[0][1])  # an Explore page keeps it in its URL too
    assert at.query_params.get("class") == "1"
    sidebar_click(at, nav.STORY[1])  # the story asks its own prediction
    assert at.query_params.get("class") == "1" and "Your prediction" in subheaders(at)
    # the instructor's link says otherwise: the tab leaves class mode, on every page
    at.query_params.update({"class": "0"})
    at.switch_page(PAGES["tbptt"]).run()
    assert at.session_state[classmode.MODE_KEY] is False and "class" not in at.query_params
    assert "Verdict" in subheaders(at) and "Your prediction" not in subheaders(at)
    sidebar_click(at, PAGES["hidden_size"])
    assert "class" not in at.query_params and "Verdict" in subheaders(at)
    sidebar_click(at, "Home.py")
    assert all(not q for q in link_queries(at))


def test_a_committed_prediction_stays_with_the_tab(lab_db):
    """Back on a page it predicted (the sidebar dropped `predicted`), the tab's commit holds."""
    at = session(PAGES["reservoir"], **{"class": 1})
    at.radio[0].set_value("frozen").run()
    next(b for b in at.button if b.label == "Commit my prediction").click().run()
    assert at.query_params["predicted"] == "frozen"
    sidebar_click(at, PAGES["tbptt"])
    assert held_back(at) and "predicted" not in at.query_params  # its own page asks
    sidebar_click(at, PAGES["reservoir"])
    assert "Verdict" in subheaders(at) and at.query_params["predicted"] == "frozen"
    next(b for b in at.button if b.label == "Change my prediction").click().run()
    assert held_back(at) and "predicted" not in at.query_params
    sidebar_click(at, PAGES["grid"])  # the grid's guess stays with the tab too
    for box, p in zip(at.selectbox[:3], GUESS, strict=True):
        box.set_value(p.choices[0])
    at.run()
    next(b for b in at.button if b.label == "Commit my guess").click().run()
    sidebar_click(at, PAGES["tbptt"])
    sidebar_click(at, PAGES["grid"])
    assert "Verdict" in subheaders(at) and at.query_params["revealed"] == "1"
    assert [at.query_params[p.name] for p in GUESS] == [str(p.choices[0]) for p in GUESS]


@pytest.mark.parametrize("study_id", list(PAGES))
def test_no_hypothesis_before_the_commit(lab_db, study_id):
    """On every class page and the grid: the question, the arms and what is fixed, and no
    hypothesis (it names the expected winner) until the prediction is committed."""
    study = catalog.get(study_id)
    at = session(PAGES[study_id], **{"class": 1})
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    assert study.question in shown and study.fixed in shown
    assert shown_hypothesis(study) not in shown and study.hypothesis not in shown
    assert "Held back until you commit your prediction" in shown
    assert not at.get("vega_lite_chart") and "Takeaway" not in subheaders(at)
    if study_id in nav.FULL_VIEW:  # the grid's guess
        for box, p in zip(at.selectbox[:3], GUESS, strict=True):
            box.set_value(p.choices[-1])
        at.run()
        next(b for b in at.button if b.label == "Commit my guess").click().run()
    else:
        options = prediction.for_study(study).options
        assert len(at.radio[0].options) == len(options)  # the arms (or yes and no)
        at.radio[0].set_value(options[0]).run()
        next(b for b in at.button if b.label == "Commit my prediction").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert shown_hypothesis(study) in texts(at)


def test_the_grid_holds_its_hypothesis_back_outside_class_mode_too(lab_db):
    at = session(PAGES["grid"])
    assert shown_hypothesis(catalog.get("grid")) not in texts(at)
    full = dict(q.split("=") for q in nav.FULL_VIEW["grid"].split("&"))
    assert shown_hypothesis(catalog.get("grid")) in texts(session(PAGES["grid"], **full))


def _data(fixture_db, study_id: str):
    store = open_reader(str(fixture_db))
    return load_study(store, study_id, catalog.get(study_id).arms)


def _alert_kind(at: AppTest, needle: str) -> str:
    found = [kind for kind in ALERT_KINDS for e in at.get(kind) if needle in e.value]
    assert len(found) == 1, (needle, found)
    return found[0]


def expected_alert(study, data, option: str) -> str:
    """The alert a committed option must get, from the runs: green when it is the clear best
    (or the verdict it bet on), blue when tied for best (or a partly supported or
    inconclusive verdict), orange otherwise."""
    p = prediction.for_study(study)
    if p.metric is None:
        outcome = study.verdict(data).outcome
        if outcome in ("partly supported", "inconclusive"):
            return "info"
        return "success" if (option == prediction.YES) == (outcome == "supported") else "warning"
    best = prediction.tied_best(data, p.metric)
    return "success" if best == [option] else "info" if option in best else "warning"


def test_feedback_is_coloured_by_its_outcome(lab_db):
    """Borne out green, partly (tied) blue, not borne out orange: never a wrong guess in
    green. Every option of four studies, from a committed link."""
    seen = set()
    for sid in ("tbptt", "clipping", "learning_rate", "novel_word"):
        study, data = catalog.get(sid), _data(lab_db, sid)
        for option in prediction.for_study(study).options:
            expected = expected_alert(study, data, option)
            at = session(PAGES[sid], **{"class": 1, "predicted": option})
            assert _alert_kind(at, "You predicted") == expected, (sid, option, expected)
            seen.add(expected)
    assert "warning" in seen  # the fixture has predictions that are not borne out


def test_the_grid_guess_is_coloured_by_its_outcome(lab_db):
    data = _data(lab_db, "grid")
    tied = tied_best(data)
    worst = max(data.arm_keys, key=lambda k: data.median(k, "final_val_loss"))
    for key, kind in ((worst, "warning"), (tied[0], "success" if len(tied) == 1 else "info")):
        arm = catalog.get("grid").arm(key).overrides
        guess = dict(zip((p.name for p in GUESS),
                         (arm["hidden"], arm["activation"], arm["seq_len"]), strict=True))
        at = session(PAGES["grid"], revealed=1, **guess)
        assert _alert_kind(at, "Your guess") == kind, key


def test_home_instructor_links_are_links_and_the_plan_covers_every_study(lab_db):
    at = session()
    md = "\n".join(m.value for m in at.markdown)
    for sid, study in catalog.STUDIES.items():
        if sid not in PAGES:
            continue
        link = rf"\]\(/{re.escape(nav.url_path(sid))}\?class=1\)"
        assert re.search(link, md), (sid, "no class-mode link")
        assert study.title in md, (sid, "not in the plan")
    assert not re.search(r"`/\w+\?class=1", md)  # no link left as code text
    plan = re.findall(r"^\d+\. \[\*\*(.+?)\*\*\]", md, flags=re.MULTILINE)
    assert sorted(plan) == sorted(catalog.get(s).title for s in catalog.STUDY_IDS)


def shown_hypothesis(study) -> str:
    """The hypothesis as its page shows it: each word glossed at first use."""
    return glossary.explain_first(study.hypothesis, set())


def commit(at: AppTest, option: str) -> AppTest:
    at.radio[0].set_value(option).run()
    return next(b for b in at.button if b.label == "Commit my prediction").click().run()


def tally(at: AppTest) -> dict[str, int]:
    """The class tally table on a committed page: option label -> students."""
    table = next(t for t in app_tables(at) if "students" in t.columns)
    return dict(zip(table["prediction"], table["students"].astype(int), strict=True))


def test_two_sessions_committing_show_a_tally_of_two(lab_db):
    one = commit(session(PAGES["tbptt"], **{"class": 1}), "50")
    assert tally(one) == {"seq_len=5": 0, "seq_len=10": 0, "seq_len=25": 0, "seq_len=50": 1}
    two = commit(session(PAGES["tbptt"], **{"class": 1}), "5")
    assert tally(two) == {"seq_len=5": 1, "seq_len=10": 0, "seq_len=25": 0, "seq_len=50": 1}
    assert any("2 predictions committed" in c.value for c in two.caption)
    assert any("50%" in str(v) for v in
               next(t for t in app_tables(two) if "share" in t.columns)["share"])
    # the first tab changes its mind: its vote moves, the count stays 2
    next(b for b in one.button if b.label == "Change my prediction").click().run()
    commit(one, "5")
    assert tally(one) == {"seq_len=5": 2, "seq_len=10": 0, "seq_len=25": 0, "seq_len=50": 0}
    # the instructor (a tab not in class mode) sees every study's tally on Home
    home = session()
    rows = next(t for t in app_tables(home) if "predictions" in t.columns)
    row = rows[rows["study"].str.endswith(catalog.get("tbptt").title)].iloc[0]
    assert int(row["predictions"]) == 2 and "seq_len=5: 2 (100%)" in row["how the class predicted"]
    assert any("Class poll" in e.label for e in home.expander)
    student_home = session(**{"class": 1})  # not shown to a tab in class mode
    assert not any("Class poll" in e.label for e in student_home.expander)


def test_a_poll_that_cannot_write_says_it_counts_only_this_server(lab_db, monkeypatch,
                                                                  tmp_path):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("LAB_POLL_DB", str(tmp_path / "a-file" / "poll.sqlite"))
    at = commit(session(PAGES["reservoir"], **{"class": 1}), "trained")
    assert not at.exception and tally(at)["W_hh trained"] == 1
    assert any("only the predictions made on this server" in c.value for c in at.caption)
