"""Compare-link benchmark: headless Chromium against Orthanc on loopback.

Prints the time from opening a ``hangingProtocolId=@ohif/hpCompare`` link (current and
prior in ``StudyInstanceUIDs``) to the first image on screen in both the current's and the
prior's viewport, in ms since navigation, for:

* the test data's prior patient (``prior-current`` and ``prior-recent``: 128² CT, 24 + 12
  and 30 + 12 slices; the 2x2 stage);
* the 200-slice 512² CT beside a copy of it stored here as its prior (same patient, a
  year earlier, new UIDs; the 2x1 stage, as each study has one series).

Each link is opened three times in a fresh browser context (cold: the app, Pyodide and its
wheels are fetched and Python boots) and three times in new tabs of one context (warm:
from the HTTP cache). Nothing is asserted. Run: ``make bench`` or
``.venv/bin/python benchmarks/bench_hanging.py``.
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
from bench_browser import FIRST_IMAGES, build_dist, chromium, serve_in_thread
from orthanc import OrthancServer, start_orthanc
from playwright.sync_api import Browser

from ohifpy import synthetic, synthetic_hanging

PRIOR_DATE = "20230105"


def store_ct_prior(server: OrthancServer, manifest: make_test_data.Manifest) -> str:
    """A copy of the 200-slice CT as the same patient's study a year earlier; its UID."""
    ct = manifest.study("ct")
    source = synthetic.SyntheticStudy("ct", ct.description, tuple(
        pydicom.dcmread(manifest.root / i.path) for i in ct.instances))
    prior = synthetic.derive_study(source, "bench-ct-prior", "CT prior (bench)")
    for ds in prior.datasets:
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = PRIOR_DATE
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        status, _, body = server.request("POST", "/instances", buffer.getvalue(),
                                         {"Content-Type": "application/dicom"})
        assert status == 200, body
    return prior.study_uid


def both_first_images(browser: Browser, url: str, runs: int, warm: bool) -> list[float]:
    """ms from navigation to the later of viewports 0 and 1's first image, per run."""
    times = []
    context = browser.new_context(viewport={"width": 1500, "height": 900}) if warm else None
    if context is not None:  # one visit first, so the app and Pyodide are in the cache
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector(".viewport[data-viewport-index='1'] canvas[data-image-index]",
                               state="attached", timeout=180_000)
        page.close()
    for _ in range(runs):
        own = context or browser.new_context(viewport={"width": 1500, "height": 900})
        page = own.new_page()
        page.add_init_script(f"({FIRST_IMAGES})()")
        page.goto(url)
        page.wait_for_function("() => ['0', '1'].every(i => i in (window.__first ?? {}))",
                               timeout=180_000)
        first = page.evaluate("window.__first")
        times.append(max(first["0"], first["1"]))
        page.close()
        if context is None:
            own.close()
    if context is not None:
        context.close()
    return times


def report(browser: Browser, site: str, what: str, current: str, prior: str) -> None:
    url = (f"{site}viewer?StudyInstanceUIDs={current},{prior}"
           "&hangingProtocolId=@ohif/hpCompare")
    for warm in (False, True):
        times = both_first_images(browser, url, 3, warm)
        print(f"{what}, {'warm' if warm else 'cold'}: both first images "
              f"{statistics.median(times):.0f} ms after navigation "
              f"(median of 3: {', '.join(f'{t:.0f}' for t in times)})")


def main() -> int:
    manifest = make_test_data.ensure()
    keys = ("ct", synthetic_hanging.PRIOR_CURRENT_KEY, synthetic_hanging.PRIOR_RECENT_KEY)
    with tempfile.TemporaryDirectory() as work:
        dist = build_dist(work)
        server = start_orthanc(Path(work) / "orthanc")
        try:
            server.upload([manifest.root / i.path for k in keys
                           for i in manifest.study(k).instances])
            ct_prior = store_ct_prior(server, manifest)
            site = serve_in_thread(dist, {"/dicom-web": server.dicomweb_root})
            with chromium() as browser:
                report(browser, site, "prior patient, 128² CT, 2x2",
                       manifest.study(keys[1]).study_uid, manifest.study(keys[2]).study_uid)
                report(browser, site, "200-slice 512² CT beside its prior, 2x1",
                       manifest.study("ct").study_uid, ct_prior)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
