"""worker_api's viewer-page methods against the real Orthanc: openViewer (studies grouped,
unknown ones reported, the hanging), renderThumbnail (from frames and server-rendered),
loadViewports (what is shown loads, what is no longer shown stops), memory."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from conftest import LoadedOrthanc
from PIL import Image
from test_worker_api import CountingTransport, result

from ohifpy.config import DicomWebSource
from ohifpy.dicomweb import DICOMwebClient
from ohifpy.image_loader import load_image_frame
from ohifpy.imaging import render_rgba
from ohifpy.model import Instance, display_sets_from_instances
from ohifpy.thumbnail import downsample_rgba
from ohifpy.worker_api import WorkerAPI

pytestmark = pytest.mark.cpython_only  # Orthanc, httpx

UNKNOWN_STUDY = "1.2.826.0.1.3680043.8.498.999999999"


def config(**source: Any) -> dict[str, Any]:
    return {"cacheSizeMB": 64, "dataSources": [{"configuration": {
        "name": "orthanc", "qidoRoot": "/dicom-web", "wadoRoot": "/dicom-web", **source}}]}


@pytest.fixture
async def worker(orthanc: LoadedOrthanc) -> AsyncIterator[tuple[WorkerAPI, list[Any]]]:
    events: list[Any] = []
    api = WorkerAPI(CountingTransport(), lambda event, data: events.append((event, data)))
    await result(api, "init", config=config(), baseUrl=orthanc.base_url + "/")
    yield api, events
    await api.transport.aclose()


async def test_open_viewer_groups_by_study_and_reports_unknown_ones(
        worker, orthanc: LoadedOrthanc) -> None:
    api, _ = worker
    ct, mr = orthanc.manifest.study("ct"), orthanc.manifest.study("mr")
    answer = await result(api, "openViewer", studyInstanceUIDs=[ct.study_uid, UNKNOWN_STUDY,
                                                                mr.study_uid], layout="3x3")
    assert [s["studyInstanceUID"] for s in answer["studies"]] == [ct.study_uid, mr.study_uid]
    header = answer["studies"][0]
    assert (header["patientName"], header["studyDescription"]) == (ct.patient_name, ct.description)
    assert header["displayDate"] == "2024-01-05"  # the panel's date, from StudyDate 20240105
    assert [m["studyInstanceUID"] for m in answer["missing"]] == [UNKNOWN_STUDY]
    assert answer["missing"][0]["message"]
    # Two studies: side by side, whatever the saved layout; each shows its first series.
    assert answer["layout"] == {"rows": 1, "columns": 2, "layoutOptions": None}
    shown = {d["displaySetUID"]: d["studyInstanceUID"] for d in answer["displaySets"]}
    assert [shown[uid] for uid in answer["viewports"]] == [ct.study_uid, mr.study_uid]
    assert answer["activeViewport"] == 0
    assert api.frames.cache.max_bytes == 64 * 1024 * 1024  # the config's cacheSizeMB

    nothing = await api.handle("openViewer", {"studyInstanceUIDs": UNKNOWN_STUDY})
    assert nothing["error"]["type"] in ("HTTPStatusError", "ModelError")
    assert UNKNOWN_STUDY in nothing["error"]["message"]


async def test_open_viewer_series_filter_initial_series_and_saved_layout(
        worker, orthanc: LoadedOrthanc) -> None:
    api, _ = worker
    xss = orthanc.manifest.study("xss")  # the one study with two series
    first, second = (s.series_uid for s in xss.series)
    both = await result(api, "openViewer", studyInstanceUIDs=xss.study_uid,
                        initialSeriesInstanceUID=second, layout="1x2")
    by_uid = {d["displaySetUID"]: d["seriesInstanceUID"] for d in both["displaySets"]}
    assert both["layout"] == {"rows": 1, "columns": 2, "layoutOptions": None}
    assert [by_uid[uid] for uid in both["viewports"]] == [second, first]
    only = await result(api, "openViewer", studyInstanceUIDs=xss.study_uid,
                        seriesInstanceUIDs=[first], layout="not a layout")
    assert [d["seriesInstanceUID"] for d in only["displaySets"]] == [first]
    assert only["layout"] == {"rows": 1, "columns": 1, "layoutOptions": None}


async def expected_thumbnail(source: DicomWebSource, study: str, size: int) -> np.ndarray:
    async with DICOMwebClient(source) as client:
        instances = [Instance.from_dataset(ds) for ds in
                     await client.retrieve_study_metadata(study)]
        (display_set,) = display_sets_from_instances(instances)
        image = display_set.images[len(display_set.images) // 2]
        frame = await load_image_frame(client, image)
    return downsample_rgba(render_rgba(frame, frame.default_window()), size)


@pytest.mark.parametrize("key", ["ct", "xa-cine", "rgb", "palette"])
async def test_thumbnail_from_frames_is_the_middle_image_reduced(
        worker, orthanc: LoadedOrthanc, dicomweb_source: DicomWebSource, key: str) -> None:
    api, _ = worker
    study = orthanc.manifest.study(key)
    (display_set,) = (await result(api, "openViewer", studyInstanceUIDs=study.study_uid))[
        "displaySets"]
    sent = len(api.transport.sent)
    thumb = await result(api, "renderThumbnail", displaySetUID=display_set["displaySetUID"],
                         size=64)
    frames = [url for url, _ in api.transport.sent[sent:] if "/frames/" in url]
    assert len(frames) == 1  # one frame, not the series
    assert thumb["imageIndex"] == display_set["numImages"] // 2
    assert max(thumb["width"], thumb["height"]) <= 64
    shown = np.asarray(thumb["rgba"]).reshape(thumb["height"], thumb["width"], 4)
    assert np.array_equal(shown, await expected_thumbnail(dicomweb_source, study.study_uid, 64))


async def test_thumbnail_rendered_by_the_server(orthanc: LoadedOrthanc) -> None:
    api = WorkerAPI(CountingTransport())
    await result(api, "init", config=config(thumbnailRendering="rendered"),
                 baseUrl=orthanc.base_url + "/")
    try:
        for key in ("ct", "xa-cine"):
            study = orthanc.manifest.study(key)
            (display_set,) = (await result(api, "openViewer", studyInstanceUIDs=study.study_uid))[
                "displaySets"]
            thumb = await result(api, "renderThumbnail",
                                 displaySetUID=display_set["displaySetUID"])
            url, accept = api.transport.sent[-1]
            assert url.endswith("/rendered?viewport=96,96") and accept == "image/jpeg"
            assert ("/frames/" in url) == display_set["isMultiframe"]
            assert thumb["mediaType"] == "image/jpeg"
            image = Image.open(io.BytesIO(bytes(thumb["encoded"])))
            assert image.format == "JPEG" and max(image.size) <= 96
            assert np.asarray(image.convert("L")).std() > 5  # an image, not a blank
    finally:
        await api.transport.aclose()


async def test_load_viewports_loads_what_is_shown_and_stops_the_rest(
        worker, orthanc: LoadedOrthanc) -> None:
    api, events = worker
    ct, mr = orthanc.manifest.study("ct"), orthanc.manifest.study("mr")
    opened = await result(api, "openViewer", studyInstanceUIDs=[ct.study_uid, mr.study_uid])
    ct_uid, mr_uid = opened["viewports"]
    waiting = [{"displaySetUID": ct_uid}, {"displaySetUID": mr_uid}]
    assert (await result(api, "loadViewports", viewports=waiting, start=False)) == {
        "loading": []}  # a viewport waits for its first image: nothing starts
    started = await result(api, "loadViewports", viewports=[
        {"displaySetUID": ct_uid, "imageIndex": 100}, {"displaySetUID": mr_uid, "imageIndex": 0}])
    assert started["loading"] == sorted([ct_uid, mr_uid])
    while not any(data["displaySetUID"] == ct_uid for _, data in events):
        await asyncio.sleep(0.01)
    # The CT leaves the grid: its load stops; the MR's goes on to the end.
    now = await result(api, "loadViewports", viewports=[{"displaySetUID": mr_uid}])
    assert now["loading"] in ([mr_uid], [])
    while any(not t.done() for t in api.frames.viewport_loads.values()):
        await asyncio.sleep(0.01)
    ct_progress = [d for _, d in events if d["displaySetUID"] == ct_uid]
    mr_progress = [d for _, d in events if d["displaySetUID"] == mr_uid]
    assert mr_progress[-1]["loaded"] == mr_progress[-1]["total"] == 24
    assert ct_progress[-1]["loaded"] < 200
    first = [url for url, _ in api.transport.sent if "/frames/" in url and ct.study_uid in url]
    ct_sops = opened["displaySets"][0]["sopInstanceUIDs"]
    assert ct_sops.index(first[0].split("/instances/")[1].split("/")[0]) in range(97, 104)
    # Wholly cached: asked again, nothing starts, but the page hears it is loaded.
    events.clear()
    assert (await result(api, "loadViewports", viewports=[{"displaySetUID": mr_uid}]))[
        "loading"] == []
    assert events == [("progress", {"displaySetUID": mr_uid, "total": 24, "loaded": 24,
                                    "failed": 0})]
    memory = await result(api, "memory")
    assert memory["cacheBytes"] == api.frames.cache.bytes > 0 and memory["heapBytes"] is None
    assert memory["cachedFrames"] == len(api.frames.cache) and memory["cacheMaxBytes"] == 64 << 20


async def test_a_series_larger_than_the_cache_holds_the_images_around_the_one_shown(
        orthanc: LoadedOrthanc) -> None:
    """200 slices of 512x512 int16 (100 MB) and a 16 MB cache: a load keeps the 24 nearest
    image 100 (3/4 of the cache), says so once, and what it loaded stays cached."""
    events: list[Any] = []
    api = WorkerAPI(CountingTransport(), lambda event, data: events.append((event, data)))
    await result(api, "init", config={**config(), "cacheSizeMB": 16},
                 baseUrl=orthanc.base_url + "/")
    opened = await result(api, "openViewer",
                          studyInstanceUIDs=orthanc.manifest.study("ct").study_uid)
    uid = opened["viewports"][0]
    answer = await result(api, "loadSeries", displaySetUID=uid, startIndex=100)
    assert (answer["total"], answer["held"], answer["loaded"]) == (200, 24, 24)
    notes = [data["note"] for event, data in events if event == "progress" and "note" in data]
    assert notes == [("'Axial 1.25mm' has 200 images (100 MB decoded), more than the frame "
                     "cache holds (16 MB, cacheSizeMB): the 24 around the image shown are "
                     "loaded, the others as you scroll to them.")]
    display_set, source = api.session.display_set(uid)
    cached = [i for i, image in enumerate(display_set.images)
              if api.frames.cached(source, image) is not None]
    assert cached == list(range(88, 112))
    # Scrolling past them still shows every image, fetched on demand.
    far = await result(api, "renderImage", displaySetUID=uid, imageIndex=0, details=False)
    assert far["rgba"].shape == (512, 512, 4)
    await api.transport.aclose()
