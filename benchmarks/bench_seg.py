"""SEG overlay benchmark: headless Chromium against Orthanc on loopback.

Prints, for two SEGs of five segments over a CT already loaded in the viewer: the time from
the click on the SEG's series entry to the overlay on screen (every viewport showing the
CT has drawn an image with the SEG blended in: the panel item's ``data-drawn``), three
runs each (the SEG removed between them, so each run loads it anew: metadata read, all
frames fetched, matched, statistics computed); and stack-scroll images per second through
the loaded CT (bench_browser's SCROLL) without and with the overlay on.

* ``ct-seg``: the test data's 40-slice CT and its binary SEG (79 frames, empty frames left
  out, as highdicom writes by default);
* ``ct`` 200 slices with a SEG written here by highdicom from the same five structures with
  every frame kept: 200 slices x 5 segments = 1,000 frames of 512x512 (bit-packed, 32 MiB
  unpacked), the large-SEG case issue 14 asks to measure.

Nothing is asserted. Run: ``make bench`` or ``.venv/bin/python benchmarks/bench_seg.py``.
"""

from __future__ import annotations

import io
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "scripts"), str(ROOT / "benchmarks")]

import make_test_data
import pydicom
from bench_browser import (
    MARKS,
    SCROLL,
    build_dist,
    chromium,
    heap,
    serve_in_thread,
    wait_for_mark,
)
from orthanc import OrthancServer, start_orthanc
from playwright.sync_api import Page

from ohifpy import synthetic_objects

# When the panel item of a SEG says it is drawn, in ms since navigation.
DRAWN = """() => {
  window.__drawn = {};
  new MutationObserver((records) => { for (const r of records) {
      if (r.target.dataset?.drawn === 'true') window.__drawn[r.target.dataset.displaySetUid] = performance.now();
  } }).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-drawn']}); }"""
CLICK = """uid => { const t = performance.now();
  document.querySelector(`.series-entry[data-display-set-uid="${uid}"]`).click(); return t; }"""


def store_large_seg(server: OrthancServer, manifest: make_test_data.Manifest) -> str:
    """A binary SEG of the five structures over the 200-slice CT, every frame kept (1,000
    frames), stored in Orthanc in the CT's study; its series description."""
    ct = manifest.study("ct")
    datasets = [pydicom.dcmread(manifest.root / i.path) for i in ct.instances]
    seg = synthetic_objects.binary_seg(datasets, key="bench-seg", series_number=900,
                                       omit_empty_frames=False)
    buffer = io.BytesIO()
    seg.save_as(buffer, enforce_file_format=True)
    status, _, body = server.request("POST", "/instances", buffer.getvalue(),
                                     {"Content-Type": "application/dicom"})
    assert status == 200, body
    return f"{seg.NumberOfFrames} frames"


def entry_uid(page: Page, description: str) -> str:
    return page.eval_on_selector_all(
        ".series-entry", "(entries, d) => entries.find(e => e.querySelector("
        "'.series-description').textContent === d).dataset.displaySetUid", description)



def scroll_rate(page: Page, count: int) -> float:
    """Images per second through the stack from its first image (bench_browser's SCROLL)."""
    page.focus(".viewport")
    page.keyboard.press("Home")
    page.wait_for_selector(".viewport canvas[data-image-index='0']", state="attached")
    page.wait_for_timeout(300)
    return page.evaluate(SCROLL, count)


def bench_study(page: Page, site: str, study_uid: str, seg_description: str, slices: int,
                what: str) -> None:
    page.goto(f"{site}viewer?StudyInstanceUIDs={study_uid}")
    wait_for_mark(page, MARKS[1])
    page.wait_for_selector('.series-progress[data-complete="true"]', state="attached",
                           timeout=180_000)
    print(f"{what}: CT of {slices} slices loaded ({heap(page)})")
    plain = [scroll_rate(page, slices) for _ in range(2)]
    uid = entry_uid(page, seg_description)
    page.evaluate(DRAWN)
    times = []
    for run in range(3):
        start = page.evaluate(CLICK, uid)
        page.wait_for_function("uid => window.__drawn[uid] !== undefined", arg=uid,
                               timeout=120_000)
        times.append(page.evaluate("uid => window.__drawn[uid]", uid) - start)
        if run < 2:
            page.evaluate("uid => { delete window.__drawn[uid]; }", uid)
            page.click(f".segmentation[data-display-set-uid='{uid}'] .segmentation-remove")
            page.wait_for_selector(f".segmentation[data-display-set-uid='{uid}']",
                                   state="detached")
    print(f"  click on the SEG -> overlay on screen: {statistics.median(times):.0f} ms "
          f"(median of 3: {', '.join(f'{t:.0f}' for t in times)})  ({heap(page)})")
    over = [scroll_rate(page, slices) for _ in range(2)]
    print(f"  stack scroll through {slices} loaded slices, 1x1: "
          f"{max(plain):.0f} images/s without the SEG, {max(over):.0f} with it "
          f"(best of 2 each)")


def main() -> int:
    manifest = make_test_data.ensure()
    ct, small = manifest.study("ct"), manifest.study(synthetic_objects.CT_SEG_KEY)
    with tempfile.TemporaryDirectory() as work:
        dist = build_dist(work)
        server = start_orthanc(Path(work) / "orthanc")
        try:
            server.upload([manifest.root / i.path for s in (ct, small) for i in s.instances])
            frames = store_large_seg(server, manifest)
            site = serve_in_thread(dist, {"/dicom-web": server.dicomweb_root})
            with chromium() as browser:
                page = browser.new_context(viewport={"width": 1500, "height": 800}).new_page()
                bench_study(page, site, small.study_uid, "SEG binary, 5 segments",
                            synthetic_objects.CT_SEG_SLICES, "ct-seg, SEG of 79 frames")
                bench_study(page, site, ct.study_uid, "SEG binary, 5 segments", 200,
                            f"ct, SEG of {frames}")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
