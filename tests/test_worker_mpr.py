"""worker_api's MPR against the real Orthanc, on the 200-slice CT (512 x 512, 0.7 mm pixels,
1.25 mm slices, head first): openMpr, updateMpr, and renderImage, measure, loadViewports,
tags and saveReport on the views' display sets, each compared with the stack and with the
CT decoded here in CPython.

One worker opens the CT's MPR and loads it once for the module; the tests that change the
MPR reset it first.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from conftest import LoadedOrthanc
from test_worker_api import ORTHANC_CONFIG, CountingTransport, result, rgba_of

from ohifpy.config import DicomWebSource
from ohifpy.dicomweb import DICOMwebClient
from ohifpy.image_loader import load_image_frame
from ohifpy.imaging import ImageFrame, VOIWindow, render_rgba
from ohifpy.model import Instance, display_sets_from_instances
from ohifpy.synthetic import CT_SLICE_MM, CT_SPACING
from ohifpy.worker_api import WorkerAPI

pytestmark = pytest.mark.cpython_only  # Orthanc, httpx

VOLUME_BYTES = 200 * 512 * 512 * 2
"""The CT's int16 HU, once."""
NAMES = ["axial", "sagittal", "coronal"]


@dataclass
class Opened:
    api: WorkerAPI
    events: list[tuple[str, Any]]
    study_uid: str
    stack: dict[str, Any]  # the CT's display set, as openViewer answered it
    others: dict[str, dict[str, Any]]  # the xa-cine's and the single CR's
    opened: dict[str, Any]  # openMpr's first answer
    loading: dict[str, Any]  # loadViewports' answer for the three views


async def started(orthanc: LoadedOrthanc, events: list[tuple[str, Any]]) -> WorkerAPI:
    api = WorkerAPI(CountingTransport(), lambda event, data: events.append((event, data)))
    await result(api, "init", config=ORTHANC_CONFIG, baseUrl=orthanc.base_url + "/")
    return api


async def loaded(api: WorkerAPI, events: list[tuple[str, Any]], uid: str) -> dict[str, Any]:
    """Wait for the loads the viewports started; the last progress event of ``uid``."""
    async with asyncio.timeout(60):
        while any(not task.done() for task in api.frames.viewport_loads.values()):
            await asyncio.sleep(0.01)
    return [data for event, data in events if event == "progress"
            and data["displaySetUID"] == uid][-1]


@pytest.fixture(scope="module")
async def ct(orthanc: LoadedOrthanc) -> AsyncIterator[Opened]:
    events: list[tuple[str, Any]] = []
    api = await started(orthanc, events)
    keys = ["ct", "xa-cine", "cr-mono1"]
    studies = [orthanc.manifest.study(key).study_uid for key in keys]
    viewer = await result(api, "openViewer", studyInstanceUIDs=studies)
    by_study = {d["studyInstanceUID"]: d for d in viewer["displaySets"]}
    stack = by_study[studies[0]]
    opened = await result(api, "openMpr", displaySetUID=stack["displaySetUID"])
    loading = await result(api, "loadViewports", viewports=[
        {"displaySetUID": v["displaySetUID"], "imageIndex": v["imageIndex"]}
        for v in opened["views"]])
    await loaded(api, events, stack["displaySetUID"])
    yield Opened(api, events, studies[0], stack,
                 {key: by_study[uid] for key, uid in zip(keys[1:], studies[1:], strict=True)},
                 opened, loading)
    await api.transport.aclose()


@pytest.fixture(scope="module")
async def decoded(dicomweb_source: DicomWebSource, orthanc: LoadedOrthanc) -> np.ndarray:
    """The CT's HU decoded here, ``[slice, row, column]`` with slices in ascending position
    (z: feet to head), and its first frame's windows."""
    study = orthanc.manifest.study("ct").study_uid
    async with DICOMwebClient(dicomweb_source) as client:
        instances = [Instance.from_dataset(ds)
                     for ds in await client.retrieve_study_metadata(study)]
        (display_set,) = display_sets_from_instances(instances)
        images = sorted(display_set.images, key=lambda image: image.image_position[2])
        frames = []
        for start in range(0, len(images), 8):
            frames += await asyncio.gather(*(load_image_frame(client, image)
                                             for image in images[start:start + 8]))
    return np.stack([frame.values for frame in frames])


async def reset(ct: Opened) -> dict[str, dict[str, Any]]:
    state = await result(ct.api, "updateMpr", mprUID=ct.opened["mprUID"],
                         action={"type": "reset"})
    return {v["name"]: v for v in state["views"]}


def progress_of(ct: Opened, uid: str) -> list[dict[str, Any]]:
    return [data for event, data in ct.events if event == "progress"
            and data["displaySetUID"] == uid]


async def test_open_mpr_gives_three_views_and_loads_the_series(ct: Opened) -> None:
    uid = ct.stack["displaySetUID"]
    assert ct.stack["isReconstructable"] and ct.stack["numImages"] == 200
    opened = ct.opened
    assert opened["mprUID"] == f"mpr:{uid}" and opened["displaySetUID"] == uid
    views = opened["views"]
    assert [v["name"] for v in views] == NAMES
    assert [v["displaySetUID"] for v in views] == [f"mpr:{uid}:{name}:0" for name in NAMES]
    assert {v["seriesInstanceUID"] for v in views} == {ct.stack["seriesInstanceUID"]}
    # Axial: the 200 slices head first, as the stack; sagittal: the 512 columns; coronal:
    # the 512 rows back to front. The centre is the volume's, (0, 0, -184.375), between
    # pixels and slices: each view shows the image rounded to even (99.5 -> 100, 255.5 ->
    # 256), and the centre shown is where those three planes meet.
    assert [v["numImages"] for v in views] == [200, 512, 512]
    assert [v["imageIndex"] for v in views] == [100, 256, 256]
    origin = round(-(512 - 1) / 2 * CT_SPACING, 2)
    np.testing.assert_allclose(opened["center"], [
        origin + 256 * CT_SPACING, origin + (511 - 256) * CT_SPACING, -60 - 100 * CT_SLICE_MM],
        atol=1e-6)
    np.testing.assert_allclose(ct.api.mprs[uid].center, [0, 0, -60 - 99.5 * CT_SLICE_MM],
                               atol=1e-6)
    # The page's viewports ask for the views: the source series loads (started by openMpr).
    assert ct.loading == {"loading": [uid]}
    progress = progress_of(ct, uid)
    assert progress[-1] == {"displaySetUID": uid, "total": 200, "held": 200, "loaded": 200,
                            "failed": 0}
    assert len(progress) == 200
    # One copy: the whole CT is one cache entry, its volume.
    memory = await result(ct.api, "memory")
    assert (memory["cacheBytes"], memory["cachedFrames"]) == (VOLUME_BYTES, 1)
    volume = ct.api.frames.volume(uid)
    assert volume is not None and volume.complete and volume.stored.dtype == np.int16
    # openMpr again: the same MPR.
    again = await result(ct.api, "openMpr", displaySetUID=uid)
    assert again["mprUID"] == opened["mprUID"]


@pytest.mark.parametrize("index", [0, 57, 100, 199])
async def test_the_axial_view_is_the_stack(ct: Opened, index: int) -> None:
    views = await reset(ct)
    axial = views["axial"]["displaySetUID"]
    for window, invert in ((None, False), ({"center": -600, "width": 1500}, False),
                           ({"center": 40, "width": 400}, True)):
        args = {"imageIndex": index, "window": window, "invert": invert}
        plane = await result(ct.api, "renderImage", displaySetUID=axial, **args)
        stack = await result(ct.api, "renderImage", displaySetUID=ct.stack["displaySetUID"],
                             **args)
        assert (plane["width"], plane["height"], plane["aspect"]) == (512, 512, 1.0)
        assert plane["window"] == stack["window"]
        assert np.array_equal(rgba_of(plane), rgba_of(stack))


async def test_render_details_of_a_view(ct: Opened) -> None:
    views = await reset(ct)
    sagittal = views["sagittal"]["displaySetUID"]
    answer = await result(ct.api, "renderImage", displaySetUID=sagittal, imageIndex=300)
    assert answer["window"] == {"center": 40.0, "width": 400.0}  # the header's first
    overlay = answer["overlay"]
    assert overlay["viewLabel"] == "Sagittal"
    assert (overlay["imageIndex"], overlay["numImages"]) == (300, 512)
    series = {item["attribute"]: item["text"] for item in overlay["corners"]["topRight"]}
    assert series["SeriesDescription"] == ct.stack["seriesDescription"]
    assert overlay["orientationMarkers"] == {"top": "H", "bottom": "F", "left": "A",
                                             "right": "P"}
    assert overlay["pixelSizeMm"] == {"column": pytest.approx(CT_SPACING),
                                      "row": pytest.approx(CT_SLICE_MM)}
    assert answer["frameRate"] is None
    assert [p["center"] for p in answer["presets"]][:2] == [40, -600]
    bad = await ct.api.handle("renderImage", {"displaySetUID": sagittal, "imageIndex": 512})
    assert bad["error"] == {"type": "BadRequest", "message": (
        f"image index 512 is out of range 0..511 of MPR view {sagittal}")}


@pytest.mark.parametrize("index", [0, 130, 256, 511])
async def test_the_sagittal_and_coronal_views_are_the_ct_decoded_here(
        ct: Opened, decoded: np.ndarray, index: int) -> None:
    """Sagittal image k is column k of every slice: rows head (highest z) to feet, columns
    front (row 0) to back; coronal image j is row 511 - j: columns right to left."""
    views = await reset(ct)
    head_first = decoded[::-1]
    expected = {"sagittal": head_first[:, :, index], "coronal": head_first[:, 511 - index, :]}
    window = VOIWindow(-600, 1500)
    for name, values in expected.items():
        answer = await result(ct.api, "renderImage", displaySetUID=views[name]["displaySetUID"],
                              imageIndex=index, window={"center": -600, "width": 1500})
        assert (answer["width"], answer["height"]) == (512, 200)
        assert answer["aspect"] == pytest.approx(CT_SLICE_MM / CT_SPACING)
        frame = ImageFrame(np.ascontiguousarray(values), "MONOCHROME2")
        assert np.array_equal(rgba_of(answer), render_rgba(frame, window)), name


async def test_a_length_and_a_probe_on_the_sagittal_view(ct: Opened, decoded: np.ndarray
                                                        ) -> None:
    views = await reset(ct)
    sagittal = views["sagittal"]["displaySetUID"]
    length = await result(ct.api, "measure", displaySetUID=sagittal, imageIndex=300,
                          tool="Length", points=[[100, 20], [130, 60]], label="sag")
    # 30 columns of 0.7 mm across, 40 rows of 1.25 mm down.
    assert length["values"] == [{"name": "length", "unit": "mm",
                                 "value": pytest.approx(math.hypot(30 * 0.7, 40 * 1.25))}]
    assert (length["displaySetUID"], length["imageIndex"], length["label"]) == (sagittal, 300,
                                                                                "sag")
    assert length["seriesInstanceUID"] == ct.stack["seriesInstanceUID"]
    probe = await result(ct.api, "measure", displaySetUID=sagittal, imageIndex=300,
                         tool="Probe", points=[[250, 80]])
    assert probe["values"][0]["value"] == decoded[199 - 80, 250, 300]
    assert probe["values"][0]["unit"] == "HU"
    origin = -(512 - 1) / 2 * CT_SPACING
    assert probe["patientPosition"] == pytest.approx(
        [round(origin, 2) + 300 * CT_SPACING, round(origin, 2) + 250 * CT_SPACING,
         -60 - 80 * CT_SLICE_MM], abs=1e-6)
    # Stored as a report it is not: a reformatted plane is no image to reference.
    sent = len(ct.api.transport.sent)
    saved = await result(ct.api, "saveReport", measurements=[length, probe])
    assert saved == {"reports": [], "downloads": [], "skipped": 2}
    assert len(ct.api.transport.sent) == sent  # nothing stored


async def test_update_mpr_center_moves_the_other_views(ct: Opened) -> None:
    views = await reset(ct)
    state = await result(ct.api, "updateMpr", mprUID=ct.opened["mprUID"], action={
        "type": "center", "view": "axial", "point": [300, 200]})
    assert [v["imageIndex"] for v in state["views"]] == [100, 300, 511 - 200]
    state = await result(ct.api, "updateMpr", mprUID=ct.opened["mprUID"], action={
        "type": "center", "view": "sagittal", "point": [10, 150]})
    assert [v["imageIndex"] for v in state["views"]] == [150, 300, 511 - 10]
    np.testing.assert_allclose(state["center"][2], -60 - 150 * CT_SLICE_MM, atol=1e-3)
    state = await result(ct.api, "updateMpr", mprUID=ct.opened["mprUID"], action={
        "type": "scroll", "view": "coronal", "imageIndex": 0})
    assert [v["imageIndex"] for v in state["views"]] == [150, 300, 0]
    # No plane turned: the views keep their display sets (the page only changes images).
    assert [v["displaySetUID"] for v in state["views"]] == [
        views[name]["displaySetUID"] for name in NAMES]


async def test_a_view_uid_from_before_a_rotation_is_refused(ct: Opened) -> None:
    views = await reset(ct)
    old = views["sagittal"]["displaySetUID"]
    column, row = views["axial"]["crosshair"]["center"]
    state = await result(ct.api, "updateMpr", mprUID=ct.opened["mprUID"], action={
        "type": "rotate", "view": "axial", "from": [column + 20, row],
        "to": [column + 20, row + 10]})
    now = {v["name"]: v["displaySetUID"] for v in state["views"]}
    assert now["axial"] == views["axial"]["displaySetUID"]  # its plane did not turn
    assert now["sagittal"] != old and now["coronal"] != views["coronal"]["displaySetUID"]
    for method, args in (("renderImage", {"imageIndex": 0}),
                         ("measure", {"imageIndex": 0, "tool": "Length",
                                      "points": [[0, 0], [1, 1]]})):
        stale = await ct.api.handle(method, {"displaySetUID": old, **args})
        assert stale["error"] == {"type": "BadRequest", "message": (
            f"MPR view {old!r} has changed since: it is now {now['sagittal']!r}")}
    # The new one renders: an oblique plane, interpolated.
    turned = await result(ct.api, "renderImage", displaySetUID=now["sagittal"],
                          imageIndex=state["views"][1]["imageIndex"])
    assert turned["width"] > 0 and turned["aspect"] == pytest.approx(CT_SLICE_MM / CT_SPACING)
    await reset(ct)


async def test_tags_of_a_view_are_the_series_middle_image(ct: Opened) -> None:
    views = await reset(ct)
    tags = await result(ct.api, "tags", displaySetUID=views["coronal"]["displaySetUID"])
    assert tags["imageIndex"] == 100
    assert tags["sopInstanceUID"] == ct.stack["sopInstanceUIDs"][100]


async def test_bad_mpr_requests(ct: Opened) -> None:
    await reset(ct)
    unknown = await ct.api.handle("updateMpr", {"mprUID": "mpr:1.2.3", "action": {
        "type": "reset"}})
    assert unknown["error"] == {"type": "BadRequest",
                                "message": "no open MPR 'mpr:1.2.3': call openMpr first"}
    bad = await ct.api.handle("updateMpr", {"mprUID": ct.opened["mprUID"],
                                            "action": {"type": "zoom"}})
    assert bad["error"] == {"type": "BadRequest", "message": "no MPR action 'zoom'"}
    not_an_object = await ct.api.handle("updateMpr", {"mprUID": ct.opened["mprUID"],
                                                      "action": "reset"})
    assert not_an_object["error"]["type"] == "BadRequest"
    assert "action must be an object" in not_an_object["error"]["message"]
    not_a_view = await ct.api.handle("renderImage", {"displaySetUID": "mpr:nothing",
                                                     "imageIndex": 0})
    assert not_a_view["error"] == {"type": "BadRequest",
                                   "message": "'mpr:nothing' is not an MPR view"}


@pytest.mark.parametrize(("key", "reason"), [
    ("xa-cine", "images without ImagePositionPatient"),  # a multi-frame cine
    ("cr-mono1", "a single image"),
])
async def test_open_mpr_of_what_is_not_a_volume_says_why(ct: Opened, key: str,
                                                         reason: str) -> None:
    display_set = ct.others[key]
    assert not display_set["isReconstructable"]
    assert display_set["reconstructionNote"] == reason
    answer = await ct.api.handle("openMpr", {"displaySetUID": display_set["displaySetUID"]})
    assert answer["error"] == {"type": "BadRequest", "message": (
        f"{display_set['seriesDescription']} cannot be shown in MPR: {reason}")}


async def test_mpr_of_a_loaded_series_takes_no_more_memory(orthanc: LoadedOrthanc) -> None:
    """The stack loads first; the MPR then cuts its planes from the same voxels: no byte
    more in the cache, no frame fetched again."""
    events: list[tuple[str, Any]] = []
    api = await started(orthanc, events)
    try:
        study = orthanc.manifest.study("ct").study_uid
        (stack,) = (await result(api, "openViewer", studyInstanceUIDs=study))["displaySets"]
        uid = stack["displaySetUID"]
        await result(api, "loadViewports", viewports=[{"displaySetUID": uid, "imageIndex": 100}])
        assert (await loaded(api, events, uid))["loaded"] == 200
        before = await result(api, "memory")
        assert (before["cacheBytes"], before["cachedFrames"]) == (VOLUME_BYTES, 1)
        fetched = len(api.transport.sent)
        state = await result(api, "openMpr", displaySetUID=uid)
        after = await result(api, "memory")
        assert after["cacheBytes"] == before["cacheBytes"]
        assert after["cachedFrames"] == before["cachedFrames"]
        for view in state["views"]:
            await result(api, "renderImage", displaySetUID=view["displaySetUID"],
                         imageIndex=view["imageIndex"])
        assert len(api.transport.sent) == fetched  # every pixel was at hand
        assert (await result(api, "memory"))["cacheBytes"] == before["cacheBytes"]
    finally:
        await api.transport.aclose()
