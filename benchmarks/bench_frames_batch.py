"""Benchmark: a large multi-frame instance loaded one frame a WADO-RS request against
several a request (``framesPerRequest``), from Orthanc on loopback.

The instance: 300 frames of 512x512, 16 bits allocated (the synthetic XA cine of
:mod:`ohifpy.synthetic`, each pixel 2x2), once in Explicit VR Little Endian (150 MiB) and
once JPEG lossless SV1 (dcmcjpeg), written once under ``.cache/bench-frames-batch/``.

- CPython: the worker API's ``loadSeries`` (the viewer's pipeline: requests, decoding,
  frame cache) from a fresh worker each run, its wall time until every frame is cached,
  the time to its first progress event (the first frame, asked for alone), and the frames
  requests sent; median of 3 runs per line, the lines interleaved run by run. The bytes
  bound of one request (``REQUEST_BYTES``: 32 of these frames) is lifted for this sweep
  so that N alone is measured; 16 is the default.
- Chromium (headless, the built site through ``ohifpy serve --proxy``): from following
  the viewer link (Python started before, in a fresh context) to ``ohifpy:first-image``
  and ``ohifpy:series-loaded``, with ``framesPerRequest`` 1 and 16 in the site's
  ``config/app-config.json`` (edited in place between runs, as a deployer would), and the
  frames requests the page made; 2 runs each, interleaved.

Nothing is asserted. Run: ``.venv/bin/python benchmarks/bench_frames_batch.py``
(``--no-browser`` for the CPython part only).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "scripts"), str(ROOT / "benchmarks")]

import numpy as np
import pydicom
from bench_browser import build_dist, chromium, serve_in_thread
from bench_local import follow_link, fresh_page
from orthanc import start_orthanc
from pydicom.uid import generate_uid
from test_worker_api import CountingTransport

from ohifpy import synthetic
from ohifpy.viewer import frames as frames_module
from ohifpy.worker_api import WorkerAPI

FRAMES = 300
CACHE = ROOT / ".cache" / "bench-frames-batch"
SWEEP = (1, 4, 8, 16, 32, 64)
RUNS = 3
BROWSER_SETTINGS = (1, 16)
BROWSER_RUNS = 2


def instances() -> dict[str, Path]:
    """The 512² multi-frame instance as Explicit VR LE and JPEG lossless, written once."""
    paths = {"Explicit VR LE": CACHE / f"xa-{FRAMES}-evrle.dcm",
             "JPEG lossless": CACHE / f"xa-{FRAMES}-jpeg-lossless.dcm"}
    if all(path.exists() for path in paths.values()):
        return paths
    CACHE.mkdir(parents=True, exist_ok=True)
    ds = synthetic.xa_cine_study(FRAMES).datasets[0]
    ds.PixelData = np.repeat(np.repeat(ds.pixel_array, 2, axis=1), 2, axis=2).tobytes()
    ds.Rows = ds.Columns = 512
    for key, path in paths.items():
        ds.StudyInstanceUID = generate_uid(entropy_srcs=["bench-frames-batch", key])
        ds.SeriesInstanceUID = generate_uid(entropy_srcs=["bench-frames-batch", key, "series"])
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(
            entropy_srcs=["bench-frames-batch", key, "sop"])
        native = path.with_suffix(".native")
        ds.save_as(native, enforce_file_format=True)
        if key == "JPEG lossless":
            subprocess.run(["dcmcjpeg", "+e1", "+un", str(native), str(path)], check=True)
            native.unlink()
        else:
            native.rename(path)
    return paths


def config(frames_per_request: int) -> dict[str, Any]:
    return {"cacheSizeMB": 1024, "dataSources": [{"configuration": {
        "name": "orthanc", "qidoRoot": "/dicom-web", "wadoRoot": "/dicom-web",
        "framesPerRequest": frames_per_request}}]}


async def load_once(base_url: str, study_uid: str, frames_per_request: int
                    ) -> tuple[float, float, int]:
    """One fresh worker's ``loadSeries``: (ms to the first frame, ms to all, frames requests)."""
    progress: list[float] = []
    api = WorkerAPI(CountingTransport(), lambda event, data: progress.append(time.perf_counter()))
    try:
        await api.handle("init", {"config": config(frames_per_request), "baseUrl": base_url + "/"})
        opened = await api.handle("openViewer", {"studyInstanceUIDs": study_uid})
        uid = opened["result"]["viewports"][0]
        sent = len(api.transport.sent)
        started = time.perf_counter()
        answer = (await api.handle("loadSeries", {"displaySetUID": uid}))["result"]
        elapsed = time.perf_counter() - started
        assert answer["loaded"] == FRAMES, answer
        requests = sum("/frames/" in url for url, _ in api.transport.sent[sent:])
        return (progress[0] - started) * 1000, elapsed * 1000, requests
    finally:
        await api.transport.aclose()


async def bench_cpython(base_url: str, studies: dict[str, str]) -> None:
    print(f"CPython, loadSeries of a {FRAMES}-frame 512x512 instance from Orthanc "
          f"(median of {RUNS}): first frame, all frames, frames requests")
    results: dict[tuple[str, int], list[tuple[float, float, int]]] = {}
    bound = frames_module.REQUEST_BYTES
    frames_module.REQUEST_BYTES = 1 << 40
    try:
        for _ in range(RUNS):
            for name, study_uid in studies.items():
                for n in SWEEP:
                    results.setdefault((name, n), []).append(
                        await load_once(base_url, study_uid, n))
    finally:
        frames_module.REQUEST_BYTES = bound
    for (name, n), runs in results.items():
        first = statistics.median(r[0] for r in runs)
        whole = statistics.median(r[1] for r in runs)
        print(f"  {name:<15} framesPerRequest {n:>2}   first {first:6.0f} ms   all {whole:6.0f} "
              f"ms ({FRAMES / whole * 1000:5.0f} frames/s)   {runs[0][2]} requests")


def bench_browser(base_url: str, dicomweb_root: str, studies: dict[str, str]) -> None:
    print(f"Chromium, the viewer link followed to first-image and series-loaded of the "
          f"{FRAMES}-frame instance (ms), frames requests")
    with tempfile.TemporaryDirectory() as work:
        dist = build_dist(work)
        app_config = dist / "config" / "app-config.json"
        shipped = json.loads(app_config.read_text())
        site = serve_in_thread(dist, {"/dicom-web": dicomweb_root})
        with chromium() as browser:
            for _ in range(BROWSER_RUNS):
                for name, uid in studies.items():
                    for n in BROWSER_SETTINGS:
                        shipped["dataSources"][0]["configuration"]["framesPerRequest"] = n
                        app_config.write_text(json.dumps(shipped))
                        page = fresh_page(browser, site)
                        requests: list[str] = []
                        page.on("request", lambda r, seen=requests: seen.append(r.url)
                                if "/frames/" in r.url else None)
                        first, loaded = follow_link(
                            page, f"{site}viewer?StudyInstanceUIDs={uid}")
                        print(f"  {name:<15} framesPerRequest {n:>2}: first image {first:5d} ms, "
                              f"series loaded {loaded:6d} ms, {len(requests)} frames requests")
                        page.context.close()


def main() -> int:
    paths = instances()
    with tempfile.TemporaryDirectory() as work:
        server = start_orthanc(Path(work) / "orthanc")
        try:
            server.upload(list(paths.values()))
            studies = {name: str(pydicom.dcmread(path, stop_before_pixels=True)
                                 .StudyInstanceUID) for name, path in paths.items()}
            asyncio.run(bench_cpython(server.base_url, studies))
            if "--no-browser" not in sys.argv:
                bench_browser(server.base_url, server.dicomweb_root, studies)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
