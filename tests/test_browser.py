"""The app in a real browser: a Streamlit server on the fixture database, driven by Chromium.

Every page renders its charts (canvas or svg drawn) and its verdict with no exception; a
changed control lands in the URL and a reload of that URL shows the same value; "retrain
now" runs to its finished state. Skipped when playwright or a chromium is missing.
"""

from __future__ import annotations

import re

import pytest
from conftest import FIXTURE_STEPS

from lab.appserver import AppServer, chromium_path, launch_chromium, wait_home, wait_study
from lab.studies import catalog, glossary
from lab.training.config import checkpoint_steps
from lab.ui import nav

sync_api = pytest.importorskip("playwright.sync_api",
                               reason="playwright is not installed (pip install -e '.[test]')")
if chromium_path() is None:
    pytest.skip("no chromium executable (apt-get install chromium)", allow_module_level=True)

pytestmark = pytest.mark.browser

RENDER_MS = 60_000  # a page's charts and verdict, on a loaded 2-core machine
RETRAIN_MS = 240_000
RETRAIN_STEPS = 20
WORD_PICKER = 'Noun to replace with "zog"'
CHART_DRAWN = '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg'
CHARTS_DRAWN_JS = """() => [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
    .every(c => c.querySelector('canvas, svg'))
    && document.querySelectorAll('[data-testid="stVegaLiteChart"]').length > 0"""


@pytest.fixture(scope="module")
def app_url(fixture_db, tmp_path_factory):
    """Base URL of a server running Home.py on the fixture database."""
    env = {"LAB_DB": str(fixture_db),
           "LAB_RETRAIN_CACHE": str(tmp_path_factory.mktemp("retrain-cache"))}
    server = AppServer(env, log_path=tmp_path_factory.mktemp("server") / "streamlit.log")
    server.start(timeout=90)
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


def new_page(browser):
    """A page in a fresh context (its own cookies: a new Streamlit session)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(RENDER_MS)
    return context.new_page()


@pytest.fixture
def page(browser):
    p = new_page(browser)
    yield p
    p.context.close()


@pytest.fixture(scope="module")
def sidebar_links(app_url, browser) -> dict[str, str]:
    """Sidebar link text -> href, read from Home (once st.navigation has drawn its groups:
    before that, Streamlit lists the bare pages/ files)."""
    p = new_page(browser)
    p.goto(app_url)
    p.locator('[data-testid="stNavSectionHeader"]').first.wait_for()
    links = p.locator('[data-testid="stSidebarNav"] a')
    found = {links.nth(i).inner_text().strip(): links.nth(i).get_attribute("href")
             for i in range(links.count())}
    p.context.close()
    return found


def study_url(sidebar_links, study_id: str) -> str:
    """The href of the study's sidebar link (its title as st.navigation shows it)."""
    sp = nav.study_page(study_id)
    return sidebar_links[f"{sp.number}. {sp.title}"]


def assert_no_error(page) -> None:
    errors = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    assert errors.count() == 0, errors.all_inner_texts()


# what reads like a template leak in prose: a doubled word, a Python None or nan, a
# snake_case identifier, a negative zero
LEAKS = {"doubled word": re.compile(r"\b([A-Za-z]{2,})\s+\1\b", re.IGNORECASE),
         "None": re.compile(r"\bNone\b"), "nan": re.compile(r"\bnan\b"),
         "snake_case": re.compile(r"\b[a-z]{2,}_[a-z]{2,}\w*"),
         "negative zero": re.compile(r"-0\.0+(?![0-9])"),
         "missing value as a number": re.compile(r"\b(?:at|to) (?:failed|not stored)\b")}
# the page's prose: text of the main area, hidden expanders included, without code blocks
# (model samples), dataframes (canvas) or charts (their tooltips carry raw field names)
_PROSE = """() => {
    const main = document.querySelector('[data-testid="stMain"]').cloneNode(true);
    main.querySelectorAll('pre, code, [data-testid="stCode"], [data-testid="stVegaLiteChart"],'
        + '[data-testid="stDataFrame"], [data-testid="stTooltipContent"],'
        + '[data-testid="stIconMaterial"], [data-testid="stExpanderIcon"]')
        .forEach(e => e.remove());
    const walk = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
    const parts = [];
    while (walk.nextNode()) parts.push(walk.currentNode.nodeValue);
    return parts.join(" ");
}"""


ALLOWED = {"seq_len"}  # a knob's own name, as every arm label writes it


def assert_no_template_leak(page) -> None:
    text = page.evaluate(_PROSE)
    found = {name: hits for name, rx in LEAKS.items()
             if (hits := sorted({text[max(0, m.start() - 60):m.end() + 30]
                                 for m in rx.finditer(text) if m.group(0) not in ALLOWED}))}
    assert not found, found


def test_leak_patterns_catch_what_they_name():
    bad = ("closest to the the category; None; nan; curve_mean_loss; -0.000; ended at failed "
           "to not stored", )
    for name, rx in LEAKS.items():
        assert rx.search(bad[0]), name
    assert not any(rx.search("the cat that the dogs chase runs. W_hh at 0.003, h_t, lr=0.1 1.4")
                   for rx in LEAKS.values())


def test_home_renders_and_links_every_study(app_url, page, sidebar_links):
    page.goto(app_url)
    wait_home(page)
    page.get_by_text("nats per character").first.wait_for()
    assert_no_error(page)
    assert_no_template_leak(page)
    titles = {f"{p.number}. {p.title}" for ps in nav.grouped_pages().values() for p in ps}
    assert titles <= set(sidebar_links), sorted(titles - set(sidebar_links))
    assert page.locator('[data-testid="stPageLink"]').count() == len(titles) + 1  # + the story
    # the story right after Home (a link's text starts with its icon's name)
    assert [t.split("\n")[-1] for t in list(sidebar_links)[:2]] == ["Home", nav.STORY[0]]
    assert_fits_a_phone(page, "home")


@pytest.mark.parametrize("study_id", list(nav.FILES))
def test_study_page_shows_charts_and_verdict(page, sidebar_links, study_id):
    """Every study page draws its charts and verdict, and then fits a phone's width."""
    sp = nav.study_page(study_id)
    full = nav.FULL_VIEW.get(study_id)  # the grid shows its results after a committed guess
    page.goto(study_url(sidebar_links, study_id) + (f"?{full}" if full else ""))
    page.get_by_role("heading", name=f"{sp.number}. {sp.title}").wait_for()
    wait_study(page)
    assert page.locator(CHART_DRAWN).count() >= 1
    page.get_by_role("heading", name="Retrain now").wait_for()
    assert_no_error(page)
    assert_no_template_leak(page)
    assert_fits_a_phone(page, study_id)


def test_a_shared_link_opened_first_on_a_fresh_server_gets_the_whole_frame(
        fixture_db, browser, tmp_path):
    """The first request a server sees is a study link (a cold or woken Community Cloud app):
    the page still comes up in Home.py's frame (grouped sidebar), with the link's seed."""
    server = AppServer({"LAB_DB": str(fixture_db)}, log_path=tmp_path / "streamlit.log")
    server.start(timeout=90)
    page = new_page(browser)
    try:
        page.goto(f"{server.url}/initialization?seed=44")
        page.locator('[data-testid="stNavSectionHeader"]').first.wait_for()
        wait_study(page)
        chosen = page.locator('[data-testid="stButtonGroup"] button[aria-checked="true"], '
                              '[data-testid="stButtonGroup"] button[aria-pressed="true"]')
        sync_api.expect(chosen).to_have_text(["44"])
        sync_api.expect(page.locator('[data-testid="stSidebarNav"] a').filter(
            has_text="1. Initialization of W_hh")).to_have_count(1)
        assert_no_error(page)
    finally:
        page.context.close()
        server.stop()


def test_seed_choice_goes_to_the_url_and_a_reload_keeps_it(sidebar_links, browser, page):
    page.goto(study_url(sidebar_links, "initialization"))
    wait_study(page)
    page.locator('[data-testid="stButtonGroup"] button').filter(has_text="44").click()
    page.wait_for_url(re.compile(r"[?&]seed=44\b"))
    shared = new_page(browser)  # a student opening the shared link
    shared.goto(page.url)
    wait_study(shared)
    chosen = shared.locator('[data-testid="stButtonGroup"] button[aria-checked="true"], '
                            '[data-testid="stButtonGroup"] button[aria-pressed="true"]')
    sync_api.expect(chosen).to_have_text(["44"])  # polls: the view settles after a rerun
    assert_no_error(shared)
    shared.context.close()


def test_novel_word_choice_goes_to_the_url_and_a_reload_keeps_it(sidebar_links, browser, page):
    page.goto(study_url(sidebar_links, "novel_word"))
    wait_study(page)
    page.get_by_role("combobox", name=WORD_PICKER).click()
    page.keyboard.type("lion")  # the list is virtualised: only options near the default drawn
    page.get_by_role("option", name=re.compile(r"^lion \(")).click()
    page.wait_for_url(re.compile(r"[?&]word=lion\b"))
    shared = new_page(browser)
    shared.goto(page.url)
    wait_study(shared)
    box = shared.get_by_role("combobox", name=WORD_PICKER)
    sync_api.expect(box).to_have_value(re.compile(r"^lion \("))
    assert_no_error(shared)
    shared.context.close()


def test_retrain_now_runs_to_the_finished_state(sidebar_links, page):
    page.goto(f"{study_url(sidebar_links, 'reservoir')}?steps={RETRAIN_STEPS}")
    wait_study(page)
    steps = page.locator('[data-testid="stNumberInput"]').filter(has_text="Training steps")
    sync_api.expect(steps.locator("input")).to_have_value(str(RETRAIN_STEPS))
    page.get_by_role("button", name="Retrain now").click()
    page.get_by_text("Retrain finished").wait_for(timeout=RETRAIN_MS)
    page.locator("table.lab-table").filter(has_text="matches stored").last.wait_for()
    assert_no_error(page)


def test_a_legend_click_highlights_the_arm_in_the_selector_and_the_url(sidebar_links, page):
    """The legend and the selector are one state: clicking an arm in a chart's legend puts
    it in the URL and the selector."""
    page.goto(study_url(sidebar_links, "tbptt"))
    wait_study(page)
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    chart.locator("canvas, svg").first.wait_for()
    # the legend (below the plot) draws each arm's label as SVG text: click seq_len=10's
    chart.locator(".role-legend-label text", has_text="seq_len=10").first.click()
    page.wait_for_function("() => /[?&]arm=/.test(window.location.search)", timeout=RENDER_MS)
    picked = page.evaluate("() => new URLSearchParams(window.location.search).get('arm')")
    assert picked == "10" and picked in {a.key for a in catalog.get("tbptt").arms}
    sync_api.expect(page.get_by_role("combobox", name="Highlight an arm")).to_have_value(
        f"seq_len={picked}")
    assert_no_error(page)


def test_class_mode_opens_the_results_after_a_committed_prediction(sidebar_links, page):
    page.goto(study_url(sidebar_links, "tbptt") + "?class=1")
    page.get_by_role("heading", name="Your prediction").wait_for()
    assert page.get_by_role("heading", name="Verdict").count() == 0
    assert page.locator('[data-testid="stVegaLiteChart"]').count() == 0
    page.get_by_text("seq_len=50", exact=True).click()
    page.get_by_role("button", name="Commit my prediction").click()
    wait_study(page)
    page.wait_for_function("() => /[?&]predicted=50/.test(window.location.search)")
    page.get_by_text("You predicted").first.wait_for()
    assert_no_error(page)
    assert_no_template_leak(page)


def test_class_mode_holds_across_the_sidebar_home_and_its_cards(sidebar_links, page):
    """A tab in class mode stays in it: the sidebar's next study and Home's card open gated,
    with class=1 in their address, until a link says class=0."""
    def gated(url_path: str) -> None:
        page.wait_for_url(re.compile(rf"/{url_path}\?(.*&)?class=1(&|$)"))
        page.get_by_role("heading", name="Your prediction").wait_for()
        assert page.get_by_role("heading", name="Verdict").count() == 0
        shown = glossary.explain_first(catalog.get(url_path).hypothesis, set())
        assert page.get_by_text(shown[:60]).count() == 0

    page.goto(study_url(sidebar_links, "tbptt") + "?class=1")
    gated("tbptt")
    hidden = nav.study_page("hidden_size")
    page.locator('[data-testid="stSidebarNav"] a').filter(
        has_text=f"{hidden.number}. {hidden.title}").click()
    gated("hidden_size")
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text="Home").click()
    page.wait_for_url(re.compile(r"\?(.*&)?class=1(&|$)"))
    tbptt = nav.study_page("tbptt")
    page.locator('[data-testid="stPageLink"] a').filter(
        has_text=f"{tbptt.number}. {tbptt.title}").click()
    gated("tbptt")
    page.goto(study_url(sidebar_links, "tbptt") + "?class=0")  # the instructor says otherwise
    wait_study(page)
    page.locator('[data-testid="stSidebarNav"] a').filter(
        has_text=f"{hidden.number}. {hidden.title}").click()
    wait_study(page)
    assert "class=" not in page.url
    assert_no_error(page)


def test_internals_page_reads_a_typed_sentence(sidebar_links, page):
    page.goto(sidebar_links["Inside the network"] + "?study=tbptt&arm=50&seed=43")
    page.get_by_role("heading", name="How far back does one character's loss reach?").wait_for()
    page.wait_for_function(CHARTS_DRAWN_JS)
    assert_no_error(page)
    assert_no_template_leak(page)
    box = page.get_by_label("... or type your own (unknown words such as zog are fine)")
    box.fill("the zogs that the cat sees run")
    box.press("Enter")
    page.wait_for_function("() => /[?&]text=/.test(window.location.search)")
    page.get_by_role("heading", name="How far back does one character's loss reach?").wait_for()
    page.wait_for_function(CHARTS_DRAWN_JS)
    assert page.get_by_text("The typed sentence").count() == 0  # read, not refused
    sync_api.expect(box).to_have_value("the zogs that the cat sees run")
    assert_no_error(page)
    assert_fits_a_phone(page, "Inside the network")


def test_sandbox_trains_from_its_link(sidebar_links, page):
    page.goto(sidebar_links["Sandbox: train your own"] + f"?steps={RETRAIN_STEPS}&hidden=16")
    page.get_by_role("button", name="Train it").wait_for()
    assert_fits_a_phone(page, "the sandbox's form")
    page.get_by_role("button", name="Train it").click()
    page.get_by_text("Trained in").wait_for(timeout=RETRAIN_MS)
    page.get_by_role("heading", name="Agreement accuracy by distance to the subject").wait_for()
    page.wait_for_function(CHARTS_DRAWN_JS)
    assert_no_error(page)
    assert_no_template_leak(page)


PHONE = 390  # px: the narrowest phone a class uses
# every element of the page that scrolls sideways (a table or chart wider than its box: the
# arms to compare off screen), or that runs past the screen's right edge
SIDEWAYS_JS = """() => {
  const W = document.documentElement.clientWidth;
  const main = document.querySelector('[data-testid="stMain"]');
  const out = [];
  const name = e => String(e.getAttribute('data-testid') || e.className || e.tagName).slice(0, 40);
  for (const e of main.querySelectorAll('*')) {
    const r = e.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    const ox = getComputedStyle(e).overflowX;
    if ((ox === 'auto' || ox === 'scroll') && e.scrollWidth > e.clientWidth + 1)
      out.push(`${name(e)} scrolls sideways (${e.scrollWidth} > ${e.clientWidth} px): `
               + (e.innerText || '').slice(0, 50));
    if (e.matches('table, canvas, svg, [data-testid="stVegaLiteChart"], code, '
                  + '[data-testid="stDataFrame"]') && r.right > W + 1)
      out.push(`${name(e)} runs past the edge (${Math.round(r.right)} > ${W} px): `
               + (e.innerText || '').slice(0, 50));
  }
  if (main.scrollWidth > main.clientWidth + 1) out.push('the page scrolls sideways');
  return [...new Set(out)];
}"""


def test_sideways_check_catches_a_wide_table(app_url, browser):
    """The check below can fail: a st.dataframe-like box wider than a phone is reported."""
    p = browser.new_page(viewport={"width": PHONE, "height": 900})
    p.goto(app_url)
    wait_home(p)
    p.evaluate("""() => { const d = document.createElement('div');
        d.style.overflowX = 'auto'; d.innerHTML = '<div style="width:900px">wide</div>';
        document.querySelector('[data-testid="stMain"] h1').after(d); }""")
    assert any("scrolls sideways" in x for x in p.evaluate(SIDEWAYS_JS))
    with pytest.raises(AssertionError, match="scrolls sideways"):
        assert_fits_a_phone(p, "home with a wide box")
    p.close()


# the layout after expanders open: every expander open, every chart drawn, and the widths
# of the main area's tables, charts and code unchanged over three polls (100 ms apart)
_SETTLED = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  if (main.querySelector('[data-testid="stExpander"] details:not([open])')) return false;
  const charts = [...main.querySelectorAll('[data-testid="stVegaLiteChart"]')];
  if (!charts.every(c => c.querySelector('canvas, svg'))) return false;
  const sig = [main.scrollWidth, ...[...main.querySelectorAll(
      'table, canvas, svg, [data-testid="stVegaLiteChart"], [data-testid="stDataFrame"], code')]
    .map(e => `${Math.round(e.getBoundingClientRect().right)}/${e.scrollWidth}`)].join(' ');
  const last = window.__labLayout || {};
  window.__labLayout = {sig, same: sig === last.sig ? (last.same || 0) + 1 : 0};
  return window.__labLayout.same >= 3;
}"""


def assert_fits_a_phone(page, where: str) -> None:
    """At PHONE px, with every expander open (answers, seed spread, the page's words), no
    table or chart is wider than the screen (issue 24 item 5). The page is resized where it
    stands: Streamlit lays it out as one loaded at that width (the same widths, sidebar
    and main area, checked on every page on 2026-12-07), without a second page load."""
    page.set_viewport_size({"width": PHONE, "height": 900})
    closed = page.locator(
        '[data-testid="stMain"] [data-testid="stExpander"] details:not([open]) summary')
    for _ in range(closed.count()):  # each click opens one: the next closed is first
        closed.first.click()
    page.wait_for_function(_SETTLED, polling=100)  # expanded content laid out
    assert_no_error(page)
    wide = page.evaluate(SIDEWAYS_JS)
    assert not wide, (where, wide)


STORY_PLAY_MS = 60_000  # two checkpoints, one every 1.5 s, on a loaded machine


def wait_story(page) -> None:
    """Wait until the story page shows its milestones and every chart has drawn."""
    page.get_by_role("heading", name="Milestones, found in the runs").wait_for()
    page.wait_for_function(CHARTS_DRAWN_JS, polling="raf")


def story_step(page) -> str:
    return page.locator('[data-testid="stSliderThumbValue"]').first.inner_text().strip()


def test_story_plays_through_the_checkpoints_and_its_link_reopens_the_step(
        sidebar_links, browser, page):
    """Play from two checkpoints before the end (every tick takes 1.5 s: all 11 of the
    fixture's took 15 s): a tick moves the step and its address, play goes on to the last
    checkpoint and stops there by itself, and the link then reopens that step and seed."""
    story = next(h for t, h in sidebar_links.items() if t.endswith(nav.STORY[0]))
    assert story.endswith("/story")
    *_, start, after, last = checkpoint_steps(FIXTURE_STEPS)
    page.goto(story + f"?seed=43&step={start}")
    wait_story(page)
    assert_no_error(page)
    # the page's prose, without the network's own sample (babble repeats words by chance)
    page.evaluate("""() => document.querySelectorAll('.st-key-story_sample')
        .forEach(e => e.remove())""")
    assert_no_template_leak(page)
    assert story_step(page) == f"{start:,}"
    page.get_by_role("button", name=re.compile("Play")).click()
    page.get_by_role("button", name=re.compile("Pause")).wait_for()
    page.wait_for_url(re.compile(rf"[?&]step={after}\b"))  # a tick moved the step: in the URL
    sync_api.expect(page.locator('[data-testid="stSliderThumbValue"]').first).not_to_have_text(
        f"{start:,}")
    # at the last checkpoint play stops by itself and the button offers Play again
    page.get_by_role("button", name=re.compile("Play")).wait_for(timeout=STORY_PLAY_MS)
    shown = story_step(page)
    assert shown == f"{last:,}"
    assert re.search(rf"[?&]step={last}\b", page.url), (shown, page.url)
    shared = new_page(browser)  # a student opening the shared link
    shared.goto(page.url)
    wait_story(shared)
    sync_api.expect(shared.locator('[data-testid="stSliderThumbValue"]').first).to_have_text(
        shown)
    chosen = shared.locator('[data-testid="stButtonGroup"] button[aria-checked="true"], '
                            '[data-testid="stButtonGroup"] button[aria-pressed="true"]')
    sync_api.expect(chosen).to_have_text(["43"])
    assert_no_error(shared)
    shared.context.close()
