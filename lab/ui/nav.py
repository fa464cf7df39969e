"""The app's pages: which file shows which study, in which sidebar group, under what title,
all read from each study's declaration (lab.studies.catalog)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lab.data import memo
from lab.studies import catalog
from lab.studies.grid import GUESS, REVEAL

ROOT = Path(__file__).resolve().parent.parent.parent

# The grid's predict-first exercise holds the page's results back until the student commits a
# guess; this URL parameter records the commit (with the guess itself). FULL_VIEW: the query
# that shows a whole page.
REVEAL_PARAM = REVEAL.name
FULL_VIEW: dict[str, str] = {"grid": "&".join(
    [f"{REVEAL_PARAM}=1", *(f"{p.name}={p.choices[0]}" for p in GUESS)])}


@dataclass(frozen=True)
class StudyPage:
    study_id: str
    number: int
    title: str
    question: str
    path: str  # relative to the repository root, e.g. "pages/01_initialization.py"


def study_page(study_id: str) -> StudyPage:
    """Where and under what title the sidebar shows a study; ValueError for an unknown id."""
    s = catalog.get(study_id)
    return StudyPage(study_id, s.number, s.title, s.question, f"pages/{s.page}")


def url_path(study_id: str) -> str:
    """The study page's URL path (Streamlit's: the file name without its number and .py)."""
    return Path(study_page(study_id).path).stem.split("_", 1)[1]


def _groups() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for sid, s in catalog.STUDIES.items():
        out.setdefault(s.group, []).append(sid)
    return {g: tuple(ids) for g, ids in out.items()}


# the lab's own studies as the sidebar shows them (a study registered later, as a test does,
# has no page file and stays out of the sidebar); groups in the order of their first study
GROUPS: dict[str, tuple[str, ...]] = _groups()
FILES: dict[str, str] = {sid: s.page for sid, s in catalog.STUDIES.items()}


START_GROUP = "Start"
# (title, page file): the page right after Home in the sidebar
STORY: tuple[str, str] = ("The story of one network", "pages/story.py")
EXPLORE_GROUP = "Explore"
EXPLORE: tuple[tuple[str, str], ...] = (  # (title, page file): pages beside the studies
    ("Inside the network", "pages/11_internals.py"),
    ("Sandbox: train your own", "pages/12_sandbox.py"),
)


def grouped_pages() -> dict[str, list[StudyPage]]:
    """Group name -> its study pages, ordered by study number."""
    return {g: [study_page(i) for i in ids] for g, ids in GROUPS.items()}


def sidebar(home: Callable[[], None]) -> dict[str, list]:
    """Home.py's st.navigation argument: group -> st.Page objects (Home drawn by `home`).

    st.Page resolves and checks its file on the disk when made (a fourteenth of a page view's
    server time while a class opened the link, py-spy); the pages are the same for every
    session, so they are made once per process and each run gets copies (st.navigation and
    Page.run keep per-run state on the object, so sessions must not share one)."""
    return {group: [copy.copy(p) for p in pages] for group, pages in _sidebar(home).items()}


@memo.shared(max_entries=1)
def _sidebar(home: Callable[[], None]) -> dict[str, list]:
    import streamlit as st

    # a Material icon ships with Streamlit's own font; an emoji needs one on the student's machine
    pages = {START_GROUP: [
        st.Page(home, title="Home", icon=":material/home:", default=True),
        st.Page(STORY[1], title=STORY[0], icon=":material/auto_stories:")]}
    for group, items in grouped_pages().items():
        pages[group] = [st.Page(p.path, title=f"{p.number}. {p.title}") for p in items]
    pages[EXPLORE_GROUP] = [st.Page(path, title=title) for title, path in EXPLORE]
    return pages


def ensure_frame() -> None:
    """Run this page inside Home.py's frame (grouped sidebar, wide layout).

    A server process starts in Streamlit's older multipage mode because `pages/` exists: until
    some session has run Home.py's `st.navigation`, a study URL runs its file alone, with the
    bare file list as sidebar. That is what a student gets who opens a shared link first on a
    fresh (or woken) server. Leave that mode for the process and rerun: the rerun starts from
    Home.py, whose `st.navigation` picks this same page by its URL. Once per session at most,
    on its first page load, so no click is ever dropped by the rerun (AppTest starts every run
    in the older mode). Then settle the tab's class mode, as the frame does (a page run
    alone, as AppTest runs it, has not been through the frame).
    """
    import streamlit as st

    from lab.ui import classmode

    try:  # Streamlit internals (pinned in pyproject.toml); without them, draw the page as is
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:
        PagesManager = None
    if getattr(PagesManager, "uses_pages_directory", False) \
            and not st.session_state.get("_lab_framed"):
        st.session_state["_lab_framed"] = True
        PagesManager.uses_pages_directory = False  # what st.navigation itself sets
        st.rerun()
    classmode.sync()

