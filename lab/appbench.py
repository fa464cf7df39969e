"""Benchmark of the app as students meet it: a real server driven by a real browser.

`python -m lab.appbench [--db PATH] [--quick]` starts `streamlit run Home.py`
(lab/appserver.py) and measures with Playwright and the system Chromium:
- cold start: launching the server -> Home fully drawn in the browser (health time apart);
- warm render of each page, two ways, each the median of 3 visits after one warm-up visit:
  a full load (open its link in the tab: the browser loads the app, opens a websocket and
  a session) and an in-app navigation (from Home, the browser's back button to the page,
  query included: the app is loaded and the session open, as when a student moves between
  pages); timed until the page is drawn, as the page itself sees it on every animation
  frame (lab/appserver.py: its script finished, no element waiting for its code, the
  verdict visible, every chart drawn; Home: its last section and its chart);
- the server's resident memory (VmRSS, children included) after visiting every page, and
  with 5 browser sessions open on different pages;
- every study page's retrain, one study after another, full length (30,000 steps, the
  default seed) with an emptied retrain cache each time: click -> first progress on the page,
  click -> "Retrain finished"; the slowest as `retrain_slowest_study_s: N`; the first study
  page's render 3 s into the second study's retrain, by another student in another browser
  context, timed as its idle renders are (warmed, then medians of full loads and in-app
  navigations), against them;
  the server's memory after the retrains.
`--quick` is a smoke run: Home and two study pages, one timed visit, 100-step retrains.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from lab.appserver import AppServer, launch_chromium, wait_home, wait_study
from lab.data.store import DEFAULT_DB

SESSIONS = 5  # browser sessions open at once for the memory reading
RETRAIN_STEPS = 30_000  # a full-length run, as stored
SETTLE_MS = 3000  # after a retrain's first progress, before timing another page's render
TIMEOUT_MS = 120_000
RETRAIN_TIMEOUT_MS = 1_800_000


def study_paths() -> dict[str, str]:
    """Page name -> URL path: '' for Home, then each study page in study order."""
    from lab.ui import nav  # imports the study registry only, not streamlit
    pages = sorted((p for ps in nav.grouped_pages().values() for p in ps),
                   key=lambda p: p.number)
    # streamlit's URL path of a page file: its name without the number prefix and .py
    def path(p) -> str:  # the whole page: the grid's results wait for a committed guess
        query = nav.FULL_VIEW.get(p.study_id)
        return nav.url_path(p.study_id) + (f"?{query}" if query else "")

    return {"Home": "", **{p.study_id: path(p) for p in pages}}


def visit(page, base: str, path: str, name: str) -> float:
    """Seconds from opening the page's link to the page fully drawn."""
    started = time.perf_counter()
    page.goto(f"{base}/{path}")
    (wait_home if name == "Home" else wait_study)(page, TIMEOUT_MS)
    return time.perf_counter() - started


def cold_start(server: AppServer, browser) -> tuple[float, float]:
    """(seconds to /_stcore/health ok, seconds to Home drawn), both from the launch."""
    server.start(timeout=TIMEOUT_MS / 1000)
    healthy = time.perf_counter() - server.started_at
    page = browser.new_page()
    page.goto(server.url)
    wait_home(page, TIMEOUT_MS)
    drawn = time.perf_counter() - server.started_at
    page.context.close()
    return healthy, drawn


def warm_renders(server: AppServer, browser, paths: dict[str, str],
                 visits: int) -> tuple[dict, dict]:
    """({page name: median seconds of a full load}, {page name: median seconds of an in-app
    navigation back to it from Home}), each over `visits` visits after a warm-up visit."""
    page = browser.new_page()
    full, in_app = {}, {}
    for name, path in paths.items():
        visit(page, server.url, path, name)  # warm-up: fills the server's caches
        full[name] = statistics.median(visit(page, server.url, path, name)
                                       for _ in range(visits))
        if name != "Home":
            in_app[name] = statistics.median(back_to(page) for _ in range(visits))
    page.context.close()
    return full, in_app


def back_to(page) -> float:
    """Seconds from the back button to the page drawn again, from Home reached in-app."""
    page.locator('[data-testid="stSidebarNav"] a[href$="/"]').first.click()
    wait_home(page, TIMEOUT_MS)
    started = time.perf_counter()
    page.evaluate("history.back()")
    page.get_by_role("heading", name="Verdict").wait_for(timeout=TIMEOUT_MS)  # the new page
    wait_study(page, TIMEOUT_MS)
    return time.perf_counter() - started


def sessions_rss(server: AppServer, browser, paths: dict[str, str]) -> float:
    """Server RSS (MB) with SESSIONS browser sessions open, each on a different page."""
    names = [n for n in paths if n != "Home"] or ["Home"]
    contexts = []
    for i in range(SESSIONS):
        name = names[i % len(names)]
        page = browser.new_context().new_page()
        contexts.append(page.context)
        visit(page, server.url, paths[name], name)
    rss = server.rss_mb()
    for c in contexts:
        c.close()
    return rss


def _query(path: str, param: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}{param}"


# the retrain panel's own status lines, matched from their start: a bare substring such as
# "Training:" also matches answers in collapsed expanders ("Gradient after training: ..."),
# which never become visible, and the wait would hang
STARTED = re.compile(r"^(Training: \d+%|Training done|Queued: place|Retrain finished \()")
FINISHED = re.compile(r"^Retrain finished \(")


def status(page, pattern: re.Pattern):
    """The visible alert or progress text of the retrain panel that matches pattern."""
    return page.locator('[data-testid="stAlert"], [data-testid="stProgress"]').filter(
        has_text=pattern)


def retrain(server: AppServer, browser, paths: dict[str, str], study: str, steps: int,
            other: str | None = None, visits: int = 1) -> dict[str, float]:
    """Seconds from the click to the first progress (or queue note) and to "Retrain
    finished"; with `other`, that page's render while the retrain runs, timed as the idle
    renders are (warm_renders: one warm-up visit, then the median of `visits` full loads and
    of `visits` in-app navigations), by another student in another browser context."""
    student = None
    if other:  # warmed before the click, as the idle renders were: a fresh context would
        student = browser.new_context().new_page()  # time its download of the app's scripts
        visit(student, server.url, paths[other], other)
    page = browser.new_page()
    visit(page, server.url, _query(paths[study], f"steps={steps}"), study)
    started = time.perf_counter()
    page.get_by_role("button", name="Retrain now").click()
    status(page, STARTED).first.wait_for(timeout=RETRAIN_TIMEOUT_MS)
    out = {"first": time.perf_counter() - started}
    if student:
        page.wait_for_timeout(SETTLE_MS)  # into the training proper
        out["full_during"] = statistics.median(visit(student, server.url, paths[other], other)
                                               for _ in range(visits))
        out["in_app_during"] = statistics.median(back_to(student) for _ in range(visits))
        out["busy"] = status(page, FINISHED).count() == 0
        student.context.close()
    status(page, FINISHED).first.wait_for(timeout=RETRAIN_TIMEOUT_MS)
    out["done"] = time.perf_counter() - started
    page.context.close()
    return out


def retrain_every_study(server: AppServer, browser, paths: dict[str, str], cache: Path,
                        steps: int, idle: tuple[dict, dict],
                        visits: int) -> list[tuple[str, str]]:
    """Each study page's retrain in turn, each from an empty cache (studies share configs);
    idle is warm_renders()'s (full loads, in-app navigations), for the render during one."""
    studies = [n for n in paths if n != "Home"]
    rows, done = [], {}
    for i, study in enumerate(studies):
        for entry in cache.glob("*"):
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        other = studies[0] if i == 1 else None  # torch is loaded: a student's render mid-run
        r = retrain(server, browser, paths, study, steps, other, visits)
        done[study] = r["done"]
        rows += [(f"retrain {study} ({steps:,} steps): click -> first progress",
                  f"{r['first']:.1f} s"),
                 (f"retrain {study} ({steps:,} steps): click -> finished", f"{r['done']:.1f} s")]
        if other:
            during = "while it trained" if r["busy"] else "(it had already finished)"
            for how, key, base in (("full load", "full_during", idle[0]),
                                   ("in-app navigation", "in_app_during", idle[1])):
                rows.append((f"render of {other} {during}, {how} (median of {visits}; idle "
                             f"{base[other]:.2f} s)",
                             f"{r[key]:.2f} s ({r[key] / base[other]:.2f}x idle)"))
    rows.append(("server RSS after the retrains (torch loaded)", f"{server.rss_mb():.0f} MB"))
    slowest = max(done, key=done.get)
    rows.append(("slowest study retrain", slowest))
    rows.append(("retrain_slowest_study_s", f"{done[slowest]:.0f}"))  # printed last, alone
    return rows


def run(db: Path, quick: bool, retrains: bool = True) -> list[tuple[str, str]]:
    """Every measurement, as (what, value) rows in the order they were taken."""
    from playwright.sync_api import sync_playwright

    paths = study_paths()
    if quick:
        paths = {k: paths[k] for k in ("Home", "initialization", "novel_word")}
    steps, visits = (100, 1) if quick else (RETRAIN_STEPS, 3)
    rows = []
    with tempfile.TemporaryDirectory() as cache, sync_playwright() as pw:
        browser = launch_chromium(pw)
        server = AppServer({"LAB_DB": str(db), "LAB_RETRAIN_CACHE": cache})
        try:
            healthy, drawn = cold_start(server, browser)
            rows += [("cold start: launch -> health ok", f"{healthy:.1f} s"),
                     ("cold start: launch -> Home drawn", f"{drawn:.1f} s")]
            renders, in_app = warm_renders(server, browser, paths, visits)
            for name, s in renders.items():
                rows.append((f"warm render, full load: {name} (median of {visits})",
                             f"{s:.2f} s"))
            for name, s in in_app.items():
                rows.append((f"warm render, in-app navigation: {name} (median of {visits})",
                             f"{s:.2f} s"))
            rows.append((f"server RSS after visiting {len(paths)} pages",
                         f"{server.rss_mb():.0f} MB"))
            rows.append((f"server RSS with {SESSIONS} sessions open",
                         f"{sessions_rss(server, browser, paths):.0f} MB"))
            if retrains:
                rows += retrain_every_study(server, browser, paths, Path(cache), steps,
                                            (renders, in_app), visits)
        finally:
            server.stop()
            browser.close()
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=DEFAULT_DB, help="the lab database to serve")
    ap.add_argument("--quick", action="store_true", help="a smoke run: fewer pages and visits")
    ap.add_argument("--no-retrain", action="store_true",
                    help="cold start, renders and memory only (no retrains)")
    args = ap.parse_args(argv)
    rows = run(args.db, args.quick, retrains=not args.no_retrain)
    if args.no_retrain:
        rows.append(("retrain_slowest_study_s", "not measured (--no-retrain)"))
    *table, (key, seconds) = rows
    width = max(len(what) for what, _ in table)
    print(f"{'measure':<{width}}  value")
    for what, value in table:
        print(f"{what:<{width}}  {value}")
    print(f"{key}: {seconds}")


if __name__ == "__main__":
    main()
