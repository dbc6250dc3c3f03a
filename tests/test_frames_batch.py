"""Several frames of one multi-frame instance a WADO-RS request (``framesPerRequest``),
against the real Orthanc: fewer requests than frames and the same pixels as one a request;
a server that refuses frame lists (a real proxy in front of Orthanc answering them with an
error status, or with parts that cannot be read) is asked one a request from then on,
without an error; a corrupt frame in a request for several fails alone; a frame asked for
while its request is under way is not asked again; a request is bounded by bytes too."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import LoadedOrthanc, store_copy
from support.faults import Fault, FaultProxy
from test_worker_api import CountingTransport, result

from ohifpy.config import ConfigError, DicomWebSource
from ohifpy.datasources.dicomweb import DICOMwebDataSource
from ohifpy.datasources.static_wado import StaticWadoDataSource
from ohifpy.image_loader import load_image_frame
from ohifpy.viewer import frames as frames_module
from ohifpy.worker_api import WorkerAPI

pytestmark = pytest.mark.cpython_only  # Orthanc, httpx, a proxy on a socket

FRAME_LIST = r"/frames/\d+,"


def frame_numbers(url: str) -> list[int]:
    """The frame numbers a frames request asked for."""
    return [int(n) for n in re.search(r"/frames/([\d,]+)", url).group(1).split(",")]


@pytest.fixture
async def viewer(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """``open(base_url, key or study UID)``: a worker on that server with one display set
    open, as (api, display set UID); closed after the test."""
    apis: list[WorkerAPI] = []

    async def open_study(base_url: str, study_uid: str, **source: Any) -> tuple[WorkerAPI, str]:
        api = WorkerAPI(CountingTransport())
        apis.append(api)
        config = {"cacheSizeMB": 64, "dataSources": [{"configuration": {
            "name": "orthanc", "qidoRoot": "/dicom-web", "wadoRoot": "/dicom-web", **source}}]}
        await result(api, "init", config=config, baseUrl=base_url + "/")
        opened = await result(api, "openViewer", studyInstanceUIDs=study_uid)
        return api, opened["viewports"][0]

    yield open_study
    for api in apis:
        await api.transport.aclose()


async def assert_frames_as_one_a_request(api: WorkerAPI, uid: str,
                                         dicomweb_source: DicomWebSource) -> None:
    """Every cached frame of the display set equals what ``ohifpy render``'s pipeline
    decodes from a request of its own."""
    display_set, source = api.session.display_set(uid)
    async with DICOMwebDataSource(replace(dicomweb_source, framesPerRequest=1)) as one:
        for image in display_set.images:
            cached = api.frames.cached(source, image)
            assert cached is not None, image.frame_number
            expected = await load_image_frame(one, image)
            assert np.array_equal(cached.stored, expected.stored), image.frame_number


def frame_requests(api: WorkerAPI) -> list[str]:
    return [url for url, _ in api.transport.sent if "/frames/" in url]


@pytest.mark.parametrize(("key", "start", "sizes"), [
    ("xa-cine", 0, [1, 13, 16]),
    ("xa-cine-jpeg-lossless", 15, [1, 13, 16]),
])
async def test_a_multiframe_instance_loads_several_frames_a_request(
        viewer, orthanc: LoadedOrthanc, dicomweb_source: DicomWebSource, key: str, start: int,
        sizes: list[int]) -> None:
    api, uid = await viewer(orthanc.base_url, orthanc.manifest.study(key).study_uid)
    answer = await result(api, "loadSeries", displaySetUID=uid, startIndex=start)
    assert (answer["loaded"], answer["failed"], answer["total"]) == (30, 0, 30)
    requests = frame_requests(api)
    assert sorted(len(frame_numbers(url)) for url in requests) == sizes
    # The image shown comes alone; each request's frames are the next ones in load order.
    assert [frame_numbers(url) for url in requests if len(frame_numbers(url)) == 1] == [
        [start + 1]]
    assert sorted(n for url in requests for n in frame_numbers(url)) == list(range(1, 31))
    await assert_frames_as_one_a_request(api, uid, dicomweb_source)


async def test_frames_per_request_1_asks_one_a_request(
        viewer, orthanc: LoadedOrthanc) -> None:
    api, uid = await viewer(orthanc.base_url, orthanc.manifest.study("xa-cine").study_uid,
                            framesPerRequest=1)
    answer = await result(api, "loadSeries", displaySetUID=uid, startIndex=0)
    assert answer["loaded"] == 30
    assert all(len(frame_numbers(url)) == 1 for url in frame_requests(api))
    assert len(frame_requests(api)) == 30


async def test_a_request_for_several_is_bounded_by_bytes(
        viewer, orthanc: LoadedOrthanc, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four 256x256 16-bit frames' worth (512 KiB) a request: 29 frames after the first
    in 8 requests, whatever framesPerRequest says."""
    monkeypatch.setattr(frames_module, "REQUEST_BYTES", 4 * 256 * 256 * 2)
    api, uid = await viewer(orthanc.base_url, orthanc.manifest.study("xa-cine").study_uid,
                            framesPerRequest=64)
    assert (await result(api, "loadSeries", displaySetUID=uid))["loaded"] == 30
    assert sorted(len(frame_numbers(url)) for url in frame_requests(api)) == [1, 1] + [4] * 7


@pytest.mark.parametrize("refusal", [
    Fault.answer(400), Fault.answer(404), Fault.answer(500),
    # Parts the client cannot find: the list's answer is not the frames asked for.
    Fault.relabel('multipart/related; type="application/octet-stream"; boundary=elsewhere'),
], ids=["400", "404", "500", "parts"])
async def test_a_server_that_refuses_frame_lists_is_asked_one_frame_a_request(
        viewer, orthanc: LoadedOrthanc, dicomweb_source: DicomWebSource, refusal: Fault) -> None:
    with FaultProxy(orthanc.base_url) as proxy:
        proxy.inject(FRAME_LIST, refusal)
        xa = orthanc.manifest.study("xa-cine")
        api, uid = await viewer(proxy.url, xa.study_uid)
        answer = await result(api, "loadSeries", displaySetUID=uid, startIndex=0)
        assert (answer["loaded"], answer["failed"]) == (30, 0)  # no error: one a request
        await assert_frames_as_one_a_request(api, uid, dicomweb_source)
        _, source = api.session.display_set(uid)
        assert source.capabilities.frames_per_request == 1
        refused = len(proxy.requests(FRAME_LIST))
        assert 1 <= refused <= 2  # the lists sent before the first refusal came back
        # Not the whole instance instead (Orthanc's fallback for frames it fails on).
        assert not proxy.requests(r"/instances/[^/?]+$")
        # Remembered: another multi-frame instance is asked one frame a request at once.
        other = orthanc.manifest.study("xa-cine-jpeg-lossless").study_uid
        opened = await result(api, "openViewer", studyInstanceUIDs=other)
        again = await result(api, "loadSeries", displaySetUID=opened["viewports"][0])
        assert (again["loaded"], again["failed"]) == (30, 0)
        assert len(proxy.requests(FRAME_LIST)) == refused


async def test_a_corrupt_frame_in_a_request_for_several_fails_alone(
        viewer, orthanc: LoadedOrthanc, tmp_path: Path) -> None:
    """Frame 6 of the JPEG lossless cine cut short: Orthanc serves it as stored, the
    client cannot decode it; the 29 others of its request and the next land."""
    from pydicom.encaps import encapsulate, generate_frames

    def damage(index: int, ds: Any) -> None:
        frames = list(generate_frames(ds.PixelData, number_of_frames=int(ds.NumberOfFrames)))
        frames[5] = frames[5][:16]
        ds.PixelData = encapsulate(frames)

    copy = store_copy(orthanc, "xa-cine-jpeg-lossless", "batch corrupt", tmp_path, count=1,
                      edit=damage)
    api, uid = await viewer(orthanc.base_url, copy.study_uid)
    answer = await result(api, "loadSeries", displaySetUID=uid, startIndex=0)
    assert (answer["loaded"], answer["failed"]) == (29, 1)
    requests = frame_requests(api)
    assert len(requests) == 3 and 6 in frame_numbers(requests[1] + requests[2])
    display_set, source = api.session.display_set(uid)
    assert [i for i, image in enumerate(display_set.images)
            if api.frames.cached(source, image) is None] == [5]
    shown = await api.handle("renderImage", {"displaySetUID": uid, "imageIndex": 5,
                                             "details": False})
    assert shown["error"]["type"] == "FrameDecodeError"  # its viewport says why


async def test_a_frame_asked_for_while_its_request_is_under_way_is_not_asked_again(
        viewer, orthanc: LoadedOrthanc) -> None:
    with FaultProxy(orthanc.base_url) as proxy:
        proxy.inject(FRAME_LIST, Fault.stall(30))
        api, uid = await viewer(proxy.url, orthanc.manifest.study("xa-cine").study_uid)
        load = asyncio.ensure_future(result(api, "loadSeries", displaySetUID=uid))
        while len(proxy.requests(FRAME_LIST)) < 2:
            await asyncio.sleep(0.01)
        render = asyncio.ensure_future(
            result(api, "renderImage", displaySetUID=uid, imageIndex=10, details=False))
        await asyncio.sleep(0.2)
        assert not render.done()  # waiting on the stalled request that holds frame 11
        proxy.release()
        assert (await load)["loaded"] == 30
        assert (await render)["rgba"].shape[:2] == (256, 256)
        asked = [url for url in proxy.requests("/frames/") if 11 in frame_numbers(url)]
        assert len(asked) == 1 and len(frame_numbers(asked[0])) == 16


async def test_frames_per_request_is_a_data_source_key() -> None:
    source = DicomWebSource.from_json({"configuration": {
        "name": "pacs", "qidoRoot": "/q", "wadoRoot": "/w", "framesPerRequest": 8}})
    assert source.framesPerRequest == 8
    assert DicomWebSource.from_url("/w").framesPerRequest == 16
    async with DICOMwebDataSource(source) as pacs, \
            StaticWadoDataSource(replace(source, staticWado=True)) as static:
        assert pacs.capabilities.frames_per_request == 8
        assert static.capabilities.frames_per_request == 1  # a file a frame
    for wrong in (0, 257, "8", 2.5, True):
        with pytest.raises(ConfigError, match="framesPerRequest"):
            DicomWebSource.from_url("/w", framesPerRequest=wrong)
