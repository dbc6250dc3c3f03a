"""Browser benchmark: the Python console beside the viewer, in headless Chromium against Orthanc.

Prints, for the 200-slice 512² CT loaded in the viewer: the console's start (the toolbar
button to "Python is ready": its own Pyodide), a first cell on ``viewer.image``, a cell
on ``viewer.volume`` (the 100 MB volume sent to the console once) and again (held),
``show`` of a MIP until it is on the canvas, and stack scrolling and window/level in the
viewport while idle and while a 5 s cell computes in the console: the cell runs in a
worker of its own, so the viewer should not slow down. Nothing is asserted.
Run: ``.venv/bin/python benchmarks/bench_console.py``.
"""

from __future__ import annotations

import sys
import time

from bench_browser import MARKS, SCROLL, chromium, serving_ct, wait_for_mark, window_level_ms
from playwright.sync_api import Page

BUSY_CELL = "import time\nend = time.time() + 5\nwhile time.time() < end:\n    pass"


def run_cell(page: Page, code: str) -> float:
    """Type a cell, run it with Enter; seconds until it has ended."""
    box = page.locator(".console-input")
    box.fill(code)
    started = time.perf_counter()
    box.press("Enter")
    page.wait_for_selector(".console-panel[aria-busy='false']", timeout=120_000)
    return time.perf_counter() - started


def scroll_rate(page: Page) -> float:
    page.locator(".viewport").first.press("Home")
    page.wait_for_selector(".viewport canvas[data-image-index='0']", state="attached")
    return page.evaluate(SCROLL, 100)


def bench(site: str, ct_uid: str) -> None:
    with chromium() as browser:
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        page.goto(f"{site}viewer?StudyInstanceUIDs={ct_uid}")
        wait_for_mark(page, MARKS[2])
        idle_scroll, idle_wl = scroll_rate(page), window_level_ms(page)

        started = time.perf_counter()
        page.locator(".toolbar [data-command='toggleConsole']").first.click()
        page.wait_for_function("() => document.querySelector('.console-status').textContent "
                               "=== 'Python is ready.'", timeout=120_000)
        print(f"console start (button to ready): {time.perf_counter() - started:.2f} s")
        print(f"cell on viewer.image (mean): {run_cell(page, 'viewer.image.mean()'):.2f} s")
        cell = "float(viewer.volume.max())"
        print(f"cell on viewer.volume, first (100 MB sent): {run_cell(page, cell):.2f} s; "
              f"again (held): {run_cell(page, cell):.2f} s")
        seconds = run_cell(page, "show(viewer.volume.max(axis=0), name='MIP')")
        page.wait_for_function("() => document.querySelector('.viewport canvas').dataset"
                               ".displaySetUid !== undefined && [...document.querySelectorAll("
                               "'.series-entry')].some(e => e.textContent.includes('MIP'))")
        print(f"show(viewer.volume.max(axis=0)) to the derived series: {seconds:.2f} s")
        page.locator(".series-entry").first.click()  # the CT again
        page.wait_for_selector(".viewport canvas[data-image-index='0']", state="attached")

        box = page.locator(".console-input")
        box.fill(BUSY_CELL)
        box.press("Enter")
        page.wait_for_selector(".console-panel[aria-busy='true']")
        busy_scroll, busy_wl = scroll_rate(page), window_level_ms(page)
        still = page.get_attribute(".console-panel", "aria-busy") == "true"
        page.wait_for_selector(".console-panel[aria-busy='false']", timeout=60_000)
        print(f"stack scroll, 100 images: {idle_scroll:.0f} images/s idle, {busy_scroll:.0f} "
              f"images/s during a 5 s cell{'' if still else ' (the cell ended first)'}")
        print(f"window/level 512x512: {idle_wl:.1f} ms per frame idle, {busy_wl:.1f} ms "
              "during the cell (median)")


def main() -> int:
    with serving_ct() as (site, ct):
        bench(site, ct.study_uid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
