"""Hostile links: malformed, out-of-range, unicode, 10k-character, control-character,
markdown/HTML-looking and SQL-looking values at every page's URL parameters (plus unknown and
repeated ones). Every case renders without an exception, warns naming each refused known
parameter, shows the value inert, keeps the page's content, and never puts it into SQL.

Default suite: DEFAULT_EXAMPLES cases per page; `pytest -m slow` runs SLOW_EXAMPLES per page
(env HOSTILE_EXAMPLES overrides that number).
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path

import pytest
import streamlit as st
from conftest import FIXTURE_STEPS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs
from streamlit.testing.v1 import AppTest

import lab.studies
import lab.ui
from lab.data import memo
from lab.data.store import Store
from lab.studies.catalog import STUDIES
from lab.studies.grid import REVEAL
from lab.studies.story import MILESTONES
from lab.training.config import checkpoint_steps
from lab.ui import classmode, internals, retrain_panel, sandbox, story, urlstate
from lab.ui.nav import FILES, FULL_VIEW, STORY

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EXAMPLES, SLOW_EXAMPLES = 8, int(os.environ.get("HOSTILE_EXAMPLES", 500))
FAST = settings(max_examples=DEFAULT_EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SLOW = settings(FAST, max_examples=SLOW_EXAMPLES, derandomize=False)

def declared(study_id: str) -> tuple[urlstate.Param, ...]:
    """The URL parameters a study page reads: its study's table, the retrain form's and
    class mode's."""
    study = STUDIES[study_id]
    own_gate = study_id in FULL_VIEW  # the grid's own predict-first: no class-mode prediction
    return (*study.url_params, *retrain_panel.PARAMS, classmode.CLASS,
            *(() if own_gate else (classmode.predicted_param(study),)))


INTERNALS, SANDBOX = "pages/11_internals.py", "pages/12_sandbox.py"
EXPLORE_TITLES = {INTERNALS: "Inside the network", SANDBOX: "Sandbox: train your own",
                  STORY[1]: "The story of one network"}
PAGES: dict[str | None, tuple[urlstate.Param, ...]] = {
    None: (), **{f"pages/{name}": declared(sid) for sid, name in FILES.items()},
    # the internals page's arm, sentence and position depend on the study and sentence
    # picked: tests/test_internals.py covers them and typed text
    INTERNALS: (internals.STUDY, internals.SEED), SANDBOX: tuple(sandbox.PARAMS.values()),
    # the story's step is one of the stored checkpoints: the fixture's
    STORY[1]: (story.SEED, story.step_param(tuple(checkpoint_steps(FIXTURE_STEPS))),
               story.predicted_param(tuple(m.key for m in MILESTONES)), classmode.CLASS)}
KNOWN = {p.name for params in PAGES.values() for p in params}

NASTY = (
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "`", "```", "`x` **y** `",
    "[x](javascript:alert(1))", "![i](http://evil.example/x.png)", "**bold** _it_ ~~s~~",
    "'; DROP TABLE runs; --", "\" OR 1=1 --", "42'; DELETE FROM trainings; --", "$x^2$",
    ":red[alert]", "{{7*7}}", "${7*7}", "%00", "%27", "\x00", "\r\n\t", "\x1b[31mred",
    "\u202egnp.exe", "\u200b42", "😀", "４２", "٤٢", "1e400", "nan", "inf", "-inf", "-0",
    "0", "-1", "9" * 30, "2147483648", "4.2", " 42", "42\n", "", " ", "+", "1_000",
    "0x10", "None", "null", "all ", "ALL", "Tanh", "../../etc/passwd", "\\", "#", "&a=b",
)
TEXT = hs.text(hs.characters(exclude_categories=("Cs",)), max_size=60)
LONG = hs.sampled_from(("A", "`", "<script>", "\u202e", "é", "'; --")).map(
    lambda s: (s * 10_000)[:10_000])
VALUE = hs.one_of(hs.sampled_from(NASTY), TEXT, LONG,
                  hs.integers(-(2**70), 2**70).map(str),
                  hs.floats(allow_nan=True, allow_infinity=True).map(repr))
UNKNOWN_NAME = hs.one_of(hs.sampled_from(("foo", "<b>x</b>", "'; DROP TABLE runs; --",
                                          "page", "embed")), TEXT.filter(bool)).filter(
    lambda n: n not in KNOWN)


@hs.composite
def links(draw, params: tuple[urlstate.Param, ...]) -> dict[str, str | list[str]]:
    """A query: hostile (or valid) values for some known parameters, some unknown ones, and
    maybe a parameter given twice."""
    valid = {p.name: hs.sampled_from([str(c) for c in p.choices] or [str(p.default)])
             for p in params}
    query: dict[str, str | list[str]] = {}
    for p in params:
        if draw(hs.booleans()):
            query[p.name] = draw(hs.one_of(VALUE, VALUE, valid[p.name]))
    for name in draw(hs.lists(UNKNOWN_NAME, max_size=3, unique=True)):
        query[name] = draw(VALUE)
    if params and draw(hs.booleans()):  # repeated: st.query_params reads the last one
        p = draw(hs.sampled_from(params))
        query[p.name] = draw(hs.lists(hs.one_of(VALUE, valid[p.name]), min_size=2, max_size=3))
    return query


@pytest.fixture(scope="module", autouse=True)
def lab_db(fixture_db):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAB_DB", str(fixture_db))
        mp.setenv("LAB_RETRAIN_CACHE", str(fixture_db.parent / "retrain"))
        yield fixture_db


def render(page: str | None, query: dict) -> AppTest:
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=90)
    at.query_params.update(query)
    if page is not None:
        at.switch_page(page)
    return at.run()


def outside_code(md: str) -> str:
    """md without its inline code spans (CommonMark: a run of n backticks opens a span that
    the next run of exactly n closes; an unmatched run is literal text)."""
    runs = [m.span() for m in re.finditer(r"`+", md)]
    out, pos, i = [], 0, 0
    while i < len(runs):
        start, end = runs[i]
        close = next((j for j in range(i + 1, len(runs))
                      if runs[j][1] - runs[j][0] == end - start), None)
        if close is None:
            i += 1
            continue
        out.append(md[pos:start])
        pos, i = runs[close][1], close + 1
    return "".join(out) + md[pos:]


def assert_inert(warning: str) -> None:
    """A link warning quotes the value only inside code spans, printable, on one line."""
    assert warning.isprintable(), repr(warning)
    outside = outside_code(warning)
    assert outside.count("`") == 0, warning
    assert not re.search(r"[<>\[\]$*\\~]|javascript:|DROP TABLE|\{\{", outside), warning
    # a refused choice names at most params.SHOWN_CHOICES of the allowed values (counted
    # outside the quoted value: its 40 characters can take 6 each once escaped, e.g. \u202e)
    assert len(outside) < 400, warning


def _page_texts(at: AppTest) -> list[str]:
    kinds = ("markdown", "caption", "title", "header", "subheader", "info", "success",
             "error", "warning")
    return [str(e.value) for kind in kinds for e in at.get(kind)]


def check(page: str | None, query: dict) -> AppTest:
    at = render(page, query)
    assert not at.exception, (query, [e.value for e in at.exception])
    assert not at.error, (query, [e.value for e in at.error])
    link_warnings = [w.value for w in at.warning if w.value.startswith("Link parameter")]
    for w in link_warnings:
        assert_inert(w)
    for p in PAGES[page]:
        if p.name not in query:
            continue
        raw = query[p.name][-1] if isinstance(query[p.name], list) else query[p.name]
        try:
            p.parse(raw)
            refused = False
        except ValueError:
            refused = True
        named = [w for w in link_warnings if w.startswith(f"Link parameter `{p.name}=")]
        assert len(named) == int(refused), (p.name, raw, link_warnings)
        if refused:  # the refused value is dropped from the address, not carried on
            assert p.name not in at.query_params, (p.name, at.query_params)
    for text in _page_texts(at):  # no hostile markup anywhere outside code spans
        assert not re.search(r"<script|<img|javascript:|DROP TABLE", outside_code(text)), text
    # the page's content is still there
    if page is None:
        assert at.title[0].value == "RNN Experiments Lab"
        assert len(at.get("page_link")) == len(FILES) + 1  # the studies and the story
    elif page in EXPLORE_TITLES:
        assert at.title[0].value == EXPLORE_TITLES[page]
    else:
        assert at.title[0].value.split(".")[0].isdigit()
        subheaders = {s.value for s in at.subheader}
        if at.query_params.get(classmode.CLASS.name) == "1" \
                and not at.query_params.get("predicted"):
            assert "Your prediction" in subheaders and "Verdict" not in subheaders
            return at  # class mode holds the results back until a prediction
        if REVEAL in PAGES[page] and at.query_params.get(REVEAL.name) != "1":
            assert "Predict first" in subheaders and "Verdict" not in subheaders, subheaders
            return at  # the grid holds its results back until a guess is committed
        assert {"Verdict", "Retrain now", "Download the data"} <= subheaders, subheaders
        assert at.get("vega_lite_chart")
    return at


def _property(page: str | None, profile: settings):
    @profile
    @given(query=links(PAGES[page]))
    def run(query):
        check(page, query)
    return run


@pytest.mark.parametrize("page", list(PAGES), ids=lambda p: Path(p or "Home").stem)
def test_hostile_links_render_with_clear_warnings(page):
    _property(page, FAST)()


@pytest.mark.slow
@pytest.mark.parametrize("page", list(PAGES), ids=lambda p: Path(p or "Home").stem)
def test_hostile_links_render_with_clear_warnings_long(page):
    _property(page, SLOW)()


def test_every_declared_parameter_is_covered():
    """Every Param table in lab/ui and lab/studies belongs to some page's hostile cases."""
    tables = set()
    paths = [(p, package) for package in (lab.ui, lab.studies)
             for p in Path(package.__file__).parent.glob("*.py")]
    for path, package in paths:
        module = __import__(f"{package.__name__}.{path.stem}", fromlist=["_"])
        for value in vars(module).values():
            items = value if isinstance(value, tuple) else (value,)
            tables |= {p for p in items if isinstance(p, urlstate.Param)}
    covered = {p for params in PAGES.values() for p in params}
    assert tables and tables <= covered, tables - covered


def test_a_warning_shows_backticks_html_and_links_inert():
    value = "`]` <script>alert(1)</script> [x](javascript:alert(1)) **b**\n# h"
    at = check("pages/01_initialization.py", {"seed": value, "arm": value, "steps": value})
    warnings = [w.value for w in at.warning if w.value.startswith("Link parameter")]
    assert len(warnings) == 3
    for w in warnings:
        assert_inert(w)
        code = re.findall(r"`([^`]*)`", w)
        assert any("\\x60]\\x60 <script>" in c for c in code), w  # shown, escaped, in code


def test_a_10k_value_is_truncated_in_its_warning():
    at = check("pages/04_activation.py", {"steps": "9" * 10_000, "arm": "<" * 10_000})
    warnings = [w.value for w in at.warning if w.value.startswith("Link parameter")]
    assert len(warnings) == 2 and all(len(w) < 300 and "..." in w for w in warnings), warnings


SQL_MARK = "ZQ'; DROP TABLE runs; --"


@contextmanager
def _recording_sql(monkeypatch, log: list):
    """Store cursors that log every (sql, params) they execute."""
    real = Store._cursor

    class Recorder:
        def __init__(self, cur):
            self._cur = cur

        def __getattr__(self, name):
            return getattr(self._cur, name)

        def execute(self, sql, params=None):
            log.append((sql, params))
            return self._cur.execute(sql, params or [])

        def executemany(self, sql, params=None):
            log.append((sql, params))
            return self._cur.executemany(sql, params or [])

    @contextmanager
    def recording(self):
        with real(self) as cur:
            yield Recorder(cur)

    monkeypatch.setattr(Store, "_cursor", recording)
    st.cache_data.clear()
    st.cache_resource.clear()
    memo.clear_all()  # every query runs afresh, through the recorder
    try:
        yield
    finally:
        st.cache_data.clear()
        st.cache_resource.clear()
        memo.clear_all()


@pytest.mark.parametrize("page", [None, "pages/01_initialization.py",
                                  "pages/08_novel_word.py", "pages/10_design_grid.py"],
                         ids=["Home", "initialization", "novel_word", "grid"])
def test_hostile_values_never_reach_sql_text(monkeypatch, page):
    """Whatever the link holds, SQL text is fixed: values travel as bound parameters only."""
    query = {p.name: f"{SQL_MARK}{p.name}" for p in PAGES[page]}
    query["x' OR '1'='1"] = SQL_MARK
    log: list = []
    with _recording_sql(monkeypatch, log):
        check(page, query)
    assert log, "the recorder saw no SQL: the page read nothing from the store"
    for sql, _params in log:
        assert "ZQ" not in sql and "DROP" not in sql.upper(), sql


def test_no_page_renders_raw_html():
    """No lab/ui code draws raw HTML, so a URL value can never become markup."""
    ui = [*Path(lab.ui.__file__).parent.glob("*.py"), ROOT / "Home.py",
          *(ROOT / "pages").glob("*.py")]
    for path in ui:
        source = path.read_text()
        assert "unsafe_allow_html=True" not in source, path
        assert "st.html(" not in source and "components.html" not in source, path

