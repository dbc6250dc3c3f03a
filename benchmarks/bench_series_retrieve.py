"""A stack from one WADO-RS Retrieve Series response against one request a frame.

The same build served twice by ``ohifpy serve`` in front of one Orthanc: as built
(``retrieveWholeSeries`` on, its default) and with ``retrieveWholeSeries: false`` in the
served config. For the 200-slice 512² CT in explicit VR little endian (and, with
``--syntax``, a transcoded copy: JPEG-LS or JPEG 2000), in headless Chromium, runs
interleaved, each in a fresh browser context: cold (empty profile) and warm (the same URL
again in the same tab), the viewer's own marks in ms since navigation:
``ohifpy:first-image`` and ``ohifpy:series-loaded`` (every image of the stack decoded and
held), and the series' load time, series-loaded minus first image. Then, in CPython
(httpx against the same Orthanc, no proxy), the client alone: the 200 frames six requests
at a time against the one series response, cut into frames as it arrives.

Nothing is asserted. Run: ``.venv/bin/python benchmarks/bench_series_retrieve.py
[--runs N] [--syntax "JPEG-LS"]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_browser import build_dist, chromium, serve_in_thread, wait_for_mark  # noqa: I001
from bench_vs_ohif import SYNTAXES, study_uid, transcoded

import make_test_data
import pydicom
from orthanc import start_orthanc
from playwright.sync_api import Browser

from ohifpy.config import DicomWebSource
from ohifpy.dicomweb import DICOMwebClient
from ohifpy.dicomweb.limits import PixelDataSize

MARKS = ["ohifpy:first-image", "ohifpy:series-loaded"]
WAYS = {"series response": True, "frame requests": False}


def site_without_series_retrieve(dist: Path, work: Path) -> Path:
    """A copy of the build whose data source says ``retrieveWholeSeries: false``."""
    copy = work / "frames-dist"
    shutil.copytree(dist, copy, symlinks=True)
    config_file = copy / "config" / "app-config.json"
    config = json.loads(config_file.read_text())
    for source in config["dataSources"]:
        source["configuration"]["retrieveWholeSeries"] = False
    config_file.write_text(json.dumps(config))
    return copy


def visit(browser: Browser, url: str) -> list[list[int]]:
    """A cold visit, then a warm one in the same tab: [first image, series loaded] each."""
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    times = []
    for _ in ("cold", "warm"):
        page.goto(url)
        wait_for_mark(page, MARKS[-1])
        times.append(page.evaluate(
            "ns => ns.map(n => Math.round(performance.getEntriesByName(n, 'mark')[0].startTime))",
            MARKS))
    context.close()
    return times


async def client_alone(root: str, study_uid: str, series_uid: str,
                       sops: list[str]) -> dict[str, float]:
    """ms to have every frame's bytes in CPython: frame requests (6 at a time) vs the series."""
    source = DicomWebSource(name="orthanc", qidoRoot=root, wadoRoot=root)
    size = PixelDataSize(512 * 512 * 2)
    async with DICOMwebClient(source) as client:
        limit = asyncio.Semaphore(6)

        async def frame(sop: str) -> int:
            async with limit:
                (got,) = await client.retrieve_instance_frames(study_uid, series_uid, sop, [1],
                                                               pixel_size=size)
                return len(got.data)

        started = time.perf_counter()
        await asyncio.gather(*map(frame, sops))
        one_by_one = time.perf_counter() - started
        started = time.perf_counter()
        async for _ in client.retrieve_series_frames(study_uid, series_uid,
                                                      dict.fromkeys(sops, size)):
            pass
        whole = time.perf_counter() - started
    return {"frame requests": one_by_one * 1000, "series response": whole * 1000}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each way (default 3)")
    parser.add_argument("--syntax", choices=list(SYNTAXES), default="explicit LE")
    args = parser.parse_args()
    manifest = make_test_data.ensure()
    ct = [manifest.root / i.path for i in manifest.study("ct").instances]
    variant = SYNTAXES[args.syntax]
    files = ct if variant is None else transcoded(ct, variant)
    study = study_uid(files)
    with tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        server = start_orthanc(work / "orthanc")
        try:
            server.upload(files)
            proxy = {"/dicom-web": server.dicomweb_root}
            dist = build_dist(work_dir)
            sites = {"series response": serve_in_thread(dist, proxy),
                     "frame requests": serve_in_thread(site_without_series_retrieve(dist, work),
                                                       proxy)}
            results: dict[str, list[list[list[int]]]] = {way: [] for way in WAYS}
            with chromium() as browser:
                for run in range(args.runs):
                    for way in (WAYS if run % 2 == 0 else reversed(list(WAYS))):
                        url = f"{sites[way]}viewer?StudyInstanceUIDs={study}"
                        results[way].append(visit(browser, url))
                        print(f"  run {run + 1}, {way}: cold {results[way][-1][0]}, "
                              f"warm {results[way][-1][1]} ms", flush=True)
            series_uid, sops = _series_of(files)
            alone = asyncio.run(client_alone(server.dicomweb_root, study, series_uid, sops))
        finally:
            server.stop()
    print(f"\n{args.syntax}, 200 slices of 512², Chromium, median of {args.runs} runs (ms):")
    print(f"  {'':18}{'first cold':>12}{'loaded cold':>13}{'load cold':>11}"
          f"{'first warm':>12}{'loaded warm':>13}{'load warm':>11}")
    for way, runs in results.items():
        cells = []
        for visit_index in (0, 1):
            first = statistics.median(r[visit_index][0] for r in runs)
            loaded = statistics.median(r[visit_index][1] for r in runs)
            load = statistics.median(r[visit_index][1] - r[visit_index][0] for r in runs)
            cells += [f"{first:>12.0f}", f"{loaded:>13.0f}", f"{load:>11.0f}"]
        print(f"  {way:18}{''.join(cells)}")
    print("\nclient alone (CPython, httpx, Orthanc on loopback, ms): "
          + ", ".join(f"{way} {ms:.0f}" for way, ms in alone.items()))
    return 0


def _series_of(files: list[Path]) -> tuple[str, list[str]]:
    datasets = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
    return str(datasets[0].SeriesInstanceUID), [str(d.SOPInstanceUID) for d in datasets]


if __name__ == "__main__":
    sys.exit(main())
