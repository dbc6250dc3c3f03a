"""MPR benchmark: the 200-slice 512² CT in headless Chromium against Orthanc on loopback.

Prints: the time from opening the MPR layout to three planes on screen, with the series
already loaded (layout picked after the stack loaded) and cold (a new tab opening
``hangingProtocolId=mpr``, Pyodide's start included, then from the runtime being ready);
milliseconds per oblique 512x512 reformat in the worker's WebAssembly (trilinear, and a
30 mm MIP slab of it); views redrawn per second while the crosshair centre is dragged;
and the worker's WebAssembly heap with the CT loaded in the stack view and then in MPR
(the volume is the stack's frames: no second copy). Nothing is asserted.
Run: ``make bench`` or ``.venv/bin/python benchmarks/bench_mpr.py``.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "scripts"), str(ROOT / "benchmarks")]

from bench_browser import MARKS, chromium, heap, serving_ct, wait_for_mark
from playwright.sync_api import Page

# When each MPR view's canvas first shows an image, in ms since navigation.
PLANES_DRAWN = """() => {
  window.__planes = {};
  new MutationObserver((records) => { for (const r of records) {
      const view = r.target.closest('[data-mpr-view]')?.dataset.mprView;
      if (view && r.target.tagName === 'CANVAS' && !(view in window.__planes))
        window.__planes[view] = performance.now();
  } }).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-image-index']}); }"""
THREE_DRAWN = "() => Object.keys(window.__planes ?? {}).length === 3"
# Redraws of the sagittal and coronal canvases (any new pixels: index or view).
REDRAWS = """() => {
  window.__redraws = 0;
  for (const view of ['sagittal', 'coronal']) {
    const canvas = document.querySelector(`[data-mpr-view="${view}"] canvas`);
    new MutationObserver(() => { window.__redraws += 1; window.__lastRedraw = performance.now(); })
      .observe(canvas, {attributes: true, attributeFilter: ['data-image-index']});
  } }"""
OBLIQUE = """async ([uid, slab]) => { const { pyodide, api } = await booting;
  pyodide.globals.set('bench_api', api);
  return pyodide.runPython(`
import time
import numpy as np
from ohifpy.imaging.reformat import Plane, Slab, reformat
volume = bench_api.frames.volume(${JSON.stringify(uid)})
angle = np.radians(30)
row, column = np.array([1.0, 0, 0]), np.array([0, np.cos(angle), np.sin(angle)])
centre = volume.geometry.centre
plane = Plane(centre - 255.5 * 0.7 * (row + column), row, column, (0.7, 0.7), 512, 512)
slab = Slab(${slab}, 'mip', 0.7) if ${slab} else None
times = []
for _ in range(7):
    start = time.perf_counter()
    reformat(volume.stored, volume.geometry.affine, plane, slab, volume.background)
    times.append((time.perf_counter() - start) * 1000)
sorted(times)[len(times) // 2]
`); }"""



def pick_layout(page: Page, selector: str) -> None:
    page.click(".layout-button")
    page.click(selector)


def drag_centre(page: Page, moves: int = 120) -> float:
    """Views redrawn per second while the axial view's crosshair centre is dragged."""
    axial = page.locator('[data-mpr-view="axial"]')
    box = axial.bounding_box()
    assert box is not None
    x, y = (float(v) for v in axial.get_attribute("data-crosshair-center").split(","))
    x, y = box["x"] + x, box["y"] + y
    page.evaluate(REDRAWS)
    page.mouse.move(x, y)
    page.mouse.down()
    start = page.evaluate("performance.now()")
    for i in range(moves):
        page.mouse.move(x + (i % 60) * 2, y + (i % 60))
    page.mouse.up()
    time.sleep(1.0)  # the last answers land
    redraws, last = page.evaluate("[window.__redraws, window.__lastRedraw]")
    return redraws / ((last - start) / 1000)


def bench(site: str, ct_uid: str, ct_display_set: str) -> None:
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1500, "height": 800})
        page = context.new_page()
        page.goto(f"{site}viewer?StudyInstanceUIDs={ct_uid}")
        wait_for_mark(page, MARKS[2])
        page.wait_for_selector('.series-progress[data-complete="true"]', state="attached",
                               timeout=180_000)
        print(f"CT loaded in the stack view: {heap(page)}")
        for attempt in range(3):
            page.evaluate(PLANES_DRAWN)
            start = page.evaluate("performance.now()")
            pick_layout(page, '.layout-protocol[data-protocol="mpr"]')
            page.wait_for_function(THREE_DRAWN, timeout=60_000)
            planes = page.evaluate("window.__planes")
            print(f"MPR layout, series loaded (run {attempt + 1}): three planes on screen "
                  f"{max(planes.values()) - start:.0f} ms after the click")
            if attempt < 2:
                pick_layout(page, '.layout-cell[data-rows="1"][data-columns="1"]')
                page.wait_for_selector("[data-mpr-view]", state="detached")
        print(f"CT in MPR: {heap(page)}")
        for slab in (0, 30):
            ms = page.workers[0].evaluate(OBLIQUE, [ct_display_set, slab])
            what = "oblique 512x512 reformat" + (f", {slab} mm MIP slab" if slab else "")
            print(f"{what}: {ms:.1f} ms (median of 7, in the worker); after: {heap(page)}")
        rates = [drag_centre(page) for _ in range(3)]
        print(f"crosshair centre drag: {statistics.median(rates):.1f} views redrawn per second "
              f"(median of 3 drags; runs {', '.join(f'{r:.1f}' for r in rates)})")
        print(f"CT in MPR after the drags: {heap(page)}")
        page.close()
        for _ in range(2):
            cold = context.browser.new_context(viewport={"width": 1500, "height": 800})
            page = cold.new_page()
            page.add_init_script(f"({PLANES_DRAWN})()")
            page.goto(f"{site}viewer?StudyInstanceUIDs={ct_uid}&hangingProtocolId=mpr")
            page.wait_for_function(THREE_DRAWN, timeout=180_000)
            planes = page.evaluate("window.__planes")
            ready = page.evaluate("performance.getEntriesByName('ohifpy:runtime-ready')[0]"
                                  ".startTime")
            print(f"MPR cold (new browser context, hangingProtocolId=mpr): three planes "
                  f"{max(planes.values()):.0f} ms after navigation, "
                  f"{max(planes.values()) - ready:.0f} ms after the runtime was ready")
            cold.close()


def main() -> int:
    with serving_ct() as (site, ct):
        bench(site, ct.study_uid, ct.series[0].series_uid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
