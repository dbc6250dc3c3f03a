"""ohifpy.worker_api in CPython against the real Orthanc and a static tree (the same code
answers the browser worker; tests/browser/ runs it in Chromium)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from conftest import BadStudy, LoadedOrthanc

from ohifpy.cli import render_image
from ohifpy.config import DicomWebSource
from ohifpy.datasources.dicomweb import DICOMwebDataSource
from ohifpy.dicomweb import DICOMwebClient
from ohifpy.dicomweb.httpx_transport import HttpxTransport
from ohifpy.dicomweb.transport import Response
from ohifpy.imaging import (
    UnsupportedTransferSyntaxError,
    VOIWindow,
    get_decoder,
    register_decoder,
)
from ohifpy.serve import start_server
from ohifpy.static_wado import write_static_dicomweb
from ohifpy.viewer.tables import tables
from ohifpy.worker_api import FrameCache, WorkerAPI

pytestmark = pytest.mark.cpython_only  # Orthanc, httpx, a server on a socket

ORTHANC_CONFIG = {
    "dataSources": [{"sourceName": "orthanc", "configuration": {
        "name": "orthanc", "qidoRoot": "/dicom-web", "wadoRoot": "/dicom-web",
        "queryEncoding": "minimal", "supportsWildcard": True}}],
}


class CountingTransport(HttpxTransport):
    """httpx, with each request's URL and Accept header kept for the test to look at."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str]] = []

    async def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                      **kwargs: Any) -> Response:
        self.sent.append((url, (headers or {}).get("Accept", "")))
        return await super().request(method, url, headers=headers, **kwargs)


@pytest.fixture
async def api(orthanc: LoadedOrthanc) -> AsyncIterator[tuple[WorkerAPI, list[tuple[str, Any]]]]:
    events: list[tuple[str, Any]] = []
    worker = WorkerAPI(CountingTransport(), lambda event, data: events.append((event, data)))
    reply = await worker.handle("init", {"config": ORTHANC_CONFIG,
                                         "baseUrl": orthanc.base_url + "/some/app/"})
    assert reply == {"result": {
        "dataSources": [{"name": "orthanc", "friendlyName": "orthanc", "kind": "dicomweb",
                         "canStore": True, "downloadReports": False,
                         "queryServer": orthanc.base_url + "/dicom-web"}],
        "defaultDataSourceName": "orthanc", "localDataSourceName": "local",
        "tables": tables()}}
    yield worker, events
    await worker.transport.aclose()


async def result(worker: WorkerAPI, method: str, **args: Any) -> Any:
    reply = await worker.handle(method, args)
    assert "result" in reply, reply
    return reply["result"]


async def reference(source: DicomWebSource, study: str, sop: str | None = None,
                    window: VOIWindow | None = None) -> np.ndarray:
    async with DICOMwebDataSource(source) as client:
        rgba, _, _ = await render_image(client, study, None, sop, None, window)
    return rgba


def rgba_of(rendered: dict[str, Any]) -> np.ndarray:
    return np.frombuffer(rendered["rgba"], np.uint8).reshape(rendered["height"],
                                                             rendered["width"], 4)


async def test_protocol_errors_are_answers() -> None:
    worker = WorkerAPI(HttpxTransport())
    assert (await worker.handle("nope"))["error"]["type"] == "UnknownMethod"
    bad = await worker.handle("renderImage", {"imageIndex": 0})
    assert bad["error"]["type"] == "BadRequest" and "display_set_uid" in bad["error"]["message"]
    early = await worker.handle("searchStudies", {})
    assert early["error"] == {"type": "ConfigError",
                              "message": "the worker has no config yet: call init first"}
    invalid = await worker.handle("init", {"config": {"dataSources": []}, "baseUrl": "http://x/"})
    assert invalid["error"]["type"] == "ConfigError"
    await worker.transport.aclose()


async def test_study_list_rows_are_plain_values(api, orthanc: LoadedOrthanc) -> None:
    worker, _ = api
    ct = orthanc.manifest.study("ct")
    found = await result(worker, "searchStudies", params={"mrn": ct.patient_id})
    assert [row["studyInstanceUID"] for row in found["studies"]] == [ct.study_uid]
    row = found["studies"][0]
    assert row["patientName"] == ct.patient_name and row["modalities"] == "CT"
    assert row["numberOfInstances"] == 200
    # The relative qidoRoot was resolved against the page's base URL; OHIF's wildcards.
    url = worker.transport.sent[-1][0]
    assert url.startswith(orthanc.dicomweb_root + "/studies?PatientID=*OHIFPY-CT*&")
    everything = await result(worker, "searchStudies")
    empty = orthanc.manifest.study("no-modality").study_uid
    assert [r["modalities"] for r in everything["studies"] if r["studyInstanceUID"] == empty] == [""]
    hostile = orthanc.manifest.study("xss")
    assert hostile.patient_name in [r["patientName"] for r in everything["studies"]]


async def all_studies(orthanc: LoadedOrthanc) -> list[str]:
    """Every study UID in Orthanc, straight from its QIDO (no worker involved)."""
    async with DICOMwebClient(DicomWebSource.from_url(orthanc.dicomweb_root)) as client:
        return [ds.StudyInstanceUID for ds in await client.search_for_studies(limit=10_000)]


async def test_pages_beyond_the_query_limit_use_offset(orthanc: LoadedOrthanc) -> None:
    config = {"dataSources": [{"configuration": {
        **ORTHANC_CONFIG["dataSources"][0]["configuration"], "queryLimit": 11}}]}
    worker = WorkerAPI(CountingTransport())
    try:
        await result(worker, "init", config=config, baseUrl=orthanc.base_url + "/")
        expected = await all_studies(orthanc)
        seen: list[str] = []
        page = 1
        while True:
            answer = await result(worker, "searchStudies", params={"pageNumber": str(page)})
            url = worker.transport.sent[-1][0]
            assert "limit=11" in url and (f"offset={(page - 1) * 10}" in url) == (page > 1)
            assert answer["pageSize"] == 10 and answer["sortable"] is False
            # A page shows 10; the last what is left (10 too when the count is a multiple).
            assert len(answer["studies"]) == min(10, len(expected) - (page - 1) * 10)
            seen += [r["studyInstanceUID"] for r in answer["studies"]]
            if not answer["hasMore"]:
                break
            page += 1
        assert page == -(-len(expected) // 10) and answer["params"] == {"pageNumber": str(page)}
        assert sorted(seen) == sorted(expected)
    finally:
        await worker.transport.aclose()


async def test_a_complete_list_is_sorted_by_any_column(api, orthanc: LoadedOrthanc) -> None:
    worker, _ = api
    answer = await result(worker, "searchStudies",
                          params={"sortBy": "instances", "sortDirection": "descending"})
    assert answer["sortable"] is True and answer["hasMore"] is False
    counts = [r["numberOfInstances"] for r in answer["studies"]]
    assert counts == sorted(counts, reverse=True) and counts[0] == 200  # the CT
    assert len(counts) == len(await all_studies(orthanc))
    bad = await worker.handle("searchStudies", {"params": {"sortBy": "weight"}})
    assert bad["error"]["type"] == "ValueError" and "sortBy" in bad["error"]["message"]


async def test_series_of_an_expanded_row(api, orthanc: LoadedOrthanc) -> None:
    worker, _ = api
    study = orthanc.manifest.study("xss")
    answer = await result(worker, "searchSeries", studyInstanceUID=study.study_uid)
    assert [(s["seriesInstanceUID"], s["modality"], s["seriesDescription"],
             s["numberOfInstances"]) for s in answer["series"]] == [
        (s.series_uid, s.modality, s.description, len(s.instances)) for s in study.series]
    missing = await worker.handle("searchStudies", {"params": {"datasources": "elsewhere"}})
    assert missing["error"]["type"] == "ConfigError" and "elsewhere" in missing["error"]["message"]


async def test_render_equals_ohifpy_render_and_rewindows_from_the_cache(
        api, orthanc: LoadedOrthanc, dicomweb_source: DicomWebSource) -> None:
    worker, _ = api
    ct = orthanc.manifest.study("ct")
    opened = await result(worker, "openViewer", studyInstanceUIDs=ct.study_uid)
    (stack,) = opened["displaySets"]
    assert stack["numImages"] == 200 and len(stack["sopInstanceUIDs"]) == 200
    uid = stack["displaySetUID"]

    first = await result(worker, "renderImage", displaySetUID=uid, imageIndex=0)
    assert np.array_equal(rgba_of(first), await reference(dicomweb_source, ct.study_uid))
    assert first["window"] == {"center": 40.0, "width": 400.0}
    overlay = first["overlay"]
    assert (overlay["imageIndex"], overlay["numImages"]) == (0, 200)
    assert [item["attribute"] for item in overlay["corners"]["topLeft"]][:1] == ["PatientName"]
    assert overlay["sopInstanceUID"] == stack["sopInstanceUIDs"][0]

    requests = len(worker.transport.sent)
    narrow = await result(worker, "renderImage", displaySetUID=uid, imageIndex=0,
                          window={"center": 60, "width": 150}, invert=True, details=False)
    assert len(worker.transport.sent) == requests  # re-rendered from the decoded frame
    assert set(narrow) == {"rgba", "width", "height", "imageIndex", "window"}  # pixels alone
    assert narrow["window"] == {"center": 60.0, "width": 150.0}
    expected = await reference(dicomweb_source, ct.study_uid, window=VOIWindow(60, 150))
    assert np.array_equal(rgba_of(narrow)[..., :3], 255 - expected[..., :3])

    out_of_range = await worker.handle("renderImage", {"displaySetUID": uid, "imageIndex": 200})
    assert out_of_range["error"]["type"] == "BadRequest"
    unknown = await worker.handle("renderImage", {"displaySetUID": "1.2.3", "imageIndex": 0})
    assert unknown["error"]["type"] == "ModelError"


async def test_render_answers_presets_markers_and_pixel_size(api, orthanc: LoadedOrthanc) -> None:
    worker, _ = api
    cases = {"ct": ({"top": "A", "bottom": "P", "left": "R", "right": "L"},
                    {"column": 0.7, "row": 0.7}),
             "mr": ({"top": "H", "bottom": "F", "left": "A", "right": "P"},
                    {"column": 0.9375, "row": 0.9375}),
             "xa-cine": (None, None)}
    for key, (markers, pixel_size) in cases.items():
        opened = await result(worker, "openViewer",
                              studyInstanceUIDs=orthanc.manifest.study(key).study_uid)
        uid = opened["displaySets"][0]["displaySetUID"]
        rendered = await result(worker, "renderImage", displaySetUID=uid, imageIndex=0)
        assert rendered["overlay"]["orientationMarkers"] == markers, key
        assert rendered["overlay"]["pixelSizeMm"] == pixel_size, key
        labels = [p["label"] for p in rendered["presets"]]
        assert labels == {"ct": ["Soft tissue", "Lung", "Liver", "Bone", "Brain"],
                          "mr": [], "xa-cine": ["Header 1"]}[key]
        assert rendered["frameRate"] == (15.0 if key == "xa-cine" else None)


async def test_load_series_nearest_first_with_progress(api, orthanc: LoadedOrthanc) -> None:
    """Frame by frame (whole-series retrieval off: tests/test_series_retrieve.py), the
    images nearest the one shown first."""
    worker, events = api
    frame_by_frame = {"dataSources": [{"sourceName": "orthanc", "configuration": {
        **ORTHANC_CONFIG["dataSources"][0]["configuration"], "retrieveWholeSeries": False}}]}
    await result(worker, "init", config=frame_by_frame, baseUrl=orthanc.base_url + "/some/app/")
    study = orthanc.manifest.study("ct-jpeg-ls")
    (stack,) = (await result(worker, "openViewer", studyInstanceUIDs=[study.study_uid]))[
        "displaySets"]
    loaded = await result(worker, "loadSeries", displaySetUID=stack["displaySetUID"],
                          startIndex=8, concurrency=1)
    assert loaded == {"displaySetUID": stack["displaySetUID"], "total": 16, "held": 16,
                      "loaded": 16, "failed": 0, "cancelled": False}
    assert [data["loaded"] for _, data in events] == list(range(1, 17))
    frames = [url for url, _ in worker.transport.sent if "/frames/" in url]
    order = [stack["sopInstanceUIDs"].index(url.split("/instances/")[1].split("/")[0])
             for url in frames]
    assert order[:5] == [8, 7, 9, 6, 10]
    # Every frame is at hand, in the series' volume (one cache entry: a CT is reconstructable).
    display_set, source = worker.session.display_set(stack["displaySetUID"])
    assert worker.frames.all_cached(display_set, source)
    volume = worker.frames.volume(stack["displaySetUID"])
    assert volume is not None and volume.complete and len(worker.frames.cache) == 1


async def test_cancel_load(api, orthanc: LoadedOrthanc) -> None:
    worker, events = api
    ct = orthanc.manifest.study("ct")
    (stack,) = (await result(worker, "openViewer", studyInstanceUIDs=ct.study_uid))["displaySets"]
    uid = stack["displaySetUID"]
    load = asyncio.ensure_future(worker.handle("loadSeries", {"displaySetUID": uid}))
    while not events:
        await asyncio.sleep(0.01)
    assert (await worker.handle("cancelLoad", {"displaySetUID": uid}))["result"] == {
        "cancelled": True}
    answer = (await load)["result"]
    assert answer["cancelled"] is True and answer["loaded"] < 200


async def test_without_a_codec_the_server_transcodes(api, orthanc: LoadedOrthanc,
                                                     dicomweb_source: DicomWebSource) -> None:
    worker, _ = api
    study = orthanc.manifest.study("ct-jpeg-ls")
    syntax = study.transfer_syntax_uids[0]
    installed = get_decoder(syntax)

    def no_codec(data: bytes, pixel: Any) -> Any:
        raise UnsupportedTransferSyntaxError(syntax)

    register_decoder(syntax, no_codec)  # as in a browser without the JPEG-LS codec
    try:
        (stack,) = (await result(worker, "openViewer", studyInstanceUIDs=study.study_uid))[
            "displaySets"]
        shown = await result(worker, "renderImage", displaySetUID=stack["displaySetUID"],
                             imageIndex=0)
    finally:
        register_decoder(syntax, installed)
    accepts = [accept for url, accept in worker.transport.sent if "/frames/" in url]
    assert accepts[-1].endswith("transfer-syntax=1.2.840.10008.1.2.1")
    assert np.array_equal(rgba_of(shown), await reference(dicomweb_source, study.study_uid))


async def test_a_corrupt_frame_fails_alone(api, corrupt_study: BadStudy) -> None:
    worker, _ = api
    (stack,) = (await result(worker, "openViewer", studyInstanceUIDs=corrupt_study.study_uid))[
        "displaySets"]
    uid, sops = stack["displaySetUID"], stack["sopInstanceUIDs"]
    corrupt = await worker.handle("renderImage", {
        "displaySetUID": uid, "imageIndex": sops.index(corrupt_study.corrupt_sop_uid)})
    assert corrupt["error"]["type"] == "FrameDecodeError"
    assert "JPEG-LS" in corrupt["error"]["message"]
    unsupported = await worker.handle("renderImage", {
        "displaySetUID": uid, "imageIndex": sops.index(corrupt_study.unsupported_sop_uid)})
    assert "error" in unsupported
    await result(worker, "renderImage", displaySetUID=uid,
                 imageIndex=sops.index(corrupt_study.good_sop_uid))
    loaded = await result(worker, "loadSeries", displaySetUID=uid)
    assert (loaded["loaded"], loaded["failed"]) == (1, 2)


async def test_static_tree(orthanc: LoadedOrthanc, tmp_path: Path) -> None:
    """A staticWado source: lists filtered by the client, frames in their stored syntax."""
    manifest = orthanc.manifest
    study = manifest.study("ct-jpeg-ls")
    datasets = [pydicom.dcmread(manifest.root / i.path) for i in study.instances[:3]]
    datasets += [pydicom.dcmread(manifest.root / i.path)
                 for i in manifest.study("mr").instances[:2]]
    dist = tmp_path / "site"
    (dist / "index.html").parent.mkdir()
    (dist / "index.html").write_text("<!doctype html>")
    write_static_dicomweb(datasets, dist / "dicom-web")
    server = await start_server(dist, port=0)
    port = server.sockets[0].getsockname()[1]
    config = {"dataSources": [{"configuration": {
        "name": "static", "qidoRoot": "dicom-web", "wadoRoot": "dicom-web", "staticWado": True,
        "supportsWildcard": False}}]}
    worker = WorkerAPI(HttpxTransport())
    try:
        await result(worker, "init", config=config, baseUrl=f"http://127.0.0.1:{port}/")
        everything = await result(worker, "searchStudies")
        assert len(everything["studies"]) == 2
        found = await result(worker, "searchStudies", params={"mrn": study.patient_id})
        assert [r["studyInstanceUID"] for r in found["studies"]] == [study.study_uid]
        (stack,) = (await result(worker, "openViewer", studyInstanceUIDs=study.study_uid))[
            "displaySets"]
        shown = await result(worker, "renderImage", displaySetUID=stack["displaySetUID"],
                             imageIndex=0)
        async with DICOMwebDataSource(DicomWebSource.from_url(orthanc.dicomweb_root)) as client:
            expected, _, _ = await render_image(client, study.study_uid, None,
                                                stack["sopInstanceUIDs"][0])
        assert np.array_equal(rgba_of(shown), expected)
    finally:
        await worker.transport.aclose()
        server.close()


def test_frame_cache_drops_least_recently_used_beyond_its_budget() -> None:
    from ohifpy.imaging import ImageFrame

    def frame(size: int) -> ImageFrame:
        return ImageFrame(np.zeros(size, np.uint8), "MONOCHROME2")

    cache = FrameCache(max_bytes=250)
    for key in range(3):
        cache.put(("a", key), frame(100))
    assert ("a", 0) not in cache and len(cache) == 2 and cache.bytes == 200
    assert cache.get(("a", 1)) is not None  # now most recently used
    cache.put(("a", 3), frame(100))
    assert ("a", 2) not in cache and ("a", 1) in cache
    cache.put(("a", 4), frame(1000))  # larger than the budget: kept alone
    assert len(cache) == 1 and cache.bytes == 1000


def test_urls_in_console_traces_lose_their_query_strings() -> None:
    from ohifpy.worker_api import without_queries

    trace = ("RuntimeError: GET http://pacs:8042/dicom-web/studies?PatientName=DOE%5EJOHN&"
             "limit=10 failed ('https://x/y?PatientID=123')")
    cut = without_queries(trace)
    assert "DOE" not in cut and "123" not in cut
    assert "http://pacs:8042/dicom-web/studies?…" in cut and "'https://x/y?…'" in cut
