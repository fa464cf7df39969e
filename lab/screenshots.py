"""Screenshot whole pages of the app as a student sees them: `python -m lab.screenshots`.

Starts the app (or uses --url), opens each page in headless Chromium at each width, waits
until it has drawn, grows the viewport to the main container's scroll height (Streamlit
scrolls inside that container, so a plain full-page shot would cut the page) and saves one
PNG per page and width. For reading the app page by page, not for tests.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from lab.appserver import AppServer, launch_chromium

_SCROLL_HEIGHT = """() => {
    const main = document.querySelector('[data-testid="stMain"]')
        || document.querySelector('section.main') || document.body;
    return Math.max(main.scrollHeight, document.body.scrollHeight);
}"""
_SETTLED = """() => !document.querySelector('[data-testid="stStatusWidget"]')
    && [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
        .every(c => c.querySelector('canvas, svg'))"""


def _steady_height(page, every_s: float = 0.5, most_s: float = 60.0) -> int:
    """The page's scroll height once it stops growing (three equal readings in a row): a
    page still streaming its elements would otherwise be cut where it stood."""
    readings, waited = [], 0.0
    while waited < most_s:
        readings.append(int(page.evaluate(_SCROLL_HEIGHT)))
        if len(readings) >= 3 and len(set(readings[-3:])) == 1:
            break
        time.sleep(every_s)
        waited += every_s
    page.wait_for_function(_SETTLED, timeout=120_000)
    return readings[-1]


def default_paths() -> list[str]:
    """Home, the story and every study page, as URL paths."""
    from lab.ui import nav

    return ["/", f"/{Path(nav.STORY[1]).stem}"] + [
        f"/{nav.url_path(p.study_id)}" for group in nav.grouped_pages().values() for p in group]


def shoot(url: str, paths: list[str], widths: list[int], out: Path, settle_s: float) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        for width in widths:
            page = browser.new_page(viewport={"width": width, "height": 900})
            for path in paths:
                page.goto(url + path, wait_until="networkidle", timeout=120_000)
                page.wait_for_function(_SETTLED, timeout=120_000)
                time.sleep(settle_s)  # late reruns (URL state) redraw once more
                height = min(_steady_height(page) + 40, 30_000)
                page.set_viewport_size({"width": width, "height": height})
                time.sleep(0.5)
                name = (path.strip("/").replace("/", "_").split("?")[0] or "home")
                target = out / f"{name}-{width}.png"
                page.screenshot(path=str(target), full_page=True)
                print(f"{target} ({width}x{height})")
                page.set_viewport_size({"width": width, "height": 900})
            page.close()
        browser.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lab.screenshots", description=__doc__)
    ap.add_argument("paths", nargs="*", help="URL paths with query (default: every page)")
    ap.add_argument("--url", help="a running app (default: start one)")
    ap.add_argument("--width", type=int, action="append", help="viewport widths (1400, 390)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/lab-shots"))
    ap.add_argument("--settle", type=float, default=1.5, help="seconds to wait after drawing")
    args = ap.parse_args(argv)
    paths, widths = args.paths or default_paths(), args.width or [1400, 390]
    if args.url:
        shoot(args.url.rstrip("/"), paths, widths, args.out, args.settle)
        return 0
    with AppServer() as server:
        shoot(server.url, paths, widths, args.out, args.settle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
