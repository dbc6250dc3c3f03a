"""Start-up benchmark: where a start's time goes before the first image, cold and warm.

For the 200-slice 512² CT from Orthanc on loopback, in headless Chromium, prints per run
(ms since navigation): the server-rendered preview (``ohifpy:first-preview``), the
worker's start-up phases (worker script running, Pyodide's interpreter up with the
packages installed, numpy and pydicom imported, ohifpy imported), ``ohifpy:runtime-ready``
and ``ohifpy:first-image``; then, for a cold start, the downloads on the way (the page's
and the worker's Resource Timing: Pyodide's runtime, stdlib, lock and wheels, when each
started and ended). Three kinds of start:

- cold: a fresh browser context (empty profile: no HTTP cache, no service worker);
  each new tab is left to settle on ``about:blank`` first (Chromium loads its own
  window UI then: ``chromium_usage.settle``);
- warm, reload: the same URL again in the same tab, the service worker active;
- warm, new tab: the first tab closed, the URL in a new tab of the same context (its
  HTTP cache, Cache Storage and service worker; Chromium's per-page WebAssembly cache
  is what a new tab does not share).

Nothing is asserted. Run: ``.venv/bin/python benchmarks/bench_start.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_browser import chromium, new_tab, serving_ct, wait_for_mark
from chromium_usage import settled_tab
from playwright.sync_api import Browser, Page

COLUMNS = {
    "preview": "ohifpy:first-preview",
    "worker": "ohifpy:worker-started",
    "compiled": "ohifpy:runtime-compiled",
    "python": "ohifpy:python-started",
    "libraries": "ohifpy:libraries-imported",
    "ohifpy": "ohifpy:core-imported",
    "ready": "ohifpy:runtime-ready",
    "image": "ohifpy:first-image",
}
TIMES = """names => names.map(n => {
  const mark = performance.getEntriesByName(n, 'mark')[0];
  return mark ? Math.round(mark.startTime) : null; })"""
# Resource Timing in page and worker, on the page's clock (each has its own time origin).
DOWNLOADS = """origin => performance.getEntriesByType('resource')
  .filter(e => /pyodide|codecs|\\.wasm/.test(e.name))
  .map(e => [e.name.split('/').pop(), Math.round(performance.timeOrigin + e.startTime - origin),
             Math.round(performance.timeOrigin + e.responseEnd - origin), e.transferSize])"""


def start(page: Page, url: str) -> list[int | None]:
    """One navigation to ``url`` up to the first diagnostic image: the marks' times."""
    page.goto(url)
    wait_for_mark(page, COLUMNS["image"])
    return page.evaluate(TIMES, list(COLUMNS.values()))


def downloads(page: Page) -> list[list[object]]:
    """What the page and its Python worker fetched of the runtime, on the page's clock."""
    origin = page.evaluate("performance.timeOrigin")
    rows = page.evaluate(DOWNLOADS, origin)
    for worker in page.workers:
        rows += worker.evaluate(DOWNLOADS, origin)
    return sorted(rows, key=lambda row: row[1])


def line(label: str, times: list[int | None]) -> str:
    cells = "  ".join(f"{name} {'-' if t is None else t:>5}" for name, t in zip(COLUMNS, times))
    return f"  {label:15} {cells}"


def bench(browser: Browser, url: str, runs: int) -> dict[str, list[list[int | None]]]:
    results: dict[str, list[list[int | None]]] = {"cold": [], "warm, reload": [], "warm, new tab": []}
    for run in range(runs):
        context = browser.new_context(viewport={"width": 1200, "height": 800})
        page = settled_tab(context)
        results["cold"].append(start(page, url))
        print(line("cold", results["cold"][-1]))
        if run == 0:
            for name, began, ended, size in downloads(page):
                print(f"      {name:44} {began:>5} -> {ended:>5} ms  {size / 1e6:6.2f} MB")
        page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=120_000)
        results["warm, reload"].append(start(page, url))
        print(line("warm, reload", results["warm, reload"][-1]))
        page = new_tab(page)
        results["warm, new tab"].append(start(page, url))
        print(line("warm, new tab", results["warm, new tab"][-1]))
        context.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh contexts (default 3)")
    args = parser.parse_args()
    with serving_ct() as (site, ct), chromium() as browser:
        print("200-slice CT, ms since navigation")
        results = bench(browser, f"{site}viewer?StudyInstanceUIDs={ct.study_uid}", args.runs)
    print(f"medians of {args.runs}:")
    for label, rows in results.items():
        columns = zip(*rows)
        print(line(label, [None if None in c else round(statistics.median(c))  # type: ignore[type-var]
                           for c in columns]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
