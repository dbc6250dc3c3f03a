"""Ours against OHIF 3.13.2, side by side: same Orthanc, same static server, same browser.

OHIF is its released static build (npm ``@ohif/app@3.13.2``), fetched on demand with
``npm pack`` into ``.cache/ohif-app-3.13.2/`` (gitignored), the tarball checked against
the registry's sha512 ``dist.integrity``, ``package/dist`` extracted and its
``app-config.js`` pointed at ``window.location.origin + '/dicom-web'`` (WADO-RS frames,
no static WADO, no bulk-data transform, ``qidoSupportsIncludeField: false``: Orthanc
ignores OHIF's percent-encoded ``includefield``). Both sites are served by ``ohifpy
serve`` (two instances of the same server, same compression and caching) with Orthanc
proxied at ``/dicom-web``, and opened in Debian's headless Chromium at 1200x800.

Data: the 200-slice 512² CT of the test data in explicit VR little endian, and the same
200 slices transcoded (new UIDs, cached in ``.cache/bench-vs-ohif/``) to JPEG lossless
SV1 (dcmcjpeg), JPEG-LS lossless (dcmcjpls) and JPEG 2000 lossless (gdcmconv); a
2,000-slice series (ten copies of the CT at new positions, new UIDs; ``--big-slices
5000``: twenty-five) generated in a temporary folder. Each study is a study of its own in
one Orthanc.

How each number is measured (the same way for both viewers):

- first image: an init script polls, on every animation frame, the largest ``<canvas>``
  on the page (by on-screen area), draws it into a 32x32 2D canvas and counts the distinct
  grey levels; the first frame with at least 8 is the first image (ms since navigation,
  ``performance.now()``). Both viewers show the image on a 2D canvas (OHIF's cornerstone
  renders off screen with WebGL or its CPU fallback and copies to a 2D canvas), so the
  read-back works for both; checked on both.
- loaded: the series arrived and the browser went quiet: no request under ``/dicom-web``
  in flight or finished for 1.5 s, and every 200 ms bin of that 1.5 s below 20% of one
  core for the whole Chromium process tree (``/proc/<pid>/stat``, sampled every 100 ms);
  the time reported is the later of the last ``/dicom-web`` response and the end of the
  last busy bin. ``frames`` is the number of distinct WADO-RS frames fetched.
- scroll: after loading, 150 real wheel notches (Playwright ``mouse.wheel``, deltaY +100,
  each awaited) at the viewport's centre, from the first image; every animation frame
  samples the largest canvas (128x128 read-back, hashed) and counts the frames whose pixels changed;
  fps = changed frames / time from the first event to the last change.
- memory: proportional set size (``Pss`` in ``/proc/<pid>/smaps_rollup``) summed over the
  Chromium renderer and GPU processes (``--type=renderer``/``--type=gpu-process``; not the
  renderer of Chromium's own UI, ``--top-chrome-webui``), once
  the series is loaded; a fresh browser per run, so they are this page's. Peak memory:
  the largest of those sums, sampled every 0.5 s from navigation to loaded.
- memory per held slice (explicit LE only): the slope of memory over the slices held,
  between the first ``SMALL_SLICES`` slices of the CT (a study of its own) and the whole
  CT, each loaded cold in a fresh browser of its own: (memory of the CT - memory of the
  small series) / (the difference of their slices). The page's baseline (runtime, code,
  canvases, the pipeline's working memory) cancels out. Memory here is what the
  renderer and GPU processes allocated (``Pss_Anon`` + ``Pss_Shmem``; not their
  file-backed pages, whose PSS falls by 40 MB and more as other Chromium processes on
  the machine map the same binary), taken once the series is loaded and a full garbage
  collection ran in the page and in each of its workers (Chromium runs with
  ``--js-flags=--expose-gc``; no other row calls it): what the page holds, not what it
  has yet to collect. "As left" is the same slope without that collection. The growth
  from the first image to loaded would not do: ours allocates its whole volume with the
  first frame, and what is collected when varies from run to run. Both viewers hold
  every slice of these series; ours holds 512² x 2 bytes = 0.5 MB a slice.
- cold: a fresh browser (empty profile, no HTTP cache, no service worker), its tab on
  ``about:blank`` until Chromium has settled (its window's own UI loaded: see
  ``settle``), then the viewer's URL; warm: the same URL opened again in the same tab
  after that visit (once a service worker, if the site registers one, is active). Each
  number is the median of ``--runs`` runs.

Nothing is asserted. Run: ``.venv/bin/python benchmarks/bench_vs_ohif.py`` (all four
syntaxes and the 2,000-slice series) or with ``--quick`` (explicit LE only, 2 runs).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_browser import CHROMIUM_ARGS, ROOT, build_dist, chromium, serve_in_thread  # noqa: I001
from chromium_usage import CpuMonitor, renderer_gpu_mb, settle

import make_test_data
import pydicom
from orthanc import OrthancServer, start_orthanc
from playwright.sync_api import Page, Request
from pydicom.uid import generate_uid

OHIF_VERSION = "3.13.2"
OHIF_PACKAGE = f"@ohif/app@{OHIF_VERSION}"
CACHE = ROOT / ".cache"
OHIF_DIR = CACHE / f"ohif-app-{OHIF_VERSION}"
DATA_DIR = CACHE / "bench-vs-ohif"
VIEWPORT = {"width": 1200, "height": 800}
# label -> make_test_data variant key whose encoder makes it (None: the CT as stored).
SYNTAXES = {"explicit LE": None, "JPEG lossless": "ct-jpeg-lossless-sv1",
            "JPEG-LS": "ct-jpeg-ls", "JPEG 2000": "ct-j2k"}
BIG_SLICES = 2000
SMALL_SLICES = 20
QUIET_S = 1.5
# V8's gc() in every page and worker of this benchmark's browsers; only held_memory calls it.
CHROMIUM_ARGS.append("--js-flags=--expose-gc")

# Runs before any page script, in both sites: OHIF's onboarding tour and its
# investigational-use dialog marked as seen, then the first-image probe.
PROBE = """(() => {
  try {
    localStorage.setItem('shownTours', JSON.stringify(['basicViewerTour']));
    localStorage.setItem('investigationalUseDialog', JSON.stringify({expiryDate: '2999-01-01'}));
    sessionStorage.setItem('investigationalUseDialog', 'hidden');
  } catch (e) {}
  if (window !== window.top) return;
  const probes = {};
  const largest = () => {
    let best = null, area = 0;
    for (const c of document.querySelectorAll('canvas')) {
      const r = c.getBoundingClientRect(), a = r.width * r.height;
      if (a > area && c.width > 0 && c.height > 0) { best = c; area = a; }
    }
    return best;
  };
  const sample = (size) => {
    const c = largest(); if (!c) return null;
    if (!probes[size]) {
      const p = document.createElement('canvas'); p.width = p.height = size;
      probes[size] = p.getContext('2d', {willReadFrequently: true});
    }
    const ctx = probes[size];
    ctx.fillStyle = '#000'; ctx.fillRect(0, 0, size, size);
    ctx.drawImage(c, 0, 0, size, size);
    const d = ctx.getImageData(0, 0, size, size).data;
    const levels = new Set(); let hash = 0;
    for (let i = 0; i < d.length; i += 4) { levels.add(d[i]); hash = (hash * 31 + d[i]) | 0; }
    return {levels: levels.size, hash};
  };
  window.__bench = {first: null, largest, sample};
  const tick = () => {
    const s = sample(32);
    if (s && s.levels >= 8) window.__bench.first = performance.now();
    else requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();"""
# Counts, on every animation frame, the frames whose largest canvas changed (128x128
# read-back, hashed) while the wheel events come in; done after 30 unchanged frames.
SCROLL_COUNTER = """() => {
  const {sample} = window.__bench;
  const state = window.__scroll = {changed: 0, idle: 0, t0: performance.now(), tLast: 0};
  let last = sample(128).hash;
  const tick = () => {
    const s = sample(128).hash;
    if (s !== last) { state.changed++; state.tLast = performance.now(); state.idle = 0; }
    else state.idle++;
    last = s;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  const r = window.__bench.largest().getBoundingClientRect();
  return [r.left + r.width / 2, r.top + r.height / 2];
}"""
SW_READY = """async () => {
  if (!('serviceWorker' in navigator)) return false;
  const reg = await navigator.serviceWorker.getRegistration();
  if (!reg) return false;
  await Promise.race([navigator.serviceWorker.ready, new Promise(r => setTimeout(r, 20000))]);
  return true;
}"""


# ------------------------------------------------------------------------- OHIF's build

def npm(*args: str) -> str:
    return subprocess.run(["npm", *args], check=True, capture_output=True, text=True,
                          cwd=OHIF_DIR).stdout.strip()


def ohif_dist() -> Path:
    """OHIF's static build, fetched, verified, extracted and configured once."""
    dist = OHIF_DIR / "package" / "dist"
    if (dist / "app-config.js").exists() and "BENCH_PATCHED" in (dist / "app-config.js").read_text():
        return dist
    OHIF_DIR.mkdir(parents=True, exist_ok=True)
    expected = npm("view", OHIF_PACKAGE, "dist.integrity")
    tarball = OHIF_DIR / f"ohif-app-{OHIF_VERSION}.tgz"
    if not tarball.exists():
        print(f"fetching {OHIF_PACKAGE} (npm pack, ~50 MB)...", flush=True)
        npm("pack", OHIF_PACKAGE, "--pack-destination", str(OHIF_DIR))
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if digest != expected:
        tarball.unlink()
        raise SystemExit(f"{tarball.name}: integrity {digest} is not the registry's {expected}")
    shutil.rmtree(OHIF_DIR / "package", ignore_errors=True)
    with tarfile.open(tarball) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith("package/dist/")]
        tar.extractall(OHIF_DIR, members=members, filter="data")
    patch_ohif_config(dist / "app-config.js")
    return dist


def patch_ohif_config(path: Path) -> None:
    """One DICOMweb source at the page's origin, WADO-RS everywhere (Orthanc has no
    static WADO and no ``/pixeldata.mp4``)."""
    config = path.read_text()
    for old, new in (
        ("'https://d14fa38qiwhyfd.cloudfront.net/dicomweb'", "window.location.origin + '/dicom-web'"),
        ("staticWado: true,", "staticWado: false,"),
        ("thumbnailRendering: 'thumbnail',", "thumbnailRendering: 'wadors',"),
        ("transform: url => url.replace('/pixeldata.mp4', '/rendered'),", ""),
    ):
        if old not in config:
            raise SystemExit(f"OHIF's app-config.js changed: {old!r} not found")
        config = config.replace(old, new)
    if "qidoSupportsIncludeField: false" not in config:
        raise SystemExit("OHIF's app-config.js changed: qidoSupportsIncludeField is not false")
    path.write_text(config + "\n// BENCH_PATCHED\n")


# -------------------------------------------------------------------------------- data

def new_uids(ds: pydicom.Dataset, key: str, names: tuple[str, ...]) -> None:
    for name in names:
        if name in ds:
            setattr(ds, name, generate_uid(entropy_srcs=[key, name, str(ds[name].value)]))
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID


ALL_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID")


def transcoded(sources: list[Path], variant: str) -> list[Path]:
    """The CT re-identified as a study of its own and encoded by ``variant``'s encoder
    (make_test_data's dcmtk/GDCM command); cached under ``.cache/bench-vs-ohif``."""
    folder = DATA_DIR / variant
    if (folder / "done").exists():
        return sorted(folder.glob("*.dcm"))
    encode = next(v for v in make_test_data.VARIANTS if v.key == variant).encode
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    print(f"transcoding {len(sources)} slices for {variant}...", flush=True)

    def one(src: Path) -> Path:
        ds = pydicom.dcmread(src)
        new_uids(ds, "bench-vs-ohif-" + variant, ALL_UIDS)
        ds.StudyDescription = f"bench vs OHIF {variant}"
        plain = folder / (src.stem + ".plain")
        ds.save_as(plain, enforce_file_format=True)
        out = folder / (src.stem + ".dcm")
        encode(plain, out)
        plain.unlink()
        return out

    with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        out = sorted(pool.map(one, sources))
    (folder / "done").write_text("")
    return out


def big_series(sources: list[Path], folder: Path, copies: int) -> list[Path]:
    """``copies`` copies of the CT stacked one after another: one series, new UIDs."""
    folder.mkdir(parents=True, exist_ok=True)
    first, second = (pydicom.dcmread(p, stop_before_pixels=True) for p in sources[:2])
    step = float(second.ImagePositionPatient[2]) - float(first.ImagePositionPatient[2])
    out = []
    key = f"bench-vs-ohif-{len(sources) * copies}"
    for copy in range(copies):
        for n, src in enumerate(sources):
            ds = pydicom.dcmread(src)
            new_uids(ds, key, ALL_UIDS[:2] + ALL_UIDS[3:])
            new_uids(ds, f"{key}-{copy}", ("SOPInstanceUID",))
            shift = copy * len(sources) * step
            ds.ImagePositionPatient[2] = float(ds.ImagePositionPatient[2]) + shift
            if "SliceLocation" in ds:
                ds.SliceLocation = float(ds.SliceLocation) + shift
            ds.InstanceNumber = copy * len(sources) + n + 1
            ds.StudyDescription = ds.SeriesDescription = f"bench vs OHIF {len(sources) * copies} slices"
            path = folder / f"{copy:02d}-{n:04d}.dcm"
            ds.save_as(path, enforce_file_format=True)
            out.append(path)
    return out


def study_uid(files: list[Path]) -> str:
    return str(pydicom.dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)


# ------------------------------------------------------------- the browser's processes

ALLOCATED = ("Pss_Anon", "Pss_Shmem")
"""What a page allocates, without its code: the PSS of file-backed pages (Chromium's
binary, 40-70 MB) falls as other Chromium processes on the machine map the same file."""


# ------------------------------------------------------------------------ measurements

@dataclass
class Network:
    """Requests under /dicom-web, from Playwright's context events (workers' included)."""

    in_flight: int = 0
    last_end: float = 0.0
    frames: set[str] = field(default_factory=set)

    def attach(self, page: Page) -> None:
        page.context.on("request", self.started)
        page.context.on("requestfinished", self.ended)
        page.context.on("requestfailed", self.ended)

    def started(self, request: Request) -> None:
        if "/dicom-web/" in request.url:
            self.in_flight += 1

    def ended(self, request: Request) -> None:
        if "/dicom-web/" not in request.url:
            return
        self.in_flight -= 1
        self.last_end = time.time()
        if "/frames/" in request.url:
            base, numbers = request.url.split("/frames/", 1)
            for n in numbers.split("?")[0].split(","):
                self.frames.add(f"{base}/{n}")


@dataclass
class Visit:
    first_ms: float
    loaded_ms: float
    frames: int
    memory_mb: float
    peak_mb: float = 0.0
    scroll_fps: float | None = None
    own_mark_ms: float | None = None
    as_left_mb: float | None = None
    """Renderer+GPU memory allocated once loaded (:func:`held_memory`)."""
    held_mb: float | None = None
    """The same once garbage is collected."""
    per_slice_mb: float | None = None
    per_slice_as_left_mb: float | None = None


def dismiss(page: Page) -> None:
    """OHIF's tour and banner, should the init script's storage keys not have hidden them."""
    for text in ("Skip all", "Confirm and hide"):
        button = page.get_by_text(text, exact=True)
        if button.count() and button.first.is_visible():
            button.first.click(timeout=2000)


def visit(page: Page, url: str, monitor: CpuMonitor, timeout_s: float) -> Visit:
    """Open ``url`` in ``page``; returns once the series is loaded (network and CPU quiet)."""
    network = Network()
    network.attach(page)
    page.goto(url)
    origin = page.evaluate("performance.timeOrigin") / 1000
    page.wait_for_function("window.__bench && window.__bench.first !== null",
                           timeout=timeout_s * 1000, polling=100)
    first = page.evaluate("window.__bench.first")
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        page.wait_for_timeout(250)  # also lets Playwright deliver the network events
        now = time.time()
        if not network.frames or network.in_flight > 0 or now - network.last_end < QUIET_S:
            continue
        busy = monitor.busy_bins(origin)
        if busy and busy[-1] > now - QUIET_S:
            continue
        end = max([network.last_end, *busy[-1:]])
        break
    else:
        end = time.time()
        print(f"  (not quiet after {timeout_s:.0f} s: {len(network.frames)} frames)", flush=True)
    dismiss(page)
    own = page.evaluate("performance.getEntriesByName('ohifpy:series-loaded', 'mark')[0]?.startTime")
    for event, handler in (("request", network.started), ("requestfinished", network.ended),
                           ("requestfailed", network.ended)):
        page.context.remove_listener(event, handler)
    return Visit(first, (end - origin) * 1000, len(network.frames), renderer_gpu_mb(),
                 monitor.peak_mb(origin), own_mark_ms=own)


@contextmanager
def browser_page() -> Iterator[tuple[Page, CpuMonitor]]:
    """A fresh browser's tab on ``about:blank``, the browser settled (see :func:`settle`)."""
    with chromium() as browser:
        monitor = CpuMonitor()
        context = browser.new_context(viewport=VIEWPORT)
        context.add_init_script(PROBE)
        try:
            page = context.new_page()
            settle(page, monitor)
            yield page, monitor
        finally:
            monitor.stop.set()
            context.close()


def held_memory(url: str, timeout_s: float) -> Visit:
    """A cold visit in a fresh browser, then the memory it allocated (``as_left_mb``), and
    that once a full garbage collection ran in the page and in each of its workers
    (``held_mb``)."""
    with browser_page() as (page, monitor):
        loaded = visit(page, url, monitor, timeout_s)
        loaded.as_left_mb = renderer_gpu_mb(ALLOCATED)
        for target in (page, *page.workers):
            target.evaluate("gc()")
        page.wait_for_timeout(1000)  # backing stores are freed after the collection
        loaded.held_mb = renderer_gpu_mb(ALLOCATED)
    return loaded


def per_slice(small: Visit, large: Visit, slices: int,
              memory: Callable[[Visit], float | None]) -> float:
    """The slope of memory over slices held, from ``SMALL_SLICES`` to ``slices``."""
    small_mb, large_mb = memory(small), memory(large)
    assert small_mb is not None and large_mb is not None
    return (large_mb - small_mb) / (slices - SMALL_SLICES)


def scroll_fps(page: Page, steps: int) -> float:
    """Real wheel input (CDP ``Input.dispatchMouseEvent``, each awaited), ``steps`` notches
    down from the first image; changed frames per second from the first event to the last
    change."""
    x, y = page.evaluate(SCROLL_COUNTER)
    page.mouse.move(x, y)
    page.evaluate("window.__scroll.t0 = performance.now()")
    for _ in range(steps):
        page.mouse.wheel(0, 100)
    page.wait_for_function("window.__scroll.idle > 30", timeout=60_000)
    state = page.evaluate("window.__scroll")
    elapsed = state["tLast"] - state["t0"]
    return state["changed"] / elapsed * 1000 if state["changed"] and elapsed > 0 else 0.0


def run_once(url: str, slices: int, timeout_s: float) -> tuple[Visit, Visit]:
    """A cold visit in a fresh browser, then a warm one (same URL again, same tab), then
    scrolling on the warm page."""
    with browser_page() as (page, monitor):
        cold = visit(page, url, monitor, timeout_s)
        page.evaluate(SW_READY)
        warm = visit(page, url, monitor, timeout_s)
        warm.scroll_fps = scroll_fps(page, min(slices - 1, 150))
    return cold, warm


# ----------------------------------------------------------------------------- report

Row = tuple[str, Callable[[Visit], float | None], str]
ROWS: list[tuple[str, Row]] = [
    ("cold", ("first image, cold", lambda v: v.first_ms, "ms")),
    ("warm", ("first image, warm", lambda v: v.first_ms, "ms")),
    ("cold", ("loaded, cold", lambda v: v.loaded_ms, "ms")),
    ("warm", ("loaded, warm", lambda v: v.loaded_ms, "ms")),
    ("cold", ("frames fetched, cold", lambda v: v.frames, "")),
    ("warm", ("scroll", lambda v: v.scroll_fps, "fps")),
    ("cold", ("renderer+GPU memory, cold", lambda v: v.memory_mb, "MB")),
    ("warm", ("renderer+GPU memory, warm", lambda v: v.memory_mb, "MB")),
    ("cold", ("peak renderer+GPU, cold", lambda v: v.peak_mb, "MB")),
    ("cold", ("memory per held slice", lambda v: v.per_slice_mb, "MB")),
    ("cold", ("  per slice as left (no GC)", lambda v: v.per_slice_as_left_mb, "MB")),
]


def median(visits: list[Visit], get: Callable[[Visit], float | None]) -> float | None:
    values = [v for v in map(get, visits) if v is not None]
    return statistics.median(values) if values else None


def report(title: str, results: dict[str, dict[str, list[Visit]]]) -> None:
    print(f"\n{title}")
    print(f"  {'':34}{'ours':>10}{'OHIF':>10}{'ours/OHIF':>11}")
    for kind, (label, get, unit) in ROWS:
        ours, ohif = (median(results[name][kind], get) for name in ("ours", "ohif"))
        ratio = f"{ours / ohif:.2f}" if ours is not None and ohif else "-"
        digits = 2 if "slice" in label else 0
        cells = "".join(f"{v:>10.{digits}f}" if v is not None else f"{'-':>10}"
                        for v in (ours, ohif))
        print(f"  {label + (f' ({unit})' if unit else ''):34}{cells}{ratio:>11}")
    own = median(results["ours"]["cold"], lambda v: v.own_mark_ms)
    if own is not None:
        print(f"  (ours' own ohifpy:series-loaded mark, cold: {own:.0f} ms)")
    print(flush=True)


def memory_per_slice(cold: Visit, site: str, small_uid: str, uid: str, slices: int,
                     timeout_s: float) -> None:
    """Sets ``cold``'s memory per held slice: the small series and the whole one, each
    loaded cold and garbage collected."""
    small, large = (held_memory(f"{site}viewer?StudyInstanceUIDs={u}", timeout_s)
                    for u in (small_uid, uid))
    cold.per_slice_mb = per_slice(small, large, slices, lambda v: v.held_mb)
    cold.per_slice_as_left_mb = per_slice(small, large, slices, lambda v: v.as_left_mb)
    print(f"    allocated: {SMALL_SLICES} slices {small.as_left_mb:.0f} MB, {small.held_mb:.0f} "
          f"MB collected; {slices} slices {large.as_left_mb:.0f} MB, {large.held_mb:.0f} MB "
          f"collected: {cold.per_slice_mb:.2f} MB a slice ({cold.per_slice_as_left_mb:.2f} as "
          "left)", flush=True)


def bench(title: str, sites: dict[str, str], uid: str, slices: int, runs: int,
          small_uid: str | None = None) -> None:
    """Every row for one study; with ``small_uid`` (a series of the study's first slices)
    the memory per held slice too."""
    results: dict[str, dict[str, list[Visit]]] = {n: {"cold": [], "warm": []} for n in sites}
    timeout_s = 120 + slices * 0.2
    for n in range(runs):
        for name in (list(sites) if n % 2 == 0 else list(sites)[::-1]):
            cold, warm = run_once(f"{sites[name]}viewer?StudyInstanceUIDs={uid}", slices, timeout_s)
            results[name]["cold"].append(cold)
            results[name]["warm"].append(warm)
            print(f"  {title}, run {n + 1}, {name}: first {cold.first_ms:.0f}/{warm.first_ms:.0f} "
                  f"ms, loaded {cold.loaded_ms:.0f}/{warm.loaded_ms:.0f} ms (cold/warm), "
                  f"{cold.frames} frames, scroll {warm.scroll_fps:.1f} fps, "
                  f"{cold.memory_mb:.0f}/{warm.memory_mb:.0f} MB", flush=True)
            if small_uid is not None:
                memory_per_slice(cold, sites[name], small_uid, uid, slices, timeout_s)
    report(title, results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="explicit LE only, no 2,000-slice series, 2 runs")
    parser.add_argument("--runs", type=int, help="runs per number (default 3, --quick 2)")
    parser.add_argument("--syntax", action="append", choices=list(SYNTAXES),
                        help="only these transfer syntaxes (repeatable)")
    parser.add_argument("--no-big", action="store_true", help="skip the 2,000-slice series")
    parser.add_argument("--only-big", action="store_true", help="only the 2,000-slice series")
    parser.add_argument("--big-slices", type=int, default=BIG_SLICES, metavar="N",
                        help="slices of the big series: a multiple of the CT's 200 "
                        "(default 2000; 5000 is 2.5 GB of pixels)")
    args = parser.parse_args()
    runs = args.runs or (2 if args.quick else 3)
    syntaxes = [] if args.only_big else args.syntax or (["explicit LE"] if args.quick else list(SYNTAXES))
    big = not (args.quick or args.no_big)

    ohif = ohif_dist()
    manifest = make_test_data.ensure()
    ct = [manifest.root / i.path for i in manifest.study("ct").instances]
    studies = {label: (ct if variant is None else transcoded(ct, variant))
               for label, variant in SYNTAXES.items() if label in syntaxes}
    with tempfile.TemporaryDirectory(prefix="bench-vs-ohif-") as work:
        dist = build_dist(work)
        server: OrthancServer = start_orthanc(Path(work) / "orthanc")
        try:
            for files in studies.values():
                server.upload(files)
            small_uid = None  # the reference of memory per held slice
            if "explicit LE" in studies:
                small = big_series(ct[:SMALL_SLICES], Path(work) / "small", 1)
                server.upload(small)
                small_uid = study_uid(small)
            if big:
                copies = max(1, args.big_slices // len(ct))
                print(f"storing a {len(ct) * copies}-slice series...", flush=True)
                big_files = big_series(ct, Path(work) / "big", copies)
                server.upload(big_files)
                studies[f"{len(big_files)}-slice series"] = big_files
            proxy = {"/dicom-web": server.dicomweb_root}
            sites = {"ours": serve_in_thread(dist, proxy), "ohif": serve_in_thread(ohif, proxy)}
            print(f"ours vs OHIF {OHIF_VERSION}, 512² CT, median of {runs} runs; times in ms "
                  "since navigation", flush=True)
            for label, files in studies.items():
                title = label if "series" in label else f"{label}, {len(files)} slices"
                bench(title, sites, study_uid(files), len(files), runs,
                      small_uid if label == "explicit LE" else None)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
