"""Browser benchmark: the user's own files against the same study from Orthanc.

Prints, in headless Chromium on loopback, for the 200-slice 512² CT:
- from a folder opened on ``/local`` (the folder input), and from Orthanc through
  ``ohifpy serve --proxy``: the time from the user's action (the folder chosen; the
  viewer link followed) to the study shown (the viewer page for a one-study folder),
  ``ohifpy:first-image`` and ``ohifpy:series-loaded``. Python has started before the
  action in both, so what is compared is reading and decoding, not start-up;
- a folder of 2,000 256x256 slices (20 studies, 256 MiB): the time until the study list shows them,
  and the worker's WebAssembly heap after (it only grows: the peak), beside the folder's
  size on disk.
Nothing is asserted. Run: ``.venv/bin/python benchmarks/bench_local.py`` (or ``make bench``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "scripts"), str(ROOT / "benchmarks")]

import make_test_data
import numpy as np
from bench_browser import chromium, serve_in_thread, wait_for_mark
from orthanc import start_orthanc
from playwright.sync_api import Page
from pydicom.uid import generate_uid

from ohifpy.synthetic import ct_study

SMALL_FILES = 2000
SMALL_STUDIES = 20
HEAP = "async () => { const { pyodide } = await booting; return pyodide._module.HEAPU8.length; }"
SINCE = "t0 => ['ohifpy:first-image', 'ohifpy:series-loaded'].map(n => Math.round(" \
        "(performance.getEntriesByName(n, 'mark')[0]?.startTime ?? NaN) - t0))"


def now(page: Page) -> float:
    return page.evaluate("performance.now()")


def fresh_page(browser, url: str) -> Page:
    """A new context (no cache, no service worker) on ``url``, Python started."""
    page = browser.new_context(viewport={"width": 1200, "height": 800}).new_page()
    page.goto(url)
    wait_for_mark(page, "ohifpy:runtime-ready")
    return page


def follow_link(page: Page, url: str) -> tuple[int, int]:
    """Follow a viewer link in the running app (no reload): ms from then to the first image
    and to the series loaded."""
    t0 = now(page)
    page.evaluate("url => { history.pushState(null, '', url); "
                  "dispatchEvent(new PopStateEvent('popstate')); }", url)
    wait_for_mark(page, "ohifpy:series-loaded")
    first, loaded = page.evaluate(SINCE, t0)
    return first, loaded


def open_folder(page: Page, folder: Path) -> float:
    """Choose ``folder`` in /local's folder input; the page time it was chosen."""
    started = now(page)
    page.locator("input.open-folder-input").set_input_files(folder)
    return started


def bench_ct(browser, site: str, folder: Path, ct_uid: str) -> None:
    page = fresh_page(browser, site + "local")
    t0 = open_folder(page, folder)
    page.wait_for_selector(".viewport canvas[data-image-index]", timeout=180_000)
    shown = now(page) - t0
    wait_for_mark(page, "ohifpy:series-loaded")
    first, loaded = page.evaluate(SINCE, t0)
    print(f"local folder, 200-slice CT: viewer shown {shown:.0f} ms, first image {first} ms, "
          f"series loaded {loaded} ms after choosing the folder")
    page.context.close()

    page = fresh_page(browser, site)
    first, loaded = follow_link(page, f"{site}viewer?StudyInstanceUIDs={ct_uid}")
    print(f"Orthanc, same CT:           first image {first} ms, series loaded {loaded} ms "
          "after following the viewer link")
    page.context.close()


def small_folder(folder: Path) -> int:
    """``SMALL_FILES`` 256x256 CT slices in ``SMALL_STUDIES`` studies; their bytes on disk."""
    ds = ct_study(1).datasets[0]
    ds.set_pixel_data(np.arange(256 * 256, dtype=np.int16).reshape(256, 256), "MONOCHROME2", 16,
                      generate_instance_uid=False)
    for study in range(SMALL_STUDIES):
        ds.StudyInstanceUID = generate_uid(entropy_srcs=["bench-small", str(study)])
        ds.SeriesInstanceUID = generate_uid(entropy_srcs=["bench-small", str(study), "s"])
        ds.PatientName, ds.PatientID = f"Small^{study:02d}", f"SMALL-{study:02d}"
        (folder / f"study{study:02d}").mkdir(parents=True)
        for index in range(SMALL_FILES // SMALL_STUDIES):
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(
                entropy_srcs=["bench-small", f"{study}:{index}"])
            ds.InstanceNumber = index + 1
            ds.save_as(folder / f"study{study:02d}" / f"{index:03d}.dcm", enforce_file_format=True)
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def bench_many(browser, site: str, folder: Path, size: int) -> None:
    page = fresh_page(browser, site + "local")
    heap_before = page.workers[0].evaluate(HEAP)
    t0 = open_folder(page, folder)
    page.wait_for_function(f"() => document.querySelectorAll('tr.study').length >= "
                           f"{SMALL_STUDIES}", timeout=300_000)
    listed = now(page) - t0
    heap = page.workers[0].evaluate(HEAP)
    mib = 1024 * 1024
    print(f"local folder, {SMALL_FILES} files ({size / mib:.0f} MiB): study list in "
          f"{listed:.0f} ms; WebAssembly heap {heap_before / mib:.0f} -> {heap / mib:.0f} MiB")
    page.context.close()


def main() -> int:
    manifest = make_test_data.ensure()
    ct = manifest.study("ct")
    with tempfile.TemporaryDirectory() as work:
        work_dir = Path(work)
        dist = work_dir / "dist"
        subprocess.run([sys.executable, str(ROOT / "scripts" / "build_static.py"), "--out",
                        str(dist), "--config", str(ROOT / "config" / "local-orthanc.json"),
                        "--no-demo"], check=True, stdout=subprocess.DEVNULL)
        ct_folder = work_dir / "ct"
        ct_folder.mkdir()
        for instance in ct.instances:
            shutil.copyfile(manifest.root / instance.path, ct_folder / Path(instance.path).name)
        many = work_dir / "many"
        size = small_folder(many)
        server = start_orthanc(work_dir / "orthanc")
        try:
            server.upload([manifest.root / i.path for i in ct.instances])
            site = serve_in_thread(dist, {"/dicom-web": server.dicomweb_root})
            with chromium() as browser:
                bench_ct(browser, site, ct_folder, ct.study_uid)
                bench_many(browser, site, many, size)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
