"""worker_api's referenceLines against the real Orthanc, on the planes study: the lines where
they must be, only within one frame of reference, and the nearest image for scroll sync."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from conftest import LoadedOrthanc
from pydicom.pixels import apply_modality_lut
from test_worker_api import ORTHANC_CONFIG, result

from ohifpy import synthetic
from ohifpy.dicomweb.httpx_transport import HttpxTransport
from ohifpy.worker_api import WorkerAPI

pytestmark = pytest.mark.cpython_only  # Orthanc, httpx

AXIAL, CORONAL, THICK, SAGITTAL = synthetic.PLANES_SERIES


@pytest.fixture
async def worker(orthanc: LoadedOrthanc) -> AsyncIterator[WorkerAPI]:
    api = WorkerAPI(HttpxTransport())
    await result(api, "init", config=ORTHANC_CONFIG, baseUrl=orthanc.base_url + "/")
    yield api
    await api.transport.aclose()


async def planes(api: WorkerAPI, orthanc: LoadedOrthanc) -> dict[str, dict[str, Any]]:
    """The planes study opened: its display sets by series description."""
    study = orthanc.manifest.study("planes")
    opened = await result(api, "openViewer", studyInstanceUIDs=study.study_uid, layout="2x2")
    return {d["seriesDescription"]: d for d in opened["displaySets"]}


def coronal_row(axial_index: int) -> float:
    """The coronal image row of axial image ``axial_index``'s plane, from the geometry."""
    z = AXIAL.position(axial_index)[2]
    return (CORONAL.first[2] - z) / CORONAL.spacing[0]


def test_the_planes_study_is_its_phantom_sampled() -> None:
    study = synthetic.planes_study()
    by_series: dict[str, list[Any]] = {}
    for ds in study.datasets:
        by_series.setdefault(ds.SeriesDescription, []).append(ds)
    assert [len(by_series[s.description]) for s in synthetic.PLANES_SERIES] == [40, 30, 16, 12]
    frames = {s.description: {ds.FrameOfReferenceUID for ds in by_series[s.description]}
              for s in synthetic.PLANES_SERIES}
    assert frames[AXIAL.description] == frames[CORONAL.description] == frames[THICK.description]
    assert len(frames[AXIAL.description]) == 1
    assert frames[SAGITTAL.description].isdisjoint(frames[AXIAL.description])
    # The sphere's centre is bright on the axial image through it, at its pixel.
    x, y, z = synthetic.PLANES_SPHERE_CENTRE
    k = round((AXIAL.first[2] - z) / -AXIAL.step[2])
    ds = by_series[AXIAL.description][k]
    assert float(ds.ImagePositionPatient[2]) == z
    hu = apply_modality_lut(ds.pixel_array, ds)
    column, row = ((x - AXIAL.first[0]) / AXIAL.spacing[1], (y - AXIAL.first[1]) / AXIAL.spacing[0])
    assert hu[round(row), round(column)] == synthetic.PLANES_SPHERE_HU
    assert hu[0, 0] == -1000 and hu[64, 64] == synthetic.PLANES_BODY_HU
    # and on the coronal image through it, at the row of its height
    j = round((y - CORONAL.first[1]) / CORONAL.step[1])
    coronal = by_series[CORONAL.description][j]
    hu = apply_modality_lut(coronal.pixel_array, coronal)
    assert hu[round(CORONAL.first[2] - z), round((x - CORONAL.first[0]) / 1.5)] == 1000


async def test_an_axial_image_is_a_row_on_the_coronal_stack(
        worker: WorkerAPI, orthanc: LoadedOrthanc) -> None:
    sets = await planes(worker, orthanc)
    axial, coronal = sets[AXIAL.description], sets[CORONAL.description]
    assert axial["frameOfReferenceUID"] and (
        axial["frameOfReferenceUID"] == coronal["frameOfReferenceUID"])
    for k in (0, 16, 39):
        answer = await result(worker, "referenceLines", displaySetUID=axial["displaySetUID"],
                              imageIndex=k, targets=[{"displaySetUID": coronal["displaySetUID"],
                                                      "imageIndex": 12}])
        (entry,) = answer["lines"]
        assert entry["displaySetUID"] == coronal["displaySetUID"]
        assert entry["imageIndex"] is None  # no sync asked
        (c0, r0), (c1, r1) = sorted(entry["line"])
        assert r0 == r1 == pytest.approx(coronal_row(k))
        assert (c0, c1) == (-0.5, CORONAL.columns - 0.5)
    # and the coronal image on the axial stack: the row of its y
    j = 12
    answer = await result(worker, "referenceLines", displaySetUID=coronal["displaySetUID"],
                          imageIndex=j, targets=[{"displaySetUID": axial["displaySetUID"],
                                                  "imageIndex": 3}])
    (_, row), _ = answer["lines"][0]["line"]
    assert row == pytest.approx((CORONAL.position(j)[1] - AXIAL.first[1]) / AXIAL.spacing[0])


async def test_only_one_frame_of_reference_and_never_parallel(
        worker: WorkerAPI, orthanc: LoadedOrthanc) -> None:
    sets = await planes(worker, orthanc)
    uid = {key: sets[s.description]["displaySetUID"] for key, s in
           (("axial", AXIAL), ("coronal", CORONAL), ("thick", THICK), ("sagittal", SAGITTAL))}
    targets = [{"displaySetUID": uid[key], "imageIndex": 0}
               for key in ("coronal", "thick", "sagittal", "axial")]
    targets.append({"displaySetUID": "mpr:some-view", "imageIndex": 0})
    answer = await result(worker, "referenceLines", displaySetUID=uid["axial"], imageIndex=20,
                          targets=targets, sync=True)
    lines = {entry["displaySetUID"]: entry for entry in answer["lines"]}
    assert [entry["displaySetUID"] for entry in answer["lines"]] == [
        t["displaySetUID"] for t in targets]
    assert lines[uid["coronal"]]["line"] is not None
    assert lines[uid["coronal"]]["imageIndex"] is None  # cut across: nothing to sync
    # The sagittal cuts the axial plane too, but in another frame of reference.
    assert lines[uid["sagittal"]] == {"displaySetUID": uid["sagittal"], "line": None,
                                      "imageIndex": None}
    assert lines["mpr:some-view"] == {"displaySetUID": "mpr:some-view", "line": None,
                                      "imageIndex": None}
    # Parallel stacks: no line; sync to the nearest image, itself for its own stack.
    assert lines[uid["thick"]]["line"] is None and lines[uid["axial"]]["line"] is None
    assert lines[uid["axial"]]["imageIndex"] == 20
    z = AXIAL.position(20)[2]
    nearest = min(range(THICK.count), key=lambda m: abs(THICK.position(m)[2] - z))
    assert lines[uid["thick"]]["imageIndex"] == nearest

    # From an MPR view: nothing at all (it draws its own crosshairs).
    mpr = await result(worker, "referenceLines", displaySetUID="mpr:some-view", imageIndex=0,
                       targets=targets[:1], sync=True)
    assert mpr == {"lines": [{"displaySetUID": uid["coronal"], "line": None, "imageIndex": None}]}


async def test_sync_picks_the_nearest_image_every_step(
        worker: WorkerAPI, orthanc: LoadedOrthanc) -> None:
    sets = await planes(worker, orthanc)
    thin, thick = sets[AXIAL.description]["displaySetUID"], sets[THICK.description]["displaySetUID"]
    for k in range(AXIAL.count):
        answer = await result(worker, "referenceLines", displaySetUID=thin, imageIndex=k,
                              targets=[{"displaySetUID": thick, "imageIndex": 0}], sync=True)
        z = AXIAL.position(k)[2]
        distances = [abs(THICK.position(m)[2] - z) for m in range(THICK.count)]
        assert distances[answer["lines"][0]["imageIndex"]] == min(distances), k
    # and back: the thick stack's image picks the thin one at its height
    answer = await result(worker, "referenceLines", displaySetUID=thick, imageIndex=4,
                          targets=[{"displaySetUID": thin, "imageIndex": 0}], sync=True)
    index = answer["lines"][0]["imageIndex"]
    assert abs(AXIAL.position(index)[2] - THICK.position(4)[2]) <= 1.0


async def test_bad_requests_are_told(worker: WorkerAPI, orthanc: LoadedOrthanc) -> None:
    sets = await planes(worker, orthanc)
    axial = sets[AXIAL.description]["displaySetUID"]
    for targets in ("nope", [{"imageIndex": 0}], [3]):
        reply = await worker.handle("referenceLines", {"displaySetUID": axial, "imageIndex": 0,
                                                        "targets": targets})
        assert reply["error"]["type"] == "BadRequest"
    out_of_range = await worker.handle("referenceLines", {
        "displaySetUID": axial, "imageIndex": 0,
        "targets": [{"displaySetUID": axial, "imageIndex": 99}]})
    assert out_of_range["error"]["type"] == "BadRequest"
    unknown = await worker.handle("referenceLines", {"displaySetUID": "1.2.3", "imageIndex": 0,
                                                     "targets": []})
    assert unknown["error"]["type"] == "ModelError"
    assert (await result(worker, "referenceLines", displaySetUID=axial, imageIndex=0,
                         targets=[])) == {"lines": []}
