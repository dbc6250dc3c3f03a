"""Stacks loaded from one WADO-RS Retrieve Series response (ohifpy.viewer.series_retrieve),
through worker_api against the real Orthanc behind a real fault-injecting proxy: one
request instead of one a frame, the same pixels as frame by frame, and what a cut or
refused response leaves loaded frame by frame, with the user's errors where they belong."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from conftest import LoadedOrthanc
from support.faults import Fault, FaultProxy
from test_worker_api import result

from ohifpy.dicomweb.httpx_transport import HttpxTransport
from ohifpy.worker_api import WorkerAPI

pytestmark = pytest.mark.cpython_only  # Orthanc, httpx, a proxy on a socket

SYNTAXES = ["ct-implicit-le", "ct-explicit-be", "ct-deflated", "ct-rle", "ct-jpeg-baseline",
            "ct-jpeg-lossless-sv1", "ct-jpeg-ls", "ct-j2k", "ct-htj2k"]


@pytest.fixture(scope="module")
def proxy(orthanc: LoadedOrthanc) -> Iterator[FaultProxy]:
    with FaultProxy(orthanc.base_url) as proxy:
        yield proxy


@pytest.fixture(autouse=True)
def whole_server(proxy: FaultProxy) -> Iterator[None]:
    yield
    proxy.clear()


async def viewer(proxy: FaultProxy, cache_mb: int = 512,
                 **source: Any) -> tuple[WorkerAPI, list[dict[str, Any]]]:
    """A worker whose one data source is Orthanc behind the proxy; its progress events."""
    progress: list[dict[str, Any]] = []
    api = WorkerAPI(HttpxTransport(),
                    lambda event, data: progress.append(data) if event == "progress" else None)
    root = proxy.url + "/dicom-web"
    await result(api, "init", baseUrl=proxy.url + "/", config={
        "cacheSizeMB": cache_mb, "dataSources": [{"configuration": {
            "name": "orthanc", "qidoRoot": root, "wadoRoot": root, "maxRetries": 0, **source}}]})
    return api, progress


async def load(api: WorkerAPI, study_uid: str) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Open a study, load its first stack whole: the load's answer and each image's values."""
    opened = await result(api, "openViewer", studyInstanceUIDs=study_uid)
    uid = opened["viewports"][0]
    answer = await result(api, "loadSeries", displaySetUID=uid, startIndex=0)
    display_set, source = api.session.display_set(uid)
    values = []
    for image in display_set.images:
        frame = api.frames.cached(source, image)
        assert frame is not None, "an image the load did not keep"
        values.append(frame.values)
    return answer, values


def series_requests(proxy: FaultProxy, series_uid: str) -> list[str]:
    return proxy.requests(rf"/series/{re.escape(series_uid)}$")


def frame_requests(proxy: FaultProxy, series_uid: str) -> list[str]:
    return proxy.requests(rf"/series/{re.escape(series_uid)}/instances/.*/frames/")


async def test_a_stack_loads_from_one_request_with_the_pixels_of_its_frames(
        proxy: FaultProxy, orthanc: LoadedOrthanc) -> None:
    ct = orthanc.manifest.study("ct")
    (series,) = ct.series
    api, progress = await viewer(proxy)
    answer, values = await load(api, ct.study_uid)
    assert (answer["loaded"], answer["failed"], answer["cancelled"]) == (200, 0, False)
    assert progress[-1] == {"displaySetUID": answer["displaySetUID"], "total": 200,
                            "held": 200, "loaded": 200, "failed": 0}
    assert len(series_requests(proxy, series.series_uid)) == 1
    assert frame_requests(proxy, series.series_uid) == []
    await api.transport.aclose()

    frame_by_frame, _ = await viewer(proxy, retrieveWholeSeries=False)
    _, expected = await load(frame_by_frame, ct.study_uid)
    assert len(frame_requests(proxy, series.series_uid)) == 200
    assert len(series_requests(proxy, series.series_uid)) == 1  # the first viewer's only
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(values, expected,
                                                                          strict=True))
    await frame_by_frame.transport.aclose()


@pytest.mark.parametrize("key", SYNTAXES)
async def test_every_stored_syntax_decodes_as_its_frames_do(
        proxy: FaultProxy, orthanc: LoadedOrthanc, key: str) -> None:
    """Big endian, deflated and HTJ2K too, whose frames Orthanc 1.10 cannot serve (the
    client then cuts them from the whole instance): the series response is the stored
    files, cut the same way."""
    study = orthanc.manifest.study(key)
    (series,) = study.series
    api, _ = await viewer(proxy)
    answer, values = await load(api, study.study_uid)
    assert (answer["loaded"], answer["failed"]) == (16, 0)
    assert len(series_requests(proxy, series.series_uid)) == 1
    assert frame_requests(proxy, series.series_uid) == []
    frame_by_frame, _ = await viewer(proxy, retrieveWholeSeries=False)
    _, expected = await load(frame_by_frame, study.study_uid)
    assert all(np.array_equal(a, b) for a, b in zip(values, expected, strict=True))
    for worker in (api, frame_by_frame):
        await worker.transport.aclose()


async def test_a_response_cut_short_leaves_the_rest_to_frame_requests(
        proxy: FaultProxy, orthanc: LoadedOrthanc) -> None:
    ct = orthanc.manifest.study("ct")
    (series,) = ct.series
    proxy.inject(rf"/series/{re.escape(series.series_uid)}$", Fault.reset(30 << 20))
    earlier = len(frame_requests(proxy, series.series_uid))  # the other tests' CT loads
    api, progress = await viewer(proxy)
    answer, values = await load(api, ct.study_uid)
    assert (answer["loaded"], answer["failed"]) == (200, 0)
    assert [p["loaded"] for p in progress] == list(range(1, 201))  # each image counted once
    fetched = len(frame_requests(proxy, series.series_uid)) - earlier
    assert 100 < fetched < 200  # what the first 30 MB did not bring (~58 of 200 instances)
    assert all(value.shape == (512, 512) for value in values)
    # A broken connection is no refusal: the next stack comes from its series response.
    proxy.clear()
    mr = orthanc.manifest.study("mr")
    (mr_series,) = mr.series
    earlier = len(frame_requests(proxy, mr_series.series_uid))
    mr_answer, _ = await load(api, mr.study_uid)
    assert mr_answer["loaded"] == 24
    assert len(series_requests(proxy, mr_series.series_uid)) == 1
    assert len(frame_requests(proxy, mr_series.series_uid)) == earlier
    await api.transport.aclose()


@pytest.mark.parametrize("refusal", [Fault.answer(406), Fault.relabel("application/dicom")],
                         ids=["406", "not multipart"])
async def test_a_refused_series_request_is_not_an_error_for_the_user(
        proxy: FaultProxy, orthanc: LoadedOrthanc, refusal: Fault) -> None:
    study = orthanc.manifest.study("mr")
    (series,) = study.series
    proxy.inject(rf"/series/{re.escape(series.series_uid)}$", refusal)
    refused = len(series_requests(proxy, series.series_uid))
    earlier = len(frame_requests(proxy, series.series_uid))
    api, progress = await viewer(proxy)
    answer, _ = await load(api, study.study_uid)
    assert (answer["loaded"], answer["failed"]) == (24, 0)
    assert not any("note" in p or p.get("failed") for p in progress)
    assert len(series_requests(proxy, series.series_uid)) == refused + 1
    assert len(frame_requests(proxy, series.series_uid)) == earlier + 24
    # The server said no: it is not asked again for the next stack.
    other = orthanc.manifest.study("prior-current")
    other_series = [s.series_uid for s in other.series]
    answer, _ = await load(api, other.study_uid)
    assert answer["failed"] == 0 and answer["loaded"] >= 16
    assert not any(series_requests(proxy, uid) for uid in other_series)
    await api.transport.aclose()


async def test_a_stack_the_cache_holds_three_quarters_of_skips_the_others(
        proxy: FaultProxy, orthanc: LoadedOrthanc) -> None:
    """A 100 MB cache holds 150 of the CT's 200 slices (3/4 of it, HOLD_SHARE): the 150
    around the one shown come from the series response, the others are skipped."""
    ct = orthanc.manifest.study("ct")
    (series,) = ct.series
    earlier = len(series_requests(proxy, series.series_uid))
    frames_earlier = len(frame_requests(proxy, series.series_uid))
    api, _ = await viewer(proxy, cache_mb=100)
    opened = await result(api, "openViewer", studyInstanceUIDs=ct.study_uid)
    uid = opened["viewports"][0]
    answer = await result(api, "loadSeries", displaySetUID=uid, startIndex=150)
    assert (answer["held"], answer["loaded"], answer["failed"]) == (150, 150, 0)
    assert len(series_requests(proxy, series.series_uid)) == earlier + 1
    assert len(frame_requests(proxy, series.series_uid)) == frames_earlier
    display_set, source = api.session.display_set(uid)
    cached = [i for i, image in enumerate(display_set.images)
              if api.frames.cached(source, image) is not None]
    assert cached == list(range(50, 200))  # the 150 nearest image 150
    await api.transport.aclose()


async def test_a_stack_the_cache_holds_less_of_keeps_frame_requests(
        proxy: FaultProxy, orthanc: LoadedOrthanc) -> None:
    """Below 2/3 held, the series response would bring more than half again what is kept:
    the images around the one shown are fetched frame by frame."""
    ct = orthanc.manifest.study("ct")
    (series,) = ct.series
    earlier = len(series_requests(proxy, series.series_uid))
    api, _ = await viewer(proxy, cache_mb=64)
    opened = await result(api, "openViewer", studyInstanceUIDs=ct.study_uid)
    answer = await result(api, "loadSeries", displaySetUID=opened["viewports"][0],
                          startIndex=100)
    assert answer["held"] < 200 and answer["loaded"] == answer["held"]
    assert len(series_requests(proxy, series.series_uid)) == earlier
    await api.transport.aclose()
