"""Browser benchmark: the viewer in headless Chromium against Orthanc on loopback.

Prints, for the 200-slice 512² CT: cold and warm (service worker) start to
``ohifpy:runtime-ready``, ``ohifpy:first-image`` and ``ohifpy:series-loaded`` with the
worker's start-up phases on the way (Pyodide, numpy and pydicom imported, ohifpy), warm
both as a reload in the same tab and in a new tab (Chromium keeps a reloaded page's
compiled WebAssembly, a new tab compiles it again);
window/level latency (pointer move → new pixels on the canvas) at 512² and 2048²;
stack-scroll images/s through the loaded stack in a 1x1 grid and in a 2x2 grid (CT,
MR, XA cine, RGB: the four studies' URL hangs them so), the time to the first image
of each of those four viewports, and memory once the CT is loaded (the worker's
WebAssembly heap and frame cache, the page's JS heap). Nothing is asserted.
Run: ``make bench`` or ``.venv/bin/python benchmarks/bench_browser.py``.
"""

from __future__ import annotations

import asyncio
import io
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "scripts")]

import make_test_data
import numpy as np
import pydicom
from chromium_usage import settled_tab
from orthanc import OrthancServer, start_orthanc
from playwright.sync_api import Browser, Page, sync_playwright
from pydicom.uid import generate_uid

from ohifpy.serve import start_server

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
MARKS = ["ohifpy:runtime-ready", "ohifpy:first-image", "ohifpy:series-loaded"]
# The worker's start-up phases (web/worker.js): up to "libraries" is Pyodide, numpy and
# pydicom, the runtime's part; from there to runtime-ready is ohifpy's import and init.
PHASES = {"worker": "ohifpy:worker-started", "python": "ohifpy:python-started",
          "libraries": "ohifpy:libraries-imported", "ohifpy": "ohifpy:core-imported"}
WL_RECORDER = """() => {
  const vp = document.querySelector('.viewport'); const c = vp.querySelector('canvas');
  window.__wl = []; let t = 0;
  vp.addEventListener('pointermove', () => { t = performance.now(); }, true);
  new MutationObserver(() => window.__wl.push(performance.now() - t))
    .observe(c, {attributes: true, attributeFilter: ['data-window-width']}); }"""
SCROLL = """async (count) => {
  const vp = document.querySelector('.viewport'); const c = vp.querySelector('canvas');
  vp.focus(); const t0 = performance.now();
  for (let i = 1; i < count; i++) {
    const done = new Promise(r => { const o = new MutationObserver(() => {
      if (c.dataset.imageIndex === String(i)) { o.disconnect(); r(); } });
      o.observe(c, {attributes: true, attributeFilter: ['data-image-index']}); });
    vp.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowDown', bubbles: true}));
    await done;
  }
  return (count - 1) / (performance.now() - t0) * 1000; }"""


FIRST_IMAGES = """() => {
  window.__first = {};
  new MutationObserver((records) => { for (const r of records) {
      const index = r.target.closest('.viewport')?.dataset.viewportIndex;
      if (index !== undefined && !(index in window.__first)) window.__first[index] = performance.now();
  } }).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-image-index']}); }"""
WORKER_MEMORY = """async () => { const { pyodide, api } = await booting;
  return [pyodide._module.HEAPU8.length, api.frames.cache.bytes, api.frames.cache.max_bytes]; }"""


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, with the benchmarks' flags; closed on the way out."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


MIB = 1024 * 1024


def heap(page: Page) -> str:
    """The worker's WebAssembly heap and decoded-frame cache, for a benchmark's line."""
    size, cache, _ = page.workers[0].evaluate(WORKER_MEMORY)
    return f"WebAssembly heap {size / MIB:.0f} MiB, frame cache {cache / MIB:.0f} MiB"


def serve_in_thread(dist: Path, proxy: dict[str, str]) -> str:
    """``ohifpy serve`` on a free port in a daemon thread; returns the site URL."""
    ready: dict[str, int] = {}
    started = threading.Event()

    async def run() -> None:
        server = await start_server(dist, port=0, proxy=proxy)
        ready["port"] = server.sockets[0].getsockname()[1]
        started.set()
        await asyncio.Event().wait()

    threading.Thread(target=asyncio.run, args=(run(),), daemon=True).start()
    started.wait(30)
    return f"http://127.0.0.1:{ready['port']}/"


def store_2048_slice(server: OrthancServer, manifest: make_test_data.Manifest) -> str:
    """A 2048² CT slice (a 512² slice, each pixel 4×4) stored in Orthanc; its study UID."""
    ct = manifest.study("ct")
    ds = pydicom.dcmread(manifest.root / ct.instances[100].path)
    arr = np.kron(ds.pixel_array, np.ones((4, 4), dtype=ds.pixel_array.dtype))
    ds.Rows, ds.Columns = arr.shape
    ds.PixelData = arr.tobytes()
    ds.StudyInstanceUID = generate_uid(entropy_srcs=["bench2048"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["bench2048", "series"])
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(
        entropy_srcs=["bench2048", "sop"])
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    status, _, body = server.request("POST", "/instances", buffer.getvalue(),
                                     {"Content-Type": "application/dicom"})
    assert status == 200, body
    return str(ds.StudyInstanceUID)


def marks(page: Page, names: list[str] = MARKS) -> list[int]:
    return page.evaluate(
        "names => names.map(n => Math.round("
        "performance.getEntriesByName(n, 'mark')[0]?.startTime ?? -1))", names)


def start_line(page: Page) -> str:
    """The marks of a start, then the worker's phases within it."""
    phases = ", ".join(f"{k} {t}" for k, t in zip(PHASES, marks(page, list(PHASES.values()))))
    return f"{marks(page)}   phases: {phases}"


def new_tab(page: Page) -> Page:
    """A new page of the same browser context (its cache and service worker), once the old
    one is closed and gone, settled as a visitor's new tab is before they open a URL
    (:func:`chromium_usage.settle`)."""
    context = page.context
    page.close()
    time.sleep(2)
    return settled_tab(context)


def wait_for_mark(page: Page, name: str) -> None:
    page.wait_for_function("n => performance.getEntriesByName(n, 'mark').length > 0",
                           arg=name, timeout=180_000)


def window_level_ms(page: Page, moves: int = 40) -> float:
    page.evaluate(WL_RECORDER)
    box = page.locator(".viewport").bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(moves):
        page.mouse.move(x + (3 if i % 2 == 0 else 0), y)
        page.wait_for_function("k => window.__wl.length >= k", arg=i + 1)
    page.mouse.up()
    return statistics.median(page.evaluate("window.__wl")[5:])


def bench(site: str, ct_uid: str, big_uid: str, four_uids: list[str]) -> None:
    with chromium() as browser:
        page = browser.new_context(viewport={"width": 1200, "height": 800}).new_page()
        url = f"{site}viewer?StudyInstanceUIDs={ct_uid}"
        print("200-slice CT, ms since navigation: runtime-ready, first-image, series-loaded")
        page.goto(url)
        wait_for_mark(page, MARKS[2])
        print(f"  cold           {start_line(page)}")
        page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=120_000)
        for _ in range(3):
            page.goto(url)
            wait_for_mark(page, MARKS[2])
            print(f"  warm, reload   {start_line(page)}")
        for _ in range(2):
            page = new_tab(page)
            page.goto(url)
            wait_for_mark(page, MARKS[2])
            print(f"  warm, new tab  {start_line(page)}")
        print(f"window/level 512x512: {window_level_ms(page):.1f} ms per frame (median)")
        print_memory(page)
        print(f"stack scroll through 200 loaded slices, 1x1: {page.evaluate(SCROLL, 200):.0f} "
              "images/s")
        page.goto(f"{site}viewer?StudyInstanceUIDs={big_uid}")
        wait_for_mark(page, MARKS[1])
        page.wait_for_selector(".viewport canvas[width='2048']", state="attached")
        print(f"window/level 2048x2048: {window_level_ms(page):.1f} ms per frame (median)")
        bench_2x2(browser, f"{site}viewer?StudyInstanceUIDs={','.join(four_uids)}")


def print_memory(page: Page) -> None:
    """The worker's WebAssembly heap and frame cache (read in the worker), the page's JS heap."""
    heap, cache, budget = page.workers[0].evaluate(WORKER_MEMORY)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    mib = 1024 * 1024
    print(f"memory with the CT loaded: WebAssembly heap {heap / mib:.0f} MiB, frame cache "
          f"{cache / mib:.0f} of {budget / mib:.0f} MiB, page JS heap "
          f"{metrics['JSHeapUsedSize'] / mib:.1f} MiB")


def bench_2x2(browser: Any, url: str) -> None:
    """A fresh page (worker) on the four-study URL: a 2x2 grid, every viewport's stack loads."""
    page = browser.new_context(viewport={"width": 1200, "height": 800}).new_page()
    page.add_init_script(f"({FIRST_IMAGES})()")
    page.goto(url)
    page.wait_for_function("() => Object.keys(window.__first ?? {}).length === 4",
                           timeout=180_000)
    first = page.evaluate("window.__first")
    print("2x2 (CT, MR, XA cine, RGB), first image in each viewport, ms since navigation: "
          f"{[round(first[str(i)]) for i in range(4)]}")
    page.wait_for_function("() => document.querySelectorAll("
                           "'.series-progress[data-complete=\"true\"]').length === 4",
                           timeout=180_000)
    print(f"stack scroll through 200 loaded slices, 2x2: {page.evaluate(SCROLL, 200):.0f} images/s")
    page.context.close()


def build_dist(work: str) -> Path:
    """The site built in ``work`` for Orthanc proxied at ``/dicom-web``, without the demo."""
    dist = Path(work) / "dist"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_static.py"), "--out",
                    str(dist), "--config", str(ROOT / "config" / "local-orthanc.json"),
                    "--no-demo"], check=True, stdout=subprocess.DEVNULL)
    return dist


@contextmanager
def serving_ct() -> Iterator[tuple[str, make_test_data.StudyEntry]]:
    """The site built and served, Orthanc holding only the 200-slice CT: (site URL, the CT)."""
    manifest = make_test_data.ensure()
    ct = manifest.study("ct")
    with tempfile.TemporaryDirectory() as work:
        dist = build_dist(work)
        server = start_orthanc(Path(work) / "orthanc")
        try:
            server.upload([manifest.root / i.path for i in ct.instances])
            yield serve_in_thread(dist, {"/dicom-web": server.dicomweb_root}), ct
        finally:
            server.stop()


def main() -> int:
    manifest = make_test_data.ensure()
    with tempfile.TemporaryDirectory() as work:
        dist = build_dist(work)
        server = start_orthanc(Path(work) / "orthanc")
        try:
            server.upload(manifest.files())
            big = store_2048_slice(server, manifest)
            site = serve_in_thread(dist, {"/dicom-web": server.dicomweb_root})
            four = [manifest.study(key).study_uid for key in ("ct", "mr", "xa-cine", "rgb")]
            bench(site, manifest.study("ct").study_uid, big, four)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
