"""The app's pages: which file shows which study, in which sidebar group, under what title."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lab.studies.arms import STUDY_IDS

ROOT = Path(__file__).resolve().parent.parent.parent

GROUPS: dict[str, tuple[str, ...]] = {  # in study order, so the sidebar counts 1 to 10
    "Memory and gradients": ("initialization", "hidden_size", "tbptt"),
    "Stability": ("activation", "clipping"),
    "Training signal": ("teacher_forcing",),
    "Representations": ("reservoir", "novel_word"),
    "Tuning": ("learning_rate", "grid"),
}
FILES: dict[str, str] = {
    "initialization": "01_initialization.py", "hidden_size": "02_hidden_size.py",
    "tbptt": "03_tbptt.py", "activation": "04_activation.py", "clipping": "05_clipping.py",
    "teacher_forcing": "06_teacher_forcing.py", "reservoir": "07_reservoir.py",
    "novel_word": "08_novel_word.py", "learning_rate": "09_learning_rate.py",
    "grid": "10_design_grid.py",
}

# The grid's predict-first exercise holds the page's results back until the student commits a
# guess; this URL parameter records the commit. FULL_VIEW: the query that shows a whole page.
REVEAL_PARAM = "revealed"
FULL_VIEW: dict[str, str] = {"grid": f"{REVEAL_PARAM}=1"}


@dataclass(frozen=True)
class StudyPage:
    study_id: str
    number: int
    title: str
    question: str
    path: str  # relative to the repository root, e.g. "pages/01_initialization.py"


def study(study_id: str):
    """The study's registry entry (lab.studies.catalog), or None while that module is missing."""
    try:
        from lab.studies import catalog as studies
    except ImportError:
        return None
    return studies.get(study_id)


def study_page(study_id: str) -> StudyPage:
    s = study(study_id)
    number = s.number if s else STUDY_IDS.index(study_id) + 1
    title = s.title if s else study_id.replace("_", " ").capitalize()
    question = s.question if s else ""
    return StudyPage(study_id, number, title, question, f"pages/{FILES[study_id]}")


def grouped_pages() -> dict[str, list[StudyPage]]:
    """Group name -> its study pages, ordered by study number."""
    return {g: sorted((study_page(i) for i in ids), key=lambda p: p.number)
            for g, ids in GROUPS.items()}


def ensure_frame() -> None:
    """Run this page inside Home.py's frame (grouped sidebar, wide layout).

    A server process starts in Streamlit's older multipage mode because `pages/` exists: until
    some session has run Home.py's `st.navigation`, a study URL runs its file alone, with the
    bare file list as sidebar. That is what a student gets who opens a shared link first on a
    fresh (or woken) server. Leave that mode for the process and rerun: the rerun starts from
    Home.py, whose `st.navigation` picks this same page by its URL. Once per session at most,
    on its first page load, so no click is ever dropped by the rerun (AppTest starts every run
    in the older mode).
    """
    import streamlit as st

    try:  # Streamlit internals (pinned in pyproject.toml); without them, draw the page as is
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:
        return
    if getattr(PagesManager, "uses_pages_directory", False) \
            and not st.session_state.get("_lab_framed"):
        st.session_state["_lab_framed"] = True
        PagesManager.uses_pages_directory = False  # what st.navigation itself sets
        st.rerun()

